//! notation's `trustpolicy.json`, version 1.0 (`specs/trust-store-trust-policy.md`), validated
//! with notation-go's rules (`verifier/trustpolicy`): unique statement names, one statement per
//! registry scope, `*` alone, `skip` without trust stores or identities, overrides that never
//! touch integrity nor skip anything but revocation, `TYPE:NAME` trust stores, `x509.subject:`
//! identities that parse as distinguished names.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::envelope::NotaryLimits;
use crate::limits::{TooLarge, check_size};

/// The checks of a verification, in notation's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Check {
    /// The signature verifies with the leaf's key; the envelope and chain are well-formed.
    Integrity,
    /// The chain reaches the trust store; the leaf matches a trusted identity.
    Authenticity,
    /// The signing time is authentic (timestamp or signing authority) and inside the chain's
    /// validity.
    AuthenticTimestamp,
    /// The signature's expiry has not passed.
    Expiry,
    /// Revocation (OCSP/CRL).
    Revocation,
}

impl Check {
    /// All checks.
    pub const ALL: [Check; 5] = [
        Check::Integrity,
        Check::Authenticity,
        Check::AuthenticTimestamp,
        Check::Expiry,
        Check::Revocation,
    ];

    /// notation's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Integrity => "integrity",
            Self::Authenticity => "authenticity",
            Self::AuthenticTimestamp => "authenticTimestamp",
            Self::Expiry => "expiry",
            Self::Revocation => "revocation",
        }
    }

    fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == s)
    }
}

/// What a failed check does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// The signature fails.
    Enforce,
    /// The failure is reported; the signature may still pass.
    Log,
    /// The check is not run.
    Skip,
}

impl Action {
    fn from_name(s: &str) -> Option<Self> {
        match s {
            "enforce" => Some(Self::Enforce),
            "log" => Some(Self::Log),
            "skip" => Some(Self::Skip),
            _ => None,
        }
    }
}

/// A verification level with its overrides applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationLevel {
    name: String,
    actions: [Action; 5],
}

impl VerificationLevel {
    /// `strict`, `permissive`, `audit`, `skip`.
    pub fn named(name: &str) -> Option<Self> {
        use Action::{Enforce as E, Log as L, Skip as S};
        let actions = match name {
            "strict" => [E, E, E, E, E],
            "permissive" => [E, E, L, L, L],
            "audit" => [E, L, L, L, L],
            "skip" => [S, S, S, S, S],
            _ => return None,
        };
        Some(Self {
            name: name.to_owned(),
            actions,
        })
    }

    /// The level's name (`custom` once overridden).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The action for a check.
    pub fn action(&self, check: Check) -> Action {
        self.actions[check as usize]
    }

    /// Whether verification is skipped altogether.
    pub fn is_skip(&self) -> bool {
        self.name == "skip"
    }
}

/// `verifyTimestamp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VerifyTimestamp {
    /// `always` (the default).
    #[default]
    Always,
    /// `afterCertExpiry`: only once a certificate of the chain has expired.
    AfterCertExpiry,
}

/// A trust-store type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StoreType {
    /// `ca`: roots for `notary.x509`.
    Ca,
    /// `signingAuthority`: roots for `notary.x509.signingAuthority`.
    SigningAuthority,
    /// `tsa`: roots of timestamp authorities.
    Tsa,
}

impl StoreType {
    /// The folder name under `x509/`.
    pub fn dir_name(self) -> &'static str {
        match self {
            Self::Ca => "ca",
            Self::SigningAuthority => "signingAuthority",
            Self::Tsa => "tsa",
        }
    }

    fn from_name(s: &str) -> Option<Self> {
        match s {
            "ca" => Some(Self::Ca),
            "signingAuthority" => Some(Self::SigningAuthority),
            "tsa" => Some(Self::Tsa),
            _ => None,
        }
    }
}

/// A named trust store of a statement (`ca:acme-rootca`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StoreRef {
    /// The type.
    pub kind: StoreType,
    /// The name (`[a-zA-Z0-9_.-]+`).
    pub name: String,
}

/// A trusted identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustedIdentity {
    /// `*`.
    Any,
    /// `x509.subject:DN`: the leaf's subject must hold every attribute given.
    X509Subject {
        /// As written.
        raw: String,
        /// The attributes.
        attributes: BTreeMap<String, String>,
    },
    /// Another prefix (for a plugin): kept, never matched by vouch.
    Other(String),
}

