//! PKCS#11 tokens through the `cryptoki` crate (its FFI stays inside it): RFC 7512 URIs,
//! `CKM_ECDSA` over the digest vouch computes (every token has it), the raw `r‖s` converted to
//! DER.

use std::fmt;
use std::sync::Mutex;

use cryptoki::context::{CInitializeArgs, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use zeroize::Zeroizing;

use super::{KmsError, env, p256_spki};
use crate::digest::Sha256Digest;
use crate::keys::PublicKey;

pub(super) const SERVICE: &str = "PKCS#11";

/// The DER OID of P-256 (`CKA_EC_PARAMS` of a P-256 key).
const P256_PARAMS: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// An RFC 7512 `pkcs11:` URI naming a token and a key (its PIN is never displayed).
#[derive(Clone, PartialEq, Eq)]
pub struct Pkcs11Uri {
    token: Option<String>,
    slot_id: Option<u64>,
    object: Option<String>,
    id: Option<Vec<u8>>,
    module_path: Option<String>,
    pin: Option<Zeroizing<String>>,
}

impl fmt::Debug for Pkcs11Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pkcs11Uri({self})")
    }
}

impl fmt::Display for Pkcs11Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut path = Vec::new();
        if let Some(t) = &self.token {
            path.push(format!("token={}", pct_encode(t.as_bytes())));
        }
        if let Some(s) = self.slot_id {
            path.push(format!("slot-id={s}"));
        }
        if let Some(o) = &self.object {
            path.push(format!("object={}", pct_encode(o.as_bytes())));
        }
        if let Some(i) = &self.id {
            path.push(format!("id={}", pct_encode_all(i)));
        }
        write!(f, "pkcs11:{}", path.join(";"))?;
        if let Some(m) = &self.module_path {
            write!(f, "?module-path={m}")?;
        }
        Ok(())
    }
}

fn pct_encode(b: &[u8]) -> String {
    b.iter()
        .map(|&c| {
            if c.is_ascii_alphanumeric() || b"-._~ ".contains(&c) {
                (c as char).to_string()
            } else {
                format!("%{c:02X}")
            }
        })
        .collect()
}

fn pct_encode_all(b: &[u8]) -> String {
    b.iter().map(|c| format!("%{c:02X}")).collect()
}

fn pct_decode(s: &str, what: &str) -> Result<Vec<u8>, KmsError> {
    let bad = || KmsError::BadReference {
        reference: "pkcs11:…".into(),
        reason: format!("{what}: a bad %-escape (expected %XX with two hex digits)"),
    };
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3).ok_or_else(bad)?;
            let hex = std::str::from_utf8(hex).map_err(|_| bad())?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(out)
}

fn pct_decode_str(s: &str, what: &str) -> Result<String, KmsError> {
    String::from_utf8(pct_decode(s, what)?).map_err(|_| KmsError::BadReference {
        reference: "pkcs11:…".into(),
        reason: format!("{what} is not UTF-8"),
    })
}

impl Pkcs11Uri {
    /// The user PIN given without asking: `pin-value=` in the URI, else `VOUCH_PKCS11_PIN`, else
    /// `COSIGN_PKCS11_PIN` (as cosign reads it).
    pub fn pin_given(&self) -> Option<Zeroizing<String>> {
        self.pin
            .clone()
            .or_else(|| env("VOUCH_PKCS11_PIN").map(Zeroizing::new))
            .or_else(|| env("COSIGN_PKCS11_PIN").map(Zeroizing::new))
    }

    /// Sets the user PIN (one asked for at a terminal); it is never displayed.
    pub fn set_pin(&mut self, pin: Zeroizing<String>) {
        self.pin = Some(pin);
    }

