//! Notary Project signature verification, as notation-go's `verifier` does it: the trust
//! policy statement for the image, then integrity, authenticity (trust store, trusted
//! identity), expiry and authentic timestamp, each enforced or only logged as the statement's
//! verification level says. Revocation is never checked offline: it is reported as such.
//!
//! A [`VerifiedNotarySignature`] is only built here, from the verified payload; the caller
//! compares nothing by hand: the expected descriptor is checked before it is returned.

use vouch_core::digest::Sha256Digest;
use vouch_core::notary::crl::{self, Crl, Reason, Verdict};
use vouch_core::notary::envelope::{
    ARTIFACT_TYPE, EnvelopeError, MEDIA_TYPE_COSE, MEDIA_TYPE_JWS, NotaryLimits,
    PAYLOAD_CONTENT_TYPE, SignerInfo, SigningScheme, TargetDescriptor, parse_envelope,
};
use vouch_core::notary::policy::{
    Action, Check, Statement, StoreType, TrustPolicyDocument, TrustedIdentity, VerifyTimestamp,
};
use vouch_core::notary::store::{StoreError, TrustStore};
use vouch_core::notary::timestamp::{CountersignatureError, verify_countersignature};
use vouch_core::notary::x509::{Cert, CertError, code_signing_chain};
use vouch_core::oci::layout::REF_NAME;
use vouch_core::oci::manifest::{Descriptor, Manifest};
use vouch_core::oci::registry::Access;
use vouch_core::oci::{ManifestRef, OciLimits, Target};
use vouch_core::{Classify, ErrorClass};

use crate::VerifyError;

/// Why one check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// The envelope cannot be read (integrity).
    #[error("unable to parse the digital signature: {0}")]
    Envelope(EnvelopeError),
    /// The chain or the signature is invalid (integrity).
    #[error("signature is invalid: {0}")]
    Certificate(CertError),
    /// The statement names no trust store of the type the signing scheme needs.
    #[error(
        "no trusted certificates are found to verify authenticity (no {0:?} trust store in the statement)"
    )]
    NoTrustStore(&'static str),
    /// A trust store of the statement cannot be read.
    #[error("error while loading the trust store: {0}")]
    TrustStore(StoreError),
    /// No certificate of the chain is in the trust stores.
    #[error("the signature's certificate chain does not contain any trusted certificate")]
    NoTrustedCertificate,
    /// The leaf's subject matches no trusted identity.
    #[error(
        "signing certificate with subject {subject:?} does not match the X.509 trusted identities defined in the trust policy {statement:?}"
    )]
    IdentityMismatch {
        /// The leaf's subject.
        subject: String,
        /// The statement.
        statement: String,
    },
    /// The statement has no `x509.subject:` identity (only other prefixes).
    #[error("no x509 trusted identities are configured in the trust policy {0:?}")]
    NoX509Identity(String),
    /// The signature's expiry has passed.
    #[error("digital signature has expired on {expiry} (Unix seconds)")]
    Expired {
        /// `io.cncf.notary.expiry`.
        expiry: i64,
    },
    /// A certificate is not valid at the time that matters.
    #[error(
        "certificate {subject:?} is not valid at {time} ({which}); it is valid from {not_before} to {not_after}"
    )]
    NotValidAt {
        /// The certificate.
        subject: String,
        /// The time checked (Unix seconds).
        time: i64,
        /// Which time: "verification time", "authentic signing time", "timestamp".
        which: &'static str,
        /// Start.
        not_before: i64,
        /// End.
        not_after: i64,
    },
    /// Timestamp verification is required and the envelope has no countersignature.
    #[error("no timestamp countersignature was found in the signature envelope")]
    TimestampMissing,
    /// The timestamp countersignature does not verify against the `tsa` trust store.
    #[error("failed to verify the timestamp countersignature: {0}")]
    Timestamp(CountersignatureError),
    /// Revocation is not checked offline.
    #[error("revocation (OCSP/CRL) was not checked: vouch verifies offline")]
    RevocationNotChecked,
    /// A certificate of the chain is revoked by a supplied CRL.
    #[error(
        "{} certificate with subject {subject:?} is revoked (serial {serial}, revoked at {date} Unix seconds{})",
        chain.name(),
        reason.map(|r| format!(", reason {}", r.name())).unwrap_or_default()
    )]
    Revoked {
        /// The signing or the timestamping chain.
        chain: RevocationChain,
        /// The revoked certificate.
        subject: String,
        /// Its serial number, hex.
        serial: Box<str>,
        /// `revocationDate`, Unix seconds.
        date: i64,
        /// The CRL entry's reason code, if any.
        reason: Option<Reason>,
    },
    /// The revocation status of a certificate of the chain cannot be told from the supplied
    /// CRLs (none for its issuer, expired, badly signed, unsupported).
    #[error(
        "{} certificate with subject {subject:?} revocation status is unknown: {why}",
        chain.name()
    )]
    RevocationUnknown {
        /// The signing or the timestamping chain.
        chain: RevocationChain,
        /// The certificate.
        subject: String,
        /// Why.
        why: String,
    },
}