/// A validated trust policy statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// `name`.
    pub name: String,
    /// `registryScopes`.
    pub registry_scopes: Vec<String>,
    /// The verification level with overrides.
    pub level: VerificationLevel,
    /// `verifyTimestamp`.
    pub verify_timestamp: VerifyTimestamp,
    /// `trustStores`.
    pub trust_stores: Vec<StoreRef>,
    /// `trustedIdentities`.
    pub trusted_identities: Vec<TrustedIdentity>,
}

/// A validated `trustpolicy.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustPolicyDocument {
    statements: Vec<Statement>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDocument {
    version: String,
    #[serde(rename = "trustPolicies")]
    trust_policies: Vec<RawStatement>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStatement {
    name: String,
    #[serde(rename = "registryScopes", default)]
    registry_scopes: Vec<String>,
    #[serde(rename = "signatureVerification")]
    signature_verification: RawVerification,
    #[serde(rename = "trustStores", default)]
    trust_stores: Vec<String>,
    #[serde(rename = "trustedIdentities", default)]
    trusted_identities: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVerification {
    #[serde(default)]
    level: String,
    #[serde(default)]
    #[serde(rename = "override")]
    override_: BTreeMap<String, String>,
    #[serde(rename = "verifyTimestamp", default)]
    verify_timestamp: Option<String>,
}

/// Why a trust policy is refused. Each variant names the statement and the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// Not JSON of the expected shape.
    #[error("trust policy: {0}")]
    Malformed(String),
    /// Too large.
    #[error("trust policy: {0}")]
    TooLarge(TooLarge),
    /// Too many entries.
    #[error("trust policy: {what}: more than {limit}")]
    TooMany {
        /// What.
        what: &'static str,
        /// The limit.
        limit: usize,
    },
    /// `version` is not `1.0`.
    #[error("trust policy document uses unsupported version {0:?}")]
    UnsupportedVersion(String),
    /// No statements.
    #[error("trust policy document can not have zero trust policy statements")]
    NoStatements,
    /// A statement breaks a rule; `field` is the JSON field.
    #[error("trust policy statement {statement:?}: {field}: {reason}")]
    Statement {
        /// The statement's name.
        statement: String,
        /// The field.
        field: &'static str,
        /// The rule.
        reason: String,
    },
    /// Two statements share a name.
    #[error(
        "multiple trust policy statements use the same name {0:?}, statement names must be unique"
    )]
    DuplicateName(String),
    /// Two statements share a registry scope.
    #[error(
        "registry scope {0:?} is present in multiple trust policy statements, one registry scope value can only be associated with one statement"
    )]
    DuplicateScope(String),
}

// Not `#[from]`: the message prints the cause, so it is no `source` (printed once in a chain).
impl From<TooLarge> for PolicyError {
    fn from(e: TooLarge) -> Self {
        Self::TooLarge(e)
    }
}

fn bad(statement: &str, field: &'static str, reason: impl ToString) -> PolicyError {
    PolicyError::Statement {
        statement: statement.to_owned(),
        field,
        reason: reason.to_string(),
    }
}

fn valid_store_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// Parses an RFC 4514 distinguished name into attributes (`CN=a\,b,O=c`), as notation's
/// `ParseDistinguishedName` requires: `C`, `ST` and `O` present, no attribute twice.
pub fn parse_dn(dn: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut chars = dn.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                cur.push(c);
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            ',' | '+' => parts.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    parts.push(cur);
    for part in parts {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| format!("{part:?} is not TYPE=value"))?;
        let key = k.trim().to_ascii_uppercase();
        let mut value = String::new();
        let mut it = v.trim().chars();
        while let Some(c) = it.next() {
            if c == '\\' {
                if let Some(n) = it.next() {
                    value.push(n);
                }
            } else {
                value.push(c);
            }
        }
        if key.is_empty() || value.is_empty() {
            return Err(format!("{part:?} has an empty type or value"));
        }
        if out.insert(key.clone(), value).is_some() {
            return Err(format!("attribute {key} appears twice"));
        }
    }
    for required in ["C", "ST", "O"] {
        if !out.contains_key(required) {
            return Err(format!(
                "distinguished name (DN) {dn:?} has no mandatory RDN attribute for \"{required}\", it must contain 'C', 'ST', and 'O' RDN attributes at a minimum"
            ));
        }
    }
    Ok(out)
}

