//! The policy's condition evaluators (provenance, vulnerability scans with VEX, SBOM licenses
//! and packages) over arbitrary statements, as if they had verified: the predicates come from
//! registries, so no input may panic or run away.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    vouch_verify::policy::fuzzing::conditions(data);
});
