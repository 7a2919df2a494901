//! Differential verification: every sigstore bundle case of the wild corpus (tests/data/wild,
//! the cases with `verify_bundle`, sigstore-conformance's newest cases among them) is verified
//! by vouch, by sigstore-python and by
//! sigstore-js (`@sigstore/verify`), each offline with the case's trusted root. The peers run
//! through the drivers in keys-test/peers/, which take the conformance suite's CLI protocol.
//!
//! A peer whose verdict differs from vouch's fails the test unless tests/data/wild/exceptions.json
//! lists that case, peer and verdict; an exception for a peer that no longer happens fails it too.
//! A peer that gives the expected verdict where exceptions.json lists vouch's deviation from it is
//! not a disagreement either. (Whether vouch gives the expected verdict is for tests/e2e/wild.rs
//! and conformance.rs to judge: here it is only shown, as `not-expected`.) A peer that cannot judge
//! a case at all (sigstore-python has no verification with a public key) shows `n/a` and is not
//! compared.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{run, vouch, workspace};

/// How long a peer may take on all the cases before the test gives up on it.
const PEER_TIMEOUT: Duration = Duration::from_secs(300);
/// Threads running vouch, beside one for each peer (the machine has 2 cores).
const VOUCH_THREADS: usize = 2;

/// One `verify-bundle` to run through every verifier.
struct Case {
    /// `group/case` for the wild corpus, `vectors/sigstore-conformance/NAME` for the vectors.
    name: String,
    /// `accept` or `reject` (`?` when the case does not say).
    expect: String,
    /// The arguments after `verify-bundle`, the same for vouch and the peers.
    args: Vec<String>,
    /// Kept alive while the case runs (its `{tmp}`).
    _tmp: tempfile::TempDir,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Peer {
    Python,
    Js,
}

impl Peer {
    const ALL: [Peer; 2] = [Peer::Python, Peer::Js];

    fn name(self) -> &'static str {
        match self {
            Peer::Python => "sigstore-python",
            Peer::Js => "sigstore-js",
        }
    }

    fn command(self) -> Command {
        let peers = workspace().join("keys-test/peers");
        let mut cmd = match self {
            Peer::Python => {
                let mut c = Command::new(peer_python());
                c.arg(peers.join("sigstore_python_verify.py"));
                c
            }
            Peer::Js => {
                let mut c = Command::new("node");
                c.arg(peers.join("sigstore_js_verify.js"));
                c
            }
        };
        cmd.stdin(Stdio::null());
        cmd
    }
}

/// A verifier's answer on one case.
#[derive(Clone, Debug)]
struct Verdict {
    /// `accept`, `reject` or `n/a` (the peer cannot judge this case).
    verdict: &'static str,
    /// The last lines of its stderr (its reason).
    reason: String,
}

/// The Python that has sigstore-python: `$VOUCH_TEST_PYTHON` (scripts/test's venv) or the venv
/// scripts/test makes.
fn peer_python() -> PathBuf {
    let candidates = [
        std::env::var_os("VOUCH_TEST_PYTHON").map(PathBuf::from),
        Some(workspace().join(".venv-test/bin/python")),
    ];
    for p in candidates.into_iter().flatten() {
        let ok = Command::new(&p)
            .args(["-c", "import sigstore"])
            .stdin(Stdio::null())
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return p;
        }
    }
    panic!(
        "no Python with sigstore-python: run the tests with scripts/test (it installs \
         keys-test/requirements.txt into .venv-test), or set VOUCH_TEST_PYTHON"
    )
}

fn check_js_installed() {
    let modules = workspace().join("keys-test/js/node_modules");
    for p in [
        "@sigstore/verify",
        "@sigstore/bundle",
        "@sigstore/protobuf-specs",
        "elliptic",
    ] {
        assert!(
            modules.join(p).is_dir(),
            "keys-test/js/node_modules/{p} is missing: run the tests with scripts/test (npm ci there)"
        );
    }
}

/// A verifier's reason: the drivers' last `FAIL: ` line, else the last few non-empty lines.
fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let mut t = match lines.iter().rev().find(|l| l.starts_with("FAIL: ")) {
        Some(fail) => (*fail).to_owned(),
        None => lines[lines.len().saturating_sub(3)..].join(" | "),
    };
    if t.len() > 600 {
        let mut cut = 600;
        while !t.is_char_boundary(cut) {
            cut -= 1;
        }
        t.truncate(cut);
        t.push('…');
    }
    t
}

