//! notation's trust-store folder layout: `ROOT/x509/{ca,signingAuthority,tsa}/NAME/*`, each
//! file PEM (one or more `CERTIFICATE` blocks) or DER. As notation-go's `truststore`: regular
//! files only (no symbolic links, no folders), every certificate a CA or self-signed.

use std::path::{Path, PathBuf};

use super::envelope::NotaryLimits;
use super::policy::StoreRef;
use super::x509::{Cert, CertError, read_certificates};

/// Why a named trust store cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The folder does not exist.
    #[error("the trust store {name:?} of type {kind:?} does not exist")]
    NotFound {
        /// Type.
        kind: &'static str,
        /// Name.
        name: String,
    },
    /// Reading failed.
    #[error("trust store {path}: {reason}")]
    Io {
        /// Where.
        path: String,
        /// What.
        reason: String,
    },
    /// A file that notation refuses (symbolic link, folder, not a certificate, leaf cert).
    #[error("trust store file {path}: {reason}")]
    BadFile {
        /// Where.
        path: String,
        /// What.
        reason: String,
    },
    /// Too many files or certificates.
    #[error("trust store {name:?}: more than {limit} files")]
    TooMany {
        /// Name.
        name: String,
        /// The limit.
        limit: usize,
    },
    /// The store is empty.
    #[error("trust store {name:?} of type {kind:?} has no certificates")]
    Empty {
        /// Type.
        kind: &'static str,
        /// Name.
        name: String,
    },
}

/// A trust-store root folder (notation's `$XDG_CONFIG_HOME/notation/truststore`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustStore {
    root: PathBuf,
    limits: NotaryLimits,
}

impl TrustStore {
    /// A trust store rooted at `root` (the folder holding `x509/`).
    pub fn new(root: impl Into<PathBuf>, limits: NotaryLimits) -> Self {
        Self {
            root: root.into(),
            limits,
        }
    }

    /// The root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The certificates of one named store.
    pub fn certificates(&self, store: &StoreRef) -> Result<Vec<Cert>, StoreError> {
        let kind = store.kind.dir_name();
        let dir = self.root.join("x509").join(kind).join(&store.name);
        let meta = std::fs::symlink_metadata(&dir).map_err(|_| StoreError::NotFound {
            kind,
            name: store.name.clone(),
        })?;
        if !meta.is_dir() {
            return Err(StoreError::NotFound {
                kind,
                name: store.name.clone(),
            });
        }
        let io = |e: std::io::Error| StoreError::Io {
            path: dir.display().to_string(),
            reason: e.to_string(),
        };
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            if entries.len() >= self.limits.store_entries {
                return Err(StoreError::TooMany {
                    name: store.name.clone(),
                    limit: self.limits.store_entries,
                });
            }
            entries.push(entry.path());
        }
        entries.sort();
        let mut out = Vec::new();
        for path in entries {
            let shown = path.display().to_string();
            let bad = |reason: String| StoreError::BadFile {
                path: shown.clone(),
                reason,
            };
            let meta = std::fs::symlink_metadata(&path).map_err(|e| bad(e.to_string()))?;
            if !meta.file_type().is_file() {
                return Err(bad(
                    "is not a regular file (folders and symbolic links are not supported)".into(),
                ));
            }
            if meta.len() > self.limits.store_file as u64 {
                return Err(bad(format!("larger than {} bytes", self.limits.store_file)));
            }
            let bytes = std::fs::read(&path).map_err(|e| bad(e.to_string()))?;
            let certs = read_certificates(&bytes, self.limits.store_entries)
                .map_err(|e: CertError| bad(e.to_string()))?;
            for c in certs {
                if !c.is_ca_cert() && !c.is_self_signed() {
                    return Err(bad(format!(
                        "certificate with subject {:?} is not a CA certificate or self-signed signing certificate",
                        c.subject()
                    )));
                }
                out.push(c);
            }
        }
        if out.is_empty() {
            return Err(StoreError::Empty {
                kind,
                name: store.name.clone(),
            });
        }
        Ok(out)
    }
}
