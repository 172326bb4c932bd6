//! Interpreting a raw value returned by [`crate::find`].

use std::borrow::Cow;

use crate::unescape;

/// A raw JSON value, interpreted.
#[derive(Clone, Debug, PartialEq)]
pub enum Scalar<'a> {
    /// A string, with its escapes decoded.
    String(Cow<'a, str>),
    /// A number.
    Number(f64),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
    /// An object: its raw text, braces included.
    Object(&'a [u8]),
    /// An array: its raw text, brackets included.
    Array(&'a [u8]),
}

/// Interprets a raw value returned by [`crate::find`].
///
/// Strings are unescaped (`\n`, `\uXXXX` including surrogate pairs), borrowing
/// when there is nothing to decode. A number too large for `f64` becomes
/// infinite. `raw` must be a value as `find` returns it; for other bytes the
/// result is unspecified (but this never panics).
pub fn scalar(raw: &[u8]) -> Scalar<'_> {
    match raw.first() {
        Some(b'"') => Scalar::String(string_content(raw)),
        Some(b'{') => Scalar::Object(raw),
        Some(b'[') => Scalar::Array(raw),
        Some(b't') => Scalar::Bool(true),
        Some(b'f') => Scalar::Bool(false),
        Some(b'n') => Scalar::Null,
        _ => {
            let text = std::str::from_utf8(raw).unwrap_or("");
            Scalar::Number(text.parse().unwrap_or(f64::NAN))
        }
    }
}

/// The bytes key-by uses for a raw value: a string's unescaped content,
/// otherwise the raw text (so `"42"` and `42` both give the key `42`).
pub fn key_bytes(raw: &[u8]) -> Cow<'_, [u8]> {
    match raw {
        [b'"', inner @ .., b'"'] if inner.contains(&b'\\') => Cow::Owned(unescape::to_vec(inner)),
        [b'"', inner @ .., b'"'] => Cow::Borrowed(inner),
        _ => Cow::Borrowed(raw),
    }
}

fn string_content(raw: &[u8]) -> Cow<'_, str> {
    let inner = match raw {
        [b'"', inner @ .., b'"'] => inner,
        _ => raw,
    };
    if !inner.contains(&b'\\') {
        return String::from_utf8_lossy(inner);
    }
    match String::from_utf8(unescape::to_vec(inner)) {
        Ok(text) => Cow::Owned(text),
        Err(err) => Cow::Owned(String::from_utf8_lossy(err.as_bytes()).into_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interprets_each_kind() {
        assert_eq!(scalar(br#""c-42""#), Scalar::String(Cow::Borrowed("c-42")));
        assert_eq!(scalar(b"12.5"), Scalar::Number(12.5));
        assert_eq!(scalar(b"-1e3"), Scalar::Number(-1000.0));
        assert_eq!(scalar(b"true"), Scalar::Bool(true));
        assert_eq!(scalar(b"false"), Scalar::Bool(false));
        assert_eq!(scalar(b"null"), Scalar::Null);
        assert_eq!(scalar(br#"{"a":1}"#), Scalar::Object(br#"{"a":1}"#));
        assert_eq!(scalar(b"[1]"), Scalar::Array(b"[1]"));
    }

    #[test]
    fn unescapes_strings_and_borrows_when_it_can() {
        let Scalar::String(text) = scalar(br#""line\nbreak \u00e9 \ud83d\ude00""#) else {
            panic!("not a string");
        };
        assert_eq!(text, "line\nbreak \u{e9} \u{1f600}");
        assert!(matches!(text, Cow::Owned(_)));
        assert!(matches!(
            scalar(br#""plain""#),
            Scalar::String(Cow::Borrowed("plain"))
        ));
        assert_eq!(
            scalar("\"h\u{e9}\"".as_bytes()),
            Scalar::String(Cow::Borrowed("h\u{e9}"))
        );
    }

    #[test]
    fn huge_numbers_become_infinite() {
        assert_eq!(scalar(b"1e999"), Scalar::Number(f64::INFINITY));
    }

    #[test]
    fn key_bytes_strip_quotes_and_escapes() {
        assert_eq!(&*key_bytes(br#""c-42""#), b"c-42");
        assert!(matches!(key_bytes(br#""c-42""#), Cow::Borrowed(_)));
        assert_eq!(&*key_bytes(br#""a\"b""#), br#"a"b"#);
        assert_eq!(&*key_bytes(b"42"), b"42");
        assert_eq!(&*key_bytes(br#"{"a":1}"#), br#"{"a":1}"#);
        assert_eq!(&*key_bytes(br#""""#), b"");
    }
}
