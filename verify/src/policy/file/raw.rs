//! The policy file as written: the YAML's shape, every field with its line (`Spanned`), each
//! struct denying unknown fields so that a misspelt field is an error.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPolicy {
    pub(super) version: Spanned<u32>,
    #[serde(default)]
    pub(super) images: Vec<Spanned<RawBlock>>,
    #[serde(default)]
    pub(super) default: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBlock {
    #[serde(rename = "match")]
    pub(super) pattern: Spanned<String>,
    #[serde(default)]
    pub(super) signatures: Option<Spanned<RawSignatures>>,
    #[serde(default)]
    pub(super) attestations: Vec<Spanned<RawAttestation>>,
    #[serde(default)]
    pub(super) rego: Option<Spanned<String>>,
    /// Admission only (`vouch serve`): the namespaces the block applies in (globs).
    #[serde(default)]
    pub(super) namespaces: Option<Vec<Spanned<String>>>,
    /// Admission only: namespaces the block does not apply in (globs).
    #[serde(default, rename = "excludeNamespaces")]
    pub(super) exclude_namespaces: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSignatures {
    #[serde(default)]
    pub(super) threshold: Option<Spanned<usize>>,
    #[serde(default)]
    pub(super) authorities: Vec<Spanned<RawAuthority>>,
    #[serde(default)]
    pub(super) mode: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAuthority {
    #[serde(default)]
    pub(super) name: Option<String>,
    #[serde(default)]
    pub(super) key: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) keyless: Option<Spanned<RawKeyless>>,
    #[serde(default)]
    pub(super) notation: Option<Spanned<RawNotation>>,
}

/// A Notary Project (notation) authority: a trust store folder, and a notation trust policy
/// document or one statement written inline.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawNotation {
    #[serde(default)]
    pub(super) trust_store: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) trust_policy: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) trust_stores: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    pub(super) trusted_identities: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    pub(super) signature_verification: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) verify_timestamp: Option<Spanned<String>>,
    /// Inline only: notation's `signatureVerification.override` (`revocation: log`, ...).
    #[serde(default, rename = "override")]
    pub(super) override_: Option<Spanned<BTreeMap<String, String>>>,
    /// CRL files (DER or PEM) revocation is checked against.
    #[serde(default)]
    pub(super) crls: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawKeyless {
    #[serde(default)]
    pub(super) issuer: Option<Spanned<String>>,
    #[serde(default, rename = "issuerRegExp")]
    pub(super) issuer_regexp: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) subject: Option<Spanned<String>>,
    #[serde(default, rename = "subjectRegExp")]
    pub(super) subject_regexp: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) github: Option<Spanned<RawGithub>>,
    #[serde(default)]
    pub(super) trusted_root: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGithub {
    #[serde(default)]
    pub(super) repository: Option<Spanned<String>>,
    #[serde(default, rename = "ref")]
    pub(super) git_ref: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) workflow: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) trigger: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) sha: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAttestation {
    #[serde(rename = "type")]
    pub(super) kind: Spanned<String>,
    #[serde(default)]
    pub(super) name: Option<String>,
    #[serde(default)]
    pub(super) mode: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) authorities: Option<Vec<Spanned<RawAuthority>>>,
    #[serde(default)]
    pub(super) provenance: Option<Spanned<RawProvenance>>,
    #[serde(default)]
    pub(super) vulnerabilities: Option<Spanned<RawVuln>>,
    #[serde(default)]
    pub(super) sbom: Option<Spanned<RawSbom>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawProvenance {
    #[serde(default)]
    pub(super) builder_ids: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) source_repositories: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) source_refs: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) base_images: Option<Vec<Spanned<RawBaseImage>>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum RawBaseImage {
    Repository(String),
    Pinned(RawPinned),
}

/// `{repository, digests}`: its own struct so that a misspelt field is an error, not a
/// silently unpinned base image.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPinned {
    pub(super) repository: String,
    #[serde(default)]
    pub(super) digests: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawVuln {
    #[serde(default)]
    pub(super) max_age: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) limits: Option<Spanned<BTreeMap<String, usize>>>,
    #[serde(default)]
    pub(super) only_fixable: bool,
    #[serde(default)]
    pub(super) ignore: Vec<Spanned<RawIgnore>>,
    #[serde(default)]
    pub(super) scanners: Vec<Spanned<RawScanner>>,
    #[serde(default)]
    pub(super) vex: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawIgnore {
    pub(super) id: String,
    #[serde(default)]
    pub(super) reason: Option<String>,
    #[serde(default)]
    pub(super) expires: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum RawScanner {
    Uri(String),
    Full(RawScannerFull),
}

/// `{uri, minVersion}`: a misspelt `min_version` must be an error, not no minimum.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawScannerFull {
    pub(super) uri: String,
    #[serde(default, rename = "minVersion")]
    pub(super) min_version: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawSbom {
    #[serde(default)]
    pub(super) deny_licenses: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) allow_licenses: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    pub(super) banned_packages: Vec<Spanned<String>>,
}