// ---------------------------------------------------------------------------------------------
// The cases.

/// The wild corpus's cases with `verify_bundle` (tests/e2e/wild.rs reads them).
fn wild_cases() -> Vec<Case> {
    crate::wild::cases()
        .into_iter()
        .filter_map(|c| {
            let tmp = tempfile::tempdir().unwrap();
            let args = c.bundle_args(tmp.path())?;
            Some(Case {
                name: c.name.clone(),
                expect: c.expect().to_owned(),
                args,
                _tmp: tmp,
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Running the verifiers.

fn run_vouch(case: &Case) -> Verdict {
    let mut cmd = vouch();
    cmd.arg("verify-bundle").args(&case.args);
    let out = run(&mut cmd);
    let verdict = match out.code {
        0 => "accept",
        1 | 2 => "reject",
        _ => panic!(
            "{}: vouch exited {} (a crash, not a verdict): {out:?}",
            case.name, out.code
        ),
    };
    Verdict {
        verdict,
        reason: tail(&out.stderr),
    }
}

/// Every case through one peer: its driver's `batch` mode (one interpreter for all the cases,
/// each case's arguments a JSON line on stdin, one `{"exit": N, "stderr": "…"}` line back).
fn run_peer(peer: Peer, cases: &[Case]) -> Vec<Verdict> {
    let scratch = tempfile::tempdir().unwrap();
    let input = scratch.path().join("stdin");
    let stdout = scratch.path().join("stdout");
    let stderr = scratch.path().join("stderr");
    let mut lines = String::new();
    for case in cases {
        let mut argv = vec!["verify-bundle".to_owned()];
        argv.extend(case.args.iter().cloned());
        lines.push_str(&serde_json::to_string(&argv).unwrap());
        lines.push('\n');
    }
    std::fs::write(&input, lines).unwrap();
    let mut cmd = peer.command();
    cmd.arg("batch")
        .stdin(File::open(&input).unwrap())
        .stdout(File::create(&stdout).unwrap())
        .stderr(File::create(&stderr).unwrap());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start the {} driver: {e}", peer.name()));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > PEER_TIMEOUT {
            child.kill().ok();
            child.wait().ok();
            let done = std::fs::read_to_string(&stdout)
                .unwrap_or_default()
                .lines()
                .count();
            panic!(
                "the {} driver took more than {PEER_TIMEOUT:?}; it was at {}",
                peer.name(),
                cases.get(done).map_or("the end", |c| c.name.as_str())
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = std::fs::read_to_string(&stdout).unwrap();
    let err = std::fs::read_to_string(&stderr).unwrap_or_default();
    assert!(
        status.success(),
        "the {} driver failed ({status}):\n{err}",
        peer.name()
    );
    let answers: Vec<Value> = out
        .lines()
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("the {} driver said {l:?}: {e}", peer.name()))
        })
        .collect();
    assert_eq!(
        answers.len(),
        cases.len(),
        "the {} driver answered {} of {} cases:\n{err}",
        peer.name(),
        answers.len(),
        cases.len()
    );
    cases
        .iter()
        .zip(answers)
        .map(|(case, a)| {
            let said = a["stderr"].as_str().unwrap_or_default();
            let verdict = match a["exit"].as_i64() {
                Some(0) => "accept",
                Some(1) => "reject",
                Some(3) => "n/a",
                code => panic!(
                    "{}: the {} driver failed (exit {code:?}), not a verdict:\n{said}",
                    case.name,
                    peer.name()
                ),
            };
            Verdict {
                verdict,
                reason: tail(said),
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------

#[test]
fn wild_peers() {
    check_js_installed();
    let _ = peer_python();

    let cases = wild_cases();

    // Each peer takes every case in one process (a thread each) while a few threads run vouch
    // on the cases in turn.
    let next = AtomicUsize::new(0);
    let vouch_results: Mutex<BTreeMap<usize, Verdict>> = Mutex::new(BTreeMap::new());
    let started = Instant::now();
    let (python, js) = std::thread::scope(|s| {
        let python = s.spawn(|| run_peer(Peer::Python, &cases));
        let js = s.spawn(|| run_peer(Peer::Js, &cases));
        for _ in 0..VOUCH_THREADS {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(case) = cases.get(i) else {
                        break;
                    };
                    let v = run_vouch(case);
                    vouch_results.lock().unwrap().insert(i, v);
                }
            });
        }
        let join = |h: std::thread::ScopedJoinHandle<'_, Vec<Verdict>>| {
            h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))
        };
        (join(python), join(js))
    });
    let vouch_results = vouch_results.into_inner().unwrap();
    let elapsed = started.elapsed();
    let mut results: BTreeMap<(usize, &'static str), Verdict> = BTreeMap::new();
    for (i, v) in vouch_results {
        results.insert((i, "vouch"), v);
    }
    for (peer, verdicts) in [(Peer::Python, python), (Peer::Js, js)] {
        for (i, v) in verdicts.into_iter().enumerate() {
            results.insert((i, peer.name()), v);
        }
    }

    // (case, verifier) → the verdict that verifier is excused for.
    let exceptions = crate::wild::exceptions();
    let listed = |case: &str, verifier: &str, verdict: &str| {
        exceptions
            .get(&(case.to_owned(), verifier.to_owned()))
            .map(String::as_str)
            == Some(verdict)
    };

    let width = cases.iter().map(|c| c.name.len()).max().unwrap_or(4).max(4);
    let mut table = format!(
        "{:width$}  {:8} {:8} {:15} {:11} agreed\n",
        "case", "expected", "vouch", "sigstore-python", "sigstore-js"
    );
    let mut failures = Vec::new();
    let mut notes = Vec::new();
    let mut totals: BTreeMap<String, usize> = BTreeMap::new();
    for (i, case) in cases.iter().enumerate() {
        let v = &results[&(i, "vouch")];
        let py = &results[&(i, Peer::Python.name())];
        let js = &results[&(i, Peer::Js.name())];
        let mut agreed = "yes";
        for (peer, pv) in [(Peer::Python, py), (Peer::Js, js)] {
            *totals
                .entry(format!("{} {}", peer.name(), pv.verdict))
                .or_default() += 1;
            if pv.verdict == "n/a" || pv.verdict == v.verdict {
                continue;
            }
            let line = format!(
                "{}: {} says {} (vouch: {}, expected: {}): {}",
                case.name,
                peer.name(),
                pv.verdict,
                v.verdict,
                case.expect,
                pv.reason
            );
            // vouch's own listed deviation from the expected verdict, which this peer does not
            // share: wild.rs's exception, not this peer's.
            let vouch_excused = pv.verdict == case.expect && listed(&case.name, "vouch", v.verdict);
            if vouch_excused || listed(&case.name, peer.name(), pv.verdict) {
                agreed = "exception";
                notes.push(line);
            } else {
                agreed = "NO";
                failures.push(line);
            }
        }
        if agreed == "yes" && case.expect != "?" && v.verdict != case.expect {
            // vouch differs from the expected verdict: wild.rs and conformance.rs judge that.
            agreed = "not-expected";
            notes.push(format!(
                "{}: vouch says {} but {} is expected: {}",
                case.name, v.verdict, case.expect, v.reason
            ));
        }
        *totals.entry(format!("vouch {}", v.verdict)).or_default() += 1;
        *totals.entry(format!("agreed {agreed}")).or_default() += 1;
        table.push_str(&format!(
            "{:width$}  {:8} {:8} {:15} {:11} {agreed}\n",
            case.name, case.expect, v.verdict, py.verdict, js.verdict
        ));
    }

    // Exceptions for a peer that no longer happen.
    for ((case, verifier), verdict) in &exceptions {
        let Some(peer) = Peer::ALL.into_iter().find(|p| p.name() == verifier) else {
            continue; // `vouch` exceptions are wild.rs's.
        };
        let Some(i) = cases.iter().position(|c| &c.name == case) else {
            failures.push(format!(
                "stale exception: {case} for {verifier}: no such bundle case"
            ));
            continue;
        };
        let pv = &results[&(i, peer.name())];
        let v = &results[&(i, "vouch")];
        if pv.verdict != verdict || pv.verdict == v.verdict {
            failures.push(format!(
                "stale exception: {case} for {verifier} lists {verdict}, but it says {} (vouch: {})",
                pv.verdict, v.verdict
            ));
        }
    }

    eprintln!("{table}");
    eprintln!(
        "{} bundle cases in {:.1?}; {}",
        cases.len(),
        elapsed,
        totals
            .iter()
            .map(|(k, n)| format!("{k}: {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for n in &notes {
        eprintln!("note: {n}");
    }
    for f in &failures {
        eprintln!("FAIL: {f}");
    }
    assert!(
        failures.is_empty(),
        "{} disagreement(s) between vouch and a peer that tests/data/wild/exceptions.json does \
         not list, or stale exceptions:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
