//! The judge behind every endpoint: image names → digests → verdicts, with a bounded verdict
//! cache, a short tag cache, one shared evaluation per image at a time, and a deadline.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use futures_util::future::{BoxFuture, FutureExt, Shared};
use vouch_core::digest::Sha256Digest;
use vouch_core::oci::reference::{ImageRef, RegistryRef};
use vouch_core::oci::registry::{Access, RegistryClient};
use vouch_core::oci::{OciLimits, Target, resolve};

use super::metrics::Metrics;
use super::review::Answer;
use crate::policy::report::Status;
use crate::policy::{ImageSource, Policy, PolicyError, Verdict, evaluate_in};

/// What happens when an image cannot be judged in time (registry down, deadline).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureMode {
    /// Deny (the default): nothing unverified runs.
    Deny,
    /// Allow, with a warning naming the image and the error.
    Allow,
}

/// The judge's knobs.
#[derive(Debug, Clone)]
pub struct JudgeOptions {
    /// Caps on what is read from registries.
    pub limits: OciLimits,
    /// How long a verdict is reused.
    pub verdict_ttl: Duration,
    /// The most verdicts kept.
    pub verdict_capacity: usize,
    /// How long a tag's digest is reused.
    pub tag_ttl: Duration,
    /// Time allowed to judge a review's images (below the API server's `timeoutSeconds`).
    pub deadline: Duration,
    /// What an image that could not be judged gets.
    pub failure_mode: FailureMode,
    /// Where `.sig`/`.att` tags live when not beside the image (`VOUCH_REPOSITORY`).
    pub attachments_repository: Option<RegistryRef>,
    /// The most evaluations and tag resolutions in flight against one registry.
    pub registry_concurrency: usize,
}

impl Default for JudgeOptions {
    fn default() -> Self {
        Self {
            limits: OciLimits::default(),
            verdict_ttl: Duration::from_secs(60),
            verdict_capacity: 4096,
            tag_ttl: Duration::from_secs(10),
            deadline: Duration::from_secs(8),
            failure_mode: FailureMode::Deny,
            attachments_repository: None,
            registry_concurrency: 32,
        }
    }
}

/// The evaluation clock (Unix seconds).
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// A loaded policy and its generation (bumped at every reload, so cached verdicts of an older
/// policy, keys or trusted roots are never reused).
#[derive(Debug)]
pub struct LoadedPolicy {
    /// The policy.
    pub policy: Policy,
    /// Reload counter.
    pub generation: u64,
}

/// The outcome for one image.
#[derive(Debug, Clone)]
pub enum ImageVerdict {
    /// Judged by the policy.
    Judged {
        /// The reference as written.
        image: String,
        /// The digest judged.
        digest: Sha256Digest,
        /// The verdict.
        verdict: Arc<Verdict>,
    },
    /// Not an image reference vouch can judge (denied whatever the failure mode).
    Invalid {
        /// The reference as written.
        image: String,
        /// Why.
        reason: String,
    },
    /// Could not be judged: registry error or deadline (the failure mode applies).
    Failed {
        /// The reference as written.
        image: String,
        /// Why.
        reason: String,
    },
    /// The registry sent content that does not match its digest (denied whatever the failure
    /// mode: a registry that lies is not a registry that is down).
    Tampered {
        /// The reference as written.
        image: String,
        /// Which content, the digest expected and the digest found.
        reason: String,
    },
}

impl ImageVerdict {
    fn unjudged(image: &str, u: Unjudged) -> Self {
        let image = image.to_owned();
        if u.tampered {
            Self::Tampered {
                image,
                reason: u.reason,
            }
        } else {
            Self::Failed {
                image,
                reason: u.reason,
            }
        }
    }

    /// The digest judged, when allowed.
    pub fn allowed_digest(&self) -> Option<Sha256Digest> {
        match self {
            Self::Judged {
                digest, verdict, ..
            } if verdict.allowed => Some(*digest),
            _ => None,
        }
    }
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    name: String,
    digest: Sha256Digest,
    namespace: Option<String>,
    policy: Sha256Digest,
    generation: u64,
}

/// A map with a capacity (oldest inserted evicted first) and a time to live.
struct Bounded<K, V> {
    map: HashMap<K, (Instant, V)>,
    order: VecDeque<K>,
    capacity: usize,
    ttl: Duration,
}

