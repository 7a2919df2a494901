//! Certificate revocation lists (RFC 5280 §5, X.509 v2 CRLs, DER or PEM) supplied by the
//! verifier's policy, checked the way notation-core-go's `revocation/internal/crl` checks the
//! CRLs it downloads:
//!
//! - the CRL is signed by the certificate's issuer (the next certificate of the chain), whose
//!   key usage, when present, includes `cRLSign`; its issuer name is the certificate's issuer;
//! - `nextUpdate` is present and not passed (an expired CRL gives "unknown"), `thisUpdate` is
//!   not in the future; no critical extension other than the issuing distribution point and
//!   the delta CRL indicator;
//! - a delta CRL counts only with its base (a base CRL of the same issuer whose number is at
//!   least the delta's indicator and below the delta's number);
//! - the certificate's serial in `revokedCertificates` → revoked, except: an entry whose
//!   invalidity date is after the authentic signing time (signing-authority scheme only: the
//!   certificate was good when it signed), and `certificateHold` / `removeFromCRL` entries,
//!   of which the most recent decides (hold → revoked, removed → good). An entry with an
//!   unsupported critical extension gives "unknown".
//!
//! As notation-core-go's `ValidateContext`, every certificate of the chain but the root is
//! checked; a certificate without a CRL distribution point nor an OCSP responder, and no CRL
//! supplied for its issuer, is non-revokable. OCSP is never queried: a certificate that names
//! only an OCSP responder and has no CRL supplied is "unknown". The chain's verdict is
//! notation-go's `revocationFinalResult`: revoked if any certificate is (the one nearest the
//! leaf named), else unknown if any is, else ok.

use der::Decode;
use der::asn1::{GeneralizedTime, ObjectIdentifier};
use x509_cert::crl::CertificateList;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::{
    AuthorityInfoAccessSyntax, BaseCrlNumber, BasicConstraints, CrlNumber, CrlReason, KeyUsage,
};

use super::x509::{Cert, PemError, SignedError, first_inner_span, pem_blocks};

const CRL_NUMBER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.20");
const DELTA_CRL_INDICATOR: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.27");
const ISSUING_DISTRIBUTION_POINT: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.28");
const FRESHEST_CRL: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.46");
const CRL_REASON: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.21");
const INVALIDITY_DATE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.24");
const CRL_DISTRIBUTION_POINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.31");
const AUTHORITY_INFO_ACCESS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.1.1");
const OCSP: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1");
const KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
const BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");

/// Limits on CRLs read from files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CrlLimits {
    /// One CRL file (PEM or DER). Default 16 MiB.
    pub size: usize,
    /// CRLs in one PEM file. Default 64.
    pub per_file: usize,
    /// Revoked-certificate entries in one CRL. Default 200 000.
    pub entries: usize,
    /// Extensions of one CRL, and of one entry. Default 32.
    pub extensions: usize,
}

impl CrlLimits {
    /// The defaults documented on each field.
    pub const DEFAULT: CrlLimits = CrlLimits {
        size: 16 * 1024 * 1024,
        per_file: 64,
        entries: 200_000,
        extensions: 32,
    };
}

impl Default for CrlLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A CRL that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CrlError {
    /// Not an X.509 v2 CRL vouch can read.
    #[error("CRL: {0}")]
    Malformed(String),
    /// Over a limit.
    #[error("CRL: {what} exceeds the limit of {limit}")]
    TooLarge {
        /// What.
        what: &'static str,
        /// The limit.
        limit: usize,
    },
}

fn malformed(e: impl std::fmt::Display) -> CrlError {
    CrlError::Malformed(e.to_string())
}

/// RFC 5280 §5.3.1 `CRLReason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// unspecified (0).
    Unspecified,
    /// keyCompromise (1).
    KeyCompromise,
    /// cACompromise (2).
    CaCompromise,
    /// affiliationChanged (3).
    AffiliationChanged,
    /// superseded (4).
    Superseded,
    /// cessationOfOperation (5).
    CessationOfOperation,
    /// certificateHold (6).
    CertificateHold,
    /// removeFromCRL (8).
    RemoveFromCrl,
    /// privilegeWithdrawn (9).
    PrivilegeWithdrawn,
    /// aACompromise (10).
    AaCompromise,
}

