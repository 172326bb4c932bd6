//! `filter`: keeps the events whose JSON field compares true against a
//! configured value and drops the rest.
//!
//! The decision logic lives in [`Filter`] so it can be tested on the build
//! machine; the export at the bottom only adapts it to the SDK.

use std::cmp::Ordering;

use weir_sdk::json::{self, Path, Scalar};
use weir_sdk::{Config, Emitter, Event, Transform};

/// A comparison operator from the `op` key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `>`
    Gt,
    /// `<=`
    Le,
    /// `>=`
    Ge,
    /// `contains`: substring.
    Contains,
}

impl Op {
    fn parse(text: &str) -> Result<Op, String> {
        Ok(match text {
            "==" => Op::Eq,
            "!=" => Op::Ne,
            "<" => Op::Lt,
            ">" => Op::Gt,
            "<=" => Op::Le,
            ">=" => Op::Ge,
            "contains" => Op::Contains,
            other => {
                return Err(format!(
                    "config `op`: unknown operator `{other}`, expected one of ==, !=, <, >, <=, \
                     >=, contains"
                ));
            }
        })
    }

    /// Whether `ordering` (field compared with value) satisfies the operator.
    fn holds(self, ordering: Option<Ordering>) -> bool {
        let Some(ordering) = ordering else {
            // NaN never compares; only `!=` holds.
            return self == Op::Ne;
        };
        match self {
            Op::Eq => ordering == Ordering::Equal,
            Op::Ne => ordering != Ordering::Equal,
            Op::Lt => ordering == Ordering::Less,
            Op::Gt => ordering == Ordering::Greater,
            Op::Le => ordering != Ordering::Greater,
            Op::Ge => ordering != Ordering::Less,
            Op::Contains => unreachable!("contains is not an ordering"),
        }
    }
}

/// What to do with an event that lacks the field, from the `missing` key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Missing {
    /// Drop it (the default).
    Drop,
    /// Keep it.
    Keep,
    /// Refuse it: it goes to the dead-letter output.
    Reject,
}

/// What happens to one event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Pass the event on unchanged.
    Keep,
    /// Drop the event.
    Drop,
}

/// A configured filter.
#[derive(Clone, Debug)]
pub struct Filter {
    field: Path,
    op: Op,
    value: String,
    /// `value` as a number, when it is a JSON number.
    number: Option<f64>,
    missing: Missing,
}

impl Filter {
    /// Reads `field`, `op`, `value` and `missing` from the stage config.
    ///
    /// # Errors
    ///
    /// Names the key that is missing or invalid.
    pub fn from_config(config: &Config) -> Result<Filter, String> {
        let field = config.require("field")?;
        let field = Path::parse(field).map_err(|err| format!("config `field`: {err}"))?;
        let op = Op::parse(config.require("op")?)?;
        let value = config.require("value")?.to_owned();
        let missing = match config.get_or("missing", "drop") {
            "drop" => Missing::Drop,
            "keep" => Missing::Keep,
            "reject" => Missing::Reject,
            other => {
                return Err(format!(
                    "config `missing`: unknown value `{other}`, expected one of drop, keep, reject"
                ));
            }
        };
        let number = match json::validate(value.as_bytes())
            .map(|()| json::scalar(value.trim().as_bytes()))
        {
            Ok(Scalar::Number(n)) => Some(n),
            _ => None,
        };
        Ok(Filter {
            field,
            op,
            value,
            number,
            missing,
        })
    }

    /// Decides the fate of an event with this JSON value.
    ///
    /// # Errors
    ///
    /// Fails when the value is not JSON, or when the field is missing and
    /// `missing = "reject"`.
    pub fn decide(&self, value: &[u8]) -> Result<Decision, String> {
        let found =
            json::find(value, &self.field).map_err(|err| format!("value is not json: {err}"))?;
        let Some(raw) = found else {
            return match self.missing {
                Missing::Drop => Ok(Decision::Drop),
                Missing::Keep => Ok(Decision::Keep),
                Missing::Reject => Err(format!("field `{}` is missing", self.field)),
            };
        };
        let matches = self.matches(raw);
        Ok(if matches {
            Decision::Keep
        } else {
            Decision::Drop
        })
    }

    /// Compares the raw field value with the configured value.
    fn matches(&self, raw: &[u8]) -> bool {
        match json::scalar(raw) {
            Scalar::Number(field) if self.number.is_some() => {
                if self.op == Op::Contains {
                    return contains(raw, self.value.as_bytes());
                }
                let value = self.number.unwrap_or_default();
                self.op.holds(field.partial_cmp(&value))
            }
            Scalar::String(text) => self.compare_text(text.as_bytes()),
            // Other numbers, booleans, null, objects and arrays: compare their
            // JSON text, so `value = "true"` matches the literal `true`.
            _ => self.compare_text(raw),
        }
    }

