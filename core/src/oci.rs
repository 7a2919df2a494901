//! Images in registries and OCI layouts, behind one interface.
//!
//! [`Target`] is a repository: a registry repository or a layout directory. [`resolve`] turns
//! an [`ImageRef`] into a [`ResolvedImage`]: the digest, fixed once, and the exact manifest bytes.

pub mod layout;
pub mod manifest;
mod reads;
pub mod reference;
pub mod registry;

pub use reads::remember_reads;

use std::path::PathBuf;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use self::layout::{Layout, LayoutLock};
use self::manifest::{Descriptor, Manifest};
use self::reference::{ImageRef, RegistryRef};
use self::registry::{
    Access, BlobStream, BlobUpload, FetchedManifest, Mount, RegistryClient, RegistryError,
};
use crate::digest::Sha256Digest;
use crate::payload::PayloadError;
use crate::{Classify, ErrorClass};

/// Errors reading or writing images.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OciError {
    /// A registry failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// A layout is malformed.
    #[error("OCI layout {path}: {reason}")]
    Layout {
        /// The file or directory.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A layout file could not be read or written.
    #[error("OCI layout {path}: {error}")]
    LayoutIo {
        /// The file.
        path: PathBuf,
        /// The error.
        error: crate::IoError,
    },
    /// The image (or blob) does not exist.
    #[error("{what} not found")]
    NotFound {
        /// What was looked for.
        what: String,
    },
    /// Content whose digest is not the one asked for.
    #[error("{what}: expected digest {expected}, found {found}")]
    DigestMismatch {
        /// What was read.
        what: String,
        /// The digest expected.
        expected: String,
        /// The digest found.
        found: Sha256Digest,
    },
    /// Content larger than its limit.
    #[error("{what} is larger than the limit of {limit} bytes; refused")]
    TooLarge {
        /// What was read.
        what: String,
        /// The limit.
        limit: u64,
    },
    /// A manifest that does not parse.
    #[error("{what}: {error}")]
    Manifest {
        /// Which manifest.
        what: String,
        /// Why.
        error: PayloadError,
    },
    /// A layout reference without tag or digest, in a layout of several images.
    #[error("{0}")]
    Ambiguous(String),
}

impl Classify for OciError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::Registry(e) => e.class(),
            Self::Layout { .. }
            | Self::LayoutIo { .. }
            | Self::NotFound { .. }
            | Self::Ambiguous(_) => ErrorClass::Input,
            Self::DigestMismatch { .. } | Self::TooLarge { .. } | Self::Manifest { .. } => {
                ErrorClass::Verification
            }
        }
    }
}

/// Size caps for images read from untrusted places.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OciLimits {
    /// A manifest or index. Default 4 MiB.
    pub manifest: u64,
    /// A signature layer (simple-signing payload). Default 1 MiB.
    pub signature_layer: u64,
    /// An attestation or SBOM layer. Default 256 MiB (a 100 MiB SBOM is a 140 MB envelope).
    pub attestation_layer: u64,
    /// Layers in one signature/attestation manifest. Default 1000.
    pub layers: usize,
}

impl Default for OciLimits {
    fn default() -> Self {
        Self {
            manifest: 4 << 20,
            signature_layer: 1 << 20,
            attestation_layer: 256 << 20,
            layers: 1000,
        }
    }
}

/// A repository: where manifests and blobs are read and written.
#[derive(Debug, Clone)]
pub enum Target {
    /// A repository in a registry.
    Registry {
        /// The shared client.
        client: Arc<RegistryClient>,
        /// Registry and repository (tag and digest unset).
        repo: RegistryRef,
    },
    /// An OCI layout directory.
    Layout(Layout),
}