impl Reason {
    /// RFC 5280's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Unspecified => "unspecified",
            Self::KeyCompromise => "keyCompromise",
            Self::CaCompromise => "cACompromise",
            Self::AffiliationChanged => "affiliationChanged",
            Self::Superseded => "superseded",
            Self::CessationOfOperation => "cessationOfOperation",
            Self::CertificateHold => "certificateHold",
            Self::RemoveFromCrl => "removeFromCRL",
            Self::PrivilegeWithdrawn => "privilegeWithdrawn",
            Self::AaCompromise => "aACompromise",
        }
    }

    fn from_x509(r: CrlReason) -> Self {
        match r {
            CrlReason::Unspecified => Self::Unspecified,
            CrlReason::KeyCompromise => Self::KeyCompromise,
            CrlReason::CaCompromise => Self::CaCompromise,
            CrlReason::AffiliationChanged => Self::AffiliationChanged,
            CrlReason::Superseded => Self::Superseded,
            CrlReason::CessationOfOperation => Self::CessationOfOperation,
            CrlReason::CertificateHold => Self::CertificateHold,
            CrlReason::RemoveFromCRL => Self::RemoveFromCrl,
            CrlReason::PrivilegeWithdrawn => Self::PrivilegeWithdrawn,
            CrlReason::AaCompromise => Self::AaCompromise,
        }
    }
}

/// One `revokedCertificates` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The serial number, big-endian, without leading zero bytes.
    pub serial: Vec<u8>,
    /// `revocationDate`, Unix seconds.
    pub revoked_at: i64,
    /// The reason code extension.
    pub reason: Option<Reason>,
    /// The invalidity date extension, Unix seconds.
    pub invalidity_date: Option<i64>,
    /// A critical entry extension vouch does not support (it makes the status unknown).
    pub unsupported_critical: Option<String>,
}

/// A parsed CRL with the exact DER its signature covers. Untrusted until checked against
/// its issuer by [`check_chain`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crl {
    der: Vec<u8>,
    tbs: std::ops::Range<usize>,
    list: CertificateList,
    issuer: String,
    this_update: i64,
    next_update: Option<i64>,
    number: Option<Vec<u8>>,
    delta_base: Option<Vec<u8>>,
    freshest: bool,
    unsupported_critical: Option<String>,
    entries: Vec<Entry>,
}

fn unix(t: &x509_cert::time::Time) -> Result<i64, CrlError> {
    i64::try_from(t.to_unix_duration().as_secs()).map_err(malformed)
}

/// Big-endian unsigned without leading zeros (so that equal numbers compare equal).
fn trim(b: &[u8]) -> Vec<u8> {
    let first = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    b[first..].to_vec()
}

