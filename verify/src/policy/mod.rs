//! The policy gate: a YAML policy says, per image pattern, which authorities must have signed
//! and which attestations (provenance, vulnerability scans, SBOMs, VEX) must hold which
//! conditions; every verdict is explained check by check.

pub mod file;
pub(crate) mod rego;
pub mod report;
pub mod rules;

mod eval;
pub(crate) mod provenance;
pub(crate) mod sbom;
pub(crate) mod vex;
pub(crate) mod vuln;

pub use eval::{ImageSource, MatchedBlock, Verdict, evaluate};
pub use file::{Policy, PolicyError};
