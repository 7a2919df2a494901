//! On-disk OCI image layouts (image-spec `image-layout.md`): `oci-layout`, `index.json`,
//! `blobs/sha256/<hex>`. Read as `cosign save` writes them (index entries annotated
//! `kind: dev.cosignproject.cosign/image|imageIndex|sigs|atts`) and written the same way, with
//! `org.opencontainers.image.ref.name` naming each entry's tag so one layout can hold several
//! images. Writers hold an exclusive lock on `index.json.lock`; files are replaced atomically.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use super::OciError;
use super::manifest::{Descriptor, ImageIndex, Manifest, to_bytes};
use crate::digest::Sha256Digest;

/// The annotation naming an index entry's tag.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// cosign's annotation for what an entry is.
pub const KIND: &str = "kind";
/// `kind` of a single-platform image.
pub const KIND_IMAGE: &str = "dev.cosignproject.cosign/image";
/// `kind` of an image index.
pub const KIND_IMAGE_INDEX: &str = "dev.cosignproject.cosign/imageIndex";
/// `kind` of a signature manifest.
pub const KIND_SIGS: &str = "dev.cosignproject.cosign/sigs";
/// `kind` of an attestation manifest.
pub const KIND_ATTS: &str = "dev.cosignproject.cosign/atts";

const INDEX_LIMIT: usize = 4 << 20;

/// An OCI layout directory.
#[derive(Debug, Clone)]
pub struct Layout {
    dir: PathBuf,
}

/// An exclusive lock on a layout's index, held while it lives.
#[derive(Debug)]
pub struct LayoutLock {
    _file: File,
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> OciError + '_ {
    move |source| OciError::LayoutIo {
        path: path.to_owned(),
        error: source.into(),
    }
}