/// Which chain a revocation error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevocationChain {
    /// The signature's `x5c` chain.
    Signing,
    /// The timestamp countersignature's TSA chain.
    Timestamping,
}

impl RevocationChain {
    /// `signing` / `timestamping`, as notation's messages say.
    pub fn name(self) -> &'static str {
        match self {
            Self::Signing => "signing",
            Self::Timestamping => "timestamping",
        }
    }
}

/// The supplied CRLs' verdict on `chain` as a check error (`None`: not revoked).
fn revocation(
    chain: &[Cert],
    crls: &[Crl],
    now: i64,
    signing_time: Option<i64>,
    which: RevocationChain,
) -> Option<CheckError> {
    let statuses = crl::check_chain(chain, crls, now, signing_time);
    match crl::verdict(chain, &statuses) {
        Verdict::Revoked {
            subject,
            serial,
            date,
            reason,
        } => Some(CheckError::Revoked {
            chain: which,
            subject,
            serial: serial.into(),
            date,
            reason,
        }),
        Verdict::Unknown { subject, why } => Some(CheckError::RevocationUnknown {
            chain: which,
            subject,
            why,
        }),
        _ => None,
    }
}

// Not `#[from]`: each message prints its cause, so it is no `source` (printed once in a chain).
impl CheckError {
    /// A JSON description of a revocation failure (`None` for other errors): `status`
    /// (`revoked` / `unknown`), the chain, the certificate's subject and, when revoked, its
    /// serial, revocation date and reason code.
    pub fn revocation_json(&self) -> Option<serde_json::Value> {
        match self {
            Self::Revoked {
                chain,
                subject,
                serial,
                date,
                reason,
            } => Some(serde_json::json!({
                "status": "revoked", "chain": chain.name(), "subject": subject, "serial": serial,
                "revocationDate": date, "reasonCode": reason.map(Reason::name),
            })),
            Self::RevocationUnknown {
                chain,
                subject,
                why,
            } => Some(serde_json::json!({
                "status": "unknown", "chain": chain.name(), "subject": subject, "why": why,
            })),
            Self::RevocationNotChecked => Some(serde_json::json!({"status": "not checked"})),
            _ => None,
        }
    }
}

impl From<EnvelopeError> for CheckError {
    fn from(e: EnvelopeError) -> Self {
        Self::Envelope(e)
    }
}

impl From<CertError> for CheckError {
    fn from(e: CertError) -> Self {
        Self::Certificate(e)
    }
}

impl From<StoreError> for CheckError {
    fn from(e: StoreError) -> Self {
        Self::TrustStore(e)
    }
}

impl From<CountersignatureError> for CheckError {
    fn from(e: CountersignatureError) -> Self {
        Self::Timestamp(e)
    }
}

/// A check that failed (or was not run), and what the level does about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckFailure {
    /// The check.
    pub check: Check,
    /// Enforce: the signature fails. Log: reported only.
    pub action: Action,
    /// Why.
    pub error: CheckError,
}

