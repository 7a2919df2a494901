//! SHA-256 digests, as OCI (`sha256:<hex>`) and sigstore (raw bytes, base64) spell them.

use std::fmt;
use std::io::{self, Read};
use std::str::FromStr;

use sha2::{Digest as _, Sha256};

/// A SHA-256 digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256Digest([u8; 32]);

/// The buffer size for streaming hashes: large enough that syscalls cost nothing next to SHA-256.
const STREAM_BUFFER: usize = 1 << 20;

/// Hands everything `reader` yields to `f`, one buffer at a time (never more in memory); returns
/// the number of bytes read.
fn stream<R: Read>(mut reader: R, mut f: impl FnMut(&[u8])) -> io::Result<u64> {
    let mut buf = vec![0u8; STREAM_BUFFER];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        f(&buf[..n]);
        total += n as u64;
    }
}

impl Sha256Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }

    /// Hashes everything `reader` yields, in a stream: never more than one buffer in memory.
    /// Returns the digest and the number of bytes read.
    pub fn of_reader<R: Read>(reader: R) -> io::Result<(Self, u64)> {
        let mut hasher = Sha256::new();
        let total = stream(reader, |chunk| hasher.update(chunk))?;
        Ok((Self(hasher.finalize().into()), total))
    }

    /// Wraps raw digest bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Parses raw digest bytes of any length, checking it is 32.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, DigestError> {
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| DigestError::Length { found: bytes.len() })?;
        Ok(Self(arr))
    }

    /// The raw bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lower-case hex, without the algorithm prefix.
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }
}

/// The hash algorithms of sigstore artifacts and signatures (`SHA2_256`, `SHA2_384`, `SHA2_512`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HashAlgorithm {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl HashAlgorithm {
    /// Every algorithm, strongest last.
    pub const ALL: [Self; 3] = [Self::Sha256, Self::Sha384, Self::Sha512];

    /// The in-toto / OCI name: `sha256`, `sha384`, `sha512`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "sha256",
            Self::Sha384 => "sha384",
            Self::Sha512 => "sha512",
        }
    }

    /// Reads an in-toto / OCI name (`sha512`) or a sigstore protobuf name (`SHA2_512`).
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "sha256" | "SHA2_256" => Self::Sha256,
            "sha384" | "SHA2_384" => Self::Sha384,
            "sha512" | "SHA2_512" => Self::Sha512,
            _ => return None,
        })
    }

    /// The digest length in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    /// The digest of `bytes`.
    pub fn hash(self, bytes: &[u8]) -> Vec<u8> {
        aws_lc_rs::digest::digest(self.aws(), bytes)
            .as_ref()
            .to_vec()
    }

    /// The digest of everything `reader` yields, hashed as a stream, and the byte count.
    pub fn of_reader<R: Read>(self, mut reader: R) -> io::Result<(Vec<u8>, u64)> {
        let mut ctx = aws_lc_rs::digest::Context::new(self.aws());
        let mut buf = vec![0u8; STREAM_BUFFER];
        let mut size = 0u64;
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            ctx.update(&buf[..n]);
            size += n as u64;
        }
        Ok((ctx.finish().as_ref().to_vec(), size))
    }

    /// aws-lc-rs's algorithm.
    pub fn aws(self) -> &'static aws_lc_rs::digest::Algorithm {
        match self {
            Self::Sha256 => &aws_lc_rs::digest::SHA256,
            Self::Sha384 => &aws_lc_rs::digest::SHA384,
            Self::Sha512 => &aws_lc_rs::digest::SHA512,
        }
    }
}

/// An artifact's digests, under as many algorithms as are known: all three for a file that was
/// read, one for a digest given on the command line (`sha512:<hex>`). Checks compare under
/// every algorithm both sides have.
#[derive(Clone, PartialEq, Eq)]
pub struct ArtifactDigests(std::collections::BTreeMap<HashAlgorithm, Vec<u8>>);

impl ArtifactDigests {
    /// SHA-256, SHA-384 and SHA-512 of everything `reader` yields, in one streaming pass.
    pub fn of_reader<R: Read>(reader: R) -> io::Result<Self> {
        use sha2::{Sha384, Sha512};
        let (mut a, mut b, mut c) = (Sha256::new(), Sha384::new(), Sha512::new());
        stream(reader, |chunk| {
            a.update(chunk);
            b.update(chunk);
            c.update(chunk);
        })?;
        Ok(Self(
            [
                (HashAlgorithm::Sha256, a.finalize().to_vec()),
                (HashAlgorithm::Sha384, b.finalize().to_vec()),
                (HashAlgorithm::Sha512, c.finalize().to_vec()),
            ]
            .into(),
        ))
    }

