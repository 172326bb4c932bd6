//! `json-schema`: rejects events whose JSON value does not match a JSON
//! Schema (draft 2020-12, 2019-09, 7, 6 or 4, detected from `$schema`;
//! 2020-12 when absent).
//!
//! The checking logic lives in [`SchemaCheck`] so it can be tested on the build
//! machine; the export at the bottom only adapts it to the SDK. Schemas must be
//! self-contained: a `$ref` to another document cannot be resolved (there is
//! no file system or network in a plugin) and fails at init.

use std::fmt::Write as _;

use serde_json::Value;
use weir_sdk::{Config, Event, Validator};

/// At most this many schema violations are listed in a rejection reason.
const MAX_REPORTED: usize = 10;

/// A compiled schema.
pub struct SchemaCheck {
    validator: jsonschema::Validator,
}

impl SchemaCheck {
    /// Compiles the `schema` key of the stage config.
    ///
    /// # Errors
    ///
    /// Fails when the key is missing, is not JSON or is not a valid schema.
    pub fn from_config(config: &Config) -> Result<SchemaCheck, String> {
        let text = config.require("schema")?;
        let schema: Value = serde_json::from_str(text)
            .map_err(|err| format!("config `schema`: not json: {err}"))?;
        let validator = jsonschema::validator_for(&schema)
            .map_err(|err| format!("config `schema`: invalid schema: {err}"))?;
        Ok(SchemaCheck { validator })
    }

    /// Checks one JSON value.
    ///
    /// # Errors
    ///
    /// Lists the violations, each as `<instance location>: <problem>` (`/`
    /// being the whole value), separated by `; `; or says why the value is not
    /// JSON.
    pub fn check(&self, value: &[u8]) -> Result<(), String> {
        weir_sdk::json::validate(value).map_err(|err| format!("value is not json: {err}"))?;
        let instance: Value =
            serde_json::from_slice(value).map_err(|err| format!("value is not json: {err}"))?;

        let mut reason = String::new();
        let mut errors = self.validator.iter_errors(&instance);
        for error in errors.by_ref().take(MAX_REPORTED) {
            if !reason.is_empty() {
                reason.push_str("; ");
            }
            let location = error.instance_path().as_str();
            let location = if location.is_empty() { "/" } else { location };
            // Writing to a String cannot fail.
            let _ = write!(reason, "{location}: {error}");
        }
        let more = errors.count();
        if more > 0 {
            let _ = write!(reason, "; and {more} more");
        }
        if reason.is_empty() {
            Ok(())
        } else {
            Err(reason)
        }
    }
}

impl Validator for SchemaCheck {
    fn init(config: &Config) -> Result<Self, String> {
        SchemaCheck::from_config(config)
    }

    fn validate(&mut self, event: &Event<'_>) -> Result<(), String> {
        self.check(event.value())
    }
}

weir_sdk::export_validator!(SchemaCheck);

#[cfg(test)]
mod tests {
    use super::*;
    use weir_sdk::{OwnedEvent, testing};

    const PAYMENT: &str = r#"{
        "type": "object",
        "required": ["id", "amount"],
        "properties": {
            "id": {"type": "string"},
            "amount": {"type": "number", "minimum": 0},
            "items": {"type": "array", "items": {"type": "object", "required": ["sku"]}}
        }
    }"#;

    fn check(schema: &str) -> Result<SchemaCheck, String> {
        SchemaCheck::from_config(&[("schema", schema)].into_iter().collect())
    }

    #[test]
    fn passes_matching_values() {
        let mut check = check(PAYMENT).unwrap();
        let event = OwnedEvent::new(r#"{"id": "p-1", "amount": 12.5, "items": [{"sku": "a"}]}"#);
        assert_eq!(testing::validate(&mut check, &event), Ok(()));
    }

    #[test]
    fn names_the_instance_location_of_each_violation() {
        let check = check(PAYMENT).unwrap();
        assert_eq!(
            check.check(br#"{"id": "p-1", "amount": "abc"}"#),
            Err(r#"/amount: "abc" is not of type "number""#.to_owned())
        );
        assert_eq!(
            check.check(br#"{"id": 7, "amount": -1, "items": [{}]}"#),
            Err([
                r#"/amount: -1 is less than the minimum of 0"#,
                r#"/id: 7 is not of type "string""#,
                r#"/items/0: "sku" is a required property"#,
            ]
            .join("; "))
        );
        assert_eq!(
            check.check(br#"{"id": "p-1"}"#),
            Err(r#"/: "amount" is a required property"#.to_owned())
        );
    }

    #[test]
    fn caps_the_number_of_listed_violations() {
        let check = check(r#"{"items": {"type": "string"}}"#).unwrap();
        let reason = check.check(b"[1,2,3,4,5,6,7,8,9,10,11,12]").unwrap_err();
        assert_eq!(reason.matches("is not of type").count(), MAX_REPORTED);
        assert!(reason.ends_with("; and 2 more"), "{reason}");
    }

    #[test]
    fn rejects_values_that_are_not_json() {
        let check = check(PAYMENT).unwrap();
        assert_eq!(
            check.check(b"{\"id\": 01}"),
            Err("value is not json: invalid json at byte 7: leading zero in number".to_owned())
        );
    }

    #[test]
    fn refuses_bad_schemas_at_init() {
        assert_eq!(
            check("").err().unwrap().split(':').next(),
            Some("config `schema`")
        );
        assert!(
            check("{")
                .err()
                .unwrap()
                .starts_with("config `schema`: not json: ")
        );
        let err = check(r#"{"type": "nonsense"}"#).err().unwrap();
        assert!(
            err.starts_with("config `schema`: invalid schema: "),
            "{err}"
        );
        let err = check(r#"{"$ref": "https://example.com/schema.json"}"#)
            .err()
            .unwrap();
        assert!(
            err.starts_with("config `schema`: invalid schema: "),
            "{err}"
        );
        assert_eq!(
            SchemaCheck::from_config(&Config::default()).err().unwrap(),
            "missing config key `schema`"
        );
    }
}