impl<K: Clone + Eq + Hash, V: Clone> Bounded<K, V> {
    fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            map: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
            ttl,
        }
    }

    fn get(&self, k: &K) -> Option<V> {
        self.map
            .get(k)
            .filter(|(t, _)| t.elapsed() < self.ttl)
            .map(|(_, v)| v.clone())
    }

    fn insert(&mut self, k: K, v: V) {
        if self.map.insert(k.clone(), (Instant::now(), v)).is_none() {
            self.order.push_back(k);
        }
        while self.map.len() > self.capacity {
            match self.order.pop_front() {
                Some(old) => {
                    self.map.remove(&old);
                }
                None => break,
            }
        }
    }
}

type Flight = Shared<BoxFuture<'static, Result<Arc<Verdict>, Unjudged>>>;

/// Why an image was not judged.
#[derive(Debug, Clone)]
struct Unjudged {
    reason: String,
    /// The registry sent content whose digest is not the one asked for or announced: a lie,
    /// not an outage, so the failure mode does not apply (denied, and never cached).
    tampered: bool,
}

impl Unjudged {
    fn new(reason: String) -> Self {
        Self {
            reason,
            tampered: false,
        }
    }
}

/// Whether a registry error is content that does not match its digest.
fn digest_mismatch(e: &vouch_core::oci::OciError) -> bool {
    matches!(
        e,
        vouch_core::oci::OciError::Registry(
            vouch_core::oci::registry::RegistryError::DigestMismatch { .. }
        )
    )
}

/// Judges images for the webhook endpoints.
pub struct Judge {
    client: Arc<RegistryClient>,
    opts: JudgeOptions,
    clock: Clock,
    policy: RwLock<Arc<LoadedPolicy>>,
    generation: AtomicU64,
    verdicts: Mutex<Bounded<Key, Arc<Verdict>>>,
    tags: Mutex<Bounded<String, Sha256Digest>>,
    inflight: Mutex<HashMap<Key, Flight>>,
    per_registry: Mutex<HashMap<String, Arc<tokio::sync::Semaphore>>>,
    /// The service's metrics.
    pub metrics: Metrics,
}

impl Judge {
    /// A judge with `policy` (generation 0).
    pub fn new(
        policy: Policy,
        client: Arc<RegistryClient>,
        opts: JudgeOptions,
        clock: Clock,
    ) -> Self {
        Self {
            verdicts: Mutex::new(Bounded::new(opts.verdict_capacity, opts.verdict_ttl)),
            tags: Mutex::new(Bounded::new(opts.verdict_capacity, opts.tag_ttl)),
            client,
            opts,
            clock,
            policy: RwLock::new(Arc::new(LoadedPolicy {
                policy,
                generation: 0,
            })),
            generation: AtomicU64::new(0),
            inflight: Mutex::new(HashMap::new()),
            per_registry: Mutex::new(HashMap::new()),
            metrics: Metrics::default(),
        }
    }

    /// The options.
    pub fn options(&self) -> &JudgeOptions {
        &self.opts
    }

    /// The policy in force.
    pub fn policy(&self) -> Arc<LoadedPolicy> {
        match self.policy.read() {
            Ok(p) => p.clone(),
            Err(e) => e.into_inner().clone(),
        }
    }

    /// Re-reads the policy file; on error the policy in force stays (and the error is returned
    /// for the log). Reviews in flight finish with the policy they started with.
    pub fn reload(&self, path: &Path) -> Result<Arc<LoadedPolicy>, PolicyError> {
        let policy = Policy::load(path)?;
        let loaded = Arc::new(LoadedPolicy {
            policy,
            generation: self.generation.fetch_add(1, Ordering::SeqCst) + 1,
        });
        match self.policy.write() {
            Ok(mut p) => *p = loaded.clone(),
            Err(e) => *e.into_inner() = loaded.clone(),
        }
        Ok(loaded)
    }

