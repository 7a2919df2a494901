//! Blobs: existence, download (whole or streamed), and upload (monolithic, chunked, or by
//! cross-repository mount).

use bytes::Bytes;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use reqwest::{Method, StatusCode};

use super::{Access, RegistryClient, RegistryError, RequestKind, read_capped};
use crate::digest::Sha256Digest;
use crate::oci::manifest::Descriptor;
use crate::oci::reference::RegistryRef;

impl RegistryClient {
    /// `HEAD /v2/<repo>/blobs/<digest>`.
    pub async fn has_blob(
        &self,
        r: &RegistryRef,
        digest: &Sha256Digest,
        access: Access,
    ) -> Result<bool, RegistryError> {
        let url = format!("{}/blobs/{digest}", self.base(r));
        let op = format!("HEAD blob {}@{digest}", r.repository);
        let resp = self
            .send(r, access, RequestKind::BlobHead, &op, |c| c.head(&url))
            .await?;
        match resp.status() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(Self::fail(r, &op, resp).await),
        }
    }

    /// `GET /v2/<repo>/blobs/<digest>`, at most `limit` bytes, checked against the descriptor's
    /// digest and size.
    pub async fn get_blob(
        &self,
        r: &RegistryRef,
        desc: &Descriptor,
        access: Access,
        limit: u64,
    ) -> Result<Vec<u8>, RegistryError> {
        let what = format!("blob {}@{}", r.repository, desc.digest);
        if desc.size > limit {
            return Err(RegistryError::TooLarge { what, limit });
        }
        let url = format!("{}/blobs/{}", self.base(r), desc.digest);
        let op = format!("GET {what}");
        let resp = self
            .send(r, access, RequestKind::BlobGet, &op, |c| c.get(&url))
            .await?;
        if !resp.status().is_success() {
            return Err(Self::fail(r, &op, resp).await);
        }
        // At most the announced size: a longer body cannot match the descriptor anyway.
        let bytes = read_capped(resp, desc.size.min(limit), &what).await?;
        let found = Sha256Digest::of(&bytes);
        if found != desc.digest || bytes.len() as u64 != desc.size {
            return Err(RegistryError::DigestMismatch {
                what,
                expected: format!("{} ({} bytes)", desc.digest, desc.size),
                found,
            });
        }
        Ok(bytes)
    }

    /// Uploads a blob, unless the registry has it. A blob of at most 1 MiB goes
    /// in one request (`POST …/uploads/?digest=` with the bytes: OCI distribution's single
    /// `POST`) without asking first whether the registry has it (registries take a blob they
    /// have again); where the registry answers by opening a session instead (distribution
    /// 2.8), the bytes follow in a `PUT`, and later blobs go as a mount from the repository
    /// itself (one request when it has the blob) then, if need be, `PUT`. Larger blobs: `HEAD`,
    /// then `POST` and `PUT ?digest=`.
    pub async fn put_blob(
        &self,
        r: &RegistryRef,
        bytes: Bytes,
    ) -> Result<Sha256Digest, RegistryError> {
        self.put_blob_from(r, bytes, None).await
    }

    /// [`RegistryClient::put_blob`], where `from` names another repository of the same
    /// registry that holds the blob already (another copy of a batch stored it there): a
    /// registry without single `POST` is asked to mount it from there (one request) rather
    /// than from `r` itself.
    pub async fn put_blob_from(
        &self,
        r: &RegistryRef,
        bytes: Bytes,
        from: Option<&str>,
    ) -> Result<Sha256Digest, RegistryError> {
        let digest = Sha256Digest::of(&bytes);
        let single = bytes.len() <= SINGLE_POST
            && !self
                .no_single_post
                .lock()
                .is_ok_and(|s| s.contains(&r.registry));
        if single {
            if let Some(upload) = self.single_post(r, &digest, bytes.clone()).await? {
                self.finish_upload(r, upload, &digest, bytes).await?;
            }
            return Ok(digest);
        }
        if bytes.len() <= SINGLE_POST {
            // A registry without single POST (distribution 2.8): the session is opened by a
            // mount from the repository itself, which stores the blob in that one request
            // when the repository has it already (and opens the session otherwise).
            let from = from.unwrap_or(&r.repository);
            if let Mount::Upload(upload) = self.mount_blob(r, &digest, from).await? {
                self.finish_upload(r, upload, &digest, bytes).await?;
            }
            return Ok(digest);
        }
        if self.has_blob(r, &digest, Access::Push).await? {
            return Ok(digest);
        }
        let upload = self.start_upload(r).await?;
        self.finish_upload(r, upload, &digest, bytes).await?;
        Ok(digest)
    }

    /// `POST /v2/<repo>/blobs/uploads/?digest=<digest>` with the bytes: `None` when the
    /// registry stored the blob (201), else the upload session it opened instead (202; the
    /// registry is remembered as one without single `POST`).
    async fn single_post(
        &self,
        r: &RegistryRef,
        digest: &Sha256Digest,
        bytes: Bytes,
    ) -> Result<Option<BlobUpload>, RegistryError> {
        let url = format!("{}/blobs/uploads/", self.base(r));
        let op = format!("POST blob {}@{digest}", r.repository);
        let digest_s = digest.to_string();
        let resp = self
            .send(r, Access::Push, RequestKind::BlobPost, &op, |c| {
                c.post(&url)
                    .query(&[("digest", digest_s.as_str())])
                    .header(CONTENT_TYPE, "application/octet-stream")
                    .header(CONTENT_LENGTH, bytes.len().to_string())
                    .body(bytes.clone())
            })
            .await?;
        match resp.status() {
            StatusCode::CREATED => Ok(None),
            StatusCode::ACCEPTED => {
                if let Ok(mut s) = self.no_single_post.lock() {
                    s.insert(r.registry.clone());
                }
                Ok(Some(BlobUpload {
                    location: self.upload_location(r, &resp)?,
                    offset: 0,
                }))
            }
            _ => Err(Self::fail(r, &op, resp).await),
        }
    }

    /// `GET /v2/<repo>/blobs/<digest>` as a stream of chunks, for blobs too large to hold in
    /// memory. Refused at once when the registry announces more bytes than `desc.size`; the
    /// caller hashes and counts what it reads (see [`BlobStream`]).
    pub async fn open_blob(
        &self,
        r: &RegistryRef,
        desc: &Descriptor,
        access: Access,
    ) -> Result<BlobStream, RegistryError> {
        let what = format!("blob {}/{}@{}", r.registry, r.repository, desc.digest);
        let url = format!("{}/blobs/{}", self.base(r), desc.digest);
        let op = format!("GET {what}");
        let resp = self
            .send(r, access, RequestKind::BlobGet, &op, |c| c.get(&url))
            .await?;
        if !resp.status().is_success() {
            return Err(Self::fail(r, &op, resp).await);
        }
        if let Some(n) = resp.content_length()
            && n > desc.size
        {
            return Err(RegistryError::TooLarge {
                what: format!("{what} (the registry announces {n} bytes, its descriptor says)"),
                limit: desc.size,
            });
        }
        Ok(BlobStream {
            resp,
            registry: r.registry.clone(),
            what,
        })
    }

    fn upload_location(
        &self,
        r: &RegistryRef,
        resp: &reqwest::Response,
    ) -> Result<String, RegistryError> {
        let location = resp
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| RegistryError::Invalid {
                registry: r.registry.clone(),
                reason: "blob upload answered without a Location header".into(),
            })?
            .to_owned();
        let location = if location.starts_with('/') {
            let scheme = if self.plain_http(r) { "http" } else { "https" };
            format!("{scheme}://{}{location}", r.api_host())
        } else {
            location
        };
        self.check_scheme(&location, r)?;
        Ok(location)
    }

    /// `POST /v2/<repo>/blobs/uploads/`: opens an upload session.
    pub async fn start_upload(&self, r: &RegistryRef) -> Result<BlobUpload, RegistryError> {
        let url = format!("{}/blobs/uploads/", self.base(r));
        let op = format!("POST blob upload {}", r.repository);
        let resp = self
            .send(r, Access::Push, RequestKind::BlobPost, &op, |c| {
                c.post(&url).header(CONTENT_LENGTH, "0")
            })
            .await?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(Self::fail(r, &op, resp).await);
        }
        Ok(BlobUpload {
            location: self.upload_location(r, &resp)?,
            offset: 0,
        })
    }

    /// `POST /v2/<repo>/blobs/uploads/?mount=<digest>&from=<repo>`: asks the registry to link
    /// a blob it already holds in repository `from` (same registry) into `r`, without sending
    /// it. A registry that cannot (other storage, no access to `from`) opens an upload session
    /// instead, returned for the caller to use.
    pub async fn mount_blob(
        &self,
        r: &RegistryRef,
        digest: &Sha256Digest,
        from: &str,
    ) -> Result<Mount, RegistryError> {
        let url = format!("{}/blobs/uploads/", self.base(r));
        let op = format!("POST blob mount {}@{digest} from {from}", r.repository);
        let digest_s = digest.to_string();
        let resp = self
            .send(r, Access::Push, RequestKind::BlobPost, &op, |c| {
                c.post(&url)
                    .query(&[("mount", digest_s.as_str()), ("from", from)])
                    .header(CONTENT_LENGTH, "0")
            })
            .await?;
        match resp.status() {
            StatusCode::CREATED => Ok(Mount::Mounted),
            StatusCode::ACCEPTED => Ok(Mount::Upload(BlobUpload {
                location: self.upload_location(r, &resp)?,
                offset: 0,
            })),
            _ => Err(Self::fail(r, &op, resp).await),
        }
    }

    /// `PATCH <upload location>`: appends `chunk` to the upload (`Content-Range`), following
    /// the new location the registry answers with.
    pub async fn upload_chunk(
        &self,
        r: &RegistryRef,
        upload: &mut BlobUpload,
        chunk: Bytes,
    ) -> Result<(), RegistryError> {
        if chunk.is_empty() {
            return Ok(());
        }
        let end = upload.offset + chunk.len() as u64 - 1;
        let range = format!("{}-{end}", upload.offset);
        let op = format!("PATCH blob upload {} (bytes {range})", r.repository);
        let url = upload.location.clone();
        let resp = self
            .send(r, Access::Push, RequestKind::BlobPatch, &op, |c| {
                c.request(Method::PATCH, &url)
                    .header(CONTENT_TYPE, "application/octet-stream")
                    .header("content-range", &range)
                    .body(chunk.clone())
            })
            .await?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(Self::fail(r, &op, resp).await);
        }
        upload.location = self.upload_location(r, &resp)?;
        upload.offset = end + 1;
        Ok(())
    }

    /// `PATCH <upload location>` with the `length` bytes that remain of the blob in one request,
    /// streamed from `body` as they are read (docker and skopeo send a layer so): a registry that
    /// keeps an upload in memory copies it whole on each `PATCH` (ferro-oci-server does), and a
    /// layer in 8 MiB chunks cost it a copy per chunk. Sent once, never again: a body read once
    /// cannot be sent twice, so a failure (or a registry asking for credentials now) is an error
    /// and the blob is sent again from the start. A body shorter or longer than `length` fails
    /// the request; nothing is stored until [`finish_upload`](Self::finish_upload).
    pub async fn upload_stream(
        &self,
        r: &RegistryRef,
        upload: &mut BlobUpload,
        length: u64,
        body: reqwest::Body,
    ) -> Result<(), RegistryError> {
        if length == 0 {
            return Ok(());
        }
        let end = upload.offset + length - 1;
        let range = format!("{}-{end}", upload.offset);
        let op = format!("PATCH blob upload {} (bytes {range})", r.repository);
        let url = upload.location.clone();
        let resp = self
            .send_once(r, Access::Push, RequestKind::BlobPatch, &op, |c| {
                c.request(Method::PATCH, &url)
                    .header(CONTENT_TYPE, "application/octet-stream")
                    .header("content-range", &range)
                    .header(CONTENT_LENGTH, length)
                    .body(body)
            })
            .await?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(Self::fail(r, &op, resp).await);
        }
        upload.location = self.upload_location(r, &resp)?;
        upload.offset = end + 1;
        Ok(())
    }

    /// `PUT <upload location>?digest=<digest>` with the last bytes (may be empty): commits the
    /// upload. The registry checks the digest of everything uploaded and refuses a mismatch.
    pub async fn finish_upload(
        &self,
        r: &RegistryRef,
        upload: BlobUpload,
        digest: &Sha256Digest,
        last: Bytes,
    ) -> Result<(), RegistryError> {
        let location = upload.location;
        let sep = if location.contains('?') { '&' } else { '?' };
        let put_url = format!("{location}{sep}digest={digest}");
        let op = format!("PUT blob {}@{digest}", r.repository);
        let resp = self
            .send(r, Access::Push, RequestKind::BlobPut, &op, |c| {
                c.request(Method::PUT, &put_url)
                    .header(CONTENT_TYPE, "application/octet-stream")
                    .body(last.clone())
            })
            .await?;
        if resp.status() != StatusCode::CREATED {
            return Err(Self::fail(r, &op, resp).await);
        }
        Ok(())
    }

    /// `DELETE <upload location>`: abandons an upload (best effort: the registry expires
    /// abandoned uploads anyway).
    pub async fn cancel_upload(&self, r: &RegistryRef, upload: BlobUpload) {
        let op = format!("DELETE blob upload {}", r.repository);
        let url = upload.location;
        let _ = self
            .send(r, Access::Push, RequestKind::BlobDelete, &op, |c| {
                c.delete(&url)
            })
            .await;
    }
}

