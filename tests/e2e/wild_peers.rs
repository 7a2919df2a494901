//! Differential verification: every sigstore bundle case of the wild corpus (tests/data/wild,
//! the cases with `verify_bundle`) and every sigstore-conformance vector
//! (tests/data/vectors/sigstore-conformance) is verified by vouch, by sigstore-python and by
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
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{run, vectors, vouch, workspace};

const CONFORMANCE_IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const CONFORMANCE_ISSUER: &str = "https://token.actions.githubusercontent.com";
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
    /// For vouch only (the case's `env`).
    env: Vec<(String, String)>,
    /// Kept alive while the case runs (its `{tmp}`).
    _tmp: Option<tempfile::TempDir>,
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

fn wild() -> PathBuf {
    workspace().join("tests/data/wild")
}

fn case_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries {
        let p = e.unwrap().path();
        if p.is_dir() {
            case_files(&p, out);
        } else if p.file_name().is_some_and(|n| n == "case.json") {
            out.push(p);
        }
    }
}

/// `{case}`, `{wild}`, `{vectors}` and `{tmp}` replaced.
fn expand(s: &str, case_dir: &Path, tmp: &Path) -> String {
    s.replace("{case}", case_dir.to_str().unwrap())
        .replace("{wild}", wild().to_str().unwrap())
        .replace("{vectors}", vectors().to_str().unwrap())
        .replace("{tmp}", tmp.to_str().unwrap())
}

/// A file named in `verify_bundle`: placeholders expanded, relative to the case's folder.
fn file_arg(s: &str, case_dir: &Path, tmp: &Path) -> String {
    let s = expand(s, case_dir, tmp);
    if Path::new(&s).is_absolute() {
        s
    } else {
        case_dir.join(s).to_str().unwrap().to_owned()
    }
}

fn copy_all(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            copy_all(&e.path(), &to.join(e.file_name()));
        }
    } else {
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::copy(from, to).unwrap();
    }
}

fn strings(v: &Value, what: &str, name: &str) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("{name}: {what} must be an array of strings"))
        .iter()
        .map(|s| {
            s.as_str()
                .unwrap_or_else(|| panic!("{name}: {what} must hold strings"))
                .to_owned()
        })
        .collect()
}

/// The wild corpus's cases with `verify_bundle` (every other field of case.json is optional here
/// and unknown ones are ignored).
fn wild_cases() -> Vec<Case> {
    let mut files = Vec::new();
    case_files(&wild(), &mut files);
    files.sort();
    let mut cases = Vec::new();
    for file in files {
        let case_dir = file.parent().unwrap().to_owned();
        let name = case_dir
            .strip_prefix(wild())
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let text = std::fs::read_to_string(&file).unwrap();
        let doc: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not JSON: {e}", file.display()));
        let Some(vb) = doc.get("verify_bundle").filter(|v| !v.is_null()) else {
            continue;
        };
        let field = |k: &str| vb.get(k).and_then(Value::as_str);
        let tmp = tempfile::tempdir().unwrap();
        let t = tmp.path();

        for pair in doc.get("copy").map_or(Vec::new(), |v| {
            v.as_array()
                .unwrap_or_else(|| panic!("{name}: copy must be an array"))
                .clone()
        }) {
            let pair = strings(&pair, "copy", &name);
            assert_eq!(pair.len(), 2, "{name}: copy takes [from, to] pairs");
            copy_all(
                Path::new(&expand(&pair[0], &case_dir, t)),
                Path::new(&expand(&pair[1], &case_dir, t)),
            );
        }
        let env: Vec<(String, String)> = doc
            .get("env")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        let v = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                        (k.clone(), expand(&v, &case_dir, t))
                    })
                    .collect()
            })
            .unwrap_or_default();
        for line in doc.get("setup").map_or(Vec::new(), |v| {
            v.as_array()
                .unwrap_or_else(|| panic!("{name}: setup must be an array"))
                .clone()
        }) {
            let args: Vec<String> = strings(&line, "setup", &name)
                .iter()
                .map(|a| expand(a, &case_dir, t))
                .collect();
            let mut cmd = vouch();
            cmd.args(&args).current_dir(t);
            for (k, v) in &env {
                cmd.env(k, v);
            }
            let out = run(&mut cmd);
            assert_eq!(out.code, 0, "{name}: setup {args:?} failed: {out:?}");
        }

        let bundle = field("bundle").unwrap_or_else(|| panic!("{name}: verify_bundle.bundle"));
        let mut args = vec!["--bundle".to_owned(), file_arg(bundle, &case_dir, t)];
        if let Some(key) = field("key") {
            args.extend(["--key".to_owned(), file_arg(key, &case_dir, t)]);
        } else {
            let mut pushed = 0;
            for (k, flag) in [
                ("identity", "--certificate-identity"),
                ("identity_regexp", "--certificate-identity-regexp"),
                ("issuer", "--certificate-oidc-issuer"),
                ("issuer_regexp", "--certificate-oidc-issuer-regexp"),
            ] {
                if let Some(v) = field(k) {
                    args.extend([flag.to_owned(), expand(v, &case_dir, t)]);
                    pushed += 1;
                }
            }
            assert!(
                pushed >= 2,
                "{name}: verify_bundle needs key, or identity and issuer"
            );
        }
        let root = field("trusted_root").unwrap_or("{vectors}/trusted-roots/public-good.json");
        args.extend(["--trusted-root".to_owned(), file_arg(root, &case_dir, t)]);
        if let Some(artifact) = field("artifact") {
            args.push(file_arg(artifact, &case_dir, t));
        } else if let Some(digest) = field("digest") {
            args.push(expand(digest, &case_dir, t));
        } else {
            panic!("{name}: verify_bundle needs artifact or digest");
        }
        let expect = doc
            .get("expect")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_owned();
        cases.push(Case {
            name,
            expect,
            args,
            env,
            _tmp: Some(tmp),
        });
    }
    cases
}