/// A manifest reference within a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestRef<'a> {
    /// By tag.
    Tag(&'a str),
    /// By digest.
    Digest(&'a Sha256Digest),
}

/// Exclusive access for a read-modify-write: a lock in a layout; in a registry there is none to
/// be had and writers use [`crate::cosign::update_all`]'s settle protocol instead.
#[derive(Debug)]
pub enum UpdateGuard {
    /// Registry: no lock.
    None,
    /// Layout lock.
    Layout(LayoutLock),
}

impl Target {
    /// The target of a registry reference.
    pub fn registry(client: Arc<RegistryClient>, r: &RegistryRef) -> Self {
        Target::Registry {
            client,
            repo: RegistryRef {
                tag: None,
                digest: None,
                ..r.clone()
            },
        }
    }

    /// A short name for messages.
    pub fn describe(&self) -> String {
        match self {
            Target::Registry { repo, .. } => format!("{}/{}", repo.registry, repo.repository),
            Target::Layout(l) => format!("oci:{}", l.dir().display()),
        }
    }

    /// Fetches a manifest (checked against the digest asked for); `None` if absent.
    pub async fn manifest(
        &self,
        reference: ManifestRef<'_>,
        access: Access,
        limit: u64,
    ) -> Result<Option<FetchedManifest>, OciError> {
        match self {
            Target::Registry { client, repo } => {
                let r = match reference {
                    ManifestRef::Tag(t) => t.to_owned(),
                    ManifestRef::Digest(d) => d.to_string(),
                };
                let memo = memo_of(access);
                let key = self.describe();
                if let Some(m) = memo.as_ref().and_then(|memo| memo.manifest(&key, &r))
                    && m.as_ref().is_none_or(|m| m.bytes.len() as u64 <= limit)
                {
                    return Ok(m);
                }
                // An attachment tag that the scope's complete listing lacks is absent.
                if let (ManifestRef::Tag(t), Some(memo)) = (reference, &memo)
                    && t.starts_with("sha256-")
                    && memo.tag_absent(&key, t)
                {
                    return Ok(None);
                }
                let m = client.get_manifest(repo, &r, access, limit).await?;
                if let Some(memo) = &memo {
                    memo.keep_manifest(&key, &r, &m);
                }
                Ok(m)
            }
            Target::Layout(layout) => {
                let index = layout.index()?;
                // Tags live in index.json; by digest, any manifest blob will do (platform
                // manifests of an index have no entry of their own).
                let (digest, media_type) = match reference {
                    ManifestRef::Tag(t) => {
                        match Layout::tagged(&index, t).or_else(|| cosign_saved(&index, t)) {
                            Some(d) => (d.digest, d.media_type),
                            None => return Ok(None),
                        }
                    }
                    ManifestRef::Digest(d) => {
                        let mt = index
                            .manifests
                            .iter()
                            .find(|m| &m.digest == d)
                            .map(|m| m.media_type.clone())
                            .unwrap_or_default();
                        (*d, mt)
                    }
                };
                let bytes = match layout.read_blob(&digest, limit) {
                    Ok(b) => b,
                    Err(OciError::NotFound { .. }) => return Ok(None),
                    Err(e) => return Err(e),
                };
                let media_type = if media_type.is_empty() {
                    serde_json::from_slice::<serde_json::Value>(&bytes)
                        .ok()
                        .and_then(|v| v.get("mediaType")?.as_str().map(str::to_owned))
                        .unwrap_or_default()
                } else {
                    media_type
                };
                Ok(Some(FetchedManifest {
                    digest,
                    bytes: Bytes::from(bytes),
                    media_type,
                }))
            }
        }
    }

    /// Inside a [`remember_reads`] scope, lists this registry repository's tags once (one
    /// `GET …/tags/list` of at most [`TAGS_PAGE`] tags; a longer listing, a refusal or an error
    /// is no knowledge, and nothing is reported): in the rest of the scope, reads of attachment
    /// tags (`sha256-<hex>.sig`, `.att`, `.sbom`, the referrers fallback `sha256-<hex>`) that
    /// the listing lacks are answered "absent" without a request. Worth it where several of
    /// them would be asked for (a promotion reads `.sig`, `.att` and `.sbom`). Outside a scope,
    /// and for layouts, does nothing.
    pub async fn remember_tags(&self) {
        let (Target::Registry { client, repo }, Some(memo)) = (self, reads::current()) else {
            return;
        };
        let Some(cell) = memo.tags_cell(&self.describe()) else {
            return;
        };
        let limits = registry::TagListLimits {
            page: TAGS_PAGE,
            pages: 1,
            ..registry::TagListLimits::default()
        };
        cell.get_or_init(|| async {
            client
                .list_tags(repo, Access::Pull, limits)
                .await
                .ok()
                .flatten()
                // A full page may be cut short by a registry that does not say so (no `Link`).
                .filter(|l| l.is_complete() && l.len() < TAGS_PAGE)
        })
        .await;
    }

    /// The digest `tag` points to, if the target can tell cheaply (a registry's HEAD);
    /// `None` means "fetch it to know".
    pub async fn tag_digest(
        &self,
        tag: &str,
        access: Access,
    ) -> Result<Option<Sha256Digest>, OciError> {
        match self {
            Target::Registry { client, repo } => {
                Ok(client.head_manifest(repo, tag, access).await?)
            }
            Target::Layout(layout) => Ok(Layout::tagged(&layout.index()?, tag).map(|d| d.digest)),
        }
    }

    /// Fetches a blob named by `desc`, at most `limit` bytes, checked against its digest.
    pub async fn blob(
        &self,
        desc: &Descriptor,
        access: Access,
        limit: u64,
    ) -> Result<Vec<u8>, OciError> {
        match self {
            Target::Registry { client, repo } => {
                let memo = memo_of(access);
                let key = self.describe();
                if let Some(b) = memo.as_ref().and_then(|m| m.blob(&key, &desc.digest))
                    && b.len() as u64 == desc.size
                    && desc.size <= limit
                {
                    return Ok(b.to_vec());
                }
                let b = client.get_blob(repo, desc, access, limit).await?;
                if let Some(memo) = &memo {
                    memo.keep_blob(&key, &desc.digest, &b);
                }
                Ok(b)
            }
            Target::Layout(layout) => {
                if desc.size > limit {
                    return Err(OciError::TooLarge {
                        what: format!("blob {}", desc.digest),
                        limit,
                    });
                }
                let bytes = layout.read_blob(&desc.digest, limit)?;
                if bytes.len() as u64 != desc.size {
                    return Err(OciError::DigestMismatch {
                        what: format!("blob {} (size {})", desc.digest, desc.size),
                        expected: desc.digest.to_string(),
                        found: Sha256Digest::of(&bytes),
                    });
                }
                Ok(bytes)
            }
        }
    }

    /// Stores a blob (skipped when present).
    pub async fn push_blob(&self, bytes: Bytes) -> Result<Sha256Digest, OciError> {
        match self {
            Target::Registry { client, repo } => Ok(client.put_blob(repo, bytes).await?),
            Target::Layout(layout) => layout.write_blob(&bytes),
        }
    }

    /// Stores a manifest by digest only (a referrer): its blobs must be stored first.
    pub async fn push_manifest_by_digest(
        &self,
        bytes: Bytes,
        media_type: &str,
    ) -> Result<Sha256Digest, OciError> {
        let digest = Sha256Digest::of(&bytes);
        match self {
            Target::Registry { client, repo } => Ok(client
                .put_manifest(repo, &digest.to_string(), bytes, media_type)
                .await?),
            Target::Layout(layout) => layout.write_blob(&bytes),
        }
    }

    /// Whether the target lists referrers itself (a registry's referrers API), as far as this
    /// run's requests tell; `None`: not known yet (ask with [`Target::referrers`] or a probe).
    /// Layouts never do.
    pub fn referrers_api(&self) -> Option<bool> {
        match self {
            Target::Registry { client, repo } => client.referrers_api(repo),
            Target::Layout(_) => Some(false),
        }
    }

    /// The referrers of `subject` of artifact type `artifact_type` (all when `None`): through
    /// the registry's referrers API where it has one, else the fallback tag index
    /// `sha256-<hex>` (OCI distribution spec 1.1), which is also how layouts keep them.
    pub async fn referrers(
        &self,
        subject: &Sha256Digest,
        artifact_type: Option<&str>,
        access: Access,
        limit: u64,
    ) -> Result<Vec<Descriptor>, OciError> {
        self.referrers_among(subject, artifact_type, access, limit, None)
            .await
    }

    /// [`Target::referrers`], knowing the repository's tags (`tags`, listed once for a batch):
    /// where the fallback tag is used and a complete listing lacks it, there are none, and it
    /// is not asked for.
    pub async fn referrers_among(
        &self,
        subject: &Sha256Digest,
        artifact_type: Option<&str>,
        access: Access,
        limit: u64,
        tags: Option<&registry::TagList>,
    ) -> Result<Vec<Descriptor>, OciError> {
        let mut filtered = false;
        let index_bytes = match self {
            Target::Registry { client, repo } => match memo_of(access) {
                // In a scope, the whole list is asked for once and filtered here.
                Some(memo) => {
                    let key = self.describe();
                    match memo.referrers(&key, subject) {
                        Some(index) => index,
                        None => {
                            let index = client
                                .get_referrers(repo, subject, None, access, limit)
                                .await?
                                .map(|(bytes, _)| bytes);
                            memo.keep_referrers(&key, subject, index.clone());
                            index
                        }
                    }
                }
                None => {
                    match client
                        .get_referrers(repo, subject, artifact_type, access, limit)
                        .await?
                    {
                        Some((bytes, f)) => {
                            filtered = f;
                            Some(bytes)
                        }
                        None => None,
                    }
                }
            },
            Target::Layout(_) => None,
        };
        let fallback = format!("sha256-{}", subject.hex());
        let index_bytes = match index_bytes {
            Some(b) => Some(b),
            None if tags.is_some_and(|t| !t.may_have(&fallback)) => None,
            None => self
                .manifest(ManifestRef::Tag(&fallback), access, limit)
                .await?
                .map(|m| m.bytes),
        };
        let Some(bytes) = index_bytes else {
            return Ok(Vec::new());
        };
        let index = match Manifest::parse(&bytes, Some(manifest::OCI_INDEX)) {
            Ok(Manifest::Index(i)) => i,
            Ok(Manifest::Image(_)) => {
                return Err(OciError::Manifest {
                    what: format!("referrers of {subject}"),
                    error: PayloadError::Field {
                        what: "manifest",
                        field: "mediaType",
                        reason: "the referrers tag holds an image manifest, not an index".into(),
                    },
                });
            }
            Err(source) => {
                return Err(OciError::Manifest {
                    what: format!("referrers of {subject}"),
                    error: source,
                });
            }
        };
        Ok(index
            .manifests
            .into_iter()
            .filter(|d| {
                filtered || artifact_type.is_none_or(|t| d.artifact_type.as_deref() == Some(t))
            })
            .collect())
    }

    /// Exclusive access for a read-modify-write of a tag (a lock in layouts).
    pub fn begin_update(&self) -> Result<UpdateGuard, OciError> {
        match self {
            Target::Registry { .. } => Ok(UpdateGuard::None),
            Target::Layout(l) => Ok(UpdateGuard::Layout(l.lock()?)),
        }
    }

    /// Stores a manifest under `tag` (its blobs must be stored first). In a layout the index
    /// entry gets `kind` (cosign's annotation). Returns the manifest's digest.
    pub async fn push_manifest(
        &self,
        tag: &str,
        bytes: Bytes,
        media_type: &str,
        kind: Option<&str>,
        guard: &UpdateGuard,
    ) -> Result<Sha256Digest, OciError> {
        match self {
            Target::Registry { client, repo } => {
                Ok(client.put_manifest(repo, tag, bytes, media_type).await?)
            }
            Target::Layout(layout) => {
                // Callers doing a read-modify-write hold the lock already; others take it here.
                let own;
                let lock = match guard {
                    UpdateGuard::Layout(lock) => lock,
                    UpdateGuard::None => {
                        own = layout.lock()?;
                        &own
                    }
                };
                layout.write_blob(&bytes)?;
                let mut index = layout.index()?;
                Layout::set_tagged(&mut index, Descriptor::of(media_type, &bytes), tag, kind);
                layout.write_index(&index, lock)?;
                Ok(Sha256Digest::of(&bytes))
            }
        }
    }
}

/// Tags listed at most by [`Target::remember_tags`] (one page).
pub const TAGS_PAGE: usize = 1000;

/// The largest blob [`Target::put_small_blob`] takes (what a registry takes in one request,
/// see [`RegistryClient::put_blob`]).
pub const SMALL_PUT: u64 = 1 << 20;

/// Bytes read from a layout file at once when streaming a blob.
const LAYOUT_READ_CHUNK: usize = 1 << 20;

impl Target {
    /// Whether the blob is stored here.
    pub async fn has_blob(&self, digest: &Sha256Digest, access: Access) -> Result<bool, OciError> {
        match self {
            Target::Registry { client, repo } => Ok(client.has_blob(repo, digest, access).await?),
            Target::Layout(layout) => Ok(layout.has_blob(digest)),
        }
    }

    /// Whether the manifest `digest` is stored here (in a layout: as a blob).
    pub async fn has_manifest(
        &self,
        digest: &Sha256Digest,
        access: Access,
    ) -> Result<bool, OciError> {
        match self {
            Target::Registry { client, repo } => {
                Ok(client.has_manifest(repo, digest, access).await?)
            }
            Target::Layout(layout) => Ok(layout.has_blob(digest)),
        }
    }

    /// Opens the blob `desc` for reading in a stream. Nothing is checked yet: the reader hashes
    /// and counts what it reads and compares it with `desc` before using it. A body announced
    /// (registry) or found (layout) larger than `desc.size` is refused here already.
    pub async fn open_blob(
        &self,
        desc: &Descriptor,
        access: Access,
    ) -> Result<BlobReader, OciError> {
        match self {
            Target::Registry { client, repo } => {
                // The OCI empty descriptor's `{}` (every cosign 3 bundle's config) needs no
                // request; nor does a small blob read whole before in this scope (a signature
                // the gate checked). The reader's caller hashes and counts them as any other.
                if desc.size == EMPTY_JSON.len() as u64
                    && desc.digest == Sha256Digest::of(EMPTY_JSON)
                {
                    return Ok(BlobReader(ReaderInner::Memory(Some(Bytes::from_static(
                        EMPTY_JSON,
                    )))));
                }
                if let Some(b) =
                    memo_of(access).and_then(|m| m.blob(&self.describe(), &desc.digest))
                {
                    return Ok(BlobReader(ReaderInner::Memory(Some(b))));
                }
                Ok(BlobReader(ReaderInner::Registry(
                    client.open_blob(repo, desc, access).await?,
                )))
            }
            Target::Layout(layout) => {
                let (file, size) = layout.open_blob(&desc.digest)?;
                if size > desc.size {
                    return Err(OciError::TooLarge {
                        what: format!(
                            "blob {} in {} ({size} bytes, its descriptor says)",
                            desc.digest,
                            layout.dir().display()
                        ),
                        limit: desc.size,
                    });
                }
                Ok(BlobReader(ReaderInner::Layout {
                    file,
                    path: layout.dir().join("blobs/sha256").join(desc.digest.hex()),
                }))
            }
        }
    }

    /// Starts writing a blob in a stream. A registry receives it in chunks of `chunk_size`
    /// bytes (`PATCH`), the rest with the final `PUT ?digest=`; a layout in a temporary file.
    /// Nothing is visible under the blob's digest before [`BlobWriter::commit`].
    pub fn blob_writer(&self, chunk_size: usize) -> Result<BlobWriter, OciError> {
        match self {
            Target::Registry { client, repo } => Ok(BlobWriter(WriterInner::Registry {
                client: client.clone(),
                repo: repo.clone(),
                upload: None,
                buffer: BytesMut::new(),
                chunk_size: chunk_size.max(1),
                size: None,
                streaming: None,
            })),
            Target::Layout(layout) => Ok(BlobWriter(WriterInner::Layout(layout.blob_writer()?))),
        }
    }

    /// Stores a small blob (at most [`SMALL_PUT`] bytes, held whole; the caller has checked it
    /// against its descriptor) in as few requests as the registry allows: one `POST` where the
    /// registry takes a whole blob in it, else a mount (from `mount_from`, another repository
    /// of the same registry known to hold it, else this one) and, if that did not link it, a
    /// `PUT` (see [`RegistryClient::put_blob`]). A layout writes it (atomically).
    pub async fn put_small_blob(
        &self,
        bytes: Bytes,
        mount_from: Option<&Target>,
    ) -> Result<Sha256Digest, OciError> {
        match self {
            Target::Registry { client, repo } => {
                let from = mount_from.and_then(|f| self.mount_source(f));
                Ok(client.put_blob_from(repo, bytes, from).await?)
            }
            Target::Layout(layout) => layout.write_blob(&bytes),
        }
    }

    /// The repository of `from` from which this target can mount blobs: the same registry, another
    /// repository. `None` when a mount is not possible.
    pub fn mount_source<'a>(&self, from: &'a Target) -> Option<&'a str> {
        match (self, from) {
            (Target::Registry { repo: to, .. }, Target::Registry { repo: src, .. })
                if to.registry == src.registry && to.repository != src.repository =>
            {
                Some(src.repository.as_str())
            }
            _ => None,
        }
    }

    /// Tries a cross-repository mount of `digest` from `from` (see [`Target::mount_source`]);
    /// when the registry does not mount, the writer to send the blob with instead.
    pub async fn mount_blob(
        &self,
        from: &Target,
        digest: &Sha256Digest,
        chunk_size: usize,
    ) -> Result<MountOutcome, OciError> {
        let (Target::Registry { client, repo }, Some(src_repo)) = (self, self.mount_source(from))
        else {
            return Ok(MountOutcome::NotMounted(Box::new(
                self.blob_writer(chunk_size)?,
            )));
        };
        match client.mount_blob(repo, digest, src_repo).await? {
            Mount::Mounted => Ok(MountOutcome::Mounted),
            Mount::Upload(upload) => Ok(MountOutcome::NotMounted(Box::new(BlobWriter(
                WriterInner::Registry {
                    client: client.clone(),
                    repo: repo.clone(),
                    upload: Some(upload),
                    buffer: BytesMut::new(),
                    chunk_size: chunk_size.max(1),
                    size: None,
                    streaming: None,
                },
            )))),
        }
    }

    /// In a layout, lists the manifest `desc` in `index.json` without a tag (with `kind`),
    /// unless an entry (tagged or not) lists it already: what makes an image findable in a
    /// layout when it has no tag. Registries need nothing: returns `false`.
    pub fn add_untagged(&self, desc: Descriptor, kind: Option<&str>) -> Result<bool, OciError> {
        match self {
            Target::Registry { .. } => Ok(false),
            Target::Layout(layout) => {
                let lock = layout.lock()?;
                layout.add_untagged(desc, kind, &lock)
            }
        }
    }
}