/// Compares trimmed big-endian unsigned numbers.
fn cmp_num(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn hex_serial(b: &[u8]) -> String {
    if b.is_empty() {
        return "00".into();
    }
    hex::encode(b)
}

impl Crl {
    /// Parses a DER CRL.
    pub fn from_der(der: &[u8], limits: &CrlLimits) -> Result<Self, CrlError> {
        if der.len() > limits.size {
            return Err(CrlError::TooLarge {
                what: "the CRL's size in bytes",
                limit: limits.size,
            });
        }
        let list = CertificateList::from_der(der).map_err(malformed)?;
        // The TBSCertList as it is in the input, not re-encoded.
        let Some(std::ops::Range { start, end }) = first_inner_span(der) else {
            return Err(malformed("truncated TBSCertList"));
        };
        let tbs = &list.tbs_cert_list;
        if tbs.version != x509_cert::Version::V2 {
            return Err(malformed("only X.509 v2 CRLs are supported"));
        }
        if tbs.signature != list.signature_algorithm {
            return Err(malformed(
                "the signature algorithm inside the CRL differs from the outer one",
            ));
        }
        let exts: &[Extension] = tbs.crl_extensions.as_deref().unwrap_or_default();
        if exts.len() > limits.extensions {
            return Err(CrlError::TooLarge {
                what: "the CRL's extensions",
                limit: limits.extensions,
            });
        }
        let mut number = None;
        let mut delta_base = None;
        let mut freshest = false;
        let mut unsupported_critical = None;
        for (i, e) in exts.iter().enumerate() {
            if exts[..i].iter().any(|o| o.extn_id == e.extn_id) {
                return Err(malformed(format!("extension {} appears twice", e.extn_id)));
            }
            let v = e.extn_value.as_bytes();
            match e.extn_id {
                CRL_NUMBER => {
                    let n =
                        CrlNumber::from_der(v).map_err(|x| malformed(format!("cRLNumber: {x}")))?;
                    number = Some(trim(n.0.as_bytes()));
                }
                DELTA_CRL_INDICATOR => {
                    let n = BaseCrlNumber::from_der(v)
                        .map_err(|x| malformed(format!("deltaCRLIndicator: {x}")))?;
                    delta_base = Some(trim(n.0.as_bytes()));
                }
                FRESHEST_CRL => freshest = true,
                // The scope of the CRL: notation checks every distribution point, so ignores it.
                ISSUING_DISTRIBUTION_POINT => {}
                other if e.critical && unsupported_critical.is_none() => {
                    unsupported_critical = Some(other.to_string());
                }
                _ => {}
            }
        }
        if delta_base.is_some() && number.is_none() {
            return Err(malformed("a delta CRL without a cRLNumber"));
        }
        let revoked = tbs.revoked_certificates.as_deref().unwrap_or_default();
        if revoked.len() > limits.entries {
            return Err(CrlError::TooLarge {
                what: "the CRL's revoked certificate entries",
                limit: limits.entries,
            });
        }
        let mut entries = Vec::with_capacity(revoked.len());
        for rc in revoked {
            let exts: &[Extension] = rc.crl_entry_extensions.as_deref().unwrap_or_default();
            if exts.len() > limits.extensions {
                return Err(CrlError::TooLarge {
                    what: "a CRL entry's extensions",
                    limit: limits.extensions,
                });
            }
            let mut entry = Entry {
                serial: trim(rc.serial_number.as_bytes()),
                revoked_at: unix(&rc.revocation_date)?,
                reason: None,
                invalidity_date: None,
                unsupported_critical: None,
            };
            for e in exts {
                let v = e.extn_value.as_bytes();
                match e.extn_id {
                    CRL_REASON => {
                        let r = CrlReason::from_der(v)
                            .map_err(|x| malformed(format!("reasonCode: {x}")))?;
                        entry.reason = Some(Reason::from_x509(r));
                    }
                    INVALIDITY_DATE => {
                        let t = GeneralizedTime::from_der(v)
                            .map_err(|x| malformed(format!("invalidityDate: {x}")))?;
                        entry.invalidity_date =
                            Some(i64::try_from(t.to_unix_duration().as_secs()).map_err(malformed)?);
                    }
                    other if e.critical && entry.unsupported_critical.is_none() => {
                        entry.unsupported_critical = Some(other.to_string());
                    }
                    _ => {}
                }
            }
            entries.push(entry);
        }
        Ok(Self {
            der: der.to_vec(),
            tbs: start..end,
            issuer: tbs.issuer.to_string(),
            this_update: unix(&tbs.this_update)?,
            next_update: tbs.next_update.as_ref().map(unix).transpose()?,
            number,
            delta_base,
            freshest,
            unsupported_critical,
            entries,
            list,
        })
    }

    /// The issuer, RFC 4514.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }
    /// `thisUpdate`, Unix seconds.
    pub fn this_update(&self) -> i64 {
        self.this_update
    }
    /// `nextUpdate`, Unix seconds.
    pub fn next_update(&self) -> Option<i64> {
        self.next_update
    }
    /// The entries.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }
    /// Whether this is a delta CRL (it has a delta CRL indicator).
    pub fn is_delta(&self) -> bool {
        self.delta_base.is_some()
    }
    /// The DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// Checks the CRL as notation's `validateCRL`: signed by `issuer` (whose key usage, when
    /// present, has `cRLSign`), named for it, current at `now`, no unsupported critical
    /// extension. `Err` says why it cannot be used.
    pub fn validate(&self, issuer: &Cert, now: i64) -> Result<(), String> {
        let ca = issuer.certificate().tbs_certificate();
        if self.list.tbs_cert_list.issuer != *ca.subject() {
            return Err(format!(
                "CRL issuer {:?} is not the CA {:?}",
                self.issuer,
                issuer.subject()
            ));
        }
        // Go's RevocationList.CheckSignatureFrom: a CA, with cRLSign if key usage is present.
        let ext = |oid| {
            ca.extensions()
                .and_then(|e| e.iter().find(|e| e.extn_id == oid))
                .map(|e| e.extn_value.as_bytes())
        };
        let is_ca = ext(BASIC_CONSTRAINTS)
            .and_then(|v| BasicConstraints::from_der(v).ok())
            .is_some_and(|b| b.ca);
        if !is_ca {
            return Err(format!(
                "CRL issuer {:?} is not a CA certificate",
                issuer.subject()
            ));
        }
        if let Some(v) = ext(KEY_USAGE) {
            let ku = KeyUsage::from_der(v)
                .map_err(|e| format!("key usage of {:?}: {e}", issuer.subject()))?;
            if !ku.crl_sign() {
                return Err(format!(
                    "CA {:?} may not sign CRLs: its key usage lacks cRLSign",
                    issuer.subject()
                ));
            }
        }
        let signature = self
            .list
            .signature
            .as_bytes()
            .ok_or("CRL signature with unused bits")?;
        match issuer.verify_signed(
            &self.list.signature_algorithm,
            &self.der[self.tbs.clone()],
            signature,
        ) {
            Ok(()) => {}
            Err(SignedError::Invalid) => {
                return Err(format!(
                    "CRL is not signed by CA {:?}: the signature does not verify with its key",
                    issuer.subject()
                ));
            }
            Err(SignedError::Malformed(m) | SignedError::Unsupported(m)) => {
                return Err(format!(
                    "CRL is not signed by CA {:?}: {m}",
                    issuer.subject()
                ));
            }
        }
        let Some(next) = self.next_update else {
            return Err("CRL NextUpdate is not set".into());
        };
        if now > next {
            return Err(format!(
                "expired CRL: current time {now} is after CRL nextUpdate {next} (Unix seconds)"
            ));
        }
        if self.this_update > now {
            return Err(format!(
                "CRL thisUpdate {} is after the current time {now} (Unix seconds)",
                self.this_update
            ));
        }
        if let Some(oid) = &self.unsupported_critical {
            return Err(format!(
                "unsupported critical extension found in CRL: {oid}"
            ));
        }
        Ok(())
    }
}

/// Reads CRLs from PEM (any number of `X509 CRL` blocks) or a single DER one.
pub fn read_crls(bytes: &[u8], limits: &CrlLimits) -> Result<Vec<Crl>, CrlError> {
    if bytes.len() > limits.size {
        return Err(CrlError::TooLarge {
            what: "the CRL file's size in bytes",
            limit: limits.size,
        });
    }
    if bytes.first() == Some(&0x30) {
        return Ok(vec![Crl::from_der(bytes, limits)?]);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| malformed("neither PEM nor DER"))?;
    let blocks = pem_blocks(text, "X509 CRL", limits.per_file).map_err(|e| match e {
        PemError::Malformed(m) => malformed(m),
        PemError::TooMany => CrlError::TooLarge {
            what: "the CRLs in one file",
            limit: limits.per_file,
        },
    })?;
    let out = blocks
        .iter()
        .map(|der| Crl::from_der(der, limits))
        .collect::<Result<Vec<_>, _>>()?;
    if out.is_empty() {
        return Err(malformed("no CRL (expected DER or PEM `X509 CRL` blocks)"));
    }
    Ok(out)
}

/// One certificate's revocation status.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Status {
    /// A CRL of its issuer was checked and does not revoke it.
    Good,
    /// No CRL distribution point nor OCSP responder, and no CRL supplied: nothing to check.
    NonRevokable,
    /// Revoked.
    Revoked {
        /// Serial number, hex.
        serial: String,
        /// `revocationDate`, Unix seconds.
        date: i64,
        /// The reason code, if the entry has one.
        reason: Option<Reason>,
    },
    /// Cannot be told: why.
    Unknown(String),
}

