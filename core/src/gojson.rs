//! JSON written byte-for-byte as Go's `encoding/json` writes it, because cosign signs the bytes
//! Go produces: object keys of maps sorted, and `<`, `>`, `&`, U+2028, U+2029 escaped as `\u003c`…
//! Fields that hold Go maps (`map[string]any`) must be marked `#[serde(serialize_with =
//! "gojson::sorted")]`: their keys are then sorted at every level, whatever order serde_json's
//! `Map` keeps (another crate may turn on its `preserve_order` feature). Like Go ≥ 1.22,
//! serde_json writes `\b` and `\f` short.

use std::io;

use std::collections::BTreeMap;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::Value;
use serde_json::ser::Formatter;

/// Serializes `value` compactly, as Go's `json.Marshal` would.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, GoFormatter);
    value.serialize(&mut ser)?;
    Ok(out)
}

/// `serialize_with` for a JSON value that Go holds as `map[string]any` / `any`.
pub fn sorted<S: Serializer>(value: &Value, serializer: S) -> Result<S::Ok, S::Error> {
    Sorted(value).serialize(serializer)
}

/// `serialize_with` for an optional `map[string]any`.
pub fn sorted_opt_map<S: Serializer>(
    value: &Option<BTreeMap<String, Value>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        None => serializer.serialize_none(),
        Some(map) => {
            let mut out = serializer.serialize_map(Some(map.len()))?;
            for (k, v) in map {
                out.serialize_entry(k, &Sorted(v))?;
            }
            out.end()
        }
    }
}

struct Sorted<'a>(&'a Value);

impl Serialize for Sorted<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                let mut out = serializer.serialize_map(Some(keys.len()))?;
                for k in keys {
                    out.serialize_entry(k, &Sorted(&map[k]))?;
                }
                out.end()
            }
            Value::Array(items) => {
                let mut out = serializer.serialize_seq(Some(items.len()))?;
                for v in items {
                    out.serialize_element(&Sorted(v))?;
                }
                out.end()
            }
            other => other.serialize(serializer),
        }
    }
}

struct GoFormatter;

impl Formatter for GoFormatter {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            let esc = match c {
                '<' => "\\u003c",
                '>' => "\\u003e",
                '&' => "\\u0026",
                '\u{2028}' => "\\u2028",
                '\u{2029}' => "\\u2029",
                _ => continue,
            };
            writer.write_all(&fragment.as_bytes()[start..i])?;
            writer.write_all(esc.as_bytes())?;
            start = i + c.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Holder {
        #[serde(serialize_with = "sorted")]
        v: Value,
    }

    #[test]
    fn escapes_and_sorts_like_go() {
        let v = serde_json::json!({"b": "<a&b>\u{2028}", "a": [1, "x\ny", {"z": 1, "y": 2}]});
        // Go: json.Marshal(map[string]any{"b":"<a&b>\u2028","a":[]any{1,"x\ny"}})
        assert_eq!(
            String::from_utf8(to_vec(&Holder { v }).unwrap()).unwrap(),
            r#"{"v":{"a":[1,"x\ny",{"y":2,"z":1}],"b":"\u003ca\u0026b\u003e\u2028"}}"#
        );
    }
}
