//! in-toto Statements: parse, and what parses survives a write/parse round trip.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vouch_core::limits::Limits;
use vouch_core::payload::intoto::Statement;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = Statement::parse(data, &Limits::DEFAULT) {
        let again = Statement::parse(&s.to_bytes(), &Limits::DEFAULT).expect("round trip");
        assert_eq!(again, s);
    }
});
