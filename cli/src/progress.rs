//! Progress bars for copies, one per blob in flight (drawn only when stderr is a terminal).

use std::sync::Mutex;

use vouch_core::digest::Sha256Digest;
use vouch_core::oci::manifest::Descriptor;
use vouch_verify::promote::copy::{BlobOutcome, BlobRecord, CopyProgress};

/// Progress bars, one per blob in flight, when stderr is a terminal.
pub(crate) struct Bars {
    multi: indicatif::MultiProgress,
    bars: Mutex<std::collections::BTreeMap<Sha256Digest, indicatif::ProgressBar>>,
}

impl Bars {
    pub(crate) fn new() -> Self {
        Self {
            multi: indicatif::MultiProgress::new(),
            bars: Mutex::new(Default::default()),
        }
    }
}

impl CopyProgress for Bars {
    fn blob_started(&self, desc: &Descriptor) {
        let bar = self.multi.add(indicatif::ProgressBar::new(desc.size));
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{msg:19} [{bar:30}] {bytes:>10}/{total_bytes:10} {bytes_per_sec:>12}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        let hex = desc.digest.to_string();
        bar.set_message(hex.get(..19).unwrap_or(&hex).to_owned());
        if let Ok(mut b) = self.bars.lock() {
            b.insert(desc.digest, bar);
        }
    }
    fn blob_bytes(&self, digest: &Sha256Digest, bytes: u64) {
        if let Ok(b) = self.bars.lock()
            && let Some(bar) = b.get(digest)
        {
            bar.inc(bytes);
        }
    }
    fn blob_done(&self, record: &BlobRecord) {
        if let Ok(mut b) = self.bars.lock()
            && let Some(bar) = b.remove(&record.digest)
        {
            let what = match record.outcome {
                BlobOutcome::Copied => "copied",
                BlobOutcome::Skipped => "already there",
                BlobOutcome::Mounted => "mounted",
            };
            bar.set_position(record.size);
            bar.finish_with_message(format!(
                "{} {what}",
                record.digest.to_string().get(..19).unwrap_or_default()
            ));
        }
    }
    fn blob_failed(&self, digest: &Sha256Digest) {
        if let Ok(mut b) = self.bars.lock()
            && let Some(bar) = b.remove(digest)
        {
            bar.abandon();
        }
    }
}