/// Why a signature is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NotaryError {
    /// No statement's registry scopes cover the image.
    #[error("artifact {0:?} has no applicable trust policy statement")]
    NoApplicablePolicy(String),
    /// The image name is not `registry/repository[:tag|@digest]`.
    #[error("{0:?} is not an image reference with a registry and a repository")]
    BadImageName(String),
    /// The statement's level is `skip`: nothing was verified, the signature proves nothing.
    #[error("trust policy statement {0:?} skips signature verification")]
    Skipped(String),
    /// An enforced check failed.
    #[error("{} verification failed: {}", failure.check.name(), failure.error)]
    Failed {
        /// The statement applied.
        statement: String,
        /// The enforced failure.
        failure: CheckFailure,
        /// Logged failures before it.
        logged: Vec<CheckFailure>,
    },
    /// The signature is valid for another artifact.
    #[error("the signature is for {found:?}, not for {expected:?}")]
    TargetMismatch {
        /// The image.
        expected: Box<TargetDescriptor>,
        /// The payload.
        found: Box<TargetDescriptor>,
    },
    /// The verified payload is not a Notary payload.
    #[error("the signed payload: {0}")]
    Payload(EnvelopeError),
}

/// A Notary Project signature that passed every enforced check of its trust policy statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedNotarySignature {
    statement: String,
    target: TargetDescriptor,
    signer: String,
    scheme: SigningScheme,
    signing_time: i64,
    logged: Vec<CheckFailure>,
    revocation_checked: bool,
}

impl VerifiedNotarySignature {
    /// The trust policy statement applied.
    pub fn statement(&self) -> &str {
        &self.statement
    }
    /// The signed target descriptor (equal to the expected one).
    pub fn target(&self) -> &TargetDescriptor {
        &self.target
    }
    /// The leaf certificate's subject.
    pub fn signer(&self) -> &str {
        &self.signer
    }
    /// The signing scheme.
    pub fn scheme(&self) -> SigningScheme {
        self.scheme
    }
    /// The signing time the envelope claims (authentic under `notary.x509.signingAuthority`).
    pub fn signing_time(&self) -> i64 {
        self.signing_time
    }
    /// Failures the level only logs, and checks not run (revocation without CRLs).
    pub fn logged(&self) -> &[CheckFailure] {
        &self.logged
    }
    /// Whether revocation was checked against supplied CRLs (and passed or was only logged).
    pub fn revocation_checked(&self) -> bool {
        self.revocation_checked
    }
}

/// `registry/repository` of `registry/repository[:tag][@digest]`.
pub fn repository_of(image: &str) -> Option<&str> {
    let no_digest = image.split_once('@').map_or(image, |(r, _)| r);
    let slash = no_digest.find('/')?;
    let repo = match no_digest.rfind(':') {
        Some(colon) if colon > no_digest.rfind('/').unwrap_or(0) => &no_digest[..colon],
        _ => no_digest,
    };
    (slash + 1 < repo.len()).then_some(repo)
}

struct Run<'a> {
    statement: &'a Statement,
    logged: Vec<CheckFailure>,
}

impl Run<'_> {
    /// Records a failure; `Err` when the level enforces it.
    fn fail(&mut self, check: Check, error: CheckError) -> Result<(), NotaryError> {
        let action = self.statement.level.action(check);
        let failure = CheckFailure {
            check,
            action,
            error,
        };
        match action {
            Action::Enforce => Err(NotaryError::Failed {
                statement: self.statement.name.clone(),
                failure,
                logged: std::mem::take(&mut self.logged),
            }),
            Action::Log => {
                self.logged.push(failure);
                Ok(())
            }
            Action::Skip => Ok(()),
        }
    }

    fn runs(&self, check: Check) -> bool {
        self.statement.level.action(check) != Action::Skip
    }
}

/// Verifies one envelope for `image_name` (the reference it was found for) against the trust
/// policy and trust store, at `now` (Unix seconds); the signed target must equal `expected`.
/// Revocation is reported as not checked: see [`verify_envelope_with_crls`].
#[allow(clippy::too_many_arguments)]
pub fn verify_envelope(
    bytes: &[u8],
    media_type: &str,
    policy: &TrustPolicyDocument,
    store: &TrustStore,
    image_name: &str,
    expected: &TargetDescriptor,
    now: i64,
    limits: &NotaryLimits,
) -> Result<VerifiedNotarySignature, NotaryError> {
    verify_envelope_with_crls(
        bytes,
        media_type,
        policy,
        store,
        image_name,
        expected,
        now,
        limits,
        &[],
    )
}

