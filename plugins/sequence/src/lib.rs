//! `sequence`: numbers the events of each key, with weir's keyed state.
//!
//! Each event that is a JSON object gets a member `"seq":N` in front, where
//! `N` counts the events of its key-by key so far, this one included (1 for
//! the first). Fraud rules like "the tenth payment of a card today" start
//! from this. The count lives in weir's keyed state, so it survives the
//! plugin's instance being replaced, and a refused event does not count.
//!
//! Config (all optional): `field`, the member's name (default `seq`);
//! `ttl_ms`, how long after a key's last event its count is kept (by event
//! time; without it, forever): a key quiet for longer starts again at 1.
//!
//! An event whose value is not a JSON object is refused.

use weir_sdk::json;
use weir_sdk::{Config, Emitter, Event, Transform};

/// The state name the count is stored under.
const COUNT: &str = "count";

/// The configured numbering.
#[derive(Clone, Debug)]
pub struct Sequence {
    /// `"<field>":`, escaped once.
    member: String,
    ttl_ms: Option<u64>,
}

impl Sequence {
    /// Reads the configuration.
    ///
    /// # Errors
    ///
    /// Names the key whose value is invalid.
    pub fn from_config(config: &Config) -> Result<Sequence, String> {
        let field = config.get_or("field", "seq");
        if field.is_empty() {
            return Err("config `field`: must not be empty".into());
        }
        let mut member = String::new();
        json::push_string(&mut member, field);
        member.push(':');
        let ttl_ms = match config.get("ttl_ms") {
            None => None,
            Some(text) => match text.parse::<u64>() {
                Ok(ttl) if ttl > 0 => Some(ttl),
                _ => {
                    return Err(format!(
                        "config `ttl_ms`: expected a positive whole number of milliseconds, \
                         got `{text}`"
                    ));
                }
            },
        };
        Ok(Sequence { member, ttl_ms })
    }

    /// `value` with the member for `n` in front, if it is a JSON object.
    pub fn numbered(&self, value: &[u8], n: u64) -> Result<Vec<u8>, String> {
        json::validate(value).map_err(|e| format!("value is not json: {e}"))?;
        let text = value.trim_ascii();
        let Some(inner) = text.strip_prefix(b"{").and_then(|t| t.strip_suffix(b"}")) else {
            return Err("value is not a json object".into());
        };
        let mut out = Vec::with_capacity(value.len() + self.member.len() + 24);
        out.push(b'{');
        out.extend_from_slice(self.member.as_bytes());
        out.extend_from_slice(n.to_string().as_bytes());
        if !inner.trim_ascii().is_empty() {
            out.push(b',');
            out.extend_from_slice(inner);
        }
        out.push(b'}');
        Ok(out)
    }
}

impl Transform for Sequence {
    fn init(config: &Config) -> Result<Self, String> {
        Sequence::from_config(config)
    }

    fn transform(&mut self, event: &Event<'_>, out: &mut Emitter) -> Result<(), String> {
        let state = event.state();
        let seen = match state.get(COUNT) {
            None => 0,
            Some(bytes) => {
                let bytes: [u8; 8] = bytes
                    .try_into()
                    .map_err(|b: Vec<u8>| format!("stored count is {} bytes, not 8", b.len()))?;
                u64::from_le_bytes(bytes)
            }
        };
        let n = seen + 1;
        let value = self.numbered(event.value(), n)?;
        let count = n.to_le_bytes();
        match self.ttl_ms {
            Some(ttl) => state.set_with_ttl(COUNT, count, ttl),
            None => state.set(COUNT, count),
        }
        out.emit_value(value);
        Ok(())
    }
}

weir_sdk::export_transform!(Sequence);

#[cfg(test)]
mod tests {
    use super::*;
    use weir_sdk::OwnedEvent;
    use weir_sdk::testing::{self, Emitted};

    fn sequence(config: &[(&str, &str)]) -> Sequence {
        let config = config
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Sequence::from_config(&Config::new(config)).unwrap()
    }

    fn values(emitted: Vec<Emitted>) -> Vec<String> {
        emitted
            .into_iter()
            .map(|e| match e {
                Emitted::Event(e) => String::from_utf8(e.value.to_vec()).unwrap(),
                other => panic!("expected a new event, got {other:?}"),
            })
            .collect()
    }

    #[test]
    fn numbers_each_key_and_skips_refused_events() {
        testing::clear_state();
        let mut s = sequence(&[("field", "n")]);
        let event = |key: &str, value: &str| OwnedEvent::new(value).with_key(key);
        let mut run = |key, value| testing::transform(&mut s, &event(key, value)).map(values);
        assert_eq!(
            run("a", r#"{"x":1}"#),
            Ok(vec![r#"{"n":1,"x":1}"#.to_string()])
        );
        assert_eq!(run("b", "{}"), Ok(vec![r#"{"n":1}"#.to_string()]));
        assert_eq!(
            run("a", "[1]"),
            Err("value is not a json object".to_string())
        );
        assert_eq!(
            run("a", r#" {"y":2} "#),
            Ok(vec![r#"{"n":2,"y":2}"#.to_string()])
        );
        testing::clear_state();
        assert_eq!(run("a", "{}"), Ok(vec![r#"{"n":1}"#.to_string()]));
    }

    #[test]
    fn config_errors_name_the_key() {
        let config = Config::new(vec![("ttl_ms".into(), "soon".into())]);
        assert_eq!(
            Sequence::from_config(&config).unwrap_err(),
            "config `ttl_ms`: expected a positive whole number of milliseconds, got `soon`"
        );
    }
}
