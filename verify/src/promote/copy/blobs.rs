//! Blobs: one blob copied (skipped, mounted or streamed and checked), and a blob shared by the
//! copies of a batch.

use super::*;

/// The error of a blob shared by several copies of a batch: the first copy to ask gets it, the
/// others a copy of it.
#[derive(Debug)]
pub(super) struct SharedError {
    original: std::sync::Mutex<Option<CopyError>>,
    copy: CopyError,
}

impl SharedError {
    pub(super) fn new(e: CopyError) -> Arc<Self> {
        Arc::new(Self {
            copy: echo(&e),
            original: std::sync::Mutex::new(Some(e)),
        })
    }

    fn take(&self) -> CopyError {
        let original = self.original.lock().ok().and_then(|mut o| o.take());
        original.unwrap_or_else(|| echo(&self.copy))
    }
}

/// The same error again (an underlying registry error by its message).
pub(super) fn echo(e: &CopyError) -> CopyError {
    let oci = |target: &str, source: &OciError| {
        Box::new(OciError::Registry(
            vouch_core::oci::registry::RegistryError::Invalid {
                registry: target.to_owned(),
                reason: source.to_string(),
            },
        ))
    };
    match e {
        CopyError::NotFound { target, what } => CopyError::NotFound {
            target: target.clone(),
            what: what.clone(),
        },
        CopyError::Source {
            target,
            what,
            error: source,
        } => CopyError::Source {
            target: target.clone(),
            what: what.clone(),
            error: oci(target, source),
        },
        CopyError::Destination {
            target,
            what,
            error: source,
        } => CopyError::Destination {
            target: target.clone(),
            what: what.clone(),
            error: oci(target, source),
        },
        CopyError::BlobMismatch {
            target,
            digest,
            expected_size,
            found,
        } => CopyError::BlobMismatch {
            target: target.clone(),
            digest: *digest,
            expected_size: *expected_size,
            found: found.clone(),
        },
        CopyError::Manifest {
            target,
            what,
            reason,
        } => CopyError::Manifest {
            target: target.clone(),
            what: what.clone(),
            reason: reason.clone(),
        },
    }
}

/// A blob copy, shared by every copy of a batch that needs it.
pub(super) type SharedBlob<'a> = Shared<BoxFuture<'a, Result<BlobRecord, Arc<SharedError>>>>;

