//! `enrich-geo`: adds country details to JSON events from an ISO 3166-1
//! alpha-2 code, using a built-in table (see [`countries`]).
//!
//! The rewriting logic lives in [`Enricher`] so it can be tested on the build
//! machine; the export at the bottom only adapts it to the SDK.

pub mod countries;

use std::fmt::Write as _;

use weir_sdk::json::{self, Path, Scalar};
use weir_sdk::{Config, Emitter, Event, Transform, ValueWriter};

/// A configured enricher.
#[derive(Clone, Debug)]
pub struct Enricher {
    field: Path,
    /// The member to add, as a path of one segment, to find an existing one.
    target: Path,
    /// The member name encoded as a JSON string, quotes included.
    target_key: String,
}

impl Enricher {
    /// Reads `field` (default `country`) and `target` (default `geo`) from
    /// the stage config.
    ///
    /// # Errors
    ///
    /// Names the key that is invalid.
    pub fn from_config(config: &Config) -> Result<Enricher, String> {
        let field = Path::parse(config.get_or("field", "country"))
            .map_err(|err| format!("config `field`: {err}"))?;
        let target = config.get_or("target", "geo");
        if target.is_empty() || target.contains('.') {
            return Err(format!(
                "config `target`: `{target}` is not a member name (it must be non-empty, \
                 without `.`)"
            ));
        }
        let mut target_key = String::new();
        json::push_string(&mut target_key, target);
        let target = Path::parse(target).map_err(|err| format!("config `target`: {err}"))?;
        Ok(Enricher {
            field,
            target,
            target_key,
        })
    }

    /// Plans the rewrite of one JSON object: where the new member goes.
    ///
    /// # Errors
    ///
    /// Fails when the value is not JSON or not an object.
    pub fn plan(&self, value: &[u8]) -> Result<Plan, String> {
        let code =
            json::find(value, &self.field).map_err(|err| format!("value is not json: {err}"))?;
        let start = value.iter().position(|b| !b.is_ascii_whitespace());
        if start.map(|i| value[i]) != Some(b'{') {
            return Err("value is not a json object".to_owned());
        }
        let country = match code.map(json::scalar) {
            Some(Scalar::String(code)) => countries::lookup(&code),
            _ => None,
        };

        // Replace an existing member in place (the first one, which is what a
        // path finds); otherwise append before the closing brace.
        let splice = match json::find(value, &self.target).map_err(|err| err.to_string())? {
            Some(raw) => {
                let at = raw.as_ptr() as usize - value.as_ptr() as usize;
                Splice::Replace {
                    start: at,
                    end: at + raw.len(),
                }
            }
            None => {
                // The value is a valid object, so its last non-blank byte is `}`.
                let close = value
                    .iter()
                    .rposition(|&b| b == b'}')
                    .unwrap_or(value.len());
                let inner = &value[start.unwrap_or(0) + 1..close];
                let empty = inner.iter().all(u8::is_ascii_whitespace);
                Splice::Append { close, empty }
            }
        };
        Ok(Plan { country, splice })
    }

    /// Writes `value` rewritten as `plan` says.
    pub fn write(&self, value: &[u8], plan: &Plan, out: &mut ValueWriter<'_>) {
        match plan.splice {
            Splice::Replace { start, end } => {
                out.extend_from_slice(&value[..start]);
                write_geo(plan.country, out);
                out.extend_from_slice(&value[end..]);
            }
            Splice::Append { close, empty } => {
                out.extend_from_slice(&value[..close]);
                if !empty {
                    out.push(b',');
                }
                out.extend_from_slice(self.target_key.as_bytes());
                out.push(b':');
                write_geo(plan.country, out);
                out.extend_from_slice(&value[close..]);
            }
        }
    }
}

/// How one event is rewritten.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The country found, if any.
    pub country: Option<&'static countries::Country>,
    /// Where the geo object goes.
    pub splice: Splice,
}

/// Where the geo object goes in the value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Splice {
    /// Replaces the existing member's value at these byte offsets.
    Replace {
        /// Where the old value starts.
        start: usize,
        /// Where the old value ends.
        end: usize,
    },
    /// Appends a member before the closing brace at this offset.
    Append {
        /// The offset of the closing brace.
        close: usize,
        /// Whether the object has no members (so no comma is needed).
        empty: bool,
    },
}