/// As [`verify_envelope`], with revocation checked against `crls` (when there are any) for
/// the signing chain and, when a timestamp is verified, the TSA chain. As notation-go does,
/// the authentic signing time is compared with a CRL entry's invalidity date only under the
/// `notary.x509.signingAuthority` scheme; under `notary.x509` a revoked certificate is revoked
/// whatever a timestamp says.
#[allow(clippy::too_many_arguments)]
pub fn verify_envelope_with_crls(
    bytes: &[u8],
    media_type: &str,
    policy: &TrustPolicyDocument,
    store: &TrustStore,
    image_name: &str,
    expected: &TargetDescriptor,
    now: i64,
    limits: &NotaryLimits,
    crls: &[Crl],
) -> Result<VerifiedNotarySignature, NotaryError> {
    let repository =
        repository_of(image_name).ok_or_else(|| NotaryError::BadImageName(image_name.into()))?;
    let statement = policy
        .statement_for(repository)
        .ok_or_else(|| NotaryError::NoApplicablePolicy(image_name.into()))?;
    if statement.level.is_skip() {
        return Err(NotaryError::Skipped(statement.name.clone()));
    }
    let mut run = Run {
        statement,
        logged: Vec::new(),
    };
    // Integrity: always enforced (no override can change it).
    let (info, chain) =
        integrity(bytes, media_type, limits).map_err(|error| NotaryError::Failed {
            statement: statement.name.clone(),
            failure: CheckFailure {
                check: Check::Integrity,
                action: Action::Enforce,
                error,
            },
            logged: Vec::new(),
        })?;
    if run.runs(Check::Authenticity)
        && let Err(e) = authenticity(&info, &chain, statement, store)
    {
        run.fail(Check::Authenticity, e)?;
    }
    if run.runs(Check::Expiry)
        && let Some(expiry) = info.expiry()
        && now >= expiry
    {
        run.fail(Check::Expiry, CheckError::Expired { expiry })?;
    }
    if run.runs(Check::AuthenticTimestamp)
        && let Err(e) = authentic_timestamp(&info, &chain, statement, store, now, crls)
    {
        run.fail(Check::AuthenticTimestamp, e)?;
    }
    let revocation_checked = run.runs(Check::Revocation) && !crls.is_empty();
    if run.runs(Check::Revocation) {
        if crls.is_empty() {
            run.logged.push(CheckFailure {
                check: Check::Revocation,
                action: Action::Log,
                error: CheckError::RevocationNotChecked,
            });
        } else {
            let signing_time =
                (info.scheme() == SigningScheme::X509SigningAuthority).then(|| info.signing_time());
            if let Some(e) = revocation(&chain, crls, now, signing_time, RevocationChain::Signing) {
                run.fail(Check::Revocation, e)?;
            }
        }
    }
    // The payload, from the verified bytes.
    let target =
        TargetDescriptor::from_payload(info.payload(), limits).map_err(NotaryError::Payload)?;
    if target.media_type != expected.media_type
        || target.digest != expected.digest
        || target.size != expected.size
    {
        return Err(NotaryError::TargetMismatch {
            expected: Box::new(expected.clone()),
            found: Box::new(target),
        });
    }
    let signer = chain
        .first()
        .map(|c| c.subject().to_owned())
        .unwrap_or_default();
    Ok(VerifiedNotarySignature {
        statement: statement.name.clone(),
        target,
        signer,
        scheme: info.scheme(),
        signing_time: info.signing_time(),
        logged: run.logged,
        revocation_checked,
    })
}

/// Each of `envelopes` (bytes, media type) verified for the image: one verdict per signature.
pub fn verify_all(
    envelopes: &[(&[u8], &str)],
    policy: &TrustPolicyDocument,
    store: &TrustStore,
    image_name: &str,
    expected: &TargetDescriptor,
    now: i64,
    limits: &NotaryLimits,
) -> Vec<Result<VerifiedNotarySignature, NotaryError>> {
    envelopes
        .iter()
        .map(|(b, m)| verify_envelope(b, m, policy, store, image_name, expected, now, limits))
        .collect()
}

fn integrity(
    bytes: &[u8],
    media_type: &str,
    limits: &NotaryLimits,
) -> Result<(SignerInfo, Vec<Cert>), CheckError> {
    let info = parse_envelope(bytes, media_type, limits)?;
    let chain = code_signing_chain(info.chain())?;
    let leaf = chain.first().ok_or(CertError::EmptyChain)?;
    leaf.verify_signature(info.algorithm(), info.signed_bytes(), info.signature())?;
    // `cty` was checked while parsing; the constant is the only one accepted.
    debug_assert!(!PAYLOAD_CONTENT_TYPE.is_empty());
    Ok((info, chain))
}