/// An open blob upload session (OCI distribution: `POST`, `PATCH`…, `PUT ?digest=`).
#[derive(Debug)]
pub struct BlobUpload {
    /// Where the next request goes (the registry moves it after each chunk).
    location: String,
    /// Bytes uploaded so far.
    offset: u64,
}

impl BlobUpload {
    /// Bytes uploaded so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }
}

/// The outcome of a cross-repository mount.
#[derive(Debug)]
pub enum Mount {
    /// The registry linked the blob: nothing to send.
    Mounted,
    /// The registry did not mount; it opened this upload session instead.
    Upload(BlobUpload),
}

/// A blob body being received, chunk by chunk. It is *not* checked here: whoever reads it
/// hashes and counts the bytes, and compares them with the descriptor before using them.
#[derive(Debug)]
pub struct BlobStream {
    resp: reqwest::Response,
    registry: String,
    what: String,
}

impl BlobStream {
    /// The next chunk; `None` at the end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, RegistryError> {
        self.resp.chunk().await.map_err(|e| RegistryError::Network {
            registry: self.registry.clone(),
            reason: format!("reading {}: {e}", self.what),
        })
    }
}

/// Blobs up to this size are uploaded in one request where the registry takes it.
const SINGLE_POST: usize = 1 << 20;
