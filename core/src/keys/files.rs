//! Key files on disk: bounded reads, errors that name the file, private keys written 0600
//! through a temporary file and a rename, existing files kept unless overwriting is asked for.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use super::encrypted::{self, EncryptedKey, KdfParams};
use super::{KeyError, PublicKey, SigningKey};
use crate::error::{Classify, ErrorClass};
use crate::limits::{Limits, TooLarge};

/// A key file problem, naming the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    /// The file's content is wrong (including a wrong password).
    #[error("key file {path}: {kind}")]
    Key {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        kind: KeyError,
    },
    /// The file could not be read.
    #[error("cannot read key file {path}: {error}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        error: crate::IoError,
    },
    /// The file exists and overwriting was not asked for.
    #[error("{path} already exists; pass --force to overwrite it")]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// The file could not be written.
    #[error("cannot write {path}: {error}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        error: crate::IoError,
    },
}

impl KeyFileError {
    /// The underlying key error, when the content was at fault.
    pub fn key_error(&self) -> Option<&KeyError> {
        match self {
            Self::Key { kind, .. } => Some(kind),
            _ => None,
        }
    }
}

impl Classify for KeyFileError {
    fn class(&self) -> ErrorClass {
        ErrorClass::Input
    }
}

/// Reads at most `limit` bytes of a small file; a larger file is an error, not a truncation.
pub fn read_bounded(path: &Path, what: &'static str, limit: usize) -> Result<Vec<u8>, ReadError> {
    let file = File::open(path).map_err(|e| ReadError::Io(e.into()))?;
    let mut buf = Vec::new();
    file.take(limit as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|e| ReadError::Io(e.into()))?;
    if buf.len() > limit {
        return Err(ReadError::TooLarge(TooLarge {
            what,
            found: buf.len(),
            limit,
        }));
    }
    Ok(buf)
}

/// Why [`read_bounded`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// I/O.
    #[error(transparent)]
    Io(crate::error::IoError),
    /// Over the limit (the size found is a lower bound).
    #[error(transparent)]
    TooLarge(TooLarge),
}

fn read_key_file(path: &Path, limits: &Limits) -> Result<Vec<u8>, KeyFileError> {
    read_bounded(path, "the key file", limits.key_file).map_err(|e| match e {
        ReadError::Io(error) => KeyFileError::Read {
            path: path.to_owned(),
            error,
        },
        ReadError::TooLarge(t) => KeyFileError::Key {
            path: path.to_owned(),
            kind: t.into(),
        },
    })
}

fn key_err(path: &Path) -> impl Fn(KeyError) -> KeyFileError + '_ {
    move |kind| KeyFileError::Key {
        path: path.to_owned(),
        kind,
    }
}

/// Parses cosign's encrypted key file at `path` (no decryption yet).
pub fn read_encrypted_key(path: &Path, limits: &Limits) -> Result<EncryptedKey, KeyFileError> {
    let text = read_key_file(path, limits)?;
    EncryptedKey::parse(&text, limits).map_err(key_err(path))
}

/// Loads and decrypts cosign's encrypted key file at `path`.
pub fn load_signing_key(
    path: &Path,
    password: &[u8],
    limits: &Limits,
) -> Result<SigningKey, KeyFileError> {
    read_encrypted_key(path, limits)?
        .decrypt(password)
        .map_err(key_err(path))
}

/// Loads an unencrypted PKCS#8 or SEC1 private key PEM (for import).
pub fn load_unencrypted_key(path: &Path, limits: &Limits) -> Result<SigningKey, KeyFileError> {
    let text = zeroize::Zeroizing::new(read_key_file(path, limits)?);
    SigningKey::from_unencrypted_pem(&text).map_err(key_err(path))
}

/// Loads a `PUBLIC KEY` PEM.
pub fn load_public_key(path: &Path, limits: &Limits) -> Result<PublicKey, KeyFileError> {
    let text = read_key_file(path, limits)?;
    PublicKey::from_pem(&text).map_err(key_err(path))
}

/// Whether existing files may be replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overwrite {
    /// Fail if a file exists (the default everywhere).
    Never,
    /// Replace existing files (`--force`).
    Replace,
}

/// The two files of a key pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPairPaths {
    /// `PREFIX.key`, mode 0600.
    pub private_key: PathBuf,
    /// `PREFIX.pub`.
    pub public_key: PathBuf,
}

impl KeyPairPaths {
    /// `PREFIX.key` and `PREFIX.pub`.
    pub fn for_prefix(prefix: &Path) -> Self {
        let mut key = prefix.as_os_str().to_owned();
        key.push(".key");
        let mut public = prefix.as_os_str().to_owned();
        public.push(".pub");
        Self {
            private_key: key.into(),
            public_key: public.into(),
        }
    }
}

/// Encrypts `key` and writes `PREFIX.key` (0600) and `PREFIX.pub`. With [`Overwrite::Never`],
/// nothing is written if either file exists.
pub fn write_key_pair(
    prefix: &Path,
    key: &SigningKey,
    password: &[u8],
    params: KdfParams,
    overwrite: Overwrite,
) -> Result<KeyPairPaths, KeyFileError> {
    let paths = KeyPairPaths::for_prefix(prefix);
    if overwrite == Overwrite::Never {
        for path in [&paths.private_key, &paths.public_key] {
            if fs::symlink_metadata(path).is_ok() {
                return Err(KeyFileError::Exists { path: path.clone() });
            }
        }
    }
    let pem = encrypted::encrypt(key, password, params).map_err(key_err(&paths.private_key))?;
    write_atomic(&paths.private_key, pem.as_bytes(), 0o600, overwrite)?;
    write_atomic(
        &paths.public_key,
        key.public_key().to_pem().as_bytes(),
        0o644,
        overwrite,
    )?;
    Ok(paths)
}

/// Writes `bytes` to `path` through a temporary file in the same directory, created with `mode`
/// from the start (a secret is never readable by others, not even briefly), then renamed.
pub fn write_atomic(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    overwrite: Overwrite,
) -> Result<(), KeyFileError> {
    let werr = |error: io::Error| KeyFileError::Write {
        path: path.to_owned(),
        error: error.into(),
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".vouch-tmp-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(fs::Permissions::from_mode(mode));
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut tmp = builder.tempfile_in(dir).map_err(werr)?;
    tmp.write_all(bytes).map_err(werr)?;
    tmp.as_file().sync_all().map_err(werr)?;
    match overwrite {
        Overwrite::Replace => tmp.persist(path).map(drop).map_err(|e| werr(e.error)),
        Overwrite::Never => tmp.persist_noclobber(path).map(drop).map_err(|e| {
            if e.error.kind() == io::ErrorKind::AlreadyExists {
                KeyFileError::Exists {
                    path: path.to_owned(),
                }
            } else {
                werr(e.error)
            }
        }),
    }
}
