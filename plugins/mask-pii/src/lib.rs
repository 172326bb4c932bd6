//! `mask-pii`: replaces the values of configured JSON fields with a mask or a
//! salted hash, leaving every other byte of the event exactly as it was.
//!
//! The rewriting logic lives in [`Masker`] so it can be tested on the build
//! machine; the export at the bottom only adapts it to the SDK.

use std::fmt::Write as _;

use sha2::{Digest, Sha256};
use weir_sdk::json::{self, Path};
use weir_sdk::{Config, Emitter, Event, Transform, ValueWriter};

/// What a masked field becomes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// A fixed JSON string (the `mask` key, `***` by default), stored already
    /// encoded as JSON text.
    Mask(String),
    /// `"sha256:<16 hex digits>"` of the salt followed by the raw field text.
    Hash {
        /// The `salt` key.
        salt: String,
    },
}

/// A configured masker.
#[derive(Clone, Debug)]
pub struct Masker {
    fields: Vec<Path>,
    mode: Mode,
}

impl Masker {
    /// Reads `fields`, `mode`, `mask` and `salt` from the stage config.
    ///
    /// # Errors
    ///
    /// Names the key that is missing or invalid.
    pub fn from_config(config: &Config) -> Result<Masker, String> {
        let mut fields = Vec::new();
        for text in config.require("fields")?.split(',').map(str::trim) {
            let path = Path::parse(text).map_err(|err| format!("config `fields`: {err}"))?;
            fields.push(path);
        }
        let mode = match config.get_or("mode", "mask") {
            "mask" => Mode::Mask(json_string(config.get_or("mask", "***"))),
            "hash" => {
                let salt = config
                    .get("salt")
                    .ok_or("config `salt`: required when mode is hash")?;
                Mode::Hash {
                    salt: salt.to_owned(),
                }
            }
            other => {
                return Err(format!(
                    "config `mode`: unknown mode `{other}`, expected mask or hash"
                ));
            }
        };
        Ok(Masker { fields, mode })
    }

    /// The byte ranges of `value` to replace: one per configured field that is
    /// present, in order, with a field nested inside another one dropped (the
    /// outer replacement covers it).
    ///
    /// # Errors
    ///
    /// Fails when the value is not JSON.
    pub fn ranges(&self, value: &[u8]) -> Result<Vec<(usize, usize)>, String> {
        let mut ranges = Vec::with_capacity(self.fields.len());
        for path in &self.fields {
            let found =
                json::find(value, path).map_err(|err| format!("value is not json: {err}"))?;
            if let Some(raw) = found {
                let start = raw.as_ptr() as usize - value.as_ptr() as usize;
                ranges.push((start, start + raw.len()));
            }
        }
        ranges.sort_unstable_by_key(|&(start, end)| (start, std::cmp::Reverse(end)));
        let mut covered_to = 0;
        ranges.retain(|&(start, end)| {
            let outside = start >= covered_to;
            if outside {
                covered_to = end;
            }
            outside
        });
        Ok(ranges)
    }

    /// Writes `value` with the bytes in `ranges` replaced.
    pub fn write_masked(&self, value: &[u8], ranges: &[(usize, usize)], out: &mut ValueWriter<'_>) {
        let mut copied_to = 0;
        for &(start, end) in ranges {
            out.extend_from_slice(&value[copied_to..start]);
            self.write_replacement(&value[start..end], out);
            copied_to = end;
        }
        out.extend_from_slice(&value[copied_to..]);
    }

    fn write_replacement(&self, raw: &[u8], out: &mut ValueWriter<'_>) {
        match &self.mode {
            Mode::Mask(mask) => out.extend_from_slice(mask.as_bytes()),
            Mode::Hash { salt } => {
                let digest = Sha256::new()
                    .chain_update(salt)
                    .chain_update(raw)
                    .finalize();
                out.extend_from_slice(b"\"sha256:");
                for byte in &digest[..8] {
                    // Writing to a ValueWriter cannot fail.
                    let _ = write!(out, "{byte:02x}");
                }
                out.push(b'"');
            }
        }
    }
}

/// Encodes `text` as a JSON string literal, quotes included.
fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl Transform for Masker {
    fn init(config: &Config) -> Result<Self, String> {
        Masker::from_config(config)
    }

    fn transform(&mut self, event: &Event<'_>, out: &mut Emitter) -> Result<(), String> {
        let ranges = self.ranges(event.value())?;
        if ranges.is_empty() {
            out.keep();
        } else {
            out.emit_value_with(|writer| self.write_masked(event.value(), &ranges, writer));
        }
        Ok(())
    }
}

weir_sdk::export_transform!(Masker);

#[cfg(test)]
mod tests {
    use super::*;
    use weir_sdk::OwnedEvent;
    use weir_sdk::testing::{self, Emitted};

