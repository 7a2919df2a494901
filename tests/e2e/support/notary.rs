//! A Notary Project signature for an image: made by the independent producer
//! keys-test/notary_sign.py (Python `cryptography`, from the specification) and attached as
//! notation does; shared by the e2e tests and the benches.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use vouch_core::cosign::SettleOptions;
use vouch_core::notary::envelope::{ARTIFACT_TYPE, MEDIA_TYPE_JWS};
use vouch_core::oci::layout::Layout;
use vouch_core::oci::manifest::{Descriptor, OCI_MANIFEST};
use vouch_core::oci::{OciLimits, Target};
use vouch_core::referrers::{StoredReferrer, index_referrers};

pub const SIGNER: &str = "CN=vouch notary signer,O=vouch-test,L=Seattle,ST=WA,C=US";

/// Runs the producer for `subject`; returns (root PEM, envelope bytes).
pub fn produce(dir: &Path, subject: &Descriptor) -> (Vec<u8>, Vec<u8>) {
    produce_with(dir, subject, &[])
}

/// The producer with a timestamp countersignature made by OpenSSL and signed with RSASSA-PSS
/// (keys-test/openssl_tsa.py); returns (root PEM, TSA root PEM, envelope bytes).
pub fn produce_timestamped_pss(dir: &Path, subject: &Descriptor) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let (root, envelope) = produce_with(dir, subject, &["--timestamp-pss"]);
    let tsa_root = std::fs::read(dir.join("producer/tsa/tsa-root.pem")).unwrap();
    (root, tsa_root, envelope)
}

fn produce_with(dir: &Path, subject: &Descriptor, flags: &[&str]) -> (Vec<u8>, Vec<u8>) {
    let out = dir.join("producer");
    let status = std::process::Command::new(super::python())
        .arg(super::workspace().join("keys-test/notary_sign.py"))
        .args(flags)
        .arg(&out)
        .arg(&subject.media_type)
        .arg(subject.digest.to_string())
        .arg(subject.size.to_string())
        .status()
        .unwrap();
    assert!(status.success());
    (
        std::fs::read(out.join("root.pem")).unwrap(),
        std::fs::read(out.join("envelope.jws")).unwrap(),
    )
}

/// Runs the producer with `--crls` for `subject`: a leaf → intermediate → root chain and the
/// CRLs its docstring lists, in `dir/producer-crl/crl/`. Returns (root PEM, envelope bytes,
/// the CRL folder, the leaf's serial in hex).
pub fn produce_with_crls(
    dir: &Path,
    subject: &Descriptor,
) -> (Vec<u8>, Vec<u8>, std::path::PathBuf, String) {
    let out = dir.join("producer-crl");
    let status = std::process::Command::new(super::python())
        .arg(super::workspace().join("keys-test/notary_sign.py"))
        .arg(&out)
        .arg(&subject.media_type)
        .arg(subject.digest.to_string())
        .arg(subject.size.to_string())
        .arg("--crls")
        .status()
        .unwrap();
    assert!(status.success());
    let info: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("info.json")).unwrap()).unwrap();
    (
        std::fs::read(out.join("root.pem")).unwrap(),
        std::fs::read(out.join("envelope.jws")).unwrap(),
        out.join("crl"),
        info["leafSerial"].as_str().unwrap().to_owned(),
    )
}

/// Attaches `envelope` to `subject` in the layout as notation does in a registry: an image
/// manifest with the Notary artifact type, the empty config, the envelope as its one layer.
pub async fn attach(layout_dir: &Path, subject: &Descriptor, envelope: &[u8]) {
    let target = Target::Layout(Layout::open_or_create(layout_dir).unwrap());
    attach_to(&target, subject, envelope).await;
}

pub async fn attach_to(target: &Target, subject: &Descriptor, envelope: &[u8]) {
    let empty = target.push_blob(Bytes::from_static(b"{}")).await.unwrap();
    let env = target
        .push_blob(Bytes::from(envelope.to_vec()))
        .await
        .unwrap();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": ARTIFACT_TYPE,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty.to_string(), "size": 2},
        "layers": [{"mediaType": MEDIA_TYPE_JWS, "digest": env.to_string(), "size": envelope.len()}],
        "subject": {"mediaType": subject.media_type, "digest": subject.digest.to_string(), "size": subject.size},
        "annotations": {"io.cncf.notary.x509chain.thumbprint#S256": "[]"},
    });
    let bytes = serde_json::to_vec(&manifest).unwrap();
    target
        .push_manifest_by_digest(Bytes::from(bytes.clone()), OCI_MANIFEST)
        .await
        .unwrap();
    let mut entry = Descriptor::of(OCI_MANIFEST, &bytes);
    entry.artifact_type = Some(ARTIFACT_TYPE.into());
    let r = index_referrers(
        &[StoredReferrer {
            target,
            subject: subject.digest,
            entry,
        }],
        SettleOptions {
            window: Duration::from_millis(100),
            settle: Duration::from_millis(200),
            rounds: 10,
        },
        &OciLimits::default(),
        1,
    )
    .await;
    assert!(r.iter().all(Result::is_ok), "{r:?}");
}

pub fn store(dir: &Path, name: &str, root: &[u8]) -> String {
    let s = dir.join(name);
    std::fs::create_dir_all(s.join("x509/ca/e2e")).unwrap();
    std::fs::write(s.join("x509/ca/e2e/root.pem"), root).unwrap();
    s.display().to_string()
}