    /// One known digest.
    pub fn one(algorithm: HashAlgorithm, bytes: Vec<u8>) -> Result<Self, DigestError> {
        if bytes.len() != algorithm.digest_len() {
            return Err(DigestError::Length { found: bytes.len() });
        }
        Ok(Self([(algorithm, bytes)].into()))
    }

    /// The digest under `algorithm`, when known.
    pub fn get(&self, algorithm: HashAlgorithm) -> Option<&[u8]> {
        self.0.get(&algorithm).map(Vec::as_slice)
    }

    /// The SHA-256 digest, when known.
    pub fn sha256(&self) -> Option<Sha256Digest> {
        self.get(HashAlgorithm::Sha256)
            .and_then(|d| Sha256Digest::from_slice(d).ok())
    }

    /// Whether an in-toto subject's digest set (`{"sha256": "<hex>", …}`) names this artifact:
    /// some algorithm both know has equal values, and none that both know differs.
    pub fn matches_subject<'a>(
        &self,
        subject: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> bool {
        let mut any = false;
        for (name, value) in subject {
            let Some(ours) = HashAlgorithm::from_name(name).and_then(|a| self.get(a)) else {
                continue;
            };
            if !value.eq_ignore_ascii_case(&hex::encode(ours)) {
                return false;
            }
            any = true;
        }
        any
    }
}

impl fmt::Display for ArtifactDigests {
    /// The first digest known (SHA-256 when known: the name people compare with), `alg:hex`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.iter().next() {
            Some((alg, d)) => write!(f, "{}:{}", alg.name(), hex::encode(d)),
            None => Ok(()),
        }
    }
}

impl From<Sha256Digest> for ArtifactDigests {
    fn from(d: Sha256Digest) -> Self {
        Self([(HashAlgorithm::Sha256, d.as_bytes().to_vec())].into())
    }
}

impl FromStr for ArtifactDigests {
    type Err = DigestError;

    /// `sha256:<64 hex>`, `sha384:<96 hex>` or `sha512:<128 hex>`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (alg, hex_part) = s.split_once(':').ok_or_else(|| DigestError::Algorithm {
            found: s.chars().take(16).collect(),
        })?;
        let alg = HashAlgorithm::from_name(alg).ok_or_else(|| DigestError::Algorithm {
            found: alg.chars().take(16).collect(),
        })?;
        if hex_part.len() != alg.digest_len() * 2
            || !hex_part
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(DigestError::Hex);
        }
        let bytes = hex::decode(hex_part).map_err(|_| DigestError::Hex)?;
        Self::one(alg, bytes)
    }
}

impl fmt::Debug for ArtifactDigests {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Sha256Digest {
    /// `sha256:<64 lower-case hex>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex())
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Sha256Digest {
    type Err = DigestError;

    /// Parses `sha256:<64 lower-case hex>` (the OCI form; upper case is rejected, as OCI does).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let hex_part = s
            .strip_prefix("sha256:")
            .ok_or_else(|| DigestError::Algorithm {
                found: s
                    .split(':')
                    .next()
                    .unwrap_or_default()
                    .chars()
                    .take(32)
                    .collect(),
            })?;
        if hex_part.len() != 64
            || !hex_part
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(DigestError::Hex);
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(hex_part, &mut out).map_err(|_| DigestError::Hex)?;
        Ok(Self(out))
    }
}

/// A malformed digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DigestError {
    /// Not `sha256:`.
    #[error("expected a digest of the form sha256:<64 hex digits>, found algorithm `{found}`")]
    Algorithm {
        /// The algorithm found (truncated).
        found: String,
    },
    /// Not 64 lower-case hex digits.
    #[error("expected a digest of the form sha256:<64 lower-case hex digits>")]
    Hex,
    /// Raw digest of the wrong length.
    #[error("expected a 32-byte SHA-256 digest, found {found} bytes")]
    Length {
        /// The length found.
        found: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector() {
        // FIPS 180-2 appendix B.1.
        let d = Sha256Digest::of(b"abc");
        assert_eq!(
            d.to_string(),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(d.to_string().parse::<Sha256Digest>().unwrap(), d);
    }

    #[test]
    fn stream_equals_one_shot() {
        let data: Vec<u8> = (0..3 * STREAM_BUFFER + 17)
            .map(|i| (i % 251) as u8)
            .collect();
        let (d, n) = Sha256Digest::of_reader(&data[..]).unwrap();
        assert_eq!(n, data.len() as u64);
        assert_eq!(d, Sha256Digest::of(&data));
    }

    #[test]
    fn rejects_malformed() {
        assert!(matches!(
            "sha512:00".parse::<Sha256Digest>(),
            Err(DigestError::Algorithm { .. })
        ));
        assert_eq!("sha256:ab".parse::<Sha256Digest>(), Err(DigestError::Hex));
        let upper = format!("sha256:{}", "A".repeat(64));
        assert_eq!(upper.parse::<Sha256Digest>(), Err(DigestError::Hex));
    }
}