/// Awaits blobs; the first error, if any.
pub(super) async fn blobs_done(blobs: Vec<SharedBlob<'_>>) -> Result<Vec<BlobRecord>, CopyError> {
    let mut records = Vec::with_capacity(blobs.len());
    let mut first_err = None;
    for r in futures_util::future::join_all(blobs).await {
        match r {
            Ok(record) => records.push(record),
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    match first_err {
        Some(e) => Err(e.take()),
        None => Ok(records),
    }
}

/// One blob: skipped when present (asked first only with `check`), else mounted from the
/// source repository (same registry), else — a small blob, to a registry — read whole, checked
/// against the descriptor, and stored in as few requests as the registry allows
/// ([`Target::put_small_blob`]; mounted from `sibling`, another destination repository of the
/// batch that holds it, where the registry takes no whole blob in one `POST`), else streamed
/// while hashed and counted, and committed only when every byte matches the descriptor.
pub(super) async fn copy_blob(
    src: &Target,
    dst: &Target,
    desc: &Descriptor,
    check: bool,
    sibling: Option<&Target>,
    opts: &CopyOptions,
    progress: &dyn CopyProgress,
) -> Result<BlobOutcome, CopyError> {
    let what = format!("blob {}", desc.digest);
    if check
        && dst
            .has_blob(&desc.digest, Access::Push)
            .await
            .map_err(dst_err(dst, what.clone()))?
    {
        return Ok(BlobOutcome::Skipped);
    }
    let mountable = opts.mount && dst.mount_source(src).is_some();
    if !mountable && desc.size <= SMALL_PUT && matches!(dst, Target::Registry { .. }) {
        let bytes = read_small(src, desc).await?;
        dst.put_small_blob(bytes, sibling)
            .await
            .map_err(dst_err(dst, what))?;
        progress.blob_bytes(&desc.digest, desc.size);
        return Ok(BlobOutcome::Copied);
    }
    let mut writer = if mountable {
        match dst
            .mount_blob(src, &desc.digest, opts.chunk_size)
            .await
            .map_err(dst_err(dst, format!("{what} (mount)")))?
        {
            MountOutcome::Mounted => return Ok(BlobOutcome::Mounted),
            MountOutcome::NotMounted(w) => (*w).with_size(desc.size),
        }
    } else {
        dst.blob_writer(opts.chunk_size)
            .map_err(dst_err(dst, what.clone()))?
            .with_size(desc.size)
    };
    let mut reader = match src.open_blob(desc, Access::Pull).await {
        Ok(r) => r,
        Err(e) => {
            writer.abort().await;
            return Err(src_err(src, what)(e));
        }
    };
    let mut hasher = Sha256::new();
    let mut total: u64 = 0;
    loop {
        let chunk = match reader.chunk().await {
            Ok(Some(c)) => c,
            Ok(None) => break,
            Err(e) => {
                writer.abort().await;
                return Err(src_err(src, what)(e));
            }
        };
        total += chunk.len() as u64;
        if total > desc.size {
            writer.abort().await;
            return Err(CopyError::BlobMismatch {
                target: src.describe(),
                digest: desc.digest,
                expected_size: desc.size,
                found: format!("more than {} bytes", desc.size),
            });
        }
        hasher.update(&chunk);
        if let Err(e) = writer.write(&chunk).await {
            writer.abort().await;
            return Err(dst_err(dst, what)(e));
        }
        progress.blob_bytes(&desc.digest, chunk.len() as u64);
    }
    let found = Sha256Digest::from_bytes(hasher.finalize().into());
    if total != desc.size || found != desc.digest {
        writer.abort().await;
        return Err(CopyError::BlobMismatch {
            target: src.describe(),
            digest: desc.digest,
            expected_size: desc.size,
            found: format!("{total} bytes with digest {found}"),
        });
    }
    writer
        .commit(&desc.digest)
        .await
        .map_err(dst_err(dst, what))?;
    Ok(BlobOutcome::Copied)
}

/// A small blob read whole from `src` (remembered from the gate's reads, or one `GET`), at
/// most `desc.size` bytes, and checked against the descriptor's size and digest before anything
/// is sent.
async fn read_small(src: &Target, desc: &Descriptor) -> Result<Bytes, CopyError> {
    let what = format!("blob {}", desc.digest);
    let mut reader = src
        .open_blob(desc, Access::Pull)
        .await
        .map_err(src_err(src, what.clone()))?;
    let mismatch = |found: String| CopyError::BlobMismatch {
        target: src.describe(),
        digest: desc.digest,
        expected_size: desc.size,
        found,
    };
    let mut first: Option<Bytes> = None;
    let mut more = bytes::BytesMut::new();
    let mut total: u64 = 0;
    while let Some(chunk) = reader.chunk().await.map_err(src_err(src, what.clone()))? {
        total += chunk.len() as u64;
        if total > desc.size {
            return Err(mismatch(format!("more than {} bytes", desc.size)));
        }
        match first.take() {
            None if more.is_empty() => first = Some(chunk),
            prev => {
                if let Some(p) = prev {
                    more.extend_from_slice(&p);
                }
                more.extend_from_slice(&chunk);
            }
        }
    }
    let bytes = first.unwrap_or_else(|| more.freeze());
    let found = Sha256Digest::of(&bytes);
    if total != desc.size || found != desc.digest {
        return Err(mismatch(format!("{total} bytes with digest {found}")));
    }
    Ok(bytes)
}