/// The chain's verdict (notation-go's `revocationFinalResult`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// No certificate is revoked or unknown.
    Ok,
    /// A certificate is revoked (the one nearest the leaf).
    Revoked {
        /// Its subject.
        subject: String,
        /// Serial number, hex.
        serial: String,
        /// `revocationDate`, Unix seconds.
        date: i64,
        /// The reason code, if any.
        reason: Option<Reason>,
    },
    /// A certificate's status is unknown (the one nearest the leaf), and none is revoked.
    Unknown {
        /// Its subject.
        subject: String,
        /// Why.
        why: String,
    },
}

fn has_ext(cert: &Cert, oid: ObjectIdentifier) -> Option<&[u8]> {
    cert.certificate()
        .tbs_certificate()
        .extensions()
        .and_then(|e| e.iter().find(|e| e.extn_id == oid))
        .map(|e| e.extn_value.as_bytes())
}

fn has_ocsp(cert: &Cert) -> bool {
    has_ext(cert, AUTHORITY_INFO_ACCESS)
        .and_then(|v| AuthorityInfoAccessSyntax::from_der(v).ok())
        .is_some_and(|a| a.0.iter().any(|d| d.access_method == OCSP))
}

/// The status of `cert`, issued by `issuer`, from the supplied `crls` at `now`;
/// `signing_time` is the authentic signing time (signing-authority scheme), compared with an
/// entry's invalidity date.
pub fn cert_status(
    cert: &Cert,
    issuer: &Cert,
    crls: &[Crl],
    now: i64,
    signing_time: Option<i64>,
) -> Status {
    let issuer_name = cert.certificate().tbs_certificate().issuer();
    let mine: Vec<&Crl> = crls
        .iter()
        .filter(|c| c.list.tbs_cert_list.issuer == *issuer_name)
        .collect();
    if mine.is_empty() {
        if has_ext(cert, CRL_DISTRIBUTION_POINTS).is_some() {
            return Status::Unknown(format!(
                "no CRL was supplied for its issuer {:?} (the certificate names a CRL distribution point; vouch does not download it)",
                issuer.subject()
            ));
        }
        if has_ocsp(cert) {
            return Status::Unknown(format!(
                "no CRL was supplied for its issuer {:?} and OCSP is not queried offline",
                issuer.subject()
            ));
        }
        return Status::NonRevokable;
    }
    for c in &mine {
        if let Err(why) = c.validate(issuer, now) {
            return Status::Unknown(format!("failed to validate CRL: {why}"));
        }
    }
    let (deltas, bases): (Vec<&Crl>, Vec<&Crl>) = mine.iter().partition(|c| c.is_delta());
    if bases.is_empty() {
        return Status::Unknown(format!(
            "only delta CRLs were supplied for issuer {:?}, no base CRL",
            issuer.subject()
        ));
    }
    // Each delta needs a base it extends (RFC 5280 §5.2.4).
    for d in &deltas {
        let (Some(dn), Some(min)) = (&d.number, &d.delta_base) else {
            return Status::Unknown("delta CRL without a CRL number".into());
        };
        let fits = bases.iter().any(|b| {
            b.number
                .as_ref()
                .is_some_and(|bn| cmp_num(min, bn).is_le() && cmp_num(dn, bn).is_gt())
        });
        if !fits {
            return Status::Unknown(
                "delta CRL has no base CRL whose number is at least its delta CRL indicator and below its own number".into(),
            );
        }
    }
    let wants_delta = has_ext(cert, FRESHEST_CRL).is_some() || bases.iter().any(|b| b.freshest);
    if wants_delta && deltas.is_empty() {
        return Status::Unknown(
            "the certificate or its CRL names a freshest (delta) CRL, and none was supplied".into(),
        );
    }
    let serial = trim(
        cert.certificate()
            .tbs_certificate()
            .serial_number()
            .as_bytes(),
    );
    let mut latest_temp: Option<&Entry> = None;
    for e in mine
        .iter()
        .flat_map(|c| c.entries.iter())
        .filter(|e| e.serial == serial)
    {
        if let Some(oid) = &e.unsupported_critical {
            return Status::Unknown(format!(
                "unsupported critical extension found in CRL entry: {oid}"
            ));
        }
        if let (Some(signed), Some(invalid)) = (signing_time, e.invalidity_date)
            && signed < invalid
        {
            // Signed before the key became invalid: not revoked at signing.
            return Status::Good;
        }
        match e.reason {
            Some(Reason::CertificateHold | Reason::RemoveFromCrl) => {
                if latest_temp.is_none_or(|l| l.revoked_at < e.revoked_at) {
                    latest_temp = Some(e);
                }
            }
            _ => {
                return Status::Revoked {
                    serial: hex_serial(&serial),
                    date: e.revoked_at,
                    reason: e.reason,
                };
            }
        }
    }
    match latest_temp {
        Some(e) if e.reason == Some(Reason::CertificateHold) => Status::Revoked {
            serial: hex_serial(&serial),
            date: e.revoked_at,
            reason: e.reason,
        },
        _ => Status::Good,
    }
}

