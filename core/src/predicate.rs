//! Predicate types as cosign names them, recognition of SBOM documents, and in-toto statements
//! written around a predicate's raw bytes (a 100 MB SBOM is never turned into a JSON tree).

use serde::Deserialize;

use crate::payload::PayloadError;

/// SLSA provenance v0.2.
pub const SLSA_PROVENANCE_V02: &str = "https://slsa.dev/provenance/v0.2";
/// SLSA provenance v1.
pub const SLSA_PROVENANCE_V1: &str = "https://slsa.dev/provenance/v1";
/// SPDX documents.
pub const SPDX: &str = "https://spdx.dev/Document";
/// CycloneDX BOMs.
pub const CYCLONEDX: &str = "https://cyclonedx.org/bom";
/// cosign's vulnerability-scan predicate.
pub const VULN: &str = "https://cosign.sigstore.dev/attestation/vuln/v1";
/// OpenVEX documents.
pub const OPENVEX: &str = "https://openvex.dev/ns";
/// cosign's custom predicate.
pub const CUSTOM: &str = "https://cosign.sigstore.dev/attestation/v1";
/// in-toto link.
pub const LINK: &str = "https://in-toto.io/Link/v1";

/// The predicate type for cosign's `--type` value (a short name or any URI).
pub fn predicate_type(name: &str) -> Result<String, PayloadError> {
    Ok(match name {
        "slsaprovenance" | "slsaprovenance02" => SLSA_PROVENANCE_V02,
        "slsaprovenance1" => SLSA_PROVENANCE_V1,
        "spdx" | "spdxjson" => SPDX,
        "cyclonedx" => CYCLONEDX,
        "vuln" => VULN,
        "openvex" => OPENVEX,
        "custom" => CUSTOM,
        "link" => LINK,
        uri if uri.contains("://") && !uri.chars().any(char::is_whitespace) => uri,
        other => {
            return Err(PayloadError::Field {
                what: "--type",
                field: "type",
                reason: format!(
                    "`{other}` is neither a known type (slsaprovenance, slsaprovenance02, slsaprovenance1, spdx, spdxjson, cyclonedx, vuln, openvex, custom, link) nor a URI"
                ),
            });
        }
    }
    .to_owned())
}

/// What kind of SBOM a document is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SbomKind {
    /// CycloneDX JSON, with its `specVersion`.
    CycloneDx(String),
    /// SPDX JSON, with its `spdxVersion`.
    Spdx(String),
}

#[derive(Deserialize)]
struct SbomProbe {
    #[serde(rename = "bomFormat")]
    bom_format: Option<String>,
    #[serde(rename = "specVersion")]
    spec_version: Option<String>,
    #[serde(rename = "spdxVersion")]
    spdx_version: Option<String>,
    // Other fields are skipped by serde without being kept (no `flatten`: it would buffer the
    // whole document).
}

/// Recognises CycloneDX (`bomFormat`, `specVersion`) and SPDX (`spdxVersion`) JSON without
/// building a tree of the document. `None` when it is neither.
pub fn sbom_kind(bytes: &[u8]) -> Result<Option<SbomKind>, PayloadError> {
    let probe: SbomProbe = serde_json::from_slice(bytes).map_err(|e| PayloadError::Json {
        what: "predicate",
        reason: e.to_string(),
    })?;
    if probe.bom_format.as_deref() == Some("CycloneDX") {
        return Ok(Some(SbomKind::CycloneDx(
            probe.spec_version.unwrap_or_default(),
        )));
    }
    if let Some(v) = probe.spdx_version.filter(|v| v.starts_with("SPDX-")) {
        return Ok(Some(SbomKind::Spdx(v)));
    }
    Ok(None)
}

