//! The COSE_Sign1 envelope (`application/cose`, RFC 9052) of the Notary Project, read with a
//! small strict CBOR reader: definite lengths only, no floats, no duplicate map keys, nesting
//! and item counts capped, every length bounded by the input. The signed bytes are the
//! `Sig_structure` `["Signature1", protected, h'', payload]`, encoded here.

use super::envelope::{
    AUTHENTIC_SIGNING_TIME, EXPIRY, EnvelopeError, EnvelopeFormat, NotaryLimits,
    PAYLOAD_CONTENT_TYPE, SIGNING_SCHEME, SIGNING_TIME, SignatureAlgorithm, SignerInfo,
    SigningScheme, TIMESTAMP_SIGNATURE, check_times,
};
use crate::limits::check_size;

const SIGNING_AGENT: &str = "io.cncf.notary.signingAgent";
/// COSE_Sign1's tag.
const TAG_SIGN1: u64 = 18;
/// Header labels (RFC 9052, RFC 9360).
const ALG: i128 = 1;
const CRIT: i128 = 2;
const CONTENT_TYPE: i128 = 3;
const X5CHAIN: i128 = 33;
/// Deepest nesting read.
const MAX_DEPTH: usize = 8;
/// Most items in one array or map.
const MAX_ITEMS: u64 = 1024;

/// A CBOR data item.
#[derive(Debug, Clone, PartialEq)]
enum Item {
    Int(i128),
    Bytes(Vec<u8>),
    Text(String),
    Array(Vec<Item>),
    Map(Vec<(Item, Item)>),
    Tag(u64, Box<Item>),
    Bool(bool),
    Null,
}

fn bad(field: &'static str, reason: impl ToString) -> EnvelopeError {
    EnvelopeError::Malformed {
        field,
        reason: reason.to_string(),
    }
}

struct Reader<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, EnvelopeError> {
        let b = *self
            .input
            .get(self.pos)
            .ok_or_else(|| bad("COSE", "truncated CBOR"))?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: u64) -> Result<&'a [u8], EnvelopeError> {
        let n = usize::try_from(n).map_err(|_| bad("COSE", "CBOR length out of range"))?;
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.input.len())
            .ok_or_else(|| bad("COSE", "CBOR length beyond the input"))?;
        let s = &self.input[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    /// The major type and argument of the next head.
    fn head(&mut self) -> Result<(u8, u64), EnvelopeError> {
        let b = self.byte()?;
        let (major, info) = (b >> 5, b & 0x1f);
        let arg = match info {
            0..=23 => u64::from(info),
            24..=27 => {
                let n = 1usize << (info - 24);
                let bytes = self.take(n as u64)?;
                bytes.iter().fold(0u64, |a, x| (a << 8) | u64::from(*x))
            }
            _ => {
                return Err(bad(
                    "COSE",
                    "indefinite lengths and reserved CBOR encodings are not accepted",
                ));
            }
        };
        Ok((major, arg))
    }

    fn item(&mut self, depth: usize) -> Result<Item, EnvelopeError> {
        if depth > MAX_DEPTH {
            return Err(bad("COSE", "CBOR nested too deeply"));
        }
        let (major, arg) = self.head()?;
        Ok(match major {
            0 => Item::Int(i128::from(arg)),
            1 => Item::Int(-1 - i128::from(arg)),
            2 => Item::Bytes(self.take(arg)?.to_vec()),
            3 => Item::Text(
                std::str::from_utf8(self.take(arg)?)
                    .map_err(|_| bad("COSE", "CBOR text is not UTF-8"))?
                    .to_owned(),
            ),
            4 => {
                if arg > MAX_ITEMS {
                    return Err(bad("COSE", "CBOR array too long"));
                }
                let mut v = Vec::new();
                for _ in 0..arg {
                    v.push(self.item(depth + 1)?);
                }
                Item::Array(v)
            }
            5 => {
                if arg > MAX_ITEMS {
                    return Err(bad("COSE", "CBOR map too long"));
                }
                let mut v: Vec<(Item, Item)> = Vec::new();
                for _ in 0..arg {
                    let k = self.item(depth + 1)?;
                    if v.iter().any(|(x, _)| *x == k) {
                        return Err(bad("COSE", "duplicate CBOR map key"));
                    }
                    let val = self.item(depth + 1)?;
                    v.push((k, val));
                }
                Item::Map(v)
            }
            6 => Item::Tag(arg, Box::new(self.item(depth + 1)?)),
            _ => match arg {
                20 => Item::Bool(false),
                21 => Item::Bool(true),
                22 => Item::Null,
                _ => {
                    return Err(bad(
                        "COSE",
                        "CBOR floats and simple values are not accepted",
                    ));
                }
            },
        })
    }
}

