//! Predicate checks (SBOM recognition) and statements parsed without building the predicate.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vouch_core::limits::Limits;
use vouch_core::payload::intoto::{Statement, StatementRef};
use vouch_core::predicate::{CYCLONEDX, SPDX, check_predicate};

fuzz_target!(|data: &[u8]| {
    let _ = check_predicate(CYCLONEDX, data);
    let _ = check_predicate(SPDX, data);
    // Both statement parsers agree on what is valid.
    let borrowed = StatementRef::parse(data, &Limits::DEFAULT).is_ok();
    let owned = Statement::parse(data, &Limits::DEFAULT).is_ok();
    assert_eq!(borrowed, owned);
});
