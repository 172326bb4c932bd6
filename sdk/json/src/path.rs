//! Field paths: the dotted names (`payer.card.id`, `items.0.sku`) that select a
//! value inside a JSON document.

use std::fmt;
use std::str::FromStr;

/// A parsed field path: dotted segments, e.g. `card`, `payer.card.id`,
/// `items.0.sku`.
///
/// A segment names an object member. A segment made only of ASCII digits also
/// matches the array element at that index, so `items.0` reaches into both
/// `{"items": ["a"]}` and `{"items": {"0": "a"}}`. Member names that contain a
/// `.` cannot be expressed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Path {
    text: String,
    segments: Vec<Segment>,
}

/// One segment of a [`Path`]: its byte range in the text and, when it is all
/// digits and fits a `usize`, the array index it stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Segment {
    start: usize,
    end: usize,
    pub(crate) index: Option<usize>,
}

impl Path {
    /// Parses a dotted path.
    ///
    /// # Errors
    ///
    /// Returns a [`PathError`] when the path is empty or has an empty segment
    /// (`a..b`, `.a`, `a.`).
    pub fn parse(text: &str) -> Result<Path, PathError> {
        if text.is_empty() {
            return Err(PathError {
                text: String::new(),
                kind: PathErrorKind::Empty,
            });
        }
        let mut segments = Vec::new();
        let mut start = 0;
        for part in text.split('.') {
            if part.is_empty() {
                let kind = PathErrorKind::EmptySegment;
                return Err(PathError {
                    text: text.to_owned(),
                    kind,
                });
            }
            let all_digits = part.bytes().all(|b| b.is_ascii_digit());
            let index = if all_digits { part.parse().ok() } else { None };
            segments.push(Segment {
                start,
                end: start + part.len(),
                index,
            });
            start += part.len() + 1;
        }
        Ok(Path {
            text: text.to_owned(),
            segments,
        })
    }

    /// The path as written, e.g. `payer.card.id`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The number of segments.
    pub(crate) fn len(&self) -> usize {
        self.segments.len()
    }

    /// Segment `i`: its name bytes and its array index, if any.
    pub(crate) fn segment(&self, i: usize) -> (&[u8], Option<usize>) {
        let seg = self.segments[i];
        (&self.text.as_bytes()[seg.start..seg.end], seg.index)
    }
}

impl FromStr for Path {
    type Err = PathError;

    fn from_str(text: &str) -> Result<Path, PathError> {
        Path::parse(text)
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Why a field path could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathError {
    text: String,
    kind: PathErrorKind,
}

/// The kinds of [`PathError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PathErrorKind {
    /// The path is the empty string.
    Empty,
    /// The path has an empty segment: two dots in a row, or a leading or
    /// trailing dot.
    EmptySegment,
}

impl PathError {
    /// What was wrong with the path.
    pub fn kind(&self) -> PathErrorKind {
        self.kind
    }

    /// The path text that failed to parse.
    pub fn text(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            PathErrorKind::Empty => f.write_str("empty field path"),
            PathErrorKind::EmptySegment => {
                write!(f, "empty segment in field path `{}`", self.text)
            }
        }
    }
}

impl std::error::Error for PathError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_segments_and_indices() {
        let path = Path::parse("items.0.sku").unwrap();
        assert_eq!(path.as_str(), "items.0.sku");
        assert_eq!(path.len(), 3);
        assert_eq!(path.segment(0), (&b"items"[..], None));
        assert_eq!(path.segment(1), (&b"0"[..], Some(0)));
        assert_eq!(path.segment(2), (&b"sku"[..], None));
        assert_eq!(path.to_string(), "items.0.sku");
    }

    #[test]
    fn digits_too_large_for_an_index_only_match_keys() {
        let path: Path = "a.99999999999999999999999".parse().unwrap();
        assert_eq!(path.segment(1).1, None);
    }

    #[test]
    fn rejects_empty_paths_and_segments() {
        assert_eq!(Path::parse("").unwrap_err().to_string(), "empty field path");
        for bad in ["a..b", ".a", "a.", "."] {
            let err = Path::parse(bad).unwrap_err();
            assert_eq!(err.kind(), PathErrorKind::EmptySegment);
            assert_eq!(
                err.to_string(),
                format!("empty segment in field path `{bad}`")
            );
        }
    }
}
