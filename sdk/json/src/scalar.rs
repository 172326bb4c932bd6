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
        _ => Scalar::Number(number(raw)),
    }
}

/// Powers of ten that `f64` holds exactly.
const EXACT_POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// The value of a JSON number, correctly rounded.
///
/// Most numbers in events (amounts, counts, timestamps) have at most 15
/// significant digits and a small exponent: their digits as an integer and
/// the power of ten are both exact in `f64`, so one multiplication or
/// division rounds correctly (Clinger's fast path). Anything else goes to
/// the standard library's parser.
fn number(raw: &[u8]) -> f64 {
    fast_number(raw).unwrap_or_else(|| {
        let text = std::str::from_utf8(raw).unwrap_or("");
        text.parse().unwrap_or(f64::NAN)
    })
}

fn fast_number(raw: &[u8]) -> Option<f64> {
    let (negative, mut rest) = match raw {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, raw),
    };
    let mut mantissa: u64 = 0;
    let mut digits = 0;
    let mut exponent: i32 = 0;
    let mut fraction = false;
    while let [b, tail @ ..] = rest {
        match b {
            b'0'..=b'9' => {
                // Leading zeros do not count as significant digits.
                if mantissa != 0 || *b != b'0' {
                    digits += 1;
                }
                mantissa = mantissa * 10 + u64::from(b - b'0');
                if fraction {
                    exponent -= 1;
                }
            }
            b'.' if !fraction => fraction = true,
            _ => break,
        }
        if digits > 15 {
            return None;
        }
        rest = tail;
    }
    if let [b'e' | b'E', tail @ ..] = rest {
        let (sign, digits) = match tail {
            [b'-', d @ ..] => (-1, d),
            [b'+', d @ ..] => (1, d),
            d => (1, d),
        };
        if digits.is_empty() || digits.len() > 4 || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let value = digits
            .iter()
            .fold(0i32, |n, d| n * 10 + i32::from(d - b'0'));
        exponent += sign * value;
    } else if !rest.is_empty() {
        return None;
    }
    let value = mantissa as f64;
    let power = *EXACT_POWERS_OF_TEN.get(exponent.unsigned_abs() as usize)?;
    let value = if exponent < 0 {
        value / power
    } else {
        value * power
    };
    Some(if negative { -value } else { value })
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
    fn numbers_parse_exactly_as_the_standard_library_does() {
        let cases = [
            "0",
            "-0",
            "7",
            "123.45",
            "-0.001",
            "0.1",
            "0.3",
            "9007199254740993",
            "123456789012345.6",
            "1234567890123456",
            "12345678901234567890",
            "2.5e-3",
            "1E+22",
            "1e23",
            "1e-22",
            "4.9e-324",
            "1.7976931348623157e308",
            "0.000000000000000000001",
            "3.14159265358979",
            "1e0",
            "100e-2",
            "00012",
            "5e00001",
        ];
        for case in cases {
            let expected: f64 = case.parse().unwrap();
            let got = match scalar(case.as_bytes()) {
                Scalar::Number(n) => n,
                other => panic!("{case}: {other:?}"),
            };
            assert_eq!(got.to_bits(), expected.to_bits(), "{case}");
        }
        // Every amount with two decimals up to 10 000.
        for cents in 0..1_000_000u32 {
            let text = format!("{}.{:02}", cents / 100, cents % 100);
            let Scalar::Number(got) = scalar(text.as_bytes()) else {
                panic!("{text}");
            };
            assert_eq!(got, text.parse::<f64>().unwrap(), "{text}");
        }
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