fn write_geo(country: Option<&countries::Country>, out: &mut ValueWriter<'_>) {
    let Some(country) = country else {
        out.extend_from_slice(br#"{"continent":"unknown"}"#);
        return;
    };
    // Writing to a ValueWriter cannot fail; the table holds no characters that
    // need escaping in JSON.
    let _ = write!(
        out,
        r#"{{"country_name":"{}","continent":"{}","currency":"{}"}}"#,
        country.name, country.continent, country.currency
    );
}

impl Transform for Enricher {
    fn init(config: &Config) -> Result<Self, String> {
        Enricher::from_config(config)
    }

    fn transform(&mut self, event: &Event<'_>, out: &mut Emitter) -> Result<(), String> {
        let value = event.value();
        let plan = self.plan(value)?;
        out.emit_value_with(|writer| self.write(value, &plan, writer));
        Ok(())
    }
}

weir_sdk::export_transform!(Enricher);

#[cfg(test)]
mod tests {
    use super::*;
    use weir_sdk::OwnedEvent;
    use weir_sdk::testing::{self, Emitted};

    fn enricher(entries: &[(&str, &str)]) -> Enricher {
        Enricher::from_config(&entries.iter().copied().collect()).unwrap()
    }

    fn enrich(enricher: &mut Enricher, value: &str) -> Result<String, String> {
        let event = OwnedEvent::new(value).with_key("k").with_time(3);
        match testing::transform(enricher, &event)?.as_slice() {
            [Emitted::Event(out)] => {
                assert_eq!((&out.key, out.time), (&event.key, event.time));
                Ok(String::from_utf8(out.value.clone()).unwrap())
            }
            other => panic!("unexpected output {other:?}"),
        }
    }

    const DE: &str = r#"{"country_name":"Germany","continent":"Europe","currency":"EUR"}"#;
    const UNKNOWN: &str = r#"{"continent":"unknown"}"#;

    #[test]
    fn appends_the_geo_object_byte_exactly() {
        let mut e = enricher(&[]);
        let value = "{ \"id\": 1,\n  \"country\" : \"DE\" }\n";
        let expected = format!("{{ \"id\": 1,\n  \"country\" : \"DE\" ,\"geo\":{DE}}}\n");
        assert_eq!(enrich(&mut e, value), Ok(expected));
    }

    #[test]
    fn unknown_or_missing_codes_give_continent_unknown() {
        let mut e = enricher(&[]);
        let unknown = format!(r#"{{"country":"XX","geo":{UNKNOWN}}}"#);
        assert_eq!(enrich(&mut e, r#"{"country":"XX"}"#), Ok(unknown));
        assert_eq!(
            enrich(&mut e, r#"{"id":1}"#),
            Ok(format!(r#"{{"id":1,"geo":{UNKNOWN}}}"#))
        );
        assert_eq!(
            enrich(&mut e, r#"{"country":49}"#),
            Ok(format!(r#"{{"country":49,"geo":{UNKNOWN}}}"#))
        );
        assert_eq!(
            enrich(&mut e, "{ }"),
            Ok(format!(r#"{{ "geo":{UNKNOWN}}}"#))
        );
    }

    #[test]
    fn reads_a_nested_field_into_a_custom_target() {
        let mut e = enricher(&[("field", "payer.cc"), ("target", "where \"now\"")]);
        let out = enrich(&mut e, r#"{"payer":{"cc":"de"}}"#).unwrap();
        assert_eq!(
            out,
            format!(r#"{{"payer":{{"cc":"de"}},"where \"now\"":{DE}}}"#)
        );
    }

    #[test]
    fn replaces_an_existing_target_member() {
        let mut e = enricher(&[]);
        let out = enrich(&mut e, r#"{"geo": [1, 2], "country": "DE", "x": 0}"#).unwrap();
        assert_eq!(out, format!(r#"{{"geo": {DE}, "country": "DE", "x": 0}}"#));
    }

    #[test]
    fn refuses_values_that_are_not_objects() {
        let mut e = enricher(&[]);
        assert_eq!(
            enrich(&mut e, "[1]"),
            Err("value is not a json object".to_owned())
        );
        assert_eq!(
            enrich(&mut e, "\"DE\""),
            Err("value is not a json object".to_owned())
        );
        assert_eq!(
            enrich(&mut e, "{\"country\": DE}"),
            Err("value is not json: invalid json at byte 12: expected a value".to_owned())
        );
    }

    #[test]
    fn names_the_bad_config_key() {
        let err = |entries: &[(&str, &str)]| {
            Enricher::from_config(&entries.iter().copied().collect()).unwrap_err()
        };
        assert_eq!(
            err(&[("field", "a..b")]),
            "config `field`: empty segment in field path `a..b`"
        );
        assert_eq!(
            err(&[("target", "a.b")]),
            "config `target`: `a.b` is not a member name (it must be non-empty, without `.`)"
        );
    }
}