/// The outcome of [`Target::mount_blob`].
#[derive(Debug)]
pub enum MountOutcome {
    /// The registry linked the blob: nothing to send.
    Mounted,
    /// Not mounted: send the blob with this writer.
    NotMounted(Box<BlobWriter>),
}

/// A blob being read in a stream (see [`Target::open_blob`]).
#[derive(Debug)]
pub struct BlobReader(ReaderInner);

#[derive(Debug)]
enum ReaderInner {
    Registry(BlobStream),
    Layout {
        file: std::fs::File,
        path: PathBuf,
    },
    /// Remembered in this scope ([`remember_reads`]): all of it, then the end.
    Memory(Option<Bytes>),
}

/// The content of the OCI empty descriptor (image-spec `application/vnd.oci.empty.v1+json`).
const EMPTY_JSON: &[u8] = b"{}";

/// The scope's remembered reads, for a read with `access` (only `Pull` reads are remembered).
fn memo_of(access: Access) -> Option<Arc<reads::Reads>> {
    matches!(access, Access::Pull)
        .then(reads::current)
        .flatten()
}

impl BlobReader {
    /// The next chunk; `None` at the end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, OciError> {
        match &mut self.0 {
            ReaderInner::Registry(s) => Ok(s.chunk().await?),
            ReaderInner::Memory(b) => Ok(b.take()),
            ReaderInner::Layout { file, path } => {
                use std::io::Read as _;
                let mut buf = vec![0u8; LAYOUT_READ_CHUNK];
                loop {
                    match file.read(&mut buf) {
                        Ok(0) => return Ok(None),
                        Ok(n) => {
                            buf.truncate(n);
                            return Ok(Some(Bytes::from(buf)));
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(source) => {
                            return Err(OciError::LayoutIo {
                                path: path.clone(),
                                error: source.into(),
                            });
                        }
                    }
                }
            }
        }
    }
}