/// The sigstore-conformance vectors, with the suite's defaults (its CASES.md; as conformance.rs
/// reads them). Without a `trusted_root.json` a case is about the public-good instance, whose
/// checked-in trusted root every verifier is given.
fn conformance_cases() -> Vec<Case> {
    let root = vectors().join("sigstore-conformance");
    let read = |p: PathBuf| std::fs::read_to_string(p).ok().map(|s| s.trim().to_owned());
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("bundle.sigstore.json").exists())
        .collect();
    dirs.sort();
    let path = |p: PathBuf| p.to_str().unwrap().to_owned();
    dirs.into_iter()
        .map(|dir| {
            let name = dir.file_name().unwrap().to_str().unwrap().to_owned();
            let mut args = vec![
                "--bundle".to_owned(),
                path(dir.join("bundle.sigstore.json")),
            ];
            if dir.join("key.pub").exists() {
                args.extend(["--key".to_owned(), path(dir.join("key.pub"))]);
            } else {
                args.extend([
                    "--certificate-identity".to_owned(),
                    read(dir.join("identity")).unwrap_or_else(|| CONFORMANCE_IDENTITY.to_owned()),
                    "--certificate-oidc-issuer".to_owned(),
                    read(dir.join("issuer")).unwrap_or_else(|| CONFORMANCE_ISSUER.to_owned()),
                ]);
            }
            let trusted_root = if dir.join("trusted_root.json").exists() {
                dir.join("trusted_root.json")
            } else {
                vectors().join("trusted-roots/public-good.json")
            };
            args.extend(["--trusted-root".to_owned(), path(trusted_root)]);
            let artifact = if dir.join("artifact").exists() {
                dir.join("artifact")
            } else {
                root.join("a.txt")
            };
            args.push(path(artifact));
            let expect = if name.ends_with("_fail") {
                "reject"
            } else {
                "accept"
            };
            Case {
                name: format!("vectors/sigstore-conformance/{name}"),
                expect: expect.to_owned(),
                args,
                env: Vec::new(),
                _tmp: None,
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Running the verifiers.

fn run_vouch(case: &Case) -> Verdict {
    let mut cmd = vouch();
    cmd.arg("verify-bundle").args(&case.args);
    for (k, v) in &case.env {
        cmd.env(k, v);
    }
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
// Exceptions.

struct Exception {
    case: String,
    verifier: String,
    verdict: String,
}

fn exceptions() -> Vec<Exception> {
    let path = wild().join("exceptions.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Vec::new();
    };
    let doc: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()));
    doc.as_array()
        .unwrap_or_else(|| panic!("{}: must be an array", path.display()))
        .iter()
        .map(|e| {
            let get = |k: &str| {
                e.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_else(|| panic!("exceptions.json: an entry without {k}: {e}"))
                    .to_owned()
            };
            Exception {
                case: get("case"),
                verifier: get("verifier"),
                verdict: get("verdict"),
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------

#[test]
fn wild_peers() {
    check_js_installed();
    let _ = peer_python();

    let mut cases = wild_cases();
    let wild_count = cases.len();
    let conformance = conformance_cases();
    assert!(
        conformance.len() >= 45,
        "only {} conformance vectors",
        conformance.len()
    );
    cases.extend(conformance);

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

    let exceptions = exceptions();
    let excused = |case: &str, peer: Peer, verdict: &str| {
        exceptions
            .iter()
            .any(|e| e.case == case && e.verifier == peer.name() && e.verdict == verdict)
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
            let vouch_excused = pv.verdict == case.expect
                && exceptions.iter().any(|e| {
                    e.case == case.name && e.verifier == "vouch" && e.verdict == v.verdict
                });
            if vouch_excused || excused(&case.name, peer, pv.verdict) {
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
    for e in &exceptions {
        let Some(peer) = Peer::ALL.into_iter().find(|p| p.name() == e.verifier) else {
            continue; // `vouch` exceptions are wild.rs's.
        };
        let Some(i) = cases.iter().position(|c| c.name == e.case) else {
            failures.push(format!(
                "stale exception: {} for {}: no such bundle case",
                e.case, e.verifier
            ));
            continue;
        };
        let pv = &results[&(i, peer.name())];
        let v = &results[&(i, "vouch")];
        if pv.verdict != e.verdict || pv.verdict == v.verdict {
            failures.push(format!(
                "stale exception: {} for {} lists {}, but it says {} (vouch: {})",
                e.case, e.verifier, e.verdict, pv.verdict, v.verdict
            ));
        }
    }

    eprintln!("{table}");
    eprintln!(
        "{} cases ({wild_count} wild, {} conformance vectors) in {:.1?}; {}",
        cases.len(),
        cases.len() - wild_count,
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