    fn masker(entries: &[(&str, &str)]) -> Result<Masker, String> {
        Masker::from_config(&entries.iter().copied().collect())
    }

    /// Runs the masker as a component would and returns the new value, or
    /// `None` when the event was kept unchanged.
    fn mask(masker: &mut Masker, value: &str) -> Option<String> {
        let event = OwnedEvent::new(value)
            .with_key("k")
            .with_header("h", "v")
            .with_time(9);
        let mut emitted = testing::transform(masker, &event).unwrap();
        assert_eq!(emitted.len(), 1);
        match emitted.pop() {
            Some(Emitted::Event(out)) => {
                assert_eq!(
                    (out.key, out.headers, out.time),
                    (event.key, event.headers, event.time)
                );
                Some(String::from_utf8(out.value).unwrap())
            }
            _ => None,
        }
    }

    #[test]
    fn masks_fields_keeping_every_other_byte() {
        let mut m = masker(&[("fields", "card, payer.email")]).unwrap();
        // Odd spacing, a newline and a tab: all must survive.
        let value = "{ \"card\" :\"4111 1111\",\n \"payer\": {\"email\": \"a@b\"},\t\"x\": [] }";
        let expected = "{ \"card\" :\"***\",\n \"payer\": {\"email\": \"***\"},\t\"x\": [] }";
        assert_eq!(mask(&mut m, value).as_deref(), Some(expected));
    }

    #[test]
    fn masks_any_kind_of_value_and_escapes_the_mask() {
        let mut m = masker(&[("fields", "a,b,c"), ("mask", "x\"y")]).unwrap();
        let value = r#"{"a": 12, "b": {"deep": [1]}, "c": null}"#;
        let expected = r#"{"a": "x\"y", "b": "x\"y", "c": "x\"y"}"#;
        assert_eq!(mask(&mut m, value).as_deref(), Some(expected));
    }

    #[test]
    fn leaves_missing_fields_alone() {
        let mut m = masker(&[("fields", "card,ssn")]).unwrap();
        assert_eq!(mask(&mut m, r#"{"other": 1}"#), None);
        assert_eq!(
            mask(&mut m, r#"{"ssn": "1", "other": 1}"#).as_deref(),
            Some(r#"{"ssn": "***", "other": 1}"#)
        );
    }

    #[test]
    fn nested_fields_inside_masked_ones_are_covered() {
        let mut m = masker(&[("fields", "a.b,a,a")]).unwrap();
        assert_eq!(
            mask(&mut m, r#"{"a": {"b": 1}}"#).as_deref(),
            Some(r#"{"a": "***"}"#)
        );
    }

    #[test]
    fn hashes_salt_and_raw_text() {
        let mut m = masker(&[("fields", "card"), ("mode", "hash"), ("salt", "pepper")]).unwrap();
        let out = mask(&mut m, r#"{"card": "4111"}"#).unwrap();
        // sha256("pepper" + "\"4111\""), first 8 bytes in hex.
        let digest = Sha256::digest(b"pepper\"4111\"");
        let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(out, format!(r#"{{"card": "sha256:{hex}"}}"#));
        assert_eq!(hex.len(), 16);
        // Deterministic, and different with another salt.
        assert_eq!(mask(&mut m, r#"{"card": "4111"}"#).unwrap(), out);
        let mut other = masker(&[("fields", "card"), ("mode", "hash"), ("salt", "salt")]).unwrap();
        assert_ne!(mask(&mut other, r#"{"card": "4111"}"#).unwrap(), out);
    }

    #[test]
    fn refuses_values_that_are_not_json() {
        let m = masker(&[("fields", "card")]).unwrap();
        let err = m.ranges(b"{\"card\": }").unwrap_err();
        assert_eq!(
            err,
            "value is not json: invalid json at byte 9: expected a value"
        );
    }

    #[test]
    fn names_the_bad_config_key() {
        assert_eq!(masker(&[]).unwrap_err(), "missing config key `fields`");
        assert_eq!(
            masker(&[("fields", "a,,b")]).unwrap_err(),
            "config `fields`: empty field path"
        );
        assert_eq!(
            masker(&[("fields", "a"), ("mode", "hash")]).unwrap_err(),
            "config `salt`: required when mode is hash"
        );
        assert_eq!(
            masker(&[("fields", "a"), ("mode", "rot13")]).unwrap_err(),
            "config `mode`: unknown mode `rot13`, expected mask or hash"
        );
    }

    #[test]
    fn encodes_masks_as_json_strings() {
        assert_eq!(json_string("a\"b\\c\n\u{1}é"), "\"a\\\"b\\\\c\\n\\u0001é\"");
    }
}
