//! The policy's condition evaluators (provenance, vulnerability scans with VEX, SBOM licenses
//! and packages) over any JSON predicate, wrapped in a statement as if it had verified: the
//! predicates come from registries, so no input may panic or run away. Seed it with real
//! predicates (tests/data/vectors: SBOMs, provenance, OpenVEX, a vuln predicate).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    vouch_verify::policy::fuzzing::conditions(data);
});
