//! The single-pass scanner: validates a whole document against RFC 8259 and,
//! on the way, notes where the value at a [`Path`] starts and ends.
//!
//! The scanner is a recursive descent over the bytes with no allocation. The
//! path is followed while scanning: a value is "on the path" when its location
//! matches the path's first `k` segments, and only such values compare their
//! member names or indices with segment `k`. Everything else is validated and
//! skipped.
//!
//! Speed matters here: `find` runs once per event in plugins and in the
//! host's key-by. The common case (compact JSON, short ASCII strings and
//! numbers) is kept on small inlined paths; string bodies and digit runs are
//! checked eight bytes at a time in a `u64` (portable, so wasm32 gets the
//! same code), and everything rare (escapes, non-ASCII, errors) is out of
//! line.

use crate::error::{JsonError, JsonErrorKind};
use crate::path::Path;
use crate::unescape;

/// The deepest nesting of objects and arrays accepted.
///
/// The scanner recurses once per level; the bound keeps a hostile document
/// from exhausting the stack (plugins run with small wasm stacks).
pub const MAX_DEPTH: usize = 128;

/// Validates that `json` is exactly one well-formed JSON value (surrounding
/// whitespace allowed) and returns the raw bytes of the value at `path`.
///
/// The result is a subslice of `json`: `"c-42"` with its quotes, `12.5`,
/// `{"a":1}`. It is `None` when the path does not exist. The whole document is
/// validated even when the value is found early. When an object has the same
/// member name twice, the first one is followed.
///
/// # Errors
///
/// Returns a [`JsonError`] with the byte offset of the first problem when
/// `json` is not well-formed.
pub fn find<'a>(json: &'a [u8], path: &Path) -> Result<Option<&'a [u8]>, JsonError> {
    let mut scanner = Scanner::new(json, Some(path));
    scanner.run()?;
    Ok(scanner.found.map(|(start, end)| &json[start..end]))
}

/// Validates that `json` is exactly one well-formed JSON value (surrounding
/// whitespace allowed).
///
/// # Errors
///
/// Returns a [`JsonError`] with the byte offset of the first problem.
pub fn validate(json: &[u8]) -> Result<(), JsonError> {
    let mut scanner = Scanner::new(json, None);
    scanner.run()
}

/// Byte classes inside a string: 0 for a byte that needs no attention
/// (printable ASCII other than `"` and `\`), 1 otherwise.
static STRING_SPECIAL: [u8; 256] = {
    let mut table = [1u8; 256];
    let mut b = 0x20;
    while b < 0x80 {
        if b != b'"' as usize && b != b'\\' as usize {
            table[b] = 0;
        }
        b += 1;
    }
    table
};

type Result<T, E = JsonError> = std::result::Result<T, E>;

/// The outcome of one scanning step.
type Step<T> = Result<T, Stop>;

/// A scanning step failed; the reason is in [`Scanner::failure`]. Keeping the
/// error out of the return value keeps results in registers on the hot path.
struct Stop;

struct Scanner<'a, 'p> {
    bytes: &'a [u8],
    depth: usize,
    /// The path to follow, if any.
    path: Option<&'p Path>,
    /// The number of segments in `path`, 0 without one.
    path_len: usize,
    /// The byte range of the value at `path`, once seen.
    found: Option<(usize, usize)>,
    /// Why the scan stopped, once it has.
    failure: Option<JsonError>,
}

// The scanning steps take the index they start at and return the index just
// past what they scanned, rather than moving a cursor in `self`: a cursor
// kept in memory puts a store and a load on every step's critical path.
impl<'a, 'p> Scanner<'a, 'p> {
    fn new(bytes: &'a [u8], path: Option<&'p Path>) -> Self {
        Scanner {
            bytes,
            depth: 0,
            path,
            path_len: path.map_or(0, Path::len),
            found: None,
            failure: None,
        }
    }

    fn run(&mut self) -> Result<()> {
        match self.document() {
            Ok(()) => Ok(()),
            Err(Stop) => Err(self.failure.expect("a failed step records its error")),
        }
    }

    fn document(&mut self) -> Step<()> {
        let i = skip_whitespace(self.bytes, 0);
        let i = self.child(i, self.path.map(|_| 0))?;
        let i = skip_whitespace(self.bytes, i);
        if i < self.bytes.len() {
            return Err(self.fail(i, JsonErrorKind::TrailingCharacters));
        }
        Ok(())
    }

