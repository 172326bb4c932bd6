//! The error returned when a document is not well-formed JSON.

use std::fmt;

/// A document is not exactly one well-formed JSON value.
///
/// Displays as `invalid json at byte 17: expected `:` after object key`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JsonError {
    /// The byte offset in the document where the problem was found.
    pub offset: usize,
    kind: JsonErrorKind,
}

/// What was wrong at [`JsonError::offset`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum JsonErrorKind {
    /// A byte that cannot appear here; the text says what could.
    Expected(&'static str),
    /// The document ended early; the text says what was still expected.
    UnexpectedEnd(&'static str),
    /// Bytes other than whitespace follow the value.
    TrailingCharacters,
    /// A number starts with `0` followed by another digit.
    LeadingZero,
    /// A byte below 0x20 appears unescaped inside a string.
    ControlCharacter,
    /// A backslash is followed by something other than a JSON escape.
    InvalidEscape,
    /// `\u` is not followed by four hexadecimal digits.
    InvalidUnicodeEscape,
    /// A `\u` escape is a UTF-16 surrogate without its other half.
    UnpairedSurrogate,
    /// A string holds bytes that are not UTF-8.
    InvalidUtf8,
    /// Objects and arrays are nested deeper than [`crate::MAX_DEPTH`].
    TooDeep,
}

impl JsonError {
    pub(crate) fn new(offset: usize, kind: JsonErrorKind) -> JsonError {
        JsonError { offset, kind }
    }

    /// What was wrong.
    pub fn kind(&self) -> JsonErrorKind {
        self.kind
    }
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid json at byte {}: ", self.offset)?;
        match self.kind {
            JsonErrorKind::Expected(what) => write!(f, "expected {what}"),
            JsonErrorKind::UnexpectedEnd(what) => {
                write!(f, "unexpected end of input, expected {what}")
            }
            JsonErrorKind::TrailingCharacters => f.write_str("unexpected data after the value"),
            JsonErrorKind::LeadingZero => f.write_str("leading zero in number"),
            JsonErrorKind::ControlCharacter => f.write_str("unescaped control character in string"),
            JsonErrorKind::InvalidEscape => f.write_str("invalid escape sequence in string"),
            JsonErrorKind::InvalidUnicodeEscape => {
                f.write_str("expected four hexadecimal digits after `\\u`")
            }
            JsonErrorKind::UnpairedSurrogate => {
                f.write_str("unpaired utf-16 surrogate in `\\u` escape")
            }
            JsonErrorKind::InvalidUtf8 => f.write_str("invalid utf-8 in string"),
            JsonErrorKind::TooDeep => {
                write!(f, "nesting deeper than {} levels", crate::MAX_DEPTH)
            }
        }
    }
}

impl std::error::Error for JsonError {}