fn authenticity(
    info: &SignerInfo,
    chain: &[Cert],
    statement: &Statement,
    store: &TrustStore,
) -> Result<(), CheckError> {
    let kind = match info.scheme() {
        SigningScheme::X509 => StoreType::Ca,
        SigningScheme::X509SigningAuthority => StoreType::SigningAuthority,
    };
    let mut trusted = Vec::new();
    for r in statement.trust_stores.iter().filter(|r| r.kind == kind) {
        trusted.extend(store.certificates(r)?);
    }
    if trusted.is_empty() {
        return Err(CheckError::NoTrustStore(kind.dir_name()));
    }
    if !chain
        .iter()
        .any(|c| trusted.iter().any(|t| t.der() == c.der()))
    {
        return Err(CheckError::NoTrustedCertificate);
    }
    trusted_identity(&chain[0], statement)
}

fn trusted_identity(leaf: &Cert, statement: &Statement) -> Result<(), CheckError> {
    if statement
        .trusted_identities
        .iter()
        .any(|t| matches!(t, TrustedIdentity::Any))
    {
        return Ok(());
    }
    let subject = leaf.subject_attributes();
    let mut any_x509 = false;
    for t in &statement.trusted_identities {
        if let TrustedIdentity::X509Subject { attributes, .. } = t {
            any_x509 = true;
            if attributes
                .iter()
                .all(|(k, v)| subject.iter().any(|(sk, sv)| sk == k && sv == v))
            {
                return Ok(());
            }
        }
    }
    if !any_x509 {
        return Err(CheckError::NoX509Identity(statement.name.clone()));
    }
    Err(CheckError::IdentityMismatch {
        subject: leaf.subject().to_owned(),
        statement: statement.name.clone(),
    })
}

fn valid_at(chain: &[Cert], time: i64, which: &'static str) -> Result<(), CheckError> {
    match chain.iter().find(|c| !c.valid_at(time)) {
        None => Ok(()),
        Some(c) => Err(CheckError::NotValidAt {
            subject: c.subject().to_owned(),
            time,
            which,
            not_before: c.not_before(),
            not_after: c.not_after(),
        }),
    }
}

fn authentic_timestamp(
    info: &SignerInfo,
    chain: &[Cert],
    statement: &Statement,
    store: &TrustStore,
    now: i64,
    crls: &[Crl],
) -> Result<(), CheckError> {
    if info.scheme() == SigningScheme::X509SigningAuthority {
        return valid_at(chain, info.signing_time(), "authentic signing time");
    }
    let tsa = statement
        .trust_stores
        .iter()
        .any(|r| r.kind == StoreType::Tsa);
    let expired = chain.iter().any(|c| now > c.not_after());
    let timestamp = tsa && (statement.verify_timestamp == VerifyTimestamp::Always || expired);
    if !timestamp {
        return valid_at(chain, now, "verification time");
    }
    let token = info
        .timestamp_signature()
        .ok_or(CheckError::TimestampMissing)?;
    let mut trusted = Vec::new();
    for r in statement
        .trust_stores
        .iter()
        .filter(|r| r.kind == StoreType::Tsa)
    {
        trusted.extend(store.certificates(r)?);
    }
    // The imprint is over the signature bytes (Notary Project signature specification).
    let ts = verify_countersignature(token, info.signature(), &trusted)?;
    // The signing chain valid over the whole interval the TSA vouches for.
    for c in chain {
        if !(c.valid_at(ts.earliest) && c.valid_at(ts.latest)) {
            return Err(CheckError::NotValidAt {
                subject: c.subject().to_owned(),
                time: ts.gen_time,
                which: "timestamp",
                not_before: c.not_before(),
                not_after: c.not_after(),
            });
        }
    }
    // notation-go checks the TSA chain's revocation too (at the time of verification).
    if !crls.is_empty()
        && let Some(e) = revocation(
            &ts.tsa_chain,
            crls,
            now,
            None,
            RevocationChain::Timestamping,
        )
    {
        return Err(e);
    }
    Ok(())
}