    /// Scans the value at `i`. `on_path` is `Some(k)` when this value's
    /// location matches the path's first `k` segments; the value is the one
    /// looked for when `k` is the whole path.
    #[inline(always)]
    fn child(&mut self, i: usize, on_path: Option<usize>) -> Step<usize> {
        match on_path {
            None => self.value(i, None),
            Some(k) if k == self.path_len => self.target(i),
            Some(_) => self.value(i, on_path),
        }
    }

    /// Scans the value at the end of the path and notes where it lies.
    #[inline(never)]
    fn target(&mut self, i: usize) -> Step<usize> {
        let end = self.value(i, None)?;
        self.found = Some((i, end));
        Ok(end)
    }

    /// Scans one value; see [`Scanner::child`].
    #[inline(always)]
    fn value(&mut self, i: usize, on_path: Option<usize>) -> Step<usize> {
        match self.bytes.get(i) {
            Some(b'"') => self.string(i).map(|(end, _)| end),
            Some(b'-' | b'0'..=b'9') => self.number(i),
            Some(b'{') => self.object(i, on_path),
            Some(b'[') => self.array(i, on_path),
            Some(b't') => self.literal(i, b"true", "`true`"),
            Some(b'f') => self.literal(i, b"false", "`false`"),
            Some(b'n') => self.literal(i, b"null", "`null`"),
            _ => Err(self.unexpected(i, "a value")),
        }
    }

    fn object(&mut self, i: usize, on_path: Option<usize>) -> Step<usize> {
        self.enter(i)?;
        let bytes = self.bytes;
        let mut i = skip_whitespace(bytes, i + 1);
        if bytes.get(i) == Some(&b'}') {
            self.depth -= 1;
            return Ok(i + 1);
        }

        // The segment member names are compared with, until one matches:
        // only the first member with the segment's name is followed.
        let mut segment = match (on_path, self.path) {
            (Some(k), Some(path)) => Some((path.segment(k).0, k + 1)),
            _ => None,
        };
        loop {
            if bytes.get(i) != Some(&b'"') {
                return Err(self.unexpected(i, "an object key in double quotes"));
            }
            let (key_end, escaped) = self.string(i)?;
            let mut child = None;
            if let Some((name, k)) = segment
                && key_is(&bytes[i + 1..key_end - 1], escaped, name)
            {
                child = Some(k);
                segment = None;
            }

            i = skip_whitespace(bytes, key_end);
            if bytes.get(i) != Some(&b':') {
                return Err(self.unexpected(i, "`:` after object key"));
            }
            i = skip_whitespace(bytes, i + 1);
            i = self.child(i, child)?;

            i = skip_whitespace(bytes, i);
            match bytes.get(i) {
                Some(b',') => i = skip_whitespace(bytes, i + 1),
                Some(b'}') => {
                    self.depth -= 1;
                    return Ok(i + 1);
                }
                _ => return Err(self.unexpected(i, "`,` or `}` after object member")),
            }
        }
    }

    fn array(&mut self, i: usize, on_path: Option<usize>) -> Step<usize> {
        self.enter(i)?;
        let bytes = self.bytes;
        let mut i = skip_whitespace(bytes, i + 1);
        if bytes.get(i) == Some(&b']') {
            self.depth -= 1;
            return Ok(i + 1);
        }

        // The index the path wants here and the path position of its value.
        let wanted = match (on_path, self.path) {
            (Some(k), Some(path)) => path.segment(k).1.map(|index| (index, k + 1)),
            _ => None,
        };
        let mut index = 0;
        loop {
            let child = match wanted {
                Some((wanted, k)) if wanted == index => Some(k),
                _ => None,
            };
            i = self.child(i, child)?;
            index += 1;

            i = skip_whitespace(bytes, i);
            match bytes.get(i) {
                Some(b',') => i = skip_whitespace(bytes, i + 1),
                Some(b']') => {
                    self.depth -= 1;
                    return Ok(i + 1);
                }
                _ => return Err(self.unexpected(i, "`,` or `]` after array element")),
            }
        }
    }

    /// Scans the string whose opening quote is at `i`; returns the index just
    /// past its closing quote and whether it holds any escape sequence. The
    /// common case (plain ASCII up to the closing quote) is inlined; anything
    /// else continues out of line.
    #[inline(always)]
    fn string(&mut self, i: usize) -> Step<(usize, bool)> {
        let i = skip_plain_string_bytes(self.bytes, i + 1);
        if self.bytes.get(i) == Some(&b'"') {
            return Ok((i + 1, false));
        }
        self.string_rest(i)
    }