    /// Judges every image (each distinct reference once, concurrently), in the namespace, before
    /// the deadline, by the policy in force (returned with the outcomes, in the order of
    /// `images`; a reload meanwhile does not change it).
    pub async fn judge_images(
        self: &Arc<Self>,
        images: &[String],
        namespace: Option<&str>,
    ) -> (Arc<LoadedPolicy>, Vec<ImageVerdict>) {
        let deadline = tokio::time::Instant::now() + self.opts.deadline;
        let policy = self.policy();
        let mut distinct: Vec<&String> = Vec::new();
        for i in images {
            if !distinct.contains(&i) {
                distinct.push(i);
            }
        }
        let jobs = distinct.iter().map(|image| {
            let policy = policy.clone();
            async move {
                match tokio::time::timeout_at(deadline, self.judge_one(&policy, image, namespace))
                    .await
                {
                    Ok(v) => v,
                    Err(_) => {
                        self.metrics.inc("vouch_registry_errors_total", "deadline");
                        ImageVerdict::Failed {
                            image: (*image).clone(),
                            reason: format!(
                                "not judged within the {} ms deadline",
                                self.opts.deadline.as_millis()
                            ),
                        }
                    }
                }
            }
        });
        let judged = futures_util::future::join_all(jobs).await;
        let outcomes = images
            .iter()
            .map(|i| {
                let at = distinct.iter().position(|d| *d == i).unwrap_or(0);
                judged[at].clone()
            })
            .collect();
        (policy, outcomes)
    }