impl TrustPolicyDocument {
    /// Parses and validates a `trustpolicy.json`.
    pub fn from_json(bytes: &[u8], limits: &NotaryLimits) -> Result<Self, PolicyError> {
        check_size("trustpolicy.json", bytes.len(), limits.policy)?;
        let raw: RawDocument =
            serde_json::from_slice(bytes).map_err(|e| PolicyError::Malformed(e.to_string()))?;
        if raw.version != "1.0" {
            return Err(PolicyError::UnsupportedVersion(raw.version));
        }
        if raw.trust_policies.is_empty() {
            return Err(PolicyError::NoStatements);
        }
        if raw.trust_policies.len() > limits.policy_entries {
            return Err(PolicyError::TooMany {
                what: "trustPolicies",
                limit: limits.policy_entries,
            });
        }
        let mut statements: Vec<Statement> = Vec::new();
        let mut scopes = std::collections::BTreeSet::new();
        for s in raw.trust_policies {
            if s.name.is_empty() {
                return Err(PolicyError::Malformed(
                    "a trust policy statement is missing a name, every statement requires a name"
                        .into(),
                ));
            }
            if statements.iter().any(|t| t.name == s.name) {
                return Err(PolicyError::DuplicateName(s.name));
            }
            let statement = Self::statement(s, limits)?;
            for scope in &statement.registry_scopes {
                if !scopes.insert(scope.clone()) {
                    return Err(PolicyError::DuplicateScope(scope.clone()));
                }
            }
            statements.push(statement);
        }
        Ok(Self { statements })
    }

