//! PEM framing (RFC 7468) as cosign reads it, and the PEM labels of key files: shared by the
//! unencrypted (`import`) and encrypted (`encrypted`) key readers.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::KeyError;

/// The PEM label cosign ≥ 2 writes.
pub const SIGSTORE_LABEL: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";
/// The PEM label cosign 1.x wrote; still read.
pub const COSIGN_LABEL: &str = "ENCRYPTED COSIGN PRIVATE KEY";

const KNOWN_LABELS: &[&str] = &[
    "CERTIFICATE",
    "PUBLIC KEY",
    "PRIVATE KEY",
    "EC PRIVATE KEY",
    "RSA PRIVATE KEY",
    SIGSTORE_LABEL,
    COSIGN_LABEL,
];

/// Decodes the first PEM block in `text` and returns its label and body, as Go's
/// `encoding/pem.Decode` (which cosign uses) reads it — RFC 7468 §3: "parsers SHOULD be lenient":
/// anything before the block is skipped, the base64 may be wrapped at any width (64, 76, one
/// line…), with spaces, tabs and Windows line endings; the END line must name the same label.
/// Legacy encrypted PEM (RFC 1421 headers such as `Proc-Type`) is refused by name.
pub fn decode_pem(text: &[u8]) -> Result<(String, Vec<u8>), KeyError> {
    const BEGIN: &[u8] = b"-----BEGIN ";
    // The BEGIN line starts a line (Go: at the start, or after a newline).
    let mut from = 0;
    let start = loop {
        let i = find(&text[from..], BEGIN)
            .map(|i| i + from)
            .ok_or_else(|| KeyError::Pem("no `-----BEGIN` line found".into()))?;
        if i == 0 || text[i - 1] == b'\n' {
            break i;
        }
        from = i + 1;
    };
    let after_begin = &text[start + BEGIN.len()..];
    let line_end = after_begin
        .iter()
        .position(|&c| c == b'\n')
        .unwrap_or(after_begin.len());
    let label_line = trim_end(&after_begin[..line_end]);
    let label = label_line
        .strip_suffix(b"-----")
        .ok_or_else(|| KeyError::Pem("unterminated `-----BEGIN` line".into()))?;
    let label = String::from_utf8_lossy(label).into_owned();
    if !KNOWN_LABELS.contains(&label.as_str()) {
        return Err(KeyError::UnexpectedLabel {
            expected: "a key PEM block (PUBLIC KEY, PRIVATE KEY, EC PRIVATE KEY, ENCRYPTED SIGSTORE PRIVATE KEY)",
            found: label,
        });
    }
    let body_and_rest = &after_begin[(line_end + 1).min(after_begin.len())..];
    let end_line = format!("-----END {label}-----");
    let mut from = 0;
    let end = loop {
        let i = find(&body_and_rest[from..], end_line.as_bytes())
            .map(|i| i + from)
            .ok_or_else(|| KeyError::Pem(format!("no `{end_line}` line after the BEGIN line")))?;
        if i == 0 || body_and_rest[i - 1] == b'\n' {
            break i;
        }
        from = i + 1;
    };
    let body = &body_and_rest[..end];
    if body
        .split(|&c| c == b'\n')
        .next()
        .is_some_and(|l| l.contains(&b':'))
    {
        return Err(KeyError::Pem(format!(
            "the `{label}` block has RFC 1421 headers (a legacy encrypted PEM?); \
             expected a plain base64 body: re-export the key without PEM encryption"
        )));
    }
    let b64: Vec<u8> = body
        .iter()
        .copied()
        .filter(|c| !matches!(c, b' ' | b'\t' | b'\r' | b'\n'))
        .collect();
    let der = B64
        .decode(&b64)
        .map_err(|e| KeyError::Pem(format!("the `{label}` block is not valid base64: {e}")))?;
    Ok((label, der))
}

fn trim_end(line: &[u8]) -> &[u8] {
    let end = line
        .iter()
        .rposition(|c| !matches!(c, b' ' | b'\t' | b'\r'))
        .map_or(0, |e| e + 1);
    &line[..end]
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
