//! The JSON a signed document may hold: one reading for every reader. A verified statement is
//! read by several parsers — the policy conditions (serde), Rego (regorus), other tools — and a
//! document they read differently, or that one of them cannot read at all, is a way around a
//! policy (a predicate holding `1e400` reached Rego as `null`). So signed JSON is checked once,
//! when it is verified, and refused unless every reader reads it the same way:
//!
//! - nesting at most [`MAX_DEPTH`] arrays and objects deep (serde_json, and so regorus, stops at
//!   128);
//! - no object with the same key twice, after unescaping (`{"a":1,"\u0061":2}`): some readers
//!   take the first, some the last, some refuse;
//! - numbers that are finite doubles (`1e400` is not), and integers (no fraction, no exponent)
//!   within 64 bits, which every reader keeps exactly (a larger one is rounded by some);
//! - strings of Unicode scalar values: a `\uD800` escape without its pair is refused;
//! - otherwise RFC 8259 JSON (one value, UTF-8, no control characters in strings).
//!
//! `-0` is allowed: it is a finite double, equal to `0` for every reader.

use std::borrow::Cow;
use std::collections::HashSet;

/// The deepest nesting of arrays and objects accepted.
pub const MAX_DEPTH: usize = 100;

/// Why a JSON document is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StrictJsonError {
    /// Not JSON at all.
    #[error("not JSON at byte {at}: {reason}")]
    Syntax {
        /// Byte offset.
        at: usize,
        /// What was expected.
        reason: &'static str,
    },
    /// Nested too deeply.
    #[error("arrays and objects nested more than {limit} deep (at byte {at})")]
    TooDeep {
        /// [`MAX_DEPTH`].
        limit: usize,
        /// Byte offset.
        at: usize,
    },
    /// A key twice in one object.
    #[error("the key `{key}` appears twice in one object (at byte {at})")]
    DuplicateKey {
        /// The key (truncated to 64 characters).
        key: String,
        /// Byte offset of the second one.
        at: usize,
    },
    /// A number no reader can hold exactly or at all.
    #[error(
        "the number `{number}` (at byte {at}) is not a finite double or a 64-bit integer: write it as a string"
    )]
    Number {
        /// The number as written (truncated to 64 characters).
        number: String,
        /// Byte offset.
        at: usize,
    },
    /// A `\u` escape of half a surrogate pair.
    #[error("a string holds an unpaired surrogate escape (at byte {at})")]
    LoneSurrogate {
        /// Byte offset.
        at: usize,
    },
}

fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

/// Objects with at most this many keys are checked for duplicates by comparing in turn.
const SHORT_OBJECT: usize = 16;

struct Parser<'a> {
    /// The input, known to be UTF-8 (`b` is its bytes).
    s: &'a str,
    b: &'a [u8],
    i: usize,
}

type R<T> = Result<T, StrictJsonError>;

impl<'a> Parser<'a> {
    fn syntax<T>(&self, reason: &'static str) -> R<T> {
        Err(StrictJsonError::Syntax { at: self.i, reason })
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn value(&mut self, depth: usize) -> R<()> {
        self.ws();
        match self.peek() {
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => self.string(false).map(drop),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => self.syntax("expected a value"),
            None => self.syntax("unexpected end, expected a value"),
        }
    }

    fn literal(&mut self, word: &[u8]) -> R<()> {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(())
        } else {
            self.syntax("expected true, false or null")
        }
    }

    fn enter(&self, depth: usize) -> R<()> {
        if depth > MAX_DEPTH {
            return Err(StrictJsonError::TooDeep {
                limit: MAX_DEPTH,
                at: self.i,
            });
        }
        Ok(())
    }

