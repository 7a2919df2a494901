//! The Rego escape hatch: a module evaluated with regorus (OPA-compatible) over the verified
//! evidence only. The set rules `data.vouch.deny` and `data.vouch.violation` yield messages
//! (strings, or objects with `msg`) that join the report as failures. Both Rego syntaxes are
//! accepted: v1 (`deny contains msg if { … }`) and v0 (`deny[msg] { … }`).

use std::num::NonZeroU32;
use std::time::Duration;

use regorus::utils::limits::ExecutionTimerConfig;
use regorus::{Engine, Value};

/// The longest a module may run for one image.
const TIME_LIMIT: Duration = Duration::from_secs(5);
/// At most this many messages are kept per rule.
const MAX_MESSAGES: usize = 100;

fn engine_with(path: &str, source: &str) -> Result<Engine, String> {
    let mut v1 = Engine::new();
    let first = match v1.add_policy(path.to_owned(), source.to_owned()) {
        Ok(_) => return Ok(v1),
        Err(e) => e,
    };
    let mut v0 = Engine::new();
    v0.set_rego_v0(true);
    match v0.add_policy(path.to_owned(), source.to_owned()) {
        Ok(_) => Ok(v0),
        Err(_) => Err(format!("not valid Rego (v1 or v0): {first}")),
    }
}

/// A module compiled once, when the policy is loaded; cloned for each image. Knows which of
/// the two rules it declares.
#[derive(Clone)]
pub(crate) struct Prepared(Engine, Vec<&'static str>);

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Prepared(regorus::Engine)")
    }
}

/// Compiles a module, which must declare package `vouch`.
pub(crate) fn prepare(path: &str, source: &str) -> Result<Prepared, String> {
    let mut engine = engine_with(path, source)?;
    engine.set_execution_timer_config(ExecutionTimerConfig {
        limit: TIME_LIMIT,
        check_interval: NonZeroU32::MIN,
    });
    let packages = engine.get_packages().map_err(|e| e.to_string())?;
    if !packages.iter().any(|p| p == "data.vouch") {
        return Err(format!(
            "expected `package vouch` (rules data.vouch.deny / data.vouch.violation), found {}",
            if packages.is_empty() {
                "no package".to_owned()
            } else {
                packages.join(", ")
            }
        ));
    }
    let mut rules = Vec::new();
    for (name, path_in_data) in [
        ("deny", "data.vouch.deny"),
        ("violation", "data.vouch.violation"),
    ] {
        if engine
            .has_declared_rule_rooted_at(path, name)
            .map_err(|e| e.to_string())?
        {
            rules.push(path_in_data);
        }
    }
    if rules.is_empty() {
        return Err(
            "declares neither `deny` nor `violation`: nothing it says could deny an image (a misspelt rule name?)"
                .into(),
        );
    }
    // regorus analyses the modules on the first evaluation: do it once here, so that the
    // engine cloned for each image is already analysed (results and errors of this empty-input
    // run are irrelevant).
    engine.set_input(Value::new_object());
    for rule in &rules {
        let _ = engine.eval_rule((*rule).to_owned());
    }
    Ok(Prepared(engine, rules))
}

fn messages(v: &Value, out: &mut Vec<String>) {
    let items: Vec<&Value> = match v {
        Value::Set(s) => s.iter().collect(),
        Value::Array(a) => a.iter().collect(),
        Value::Undefined | Value::Null => Vec::new(),
        other => vec![other],
    };
    for item in items.into_iter().take(MAX_MESSAGES) {
        let text = match item {
            Value::String(s) => s.to_string(),
            Value::Object(o) => match o.get(&Value::from("msg")) {
                Some(Value::String(s)) => s.to_string(),
                _ => item.to_json_str().unwrap_or_default(),
            },
            other => other.to_json_str().unwrap_or_default(),
        };
        out.push(text);
    }
}

