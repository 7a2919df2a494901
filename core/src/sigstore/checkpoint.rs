//! Transparency-log checkpoints: C2SP signed notes
//! (`origin\nsize\nbase64(root)\n[extension lines]\n\n— name base64(keyhint‖signature)\n…`).
//! A checkpoint counts only if one signature line is by the log's own key: cosignatures by
//! witnesses may be present, in any order, and are not trusted on their own.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use sha2::{Digest as _, Sha256};

use super::trusted_root::{KeyAlgorithm, TransparencyLog};

/// Why a checkpoint is rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// Not a signed note of the expected shape.
    #[error("malformed checkpoint: {0}")]
    Malformed(&'static str),
    /// No signature line verifies with the log's key.
    #[error("no signature of the checkpoint verifies with the log's key")]
    NoLogSignature,
}

/// One signature line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// The signer's name.
    pub name: String,
    /// The 4-byte key hint.
    pub key_hint: [u8; 4],
    /// The signature.
    pub signature: Vec<u8>,
}

/// A parsed, not yet verified checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line.
    pub origin: String,
    /// The tree size.
    pub size: u64,
    /// The root hash.
    pub root_hash: [u8; 32],
    /// The signed text (everything before the blank line, with its final newline).
    pub body: String,
    /// The signature lines.
    pub signatures: Vec<NoteSignature>,
}

impl Checkpoint {
    /// Parses a signed note.
    pub fn parse(envelope: &str) -> Result<Self, CheckpointError> {
        let split = envelope.find("\n\n").ok_or(CheckpointError::Malformed(
            "no blank line before the signatures",
        ))?;
        let body = &envelope[..split + 1];
        let mut lines = body.lines();
        let origin = lines
            .next()
            .filter(|l| !l.is_empty())
            .ok_or(CheckpointError::Malformed("no origin line"))?;
        let size = lines
            .next()
            .and_then(|l| l.parse::<u64>().ok())
            .ok_or(CheckpointError::Malformed("no tree size line"))?;
        let root_hash: [u8; 32] = lines
            .next()
            .and_then(|l| B64.decode(l).ok())
            .and_then(|v| v.try_into().ok())
            .ok_or(CheckpointError::Malformed(
                "no 32-byte base64 root hash line",
            ))?;
        let mut signatures = Vec::new();
        for line in envelope[split + 2..].lines().filter(|l| !l.is_empty()) {
            let rest = line
                .strip_prefix("\u{2014} ")
                .ok_or(CheckpointError::Malformed(
                    "a signature line does not start with an em dash",
                ))?;
            let (name, sig) = rest.rsplit_once(' ').ok_or(CheckpointError::Malformed(
                "a signature line has no signature",
            ))?;
            let raw = B64
                .decode(sig)
                .map_err(|_| CheckpointError::Malformed("a signature is not base64"))?;
            if raw.len() < 5 {
                return Err(CheckpointError::Malformed("a signature is too short"));
            }
            signatures.push(NoteSignature {
                name: name.to_owned(),
                key_hint: [raw[0], raw[1], raw[2], raw[3]],
                signature: raw[4..].to_vec(),
            });
        }
        if signatures.is_empty() {
            return Err(CheckpointError::Malformed("no signature lines"));
        }
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root_hash,
            body: body.to_owned(),
            signatures,
        })
    }

    /// Checks that the log signed this checkpoint.
    pub fn verify(&self, log: &TransparencyLog) -> Result<(), CheckpointError> {
        let key_id = log.key.key_id();
        for s in &self.signatures {
            // ECDSA logs hint with their key id; Ed25519 notes with the C2SP key hash.
            let hints = [
                [key_id[0], key_id[1], key_id[2], key_id[3]],
                c2sp_ed25519_hint(&s.name, log),
            ];
            if !hints.contains(&s.key_hint) {
                continue;
            }
            if log.key.verify(self.body.as_bytes(), &s.signature) {
                return Ok(());
            }
        }
        Err(CheckpointError::NoLogSignature)
    }
}

/// C2SP signed-note key hash for an Ed25519 key: SHA-256(name ‖ "\n" ‖ 0x01 ‖ key)[:4].
fn c2sp_ed25519_hint(name: &str, log: &TransparencyLog) -> [u8; 4] {
    if log.key.algorithm != KeyAlgorithm::Ed25519 {
        return [0; 4];
    }
    let raw = &log.key.spki[log.key.spki.len().saturating_sub(32)..];
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n\x01");
    h.update(raw);
    let d: [u8; 32] = h.finalize().into();
    [d[0], d[1], d[2], d[3]]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sigstore::trusted_root::TrustedRoot;

    const V1: &str = "rekor.sigstore.dev - 2605736670972794746\n75408393\nFnnj13Uu1jdksPc4HZLapKX329dVlD5+MGNsiqBq1XM=\n\n\u{2014} rekor.sigstore.dev wNI9ajBFAiBTyiBM9WtyOTgohje6QZ5rFGJUdMq7Wk3A6oThE98SUgIhAMvxDwa7FyqRqg+YV3rdPPrfS23w19iK+piMSGVOmP5w\n";

    #[test]
    fn rekor_v1_checkpoint_from_the_conformance_happy_path() {
        let root = TrustedRoot::public_good().unwrap();
        let c = Checkpoint::parse(V1).unwrap();
        assert_eq!(c.size, 75_408_393);
        let log = root
            .tlogs
            .iter()
            .find(|l| l.base_url.contains("rekor.sigstore.dev"))
            .unwrap();
        c.verify(log).unwrap();
        // Any change to the signed text breaks it.
        let bad = Checkpoint::parse(&V1.replace("75408393", "75408394")).unwrap();
        assert_eq!(bad.verify(log), Err(CheckpointError::NoLogSignature));
        assert!(Checkpoint::parse("x\n\n").is_err());
        assert!(Checkpoint::parse(&V1.replace("\n\n", "\n")).is_err());
    }
}