    fn object(&mut self, depth: usize) -> R<()> {
        self.enter(depth)?;
        self.i += 1;
        // Keys seen: a short list compared in turn (most objects have a few keys), a set once
        // the object is large. Keys without escapes are borrowed from the input.
        let mut keys: Vec<Cow<'a, str>> = Vec::new();
        let mut many: Option<HashSet<Cow<'a, str>>> = None;
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(());
        }
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return self.syntax("expected a string key");
            }
            let at = self.i;
            let key = self.string(true)?.unwrap_or_default();
            let seen = match many.as_mut() {
                Some(set) => !set.insert(key.clone()),
                None => keys.contains(&key),
            };
            if seen {
                return Err(StrictJsonError::DuplicateKey {
                    key: truncate(&key),
                    at,
                });
            }
            if many.is_none() {
                keys.push(key);
                if keys.len() > SHORT_OBJECT {
                    many = Some(keys.drain(..).collect());
                }
            }
            self.ws();
            if self.peek() != Some(b':') {
                return self.syntax("expected `:`");
            }
            self.i += 1;
            self.value(depth)?;
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return self.syntax("expected `,` or `}`"),
            }
        }
    }

    fn array(&mut self, depth: usize) -> R<()> {
        self.enter(depth)?;
        self.i += 1;
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(());
        }
        loop {
            self.value(depth)?;
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return self.syntax("expected `,` or `]`"),
            }
        }
    }

    fn hex4(&mut self) -> R<u32> {
        let Some(h) = self.b.get(self.i..self.i + 4) else {
            return self.syntax("expected 4 hex digits after \\u");
        };
        let mut v = 0u32;
        for &c in h {
            let d = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                _ => return self.syntax("expected 4 hex digits after \\u"),
            };
            v = v * 16 + u32::from(d);
        }
        self.i += 4;
        Ok(v)
    }

    /// A string (the input is known to be UTF-8); decoded when `decode`, borrowed from the
    /// input when it holds no escape.
    fn string(&mut self, decode: bool) -> R<Option<Cow<'a, str>>> {
        self.i += 1;
        let mut out: Option<Cow<'a, str>> = decode.then_some(Cow::Borrowed(""));
        loop {
            let start = self.i;
            self.i += plain_run(self.b.get(self.i..).unwrap_or_default());
            if let Some(o) = out.as_mut() {
                // Whole UTF-8 sequences: the run stops only at ASCII bytes.
                let run = self.s.get(start..self.i).unwrap_or_default();
                if o.is_empty() {
                    *o = Cow::Borrowed(run);
                } else {
                    o.to_mut().push_str(run);
                }
            }
            match self.peek() {
                Some(b'"') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.i += 1;
                    let Some(e) = self.peek() else {
                        return self.syntax("unexpected end in an escape");
                    };
                    self.i += 1;
                    let ch = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let at = self.i - 2;
                            let first = self.hex4()?;
                            let code = match first {
                                0xD800..=0xDBFF => {
                                    if self.b.get(self.i..self.i + 2) != Some(b"\\u") {
                                        return Err(StrictJsonError::LoneSurrogate { at });
                                    }
                                    self.i += 2;
                                    let second = self.hex4()?;
                                    if !(0xDC00..=0xDFFF).contains(&second) {
                                        return Err(StrictJsonError::LoneSurrogate { at });
                                    }
                                    0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
                                }
                                0xDC00..=0xDFFF => {
                                    return Err(StrictJsonError::LoneSurrogate { at });
                                }
                                c => c,
                            };
                            match char::from_u32(code) {
                                Some(c) => c,
                                None => return Err(StrictJsonError::LoneSurrogate { at }),
                            }
                        }
                        _ => return self.syntax("an unknown escape"),
                    };
                    if let Some(o) = out.as_mut() {
                        o.to_mut().push(ch);
                    }
                }
                Some(_) => return self.syntax("a control character in a string"),
                None => return self.syntax("unexpected end in a string"),
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> R<()> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return self.syntax("expected a digit"),
        }
        let mut integer = true;
        if self.peek() == Some(b'.') {
            self.i += 1;
            integer = false;
            if self.digits() == 0 {
                return self.syntax("expected a digit after `.`");
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            integer = false;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if self.digits() == 0 {
                return self.syntax("expected a digit in the exponent");
            }
        }
        // ASCII only, by the grammar above.
        let text = self.s.get(start..self.i).unwrap_or_default();
        let digits = self.i - start;
        let ok = if integer && digits <= 18 {
            true // below 10^18: within 64 bits
        } else if integer {
            text.parse::<i64>().is_ok() || text.parse::<u64>().is_ok()
        } else {
            text.parse::<f64>().is_ok_and(f64::is_finite)
        };
        if !ok {
            return Err(StrictJsonError::Number {
                number: truncate(text),
                at: start,
            });
        }
        Ok(())
    }
}

/// How many bytes of `b` come before the first `"`, `\\` or control character (the end of a
/// string's plain run), eight bytes at a time: signed documents hold long strings (base64
/// payloads, SBOM texts) and this scan was a tenth of a batch gate's JSON work.
fn plain_run(b: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // A high bit set in each byte of `x` that is zero (exact in the lowest flagged byte, which
    // is the one we stop at).
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let mut i = 0;
    for chunk in b.chunks_exact(8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        // Bytes below 0x20: `x - 0x20` borrows into the high bit of a byte below 0x20 that
        // had it clear (bytes of 0x80 and up are UTF-8, never special).
        let control = x.wrapping_sub(ONES * 0x20) & !x & HIGH;
        if (zero(x ^ (ONES * u64::from(b'"'))) | zero(x ^ (ONES * u64::from(b'\\'))) | control) != 0
        {
            break;
        }
        i += 8;
    }
    i + b[i..]
        .iter()
        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
        .unwrap_or(b.len() - i)
}