/// A blob being written in a stream (see [`Target::blob_writer`]).
#[derive(Debug)]
pub struct BlobWriter(WriterInner);

#[derive(Debug)]
enum WriterInner {
    Registry {
        client: Arc<RegistryClient>,
        repo: RegistryRef,
        upload: Option<BlobUpload>,
        buffer: BytesMut,
        chunk_size: usize,
        /// The blob's size, when known ([`BlobWriter::with_size`]): then a blob larger than a
        /// chunk goes in one streamed `PATCH`.
        size: Option<u64>,
        streaming: Option<Box<Streaming>>,
    },
    Layout(layout::BlobWriter),
}

/// A `PATCH` on its way, its body fed by [`BlobWriter::write`]; it hands the session back.
#[derive(Debug)]
struct Streaming {
    feed: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
    task: tokio::task::JoinHandle<(BlobUpload, Result<(), RegistryError>)>,
}

impl Streaming {
    /// Starts the `PATCH` of the `length` bytes the blob has left after `upload`'s offset.
    fn start(
        client: &Arc<RegistryClient>,
        repo: &RegistryRef,
        mut upload: BlobUpload,
        length: u64,
    ) -> Self {
        // A few reads in flight: the source's reading and the destination's writing overlap,
        // and memory stays bounded whatever the blob's size.
        let (feed, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(8);
        let body =
            reqwest::Body::wrap_stream(futures_util::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|item| (item, rx))
            }));
        let (client, repo) = (client.clone(), repo.clone());
        let task = tokio::spawn(async move {
            let sent = client.upload_stream(&repo, &mut upload, length, body).await;
            (upload, sent)
        });
        Streaming { feed, task }
    }

    /// Ends the body and waits for the registry's answer: the session, and whether the bytes
    /// were taken. `abandon`: the body fails instead of ending, so the request is cut short.
    async fn finish(
        self,
        abandon: bool,
    ) -> Result<(BlobUpload, Result<(), RegistryError>), OciError> {
        if abandon {
            let _ = self
                .feed
                .send(Err(std::io::Error::other("the blob was abandoned")))
                .await;
        }
        drop(self.feed);
        self.task.await.map_err(|e| {
            OciError::Registry(RegistryError::Network {
                registry: "(upload)".into(),
                reason: format!("the streamed upload stopped: {e}"),
            })
        })
    }
}

