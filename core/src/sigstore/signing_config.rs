//! Where the signing services are: sigstore's `SigningConfig` v0.2
//! (`application/vnd.dev.sigstore.signingconfig.v0.2+json`, protobuf-specs
//! `sigstore_trustroot.proto`) and the `ClientTrustConfig` that pairs it with a trusted root (as
//! sigstore-python's `--trust-config` reads it). Services are chosen as sigstore-python and
//! sigstore-go choose them: valid now, an API version vouch speaks, newest first; transparency
//! logs and TSAs by the config's selector (`ALL`: one per operator, `ANY`: one, `EXACT`: `count`
//! from distinct operators).

use serde::Deserialize;

use super::trusted_root::{TrustedRoot, Validity};
use crate::time::parse_rfc3339;

/// The media type of a SigningConfig v0.2.
pub const SIGNING_CONFIG_V02: &str = "application/vnd.dev.sigstore.signingconfig.v0.2+json";
/// The media type of a ClientTrustConfig v0.1.
pub const CLIENT_TRUST_CONFIG_V01: &str =
    "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json";
/// The embedded public-good signing config (sigstore-python 4.5.1's copy, beside the trusted
/// root of the same source, [`super::trusted_root::PUBLIC_GOOD`]).
pub const PUBLIC_GOOD_SIGNING_CONFIG: &str = include_str!("public-good-signing-config.json");
/// The largest configuration document read (real ones are a few KiB; a trusted root ~10 KiB).
pub const MAX_CONFIG_LEN: usize = 1024 * 1024;
/// The most services of one kind a config may list.
pub const MAX_SERVICES: usize = 64;

/// A configuration that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SigningConfigError {
    /// Not a document vouch reads.
    #[error("signing config: {0}")]
    Malformed(String),
    /// No usable service of a kind.
    #[error(
        "signing config: no {kind} service is valid now with an API version vouch speaks ({supported})"
    )]
    NoService {
        /// `Fulcio`, `Rekor` or `TSA`.
        kind: &'static str,
        /// The API versions vouch speaks.
        supported: &'static str,
    },
    /// `EXACT` asks for more distinct operators than the config has.
    #[error(
        "signing config: the {kind} selector asks for {wanted} services of distinct operators, {found} are usable"
    )]
    TooFew {
        /// `Rekor` or `TSA`.
        kind: &'static str,
        /// `count`.
        wanted: usize,
        /// Usable.
        found: usize,
    },
}

fn malformed(s: impl Into<String>) -> SigningConfigError {
    SigningConfigError::Malformed(s.into())
}

/// One service endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// Its URL (for a TSA the full timestamp URL; for Fulcio and Rekor the base URL).
    pub url: String,
    /// The major API version (`1` for Fulcio v2's API and Rekor v1, `2` for Rekor v2).
    pub major_api_version: u32,
    /// When it may be used.
    pub validity: Validity,
    /// Who runs it.
    pub operator: String,
}

/// How many transparency logs or TSAs to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selector {
    /// One per operator.
    All,
    /// One.
    Any,
    /// This many, of distinct operators.
    Exact(usize),
}

/// A parsed SigningConfig v0.2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningConfig {
    /// Fulcio instances.
    pub ca_urls: Vec<Service>,
    /// OIDC issuers (for the browser flow).
    pub oidc_urls: Vec<Service>,
    /// Rekor instances.
    pub rekor_tlog_urls: Vec<Service>,
    /// Timestamp authorities.
    pub tsa_urls: Vec<Service>,
    /// Rekor selection.
    pub rekor_selector: Selector,
    /// TSA selection.
    pub tsa_selector: Selector,
}

/// A trusted root with the signing config of the same instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientTrustConfig {
    /// Verification material.
    pub trusted_root: TrustedRoot,
    /// Where to sign.
    pub signing_config: SigningConfig,
}