fn invalid(path: &Path, reason: impl Into<String>) -> OciError {
    OciError::Layout {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

/// The one absolute path of a layout directory, existing or not: what a policy judges it as and
/// where a writer puts it. Every existing component is resolved (symbolic links followed, as
/// `std::fs::canonicalize` does); the components after the deepest existing one are applied one
/// at a time, `..` removing the last (so `/x/staging/../prod/app`, with no `staging`, is
/// `/x/prod/app`, and a `..` that climbs back into existing folders resolves them again). A
/// component that is a dangling symbolic link is refused: it would be written somewhere else.
pub fn canonical_dir(dir: &Path) -> Result<PathBuf, OciError> {
    use std::path::Component;
    if dir.as_os_str().is_empty() {
        return Err(invalid(dir, "expected a directory, found an empty path"));
    }
    let mut cur = if dir.is_absolute() {
        PathBuf::from("/")
    } else {
        let here = std::env::current_dir().map_err(io_err(Path::new(".")))?;
        fs::canonicalize(&here).map_err(io_err(&here))?
    };
    for c in dir.components() {
        match c {
            Component::Prefix(_) | Component::RootDir => cur = PathBuf::from("/"),
            Component::CurDir => {}
            // `cur` has no symbolic links, so its parent is the real parent.
            Component::ParentDir => {
                cur.pop();
            }
            Component::Normal(name) => {
                cur.push(name);
                match fs::symlink_metadata(&cur) {
                    Ok(_) => {
                        cur = fs::canonicalize(&cur).map_err(|e| {
                            if e.kind() == io::ErrorKind::NotFound {
                                invalid(
                                    &cur,
                                    "a symbolic link to nothing: expected a directory (or a path that does not exist yet); remove the link or name its target",
                                )
                            } else {
                                io_err(&cur)(e)
                            }
                        })?;
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io_err(&cur)(e)),
                }
            }
        }
    }
    Ok(cur)
}

impl Layout {
    /// Opens an existing layout.
    pub fn open(dir: &Path) -> Result<Self, OciError> {
        let marker = dir.join("oci-layout");
        let text = fs::read(&marker).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                invalid(dir, "not an OCI image layout: `oci-layout` is missing")
            } else {
                io_err(&marker)(e)
            }
        })?;
        let v: serde_json::Value = serde_json::from_slice(&text)
            .map_err(|e| invalid(&marker, format!("not JSON: {e}")))?;
        if v.get("imageLayoutVersion")
            .and_then(|v| v.as_str())
            .is_none()
        {
            return Err(invalid(&marker, "no `imageLayoutVersion`"));
        }
        Ok(Self {
            dir: dir.to_owned(),
        })
    }

    /// Opens a layout, creating an empty one if the directory has none.
    pub fn open_or_create(dir: &Path) -> Result<Self, OciError> {
        if !dir.join("oci-layout").exists() {
            fs::create_dir_all(dir.join("blobs/sha256")).map_err(io_err(dir))?;
            write_atomic(
                &dir.join("oci-layout"),
                br#"{"imageLayoutVersion":"1.0.0"}"#,
            )?;
            if !dir.join("index.json").exists() {
                write_atomic(&dir.join("index.json"), &to_bytes(&ImageIndex::new()))?;
            }
        }
        Self::open(dir)
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Takes the writer's lock (blocking until other writers are done).
    pub fn lock(&self) -> Result<LayoutLock, OciError> {
        let path = self.dir.join("index.json.lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_err(&path))?;
        file.lock().map_err(io_err(&path))?;
        Ok(LayoutLock { _file: file })
    }

    /// Reads `index.json`.
    pub fn index(&self) -> Result<ImageIndex, OciError> {
        let path = self.dir.join("index.json");
        let bytes = read_limited(&path, INDEX_LIMIT)?;
        match Manifest::parse(&bytes, None) {
            Ok(Manifest::Index(i)) => Ok(i),
            Ok(Manifest::Image(_)) => Err(invalid(&path, "index.json is not an image index")),
            Err(e) => Err(invalid(&path, e.to_string())),
        }
    }

    /// Replaces `index.json` (hold [`Layout::lock`]).
    pub fn write_index(&self, index: &ImageIndex, _lock: &LayoutLock) -> Result<(), OciError> {
        write_atomic(&self.dir.join("index.json"), &to_bytes(index))
    }

    fn blob_path(&self, digest: &Sha256Digest) -> PathBuf {
        self.dir.join("blobs/sha256").join(digest.hex())
    }

    /// Whether the blob is present.
    pub fn has_blob(&self, digest: &Sha256Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    /// Reads a blob, at most `limit` bytes, checking its digest.
    pub fn read_blob(&self, digest: &Sha256Digest, limit: u64) -> Result<Vec<u8>, OciError> {
        let path = self.blob_path(digest);
        let bytes = read_limited(&path, usize::try_from(limit).unwrap_or(usize::MAX))?;
        let found = Sha256Digest::of(&bytes);
        if &found != digest {
            return Err(OciError::DigestMismatch {
                what: format!("blob {}", path.display()),
                expected: digest.to_string(),
                found,
            });
        }
        Ok(bytes)
    }

    /// Writes a blob if it is not there yet.
    pub fn write_blob(&self, bytes: &[u8]) -> Result<Sha256Digest, OciError> {
        let digest = Sha256Digest::of(bytes);
        let path = self.blob_path(&digest);
        if !path.is_file() {
            fs::create_dir_all(self.dir.join("blobs/sha256")).map_err(io_err(&self.dir))?;
            write_atomic(&path, bytes)?;
        }
        Ok(digest)
    }

    /// Opens a blob for reading in a stream; returns the file and its size. The content is
    /// *not* checked here: whoever reads it hashes it and compares (see `copy`).
    pub fn open_blob(&self, digest: &Sha256Digest) -> Result<(File, u64), OciError> {
        let path = self.blob_path(digest);
        let file = File::open(&path).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                OciError::NotFound {
                    what: format!("blob {digest} in {}", self.dir.display()),
                }
            } else {
                io_err(&path)(e)
            }
        })?;
        let size = file.metadata().map_err(io_err(&path))?.len();
        Ok((file, size))
    }

    /// Starts writing a blob in a stream: a temporary file in `blobs/sha256`, renamed to its
    /// digest by [`BlobWriter::commit`] (so a blob file is never partial), removed if dropped.
    pub fn blob_writer(&self) -> Result<BlobWriter, OciError> {
        let dir = self.dir.join("blobs/sha256");
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let tmp = tempfile::Builder::new()
            .prefix(".vouch-tmp-")
            .tempfile_in(&dir)
            .map_err(io_err(&dir))?;
        Ok(BlobWriter {
            tmp,
            layout: self.clone(),
            written: 0,
        })
    }

    /// Adds an untagged entry for `desc` (with `kind`) unless an entry with its digest is there
    /// already, tagged or not (hold [`Layout::lock`]). Returns whether the index changed.
    pub fn add_untagged(
        &self,
        mut desc: Descriptor,
        kind: Option<&str>,
        lock: &LayoutLock,
    ) -> Result<bool, OciError> {
        let mut index = self.index()?;
        if index.manifests.iter().any(|d| d.digest == desc.digest) {
            return Ok(false);
        }
        if let Some(k) = kind {
            desc.annotations.insert(KIND.into(), k.into());
        }
        index.manifests.push(desc);
        self.write_index(&index, lock)?;
        Ok(true)
    }

    /// The entry tagged `tag`.
    pub fn tagged(index: &ImageIndex, tag: &str) -> Option<Descriptor> {
        index
            .manifests
            .iter()
            .find(|d| d.annotations.get(REF_NAME).map(String::as_str) == Some(tag))
            .cloned()
    }

    /// The image entries: those cosign marks as image/imageIndex, or, in layouts not written by
    /// cosign, every entry that is not a signature or attestation manifest.
    pub fn images(index: &ImageIndex) -> Vec<Descriptor> {
        index
            .manifests
            .iter()
            .filter(|d| match d.annotations.get(KIND).map(String::as_str) {
                Some(KIND_IMAGE | KIND_IMAGE_INDEX) => true,
                Some(_) => false,
                None => !d
                    .annotations
                    .get(REF_NAME)
                    .is_some_and(|t| t.starts_with("sha256-")),
            })
            .cloned()
            .collect()
    }

    /// The signature (`KIND_SIGS`) or attestation (`KIND_ATTS`) entry for an image: tagged
    /// `sha256-<hex>.sig|.att`, or, in a cosign-saved layout of one image, the only entry of
    /// that kind.
    pub fn attached(
        index: &ImageIndex,
        image: &Sha256Digest,
        tag: &str,
        kind: &str,
    ) -> Option<Descriptor> {
        if let Some(d) = Self::tagged(index, tag) {
            return Some(d);
        }
        let images = Self::images(index);
        if images.len() == 1 && &images[0].digest == image {
            let of_kind: Vec<_> = index
                .manifests
                .iter()
                .filter(|d| {
                    d.annotations.get(KIND).map(String::as_str) == Some(kind)
                        && !d.annotations.contains_key(REF_NAME)
                })
                .collect();
            if of_kind.len() == 1 {
                return Some(of_kind[0].clone());
            }
        }
        None
    }

    /// Puts `desc` into the index under `tag` (replacing the entry with that tag), with `kind`.
    pub fn set_tagged(index: &mut ImageIndex, mut desc: Descriptor, tag: &str, kind: Option<&str>) {
        index.manifests.retain(|d| {
            d.annotations.get(REF_NAME).map(String::as_str) != Some(tag)
                // A cosign-saved entry of this kind without a tag is superseded too.
                && !(kind.is_some()
                    && d.annotations.get(KIND).map(String::as_str) == kind
                    && !d.annotations.contains_key(REF_NAME)
                    && matches!(kind, Some(KIND_SIGS | KIND_ATTS)))
        });
        desc.annotations.insert(REF_NAME.into(), tag.into());
        if let Some(k) = kind {
            desc.annotations.insert(KIND.into(), k.into());
        }
        index.manifests.push(desc);
    }
}