    /// Continues [`Scanner::string`] at `i`, a byte that needs attention.
    #[inline(never)]
    fn string_rest(&mut self, mut i: usize) -> Step<(usize, bool)> {
        let bytes = self.bytes;
        let mut escaped = false;
        loop {
            match bytes.get(i) {
                Some(b'"') => return Ok((i + 1, escaped)),
                Some(b'\\') => {
                    escaped = true;
                    i = escape(bytes, i).map_err(|err| self.stop(err))?;
                }
                Some(0..=0x1f) => return Err(self.fail(i, JsonErrorKind::ControlCharacter)),
                Some(_) => i = utf8_sequence(bytes, i).map_err(|err| self.stop(err))?,
                None => {
                    let kind = JsonErrorKind::UnexpectedEnd("`\"` to close the string");
                    return Err(self.fail(bytes.len(), kind));
                }
            }
            i = skip_plain_string_bytes(bytes, i);
        }
    }

    /// Scans the number whose `-` or first digit is at `i`.
    #[inline(always)]
    fn number(&mut self, mut i: usize) -> Step<usize> {
        let bytes = self.bytes;
        if bytes.get(i) == Some(&b'-') {
            i += 1;
        }
        match bytes.get(i) {
            Some(b'1'..=b'9') => i = skip_digits(bytes, i + 1),
            Some(b'0') => {
                i += 1;
                if bytes.get(i).is_some_and(u8::is_ascii_digit) {
                    return Err(self.fail(i - 1, JsonErrorKind::LeadingZero));
                }
            }
            _ => return Err(self.stop(digit_error(bytes, i, "a digit after `-`"))),
        }
        if bytes.get(i) == Some(&b'.') {
            i += 1;
            if !bytes.get(i).is_some_and(u8::is_ascii_digit) {
                return Err(self.stop(digit_error(bytes, i, "a digit after the decimal point")));
            }
            i = skip_digits(bytes, i + 1);
        }
        match bytes.get(i) {
            Some(b'e' | b'E') => self.exponent(i),
            _ => Ok(i),
        }
    }

    /// Scans the exponent of a number from `i`, its `e` or `E`; returns the
    /// index just past the number.
    #[inline(never)]
    fn exponent(&mut self, mut i: usize) -> Step<usize> {
        let bytes = self.bytes;
        i += 1;
        if let Some(b'+' | b'-') = bytes.get(i) {
            i += 1;
        }
        if !bytes.get(i).is_some_and(u8::is_ascii_digit) {
            return Err(self.stop(digit_error(bytes, i, "a digit in the exponent")));
        }
        Ok(skip_digits(bytes, i + 1))
    }

    /// Scans `word` (`true`, `false` or `null`) at `i`; `expected` names it
    /// in errors.
    #[inline(always)]
    fn literal(&mut self, i: usize, word: &'static [u8], expected: &'static str) -> Step<usize> {
        let end = i + word.len();
        if self.bytes.get(i..end) == Some(word) {
            return Ok(end);
        }
        Err(self.literal_error(i, word, expected))
    }

    /// Records where the literal at `i` first differs from `word`.
    #[cold]
    fn literal_error(&mut self, i: usize, word: &'static [u8], expected: &'static str) -> Stop {
        let rest = &self.bytes[i..];
        let same = rest
            .iter()
            .zip(word)
            .take_while(|(got, want)| got == want)
            .count();
        let kind = if same < rest.len() {
            JsonErrorKind::Expected(expected)
        } else {
            JsonErrorKind::UnexpectedEnd(expected)
        };
        self.fail(i + same, kind)
    }

    /// Enters the object or array whose opening bracket is at `i`.
    #[inline(always)]
    fn enter(&mut self, i: usize) -> Step<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.fail(i, JsonErrorKind::TooDeep));
        }
        Ok(())
    }

    /// Records an error at `i`, where `what` was expected.
    #[cold]
    fn unexpected(&mut self, i: usize, what: &'static str) -> Stop {
        let kind = if i < self.bytes.len() {
            JsonErrorKind::Expected(what)
        } else {
            JsonErrorKind::UnexpectedEnd(what)
        };
        self.fail(i, kind)
    }

    /// Records an error at `offset`.
    #[cold]
    fn fail(&mut self, offset: usize, kind: JsonErrorKind) -> Stop {
        self.stop(JsonError::new(offset, kind))
    }

    /// Records `error` as the reason the scan stops.
    #[cold]
    fn stop(&mut self, error: JsonError) -> Stop {
        self.failure = Some(error);
        Stop
    }
}

/// Whether the member name whose raw text (without quotes) is `raw` is `name`
/// once unescaped.
#[inline(always)]
fn key_is(raw: &[u8], escaped: bool, name: &[u8]) -> bool {
    if escaped {
        unescape::equals(raw, name)
    } else {
        raw == name
    }
}