/// Evaluates the module over `input` (JSON built from verified data only); the deny and
/// violation messages, or why evaluation failed.
pub(crate) fn evaluate(prepared: &Prepared, input: Value) -> Result<Vec<String>, String> {
    let mut engine = prepared.0.clone();
    engine.set_input(input);
    let mut out = Vec::new();
    // Only the rules the module declares; any error while evaluating them is an error of the
    // verdict (never read as "no messages").
    for rule in &prepared.1 {
        let v = engine
            .eval_rule((*rule).to_owned())
            .map_err(|e| format!("{rule}: {e}"))?;
        messages(&v, &mut out);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_and_v0_deny_rules() {
        let input = Value::from(
            serde_json::json!({"image": "r/x", "attestations": [{"predicateType": "p"}]}),
        );
        let v1 = "package vouch\n\ndeny contains msg if {\n  some a in input.attestations\n  a.predicateType == \"p\"\n  msg := sprintf(\"bad %s\", [input.image])\n}\n";
        assert_eq!(
            evaluate(&prepare("a.rego", v1).unwrap(), input.clone()).unwrap(),
            vec!["bad r/x"]
        );
        let v0 = "package vouch\n\ndeny[msg] {\n  input.image == \"r/x\"\n  msg := \"v0 says no\"\n}\n\nviolation[{\"msg\": m}] {\n  m := \"a violation\"\n}\n";
        let mut got = evaluate(&prepare("b.rego", v0).unwrap(), input.clone()).unwrap();
        got.sort();
        assert_eq!(got, vec!["a violation", "v0 says no"]);
        let quiet = "package vouch\n\ndeny contains msg if {\n  input.image == \"other\"\n  msg := \"no\"\n}\n";
        assert!(
            evaluate(&prepare("c.rego", quiet).unwrap(), input.clone())
                .unwrap()
                .is_empty()
        );
        // An error while evaluating is an error, whatever its text says.
        let erring = "package vouch\n\ndeny contains msg if {\n  n := to_number(\"abc\")   # value not found -> error\n  msg := \"never\" }\n\ndeny contains msg if { true; msg := \"always denied\" }\n";
        assert!(evaluate(&prepare("e.rego", erring).unwrap(), input.clone()).is_err());
        // A module without deny or violation cannot deny anything: refused when loaded.
        let none = "package vouch\n\ndenny contains \"x\" if { true }\n";
        assert!(prepare("d.rego", none).unwrap_err().contains("neither"));
    }

    /// Issue 20: the verifiers and the Rego input agree on what JSON they accept. Everything
    /// `vouch_core::payload::strict` accepts converts to a Rego value equal to serde_json's
    /// reading (what the conditions see), and a deny rule about it fires; what regorus cannot
    /// convert is refused by the strict check, so it can never reach Rego as `null`.
    #[test]
    fn rego_reads_every_accepted_document_as_the_conditions_do() {
        use vouch_core::payload::strict;
        let depth = strict::MAX_DEPTH;
        let deep = format!("{}1{}", "[".repeat(depth - 1), "]".repeat(depth - 1));
        for doc in [
            r#"{"risk":-0}"#.to_owned(),
            r#"{"risk":1e-400,"n":18446744073709551615,"m":-9223372036854775808}"#.to_owned(),
            r#"{"risk":1.7976931348623157e308}"#.to_owned(),
            r#"{"s":"\ud83d\ude00 caf\u00e9 \u0000"}"#.to_owned(),
            format!(r#"{{"deep":{deep}}}"#),
        ] {
            assert_eq!(strict::check(doc.as_bytes()), Ok(()), "{doc}");
            let rego = Value::from_json_str(&doc).expect(&doc);
            let serde: serde_json::Value = serde_json::from_str(&doc).expect(&doc);
            assert_eq!(rego, Value::from(serde), "{doc}");
        }
        // -0 is 0 for a rule.
        let zero = "package vouch\n\ndeny contains \"zero\" if { input.risk == 0 }\n";
        let input = Value::from_json_str(r#"{"risk":-0}"#).unwrap();
        assert_eq!(
            evaluate(&prepare("z.rego", zero).unwrap(), input).unwrap(),
            vec!["zero"]
        );
        // What regorus cannot convert, strict refuses.
        let too_deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        for doc in [r#"{"risk":1e400}"#.to_owned(), too_deep] {
            assert!(Value::from_json_str(&doc).is_err(), "{doc}");
            assert!(strict::check(doc.as_bytes()).is_err(), "{doc}");
        }
    }

    #[test]
    fn modules_are_checked() {
        assert!(
            prepare("x.rego", "package other\n\ndeny contains 1 if { true }\n")
                .unwrap_err()
                .contains("package vouch")
        );
        assert!(
            prepare("x.rego", "package vouch\n\ndeny[ {\n")
                .unwrap_err()
                .contains("not valid Rego")
        );
        assert!(
            prepare(
                "x.rego",
                "package vouch\n\ndeny contains \"x\" if { false }\n"
            )
            .is_ok()
        );
    }
}