/// A blob being written into a layout (see [`Layout::blob_writer`]).
#[derive(Debug)]
pub struct BlobWriter {
    tmp: tempfile::NamedTempFile,
    layout: Layout,
    written: u64,
}

impl BlobWriter {
    /// Appends bytes.
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), OciError> {
        let path = self.tmp.path().to_owned();
        self.tmp.write_all(bytes).map_err(io_err(&path))?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Stores what was written as the blob `digest`, which the caller has checked is the
    /// digest of every byte written. A blob already there is kept (same digest, same bytes).
    pub fn commit(self, digest: &Sha256Digest) -> Result<(), OciError> {
        let path = self.layout.blob_path(digest);
        if path.is_file() {
            return Ok(()); // the temporary file is removed when dropped
        }
        self.tmp.as_file().sync_all().map_err(io_err(&path))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(self.tmp.path(), fs::Permissions::from_mode(0o644))
                .map_err(io_err(&path))?;
        }
        self.tmp
            .persist(&path)
            .map_err(|e| io_err(&path)(e.error))?;
        Ok(())
    }
}

fn read_limited(path: &Path, limit: usize) -> Result<Vec<u8>, OciError> {
    let file = File::open(path).map_err(|e| {
        if e.kind() == io::ErrorKind::NotFound {
            OciError::NotFound {
                what: path.display().to_string(),
            }
        } else {
            io_err(path)(e)
        }
    })?;
    let mut buf = Vec::new();
    file.take(limit as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(io_err(path))?;
    if buf.len() > limit {
        return Err(OciError::TooLarge {
            what: path.display().to_string(),
            limit: limit as u64,
        });
    }
    Ok(buf)
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), OciError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".vouch-tmp-")
        .tempfile_in(dir)
        .map_err(io_err(path))?;
    tmp.write_all(bytes).map_err(io_err(path))?;
    tmp.as_file().sync_all().map_err(io_err(path))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o644)).map_err(io_err(path))?;
    }
    tmp.persist(path).map_err(|e| io_err(path)(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 20: a destination is judged under the name of the place it is written to.
    #[test]
    fn canonical_dir_is_where_a_layout_lands() {
        let t = tempfile::tempdir().unwrap();
        let root = fs::canonicalize(t.path()).unwrap();
        fs::create_dir_all(root.join("prod")).unwrap();
        fs::create_dir_all(root.join("real/deep")).unwrap();
        std::os::unix::fs::symlink(root.join("prod"), root.join("staging-link")).unwrap();
        std::os::unix::fs::symlink(root.join("nowhere"), root.join("dangling")).unwrap();
        let c = |p: &str| canonical_dir(&root.join(p));
        // `staging` does not exist: `..` removes it, the image lands in prod.
        assert_eq!(c("staging/../prod/app").unwrap(), root.join("prod/app"));
        assert_eq!(
            c("staging/new/../../prod/app").unwrap(),
            root.join("prod/app")
        );
        // A symlinked folder is its target, existing or not below it.
        assert_eq!(c("staging-link/app").unwrap(), root.join("prod/app"));
        assert_eq!(c("staging-link/a/../b").unwrap(), root.join("prod/b"));
        // `..` back into existing folders resolves them again.
        assert_eq!(c("x/../staging-link/./app").unwrap(), root.join("prod/app"));
        assert_eq!(c("real/deep/../../prod").unwrap(), root.join("prod"));
        // A dangling link would be written elsewhere: refused.
        assert!(matches!(c("dangling/app"), Err(OciError::Layout { .. })));
        assert!(matches!(c("dangling"), Err(OciError::Layout { .. })));
        assert!(canonical_dir(Path::new("")).is_err());
        // Relative paths are from the current directory.
        assert!(
            canonical_dir(Path::new("no-such-dir/x"))
                .unwrap()
                .is_absolute()
        );
    }
}
