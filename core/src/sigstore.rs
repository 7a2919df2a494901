//! Sigstore verification material, offline: trusted roots, transparency-log checkpoints and
//! Merkle inclusion proofs. (Keyless verification is built on these; see the keyless issue.)

pub mod certificate;
pub mod checkpoint;
pub mod fulcio_client;
pub mod http;
pub mod merkle;
pub mod oauth;
pub mod oidc;
pub mod rekor_client;
pub mod rekor_v2_client;
pub mod set;
pub mod signing_config;
pub mod tlog;
pub mod trusted_root;
pub mod tsa;
pub mod tsa_client;

#[cfg(test)]
mod conformance_pieces {
    //! The log-proof building blocks against sigstore's conformance bundles: the happy path's
    //! proof and checkpoint hold; the corrupted ones do not.
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as B64;

    use super::checkpoint::Checkpoint;
    use super::merkle::{leaf_hash, verify_inclusion};
    use super::trusted_root::TrustedRoot;

    fn entry(case: &str) -> serde_json::Value {
        let p = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/data/vectors/sigstore-conformance")
            .join(case)
            .join("bundle.sigstore.json");
        let b: serde_json::Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
        b["verificationMaterial"]["tlogEntries"][0].clone()
    }

    /// Inclusion proof and checkpoint of the first log entry: Ok, or which step failed.
    fn check(case: &str) -> Result<(), String> {
        let e = entry(case);
        let root = TrustedRoot::public_good().unwrap();
        let log_id = B64.decode(e["logId"]["keyId"].as_str().unwrap()).unwrap();
        let log = root.tlog(&log_id).ok_or("unknown log")?;
        let body = B64
            .decode(e["canonicalizedBody"].as_str().unwrap())
            .unwrap();
        let p = &e["inclusionProof"];
        let hashes: Vec<[u8; 32]> = p["hashes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| B64.decode(h.as_str().unwrap()).unwrap().try_into().unwrap())
            .collect();
        let root_hash: [u8; 32] = B64
            .decode(p["rootHash"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        let index: u64 = p["logIndex"].as_str().unwrap().parse().unwrap();
        let size: u64 = p["treeSize"].as_str().unwrap().parse().unwrap();
        verify_inclusion(&leaf_hash(&body), index, size, &hashes, &root_hash)
            .map_err(|e| e.to_string())?;
        let cp = Checkpoint::parse(p["checkpoint"]["envelope"].as_str().unwrap())
            .map_err(|e| e.to_string())?;
        cp.verify(log).map_err(|e| e.to_string())?;
        if cp.root_hash != root_hash || cp.size != size {
            return Err("checkpoint does not match the proof".into());
        }
        Ok(())
    }

    #[test]
    fn happy_paths_hold() {
        for case in [
            "happy-path-v0.3",
            "happy-path-v0.2",
            "happy-path-intoto-in-dsse-v3",
        ] {
            check(case).unwrap_or_else(|e| panic!("{case}: {e}"));
        }
    }

    #[test]
    fn corrupted_proofs_and_checkpoints_fail() {
        for (case, why) in [
            (
                "inclusion-proof-corrupted-hash_fail",
                "computed root hash differs",
            ),
            (
                "checkpoint-wrong-roothash_fail",
                "checkpoint does not match the proof",
            ),
            (
                "invalid-checkpoint-signature_fail",
                "no signature of the checkpoint verifies",
            ),
        ] {
            let err = check(case).expect_err(case);
            assert!(err.contains(why), "{case} failed for another reason: {err}");
        }
    }
}
