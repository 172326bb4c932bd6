//! How events are written as JSON: the `envelope` line format and the pieces
//! dead-letter records share with it.
//!
//! Every function appends to a `Vec<u8>` and produces the same bytes for the
//! same input, so whole output lines can be compared in tests.
//!
//! # Bytes as JSON
//!
//! A key or value becomes, by [`json_bytes`]:
//!
//! - the JSON text itself when it is UTF-8 and valid JSON, with the
//!   whitespace outside strings removed (so a pretty-printed value still fits
//!   on one line): `{"a": 1}` → `{"a":1}`;
//! - otherwise a JSON string of the text when it is UTF-8: `oops{` →
//!   `"oops{"`;
//! - otherwise an object holding the bytes in standard base64 with padding:
//!   `[0xff, 0x00]` → `{"base64":"/wA="}`.
//!
//! The encoding favours readability over reversibility: a value that is the
//! JSON string `"x"` and a value that is the bare text `x` both appear as
//! `"x"`. An absent key is `null`.
//!
//! # Strings
//!
//! [`json_string`] escapes `"` and `\` with a backslash, writes `\b`, `\f`,
//! `\n`, `\r` and `\t` for those control characters, `\u00XX` (lower-case hex)
//! for the other characters below U+0020, and every other character as is.
//!
//! # Envelope
//!
//! [`envelope`] writes `{"key":K,"value":V,"headers":{H},"time":T}` where `K`
//! and `V` are as above, `H` is each header in order as `"name":value` (the
//! value a JSON string when it is UTF-8, else a `{"base64":…}` object; a
//! repeated name is written again, not merged) and `T` is the event time in
//! milliseconds since the Unix epoch:
//!
//! ```text
//! {"key":"c-0131","value":{"id":"p-1","amount":12.5},"headers":{"trace":"abc"},"time":1767225600000}
//! ```

use base64::Engine as _;

use crate::event::Event;

/// Appends `s` as a JSON string (see the module docs for the escapes).
pub fn json_string(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";

    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => &[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 15)],
            ],
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escape);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Appends `bytes` as JSON: the JSON itself, a string, or base64 (see the
/// module docs).
pub fn json_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    match std::str::from_utf8(bytes) {
        Ok(text) if weir_json::validate(bytes).is_ok() => minify(out, text.as_bytes()),
        Ok(text) => json_string(out, text),
        Err(_) => base64_object(out, bytes),
    }
}

/// Appends `bytes` as a JSON string when they are UTF-8, else as a
/// `{"base64":…}` object; used for header values, which are text by
/// convention but not JSON.
pub fn json_text(out: &mut Vec<u8>, bytes: &[u8]) {
    match std::str::from_utf8(bytes) {
        Ok(text) => json_string(out, text),
        Err(_) => base64_object(out, bytes),
    }
}

/// Appends the envelope of `event` (see the module docs), without a newline.
pub fn envelope(out: &mut Vec<u8>, event: &Event) {
    out.extend_from_slice(b"{\"key\":");
    match &event.key {
        Some(key) => json_bytes(out, key),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"value\":");
    json_bytes(out, &event.value);
    out.extend_from_slice(b",\"headers\":{");
    for (i, (name, value)) in event.headers.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json_string(out, name);
        out.push(b':');
        json_text(out, value);
    }
    out.extend_from_slice(b"},\"time\":");
    out.extend_from_slice(event.time.to_string().as_bytes());
    out.push(b'}');
}

/// `{"base64":"…"}` with standard, padded base64.
fn base64_object(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(b"{\"base64\":\"");
    let text = base64::engine::general_purpose::STANDARD.encode(bytes);
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(b"\"}");
}

/// Copies valid JSON, leaving out the whitespace between tokens.
fn minify(out: &mut Vec<u8>, json: &[u8]) {
    let mut in_string = false;
    let mut escaped = false;
    for &b in json {
        if in_string {
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b' ' | b'\t' | b'\n' | b'\r' => {}
            b'"' => {
                in_string = true;
                out.push(b);
            }
            _ => out.push(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(s: &str) -> String {
        let mut out = Vec::new();
        json_string(&mut out, s);
        String::from_utf8(out).unwrap()
    }

    fn bytes(b: &[u8]) -> String {
        let mut out = Vec::new();
        json_bytes(&mut out, b);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn strings_escape_quotes_backslashes_and_controls() {
        assert_eq!(string("plain"), r#""plain""#);
        assert_eq!(string("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(string("\n\r\t\u{8}\u{c}"), r#""\n\r\t\b\f""#);
        assert_eq!(string("\u{0}\u{1f}\u{7f}"), "\"\\u0000\\u001f\u{7f}\"");
        assert_eq!(string("é/€"), "\"é/€\"");
    }

    #[test]
    fn valid_json_is_embedded_without_whitespace() {
        assert_eq!(bytes(br#"{"a":1}"#), r#"{"a":1}"#);
        assert_eq!(
            bytes(b" {\n  \"a b\" : [1, 2],\r\n\t\"c\": \"x \\\" y\"\n}\n"),
            r#"{"a b":[1,2],"c":"x \" y"}"#
        );
        assert_eq!(bytes(b"42"), "42");
        assert_eq!(bytes(br#""text""#), r#""text""#);
    }

    #[test]
    fn text_that_is_not_json_becomes_a_string() {
        assert_eq!(
            bytes(br#"{"id":"p-1","card":"#),
            r#""{\"id\":\"p-1\",\"card\":""#
        );
        assert_eq!(bytes(b"hello"), r#""hello""#);
        assert_eq!(bytes(b""), r#""""#);
    }

    #[test]
    fn bytes_that_are_not_utf8_become_base64() {
        assert_eq!(bytes(&[0xff, 0x00]), r#"{"base64":"/wA="}"#);
    }

    #[test]
    fn envelope_writes_key_value_headers_and_time_in_order() {
        let mut event = Event::from_value(&br#"{"id": "p-1", "amount": 12.5}"#[..]);
        event.key = Some(b"c-0131".to_vec());
        event.headers = vec![
            ("trace".to_string(), b"abc".to_vec()),
            ("bin".to_string(), vec![0xfe]),
        ];
        event.time = 1_767_225_600_000;
        let mut out = Vec::new();
        envelope(&mut out, &event);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"key":"c-0131","value":{"id":"p-1","amount":12.5},"headers":{"trace":"abc","bin":{"base64":"/g=="}},"time":1767225600000}"#
        );
    }

    #[test]
    fn envelope_of_a_bare_event_has_null_key_and_empty_headers() {
        let mut out = Vec::new();
        envelope(&mut out, &Event::from_value(&b"[1, 2]"[..]));
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"key":null,"value":[1,2],"headers":{},"time":0}"#
        );
    }
}