/// The services chosen for one signing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningServices {
    /// The Fulcio to ask.
    pub fulcio: Service,
    /// The Rekor logs to write to (`major_api_version` 1 or 2).
    pub rekor: Vec<Service>,
    /// The TSAs to ask.
    pub tsas: Vec<Service>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireConfig {
    media_type: String,
    #[serde(default)]
    ca_urls: Vec<WireService>,
    #[serde(default)]
    oidc_urls: Vec<WireService>,
    #[serde(default)]
    rekor_tlog_urls: Vec<WireService>,
    #[serde(default)]
    tsa_urls: Vec<WireService>,
    #[serde(default)]
    rekor_tlog_config: Option<WireSelector>,
    #[serde(default)]
    tsa_config: Option<WireSelector>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireService {
    url: String,
    #[serde(default)]
    major_api_version: u32,
    #[serde(default)]
    valid_for: Option<WireValidity>,
    #[serde(default)]
    operator: String,
}

#[derive(Deserialize)]
struct WireValidity {
    start: Option<String>,
    end: Option<String>,
}

#[derive(Deserialize)]
struct WireSelector {
    #[serde(default)]
    selector: Option<String>,
    #[serde(default)]
    count: Option<u32>,
}

fn selector(w: Option<WireSelector>, what: &str) -> Result<Selector, SigningConfigError> {
    let Some(w) = w else {
        return Ok(Selector::Any);
    };
    Ok(match w.selector.as_deref() {
        Some("ALL") => Selector::All,
        None | Some("ANY") => Selector::Any,
        Some("EXACT") => match w.count {
            Some(n) if n > 0 => Selector::Exact(n as usize),
            _ => return Err(malformed(format!("{what}: EXACT needs a positive count"))),
        },
        Some(other) => return Err(malformed(format!("{what}: unknown selector `{other}`"))),
    })
}

fn services(w: Vec<WireService>, what: &str) -> Result<Vec<Service>, SigningConfigError> {
    if w.len() > MAX_SERVICES {
        return Err(malformed(format!(
            "{what}: more than {MAX_SERVICES} services"
        )));
    }
    w.into_iter()
        .map(|s| {
            if !(s.url.starts_with("https://") || s.url.starts_with("http://")) {
                return Err(malformed(format!(
                    "{what}: `{}` is not an http(s) URL",
                    s.url
                )));
            }
            let t = |x: Option<String>| {
                x.map(|x| {
                    parse_rfc3339(&x).ok_or_else(|| malformed(format!("{what}: bad time `{x}`")))
                })
                .transpose()
            };
            let validity = match s.valid_for {
                Some(v) => Validity {
                    start: t(v.start)?,
                    end: t(v.end)?,
                },
                None => Validity {
                    start: None,
                    end: None,
                },
            };
            Ok(Service {
                url: s.url.trim_end_matches('/').to_owned(),
                major_api_version: s.major_api_version,
                validity,
                operator: s.operator,
            })
        })
        .collect()
}

impl SigningConfig {
    /// Parses a SigningConfig v0.2 document.
    pub fn parse(bytes: &[u8]) -> Result<Self, SigningConfigError> {
        if bytes.len() > MAX_CONFIG_LEN {
            return Err(malformed(format!("larger than {MAX_CONFIG_LEN} bytes")));
        }
        let v: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| malformed(format!("not JSON: {e}")))?;
        Self::from_value(v)
    }

    /// The embedded public-good (sigstore.dev production) signing config.
    pub fn public_good() -> Result<Self, SigningConfigError> {
        Self::parse(PUBLIC_GOOD_SIGNING_CONFIG.as_bytes())
    }

    fn from_value(v: serde_json::Value) -> Result<Self, SigningConfigError> {
        let w: WireConfig = serde_json::from_value(v)
            .map_err(|e| malformed(format!("not a signing config: {e}")))?;
        if w.media_type != SIGNING_CONFIG_V02 {
            return Err(malformed(format!(
                "media type `{}`, expected `{SIGNING_CONFIG_V02}`",
                w.media_type
            )));
        }
        Ok(Self {
            ca_urls: services(w.ca_urls, "caUrls")?,
            oidc_urls: services(w.oidc_urls, "oidcUrls")?,
            rekor_tlog_urls: services(w.rekor_tlog_urls, "rekorTlogUrls")?,
            tsa_urls: services(w.tsa_urls, "tsaUrls")?,
            rekor_selector: selector(w.rekor_tlog_config, "rekorTlogConfig")?,
            tsa_selector: selector(w.tsa_config, "tsaConfig")?,
        })
    }

    /// This config with its Rekor v1 logs only: cosign's legacy `.sig`/`.att` layers carry the
    /// entry as a `bundle` annotation whose signed entry timestamp only Rekor v1 gives. Refused
    /// when the config lists no Rekor v1 log (sign in the bundle format then).
    pub fn rekor_v1_only(&self) -> Result<Self, SigningConfigError> {
        let mut c = self.clone();
        c.rekor_tlog_urls.retain(|s| s.major_api_version == 1);
        if c.rekor_tlog_urls.is_empty() {
            return Err(SigningConfigError::NoService {
                kind: "Rekor",
                supported: "Rekor v1: cosign's legacy layers carry a v1 signed entry timestamp; \
                            sign in the bundle format for Rekor v2",
            });
        }
        Ok(c)
    }

    /// The services to sign with at `now` (Unix seconds): the newest valid Fulcio (API v1),
    /// the Rekor logs and the TSAs (API v1) the selectors ask for. Rekor logs of API v2 and v1
    /// are usable; each operator contributes its log of the highest version (the newest of
    /// those), and operators with a v2 log come first — as sigstore-python 4 and the signing
    /// config's documentation (rekor-tiles `CLIENTS.md`) choose. At least one Fulcio and one
    /// Rekor are required; TSAs are optional (none listed: none asked).
    pub fn select(&self, now: i64) -> Result<SigningServices, SigningConfigError> {
        let fulcio = usable(&self.ca_urls, now, &[1]).into_iter().next().ok_or(
            SigningConfigError::NoService {
                kind: "Fulcio",
                supported: "API v1",
            },
        )?;
        let rekor = pick(
            usable(&self.rekor_tlog_urls, now, &REKOR_VERSIONS),
            self.rekor_selector,
            "Rekor",
        )?;
        if rekor.is_empty() {
            return Err(SigningConfigError::NoService {
                kind: "Rekor",
                supported: "Rekor v1 or v2",
            });
        }
        let tsas = if self.tsa_urls.is_empty() {
            Vec::new()
        } else {
            let t = pick(usable(&self.tsa_urls, now, &[1]), self.tsa_selector, "TSA")?;
            if t.is_empty() {
                return Err(SigningConfigError::NoService {
                    kind: "TSA",
                    supported: "API v1",
                });
            }
            t
        };
        Ok(SigningServices {
            fulcio,
            rekor,
            tsas,
        })
    }
}

