//! Rekor's signed entry timestamp (the inclusion promise): the log's signature over the RFC 8785
//! canonical JSON of `{body, integratedTime, logID, logIndex}`. cosign's `dev.sigstore.cosign/
//! bundle` annotation carries the same data (`SignedEntryTimestamp` + `Payload`).

use super::trusted_root::TransparencyLog;

/// The bytes the SET signs. Keys sorted, no whitespace; integers as JSON numbers; `logID` hex.
pub fn set_payload(body_b64: &str, integrated_time: i64, log_id: &[u8], log_index: i64) -> Vec<u8> {
    // BTreeMap order is RFC 8785's for these ASCII keys; the values need no escaping beyond
    // what serde_json does (base64, hex, integers).
    let doc = std::collections::BTreeMap::from([
        ("body", serde_json::Value::from(body_b64)),
        ("integratedTime", serde_json::Value::from(integrated_time)),
        ("logID", serde_json::Value::from(hex::encode(log_id))),
        ("logIndex", serde_json::Value::from(log_index)),
    ]);
    match serde_json::to_vec(&doc) {
        Ok(v) => v,
        Err(_) => unreachable!("serializing strings and integers cannot fail"),
    }
}

/// Whether `set` is the log's signature of this entry.
pub fn verify_set(
    log: &TransparencyLog,
    body_b64: &str,
    integrated_time: i64,
    log_index: i64,
    set: &[u8],
) -> bool {
    log.key.verify(
        &set_payload(body_b64, integrated_time, &log.log_id, log_index),
        set,
    )
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as B64;

    use super::*;
    use crate::sigstore::trusted_root::TrustedRoot;

    fn check(case: &str) -> bool {
        let p = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/data/vectors/sigstore-conformance")
            .join(case)
            .join("bundle.sigstore.json");
        let b: serde_json::Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
        let e = &b["verificationMaterial"]["tlogEntries"][0];
        let root = TrustedRoot::public_good().unwrap();
        let log = root
            .tlog(&B64.decode(e["logId"]["keyId"].as_str().unwrap()).unwrap())
            .unwrap();
        let n = |k: &str| e[k].as_str().unwrap().parse::<i64>().unwrap();
        let set = B64
            .decode(
                e["inclusionPromise"]["signedEntryTimestamp"]
                    .as_str()
                    .unwrap(),
            )
            .unwrap();
        verify_set(
            log,
            e["canonicalizedBody"].as_str().unwrap(),
            n("integratedTime"),
            n("logIndex"),
            &set,
        )
    }

    #[test]
    fn conformance_sets() {
        assert!(check("happy-path-v0.3"));
        assert!(check("happy-path-v0.2"));
        assert!(!check("set-invalid-signature_fail"));
    }

    #[test]
    fn sigstore_rs_cosign_bundle_annotation() {
        // A cosign `dev.sigstore.cosign/bundle` annotation (sigstore-rs test data) verified with
        // the production Rekor key.
        let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/data/vectors/more/03-cosign-sigstore-artifacts/sigstore-rs/extracted");
        let b: serde_json::Value = serde_json::from_slice(
            &std::fs::read(dir.join("rekor_bundle_logindex_783606.json")).unwrap(),
        )
        .unwrap();
        let root = TrustedRoot::public_good().unwrap();
        let payload = &b["Payload"];
        let log = root
            .tlog(&hex::decode(payload["logID"].as_str().unwrap()).unwrap())
            .unwrap();
        let set = B64
            .decode(b["SignedEntryTimestamp"].as_str().unwrap())
            .unwrap();
        assert!(verify_set(
            log,
            payload["body"].as_str().unwrap(),
            payload["integratedTime"].as_i64().unwrap(),
            payload["logIndex"].as_i64().unwrap(),
            &set
        ));
        assert!(!verify_set(
            log,
            payload["body"].as_str().unwrap(),
            payload["integratedTime"].as_i64().unwrap() + 1,
            payload["logIndex"].as_i64().unwrap(),
            &set
        ));
    }
}