/// Checks that `bytes` is one JSON value every reader reads the same way (the module's rules).
pub fn check(bytes: &[u8]) -> Result<(), StrictJsonError> {
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            return Err(StrictJsonError::Syntax {
                at: e.valid_up_to(),
                reason: "not UTF-8",
            });
        }
    };
    let mut p = Parser {
        s: text,
        b: bytes,
        i: 0,
    };
    p.value(0)?;
    p.ws();
    if p.i != bytes.len() {
        return p.syntax("trailing characters after the value");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_every_reader_reads_alike() {
        for ok in [
            r#"{"a":[1,-0,0.5,-1.5e10,1e-400,18446744073709551615,-9223372036854775808,true,false,null,"x\u00e9\ud83d\ude00\n"]}"#,
            " [ ] ",
            "{}",
            r#"{"a":{"a":1},"b":{"a":2}}"#,
            "\"caf\u{e9}\"",
        ] {
            assert_eq!(check(ok.as_bytes()), Ok(()), "{ok}");
        }
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert_eq!(check(deep.as_bytes()), Ok(()));
    }

    #[test]
    fn refuses_what_readers_read_differently() {
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(matches!(
            check(deep.as_bytes()),
            Err(StrictJsonError::TooDeep { .. })
        ));
        let deep_obj = format!("{}1{}", r#"{"a":"#.repeat(200), "}".repeat(200));
        assert!(matches!(
            check(deep_obj.as_bytes()),
            Err(StrictJsonError::TooDeep { .. })
        ));
        for (bad, number) in [
            ("[1e400]", "1e400"),
            ("[-1E999]", "-1E999"),
            ("[18446744073709551616]", "18446744073709551616"),
            ("[-9223372036854775809]", "-9223372036854775809"),
            (
                "[123456789012345678901234567890]",
                "123456789012345678901234567890",
            ),
        ] {
            assert!(
                matches!(check(bad.as_bytes()), Err(StrictJsonError::Number { number: n, .. }) if n == number),
                "{bad}"
            );
        }
        for dup in [
            r#"{"a":1,"a":2}"#,
            r#"{"a":1,"\u0061":2}"#,
            r#"{"x":{"deny":false,"deny":true}}"#,
        ] {
            assert!(
                matches!(
                    check(dup.as_bytes()),
                    Err(StrictJsonError::DuplicateKey { .. })
                ),
                "{dup}"
            );
        }
        // Large objects (checked with a set past SHORT_OBJECT keys), the twin on either side
        // of the switch, escaped or not.
        let keys: Vec<String> = (0..40).map(|k| format!("\"k{k}\":{k}")).collect();
        assert_eq!(check(format!("{{{}}}", keys.join(",")).as_bytes()), Ok(()));
        for (twin, at) in [
            (r#""k3":0"#, 5),
            (r#""k3":0"#, 30),
            (r#""\u006b39":0"#, 39),
            (r#""k20":0"#, 25),
            (r#""k\u0031":0"#, 2),
        ] {
            let mut dup = keys.clone();
            dup.insert(at, twin.to_owned());
            let doc = format!("{{{}}}", dup.join(","));
            assert!(
                matches!(
                    check(doc.as_bytes()),
                    Err(StrictJsonError::DuplicateKey { .. })
                ),
                "{doc}"
            );
        }
        // The plain-run scan finds the first special byte wherever it lies in its word.
        for len in 0..40 {
            for special in [b'"', b'\\', 0u8, 0x1f, b'\n'] {
                for at in 0..=len {
                    let mut b: Vec<u8> = (0..len).map(|k| b"a~\x7f\xc3\xa9 !#"[k % 8]).collect();
                    if at < len {
                        b[at] = special;
                    }
                    assert_eq!(plain_run(&b), at, "{b:?}");
                }
            }
        }
        // Escaped keys that differ stay distinct; 18-digit integers are within 64 bits.
        assert_eq!(check(br#"{"a\n":1,"a":2,"\u00e9":3,"\u00e8":4}"#), Ok(()));
        assert_eq!(check(b"[999999999999999999,-999999999999999999]"), Ok(()));
        for lone in [
            r#"["\ud800"]"#,
            r#"["\udc00"]"#,
            r#"["\ud800\u0041"]"#,
            r#"["\ud800x"]"#,
        ] {
            assert!(
                matches!(
                    check(lone.as_bytes()),
                    Err(StrictJsonError::LoneSurrogate { .. })
                ),
                "{lone}"
            );
        }
        for syntax in [
            "",
            "[",
            "[1,]",
            "{\"a\"}",
            "[01]",
            "[1.]",
            "[.5]",
            "[+1]",
            "[NaN]",
            "[Infinity]",
            "[1] [2]",
            "[\"\t\"]",
            "[\"\\x\"]",
            "{'a':1}",
            "[tru]",
        ] {
            assert!(
                matches!(
                    check(syntax.as_bytes()),
                    Err(StrictJsonError::Syntax { .. })
                ),
                "{syntax:?}"
            );
        }
        assert!(matches!(
            check(b"[\"\xff\"]"),
            Err(StrictJsonError::Syntax { .. })
        ));
    }
}
