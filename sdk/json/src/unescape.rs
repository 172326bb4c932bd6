//! Decoding the escape sequences of a JSON string without allocating: the
//! content is produced as a run of byte pieces, which callers compare or
//! collect.

/// Parses exactly four hexadecimal digits.
pub(crate) fn hex4(digits: &[u8]) -> Option<u16> {
    if digits.len() != 4 {
        return None;
    }
    let mut unit = 0u16;
    for &d in digits {
        let nibble = (d as char).to_digit(16)?;
        unit = unit << 4 | nibble as u16;
    }
    Some(unit)
}

/// Calls `piece` with the decoded content of the string whose raw text
/// (without quotes) is `raw`, in order, piece by piece; stops early and returns
/// `false` when `piece` does.
///
/// `raw` is expected to be valid (it came from the scanner). Anything the
/// scanner would reject is passed through as raw bytes rather than panicking.
pub(crate) fn pieces(raw: &[u8], mut piece: impl FnMut(&[u8]) -> bool) -> bool {
    let mut run_start = 0;
    let mut i = 0;
    while i < raw.len() {
        if raw[i] != b'\\' {
            i += 1;
            continue;
        }
        if !piece(&raw[run_start..i]) {
            return false;
        }
        let (decoded, len) = decode_escape(&raw[i..]);
        let mut buf = [0u8; 4];
        let bytes = match decoded {
            Some(c) => c.encode_utf8(&mut buf).as_bytes(),
            None => &raw[i..i + len],
        };
        if !piece(bytes) {
            return false;
        }
        i += len;
        run_start = i;
    }
    piece(&raw[run_start..])
}

/// Decodes the escape at the start of `at` (which begins with a backslash):
/// the character and the number of bytes consumed, or `None` and the bytes to
/// pass through for a malformed escape.
fn decode_escape(at: &[u8]) -> (Option<char>, usize) {
    let simple = match at.get(1) {
        Some(b'"') => '"',
        Some(b'\\') => '\\',
        Some(b'/') => '/',
        Some(b'b') => '\u{8}',
        Some(b'f') => '\u{c}',
        Some(b'n') => '\n',
        Some(b'r') => '\r',
        Some(b't') => '\t',
        Some(b'u') => return decode_unicode(at),
        Some(_) => return (None, 2),
        None => return (None, 1),
    };
    (Some(simple), 2)
}

fn decode_unicode(at: &[u8]) -> (Option<char>, usize) {
    let Some(high) = at.get(2..6).and_then(hex4) else {
        return (None, 2);
    };
    if !(0xd800..=0xdbff).contains(&high) {
        return (char::from_u32(u32::from(high)), 6);
    }
    let low = match at.get(6..8) {
        Some(b"\\u") => at.get(8..12).and_then(hex4),
        _ => None,
    };
    match low {
        Some(low @ 0xdc00..=0xdfff) => {
            let code = 0x10000 + ((u32::from(high) - 0xd800) << 10) + (u32::from(low) - 0xdc00);
            (char::from_u32(code), 12)
        }
        _ => (None, 6),
    }
}

/// Whether the decoded content of `raw` equals `text`, without allocating.
pub(crate) fn equals(raw: &[u8], text: &[u8]) -> bool {
    let mut rest = text;
    let prefix_matches = pieces(raw, |piece| match rest.strip_prefix(piece) {
        Some(tail) => {
            rest = tail;
            true
        }
        None => false,
    });
    prefix_matches && rest.is_empty()
}

/// The decoded content of `raw` as bytes.
pub(crate) fn to_vec(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    pieces(raw, |piece| {
        out.extend_from_slice(piece);
        true
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_every_escape() {
        let raw = br#"a\"b\\c\/d\be\ff\ng\rh\ti\u0041\u00e9\ud83d\ude00"#;
        let text = "a\"b\\c/d\u{8}e\u{c}f\ng\rh\ti\u{41}\u{e9}\u{1f600}";
        assert_eq!(to_vec(raw), text.as_bytes());
        assert!(equals(raw, text.as_bytes()));
    }

    #[test]
    fn compares_without_allocating() {
        assert!(equals(br"c\u0061rd", b"card"));
        assert!(!equals(br"c\u0061rd", b"cards"));
        assert!(!equals(br"c\u0061rds", b"card"));
        assert!(!equals(br"c\u0062rd", b"card"));
        assert!(equals(b"", b""));
    }

    #[test]
    fn passes_malformed_escapes_through() {
        assert_eq!(to_vec(br"\x"), br"\x");
        assert_eq!(to_vec(br"\ud800"), br"\ud800");
        assert_eq!(to_vec(b"\\"), b"\\");
    }
}