    fn compare_text(&self, field: &[u8]) -> bool {
        match self.op {
            Op::Contains => contains(field, self.value.as_bytes()),
            op => op.holds(Some(field.cmp(self.value.as_bytes()))),
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty()
        || haystack
            .windows(needle.len())
            .any(|window| window == needle)
}

impl Transform for Filter {
    fn init(config: &Config) -> Result<Self, String> {
        Filter::from_config(config)
    }

    fn transform(&mut self, event: &Event<'_>, out: &mut Emitter) -> Result<(), String> {
        if self.decide(event.value())? == Decision::Keep {
            out.keep();
        }
        Ok(())
    }
}

weir_sdk::export_transform!(Filter);

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(entries: &[(&str, &str)]) -> Result<Filter, String> {
        Filter::from_config(&entries.iter().copied().collect())
    }

    fn keeps(filter: &Filter, value: &str) -> bool {
        filter.decide(value.as_bytes()).unwrap() == Decision::Keep
    }

    #[test]
    fn compares_numbers_numerically() {
        let f = filter(&[("field", "amount"), ("op", ">"), ("value", "100")]).unwrap();
        assert!(keeps(&f, r#"{"amount": 250.5}"#));
        assert!(!keeps(&f, r#"{"amount": 99}"#));
        assert!(!keeps(&f, r#"{"amount": 100}"#));
        // 1e3 is 1000 numerically, though "1e3" < "100" as text.
        assert!(keeps(&f, r#"{"amount": 1e3}"#));

        let f = filter(&[("field", "amount"), ("op", "=="), ("value", "100")]).unwrap();
        assert!(keeps(&f, r#"{"amount": 100.0}"#));
        let f = filter(&[("field", "amount"), ("op", "<="), ("value", "-1.5")]).unwrap();
        assert!(keeps(&f, r#"{"amount": -1.5}"#));
        assert!(!keeps(&f, r#"{"amount": 0}"#));
    }

    #[test]
    fn compares_strings_as_text() {
        let f = filter(&[("field", "payer.country"), ("op", "=="), ("value", "DE")]).unwrap();
        assert!(keeps(&f, r#"{"payer": {"country": "DE"}}"#));
        assert!(keeps(&f, r#"{"payer": {"country": "\u0044E"}}"#));
        assert!(!keeps(&f, r#"{"payer": {"country": "FR"}}"#));

        let f = filter(&[("field", "name"), ("op", "contains"), ("value", "cafe")]).unwrap();
        assert!(keeps(&f, r#"{"name": "the cafe on the corner"}"#));
        assert!(!keeps(&f, r#"{"name": "bar"}"#));

        // A string field is compared as text even when it looks like a number.
        let f = filter(&[("field", "n"), ("op", "<"), ("value", "9")]).unwrap();
        assert!(keeps(&f, r#"{"n": "10"}"#), "\"10\" < \"9\" as text");
    }

    #[test]
    fn compares_literals_and_non_numeric_values_as_json_text() {
        let f = filter(&[("field", "ok"), ("op", "=="), ("value", "true")]).unwrap();
        assert!(keeps(&f, r#"{"ok": true}"#));
        assert!(!keeps(&f, r#"{"ok": false}"#));
        let f = filter(&[("field", "x"), ("op", "!="), ("value", "null")]).unwrap();
        assert!(!keeps(&f, r#"{"x": null}"#));
        assert!(keeps(&f, r#"{"x": 1}"#));
        let f = filter(&[("field", "n"), ("op", "=="), ("value", "abc")]).unwrap();
        assert!(!keeps(&f, r#"{"n": 1}"#));
        let f = filter(&[("field", "n"), ("op", "contains"), ("value", "23")]).unwrap();
        assert!(keeps(&f, r#"{"n": 1234}"#));
    }

    #[test]
    fn handles_missing_fields_per_config() {
        let base = [("field", "a"), ("op", "=="), ("value", "1")];
        let drop = filter(&base).unwrap();
        assert_eq!(drop.decide(b"{}"), Ok(Decision::Drop));
        let keep = filter(&[base[0], base[1], base[2], ("missing", "keep")]).unwrap();
        assert_eq!(keep.decide(b"{}"), Ok(Decision::Keep));
        let reject = filter(&[base[0], base[1], base[2], ("missing", "reject")]).unwrap();
        assert_eq!(reject.decide(b"{}"), Err("field `a` is missing".to_owned()));
    }

    #[test]
    fn refuses_values_that_are_not_json() {
        let f = filter(&[("field", "a"), ("op", "=="), ("value", "1")]).unwrap();
        assert_eq!(
            f.decide(b"hello"),
            Err("value is not json: invalid json at byte 0: expected a value".to_owned())
        );
    }

    #[test]
    fn names_the_bad_config_key() {
        let err = |entries: &[(&str, &str)]| filter(entries).unwrap_err();
        assert_eq!(
            err(&[("field", "a"), ("op", "=~"), ("value", "1")]),
            "config `op`: unknown operator `=~`, expected one of ==, !=, <, >, <=, >=, contains"
        );
        assert_eq!(
            err(&[("op", "=="), ("value", "1")]),
            "missing config key `field`"
        );
        assert_eq!(
            err(&[("field", "a"), ("value", "1")]),
            "missing config key `op`"
        );
        assert_eq!(
            err(&[("field", "a"), ("op", "==")]),
            "missing config key `value`"
        );
        assert_eq!(
            err(&[("field", "a..b"), ("op", "=="), ("value", "1")]),
            "config `field`: empty segment in field path `a..b`"
        );
        assert_eq!(
            err(&[
                ("field", "a"),
                ("op", "=="),
                ("value", "1"),
                ("missing", "maybe")
            ]),
            "config `missing`: unknown value `maybe`, expected one of drop, keep, reject"
        );
    }
}