impl BlobWriter {
    /// Says how many bytes the blob has (its descriptor's size): a registry then receives a
    /// blob larger than one chunk in a single `PATCH`, streamed as it is written, instead of
    /// chunk by chunk. More or fewer bytes than `size` fail that request; nothing is stored
    /// before [`commit`](Self::commit) either way.
    pub fn with_size(mut self, size: u64) -> Self {
        if let WriterInner::Registry { size: s, .. } = &mut self.0 {
            *s = Some(size);
        }
        self
    }

    /// Appends `chunk` (a registry gets whole chunks of `chunk_size` as they fill up, or one
    /// streamed `PATCH` when the size is known).
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), OciError> {
        match &mut self.0 {
            WriterInner::Registry {
                client,
                repo,
                upload,
                buffer,
                chunk_size,
                size,
                streaming,
            } => {
                if streaming.is_none()
                    && let Some(total) = *size
                    && (buffer.len() + chunk.len()) as u64 >= *chunk_size as u64
                {
                    let session = match upload.take() {
                        Some(u) => u,
                        None => client.start_upload(repo).await?,
                    };
                    let length = total.saturating_sub(session.offset());
                    *streaming = Some(Box::new(Streaming::start(client, repo, session, length)));
                }
                if let Some(s) = streaming {
                    // What was held before the stream started goes first, then each chunk.
                    buffer.extend_from_slice(chunk);
                    if s.feed.send(Ok(buffer.split().freeze())).await.is_err() {
                        // The request ended before its body did: its answer says why.
                        if let Some(s) = streaming.take() {
                            let (session, sent) = s.finish(false).await?;
                            *upload = Some(session);
                            sent?;
                        }
                        return Err(OciError::Registry(RegistryError::Network {
                            registry: repo.registry.clone(),
                            reason: format!(
                                "the streamed upload to {} ended before the blob did",
                                repo.repository
                            ),
                        }));
                    }
                    return Ok(());
                }
                buffer.extend_from_slice(chunk);
                while buffer.len() >= *chunk_size {
                    let piece = buffer.split_to(*chunk_size).freeze();
                    let session = match upload {
                        Some(u) => u,
                        None => upload.insert(client.start_upload(repo).await?),
                    };
                    client.upload_chunk(repo, session, piece).await?;
                }
                Ok(())
            }
            WriterInner::Layout(w) => w.write(chunk),
        }
    }

    /// Stores what was written as the blob `digest`. The caller has checked that every byte
    /// written hashes to `digest`; a registry checks it again before it accepts the blob.
    pub async fn commit(self, digest: &Sha256Digest) -> Result<(), OciError> {
        match self.0 {
            WriterInner::Registry {
                client,
                repo,
                upload,
                buffer,
                streaming,
                ..
            } => {
                let upload = match (streaming, upload) {
                    (Some(s), _) => {
                        let (session, sent) = s.finish(false).await?;
                        if let Err(e) = sent {
                            client.cancel_upload(&repo, session).await;
                            return Err(e.into());
                        }
                        session
                    }
                    (None, Some(u)) => u,
                    (None, None) => client.start_upload(&repo).await?,
                };
                Ok(client
                    .finish_upload(&repo, upload, digest, buffer.freeze())
                    .await?)
            }
            WriterInner::Layout(w) => w.commit(digest),
        }
    }

    /// Abandons the blob: nothing is stored under any digest.
    pub async fn abort(self) {
        // A layout's temporary file is removed when dropped.
        if let WriterInner::Registry {
            client,
            repo,
            upload,
            streaming,
            ..
        } = self.0
        {
            let upload = match streaming {
                Some(s) => s.finish(true).await.ok().map(|(session, _)| session),
                None => upload,
            };
            if let Some(upload) = upload {
                client.cancel_upload(&repo, upload).await;
            }
        }
    }
}

