//! The wild corpus (tests/data/wild, format in its README.md): real artifacts from the reference
//! implementations and their users, each with the verdict the reference implementation's own
//! test asserts. Every case runs through the `vouch` binary; the table (case, expected, vouch,
//! agreed) is printed; a disagreement fails unless tests/data/wild/exceptions.json lists it with
//! its reason, and an exception that no longer happens fails too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::Value;

use crate::support::{Run, run, vouch, workspace};

/// The corpus folder.
pub fn wild() -> PathBuf {
    workspace().join("tests/data/wild")
}

/// One case, read from its case.json.
pub struct Case {
    /// `group/name`.
    pub name: String,
    /// The case folder.
    pub dir: PathBuf,
    /// The parsed case.json.
    pub spec: Value,
}

impl Case {
    /// `accept` or `reject`.
    pub fn expect(&self) -> &str {
        self.spec["expect"].as_str().unwrap_or("?")
    }

    /// Replaces `{case}`, `{wild}`, `{vectors}`, `{tmp}` in `s`.
    pub fn expand(&self, s: &str, tmp: &Path) -> String {
        s.replace("{case}", &self.dir.to_string_lossy())
            .replace("{wild}", &wild().to_string_lossy())
            .replace(
                "{vectors}",
                &workspace().join("tests/data/vectors").to_string_lossy(),
            )
            .replace("{tmp}", &tmp.to_string_lossy())
    }

    /// A file named in `verify_bundle`: expanded, relative to the case folder.
    pub fn file(&self, s: &str, tmp: &Path) -> PathBuf {
        let p = PathBuf::from(self.expand(s, tmp));
        if p.is_absolute() { p } else { self.dir.join(p) }
    }

    /// The arguments of the sigstore conformance CLI protocol for a `verify_bundle` case
    /// (`--bundle B (--key K | --certificate-identity[-regexp] I --certificate-oidc-issuer[-regexp] O)
    /// --trusted-root R ARTIFACT_OR_DIGEST`), without the `verify-bundle` subcommand.
    pub fn bundle_args(&self, tmp: &Path) -> Option<Vec<String>> {
        let vb = self.spec.get("verify_bundle")?;
        let s = |k: &str| vb.get(k).and_then(Value::as_str);
        let mut args = vec![
            "--bundle".to_owned(),
            self.file(s("bundle").expect("verify_bundle.bundle"), tmp)
                .to_string_lossy()
                .into_owned(),
        ];
        if let Some(k) = s("key") {
            args.push("--key".into());
            args.push(self.file(k, tmp).to_string_lossy().into_owned());
        }
        for (field, flag) in [
            ("identity", "--certificate-identity"),
            ("identity_regexp", "--certificate-identity-regexp"),
            ("issuer", "--certificate-oidc-issuer"),
            ("issuer_regexp", "--certificate-oidc-issuer-regexp"),
        ] {
            if let Some(v) = s(field) {
                args.push(flag.into());
                args.push(v.into());
            }
        }
        let root = s("trusted_root").unwrap_or("{vectors}/trusted-roots/public-good.json");
        args.push("--trusted-root".into());
        args.push(self.file(root, tmp).to_string_lossy().into_owned());
        match (s("artifact"), s("digest")) {
            (Some(a), _) => args.push(self.file(a, tmp).to_string_lossy().into_owned()),
            (None, Some(d)) => args.push(d.into()),
            (None, None) => panic!("{}: verify_bundle needs artifact or digest", self.name),
        }
        Some(args)
    }
}

/// Every case of the corpus, sorted by name.
pub fn cases() -> Vec<Case> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                if p.join("case.json").is_file() {
                    out.push(p);
                } else {
                    walk(&p, out);
                }
            }
        }
    }
    let root = wild();
    let mut dirs = Vec::new();
    walk(&root, &mut dirs);
    let mut cases: Vec<Case> = dirs
        .into_iter()
        .map(|dir| {
            let name = dir
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let text = std::fs::read_to_string(dir.join("case.json")).unwrap();
            let spec: Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}/case.json: {e}"));
            Case { name, dir, spec }
        })
        .collect();
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    cases
}