/// The Rekor API versions vouch writes to.
const REKOR_VERSIONS: [u32; 2] = [2, 1];

/// Valid at `now` with one of `versions`: the highest version first, then the newest start.
fn usable(list: &[Service], now: i64, versions: &[u32]) -> Vec<Service> {
    let mut v: Vec<Service> = list
        .iter()
        .filter(|s| versions.contains(&s.major_api_version) && s.validity.contains(now))
        .cloned()
        .collect();
    v.sort_by_key(|s| {
        (
            std::cmp::Reverse(s.major_api_version),
            std::cmp::Reverse(s.validity.start),
        )
    });
    v
}

fn pick(
    usable: Vec<Service>,
    sel: Selector,
    kind: &'static str,
) -> Result<Vec<Service>, SigningConfigError> {
    // The first of each operator: its highest version, newest.
    let mut per_operator: Vec<Service> = Vec::new();
    for s in usable {
        if !per_operator.iter().any(|p| p.operator == s.operator) {
            per_operator.push(s);
        }
    }
    Ok(match sel {
        Selector::Any => per_operator.into_iter().take(1).collect(),
        Selector::All => per_operator,
        Selector::Exact(n) => {
            if per_operator.len() < n {
                return Err(SigningConfigError::TooFew {
                    kind,
                    wanted: n,
                    found: per_operator.len(),
                });
            }
            per_operator.into_iter().take(n).collect()
        }
    })
}

