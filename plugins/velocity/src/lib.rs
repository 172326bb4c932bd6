//! `velocity`: a window aggregator that scores how fast a card spends.
//!
//! Per window of a card's payments it keeps the number of payments, their
//! total and the distinct merchants, and scores the window between 0 and 1:
//!
//! ```text
//! score = 0.5 · min(payments / count_limit, 1)
//!       + 0.3 · min(total / total_limit, 1)
//!       + 0.2 · min(merchants / merchant_limit, 1)
//! ```
//!
//! A window whose score reaches `threshold` becomes an alert:
//! `{"card":…,"window_start":…,"window_end":…,"payments":…,"total":…,
//! "merchants":…,"score":…,"update":…}`; other windows emit nothing.
//!
//! Config (all optional): `amount` and `merchant`, the JSON fields to read
//! (default `amount` and `merchant`); `count_limit` (10), `total_limit`
//! (5000), `merchant_limit` (5) and `threshold` (0.7).
//!
//! A payment without a numeric amount is refused (it goes to the dead-letter
//! output); one without a merchant still counts.

use std::fmt::Write;

use weir_sdk::json::{self, Path, Scalar};
use weir_sdk::{Aggregator, Config, Event, State, Window, WindowEmitter};

/// The configured scorer.
#[derive(Clone, Debug)]
pub struct Velocity {
    amount: Path,
    merchant: Path,
    count_limit: f64,
    total_limit: f64,
    merchant_limit: f64,
    threshold: f64,
}

/// A window's accumulator.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Spend {
    /// Payments in the window.
    pub payments: u64,
    /// Their total amount.
    pub total: f64,
    /// Hashes of the distinct merchants' JSON text, sorted.
    pub merchants: Vec<u64>,
}

impl State for Spend {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.payments.to_le_bytes());
        out.extend_from_slice(&self.total.to_le_bytes());
        for merchant in &self.merchants {
            out.extend_from_slice(&merchant.to_le_bytes());
        }
    }

    fn decode(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() < 16 || !bytes.len().is_multiple_of(8) {
            return Err(format!(
                "a spend state is 16 + 8·n bytes, not {}",
                bytes.len()
            ));
        }
        let word = |i: usize| {
            let mut word = [0; 8];
            word.copy_from_slice(&bytes[i * 8..i * 8 + 8]);
            word
        };
        Ok(Spend {
            payments: u64::from_le_bytes(word(0)),
            total: f64::from_le_bytes(word(1)),
            merchants: (2..bytes.len() / 8)
                .map(|i| u64::from_le_bytes(word(i)))
                .collect(),
        })
    }
}

impl Spend {
    fn add_merchant(&mut self, hash: u64) {
        if let Err(at) = self.merchants.binary_search(&hash) {
            self.merchants.insert(at, hash);
        }
    }
}

impl Velocity {
    /// Reads the configuration.
    ///
    /// # Errors
    ///
    /// Names the key whose value is invalid.
    pub fn from_config(config: &Config) -> Result<Velocity, String> {
        let path = |key: &str, default: &str| {
            Path::parse(config.get_or(key, default)).map_err(|e| format!("config `{key}`: {e}"))
        };
        let positive = |key: &str, default: &str| {
            let text = config.get_or(key, default);
            match text.parse::<f64>() {
                Ok(x) if x > 0.0 && x.is_finite() => Ok(x),
                _ => Err(format!(
                    "config `{key}`: expected a positive number, got `{text}`"
                )),
            }
        };
        Ok(Velocity {
            amount: path("amount", "amount")?,
            merchant: path("merchant", "merchant")?,
            count_limit: positive("count_limit", "10")?,
            total_limit: positive("total_limit", "5000")?,
            merchant_limit: positive("merchant_limit", "5")?,
            threshold: positive("threshold", "0.7")?,
        })
    }

    /// The window's score, rounded to three decimals.
    pub fn score(&self, spend: &Spend) -> f64 {
        let part = |x: f64, limit: f64| (x / limit).min(1.0);
        let score = 0.5 * part(spend.payments as f64, self.count_limit)
            + 0.3 * part(spend.total, self.total_limit)
            + 0.2 * part(spend.merchants.len() as f64, self.merchant_limit);
        (score * 1000.0).round() / 1000.0
    }

    /// The alert for a window, if it scores at least the threshold.
    pub fn alert(&self, spend: &Spend, window: &Window<'_>) -> Option<String> {
        let score = self.score(spend);
        if spend.payments == 0 || score < self.threshold {
            return None;
        }
        let mut out = String::from("{\"card\":");
        json::push_string(&mut out, &String::from_utf8_lossy(window.key));
        let _ = write!(
            out,
            ",\"window_start\":{},\"window_end\":{},\"payments\":{},\"total\":{},\
             \"merchants\":{},\"score\":{},\"update\":{}}}",
            window.start,
            window.end,
            spend.payments,
            (spend.total * 100.0).round() / 100.0,
            spend.merchants.len(),
            score,
            window.update
        );
        Some(out)
    }
}

impl Aggregator for Velocity {
    type State = Spend;

    fn init(config: &Config) -> Result<Self, String> {
        Velocity::from_config(config)
    }

