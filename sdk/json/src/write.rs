//! Writing JSON: the one piece plugins that build JSON text by hand need.

use std::fmt::Write;

/// Appends `text` to `out` as a JSON string literal, quotes included:
/// `"` and `\` are escaped, control characters written as `\u00XX`, and
/// everything else (non-ASCII included) kept as it is.
pub fn push_string(out: &mut String, text: &str) {
    out.reserve(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::push_string;

    #[test]
    fn escapes_quotes_backslashes_and_control_characters() {
        let mut out = String::from("x=");
        push_string(&mut out, "a\"b\\c\nd\u{1}é");
        assert_eq!(out, r#"x="a\"b\\c\u000ad\u0001é""#);
        assert!(crate::validate(&out.as_bytes()[2..]).is_ok());
    }
}