/// Checks that `bytes` fit `predicate_type`: SBOM types must be SBOMs of that format, and every
/// predicate must be a JSON object.
pub fn check_predicate(predicate_type: &str, bytes: &[u8]) -> Result<(), PayloadError> {
    // What verification would refuse is never signed.
    crate::payload::check_strict("predicate", bytes)?;
    let raw: &serde_json::value::RawValue =
        serde_json::from_slice(bytes).map_err(|e| PayloadError::Json {
            what: "predicate",
            reason: e.to_string(),
        })?;
    if !raw.get().trim_start().starts_with('{') {
        return Err(PayloadError::Field {
            what: "predicate",
            field: "(document)",
            reason: "a predicate must be a JSON object".into(),
        });
    }
    let mismatch = |expected: &str, found: String| PayloadError::Field {
        what: "predicate",
        field: "(document)",
        reason: format!("--type {predicate_type} expects {expected}, found {found}"),
    };
    let describe = |k: &Option<SbomKind>| match k {
        Some(SbomKind::CycloneDx(v)) => format!("a CycloneDX {v} document"),
        Some(SbomKind::Spdx(v)) => format!("an {v} document"),
        None => "a document that is neither CycloneDX nor SPDX".to_owned(),
    };
    match predicate_type {
        CYCLONEDX => {
            let kind = sbom_kind(bytes)?;
            if !matches!(&kind, Some(SbomKind::CycloneDx(v)) if !v.is_empty()) {
                return Err(mismatch(
                    "CycloneDX JSON (`bomFormat: CycloneDX` and a `specVersion`)",
                    describe(&kind),
                ));
            }
        }
        SPDX => {
            let kind = sbom_kind(bytes)?;
            if !matches!(kind, Some(SbomKind::Spdx(_))) {
                return Err(mismatch(
                    "SPDX JSON (`spdxVersion: SPDX-…`)",
                    describe(&kind),
                ));
            }
        }
        _ => {}
    }
    Ok(())
}

/// RFC 3339 UTC timestamp (seconds) of `t` ([`crate::time::format_rfc3339`]).
pub fn rfc3339(t: std::time::SystemTime) -> String {
    crate::time::format_rfc3339(t)
}

/// Whether `s` looks like an RFC 3339 date-time (`YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`).
pub fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| r.clone().all(|i| b.get(i).is_some_and(u8::is_ascii_digit));
    if b.len() < 20
        || !digits(0..4)
        || b[4] != b'-'
        || !digits(5..7)
        || b[7] != b'-'
        || !digits(8..10)
        || !matches!(b[10], b'T' | b't')
        || !digits(11..13)
        || b[13] != b':'
        || !digits(14..16)
        || b[16] != b':'
        || !digits(17..19)
    {
        return false;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &frac[n..];
    }
    matches!(rest, "Z" | "z")
        || (rest.len() == 6
            && matches!(rest.as_bytes()[0], b'+' | b'-')
            && rest.as_bytes()[3] == b':'
            && rest[1..3].bytes().all(|c| c.is_ascii_digit())
            && rest[4..6].bytes().all(|c| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosign_type_names() {
        assert_eq!(
            predicate_type("slsaprovenance").unwrap(),
            SLSA_PROVENANCE_V02
        );
        assert_eq!(
            predicate_type("slsaprovenance02").unwrap(),
            SLSA_PROVENANCE_V02
        );
        assert_eq!(
            predicate_type("slsaprovenance1").unwrap(),
            SLSA_PROVENANCE_V1
        );
        assert_eq!(predicate_type("spdxjson").unwrap(), SPDX);
        assert_eq!(predicate_type("cyclonedx").unwrap(), CYCLONEDX);
        assert_eq!(predicate_type("vuln").unwrap(), VULN);
        assert_eq!(predicate_type("openvex").unwrap(), OPENVEX);
        assert_eq!(predicate_type("custom").unwrap(), CUSTOM);
        assert_eq!(
            predicate_type("https://example.com/p/v1").unwrap(),
            "https://example.com/p/v1"
        );
        assert!(predicate_type("sbom").is_err());
    }

    #[test]
    fn sbom_checks() {
        let cdx = br#"{"bomFormat":"CycloneDX","specVersion":"1.5","components":[]}"#;
        let spdx = br#"{"spdxVersion":"SPDX-2.3","packages":[]}"#;
        check_predicate(CYCLONEDX, cdx).unwrap();
        check_predicate(SPDX, spdx).unwrap();
        let err = check_predicate(SPDX, cdx).unwrap_err();
        assert!(err.to_string().contains("CycloneDX 1.5"), "{err}");
        assert!(check_predicate(CYCLONEDX, spdx).is_err());
        assert!(check_predicate(CUSTOM, b"[1]").is_err());
        assert!(check_predicate(CUSTOM, b"{").is_err());
        check_predicate(CUSTOM, b" {\"a\":1}\n").unwrap();
    }

    #[test]
    fn times() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        assert_eq!(rfc3339(t), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(std::time::UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert!(is_rfc3339("2021-08-25T12:20:30.000000005Z"));
        assert!(is_rfc3339("2024-01-01T00:00:00+02:00"));
        assert!(!is_rfc3339("2024-01-01"));
        assert!(!is_rfc3339("2024-01-01T00:00:00"));
    }
}