/// One complete CBOR item, nothing after it.
fn decode(bytes: &[u8]) -> Result<Item, EnvelopeError> {
    let mut r = Reader {
        input: bytes,
        pos: 0,
    };
    let item = r.item(0)?;
    if r.pos != bytes.len() {
        return Err(bad("COSE", "bytes after the CBOR item"));
    }
    Ok(item)
}

fn get<'m>(map: &'m [(Item, Item)], key: &Item) -> Option<&'m Item> {
    map.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

fn text_key(s: &str) -> Item {
    Item::Text(s.to_owned())
}

/// A CBOR head with the smallest encoding of `arg`.
fn encode_head(out: &mut Vec<u8>, major: u8, arg: u64) {
    let m = major << 5;
    match arg {
        0..=23 => out.push(m | arg as u8),
        24..=0xff => out.extend_from_slice(&[m | 24, arg as u8]),
        0x100..=0xffff => {
            out.push(m | 25);
            out.extend_from_slice(&(arg as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(m | 26);
            out.extend_from_slice(&(arg as u32).to_be_bytes());
        }
        _ => {
            out.push(m | 27);
            out.extend_from_slice(&arg.to_be_bytes());
        }
    }
}

fn time(header: &[(Item, Item)], name: &'static str) -> Result<Option<i64>, EnvelopeError> {
    match get(header, &text_key(name)) {
        None => Ok(None),
        Some(Item::Tag(1, v)) => match **v {
            Item::Int(i) => i64::try_from(i)
                .map(Some)
                .map_err(|_| bad(name, "out of range")),
            _ => Err(bad(name, "not an integer epoch time")),
        },
        Some(_) => Err(bad(name, "not a tag 1 date-time")),
    }
}

/// Parses a COSE_Sign1 envelope.
pub fn parse(bytes: &[u8], limits: &NotaryLimits) -> Result<SignerInfo, EnvelopeError> {
    check_size("the signature envelope", bytes.len(), limits.envelope)?;
    let item = match decode(bytes)? {
        Item::Tag(TAG_SIGN1, inner) => *inner,
        Item::Tag(t, _) => return Err(bad("COSE", format!("tag {t}, not COSE_Sign1 (18)"))),
        other => other,
    };
    let Item::Array(parts) = item else {
        return Err(bad("COSE", "COSE_Sign1 is not an array"));
    };
    let [protected, unprotected, payload, signature] = <[Item; 4]>::try_from(parts)
        .map_err(|_| bad("COSE", "COSE_Sign1 must have four elements"))?;
    let Item::Bytes(protected_bytes) = protected else {
        return Err(bad("protected header", "not a byte string"));
    };
    let Item::Map(header) = decode(&protected_bytes)? else {
        return Err(bad("protected header", "not a map"));
    };
    let Item::Map(unprotected) = unprotected else {
        return Err(bad("unprotected header", "not a map"));
    };
    let payload = match payload {
        Item::Bytes(p) => p,
        Item::Null => return Err(EnvelopeError::Missing("payload")),
        _ => return Err(bad("payload", "not a byte string")),
    };
    check_size("the payload", payload.len(), limits.payload)?;
    let Item::Bytes(signature) = signature else {
        return Err(bad("signature", "not a byte string"));
    };
    if signature.is_empty() {
        return Err(EnvelopeError::Missing("signature"));
    }

    let alg = match get(&header, &Item::Int(ALG)) {
        None => return Err(EnvelopeError::Missing("alg")),
        Some(Item::Int(i)) => *i,
        Some(_) => return Err(bad("alg", "not an integer")),
    };
    let algorithm = i64::try_from(alg)
        .ok()
        .and_then(SignatureAlgorithm::from_cose)
        .ok_or_else(|| EnvelopeError::UnsupportedAlgorithm(alg.to_string()))?;
    match get(&header, &Item::Int(CONTENT_TYPE)) {
        None => return Err(EnvelopeError::Missing("cty")),
        Some(Item::Text(t)) if t == PAYLOAD_CONTENT_TYPE => {}
        Some(Item::Text(t)) => return Err(EnvelopeError::UnsupportedContentType(t.clone())),
        Some(_) => return Err(bad("cty", "not a text string")),
    }
    let scheme_name = match get(&header, &text_key(SIGNING_SCHEME)) {
        None => return Err(EnvelopeError::Missing(SIGNING_SCHEME)),
        Some(Item::Text(t)) => t.clone(),
        Some(_) => return Err(bad(SIGNING_SCHEME, "not a text string")),
    };
    let scheme = SigningScheme::from_name(&scheme_name)
        .ok_or(EnvelopeError::UnsupportedSigningScheme(scheme_name))?;
    let crit: Vec<&Item> = match get(&header, &Item::Int(CRIT)) {
        None => return Err(EnvelopeError::Missing("crit")),
        Some(Item::Array(items)) if !items.is_empty() => items.iter().collect(),
        Some(_) => return Err(bad("crit", "not a non-empty array")),
    };
    for label in &crit {
        let name = match label {
            Item::Text(t)
                if [SIGNING_SCHEME, AUTHENTIC_SIGNING_TIME, EXPIRY].contains(&t.as_str()) =>
            {
                t.as_str()
            }
            Item::Text(t) => return Err(EnvelopeError::UnsupportedCritical(t.clone())),
            Item::Int(i) => return Err(EnvelopeError::UnsupportedCritical(i.to_string())),
            _ => return Err(bad("crit", "labels must be integers or text")),
        };
        if get(&header, label).is_none() {
            return Err(bad("crit", format!("lists {name:?}, which is absent")));
        }
    }
    for must in [SIGNING_SCHEME, AUTHENTIC_SIGNING_TIME, EXPIRY] {
        if get(&header, &text_key(must)).is_some() && !crit.contains(&&text_key(must)) {
            return Err(EnvelopeError::NotCritical(must));
        }
    }
    let signing_time = time(&header, SIGNING_TIME)?;
    let authentic = time(&header, AUTHENTIC_SIGNING_TIME)?;
    let expiry = time(&header, EXPIRY)?;
    let signing_time = check_times(scheme, signing_time, authentic, expiry)?;

    let chain: Vec<Vec<u8>> = match get(&unprotected, &Item::Int(X5CHAIN)) {
        None => return Err(EnvelopeError::Missing("x5chain")),
        Some(Item::Bytes(b)) => vec![b.clone()],
        Some(Item::Array(items)) => items
            .iter()
            .map(|i| match i {
                Item::Bytes(b) => Ok(b.clone()),
                _ => Err(bad("x5chain", "not a byte string")),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(bad("x5chain", "not a certificate or an array of them")),
    };
    if chain.is_empty() {
        return Err(EnvelopeError::Missing("x5chain"));
    }
    if chain.len() > limits.chain {
        return Err(EnvelopeError::TooMany {
            what: "x5chain certificates",
            limit: limits.chain,
        });
    }
    let timestamp_signature = match get(&unprotected, &text_key(TIMESTAMP_SIGNATURE)) {
        None => None,
        Some(Item::Bytes(b)) => Some(b.clone()),
        Some(_) => return Err(bad(TIMESTAMP_SIGNATURE, "not a byte string")),
    };
    let signing_agent = match get(&unprotected, &text_key(SIGNING_AGENT)) {
        None => None,
        Some(Item::Text(t)) => Some(t.clone()),
        Some(_) => return Err(bad(SIGNING_AGENT, "not a text string")),
    };

    // Sig_structure = ["Signature1", body_protected, external_aad = h'', payload]
    let mut signed_bytes = Vec::with_capacity(protected_bytes.len() + payload.len() + 32);
    encode_head(&mut signed_bytes, 4, 4);
    encode_head(&mut signed_bytes, 3, 10);
    signed_bytes.extend_from_slice(b"Signature1");
    encode_head(&mut signed_bytes, 2, protected_bytes.len() as u64);
    signed_bytes.extend_from_slice(&protected_bytes);
    encode_head(&mut signed_bytes, 2, 0);
    encode_head(&mut signed_bytes, 2, payload.len() as u64);
    signed_bytes.extend_from_slice(&payload);
    Ok(SignerInfo {
        format: EnvelopeFormat::Cose,
        algorithm,
        scheme,
        signing_time,
        expiry,
        chain,
        timestamp_signature,
        signing_agent,
        signed_bytes,
        signature,
        payload,
    })
}
