//! Fulcio signing certificates: the identity they carry (SAN and OIDC issuer extensions), the
//! chain to a CA of the trusted root at the signing time (rustls-webpki, code-signing EKU), and
//! the embedded SCTs checked against the trusted root's CT logs (RFC 6962 §3.2, precertificate
//! entries: the TBS without the SCT extension, signed with the issuer's key hash).

use std::time::Duration;

use rustls_pki_types::{CertificateDer, UnixTime};
use sha2::{Digest as _, Sha256};
use x509_cert::Certificate;
use x509_cert::der::asn1::{ContextSpecific, ObjectIdentifier, Utf8StringRef};
use x509_cert::der::{Decode, Encode, Header, Length, Tag, TagMode, TagNumber};
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::sct::SignedCertificateTimestampList;

use super::trusted_root::{CertificateAuthority, TrustedRoot};
use crate::keys::PublicKey;

const OID_SCT_LIST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.11129.2.4.2");
const OID_ISSUER_V1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.1");
const OID_ISSUER_V2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.8");
/// Fulcio's otherName SAN for username identities.
const OID_OTHERNAME_USERNAME: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.7");
/// id-kp-codeSigning (1.3.6.1.5.5.7.3.3), DER value bytes.
const CODE_SIGNING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03];

/// A certificate problem; the message names the step.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertificateError {
    /// Not a certificate vouch can read.
    #[error("certificate: {0}")]
    Malformed(String),
    /// No chain to a trusted CA valid at the signing time.
    #[error("certificate chain: {0}")]
    Chain(String),
    /// The signing time is outside the certificate's validity.
    #[error(
        "certificate validity: signed at {time}, the certificate is valid from {not_before} to {not_after}"
    )]
    Expired {
        /// Signing time.
        time: i64,
        /// Start.
        not_before: i64,
        /// End.
        not_after: i64,
    },
    /// No SCT from a trusted CT log verifies.
    #[error("SCT: {0}")]
    Sct(String),
}

/// The identity a Fulcio certificate binds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertIdentity {
    /// The subject alternative name (URI or e-mail).
    pub san: String,
    /// The OIDC issuer (Fulcio extension .1.8, or the older .1.1).
    pub issuer: Option<String>,
    /// Every Fulcio extension under 1.3.6.1.4.1.57264.1 as (OID, value) — GitHub workflow
    /// claims (repository, ref, workflow, trigger, SHA) live there.
    pub extensions: Vec<(String, String)>,
}

/// The GitHub Actions claims of a Fulcio certificate (for policies on builder identity).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GithubClaims {
    /// `owner/repo` (.1.5; or the repository of .1.12 `https://github.com/owner/repo`).
    pub repository: Option<String>,
    /// `refs/heads/main`, `refs/tags/v1` (.1.6 or .1.14).
    pub git_ref: Option<String>,
    /// The workflow name (.1.4).
    pub workflow: Option<String>,
    /// The event that triggered it (.1.2 or .1.20).
    pub trigger: Option<String>,
    /// The commit SHA (.1.3 or .1.13).
    pub sha: Option<String>,
}

impl CertIdentity {
    /// A Fulcio extension's value by its last OID arc (1.3.6.1.4.1.57264.1.N).
    pub fn extension(&self, n: u32) -> Option<&str> {
        let oid = format!("1.3.6.1.4.1.57264.1.{n}");
        self.extensions
            .iter()
            .find(|(o, _)| *o == oid)
            .map(|(_, v)| v.as_str())
    }

    /// The GitHub workflow claims, preferring the newer extensions.
    pub fn github(&self) -> GithubClaims {
        let pick = |new: u32, old: u32| {
            self.extension(new)
                .or_else(|| self.extension(old))
                .map(str::to_owned)
        };
        GithubClaims {
            repository: self.extension(5).map(str::to_owned).or_else(|| {
                self.extension(12)
                    .and_then(|u| u.strip_prefix("https://github.com/"))
                    .map(str::to_owned)
            }),
            git_ref: pick(14, 6),
            workflow: self.extension(4).map(str::to_owned),
            trigger: pick(20, 2),
            sha: pick(13, 3),
        }
    }
}

/// A parsed leaf certificate.
#[derive(Debug, Clone)]
pub struct LeafCertificate {
    der: Vec<u8>,
    cert: Certificate,
    /// notBefore (Unix seconds).
    pub not_before: i64,
    /// notAfter (Unix seconds).
    pub not_after: i64,
}

fn malformed(e: impl std::fmt::Display) -> CertificateError {
    CertificateError::Malformed(e.to_string())
}