    /// A slot for one operation against `registry` (`--registry-concurrency` per registry).
    async fn registry_slot(&self, registry: &str) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let sem = {
            let mut m = self.per_registry.lock().ok()?;
            m.entry(registry.to_owned())
                .or_insert_with(|| {
                    Arc::new(tokio::sync::Semaphore::new(
                        self.opts.registry_concurrency.max(1),
                    ))
                })
                .clone()
        };
        sem.acquire_owned().await.ok()
    }

    async fn digest_of(&self, r: &RegistryRef) -> Result<Sha256Digest, Unjudged> {
        if let Some(d) = r.digest {
            return Ok(d);
        }
        let key = format!("{}:{}", r.name(), r.tag.as_deref().unwrap_or("latest"));
        if let Some(d) = self.tags.lock().ok().and_then(|t| t.get(&key)) {
            self.metrics.inc("vouch_cache_hits_total", "tag");
            return Ok(d);
        }
        self.metrics.inc("vouch_cache_misses_total", "tag");
        let _slot = self.registry_slot(&r.registry).await;
        let resolved = resolve(
            &ImageRef::Registry(r.clone()),
            &self.client,
            Access::Pull,
            &self.opts.limits,
        )
        .await
        .map_err(|e| {
            let tampered = digest_mismatch(&e);
            self.metrics.inc(
                "vouch_registry_errors_total",
                if tampered {
                    "digest-mismatch"
                } else {
                    "registry"
                },
            );
            Unjudged {
                reason: format!("cannot resolve the tag: {e}"),
                tampered,
            }
        })?;
        if let Ok(mut t) = self.tags.lock() {
            t.insert(key, resolved.digest);
        }
        Ok(resolved.digest)
    }

    async fn judge_one(
        self: &Arc<Self>,
        policy: &Arc<LoadedPolicy>,
        image: &str,
        namespace: Option<&str>,
    ) -> ImageVerdict {
        let r = match image.parse::<ImageRef>() {
            Ok(ImageRef::Registry(r)) => r,
            Ok(ImageRef::Layout(_)) => {
                return ImageVerdict::Invalid {
                    image: image.to_owned(),
                    reason: "an OCI layout is not an image a cluster can pull".into(),
                };
            }
            Err(e) => {
                return ImageVerdict::Invalid {
                    image: image.to_owned(),
                    reason: format!("not an image reference: {e}"),
                };
            }
        };
        let digest = match self.digest_of(&r).await {
            Ok(d) => d,
            Err(u) => return ImageVerdict::unjudged(image, u),
        };
        let key = Key {
            name: r.name(),
            digest,
            namespace: namespace.map(str::to_owned),
            policy: *policy.policy.digest(),
            generation: policy.generation,
        };
        match self.verdict(policy, &r, key).await {
            Ok(verdict) => ImageVerdict::Judged {
                image: image.to_owned(),
                digest,
                verdict,
            },
            Err(u) => ImageVerdict::unjudged(image, u),
        }
    }

    /// The cached verdict, or the evaluation in flight for the same key, or a new one.
    async fn verdict(
        self: &Arc<Self>,
        policy: &Arc<LoadedPolicy>,
        r: &RegistryRef,
        key: Key,
    ) -> Result<Arc<Verdict>, Unjudged> {
        if let Some(v) = self.verdicts.lock().ok().and_then(|c| c.get(&key)) {
            self.metrics.inc("vouch_cache_hits_total", "verdict");
            return Ok(v);
        }
        let flight = {
            let Ok(mut inflight) = self.inflight.lock() else {
                return Err(Unjudged::new("internal lock poisoned".into()));
            };
            // Again under the lock: an evaluation that finished meanwhile put its verdict in
            // the cache before leaving `inflight`.
            if let Some(v) = self.verdicts.lock().ok().and_then(|c| c.get(&key)) {
                self.metrics.inc("vouch_cache_hits_total", "verdict");
                return Ok(v);
            }
            if let Some(f) = inflight.get(&key) {
                self.metrics.inc("vouch_cache_hits_total", "shared");
                f.clone()
            } else {
                self.metrics.inc("vouch_cache_misses_total", "verdict");
                let f = self.evaluate(policy.clone(), r.clone(), key.clone());
                inflight.insert(key, f.clone());
                f
            }
        };
        flight.await
    }

    /// Evaluates on its own task, so that a review that gives up (deadline) does not cancel
    /// it: the verdict still lands in the cache for the API server's retry.
    fn evaluate(self: &Arc<Self>, policy: Arc<LoadedPolicy>, r: RegistryRef, key: Key) -> Flight {
        let me = self.clone();
        let task = tokio::spawn(async move {
            let _slot = me.registry_slot(&r.registry).await;
            let target = Target::registry(me.client.clone(), &r);
            let attachments = crate::promote::attachment_target(
                &target,
                &me.client,
                me.opts.attachments_repository.as_ref(),
            );
            let src = ImageSource {
                name: key.name.clone(),
                digest: key.digest,
                attachments: &attachments,
                referrers: &target,
            };
            let now = (me.clock)();
            let out = evaluate_in(
                &policy.policy,
                &src,
                key.namespace.as_deref(),
                now,
                &me.opts.limits,
            )
            .await
            .map(Arc::new)
            .map_err(|e| {
                let tampered = matches!(&e, crate::VerifyError::Oci(o) if digest_mismatch(o));
                me.metrics.inc(
                    "vouch_registry_errors_total",
                    if tampered {
                        "digest-mismatch"
                    } else {
                        "evaluation"
                    },
                );
                Unjudged {
                    reason: format!("cannot evaluate: {e}"),
                    tampered,
                }
            });
            if let (Ok(v), Ok(mut c)) = (&out, me.verdicts.lock()) {
                c.insert(key.clone(), v.clone());
            }
            if let Ok(mut f) = me.inflight.lock() {
                f.remove(&key);
            }
            out
        });
        async move {
            task.await
                .unwrap_or_else(|e| Err(Unjudged::new(format!("evaluation task failed: {e}"))))
        }
        .boxed()
        .shared()
    }

    /// The answer for a review's images: denied when any image is denied or invalid, or could
    /// not be judged and the failure mode is deny; `mode: warn` failures become warnings.
    pub fn answer(&self, policy: &LoadedPolicy, outcomes: &[ImageVerdict]) -> Answer {
        let mut denied = Vec::new();
        let mut warnings = Vec::new();
        let mut failed = false;
        for o in outcomes {
            match o {
                ImageVerdict::Judged {
                    image,
                    digest,
                    verdict,
                } => {
                    if verdict.allowed {
                        self.metrics.inc("vouch_verdicts_total", "allowed");
                    } else {
                        let mut codes: Vec<&str> = verdict.failures().map(|c| c.code).collect();
                        codes.dedup();
                        for c in &codes {
                            self.metrics.inc("vouch_verdicts_total", *c);
                        }
                        let why: Vec<String> = verdict
                            .failures()
                            .map(|c| {
                                format!(
                                    "{} {}: expected {}, found {}",
                                    c.code, c.rule, c.expected, c.found
                                )
                            })
                            .collect();
                        denied.push(format!(
                            "{image} ({digest}) denied [{}]: {}",
                            codes.join(", "),
                            why.join("; ")
                        ));
                    }
                    for c in verdict.checks.iter().filter(|c| c.status == Status::Warn) {
                        warnings.push(format!(
                            "vouch: {image}: {} ({}): found {}",
                            c.code, c.rule, c.found
                        ));
                    }
                }
                ImageVerdict::Invalid { image, reason } => {
                    self.metrics
                        .inc("vouch_verdicts_total", "image.invalid-reference");
                    denied.push(format!(
                        "{image} denied [image.invalid-reference]: {reason}"
                    ));
                }
                ImageVerdict::Tampered { image, reason } => {
                    self.metrics
                        .inc("vouch_verdicts_total", "registry.digest-mismatch");
                    denied.push(format!(
                        "{image} denied [registry.digest-mismatch]: {reason}"
                    ));
                }
                ImageVerdict::Failed { image, reason } => {
                    self.metrics
                        .inc("vouch_verdicts_total", "service.unavailable");
                    match self.opts.failure_mode {
                        FailureMode::Deny => {
                            failed = true;
                            denied.push(format!("{image} not judged [service.unavailable]: {reason}"));
                        }
                        FailureMode::Allow => warnings.push(format!(
                            "vouch: {image} admitted without a verdict (failure mode allow): {reason}"
                        )),
                    }
                }
            }
        }
        if denied.is_empty() {
            return Answer {
                allowed: true,
                warnings,
                ..Answer::default()
            };
        }
        Answer {
            allowed: false,
            // Only failures to judge: a service error, so the user retries.
            code: if failed
                && denied.len()
                    == outcomes
                        .iter()
                        .filter(|o| matches!(o, ImageVerdict::Failed { .. }))
                        .count()
            {
                500
            } else {
                403
            },
            message: format!(
                "vouch: {} of {} image(s) not admitted by policy {} ({}): {}",
                denied.len(),
                outcomes.len(),
                policy.policy.source(),
                policy.policy.digest(),
                denied.join(" | ")
            ),
            warnings,
            patch: None,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn blocks_scoped_by_namespace() {
        let p = Policy::parse(
            br#"version: 1
images:
  - match: "**"
    namespaces: ["kube-system"]
  - match: "r.example/**"
    namespaces: ["team-*"]
    excludeNamespaces: ["team-sandbox"]
  - match: "r.example/**"
"#,
            "p.yaml",
            Path::new("."),
        )
        .unwrap();
        let first = |ns: Option<&str>| {
            p.blocks
                .iter()
                .position(|b| b.pattern.matches("r.example/app") && b.applies_in(ns))
        };
        assert_eq!(first(Some("kube-system")), Some(0));
        assert_eq!(first(Some("team-a")), Some(1));
        assert_eq!(first(Some("team-sandbox")), Some(2));
        assert_eq!(first(Some("default")), Some(2));
        // Outside a cluster (verify, promote) blocks limited to namespaces do not apply.
        assert_eq!(first(None), Some(2));
        let e = Policy::parse(
            b"version: 1\nimages:\n  - match: \"**\"\n    namespaces: [\"\"]\n",
            "p.yaml",
            Path::new("."),
        )
        .unwrap_err();
        assert!(e.to_string().contains("images[0].namespaces[0]"), "{e}");
    }

    #[test]
    fn a_digest_mismatch_is_tampering_not_an_outage() {
        use vouch_core::oci::OciError;
        use vouch_core::oci::registry::RegistryError;
        let lie = OciError::Registry(RegistryError::DigestMismatch {
            what: "manifest r.example/app:v1".into(),
            expected: Sha256Digest::of(b"a").to_string(),
            found: Sha256Digest::of(b"b"),
        });
        assert!(digest_mismatch(&lie));
        assert!(!digest_mismatch(&OciError::Registry(
            RegistryError::Credentials("x".into())
        )));
        let v = ImageVerdict::unjudged(
            "r.example/app:v1",
            Unjudged {
                reason: lie.to_string(),
                tampered: true,
            },
        );
        assert!(matches!(v, ImageVerdict::Tampered { .. }));
        assert!(v.allowed_digest().is_none());
        let v = ImageVerdict::unjudged("r.example/app:v1", Unjudged::new("down".into()));
        assert!(matches!(v, ImageVerdict::Failed { .. }));
    }

    #[test]
    fn bounded_cache_evicts_oldest_and_expires() {
        let mut b = Bounded::new(2, Duration::from_secs(60));
        b.insert(1, "a");
        b.insert(2, "b");
        b.insert(3, "c");
        assert_eq!(
            (b.get(&1), b.get(&2), b.get(&3)),
            (None, Some("b"), Some("c"))
        );
        let mut b = Bounded::new(2, Duration::ZERO);
        b.insert(1, "a");
        assert_eq!(b.get(&1), None);
    }
}
