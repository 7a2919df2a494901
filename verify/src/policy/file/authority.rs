//! The signature authorities of a policy block compiled: keys, keyless identities and Notary
//! Project trust (`notation`), each read and checked when the policy loads.

use std::sync::Arc;

use serde_saphyr::Spanned;
use vouch_core::keys::files;
use vouch_core::limits::Limits;
use vouch_core::notary::crl::{Crl, CrlLimits, read_crls};
use vouch_core::notary::envelope::NotaryLimits;
use vouch_core::notary::policy::TrustPolicyDocument;
use vouch_core::notary::store::TrustStore;
use vouch_core::sigstore::trusted_root::TrustedRoot;

use crate::sigstore_bundle::Matcher;

use super::raw::*;
use super::*;

impl Ctx<'_> {
    pub(super) fn authority(
        &mut self,
        a: &Spanned<RawAuthority>,
        field: &str,
    ) -> Result<PolicyAuthority, PolicyError> {
        let raw = &a.value;
        if let Some(n) = &raw.notation {
            if raw.key.is_some() || raw.keyless.is_some() {
                return Err(self.invalid(
                    line(n),
                    field,
                    "an authority is one of `key`, `keyless` or `notation`, not several",
                ));
            }
            return self.notation(n, raw.name.as_deref(), &format!("{field}.notation"));
        }
        match (&raw.key, &raw.keyless) {
            (Some(k), None) => {
                let p = self.dir.join(&k.value);
                let key = match self.keys.get(&p) {
                    Some(key) => key.clone(),
                    None => {
                        let key = files::load_public_key(&p, &Limits::DEFAULT).map_err(|e| {
                            self.invalid(line(k), format!("{field}.key"), e.to_string())
                        })?;
                        let key = Arc::new(key);
                        self.keys.insert(p, key.clone());
                        key
                    }
                };
                Ok(PolicyAuthority {
                    label: raw
                        .name
                        .clone()
                        .unwrap_or_else(|| format!("key {}", k.value)),
                    kind: AuthorityKind::Key(key),
                })
            }
            (None, Some(kl)) => {
                let f = format!("{field}.keyless");
                let kv = &kl.value;
                let matcher = |exact: &Option<Spanned<String>>,
                               regex: &Option<Spanned<String>>,
                               name: &str|
                 -> Result<Matcher, PolicyError> {
                    match (exact, regex) {
                        (Some(x), None) => Ok(Matcher::Exact(x.value.clone())),
                        (None, Some(r)) => Matcher::regex(&r.value).map_err(|e| {
                            self.invalid(line(r), format!("{f}.{name}RegExp"), e.to_string())
                        }),
                        (Some(x), Some(_)) => Err(self.invalid(
                            line(x),
                            format!("{f}.{name}"),
                            format!("give one of `{name}` and `{name}RegExp`, not both"),
                        )),
                        (None, None) => Err(self.invalid(
                            line(kl),
                            &f,
                            format!("`{name}` or `{name}RegExp` is required"),
                        )),
                    }
                };
                let subject = matcher(&kv.subject, &kv.subject_regexp, "subject")?;
                let issuer = matcher(&kv.issuer, &kv.issuer_regexp, "issuer")?;
                let mut github = GithubRule::default();
                if let Some(g) = &kv.github {
                    let one = |s: &Option<Spanned<String>>, name: &str| {
                        s.as_ref()
                            .map(|s| self.pattern(s, &format!("{f}.github.{name}")))
                            .transpose()
                    };
                    github = GithubRule {
                        repository: one(&g.value.repository, "repository")?,
                        git_ref: one(&g.value.git_ref, "ref")?,
                        workflow: one(&g.value.workflow, "workflow")?,
                        trigger: one(&g.value.trigger, "trigger")?,
                        sha: one(&g.value.sha, "sha")?,
                    };
                }
                let root = match &kv.trusted_root {
                    Some(r) => {
                        let (p, bytes) =
                            self.read(r, &format!("{f}.trustedRoot"), "trusted root")?;
                        match self.roots.get(&p) {
                            Some(root) => root.clone(),
                            None => {
                                let root = Arc::new(TrustedRoot::parse(&bytes).map_err(|e| {
                                    self.invalid(line(r), format!("{f}.trustedRoot"), e.to_string())
                                })?);
                                self.roots.insert(p, root.clone());
                                root
                            }
                        }
                    }
                    None => match &self.public_good {
                        Some(r) => r.clone(),
                        None => {
                            let r = Arc::new(
                                TrustedRoot::public_good()
                                    .map_err(|e| self.invalid(line(kl), &f, e.to_string()))?,
                            );
                            self.public_good = Some(r.clone());
                            r
                        }
                    },
                };
                let label = raw.name.clone().unwrap_or_else(|| {
                    format!("identity {} from {}", subject.describe(), issuer.describe())
                });
                Ok(PolicyAuthority {
                    label,
                    kind: AuthorityKind::Keyless(Box::new(KeylessAuthority {
                        subject,
                        issuer,
                        github,
                        root,
                    })),
                })
            }
            (Some(k), Some(_)) => Err(self.invalid(
                line(k),
                field,
                "an authority is either `key` or `keyless`, not both",
            )),
            (None, None) => Err(self.invalid(
                line(a),
                field,
                "an authority needs `key: FILE.pub`, `keyless: {issuer, subject}` or `notation: {trustStore, ...}`",
            )),
        }
    }

    /// A `notation:` authority: `trustStore` (notation's layout, `x509/{ca,signingAuthority,tsa}/NAME/`)
    /// and either `trustPolicy` (a notation trust policy document) or one statement inline
    /// (`trustStores`, `trustedIdentities`, `signatureVerification`, `verifyTimestamp`) that
    /// applies to every image the block matches.
    pub(super) fn notation(
        &self,
        n: &Spanned<RawNotation>,
        name: Option<&str>,
        f: &str,
    ) -> Result<PolicyAuthority, PolicyError> {
        let v = &n.value;
        let limits = NotaryLimits::DEFAULT;
        let Some(store_rel) = &v.trust_store else {
            return Err(self.invalid(
                line(n),
                format!("{f}.trustStore"),
                "required: notation's trust store folder (holding x509/{ca,signingAuthority,tsa}/NAME/*.pem)",
            ));
        };
        let store_dir = self.dir.join(&store_rel.value);
        if !store_dir.is_dir() {
            return Err(self.invalid(
                line(store_rel),
                format!("{f}.trustStore"),
                format!(
                    "{} is not a folder: expected notation's trust store (x509/{{ca,signingAuthority,tsa}}/NAME/*.pem)",
                    store_dir.display()
                ),
            ));
        }
        let store = TrustStore::new(store_dir, limits);
        let inline = v.trust_stores.is_some()
            || v.trusted_identities.is_some()
            || v.signature_verification.is_some()
            || v.verify_timestamp.is_some()
            || v.override_.is_some();
        let (policy, label) = match (&v.trust_policy, inline) {
            (Some(p), true) => {
                return Err(self.invalid(
                    line(p),
                    format!("{f}.trustPolicy"),
                    "give `trustPolicy: FILE` or an inline statement (`trustStores`, `trustedIdentities`, `signatureVerification`, `verifyTimestamp`, `override`), not both",
                ));
            }
            (None, false) => {
                return Err(self.invalid(
                    line(n),
                    f,
                    "`trustPolicy: FILE` (a notation trust policy document) or an inline statement (`trustStores`, `trustedIdentities`) is required",
                ));
            }
            (Some(p), false) => {
                let pf = format!("{f}.trustPolicy");
                let (path, bytes) = self.read(p, &pf, "notation trust policy")?;
                let doc = TrustPolicyDocument::from_json(&bytes, &limits)
                    .map_err(|e| self.invalid(line(p), &pf, format!("{}: {e}", path.display())))?;
                (doc, format!("notation trust policy {}", p.value))
            }
            (None, true) => {
                let required = |list: &Option<Spanned<Vec<String>>>, what: &str| match list {
                    Some(l) if !l.value.is_empty() => Ok(l.value.clone()),
                    Some(l) => Err(self.invalid(
                        line(l),
                        format!("{f}.{what}"),
                        "expected at least one entry",
                    )),
                    None => Err(self.invalid(
                        line(n),
                        format!("{f}.{what}"),
                        "required in an inline statement",
                    )),
                };
                let stores = required(&v.trust_stores, "trustStores")?;
                let identities = required(&v.trusted_identities, "trustedIdentities")?;
                let level = v
                    .signature_verification
                    .as_ref()
                    .map_or("strict", |l| l.value.as_str());
                if level == "skip" {
                    let l = v.signature_verification.as_ref().map_or(line(n), line);
                    return Err(self.invalid(
                        l,
                        format!("{f}.signatureVerification"),
                        "`skip` verifies nothing: expected `strict`, `permissive` or `audit`",
                    ));
                }
                let mut verification = serde_json::json!({ "level": level });
                if let Some(t) = &v.verify_timestamp {
                    verification["verifyTimestamp"] = t.value.clone().into();
                }
                if let Some(o) = &v.override_ {
                    verification["override"] = serde_json::json!(o.value);
                }
                let document = serde_json::json!({
                    "version": "1.0",
                    "trustPolicies": [{
                        "name": name.unwrap_or("vouch policy"),
                        "registryScopes": ["*"],
                        "signatureVerification": verification,
                        "trustStores": stores,
                        "trustedIdentities": identities,
                    }],
                });
                let doc = TrustPolicyDocument::from_json(document.to_string().as_bytes(), &limits)
                    .map_err(|e| self.invalid(line(n), f, e.to_string()))?;
                // Every store the statement names is read now: a typo is an input error here,
                // not an untrusted signature later.
                for s in doc.statements().iter().flat_map(|s| &s.trust_stores) {
                    let l = v.trust_stores.as_ref().map_or(line(n), line);
                    store
                        .certificates(s)
                        .map_err(|e| self.invalid(l, format!("{f}.trustStores"), e.to_string()))?;
                }
                (doc, format!("notation {}", identities.join(" | ")))
            }
        };
        let crls = self.crls(v, f)?;
        Ok(PolicyAuthority {
            label: name.map_or(label, str::to_owned),
            kind: AuthorityKind::Notation(Box::new(NotationAuthority {
                policy,
                store,
                crls,
            })),
        })
    }

    /// `crls:` of a `notation` authority: CRL files (DER or PEM), read and parsed now (an
    /// unreadable or malformed CRL is an input error); checked against each signature's chain
    /// when it is verified.
    fn crls(&self, v: &RawNotation, f: &str) -> Result<Vec<Crl>, PolicyError> {
        let Some(list) = &v.crls else {
            return Ok(Vec::new());
        };
        let cf = format!("{f}.crls");
        if list.value.is_empty() {
            return Err(self.invalid(
                line(list),
                &cf,
                "expected at least one CRL file (or leave `crls` out: revocation is then not checked)",
            ));
        }
        const MAX_CRL_FILES: usize = 256;
        if list.value.len() > MAX_CRL_FILES {
            return Err(self.invalid(
                line(list),
                &cf,
                format!("more than {MAX_CRL_FILES} CRL files"),
            ));
        }
        let limits = CrlLimits::DEFAULT;
        let mut out = Vec::new();
        for (i, rel) in list.value.iter().enumerate() {
            let field = format!("{cf}[{i}]");
            let (path, bytes) = self.read(rel, &field, "CRL")?;
            let crls = read_crls(&bytes, &limits)
                .map_err(|e| self.invalid(line(rel), &field, format!("{}: {e}", path.display())))?;
            out.extend(crls);
        }
        Ok(out)
    }

    pub(super) fn authorities(
        &mut self,
        list: &[Spanned<RawAuthority>],
        field: &str,
    ) -> Result<Vec<PolicyAuthority>, PolicyError> {
        list.iter()
            .enumerate()
            .map(|(i, a)| self.authority(a, &format!("{field}[{i}]")))
            .collect()
    }
}
