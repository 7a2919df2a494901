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

impl Sha256Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }

    /// Hashes everything `reader` yields, in a stream: never more than one buffer in memory.
    /// Returns the digest and the number of bytes read.
    pub fn of_reader<R: Read>(mut reader: R) -> io::Result<(Self, u64)> {
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; STREAM_BUFFER];
        let mut total = 0u64;
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            hasher.update(&buf[..n]);
            total += n as u64;
        }
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