    fn statement(s: RawStatement, limits: &NotaryLimits) -> Result<Statement, PolicyError> {
        let name = s.name.as_str();
        for (what, len) in [
            ("registryScopes", s.registry_scopes.len()),
            ("trustStores", s.trust_stores.len()),
            ("trustedIdentities", s.trusted_identities.len()),
            (
                "signatureVerification.override",
                s.signature_verification.override_.len(),
            ),
        ] {
            if len > limits.policy_entries {
                return Err(PolicyError::TooMany {
                    what,
                    limit: limits.policy_entries,
                });
            }
        }
        let sv = &s.signature_verification;
        if sv.level.is_empty() {
            return Err(bad(
                name,
                "signatureVerification.level",
                "signature verification level is empty or missing",
            ));
        }
        let mut level = VerificationLevel::named(&sv.level).ok_or_else(|| {
            bad(
                name,
                "signatureVerification.level",
                format!("invalid signature verification level {:?}", sv.level),
            )
        })?;
        if !sv.override_.is_empty() {
            if level.is_skip() {
                return Err(bad(
                    name,
                    "signatureVerification.override",
                    "signature verification level \"skip\" can't be used to customize signature verification",
                ));
            }
            level.name = "custom".into();
            for (k, v) in &sv.override_ {
                let check = Check::from_name(k).ok_or_else(|| {
                    bad(
                        name,
                        "signatureVerification.override",
                        format!("verification type {k:?} is not supported"),
                    )
                })?;
                let action = Action::from_name(v).ok_or_else(|| {
                    bad(
                        name,
                        "signatureVerification.override",
                        format!("verification action {v:?} is not supported"),
                    )
                })?;
                if check == Check::Integrity {
                    return Err(bad(
                        name,
                        "signatureVerification.override",
                        "\"integrity\" verification can not be overridden",
                    ));
                }
                if check != Check::Revocation && action == Action::Skip {
                    return Err(bad(
                        name,
                        "signatureVerification.override",
                        format!("{k:?} verification can not be skipped"),
                    ));
                }
                level.actions[check as usize] = action;
            }
        }
        let verify_timestamp = match sv.verify_timestamp.as_deref() {
            None | Some("") | Some("always") => VerifyTimestamp::Always,
            Some("afterCertExpiry") => VerifyTimestamp::AfterCertExpiry,
            Some(o) => {
                return Err(bad(
                    name,
                    "signatureVerification.verifyTimestamp",
                    format!(
                        "verifyTimestamp must be \"always\" or \"afterCertExpiry\", but got {o:?}"
                    ),
                ));
            }
        };
        if level.is_skip() {
            if !s.trust_stores.is_empty() || !s.trusted_identities.is_empty() {
                return Err(bad(
                    name,
                    "trustStores",
                    "set to skip signature verification but configured with trust stores and/or trusted identities",
                ));
            }
        } else if s.trust_stores.is_empty() || s.trusted_identities.is_empty() {
            return Err(bad(
                name,
                "trustStores",
                "either missing trust stores or trusted identities, both must be specified",
            ));
        }
        let mut trust_stores = Vec::new();
        for t in &s.trust_stores {
            let (kind, store) = t.split_once(':').ok_or_else(|| {
                bad(name, "trustStores", format!("is missing separator in trust store value {t:?}. The required format is <TrustStoreType>:<TrustStoreName>"))
            })?;
            let kind = StoreType::from_name(kind).ok_or_else(|| {
                bad(
                    name,
                    "trustStores",
                    format!(
                        "uses an unsupported trust store type {kind:?} in trust store value {t:?}"
                    ),
                )
            })?;
            if !valid_store_name(store) {
                return Err(bad(
                    name,
                    "trustStores",
                    format!(
                        "uses an unsupported trust store name {store:?} in trust store value {t:?}. Named store name needs to follow [a-zA-Z0-9_.-]+ format"
                    ),
                ));
            }
            trust_stores.push(StoreRef {
                kind,
                name: store.to_owned(),
            });
        }
        if s.trusted_identities.len() > 1 && s.trusted_identities.iter().any(|t| t == "*") {
            return Err(bad(
                name,
                "trustedIdentities",
                "a wildcard identity '*' cannot be used in conjunction with other values",
            ));
        }
        let mut trusted_identities = Vec::new();
        for t in &s.trusted_identities {
            if t.is_empty() {
                return Err(bad(name, "trustedIdentities", "an empty trusted identity"));
            }
            if t == "*" {
                trusted_identities.push(TrustedIdentity::Any);
                continue;
            }
            let (prefix, value) = t.split_once(':').ok_or_else(|| {
                bad(
                    name,
                    "trustedIdentities",
                    format!("trusted identity {t:?} missing separator"),
                )
            })?;
            if prefix == "x509.subject" {
                if value.is_empty() {
                    return Err(bad(
                        name,
                        "trustedIdentities",
                        format!("trusted identity {t:?} without an identity value"),
                    ));
                }
                let attributes = parse_dn(value).map_err(|e| {
                    bad(
                        name,
                        "trustedIdentities",
                        format!("trusted identity {t:?} with invalid identity value: {e}"),
                    )
                })?;
                if let Some(TrustedIdentity::X509Subject { raw, .. }) =
                    trusted_identities.iter().find(|o| {
                        matches!(o, TrustedIdentity::X509Subject { attributes: a, .. } if *a == attributes)
                    })
                {
                    return Err(bad(name, "trustedIdentities", format!("has overlapping x509 trustedIdentities, {raw:?} overlaps with {t:?}")));
                }
                trusted_identities.push(TrustedIdentity::X509Subject {
                    raw: t.clone(),
                    attributes,
                });
            } else {
                trusted_identities.push(TrustedIdentity::Other(t.clone()));
            }
        }
        if s.registry_scopes.is_empty() {
            return Err(bad(
                name,
                "registryScopes",
                "zero registry scopes, it must specify registry scopes with at least one value",
            ));
        }
        if s.registry_scopes.len() > 1 && s.registry_scopes.iter().any(|r| r == "*") {
            return Err(bad(
                name,
                "registryScopes",
                "a wildcard scope '*' cannot be used in conjunction with other scope values",
            ));
        }
        for scope in &s.registry_scopes {
            if scope != "*" && !valid_scope(scope) {
                return Err(bad(
                    name,
                    "registryScopes",
                    format!(
                        "registry scope {scope:?} is not valid, make sure it is a fully qualified repository without the scheme, protocol or tag. For example domain.com/my/repository"
                    ),
                ));
            }
        }
        Ok(Statement {
            name: s.name,
            registry_scopes: s.registry_scopes,
            level,
            verify_timestamp,
            trust_stores,
            trusted_identities,
        })
    }

    /// The statements.
    pub fn statements(&self) -> &[Statement] {
        &self.statements
    }

    /// The statement for an artifact path `registry/repository` (no tag or digest): the one
    /// naming it, else the `*` one.
    pub fn statement_for(&self, repository: &str) -> Option<&Statement> {
        self.statements
            .iter()
            .find(|s| s.registry_scopes.iter().any(|r| r == repository))
            .or_else(|| {
                self.statements
                    .iter()
                    .find(|s| s.registry_scopes.iter().any(|r| r == "*"))
            })
    }
}

/// `registry/repository`, lower-case path, no tag or digest, no scheme.
fn valid_scope(scope: &str) -> bool {
    let Some((registry, repo)) = scope.split_once('/') else {
        return false;
    };
    !registry.is_empty()
        && !registry.contains("://")
        && !repo.is_empty()
        && !repo.contains(['@', ':'])
        && repo.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-' | b'/')
        })
}
