//! Transparency-log entries of sigstore bundles: parsed from protobuf JSON, and checked against
//! a trusted root — the log is known and valid at the entry's time, the inclusion proof leads to
//! a checkpoint the log signed, and/or the signed entry timestamp is the log's.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Deserializer};

use super::checkpoint::Checkpoint;
use super::merkle::{leaf_hash, verify_inclusion};
use super::set::verify_set;
use super::trusted_root::{TransparencyLog, TrustedRoot};

/// protobuf-JSON int64: a string of digits (or, leniently, a number).
fn int64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Int {
        S(String),
        N(i64),
    }
    match Int::deserialize(d)? {
        Int::N(n) => Ok(n),
        Int::S(s) => s.parse().map_err(serde::de::Error::custom),
    }
}

fn opt_int64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    int64(d).map(Some)
}

/// One `tlogEntries[]` element.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TlogEntry {
    /// Global log index.
    #[serde(deserialize_with = "int64")]
    pub log_index: i64,
    /// Which log.
    pub log_id: LogId,
    /// Entry kind and version.
    pub kind_version: KindVersion,
    /// When the log integrated it (Rekor v1).
    #[serde(default, deserialize_with = "opt_int64")]
    pub integrated_time: Option<i64>,
    /// The signed entry timestamp.
    #[serde(default)]
    pub inclusion_promise: Option<InclusionPromise>,
    /// The inclusion proof.
    #[serde(default)]
    pub inclusion_proof: Option<InclusionProof>,
    /// The entry body (base64 of canonical JSON).
    pub canonicalized_body: String,
}

/// `logId`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogId {
    /// base64.
    pub key_id: String,
}

/// `kindVersion`.
#[derive(Debug, Clone, Deserialize)]
pub struct KindVersion {
    /// e.g. `hashedrekord`.
    pub kind: String,
    /// e.g. `0.0.1`.
    pub version: String,
}

/// `inclusionPromise`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InclusionPromise {
    /// base64 signature.
    pub signed_entry_timestamp: String,
}

/// `inclusionProof`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InclusionProof {
    /// Index of the leaf in the tree (shard-relative).
    #[serde(deserialize_with = "int64")]
    pub log_index: i64,
    /// base64 root hash.
    pub root_hash: String,
    /// Tree size.
    #[serde(deserialize_with = "int64")]
    pub tree_size: i64,
    /// base64 hashes.
    pub hashes: Vec<String>,
    /// The signed checkpoint.
    #[serde(default)]
    pub checkpoint: Option<CheckpointEnvelope>,
}

/// `checkpoint`.
#[derive(Debug, Clone, Deserialize)]
pub struct CheckpointEnvelope {
    /// The signed note.
    pub envelope: String,
}

/// Why a log entry does not check out. Each names the step.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlogError {
    /// A field is malformed.
    #[error("log entry: {0}")]
    Malformed(String),
    /// The log is not in the trusted root.
    #[error("log entry: log {0} is not in the trusted root")]
    UnknownLog(String),
    /// The log's key was not valid when the entry was integrated.
    #[error("log entry: integrated at {time}, outside the validity of the log's key")]
    OutsideValidity {
        /// The integrated time.
        time: i64,
    },
    /// The inclusion proof does not hold.
    #[error("inclusion proof: {0}")]
    InclusionProof(String),
    /// The checkpoint does not hold.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// The signed entry timestamp does not verify.
    #[error("signed entry timestamp: not the log's signature of this entry")]
    SignedEntryTimestamp,
    /// Neither proof nor promise.
    #[error("log entry: neither an inclusion proof nor a signed entry timestamp")]
    Unproven,
}

/// What a verified entry establishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedEntry<'r> {
    /// The log.
    pub log: &'r TransparencyLog,
    /// The integrated time, when the log signed it (a verified SET); `None` otherwise.
    pub integrated_time: Option<i64>,
    /// The decoded entry body.
    pub body: Vec<u8>,
}

fn b64(what: &str, s: &str) -> Result<Vec<u8>, TlogError> {
    B64.decode(s)
        .map_err(|e| TlogError::Malformed(format!("{what} is not base64: {e}")))
}

fn hash32(what: &str, s: &str) -> Result<[u8; 32], TlogError> {
    b64(what, s)?
        .try_into()
        .map_err(|_| TlogError::Malformed(format!("{what} is not 32 bytes")))
}

impl TlogEntry {
    /// Checks the entry against `root`. `require_promise` for bundle v0.1, which must carry a
    /// signed entry timestamp; later versions need an inclusion proof with a checkpoint.
    pub fn check<'r>(
        &self,
        root: &'r TrustedRoot,
        require_promise: bool,
    ) -> Result<CheckedEntry<'r>, TlogError> {
        if self.log_index < 0 {
            return Err(TlogError::Malformed(format!(
                "negative log index {}",
                self.log_index
            )));
        }
        let log_id = b64("logId.keyId", &self.log_id.key_id)?;
        let log = root
            .tlog(&log_id)
            .ok_or_else(|| TlogError::UnknownLog(self.log_id.key_id.clone()))?;
        let body = b64("canonicalizedBody", &self.canonicalized_body)?;
        if let Some(t) = self.integrated_time
            && t < 0
        {
            return Err(TlogError::Malformed(format!(
                "negative integrated time {t}"
            )));
        }
        let mut proven = false;
        if let Some(p) = &self.inclusion_proof {
            if p.log_index < 0 || p.tree_size < 0 {
                return Err(TlogError::Malformed("negative proof index or size".into()));
            }
            let hashes = p
                .hashes
                .iter()
                .map(|h| hash32("inclusionProof.hashes", h))
                .collect::<Result<Vec<_>, _>>()?;
            let root_hash = hash32("inclusionProof.rootHash", &p.root_hash)?;
            verify_inclusion(
                &leaf_hash(&body),
                p.log_index as u64,
                p.tree_size as u64,
                &hashes,
                &root_hash,
            )
            .map_err(|e| TlogError::InclusionProof(e.to_string()))?;
            let cp = p
                .checkpoint
                .as_ref()
                .ok_or_else(|| TlogError::Checkpoint("missing".into()))?;
            let cp = Checkpoint::parse(&cp.envelope)
                .map_err(|e| TlogError::Checkpoint(e.to_string()))?;
            cp.verify(log)
                .map_err(|e| TlogError::Checkpoint(e.to_string()))?;
            if cp.root_hash != root_hash || cp.size != p.tree_size as u64 {
                return Err(TlogError::Checkpoint(
                    "its root hash or size differs from the inclusion proof's".into(),
                ));
            }
            proven = true;
        }
        // The integrated time counts only when the log signed it (the SET); otherwise the
        // bundle must bring an RFC 3161 timestamp, checked by the caller against `log`.
        let mut signed_time = None;
        if let Some(promise) = &self.inclusion_promise {
            let t = self.integrated_time.ok_or_else(|| {
                TlogError::Malformed("a signed entry timestamp without an integrated time".into())
            })?;
            let set = b64("signedEntryTimestamp", &promise.signed_entry_timestamp)?;
            if !verify_set(log, &self.canonicalized_body, t, self.log_index, &set) {
                return Err(TlogError::SignedEntryTimestamp);
            }
            if !log.validity.contains(t) {
                return Err(TlogError::OutsideValidity { time: t });
            }
            signed_time = Some(t);
            proven = true;
        } else if require_promise {
            return Err(TlogError::Unproven);
        }
        if !proven {
            return Err(TlogError::Unproven);
        }
        Ok(CheckedEntry {
            log,
            integrated_time: signed_time,
            body,
        })
    }
}