/// A Notary Project signature referrer of an image as read from the registry or layout:
/// its listing entry and, unless it failed a structural check, its envelope and the
/// envelope's media type (the layer's). Untrusted until verified.
#[derive(Debug, Clone)]
pub struct NotaryReferrer {
    /// The referrer manifest's descriptor.
    pub manifest: Descriptor,
    /// (envelope bytes, `application/jose+json` or `application/cose`), or why not read.
    pub envelope: Result<(Vec<u8>, String), String>,
}

/// Whether a listing entry may be a Notary signature: `artifactType` says so, or is absent
/// (listings of older registries; the manifest's config media type then decides).
fn maybe_notary(d: &Descriptor) -> bool {
    d.artifact_type
        .as_deref()
        .is_none_or(|t| t == ARTIFACT_TYPE)
}

/// The Notary Project signature referrers of `image` in `target`: through the referrers API,
/// else the fallback tag index (and so in OCI layouts). A referrer is one whose manifest has
/// artifact type `application/vnd.cncf.notary.signature` (OCI 1.1) or, the older form, that
/// config media type; its one layer is the envelope. Registry errors abort; a referrer that is
/// unreadable or malformed is returned with the reason.
pub async fn notary_referrers(
    target: &Target,
    image: &Sha256Digest,
    oci: &OciLimits,
    limits: &NotaryLimits,
) -> Result<Vec<NotaryReferrer>, VerifyError> {
    let listed = target
        .referrers(image, None, Access::Pull, oci.manifest)
        .await?;
    notary_referrers_listed(target, image, listed, oci, limits).await
}

/// [`notary_referrers`] of a listing read already (`listed`: every referrer of `image`, of any
/// artifact type), so that one listing serves bundles and Notary signatures.
pub(crate) async fn notary_referrers_listed(
    target: &Target,
    image: &Sha256Digest,
    listed: Vec<Descriptor>,
    oci: &OciLimits,
    limits: &NotaryLimits,
) -> Result<Vec<NotaryReferrer>, VerifyError> {
    // (entry, whether it was found in a layout's index.json rather than listed for the image)
    let mut listed: Vec<(Descriptor, bool)> = listed
        .into_iter()
        .filter(maybe_notary)
        .map(|d| (d, false))
        .collect();
    // `notation sign --oci-layout` (oras-go's OCI store) keeps a signature as an untagged
    // entry of index.json, no fallback tag: those entries are candidates too.
    if let Target::Layout(layout) = target {
        for d in layout.index()?.manifests {
            let untagged = !d.annotations.contains_key(REF_NAME);
            if untagged
                && d.digest != *image
                && maybe_notary(&d)
                && !listed.iter().any(|(l, _)| l.digest == d.digest)
            {
                listed.push((d, true));
            }
        }
    }
    if listed.len() > oci.layers {
        return Err(VerifyError::Malformed {
            what: "Notary Project signatures",
            reason: format!(
                "{} candidate referrers listed, more than the limit of {}",
                listed.len(),
                oci.layers
            ),
        });
    }
    let mut out = Vec::new();
    for (d, from_index) in listed {
        let declared = d.artifact_type.is_some() && !from_index;
        match notary_envelope(target, image, &d, !from_index, oci, limits).await? {
            // An un-typed entry that turns out not to be a Notary signature is not one, nor is
            // an index.json entry that is not about this image.
            Err(NotNotary) if !declared => {}
            Err(NotNotary) => out.push(NotaryReferrer {
                manifest: d,
                envelope: Err("the manifest is not a Notary Project signature".into()),
            }),
            Ok(envelope) => out.push(NotaryReferrer {
                manifest: d,
                envelope,
            }),
        }
    }
    Ok(out)
}

struct NotNotary;