/// Returns the index of the first byte at or after `i` that is not JSON
/// whitespace. Compact JSON has none, so that case is checked first and
/// inlined.
#[inline(always)]
fn skip_whitespace(bytes: &[u8], i: usize) -> usize {
    match bytes.get(i) {
        Some(&b) if b > b' ' => i,
        _ => skip_whitespace_run(bytes, i),
    }
}

fn skip_whitespace_run(bytes: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\r' | b'\t') = bytes.get(i) {
        i += 1;
    }
    i
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// Reads the eight bytes at `i` as a little-endian word, if there are eight.
#[inline(always)]
fn word_at(bytes: &[u8], i: usize) -> Option<u64> {
    let chunk = bytes.get(i..)?.first_chunk::<8>()?;
    Some(u64::from_le_bytes(*chunk))
}

/// Returns the index of the first byte at or after `i` that needs attention
/// inside a string: a quote, a backslash, a control character or a non-ASCII
/// byte. Most string bytes are plain, so this checks eight at a time.
#[inline(always)]
fn skip_plain_string_bytes(bytes: &[u8], mut i: usize) -> usize {
    while let Some(word) = word_at(bytes, i) {
        let special = special_string_bytes(word);
        if special != 0 {
            return i + (special.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < bytes.len() && STRING_SPECIAL[bytes[i] as usize] == 0 {
        i += 1;
    }
    i
}

/// Sets the high bit of the lowest byte of `word` that needs attention in a
/// string (see [`skip_plain_string_bytes`]); returns 0 when none does. Bits
/// above that byte may be set too.
#[inline(always)]
fn special_string_bytes(word: u64) -> u64 {
    // A subtraction sets a byte's high bit when the byte was below the
    // subtrahend: `x - ONES` flags zero bytes of `x` (here, bytes equal to `"`
    // or `\` after the xor), `word - 0x20 * ONES` flags control characters,
    // and `word` itself flags non-ASCII bytes. A byte at or above 0x80 may be
    // flagged by any term but needs attention anyway. Borrows only start at a
    // flagged byte and only move upwards, so the lowest flag is exact.
    let quote = (word ^ (ONES * u64::from(b'"'))).wrapping_sub(ONES);
    let backslash = (word ^ (ONES * u64::from(b'\\'))).wrapping_sub(ONES);
    let control = word.wrapping_sub(ONES * 0x20);
    (quote | backslash | control | word) & HIGH
}

/// Returns the index of the first byte at or after `i` that is not an ASCII
/// digit, checking eight at a time.
#[inline(always)]
fn skip_digits(bytes: &[u8], mut i: usize) -> usize {
    while let Some(word) = word_at(bytes, i) {
        let others = non_digit_bytes(word);
        if others != 0 {
            return i + (others.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while bytes.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    i
}

/// Sets the high bit of the lowest byte of `word` that is not an ASCII digit;
/// returns 0 when all are digits. Bits above that byte may be set too.
#[inline(always)]
fn non_digit_bytes(word: u64) -> u64 {
    // As in `special_string_bytes`: `word - b'0'` flags bytes below `0`,
    // `word + (0x80 - b':')` flags bytes above `9`, and `word` non-ASCII
    // bytes. Carries and borrows start only at a flagged byte and move
    // upwards.
    let below_zero = word.wrapping_sub(ONES * u64::from(b'0'));
    let above_nine = word.wrapping_add(ONES * (0x80 - u64::from(b':')));
    (below_zero | above_nine | word) & HIGH
}

fn digit_error(bytes: &[u8], i: usize, what: &'static str) -> JsonError {
    let kind = if i < bytes.len() {
        JsonErrorKind::Expected(what)
    } else {
        JsonErrorKind::UnexpectedEnd(what)
    };
    JsonError::new(i, kind)
}

/// Checks the escape sequence whose backslash is at `i`; returns the index
/// just past it.
fn escape(bytes: &[u8], i: usize) -> Result<usize> {
    match bytes.get(i + 1) {
        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => Ok(i + 2),
        Some(b'u') => unicode_escape(bytes, i),
        Some(_) => Err(JsonError::new(i, JsonErrorKind::InvalidEscape)),
        None => {
            let kind = JsonErrorKind::UnexpectedEnd("an escape sequence after `\\`");
            Err(JsonError::new(bytes.len(), kind))
        }
    }
}

/// Checks a `\uXXXX` escape at `i`, and its low half when it is a high
/// surrogate; returns the index just past it.
fn unicode_escape(bytes: &[u8], i: usize) -> Result<usize> {
    let unit = hex_unit(bytes, i + 2)?;
    match unit {
        0xd800..=0xdbff => {
            let pair = bytes.get(i + 6..i + 8) == Some(b"\\u");
            if !pair {
                return Err(JsonError::new(i, JsonErrorKind::UnpairedSurrogate));
            }
            match hex_unit(bytes, i + 8)? {
                0xdc00..=0xdfff => Ok(i + 12),
                _ => Err(JsonError::new(i, JsonErrorKind::UnpairedSurrogate)),
            }
        }
        0xdc00..=0xdfff => Err(JsonError::new(i, JsonErrorKind::UnpairedSurrogate)),
        _ => Ok(i + 6),
    }
}

/// Reads the four hexadecimal digits at `at`.
fn hex_unit(bytes: &[u8], at: usize) -> Result<u16> {
    match bytes.get(at..at + 4) {
        Some(digits) => unescape::hex4(digits)
            .ok_or(JsonError::new(at - 2, JsonErrorKind::InvalidUnicodeEscape)),
        None if bytes[at..].iter().all(u8::is_ascii_hexdigit) => {
            let kind = JsonErrorKind::UnexpectedEnd("four hexadecimal digits after `\\u`");
            Err(JsonError::new(bytes.len(), kind))
        }
        None => Err(JsonError::new(at - 2, JsonErrorKind::InvalidUnicodeEscape)),
    }
}

/// Checks the UTF-8 sequence whose lead byte (0x80 or above) is at `i`;
/// returns the index just past it. Follows RFC 3629: no overlong forms, no
/// surrogates, nothing above U+10FFFF.
fn utf8_sequence(bytes: &[u8], i: usize) -> Result<usize> {
    let (len, second) = match bytes[i] {
        0xc2..=0xdf => (2, 0x80..=0xbf),
        0xe0 => (3, 0xa0..=0xbf),
        0xe1..=0xec | 0xee..=0xef => (3, 0x80..=0xbf),
        0xed => (3, 0x80..=0x9f),
        0xf0 => (4, 0x90..=0xbf),
        0xf1..=0xf3 => (4, 0x80..=0xbf),
        0xf4 => (4, 0x80..=0x8f),
        _ => return Err(JsonError::new(i, JsonErrorKind::InvalidUtf8)),
    };
    let valid = match bytes.get(i + 1..i + len) {
        Some([b, rest @ ..]) => {
            second.contains(b) && rest.iter().all(|&c| (0x80..=0xbf).contains(&c))
        }
        _ => false,
    };
    if !valid {
        return Err(JsonError::new(i, JsonErrorKind::InvalidUtf8));
    }
    Ok(i + len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find_str<'a>(json: &'a str, path: &str) -> Option<&'a str> {
        let path = Path::parse(path).unwrap();
        let raw = find(json.as_bytes(), &path).unwrap();
        raw.map(|raw| std::str::from_utf8(raw).unwrap())
    }

    fn error_of(json: &[u8]) -> String {
        validate(json).unwrap_err().to_string()
    }

    #[test]
    fn accepts_valid_documents() {
        let valid: &[&str] = &[
            "0",
            "-0",
            "-0.0e-0",
            "1.5E+10",
            "123456789012345678901234567890",
            " \t\r\n true \n",
            "false",
            "null",
            r#""""#,
            r#""\"\\\/\b\f\n\r\t\u0000\uFFFF\ud83d\ude00""#,
            "\"h\u{e9}llo \u{4e16}\u{754c} \u{1f600}\"",
            "{}",
            "[]",
            r#"{"a":[1,{"b":null}],"c":{"d":[[]]}}"#,
            r#" { "a" : 1 , "b" : [ true , false ] } "#,
        ];
        for json in valid {
            assert_eq!(validate(json.as_bytes()), Ok(()), "{json}");
        }
    }

    #[test]
    fn rejects_invalid_documents_with_offset_and_reason() {
        // (document, offset, what was wrong)
        let cases: &[(&[u8], usize, &str)] = &[
            (b"", 0, "unexpected end of input, expected a value"),
            (b"   ", 3, "unexpected end of input, expected a value"),
            (b"{\"a\":1,}", 7, "expected an object key in double quotes"),
            (b"[1,]", 3, "expected a value"),
            (b"[1 2]", 3, "expected `,` or `]` after array element"),
            (b"{\"a\" 1}", 5, "expected `:` after object key"),
            (
                b"{\"a\":1 \"b\":2}",
                7,
                "expected `,` or `}` after object member",
            ),
            (
                b"{\"a\":1",
                6,
                "unexpected end of input, expected `,` or `}` after object member",
            ),
            (b"{a:1}", 1, "expected an object key in double quotes"),
            (b"{1:1}", 1, "expected an object key in double quotes"),
            (b"// c\n1", 0, "expected a value"),
            (b"1 // c", 2, "unexpected data after the value"),
            (b"1 2", 2, "unexpected data after the value"),
            (b"NaN", 0, "expected a value"),
            (b"-Infinity", 1, "expected a digit after `-`"),
            (
                b"-",
                1,
                "unexpected end of input, expected a digit after `-`",
            ),
            (b"01", 0, "leading zero in number"),
            (b"-012", 1, "leading zero in number"),
            (
                b"1.",
                2,
                "unexpected end of input, expected a digit after the decimal point",
            ),
            (b"1.e5", 2, "expected a digit after the decimal point"),
            (b".5", 0, "expected a value"),
            (
                b"1e",
                2,
                "unexpected end of input, expected a digit in the exponent",
            ),
            (b"1e+x", 3, "expected a digit in the exponent"),
            (b"+1", 0, "expected a value"),
            (b"tru", 3, "unexpected end of input, expected `true`"),
            (b"trUe", 2, "expected `true`"),
            (b"nul", 3, "unexpected end of input, expected `null`"),
            (b"fals e", 4, "expected `false`"),
            (
                b"\"abc",
                4,
                "unexpected end of input, expected `\"` to close the string",
            ),
            (b"\"a\tb\"", 2, "unescaped control character in string"),
            (b"\"a\nb\"", 2, "unescaped control character in string"),
            (b"\"\\x\"", 1, "invalid escape sequence in string"),
            (
                b"\"\\",
                2,
                "unexpected end of input, expected an escape sequence after `\\`",
            ),
            (
                b"\"\\u12g4\"",
                1,
                "expected four hexadecimal digits after `\\u`",
            ),
            (
                b"\"\\u12",
                5,
                "unexpected end of input, expected four hexadecimal digits after `\\u`",
            ),
            (
                b"\"\\ud800\"",
                1,
                "unpaired utf-16 surrogate in `\\u` escape",
            ),
            (
                b"\"\\ud800\\u0041\"",
                1,
                "unpaired utf-16 surrogate in `\\u` escape",
            ),
            (
                b"\"\\udc00\"",
                1,
                "unpaired utf-16 surrogate in `\\u` escape",
            ),
            (b"\"\xff\"", 1, "invalid utf-8 in string"),
            (b"\"a\xc3\"", 2, "invalid utf-8 in string"),
            (b"\"\xc0\xaf\"", 1, "invalid utf-8 in string"),
            (b"\"\xed\xa0\x80\"", 1, "invalid utf-8 in string"),
            (b"\"\xf4\x90\x80\x80\"", 1, "invalid utf-8 in string"),
            (b"\xef\xbb\xbf1", 0, "expected a value"),
            (b"[1]]", 3, "unexpected data after the value"),
            (b"{\"a\":1}x", 7, "unexpected data after the value"),
        ];
        for (json, offset, message) in cases {
            let expected = format!("invalid json at byte {offset}: {message}");
            assert_eq!(
                error_of(json),
                expected,
                "{}",
                String::from_utf8_lossy(json)
            );
        }
    }

    #[test]
    fn limits_nesting_depth() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert_eq!(validate(ok.as_bytes()), Ok(()));
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        let err = validate(deep.as_bytes()).unwrap_err();
        assert_eq!(err.kind(), JsonErrorKind::TooDeep);
        assert_eq!(err.offset, MAX_DEPTH);
        assert_eq!(
            err.to_string(),
            "invalid json at byte 128: nesting deeper than 128 levels"
        );
        // A document a million levels deep fails fast instead of overflowing.
        let hostile = "[".repeat(1_000_000);
        assert_eq!(
            validate(hostile.as_bytes()).unwrap_err().kind(),
            JsonErrorKind::TooDeep
        );
    }

    #[test]
    fn finds_values_of_every_kind() {
        let json = r#"{"id":"c-42","amount":12.5,"ok":true,"none":null,"o":{"a":1},"l":[1, 2]}"#;
        assert_eq!(find_str(json, "id"), Some(r#""c-42""#));
        assert_eq!(find_str(json, "amount"), Some("12.5"));
        assert_eq!(find_str(json, "ok"), Some("true"));
        assert_eq!(find_str(json, "none"), Some("null"));
        assert_eq!(find_str(json, "o"), Some(r#"{"a":1}"#));
        assert_eq!(find_str(json, "l"), Some("[1, 2]"));
        assert_eq!(find_str(json, "missing"), None);
    }

    #[test]
    fn follows_nested_objects_and_arrays() {
        let json = r#" {"payer": {"card": {"id": "c-1", "n": 2}},
                       "items": [{"sku": "a"}, {"sku": "b"}]} "#;
        assert_eq!(find_str(json, "payer.card.id"), Some(r#""c-1""#));
        assert_eq!(
            find_str(json, "payer.card"),
            Some(r#"{"id": "c-1", "n": 2}"#)
        );
        assert_eq!(find_str(json, "items.0.sku"), Some(r#""a""#));
        assert_eq!(find_str(json, "items.1.sku"), Some(r#""b""#));
        assert_eq!(find_str(json, "items.2.sku"), None);
        assert_eq!(find_str(json, "items.sku"), None);
        assert_eq!(find_str(json, "payer.card.id.x"), None);
        assert_eq!(find_str(json, "payer.id"), None);
        assert_eq!(find_str("[[10, 20], [30]]", "1.0"), Some("30"));
        assert_eq!(find_str(r#"{"0": "key"}"#, "0"), Some(r#""key""#));
        assert_eq!(find_str("[1]", "x"), None);
        assert_eq!(find_str("\"scalar\"", "x"), None);
    }

    #[test]
    fn does_not_match_deeper_members_with_the_same_name() {
        let json = r#"{"a": {"id": 1}, "id": 2}"#;
        assert_eq!(find_str(json, "id"), Some("2"));
        assert_eq!(find_str(r#"[{"0": 5}, 6]"#, "1"), Some("6"));
    }

    #[test]
    fn first_duplicate_member_wins() {
        assert_eq!(find_str(r#"{"a": 1, "a": 2}"#, "a"), Some("1"));
        // The path follows the first `a` even when only the second has `b`.
        assert_eq!(find_str(r#"{"a": {}, "a": {"b": 2}}"#, "a.b"), None);
        assert_eq!(
            find_str(r#"{"a": {"b": 1}, "a": {"b": 2}}"#, "a.b"),
            Some("1")
        );
    }

    #[test]
    fn matches_escaped_member_names() {
        assert_eq!(find_str(r#"{"c\u0061rd": "x"}"#, "card"), Some(r#""x""#));
        assert_eq!(find_str(r#"{"caf\u00e9": 1}"#, "caf\u{e9}"), Some("1"));
        assert_eq!(find_str(r#"{"a\"b": 1}"#, "a\"b"), Some("1"));
    }

    #[test]
    fn validates_the_whole_document_after_a_match() {
        let path = Path::parse("a").unwrap();
        let err = find(br#"{"a": 1, "b": tru}"#, &path).unwrap_err();
        assert_eq!(err.to_string(), "invalid json at byte 17: expected `true`");
        assert!(find(br#"{"a": 1} 2"#, &path).is_err());
    }

    /// Bytes a string can hold without escaping or UTF-8 decoding.
    fn is_plain(b: u8) -> bool {
        (0x20..0x80).contains(&b) && b != b'"' && b != b'\\'
    }

    #[test]
    fn word_masks_flag_exactly_the_first_byte_needing_attention() {
        // Every byte value at every position of a word, after plain or digit
        // bytes and before a few different tails (which may borrow).
        for tail in [0x00u8, b'"', b'a', b'5', 0xff] {
            for at in 0..8 {
                for b in 0..=255u8 {
                    let mut bytes = [tail; 8];
                    bytes[..at].fill(b'1');
                    bytes[at] = b;
                    let word = u64::from_le_bytes(bytes);

                    let special = special_string_bytes(word);
                    if is_plain(b) {
                        assert!(special == 0 || special.trailing_zeros() / 8 > at as u32);
                    } else {
                        assert_eq!(special.trailing_zeros() / 8, at as u32, "{b:#x} at {at}");
                    }
                    let others = non_digit_bytes(word);
                    if b.is_ascii_digit() {
                        assert!(others == 0 || others.trailing_zeros() / 8 > at as u32);
                    } else {
                        assert_eq!(others.trailing_zeros() / 8, at as u32, "{b:#x} at {at}");
                    }
                }
            }
        }
    }

    #[test]
    fn strings_of_every_length_near_chunk_sizes() {
        for len in 0..40 {
            let text = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH"[..len].to_owned();
            let alone = format!("\"{text}\"");
            assert_eq!(validate(alone.as_bytes()), Ok(()), "{alone}");
            let member = format!("{{\"{text}\":\"{text}\",\"k\":1}}");
            assert_eq!(find_str(&member, "k"), Some("1"), "{member}");
            if len > 0 {
                assert_eq!(find_str(&member, &text), Some(alone.as_str()));
            }
            let unclosed = format!("\"{text}");
            let err = validate(unclosed.as_bytes()).unwrap_err();
            assert_eq!(err.offset, unclosed.len(), "{unclosed}");
        }
    }

    #[test]
    fn control_characters_at_every_position_of_a_chunk() {
        for len in 1..24 {
            for at in 0..len {
                for control in [0x00, 0x09, 0x0a, 0x1f] {
                    let mut json = vec![b'"'];
                    json.extend((0..len).map(|n| b'a' + n as u8));
                    json.extend_from_slice(b"\"  ");
                    json[1 + at] = control;
                    let err = validate(&json).unwrap_err();
                    assert_eq!(err.kind(), JsonErrorKind::ControlCharacter);
                    assert_eq!(err.offset, 1 + at, "{json:?}");
                }
            }
        }
    }

    #[test]
    fn escapes_and_utf8_across_chunk_boundaries() {
        let inserts: &[&str] = &[
            "\\n",
            "\\\"",
            "\\\\",
            "\\u00e9",
            "\\ud83d\\ude00",
            "\u{e9}",
            "\u{4e16}",
            "\u{1f600}",
        ];
        for insert in inserts {
            for before in 0..18 {
                let text = format!("{}{insert}xyz", "p".repeat(before));
                let json = format!("{{\"{text}\":[\"{text}\",\"{text}\"],\"n\":2}}");
                assert_eq!(find_str(&json, "n"), Some("2"), "{json}");
                let decoded =
                    crate::scalar::key_bytes(format!("\"{text}\"").as_bytes()).into_owned();
                let key = String::from_utf8(decoded).unwrap();
                assert_eq!(
                    find_str(&json, &format!("{key}.1")),
                    Some(format!("\"{text}\"").as_str())
                );
            }
        }
    }

    #[test]
    fn invalid_utf8_and_escapes_across_chunk_boundaries() {
        let cases: &[(&[u8], usize, JsonErrorKind)] = &[
            (b"\xff", 0, JsonErrorKind::InvalidUtf8),
            (b"\xc3(", 0, JsonErrorKind::InvalidUtf8),
            (b"\xe4\xb8", 0, JsonErrorKind::InvalidUtf8),
            (b"\xed\xa0\x80", 0, JsonErrorKind::InvalidUtf8),
            (b"\x80", 0, JsonErrorKind::InvalidUtf8),
            (b"\\q", 0, JsonErrorKind::InvalidEscape),
            (b"\\u12x4", 0, JsonErrorKind::InvalidUnicodeEscape),
            (b"\\udc00", 0, JsonErrorKind::UnpairedSurrogate),
        ];
        for &(bad, at, kind) in cases {
            for before in 0..18 {
                let mut json = b"[\"".to_vec();
                json.extend(std::iter::repeat_n(b'p', before));
                json.extend_from_slice(bad);
                json.extend_from_slice(b"\"]");
                let err = validate(&json).unwrap_err();
                assert_eq!(
                    (err.kind(), err.offset),
                    (kind, 2 + before + at),
                    "{json:?}"
                );
            }
        }
    }

    #[test]
    fn numbers_of_every_length_near_chunk_sizes() {
        for digits in 1..30 {
            let int: String = (0..digits)
                .map(|n| char::from(b'1' + (n % 9) as u8))
                .collect();
            for number in [
                int.clone(),
                format!("-{int}"),
                format!("{int}.{int}"),
                format!("-0.{int}e-{int}"),
                format!("{int}E+{int}"),
            ] {
                assert_eq!(validate(number.as_bytes()), Ok(()), "{number}");
                let json = format!("{{\"a\":{number},\"b\":[{number}]}}");
                assert_eq!(find_str(&json, "a"), Some(number.as_str()));
                assert_eq!(find_str(&json, "b.0"), Some(number.as_str()));
            }
            let trailing = format!("{int}x");
            let err = validate(trailing.as_bytes()).unwrap_err();
            assert_eq!(err.kind(), JsonErrorKind::TrailingCharacters);
            assert_eq!(err.offset, digits);
            let unfinished = format!("{int}.");
            assert_eq!(
                validate(unfinished.as_bytes()).unwrap_err().offset,
                digits + 1
            );
            let zero = format!("-0{int}");
            assert_eq!(
                validate(zero.as_bytes()).unwrap_err().kind(),
                JsonErrorKind::LeadingZero
            );
        }
    }

    #[test]
    fn whitespace_everywhere_it_is_allowed() {
        let json = " \n{ \"a\" :\t[ 1 , \"x\" , true ] ,\r\n \"b\" : { } , \"c\" : [ ] } \n";
        assert_eq!(find_str(json, "a.1"), Some("\"x\""));
        assert_eq!(find_str(json, "b"), Some("{ }"));
        assert_eq!(find_str(json, "c"), Some("[ ]"));
    }
}