impl ClientTrustConfig {
    /// Parses a ClientTrustConfig v0.1 (`trustedRoot` + `signingConfig`).
    pub fn parse(bytes: &[u8]) -> Result<Self, SigningConfigError> {
        if bytes.len() > MAX_CONFIG_LEN {
            return Err(malformed(format!(
                "trust config larger than {MAX_CONFIG_LEN} bytes"
            )));
        }
        let mut v: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| malformed(format!("trust config is not JSON: {e}")))?;
        if v.get("mediaType").and_then(|m| m.as_str()) != Some(CLIENT_TRUST_CONFIG_V01) {
            return Err(malformed(format!(
                "trust config: media type is not `{CLIENT_TRUST_CONFIG_V01}`"
            )));
        }
        let root = v
            .get_mut("trustedRoot")
            .map(serde_json::Value::take)
            .ok_or_else(|| malformed("trust config: no trustedRoot"))?;
        let sc = v
            .get_mut("signingConfig")
            .map(serde_json::Value::take)
            .ok_or_else(|| malformed("trust config: no signingConfig"))?;
        let root = serde_json::to_vec(&root).map_err(|e| malformed(e.to_string()))?;
        Ok(Self {
            trusted_root: TrustedRoot::parse(&root)
                .map_err(|e| malformed(format!("trust config: {e}")))?,
            signing_config: SigningConfig::from_value(sc)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(rekor: serde_json::Value, sel: &str) -> Vec<u8> {
        serde_json::json!({
            "mediaType": SIGNING_CONFIG_V02,
            "caUrls": [
                {"url": "https://old.fulcio", "majorApiVersion": 1,
                 "validFor": {"start": "2020-01-01T00:00:00Z", "end": "2021-01-01T00:00:00Z"}, "operator": "a"},
                {"url": "https://fulcio/", "majorApiVersion": 1,
                 "validFor": {"start": "2022-01-01T00:00:00Z"}, "operator": "a"}
            ],
            "rekorTlogUrls": rekor,
            "tsaUrls": [{"url": "https://tsa/api/v1/timestamp", "majorApiVersion": 1,
                         "validFor": {"start": "2022-01-01T00:00:00Z"}, "operator": "a"}],
            "rekorTlogConfig": {"selector": sel, "count": 2},
            "tsaConfig": {"selector": "ANY"}
        })
        .to_string()
        .into_bytes()
    }

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn chooses_valid_services_by_selector() {
        let logs = serde_json::json!([
            {"url": "https://rekor2", "majorApiVersion": 2, "validFor": {"start": "2025-01-01T00:00:00Z"}, "operator": "a"},
            {"url": "https://rekor-a", "majorApiVersion": 1, "validFor": {"start": "2022-01-01T00:00:00Z"}, "operator": "a"},
            {"url": "https://rekor-b", "majorApiVersion": 1, "validFor": {"start": "2023-01-01T00:00:00Z"}, "operator": "b"},
            {"url": "https://rekor-gone", "majorApiVersion": 1, "validFor": {"start": "2022-01-01T00:00:00Z", "end": "2023-01-01T00:00:00Z"}, "operator": "c"}
        ]);
        let c = SigningConfig::parse(&config(logs.clone(), "ANY")).unwrap();
        let s = c.select(NOW).unwrap();
        assert_eq!(s.fulcio.url, "https://fulcio");
        // Rekor v2 first (the highest version vouch speaks); one log per operator.
        let urls = |s: &SigningServices| {
            s.rekor
                .iter()
                .map(|r| (r.url.clone(), r.major_api_version))
                .collect::<Vec<_>>()
        };
        assert_eq!(urls(&s), [("https://rekor2".to_owned(), 2)]);
        assert_eq!(s.tsas.len(), 1);
        let s = SigningConfig::parse(&config(logs.clone(), "ALL"))
            .unwrap()
            .select(NOW)
            .unwrap();
        assert_eq!(
            urls(&s),
            [
                ("https://rekor2".to_owned(), 2),
                ("https://rekor-b".to_owned(), 1)
            ]
        );
        let s = SigningConfig::parse(&config(logs, "EXACT"))
            .unwrap()
            .select(NOW)
            .unwrap();
        assert_eq!(s.rekor.len(), 2);
        // Only v1 logs: the newest valid one.
        let only_v1 = serde_json::json!([
            {"url": "https://rekor-a", "majorApiVersion": 1, "validFor": {"start": "2022-01-01T00:00:00Z"}, "operator": "a"},
            {"url": "https://rekor-b", "majorApiVersion": 1, "validFor": {"start": "2023-01-01T00:00:00Z"}, "operator": "b"}
        ]);
        let s = SigningConfig::parse(&config(only_v1, "ANY"))
            .unwrap()
            .select(NOW)
            .unwrap();
        assert_eq!(urls(&s), [("https://rekor-b".to_owned(), 1)]);
        // A v2 log not yet valid, or of a version vouch does not speak: not used.
        let unusable = serde_json::json!([
            {"url": "https://rekor2", "majorApiVersion": 2, "validFor": {"start": "2030-01-01T00:00:00Z"}, "operator": "a"},
            {"url": "https://rekor3", "majorApiVersion": 3, "validFor": {"start": "2025-01-01T00:00:00Z"}, "operator": "a"}
        ]);
        let err = SigningConfig::parse(&config(unusable, "ANY"))
            .unwrap()
            .select(NOW)
            .unwrap_err();
        assert!(
            matches!(err, SigningConfigError::NoService { kind: "Rekor", .. }),
            "{err}"
        );
        let one = serde_json::json!([
            {"url": "https://rekor-a", "majorApiVersion": 1, "validFor": {"start": "2022-01-01T00:00:00Z"}, "operator": "a"}
        ]);
        let err = SigningConfig::parse(&config(one, "EXACT"))
            .unwrap()
            .select(NOW)
            .unwrap_err();
        assert_eq!(
            err,
            SigningConfigError::TooFew {
                kind: "Rekor",
                wanted: 2,
                found: 1
            }
        );
    }

    #[test]
    fn sigstores_rekor_v2_signing_configs_choose_the_v2_log_valid_now() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/data/vectors/more/02-trusted-roots");
        let read = |p: &str| SigningConfig::parse(&std::fs::read(dir.join(p)).unwrap()).unwrap();
        let t = |x: &str| parse_rfc3339(x).unwrap();
        let prod = read("production/targets/signing_config_rekor_v2.v0.2.json");
        // log2025-1 is valid from 2026-01-01; before, Rekor v1.
        let s = prod.select(t("2026-02-01T00:00:00Z")).unwrap();
        assert_eq!(
            (
                s.rekor[0].url.as_str(),
                s.rekor[0].major_api_version,
                s.rekor.len()
            ),
            ("https://log2025-1.rekor.sigstore.dev", 2, 1)
        );
        let s = prod.select(t("2025-12-01T00:00:00Z")).unwrap();
        assert_eq!(s.rekor[0].url, "https://rekor.sigstore.dev");
        // Staging: three v2 shards with validity windows; the one valid at the time.
        let staging = read("staging/targets/signing_config_rekor_v2.v0.2.json");
        for (at, url) in [
            (
                "2025-06-01T00:00:00Z",
                "https://log2025-alpha1.rekor.sigstage.dev",
            ),
            (
                "2025-09-01T00:00:00Z",
                "https://log2025-alpha2.rekor.sigstage.dev",
            ),
            (
                "2025-10-01T00:00:00Z",
                "https://log2025-alpha3.rekor.sigstage.dev",
            ),
        ] {
            let s = staging.select(t(at)).unwrap();
            assert_eq!((s.rekor[0].url.as_str(), s.rekor.len()), (url, 1), "{at}");
        }
    }

    #[test]
    fn public_good() {
        let s = SigningConfig::public_good().unwrap().select(NOW).unwrap();
        assert_eq!(s.fulcio.url, "https://fulcio.sigstore.dev");
        assert_eq!(s.rekor[0].url, "https://rekor.sigstore.dev");
        assert_eq!(
            s.tsas[0].url,
            "https://timestamp.sigstore.dev/api/v1/timestamp"
        );
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        for bad in [
            &b"{}"[..],
            br#"{"mediaType":"application/vnd.dev.sigstore.signingconfig.v0.1+json"}"#,
            br#"{"mediaType":"application/vnd.dev.sigstore.signingconfig.v0.2+json","caUrls":[{"url":"ftp://x"}]}"#,
            br#"{"mediaType":"application/vnd.dev.sigstore.signingconfig.v0.2+json","tsaConfig":{"selector":"SOME"}}"#,
        ] {
            assert!(SigningConfig::parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        assert!(SigningConfig::parse(&vec![b' '; MAX_CONFIG_LEN + 1]).is_err());
        assert!(ClientTrustConfig::parse(b"{\"mediaType\":\"x\"}").is_err());
    }
}
