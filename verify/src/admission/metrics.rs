//! Prometheus metrics in the text exposition format (0.0.4), written by hand.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// The latency histogram's upper bounds, in seconds.
const BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

/// Counters (with labels) and the review latency histogram.
#[derive(Default)]
pub struct Metrics {
    counters: Mutex<BTreeMap<(&'static str, String), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
}

const HELP: [(&str, &str); 7] = [
    (
        "vouch_reviews_total",
        "Reviews answered, by endpoint and result.",
    ),
    (
        "vouch_verdicts_total",
        "Image verdicts, by reason code (allowed for an allowed image).",
    ),
    (
        "vouch_cache_hits_total",
        "Cache hits, by cache (verdict, tag, shared).",
    ),
    (
        "vouch_cache_misses_total",
        "Cache misses, by cache (verdict, tag).",
    ),
    (
        "vouch_registry_errors_total",
        "Registry or evaluation errors and deadlines, by kind.",
    ),
    ("vouch_policy_reloads_total", "Policy reloads, by result."),
    (
        "vouch_certificate_reloads_total",
        "Certificate reloads, by result.",
    ),
];

impl Metrics {
    /// Adds one to counter `name` with label value `label` (see the names in [`Metrics::render`]).
    pub fn inc(&self, name: &'static str, label: impl Into<String>) {
        if let Ok(mut c) = self.counters.lock() {
            *c.entry((name, label.into())).or_insert(0) += 1;
        }
    }

    /// The value of a counter (for tests and logs).
    pub fn get(&self, name: &'static str, label: &str) -> u64 {
        self.counters
            .lock()
            .ok()
            .and_then(|c| c.get(&(name, label.to_owned())).copied())
            .unwrap_or(0)
    }

    /// Records one review's latency for `endpoint`.
    pub fn observe(&self, endpoint: &str, d: Duration) {
        let s = d.as_secs_f64();
        if let Ok(mut h) = self.latency.lock() {
            let h = h.entry(endpoint.to_owned()).or_default();
            for (i, b) in BUCKETS.iter().enumerate() {
                if s <= *b {
                    h.counts[i] += 1;
                }
            }
            h.sum += s;
            h.count += 1;
        }
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let counters = self.counters.lock().map(|c| c.clone()).unwrap_or_default();
        for (name, help) in HELP {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            let label = match name {
                "vouch_reviews_total" => "endpoint_result",
                "vouch_verdicts_total" => "reason",
                "vouch_cache_hits_total" | "vouch_cache_misses_total" => "cache",
                "vouch_registry_errors_total" => "kind",
                _ => "result",
            };
            for ((n, l), v) in counters.iter().filter(|((n, _), _)| *n == name) {
                if *n == "vouch_reviews_total" {
                    let (ep, res) = l.split_once(' ').unwrap_or((l, ""));
                    let _ = writeln!(
                        out,
                        "{n}{{endpoint=\"{}\",result=\"{}\"}} {v}",
                        escape(ep),
                        escape(res)
                    );
                } else {
                    let _ = writeln!(out, "{n}{{{label}=\"{}\"}} {v}", escape(l));
                }
            }
        }
        let name = "vouch_review_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Time to answer a review, by endpoint.\n# TYPE {name} histogram"
        );
        if let Ok(h) = self.latency.lock() {
            for (ep, h) in h.iter() {
                let ep = escape(ep);
                for (i, b) in BUCKETS.iter().enumerate() {
                    let _ = writeln!(
                        out,
                        "{name}_bucket{{endpoint=\"{ep}\",le=\"{b}\"}} {}",
                        h.counts[i]
                    );
                }
                let _ = writeln!(
                    out,
                    "{name}_bucket{{endpoint=\"{ep}\",le=\"+Inf\"}} {}",
                    h.count
                );
                let _ = writeln!(out, "{name}_sum{{endpoint=\"{ep}\"}} {}", h.sum);
                let _ = writeln!(out, "{name}_count{{endpoint=\"{ep}\"}} {}", h.count);
            }
        }
        out
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histogram() {
        let m = Metrics::default();
        m.inc("vouch_reviews_total", "validate allowed");
        m.inc("vouch_verdicts_total", "signature.none-valid");
        m.observe("validate", Duration::from_millis(3));
        let t = m.render();
        assert!(t.contains("vouch_reviews_total{endpoint=\"validate\",result=\"allowed\"} 1"));
        assert!(t.contains("vouch_verdicts_total{reason=\"signature.none-valid\"} 1"));
        assert!(t.contains(
            "vouch_review_duration_seconds_bucket{endpoint=\"validate\",le=\"0.005\"} 1"
        ));
        assert!(t.contains(
            "vouch_review_duration_seconds_bucket{endpoint=\"validate\",le=\"0.001\"} 0"
        ));
    }
}