    fn add(&mut self, state: &mut Spend, event: &Event<'_>) -> Result<(), String> {
        let field = self.amount.as_str();
        let amount = match event.json(&self.amount) {
            Ok(Some(raw)) => match json::scalar(raw) {
                Scalar::Number(x) if x.is_finite() => x,
                _ => return Err(format!("payment's `{field}` is not a number")),
            },
            Ok(None) => return Err(format!("payment has no `{field}`")),
            Err(error) => return Err(format!("payment is not json: {error}")),
        };
        let merchant = event.json(&self.merchant).ok().flatten().map(fnv1a);
        state.payments += 1;
        state.total += amount;
        if let Some(hash) = merchant {
            state.add_merchant(hash);
        }
        Ok(())
    }

    fn merge(&mut self, into: &mut Spend, other: Spend) {
        into.payments += other.payments;
        into.total += other.total;
        for hash in other.merchants {
            into.add_merchant(hash);
        }
    }

    fn finish(&mut self, state: Spend, window: &Window<'_>, out: &mut WindowEmitter<'_>) {
        if let Some(alert) = self.alert(&state, window) {
            out.emit_value(alert);
        }
    }
}

weir_sdk::export_aggregator!(Velocity);

/// FNV-1a, 64 bits: a stable hash of a merchant's JSON text.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_sdk::OwnedEvent;
    use weir_sdk::testing;

    fn velocity(config: &[(&str, &str)]) -> Velocity {
        let config = config
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Velocity::from_config(&Config::new(config)).unwrap()
    }

    fn payment(amount: u32, merchant: &str) -> OwnedEvent {
        OwnedEvent::new(format!(
            "{{\"amount\":{amount},\"merchant\":\"{merchant}\"}}"
        ))
    }

    #[test]
    fn scores_and_alerts_over_the_threshold() {
        let mut v = velocity(&[("count_limit", "4"), ("threshold", "0.5")]);
        let payments = [(10, "a"), (20, "b"), (30, "a"), (40, "c")].map(|(a, m)| payment(a, m));
        let spend = testing::add(&mut v, &Spend::default(), &payments).unwrap();
        assert_eq!(spend.payments, 4);
        assert_eq!(spend.merchants.len(), 3);
        // 0.5·1 + 0.3·(100/5000) + 0.2·(3/5)
        assert_eq!(v.score(&spend), 0.626);
        let window = Window {
            key: b"card-\"7\"",
            start: 0,
            end: 60_000,
            update: false,
        };
        let alerts = testing::finish(&mut v, &spend, &window);
        let expected = r#"{"card":"card-\"7\"","window_start":0,"window_end":60000,"payments":4,"total":100,"merchants":3,"score":0.626,"update":false}"#;
        assert_eq!(
            alerts,
            [OwnedEvent::new(expected)
                .with_key(&b"card-\"7\""[..])
                .with_time(59_999)]
        );
        assert!(testing::finish(&mut velocity(&[]), &spend, &window).is_empty());
    }

    #[test]
    fn refuses_payments_without_a_numeric_amount() {
        let mut v = velocity(&[]);
        let bad = [
            OwnedEvent::new(r#"{"amount":"12"}"#),
            OwnedEvent::new(r#"{"merchant":"x"}"#),
            OwnedEvent::new("not json"),
        ];
        let reasons: Vec<_> = bad
            .iter()
            .map(|e| testing::add(&mut v, &Spend::default(), std::slice::from_ref(e)))
            .collect();
        assert_eq!(
            reasons,
            [
                Err((0, "payment's `amount` is not a number".into())),
                Err((0, "payment has no `amount`".into())),
                Err((
                    0,
                    "payment is not json: invalid json at byte 1: expected `null`".into()
                )),
            ]
        );
    }

    #[test]
    fn merging_equals_adding_everything_to_one() {
        let mut v = velocity(&[]);
        let payments: Vec<OwnedEvent> =
            (0..9).map(|i| payment(i, &format!("m{}", i % 4))).collect();
        let whole = testing::add(&mut v, &Spend::default(), &payments).unwrap();
        let (even, odd): (Vec<_>, Vec<_>) = payments
            .iter()
            .cloned()
            .enumerate()
            .partition(|(i, _)| i % 2 == 0);
        let strip = |v: Vec<(usize, OwnedEvent)>| v.into_iter().map(|(_, e)| e).collect::<Vec<_>>();
        let left = testing::add(&mut v, &Spend::default(), &strip(even)).unwrap();
        let right = testing::add(&mut v, &Spend::default(), &strip(odd)).unwrap();
        assert_eq!(
            testing::merge(&mut v, &[left, right, Spend::default()]),
            Ok(whole)
        );
        assert_eq!(
            Spend::decode(&[0; 12]),
            Err("a spend state is 16 + 8·n bytes, not 12".into())
        );
    }

    #[test]
    fn config_errors_name_the_key() {
        let config = Config::new(vec![("threshold".into(), "high".into())]);
        assert_eq!(
            Velocity::from_config(&config).unwrap_err(),
            "config `threshold`: expected a positive number, got `high`"
        );
    }
}