    /// Parses what follows `pkcs11:`: path attributes separated by `;`, then `?` and query
    /// attributes separated by `&` (`module-path`, `pin-value`). Unknown attributes are
    /// ignored, as RFC 7512 allows.
    pub fn parse(rest: &str) -> Result<Self, KmsError> {
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut uri = Self {
            token: None,
            slot_id: None,
            object: None,
            id: None,
            module_path: None,
            pin: None,
        };
        for attr in path.split(';').filter(|a| !a.is_empty()) {
            let (k, v) = attr.split_once('=').ok_or_else(|| KmsError::BadReference {
                reference: format!("pkcs11:{path}"),
                reason: format!("attribute {attr:?} has no '='"),
            })?;
            match k {
                "token" => uri.token = Some(pct_decode_str(v, "token")?),
                "object" => uri.object = Some(pct_decode_str(v, "object")?),
                "id" => uri.id = Some(pct_decode(v, "id")?),
                "slot-id" => {
                    uri.slot_id = Some(v.parse().map_err(|_| KmsError::BadReference {
                        reference: format!("pkcs11:{path}"),
                        reason: format!("slot-id {v:?} is not a number"),
                    })?)
                }
                _ => {}
            }
        }
        for attr in query.split('&').filter(|a| !a.is_empty()) {
            let Some((k, v)) = attr.split_once('=') else {
                continue;
            };
            match k {
                "module-path" => uri.module_path = Some(pct_decode_str(v, "module-path")?),
                "pin-value" => uri.pin = Some(Zeroizing::new(pct_decode_str(v, "pin-value")?)),
                _ => {}
            }
        }
        if uri.token.is_none() && uri.slot_id.is_none() {
            return Err(KmsError::BadReference {
                reference: uri.to_string(),
                reason: "name the token: token=LABEL (or slot-id=N)".into(),
            });
        }
        if uri.object.is_none() && uri.id.is_none() {
            return Err(KmsError::BadReference {
                reference: uri.to_string(),
                reason: "name the key: object=LABEL or id=%XX…".into(),
            });
        }
        Ok(uri)
    }

    fn key_name(&self) -> String {
        match (&self.object, &self.id) {
            (Some(o), _) => format!("object={o}"),
            (None, Some(i)) => format!("id={}", pct_encode_all(i)),
            (None, None) => String::new(),
        }
    }

    fn token_name(&self) -> String {
        match (&self.token, self.slot_id) {
            (Some(t), _) => t.clone(),
            (None, Some(s)) => format!("slot {s}"),
            (None, None) => String::new(),
        }
    }
}

/// An open session on the token, logged in, with the key found.
pub(super) struct Pkcs11Key {
    // Dropped before the context (field order).
    session: Mutex<Session>,
    _ctx: Pkcs11,
    private: ObjectHandle,
    public: Vec<u8>,
}

fn ck(op: &str, e: CkError) -> KmsError {
    KmsError::Service {
        service: SERVICE,
        detail: format!("{op}: {e}"),
    }
}