/// Each certificate of `chain` (leaf first, ending at its root) but the root checked against
/// `crls`; the root is non-revokable.
pub fn check_chain(
    chain: &[Cert],
    crls: &[Crl],
    now: i64,
    signing_time: Option<i64>,
) -> Vec<Status> {
    let mut out: Vec<Status> = chain
        .windows(2)
        .map(|w| cert_status(&w[0], &w[1], crls, now, signing_time))
        .collect();
    if !chain.is_empty() {
        out.push(Status::NonRevokable);
    }
    out
}

/// notation-go's `revocationFinalResult` over [`check_chain`]'s statuses.
pub fn verdict(chain: &[Cert], statuses: &[Status]) -> Verdict {
    let mut revoked = None;
    let mut unknown = None;
    // Nearest the leaf wins: walk from the root down, the last found stays.
    for (cert, status) in chain.iter().zip(statuses).rev() {
        match status {
            Status::Revoked {
                serial,
                date,
                reason,
            } => {
                revoked = Some(Verdict::Revoked {
                    subject: cert.subject().to_owned(),
                    serial: serial.clone(),
                    date: *date,
                    reason: *reason,
                });
            }
            Status::Unknown(why) => {
                unknown = Some(Verdict::Unknown {
                    subject: cert.subject().to_owned(),
                    why: why.clone(),
                });
            }
            Status::Good | Status::NonRevokable => {}
        }
    }
    revoked.or(unknown).unwrap_or(Verdict::Ok)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::notary::x509::read_certificates;

    /// 2026-06-01T00:00:00Z, the producer's `--at`.
    const AT: i64 = 1_780_272_000;
    const DAY: i64 = 86_400;

    fn data(name: &str) -> Vec<u8> {
        std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../tests/data/notary/crl")
                .join(name),
        )
        .unwrap()
    }

    fn chain() -> Vec<Cert> {
        read_certificates(&data("chain.pem"), 10).unwrap()
    }

    fn crls(names: &[&str]) -> Vec<Crl> {
        names
            .iter()
            .flat_map(|n| read_crls(&data(n), &CrlLimits::DEFAULT).unwrap())
            .collect()
    }

    fn check(names: &[&str], now: i64, signing_time: Option<i64>) -> (Vec<Status>, Verdict) {
        let chain = chain();
        let s = check_chain(&chain, &crls(names), now, signing_time);
        let v = verdict(&chain, &s);
        (s, v)
    }

    fn info() -> serde_json::Value {
        serde_json::from_slice(&data("info.json")).unwrap()
    }

    #[test]
    fn parses_der_and_pem_alike() {
        let der = read_crls(&data("int-revokes-leaf.crl"), &CrlLimits::DEFAULT).unwrap();
        let pem = read_crls(&data("int-revokes-leaf.pem"), &CrlLimits::DEFAULT).unwrap();
        assert_eq!(der, pem);
        let c = &der[0];
        assert!(c.issuer().contains("CN=vouch notary test intermediate"));
        assert_eq!(c.this_update(), AT - DAY);
        assert!(c.next_update().unwrap() > AT + 3000 * DAY);
        assert_eq!(c.entries().len(), 1);
        let e = &c.entries()[0];
        assert_eq!(
            hex::encode(&e.serial),
            info()["leafSerial"].as_str().unwrap()
        );
        assert_eq!(e.reason, Some(Reason::KeyCompromise));
        assert_eq!(e.revoked_at, AT - DAY);
        assert!(!c.is_delta());
        assert!(
            read_crls(&data("int-delta-remove.crl"), &CrlLimits::DEFAULT).unwrap()[0].is_delta()
        );
    }

    #[test]
    fn not_revoked_with_both_crls() {
        let (s, v) = check(&["int-empty.crl", "root-empty.crl"], AT, None);
        assert_eq!(s, vec![Status::Good, Status::Good, Status::NonRevokable]);
        assert_eq!(v, Verdict::Ok);
    }

    #[test]
    fn leaf_revoked() {
        let (s, v) = check(&["int-revokes-leaf.crl", "root-empty.crl"], AT, None);
        assert!(matches!(s[0], Status::Revoked { .. }), "{s:?}");
        match v {
            Verdict::Revoked {
                subject,
                serial,
                date,
                reason,
            } => {
                assert!(subject.contains("CN=vouch notary signer"), "{subject}");
                assert_eq!(serial, info()["leafSerial"].as_str().unwrap());
                assert_eq!(date, AT - DAY);
                assert_eq!(reason, Some(Reason::KeyCompromise));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn intermediate_revoked() {
        let (s, v) = check(&["int-empty.crl", "root-revokes-int.crl"], AT, None);
        assert_eq!(s[0], Status::Good);
        match v {
            Verdict::Revoked {
                subject, reason, ..
            } => {
                assert!(subject.contains("intermediate"), "{subject}");
                assert_eq!(reason, Some(Reason::CaCompromise));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn revoked_wins_over_unknown() {
        // The leaf's CRL expired (unknown), the intermediate revoked: revoked.
        let (_, v) = check(&["int-expired.crl", "root-revokes-int.crl"], AT, None);
        assert!(matches!(v, Verdict::Revoked { .. }), "{v:?}");
    }

    #[test]
    fn no_crl_for_an_issuer_is_unknown() {
        // The intermediate names a distribution point; no root CRL supplied.
        let (s, v) = check(&["int-empty.crl"], AT, None);
        assert_eq!(s[0], Status::Good);
        assert!(matches!(&s[1], Status::Unknown(w) if w.contains("no CRL was supplied")));
        assert!(matches!(v, Verdict::Unknown { subject, .. } if subject.contains("intermediate")));
    }

    #[test]
    fn expired_crl_is_unknown() {
        let (s, v) = check(&["int-expired.crl", "root-empty.crl"], AT, None);
        assert!(
            matches!(&s[0], Status::Unknown(w) if w.contains("expired CRL")),
            "{s:?}"
        );
        assert!(matches!(v, Verdict::Unknown { subject, .. } if subject.contains("signer")));
        // Before its nextUpdate it is good.
        let (s, _) = check(&["int-expired.crl"], AT - 4 * DAY, None);
        assert_eq!(s[0], Status::Good);
    }

    #[test]
    fn crl_from_the_future_is_unknown() {
        let (s, _) = check(&["int-empty.crl", "root-empty.crl"], AT - 2 * DAY, None);
        assert!(
            matches!(&s[0], Status::Unknown(w) if w.contains("thisUpdate")),
            "{s:?}"
        );
    }

    #[test]
    fn wrong_key_is_unknown() {
        let (s, _) = check(&["int-wrong-key.crl", "root-empty.crl"], AT, None);
        assert!(
            matches!(&s[0], Status::Unknown(w) if w.contains("is not signed by CA")),
            "{s:?}"
        );
    }

    #[test]
    fn unsupported_critical_extension_is_unknown() {
        let (s, _) = check(&["int-critical.crl", "root-empty.crl"], AT, None);
        assert!(
            matches!(&s[0], Status::Unknown(w) if w.contains("unsupported critical extension")),
            "{s:?}"
        );
    }

    #[test]
    fn another_issuers_crl_does_not_count() {
        let (s, _) = check(
            &[
                "other-revokes-serial.crl",
                "int-empty.crl",
                "root-empty.crl",
            ],
            AT,
            None,
        );
        assert_eq!(s[0], Status::Good);
    }

    #[test]
    fn certificate_hold_then_remove_from_crl() {
        // notation-core-go: "delta crl with certificate hold" → revoked; "certificate hold
        // and remove hold" → ok.
        let (_, v) = check(&["int-hold.crl", "root-empty.crl"], AT, None);
        assert!(
            matches!(
                v,
                Verdict::Revoked {
                    reason: Some(Reason::CertificateHold),
                    ..
                }
            ),
            "{v:?}"
        );
        let (s, v) = check(
            &["int-hold.crl", "int-delta-remove.crl", "root-empty.crl"],
            AT,
            None,
        );
        assert_eq!(v, Verdict::Ok, "{s:?}");
    }

    #[test]
    fn delta_without_its_base_is_unknown() {
        let (s, _) = check(&["int-delta-remove.crl", "root-empty.crl"], AT, None);
        assert!(
            matches!(&s[0], Status::Unknown(w) if w.contains("only delta")),
            "{s:?}"
        );
        // A base whose number is not the delta's indicator (the empty CRL is number 1).
        let (s, _) = check(
            &["int-empty.crl", "int-delta-remove.crl", "root-empty.crl"],
            AT,
            None,
        );
        assert!(
            matches!(&s[0], Status::Unknown(w) if w.contains("no base CRL")),
            "{s:?}"
        );
    }

    #[test]
    fn invalidity_date_against_the_authentic_signing_time() {
        // notation-core-go: "revoked but signing time is before invalidityDate" → ok;
        // "signing time is after invalidityDate" → revoked; "signing time is zero" → revoked.
        let crls = ["int-invalidity.crl", "root-empty.crl"];
        assert_eq!(check(&crls, AT, Some(AT)).1, Verdict::Ok);
        assert!(matches!(
            check(&crls, AT, Some(AT + 2 * 3600)).1,
            Verdict::Revoked { .. }
        ));
        assert!(matches!(check(&crls, AT, None).1, Verdict::Revoked { .. }));
    }

    #[test]
    fn cert_without_distribution_point_is_non_revokable() {
        // notation-go's test root/leaf: no CDP, no OCSP.
        let root = std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(
            "../tests/data/notary/truststore/x509/ca/valid-trust-store/NotationTestRoot.pem",
        ))
        .unwrap();
        let root = read_certificates(&root, 10).unwrap();
        let c = &root[0];
        assert_eq!(
            cert_status(c, c, &crls(&["int-empty.crl"]), AT, None),
            Status::NonRevokable
        );
    }

    #[test]
    fn limits() {
        let der = data("int-revokes-leaf.crl");
        let tight = CrlLimits {
            entries: 0,
            ..CrlLimits::DEFAULT
        };
        assert!(matches!(
            read_crls(&der, &tight),
            Err(CrlError::TooLarge { .. })
        ));
        let tight = CrlLimits {
            size: der.len() - 1,
            ..CrlLimits::DEFAULT
        };
        assert!(matches!(
            read_crls(&der, &tight),
            Err(CrlError::TooLarge { .. })
        ));
        let tight = CrlLimits {
            extensions: 0,
            ..CrlLimits::DEFAULT
        };
        assert!(matches!(
            read_crls(&der, &tight),
            Err(CrlError::TooLarge { .. })
        ));
        let pem = String::from_utf8(data("int-revokes-leaf.pem")).unwrap();
        let two = format!("{pem}{pem}");
        let tight = CrlLimits {
            per_file: 1,
            ..CrlLimits::DEFAULT
        };
        assert!(matches!(
            read_crls(two.as_bytes(), &tight),
            Err(CrlError::TooLarge { .. })
        ));
        assert_eq!(
            read_crls(two.as_bytes(), &CrlLimits::DEFAULT)
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        let der = data("int-revokes-leaf.crl");
        for cut in [0, 1, 2, 10, der.len() / 2, der.len() - 1] {
            assert!(
                read_crls(&der[..cut], &CrlLimits::DEFAULT).is_err(),
                "{cut}"
            );
        }
        let mut flipped = der.clone();
        let n = flipped.len();
        flipped[n / 3] ^= 0xff;
        let _ = read_crls(&flipped, &CrlLimits::DEFAULT);
        let cert_pem = data("root.pem");
        assert!(matches!(
            read_crls(&cert_pem, &CrlLimits::DEFAULT),
            Err(CrlError::Malformed(m)) if m.contains("not X509 CRL")
        ));
        assert!(read_crls(b"", &CrlLimits::DEFAULT).is_err());
    }
}