/// In a layout written by `cosign save` (entries marked by `kind`, no tags), the manifest
/// standing for the tag `sha256-<hex>.sig|.att`.
fn cosign_saved(index: &manifest::ImageIndex, tag: &str) -> Option<Descriptor> {
    let rest = tag.strip_prefix("sha256-")?;
    let (hex, suffix) = rest.split_once('.')?;
    let image: Sha256Digest = format!("sha256:{hex}").parse().ok()?;
    let kind = match suffix {
        "sig" => layout::KIND_SIGS,
        "att" => layout::KIND_ATTS,
        _ => return None,
    };
    Layout::attached(index, &image, tag, kind)
}

/// An image whose reference was resolved to a digest, once.
#[derive(Debug, Clone)]
pub struct ResolvedImage {
    /// What the user wrote.
    pub reference: ImageRef,
    /// Where the image lives.
    pub target: Target,
    /// The manifest digest everything after acts on.
    pub digest: Sha256Digest,
    /// The exact manifest bytes and media type.
    pub manifest: FetchedManifest,
    /// The parsed manifest.
    pub parsed: Manifest,
    /// `critical.identity.docker-reference` for signatures: `HOST/REPO`, or for a layout the
    /// `oci:` reference of its directory.
    pub identity: String,
    /// Whether the user named a tag rather than a digest (signing by tag warns).
    pub by_tag: bool,
}