impl Pkcs11Key {
    pub(super) fn open(uri: &Pkcs11Uri) -> Result<Self, KmsError> {
        let module = uri
            .module_path
            .clone()
            .or_else(|| env("VOUCH_PKCS11_MODULE"))
            .or_else(|| env("COSIGN_PKCS11_MODULE_PATH"))
            .ok_or_else(|| {
                KmsError::MissingSetting(
                    "no PKCS#11 module: add ?module-path=/path/to/module.so to the pkcs11: URI or set VOUCH_PKCS11_MODULE".into(),
                )
            })?;
        let ctx = Pkcs11::new(&module).map_err(|e| {
            KmsError::MissingSetting(format!(
                "cannot load the PKCS#11 module {module}: {e}; check module-path="
            ))
        })?;
        match ctx.initialize(CInitializeArgs::OsThreads) {
            Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(e) => return Err(ck("initializing the module", e)),
        }
        let slots = ctx
            .get_slots_with_token()
            .map_err(|e| ck("listing slots", e))?;
        let mut labels = Vec::new();
        let mut found = None;
        for slot in slots {
            let label = ctx
                .get_token_info(slot)
                .map(|i| i.label().trim_end().to_owned())
                .unwrap_or_default();
            let matches = uri.token.as_deref().is_none_or(|t| t == label)
                && uri.slot_id.is_none_or(|s| s == slot.id());
            if matches && found.is_none() {
                found = Some(slot);
            }
            labels.push(format!("{label:?}"));
        }
        let Some(slot) = found else {
            return Err(KmsError::TokenNotFound {
                token: uri.token_name(),
                module,
                present: if labels.is_empty() {
                    "none".into()
                } else {
                    labels.join(", ")
                },
            });
        };
        let session = ctx
            .open_ro_session(slot)
            .map_err(|e| ck("opening a session", e))?;
        let Some(pin) = uri.pin_given() else {
            return Err(KmsError::MissingSetting(format!(
                "the PKCS#11 token {:?} needs its user PIN: set VOUCH_PKCS11_PIN (or pin-value= in the URI, or run at a terminal to be asked)",
                uri.token_name()
            )));
        };
        match session.login(UserType::User, Some(&AuthPin::new(pin.as_str().into()))) {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
            Err(CkError::Pkcs11(
                RvError::PinIncorrect | RvError::PinLenRange | RvError::PinInvalid,
                _,
            )) => {
                return Err(KmsError::WrongPin {
                    token: uri.token_name(),
                });
            }
            Err(CkError::Pkcs11(RvError::PinLocked, _)) => {
                return Err(KmsError::Denied {
                    service: SERVICE,
                    operation: "the login",
                    detail: format!("the user PIN of token {:?} is locked", uri.token_name()),
                    hint: "unlock it with the security officer PIN",
                });
            }
            Err(e) => return Err(ck("logging in", e)),
        }
        let template = |class| {
            let mut t = vec![Attribute::Class(class)];
            if let Some(o) = &uri.object {
                t.push(Attribute::Label(o.as_bytes().to_vec()));
            }
            if let Some(i) = &uri.id {
                t.push(Attribute::Id(i.clone()));
            }
            t
        };
        let not_found = |half: &str| KmsError::KeyNotFound {
            service: SERVICE,
            key: format!("{} in token {:?}", uri.key_name(), uri.token_name()),
            hint: format!(
                "no {half} key with that label/id (list them with `pkcs11-tool --list-objects`)"
            ),
        };
        let private = session
            .find_objects(&template(ObjectClass::PRIVATE_KEY))
            .map_err(|e| ck("finding the key", e))?
            .into_iter()
            .next()
            .ok_or_else(|| not_found("private"))?;
        let attrs = session
            .get_attributes(private, &[AttributeType::KeyType])
            .map_err(|e| ck("reading the key type", e))?;
        let key_type = attrs.iter().find_map(|a| match a {
            Attribute::KeyType(t) => Some(*t),
            _ => None,
        });
        if key_type != Some(KeyType::EC) {
            return Err(KmsError::WrongKeyType {
                service: SERVICE,
                key: uri.key_name(),
                found: key_type.map_or_else(|| "of an unknown type".into(), |t| format!("{t}")),
            });
        }
        let public_handle = session
            .find_objects(&template(ObjectClass::PUBLIC_KEY))
            .map_err(|e| ck("finding the public key", e))?
            .into_iter()
            .next()
            .ok_or_else(|| not_found("public"))?;
        let attrs = session
            .get_attributes(
                public_handle,
                &[AttributeType::EcParams, AttributeType::EcPoint],
            )
            .map_err(|e| ck("reading the public key", e))?;
        let mut params = None;
        let mut point = None;
        for a in attrs {
            match a {
                Attribute::EcParams(p) => params = Some(p),
                Attribute::EcPoint(p) => point = Some(p),
                _ => {}
            }
        }
        if params.as_deref() != Some(&P256_PARAMS[..]) {
            return Err(KmsError::WrongKeyType {
                service: SERVICE,
                key: uri.key_name(),
                found: "an EC key on another curve".into(),
            });
        }
        let mut point =
            point.ok_or_else(|| ck("reading the public key", CkError::NullFunctionPointer))?;
        // CKA_EC_POINT is a DER OCTET STRING holding the point (some tokens give the bare point).
        if point.len() == 67 && point[0] == 0x04 && point[1] == 0x41 {
            point.drain(..2);
        }
        Ok(Self {
            session: Mutex::new(session),
            _ctx: ctx,
            private,
            public: p256_spki(&point),
        })
    }

    pub(super) fn public_key(&self) -> Result<PublicKey, KmsError> {
        PublicKey::from_spki_der(&self.public).map_err(|e| KmsError::Service {
            service: SERVICE,
            detail: format!("the token's public key is unusable: {e}"),
        })
    }

    pub(super) fn sign_digest(&self, digest: &Sha256Digest) -> Result<Vec<u8>, KmsError> {
        let session = self.session.lock().map_err(|_| KmsError::Service {
            service: SERVICE,
            detail: "the session was poisoned by an earlier failure".into(),
        })?;
        let raw = session
            .sign(&Mechanism::Ecdsa, self.private, digest.as_bytes())
            .map_err(|e| ck("signing", e))?;
        let sig = p256::ecdsa::Signature::from_slice(&raw).map_err(|_| KmsError::Service {
            service: SERVICE,
            detail: format!(
                "the token returned a {}-byte ECDSA signature, expected 64 (r‖s)",
                raw.len()
            ),
        })?;
        Ok(sig.to_der().as_bytes().to_vec())
    }
}
