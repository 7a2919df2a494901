//! Scanner reports (Trivy, Grype, SARIF, cosign-vuln) imported into a vuln predicate.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(scan) = vouch_core::scan::import(data, None, "2026-01-01T00:00:00Z") {
        let total: usize = scan.counts().values().sum();
        assert_eq!(total, scan.findings.len());
    }
});