impl ResolvedImage {
    /// The same image at one of its platform manifests (for `--recursive`).
    pub async fn child(&self, desc: &Descriptor, limits: &OciLimits) -> Result<Self, OciError> {
        let manifest = self
            .target
            .manifest(
                ManifestRef::Digest(&desc.digest),
                Access::Pull,
                limits.manifest,
            )
            .await?
            .ok_or_else(|| OciError::NotFound {
                what: format!("platform manifest {}", desc.digest),
            })?;
        let parsed = parse_manifest(&manifest, &desc.digest.to_string())?;
        Ok(Self {
            reference: self.reference.clone(),
            target: self.target.clone(),
            digest: desc.digest,
            manifest,
            parsed,
            identity: self.identity.clone(),
            by_tag: false,
        })
    }
}

fn parse_manifest(m: &FetchedManifest, what: &str) -> Result<Manifest, OciError> {
    Manifest::parse(&m.bytes, Some(&m.media_type)).map_err(|source| OciError::Manifest {
        what: format!("manifest {what}"),
        error: source,
    })
}

/// Resolves `image` to a digest (a tag is read once, here) and fetches its manifest.
pub async fn resolve(
    image: &ImageRef,
    client: &Arc<RegistryClient>,
    access: Access,
    limits: &OciLimits,
) -> Result<ResolvedImage, OciError> {
    match image {
        ImageRef::Registry(r) => {
            let target = Target::registry(client.clone(), r);
            let (reference, by_tag) = match (&r.digest, &r.tag) {
                (Some(d), _) => (d.to_string(), false),
                (None, Some(t)) => (t.clone(), true),
                (None, None) => ("latest".to_owned(), true),
            };
            let manifest = client
                .get_manifest(r, &reference, access, limits.manifest)
                .await?
                .ok_or_else(|| OciError::NotFound {
                    what: format!("image {image}"),
                })?;
            let parsed = parse_manifest(&manifest, &image.to_string())?;
            Ok(ResolvedImage {
                reference: image.clone(),
                digest: manifest.digest,
                target,
                manifest,
                parsed,
                identity: r.docker_reference(),
                by_tag,
            })
        }
        ImageRef::Layout(l) => {
            let layout = Layout::open(&l.dir)?;
            let index = layout.index()?;
            let (digest, by_tag) = match (&l.digest, &l.tag) {
                // By digest: an index.json entry or any manifest blob (a platform manifest of
                // an index has no entry of its own).
                (Some(d), _) => (*d, false),
                (None, Some(t)) => (
                    Layout::tagged(&index, t)
                        .ok_or_else(|| OciError::NotFound {
                            what: format!("image {image} (no index.json entry tagged `{t}`)"),
                        })?
                        .digest,
                    true,
                ),
                (None, None) => {
                    // Entries naming the same manifest (tagged and untagged) are one image.
                    let mut images = Layout::images(&index);
                    let mut seen = std::collections::HashSet::new();
                    images.retain(|d| seen.insert(d.digest));
                    match images.as_slice() {
                        [one] => (one.digest, true),
                        [] => {
                            return Err(OciError::NotFound {
                                what: format!("an image in {image}"),
                            });
                        }
                        _ => {
                            return Err(OciError::Ambiguous(format!(
                                "{image} holds {} images: name one as oci:DIR:TAG or oci:DIR@sha256:…",
                                images.len()
                            )));
                        }
                    }
                }
            };
            let target = Target::Layout(layout);
            let manifest = target
                .manifest(ManifestRef::Digest(&digest), access, limits.manifest)
                .await?
                .ok_or_else(|| OciError::NotFound {
                    what: format!("image {image}"),
                })?;
            let parsed = parse_manifest(&manifest, &image.to_string())?;
            Ok(ResolvedImage {
                reference: image.clone(),
                digest,
                target,
                manifest,
                parsed,
                identity: format!("oci:{}", l.dir.display()),
                by_tag,
            })
        }
    }
}