impl LeafCertificate {
    /// Parses DER.
    pub fn from_der(der: &[u8]) -> Result<Self, CertificateError> {
        let cert = Certificate::from_der(der).map_err(malformed)?;
        let v = cert.tbs_certificate().validity();
        let secs = |t: x509_cert::time::Time| t.to_unix_duration().as_secs() as i64;
        Ok(Self {
            der: der.to_vec(),
            not_before: secs(v.not_before),
            not_after: secs(v.not_after),
            cert,
        })
    }

    /// The DER bytes.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn spki_der(&self) -> Result<Vec<u8>, CertificateError> {
        self.cert
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .map_err(malformed)
    }

    /// Whether issuer and subject are the same name (a root, or another self-issued CA).
    pub fn is_self_issued(&self) -> bool {
        let tbs = self.cert.tbs_certificate();
        tbs.issuer() == tbs.subject()
    }

    /// The certificate's public key (ECDSA P-256, as Fulcio issues).
    pub fn public_key(&self) -> Result<PublicKey, CertificateError> {
        let spki = self
            .cert
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .map_err(malformed)?;
        PublicKey::from_spki_der(&spki).map_err(malformed)
    }

    /// The identity: SAN and Fulcio extensions.
    pub fn identity(&self) -> Result<CertIdentity, CertificateError> {
        let tbs = self.cert.tbs_certificate();
        let san = match tbs.get_extension::<SubjectAltName>().map_err(malformed)? {
            // The names Fulcio issues: a URI (workflows, SPIFFE), an e-mail address, or a
            // username as an otherName of type 1.3.6.1.4.1.57264.1.7 holding a UTF8String
            // (`foo!oidc.local`); sigstore-go and cosign read all three.
            Some((_, SubjectAltName(names))) => names
                .iter()
                .find_map(|n| match n {
                    GeneralName::UniformResourceIdentifier(s) | GeneralName::Rfc822Name(s) => {
                        Some(s.to_string())
                    }
                    GeneralName::OtherName(other) if other.type_id == OID_OTHERNAME_USERNAME => {
                        other
                            .value
                            .decode_as::<Utf8StringRef<'_>>()
                            .ok()
                            .map(|s| s.as_str().to_owned())
                    }
                    _ => None,
                })
                .ok_or_else(|| {
                    malformed("the SAN has no URI, e-mail or Fulcio username (otherName) name")
                })?,
            None => return Err(malformed("no subject alternative name")),
        };
        let mut issuer_v1 = None;
        let mut issuer_v2 = None;
        let mut extensions = Vec::new();
        for ext in tbs.extensions().into_iter().flatten() {
            let oid = ext.extn_id.to_string();
            if !oid.starts_with("1.3.6.1.4.1.57264.1.") {
                continue;
            }
            let raw = ext.extn_value.as_bytes();
            // Extensions .1–.6 hold raw strings; .8 and later a DER UTF8String.
            let value = match Utf8StringRef::from_der(raw) {
                Ok(s) if ext.extn_id != OID_ISSUER_V1 => s.as_str().to_owned(),
                _ => String::from_utf8_lossy(raw).into_owned(),
            };
            if ext.extn_id == OID_ISSUER_V1 {
                issuer_v1 = Some(value.clone());
            } else if ext.extn_id == OID_ISSUER_V2 {
                issuer_v2 = Some(value.clone());
            }
            extensions.push((oid, value));
        }
        Ok(CertIdentity {
            san,
            issuer: issuer_v2.or(issuer_v1),
            extensions,
        })
    }

    /// Checks the chain to a CA of `root` valid at `time`, with the code-signing EKU, and that
    /// `time` is inside the certificate's validity. Returns the CA and the issuer's SPKI DER.
    pub fn verify_chain<'r>(
        &self,
        root: &'r TrustedRoot,
        time: i64,
    ) -> Result<(&'r CertificateAuthority, Vec<u8>), CertificateError> {
        if time < self.not_before || time > self.not_after {
            return Err(CertificateError::Expired {
                time,
                not_before: self.not_before,
                not_after: self.not_after,
            });
        }
        let leaf = CertificateDer::from(self.der.as_slice());
        let ee = webpki::EndEntityCert::try_from(&leaf)
            .map_err(|e| CertificateError::Chain(format!("{e:?}")))?;
        let at = UnixTime::since_unix_epoch(Duration::from_secs(time.max(0) as u64));
        let mut last = String::from(
            "no certificate authority of the trusted root is valid at the signing time",
        );
        for ca in root
            .certificate_authorities
            .iter()
            .filter(|ca| ca.validity.contains(time) && !ca.chain.is_empty())
        {
            let Some((anchor_der, intermediates)) = ca.chain.split_last() else {
                continue;
            };
            let anchor_cert = CertificateDer::from(anchor_der.as_slice());
            let anchor = match webpki::anchor_from_trusted_cert(&anchor_cert) {
                Ok(a) => a,
                Err(e) => {
                    last = format!("trust anchor unusable: {e:?}");
                    continue;
                }
            };
            let inter: Vec<CertificateDer<'_>> = intermediates
                .iter()
                .map(|c| CertificateDer::from(c.as_slice()))
                .collect();
            match ee.verify_for_usage(
                webpki::ALL_VERIFICATION_ALGS,
                &[anchor],
                &inter,
                at,
                webpki::KeyUsage::required(CODE_SIGNING),
                None,
                None,
            ) {
                Ok(path) => {
                    let issuer = path
                        .intermediate_certificates()
                        .next()
                        .map(|c| c.der().as_ref().to_vec())
                        .unwrap_or_else(|| anchor_der.clone());
                    let issuer = Certificate::from_der(&issuer).map_err(malformed)?;
                    let spki = issuer
                        .tbs_certificate()
                        .subject_public_key_info()
                        .to_der()
                        .map_err(malformed)?;
                    return Ok((ca, spki));
                }
                Err(e) => last = format!("{e:?}"),
            }
        }
        Err(CertificateError::Chain(last))
    }

    /// The TBS certificate as the CT log saw it: without the SCT list extension.
    fn precert_tbs(&self) -> Result<Vec<u8>, CertificateError> {
        let tbs = self.cert.tbs_certificate();
        let exts: Vec<Extension> = tbs
            .extensions()
            .into_iter()
            .flatten()
            .filter(|e| e.extn_id != OID_SCT_LIST)
            .cloned()
            .collect();
        let mut body = Vec::new();
        let enc = |r: x509_cert::der::Result<Length>| r.map(drop).map_err(malformed);
        enc(ContextSpecific {
            tag_number: TagNumber(0),
            tag_mode: TagMode::Explicit,
            value: tbs.version(),
        }
        .encode_to_vec(&mut body))?;
        enc(tbs.serial_number().encode_to_vec(&mut body))?;
        enc(tbs.signature().encode_to_vec(&mut body))?;
        enc(tbs.issuer().encode_to_vec(&mut body))?;
        enc(tbs.validity().encode_to_vec(&mut body))?;
        enc(tbs.subject().encode_to_vec(&mut body))?;
        enc(tbs.subject_public_key_info().encode_to_vec(&mut body))?;
        if tbs.issuer_unique_id().is_some() || tbs.subject_unique_id().is_some() {
            return Err(malformed("unique identifiers are not supported"));
        }
        if !exts.is_empty() {
            enc(ContextSpecific {
                tag_number: TagNumber(3),
                tag_mode: TagMode::Explicit,
                value: exts,
            }
            .encode_to_vec(&mut body))?;
        }
        let len = Length::try_from(body.len()).map_err(malformed)?;
        let mut out = Vec::with_capacity(body.len() + 8);
        enc(Header::new(Tag::Sequence, len).encode_to_vec(&mut out))?;
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Checks that some embedded SCT is signed by a CT log of `root` valid at its timestamp.
    pub fn verify_scts(
        &self,
        root: &TrustedRoot,
        issuer_spki: &[u8],
    ) -> Result<(), CertificateError> {
        let list = match self
            .cert
            .tbs_certificate()
            .get_extension::<SignedCertificateTimestampList>()
            .map_err(malformed)?
        {
            Some((_, l)) => l,
            None => {
                return Err(CertificateError::Sct(
                    "the certificate has no embedded SCT".into(),
                ));
            }
        };
        let scts = list
            .parse_timestamps()
            .map_err(|e| CertificateError::Sct(format!("unreadable SCT list: {e:?}")))?;
        let tbs = self.precert_tbs()?;
        let issuer_key_hash: [u8; 32] = Sha256::digest(issuer_spki).into();
        let mut last = String::from("no SCT is from a CT log of the trusted root");
        for s in scts {
            let sct = s
                .parse_timestamp()
                .map_err(|e| CertificateError::Sct(format!("unreadable SCT: {e:?}")))?;
            let Some(log) = root
                .ctlogs
                .iter()
                .find(|l| l.key.key_id() == sct.log_id.key_id || l.log_id == sct.log_id.key_id)
            else {
                continue;
            };
            let ts = (sct.timestamp / 1000) as i64;
            if !log.validity.contains(ts) {
                last = "the CT log's key was not valid at the SCT's time".into();
                continue;
            }
            let ext = sct.extensions.as_slice();
            let mut signed = Vec::with_capacity(tbs.len() + ext.len() + 64);
            signed.push(0); // v1
            signed.push(0); // certificate_timestamp
            signed.extend_from_slice(&sct.timestamp.to_be_bytes());
            signed.extend_from_slice(&[0, 1]); // precert_entry
            signed.extend_from_slice(&issuer_key_hash);
            let n = tbs.len() as u32;
            signed.extend_from_slice(&n.to_be_bytes()[1..]);
            signed.extend_from_slice(&tbs);
            signed.extend_from_slice(&(ext.len() as u16).to_be_bytes());
            signed.extend_from_slice(ext);
            if log.key.verify(&signed, sct.signature.signature.as_slice()) {
                return Ok(());
            }
            last = "an SCT signature does not verify with its CT log's key".into();
        }
        Err(CertificateError::Sct(last))
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as B64;

    use super::*;

    fn bundle(case: &str) -> serde_json::Value {
        let p = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/data/vectors/sigstore-conformance")
            .join(case)
            .join("bundle.sigstore.json");
        serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
    }

    fn leaf(b: &serde_json::Value) -> LeafCertificate {
        let vm = &b["verificationMaterial"];
        let raw = vm["certificate"]["rawBytes"]
            .as_str()
            .or_else(|| vm["x509CertificateChain"]["certificates"][0]["rawBytes"].as_str())
            .unwrap();
        LeafCertificate::from_der(&B64.decode(raw).unwrap()).unwrap()
    }

    /// The log's integrated time, or (Rekor v2 bundles, timed by a TSA) a time inside the
    /// certificate's validity.
    fn time(b: &serde_json::Value) -> i64 {
        b["verificationMaterial"]["tlogEntries"][0]["integratedTime"]
            .as_str()
            .map(|t| t.parse().unwrap())
            .unwrap_or_else(|| leaf(b).not_before + 60)
    }

    /// The case's own trusted root, else public good.
    fn root_for(case: &str) -> TrustedRoot {
        let p = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/data/vectors/sigstore-conformance")
            .join(case)
            .join("trusted_root.json");
        match std::fs::read(p) {
            Ok(r) => TrustedRoot::parse(&r).unwrap(),
            Err(_) => TrustedRoot::public_good().unwrap(),
        }
    }

    #[test]
    fn happy_path_certificate() {
        for case in [
            "happy-path-v0.3",
            "happy-path-v0.2",
            "happy-path-intoto-in-dsse-v3",
            "bundle-with-sct-with-extensions",
        ] {
            let root = root_for(case);
            let b = bundle(case);
            let cert = leaf(&b);
            let id = cert.identity().unwrap();
            assert_eq!(
                id.san,
                "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main",
                "{case}"
            );
            assert_eq!(
                id.issuer.as_deref(),
                Some("https://token.actions.githubusercontent.com")
            );
            let (_, issuer_spki) = cert
                .verify_chain(&root, time(&b))
                .unwrap_or_else(|e| panic!("{case}: {e}"));
            cert.verify_scts(&root, &issuer_spki)
                .unwrap_or_else(|e| panic!("{case}: {e}"));
            cert.public_key().unwrap();
            let gh = id.github();
            assert_eq!(
                gh.repository.as_deref(),
                Some("sigstore-conformance/extremely-dangerous-public-oidc-beacon"),
                "{case}"
            );
            assert_eq!(gh.git_ref.as_deref(), Some("refs/heads/main"), "{case}");
            assert!(
                gh.sha.as_deref().is_some_and(|s| s.len() == 40),
                "{case}: {gh:?}"
            );
            assert!(
                gh.trigger.is_some() && gh.workflow.is_some(),
                "{case}: {gh:?}"
            );
            // Outside the certificate's ten minutes: rejected.
            assert!(matches!(
                cert.verify_chain(&root, cert.not_after + 1),
                Err(CertificateError::Expired { .. })
            ));
        }
    }

    #[test]
    fn invalid_ct_key_and_wrong_instance() {
        // The chain holds but no SCT verifies with the CT key in this case's root.
        let b = bundle("invalid-ct-key_fail");
        let root = root_for("invalid-ct-key_fail");
        let cert = leaf(&b);
        let (_, spki) = cert.verify_chain(&root, time(&b)).unwrap();
        assert!(matches!(
            cert.verify_scts(&root, &spki),
            Err(CertificateError::Sct(_))
        ));
        // A staging certificate does not chain to the production root.
        let b = bundle("bundle-from-wrong-instance_fail");
        let cert = leaf(&b);
        assert!(
            cert.verify_chain(&TrustedRoot::public_good().unwrap(), time(&b))
                .is_err()
        );
    }
}