/// The exceptions file: (case, verifier) → (verdict, reason).
pub fn exceptions() -> BTreeMap<(String, String), String> {
    let text = std::fs::read_to_string(wild().join("exceptions.json")).unwrap();
    let list: Vec<Value> = serde_json::from_str(&text).unwrap();
    let mut out = BTreeMap::new();
    for e in list {
        let field = |k: &str| {
            e[k].as_str()
                .unwrap_or_else(|| panic!("exceptions.json: an entry without `{k}`: {e}"))
                .to_owned()
        };
        assert!(
            field("reason").len() > 20,
            "exceptions.json: give a real reason: {e}"
        );
        let old = out.insert((field("case"), field("verifier")), field("verdict"));
        assert!(old.is_none(), "exceptions.json: listed twice: {e}");
    }
    out
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

/// Runs one case through vouch; returns the final command's outcome.
fn run_case(case: &Case) -> Result<Run, String> {
    let tmp = tempfile::tempdir().unwrap();
    let tmp = tmp.path();
    let env: Vec<(String, String)> = case
        .spec
        .get("env")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), case.expand(v.as_str().unwrap_or_default(), tmp)))
                .collect()
        })
        .unwrap_or_default();
    let argv = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap_or_else(|| panic!("{}: a command is a list of strings", case.name))
            .iter()
            .map(|a| case.expand(a.as_str().unwrap_or_default(), tmp))
            .collect()
    };
    let vouch_run = |args: &[String]| {
        let mut cmd = vouch();
        cmd.args(args).current_dir(tmp);
        for (k, v) in &env {
            cmd.env(k, v);
        }
        run(&mut cmd)
    };
    for pair in case
        .spec
        .get("copy")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let p = argv(pair);
        copy_all(Path::new(&p[0]), Path::new(&p[1]));
    }
    for step in case
        .spec
        .get("setup")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let args = argv(step);
        let out = vouch_run(&args);
        if out.code != 0 {
            return Err(format!("setup `vouch {}` failed: {out:?}", args.join(" ")));
        }
    }
    let args = match (case.bundle_args(tmp), case.spec.get("command")) {
        (Some(mut a), _) => {
            a.insert(0, "verify-bundle".into());
            a
        }
        (None, Some(c)) => argv(c),
        (None, None) => panic!("{}: neither verify_bundle nor command", case.name),
    };
    Ok(vouch_run(&args))
}

/// vouch's verdict for an outcome: `accept` (0), `reject` (1 or 2), or what went wrong.
fn verdict(out: &Run) -> String {
    match out.code {
        _ if out.stderr.contains("panicked") => "PANIC".into(),
        0 => "accept".into(),
        1 | 2 => "reject".into(),
        c => format!("exit {c}"),
    }
}

/// The first line of vouch's complaint, for the table.
fn reason(out: &Run) -> String {
    out.stderr
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .chars()
        .take(110)
        .collect()
}

#[test]
fn wild_corpus() {
    // `VOUCH_WILD=TEXT` runs only the cases whose name contains TEXT (while working on them).
    let filter = std::env::var("VOUCH_WILD").unwrap_or_default();
    let cases: Vec<Case> = cases()
        .into_iter()
        .filter(|c| c.name.contains(&filter))
        .collect();
    let exceptions = exceptions();
    let results: Mutex<Vec<(usize, String, String)>> = Mutex::new(Vec::new());
    let next = Mutex::new(0usize);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                loop {
                    let i = {
                        let mut n = next.lock().unwrap();
                        let i = *n;
                        *n += 1;
                        i
                    };
                    let Some(case) = cases.get(i) else { break };
                    let (got, why) = match run_case(case) {
                        Ok(out) => {
                            let mut v = verdict(&out);
                            if let Some(code) = case.spec.get("exit").and_then(Value::as_i64)
                                && v == "reject"
                                && i64::from(out.code) != code
                            {
                                v = format!("exit {}", out.code);
                            }
                            (v, reason(&out))
                        }
                        Err(e) => ("SETUP".into(), e.chars().take(300).collect()),
                    };
                    results.lock().unwrap().push((i, got, why));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|r| r.0);

    let mut problems = Vec::new();
    let mut table = String::new();
    let (mut agreed, mut excepted, mut accepts, mut rejects) = (0, 0, 0, 0);
    for (i, got, why) in &results {
        let case = &cases[*i];
        let expect = case.expect();
        assert!(
            expect == "accept" || expect == "reject",
            "{}: expect must be accept or reject",
            case.name
        );
        for k in ["what", "origin", "licence", "reference"] {
            assert!(
                case.spec.get(k).is_some(),
                "{}: case.json has no `{k}`",
                case.name
            );
        }
        if expect == "accept" {
            accepts += 1;
        } else {
            rejects += 1;
        }
        let key = (case.name.clone(), "vouch".to_owned());
        let mark = if got == expect {
            agreed += 1;
            if exceptions.contains_key(&key) {
                problems.push(format!(
                    "{}: exceptions.json lists a disagreement that no longer happens",
                    case.name
                ));
            }
            "yes"
        } else if exceptions.get(&key) == Some(got) {
            excepted += 1;
            "EXCEPTION"
        } else {
            problems.push(format!(
                "{}: expected {expect}, vouch: {got} ({why})",
                case.name
            ));
            "NO"
        };
        table.push_str(&format!(
            "{:<70} {:<7} {:<8} {:<9} {}\n",
            case.name, expect, got, mark, why
        ));
    }
    for (case, verifier) in exceptions.keys() {
        if filter.is_empty() && verifier == "vouch" && !cases.iter().any(|c| &c.name == case) {
            problems.push(format!(
                "exceptions.json names a case that does not exist: {case}"
            ));
        }
    }
    eprintln!(
        "{:<70} {:<7} {:<8} {:<9} vouch's first line\n{table}",
        "case", "expected", "vouch", "agreed"
    );
    eprintln!(
        "wild corpus: {} cases ({accepts} accept, {rejects} reject): {agreed} agreed, {excepted} listed exceptions, {} disagreements",
        cases.len(),
        problems.len()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    if !filter.is_empty() {
        return;
    }
    assert!(cases.len() >= 150, "only {} cases", cases.len());
    assert!(rejects >= 40, "only {rejects} must-fail cases");
}