async fn notary_envelope(
    target: &Target,
    image: &Sha256Digest,
    desc: &Descriptor,
    listed_for_image: bool,
    oci: &OciLimits,
    limits: &NotaryLimits,
) -> Result<Result<Result<(Vec<u8>, String), String>, NotNotary>, VerifyError> {
    let fetched = match target
        .manifest(
            ManifestRef::Digest(&desc.digest),
            Access::Pull,
            oci.manifest,
        )
        .await
    {
        Ok(Some(m)) => m,
        Ok(None) => return Ok(Ok(Err("listed but not found".into()))),
        Err(e) if e.class() == ErrorClass::Registry => return Err(e.into()),
        Err(e) => return Ok(Ok(Err(e.to_string()))),
    };
    let manifest = match Manifest::parse(&fetched.bytes, Some(&fetched.media_type)) {
        Ok(Manifest::Image(m)) => m,
        Ok(Manifest::Index(_)) => return Ok(Err(NotNotary)),
        Err(e) => return Ok(Ok(Err(e.to_string()))),
    };
    let is_notary = match manifest.artifact_type.as_deref() {
        Some(t) => t == ARTIFACT_TYPE,
        None => manifest.config.media_type == ARTIFACT_TYPE,
    };
    if !is_notary {
        return Ok(Err(NotNotary));
    }
    if manifest.subject.as_ref().map(|s| s.digest) != Some(*image) {
        if !listed_for_image {
            return Ok(Err(NotNotary));
        }
        return Ok(Ok(Err("its subject is not this image".into())));
    }
    let [layer] = manifest.layers.as_slice() else {
        return Ok(Ok(
            Err("expected one layer (the signature envelope)".into()),
        ));
    };
    if layer.media_type != MEDIA_TYPE_JWS && layer.media_type != MEDIA_TYPE_COSE {
        return Ok(Ok(Err(format!(
            "layer media type `{}` is not a Notary Project envelope",
            layer.media_type
        ))));
    }
    let cap = u64::try_from(limits.envelope).unwrap_or(u64::MAX);
    match target.blob(layer, Access::Pull, cap).await {
        Ok(b) => Ok(Ok(Ok((b, layer.media_type.clone())))),
        Err(e) if e.class() == ErrorClass::Registry => Err(e.into()),
        Err(e) => Ok(Ok(Err(e.to_string()))),
    }
}

/// One image's Notary Project signatures, each verified.
#[derive(Debug, Clone, Default)]
pub struct ImageNotarySignatures {
    /// Referrers read (Notary signatures found).
    pub found: usize,
    /// Those that verified, by referrer manifest digest.
    pub verified: Vec<(Sha256Digest, VerifiedNotarySignature)>,
    /// Those that did not, by referrer manifest digest, with why.
    pub failures: Vec<(Sha256Digest, String)>,
    /// Of those, the ones that failed an enforced check: which, and the error (a revoked
    /// certificate is [`CheckError::Revoked`]).
    pub failed_checks: Vec<(Sha256Digest, CheckFailure)>,
}

impl ImageNotarySignatures {
    /// notation's verdict: the image verifies when one of its signatures does.
    pub fn ok(&self) -> bool {
        !self.verified.is_empty()
    }
}

/// Reads the Notary Project signatures of the image `manifest` (its descriptor: media type,
/// digest, size — the target every signature must name) from `target` and verifies each for
/// `image_name` (`registry/repository@digest`, what trust policy scopes match) at `now`,
/// revocation against `crls` (none: not checked).
#[allow(clippy::too_many_arguments)]
pub async fn verify_image(
    target: &Target,
    image_name: &str,
    manifest: &Descriptor,
    policy: &TrustPolicyDocument,
    store: &TrustStore,
    crls: &[Crl],
    now: i64,
    oci: &OciLimits,
    limits: &NotaryLimits,
) -> Result<ImageNotarySignatures, VerifyError> {
    let expected = TargetDescriptor {
        media_type: manifest.media_type.clone(),
        digest: manifest.digest.to_string(),
        size: manifest.size,
        annotations: Default::default(),
    };
    let referrers = notary_referrers(target, &manifest.digest, oci, limits).await?;
    let mut out = ImageNotarySignatures {
        found: referrers.len(),
        ..Default::default()
    };
    for r in referrers {
        let digest = r.manifest.digest;
        match r.envelope {
            Err(reason) => out.failures.push((digest, reason)),
            Ok((bytes, media_type)) => match verify_envelope_with_crls(
                &bytes,
                &media_type,
                policy,
                store,
                image_name,
                &expected,
                now,
                limits,
                crls,
            ) {
                Ok(v) => out.verified.push((digest, v)),
                Err(e) => {
                    if let NotaryError::Failed { failure, .. } = &e {
                        out.failed_checks.push((digest, failure.clone()));
                    }
                    out.failures.push((digest, e.to_string()));
                }
            },
        }
    }
    Ok(out)
}
