//! vouch-verify: turns untrusted signatures and bundles into verified types, judges images by
//! a policy, and promotes only what the policy admitted.
//!
//! Judge, then copy: an image in an OCI layout is signed with a new key, a policy that requires
//! that key's signature admits it ([`policy::admit`], here through [`promote::promote_all`]),
//! and the admitted digest is copied, with its signature, to another layout. The copy engine
//! takes only an [`policy::Admission`]: a denied image cannot reach it.
//!
//! ```
//! use std::sync::Arc;
//!
//! use vouch_core::cosign::SettleOptions;
//! use vouch_core::keys::SigningKey;
//! use vouch_core::oci::reference::ImageRef;
//! use vouch_core::oci::registry::{Access, RegistryClient, RegistryOptions};
//! use vouch_core::oci::{OciLimits, resolve};
//! use vouch_core::sign::{KeySigner, SignJob, SignatureFormat, sign_images};
//! use vouch_verify::policy::Policy;
//! use vouch_verify::promote::{self, BatchOptions, Context, NoProgress};
//! # use std::collections::BTreeMap;
//! # use vouch_core::oci::layout::{KIND_IMAGE, Layout};
//! # use vouch_core::oci::manifest::{Descriptor, ImageManifest, OCI_CONFIG, OCI_MANIFEST, to_bytes};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let dir = tempfile::tempdir().unwrap();
//! let root = dir.path().display();
//! # // A one-layer image tagged `v1` in the layout `build`.
//! # let layout = Layout::open_or_create(&dir.path().join("build")).unwrap();
//! # let (layer, config) = (b"a layer".to_vec(), b"{}".to_vec());
//! # let manifest = to_bytes(&ImageManifest {
//! #     schema_version: 2,
//! #     media_type: Some(OCI_MANIFEST.into()),
//! #     artifact_type: None,
//! #     config: Descriptor::of(OCI_CONFIG, &config),
//! #     layers: vec![Descriptor::of("application/vnd.oci.image.layer.v1.tar", &layer)],
//! #     subject: None,
//! #     annotations: BTreeMap::new(),
//! #     other: serde_json::Map::new(),
//! # });
//! # for blob in [&layer, &config, &manifest] {
//! #     layout.write_blob(blob).unwrap();
//! # }
//! # {
//! #     let lock = layout.lock().unwrap();
//! #     let mut index = layout.index().unwrap();
//! #     let desc = Descriptor::of(OCI_MANIFEST, &manifest);
//! #     Layout::set_tagged(&mut index, desc, "v1", Some(KIND_IMAGE));
//! #     layout.write_index(&index, &lock).unwrap();
//! # }
//! let src: ImageRef = format!("oci:{root}/build:v1").parse().unwrap();
//! let dst: ImageRef = format!("oci:{root}/prod:v1").parse().unwrap();
//! let client = Arc::new(RegistryClient::new(RegistryOptions::default()).unwrap());
//! let limits = OciLimits::default();
//!
//! // Sign the image (cosign's `.sig` tag) and write the policy that requires that key.
//! let key = SigningKey::generate().unwrap();
//! std::fs::write(dir.path().join("release.pub"), key.public_key().to_pem()).unwrap();
//! let signer = KeySigner::for_images(key).unwrap();
//! let image = resolve(&src, &client, Access::Pull, &limits).await.unwrap();
//! let job = SignJob { attachments: image.target.clone(), image };
//! let settle = SettleOptions::default();
//! sign_images(&signer, &[job], SignatureFormat::Legacy, &BTreeMap::new(), settle, &limits, 1)
//!     .await
//!     .unwrap();
//! let yaml = "version: 1\nimages:\n  - match: \"oci:**\"\n    signatures:\n      authorities: [{key: release.pub}]\n";
//! let policy = Policy::parse(yaml.as_bytes(), "policy.yaml", dir.path()).unwrap();
//!
//! // Judge, then copy what was admitted.
//! let cx = Context {
//!     policy: &policy,
//!     client: client.clone(),
//!     limits,
//!     now: 1_800_000_000,
//!     attachments: None,
//!     settle,
//!     concurrency: 4,
//! };
//! let pairs = [(src, promote::canonical_destination(&dst).unwrap())];
//! let done = promote::promote_all(&pairs, BatchOptions::default(), &cx, &NoProgress).await;
//! let promoted = done[0].result.as_ref().unwrap();
//! assert!(promoted.admitted(), "{:?}", promoted.judged.decision.verdict());
//! let copied = promoted.copy.as_ref().unwrap();
//! assert_eq!(copied.tag.as_ref().unwrap().tag, "v1");
//!
//! // The destination holds exactly the digest judged.
//! let there = resolve(&dst, &client, Access::Pull, &limits).await.unwrap();
//! assert_eq!(there.digest, *promoted.judged.admission().unwrap().digest());
//! # }
//! ```
//!
//! Nothing here returns `Ok(())`: a verification succeeds by returning a value that only this
//! crate can construct ([`VerifiedBlob`](blob::VerifiedBlob)), built from what was actually
//! checked.
//!
//! ```
//! use vouch_core::keys::SigningKey;
//! use vouch_core::limits::Limits;
//!
//! let key = SigningKey::generate().unwrap();
//! let sig = key.sign(b"hello").unwrap().to_base64();
//! let verified = vouch_verify::blob::verify_detached(
//!     &key.public_key(), sig.as_bytes(), &b"hello"[..], &Limits::DEFAULT,
//! ).unwrap();
//! assert_eq!(verified.size(), 5);
//! ```
#![forbid(unsafe_code)]

pub mod admission;
mod attached;
pub mod attestation;
pub mod blob;
pub mod cosign_keyless;
mod error;
pub mod image;
pub mod keyless;
pub mod notary;
pub mod policy;
pub mod promote;
pub mod sigstore_bundle;

pub use error::VerifyError;
