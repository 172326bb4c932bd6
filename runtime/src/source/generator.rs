//! The generator source: deterministic synthetic events for demos, tests and
//! benchmarks.
//!
//! # Events
//!
//! `events = "payments"` gives card payments of about 200 bytes of compact
//! JSON, fields always in this order:
//!
//! ```text
//! {"id":"p-0000000042","card":"c-0131","amount":123.45,"currency":"EUR","merchant":"m-017","country":"DE","email":"user131@example.com","ip":"10.0.131.7","ts":1767225600420}
//! ```
//!
//! `id` is `p-` and the sequence number; `card` one of 2000 cards
//! (`c-0000`…`c-1999`), with `email` and the first three parts of `ip`
//! following from it; `amount` from 1.00 to 999.99 with two decimals;
//! `merchant` one of 500; `currency` and `country` from short fixed lists.
//!
//! `events = "clicks"` gives page views:
//!
//! ```text
//! {"id":"k-0000000042","user":"u-03172","url":"https://shop.example.com/p/517","referrer":"https://www.google.com/","country":"FR","ts":1767225600420}
//! ```
//!
//! `user` is one of 5000; `referrer` is `null` for direct visits.
//!
//! The event's key is the card (payments) or user (clicks), its time is
//! `ts`, and it has no headers.
//!
//! # Time
//!
//! Event number `seq` (from 0) has `ts = start_time_ms + seq * interval_ms`.
//! An `out_of_order` share of events instead has a time up to `max_delay_ms`
//! earlier (never before `start_time_ms`).
//!
//! # Malformed events
//!
//! A `malformed` share of events is broken, half of them (by a fair coin)
//! not JSON at all: the text is cut off just after `"card":` (or `"user":`).
//! The other half is valid JSON without the `card` (`user`) field. Malformed
//! events have no key.
//!
//! # Determinism and partitions
//!
//! Every event is computed from the seed and its sequence number alone
//! (SplitMix64, seeded per event), so the same configuration always gives the
//! same bytes, and the events do not depend on how many partitions there are.
//! With `partitions = P`, partition `p` makes the events `seq = p, p + P,
//! p + 2P, …` below `count`, at `rate / P` events per second; its offsets
//! count its own events from 0.

use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Emit, Position, Source, SourceError};
use crate::config::{GeneratedKind, GeneratorConfig};
use crate::event::{Event, SourcePosition};

/// Distinct cards.
const CARDS: u64 = 2000;
/// Distinct merchants.
const MERCHANTS: u64 = 500;
/// Distinct users.
const USERS: u64 = 5000;
/// Distinct product pages.
const PRODUCTS: u64 = 1000;

const CURRENCIES: [&str; 6] = ["EUR", "USD", "GBP", "CHF", "SEK", "PLN"];
const COUNTRIES: [&str; 10] = ["DE", "FR", "NL", "ES", "IT", "GB", "US", "PL", "SE", "CH"];
const REFERRERS: [Option<&str>; 4] = [
    None,
    Some("https://www.google.com/"),
    Some("https://news.example.org/"),
    Some("https://shop.example.com/"),
];

/// Sleeping is worth it only when the source is at least this far ahead.
const MIN_SLEEP: Duration = Duration::from_millis(1);
/// Longest single sleep, so that a stop is noticed promptly.
const MAX_SLEEP: Duration = Duration::from_millis(100);
/// How many events an unpaced generator makes between checks for a stop.
const STOP_CHECK_EVERY: u64 = 1024;

/// One partition of a generator.
pub struct GeneratorSource {
    name: Arc<str>,
    config: GeneratorConfig,
    partition: u32,
    /// Events this partition makes; `None` for endless.
    count: Option<u64>,
    /// Events per second for this partition.
    rate: Option<f64>,
    /// The offset of the first event to emit (after a restore).
    start: u64,
}

impl GeneratorSource {
    /// The partitions of the generator `name`, in order.
    pub fn partitions(name: &str, config: &GeneratorConfig) -> Vec<GeneratorSource> {
        let name: Arc<str> = Arc::from(name);
        let total = u64::from(config.partitions.max(1));
        (0..total)
            .map(|p| GeneratorSource {
                name: Arc::clone(&name),
                config: config.clone(),
                partition: p as u32,
                count: config.count.map(|n| (n + total - 1 - p) / total),
                rate: config.rate.map(|r| r / total as f64),
                start: 0,
            })
            .collect()
    }

    /// This partition, resumed after its first `emitted` events.
    pub fn resume(self, emitted: u64) -> Self {
        GeneratorSource {
            start: emitted,
            ..self
        }
    }

    /// The event this partition emits at `offset`.
    pub fn event(&self, offset: u64) -> Event {
        let seq = offset * u64::from(self.config.partitions.max(1)) + u64::from(self.partition);
        let mut event = generate(&self.config, seq);
        event.position = SourcePosition {
            source: Arc::clone(&self.name),
            topic: None,
            partition: self.partition,
            offset,
        };
        event
    }

    /// Sleeps until event `offset` is due; returns false when the pipeline
    /// stopped meanwhile.
    fn pace(&self, rate: f64, started: Instant, offset: u64, out: &mut dyn Emit) -> bool {
        let due = Duration::from_secs_f64((offset - self.start) as f64 / rate);
        let mut elapsed = started.elapsed();
        if due < elapsed + MIN_SLEEP {
            return true;
        }
        if out.flush().is_err() {
            return false;
        }
        while elapsed < due {
            if out.stopping() {
                return false;
            }
            if out.barrier_due() && out.at(Position::Generator { emitted: offset }).is_err() {
                return false;
            }
            std::thread::sleep((due - elapsed).min(MAX_SLEEP));
            elapsed = started.elapsed();
        }
        true
    }
}

impl Source for GeneratorSource {
    fn run(&mut self, out: &mut dyn Emit) -> Result<(), SourceError> {
        tracing::debug!(
            source = %self.name,
            partition = self.partition,
            count = self.count,
            rate = self.rate,
            "generator started"
        );
        let started = Instant::now();
        let mut offset = self.start;
        while self.count.is_none_or(|count| offset < count) {
            if let Some(rate) = self.rate {
                if !self.pace(rate, started, offset, out) {
                    break;
                }
            } else if offset.is_multiple_of(STOP_CHECK_EVERY) && out.stopping() {
                break;
            }
            if out.barrier_due() && out.at(Position::Generator { emitted: offset }).is_err() {
                break;
            }
            if out.emit(self.event(offset)).is_err() {
                break;
            }
            offset += 1;
        }
        let _ = out.flush();
        let _ = out.at(Position::Generator { emitted: offset });
        Ok(())
    }
}

/// Event number `seq` of the generator `config` (its position left empty).
pub fn generate(config: &GeneratorConfig, seq: u64) -> Event {
    let mut rng = SplitMix64::for_event(config.seed, seq);

    // Draw every number in a fixed order, whatever is used, so that one
    // event's choices never shift another's.
    let malformed = rng.unit() < config.malformed;
    let truncated = rng.below(2) == 0;
    let late = rng.unit() < config.out_of_order;
    let delay = rng.below(config.max_delay_ms.saturating_add(1));
    let ts = event_time(config, seq, if late { delay } else { 0 });

    let mut value = Vec::with_capacity(224);
    let key = match config.events {
        GeneratedKind::Payments => payment(&mut rng, seq, ts, malformed, truncated, &mut value),
        GeneratedKind::Clicks => click(&mut rng, seq, ts, malformed, truncated, &mut value),
    };
    Event {
        key: if malformed { None } else { Some(key) },
        value,
        headers: Vec::new(),
        time: ts,
        position: SourcePosition::default(),
        route_key: None,
    }
}

/// `start + seq * interval - delay`, saturating, and never before `start`.
fn event_time(config: &GeneratorConfig, seq: u64, delay: u64) -> i64 {
    let step = i64::try_from(seq.saturating_mul(config.interval_ms)).unwrap_or(i64::MAX);
    let delay = i64::try_from(delay).unwrap_or(i64::MAX).min(step);
    config.start_time_ms.saturating_add(step - delay)
}

/// Writes a payment into `out` and returns its card (the key).
fn payment(
    rng: &mut SplitMix64,
    seq: u64,
    ts: i64,
    malformed: bool,
    truncated: bool,
    out: &mut Vec<u8>,
) -> Vec<u8> {
    let card = rng.below(CARDS);
    let cents = 100 + rng.below(99_900);
    let currency = CURRENCIES[rng.below(CURRENCIES.len() as u64) as usize];
    let merchant = rng.below(MERCHANTS);
    let country = COUNTRIES[rng.below(COUNTRIES.len() as u64) as usize];
    let host = rng.below(256);

    let key = format!("c-{card:04}").into_bytes();
    // Writing to a Vec cannot fail.
    let _ = write!(out, "{{\"id\":\"p-{seq:010}\",");
    if malformed && truncated {
        out.extend_from_slice(b"\"card\":");
        return key;
    }
    if !malformed {
        let _ = write!(out, "\"card\":\"c-{card:04}\",");
    }
    let _ = write!(
        out,
        "\"amount\":{}.{:02},\"currency\":\"{currency}\",\"merchant\":\"m-{merchant:03}\",\
         \"country\":\"{country}\",\"email\":\"user{card}@example.com\",\
         \"ip\":\"10.{}.{}.{host}\",\"ts\":{ts}}}",
        cents / 100,
        cents % 100,
        card / 256,
        card % 256,
    );
    key
}

/// Writes a click into `out` and returns its user (the key).
fn click(
    rng: &mut SplitMix64,
    seq: u64,
    ts: i64,
    malformed: bool,
    truncated: bool,
    out: &mut Vec<u8>,
) -> Vec<u8> {
    let user = rng.below(USERS);
    let product = rng.below(PRODUCTS);
    let referrer = REFERRERS[rng.below(REFERRERS.len() as u64) as usize];
    let country = COUNTRIES[rng.below(COUNTRIES.len() as u64) as usize];

    let key = format!("u-{user:05}").into_bytes();
    let _ = write!(out, "{{\"id\":\"k-{seq:010}\",");
    if malformed && truncated {
        out.extend_from_slice(b"\"user\":");
        return key;
    }
    if !malformed {
        let _ = write!(out, "\"user\":\"u-{user:05}\",");
    }
    let _ = write!(
        out,
        "\"url\":\"https://shop.example.com/p/{product}\",\"referrer\":"
    );
    match referrer {
        Some(url) => {
            let _ = write!(out, "\"{url}\"");
        }
        None => out.extend_from_slice(b"null"),
    }
    let _ = write!(out, ",\"country\":\"{country}\",\"ts\":{ts}}}");
    key
}

/// SplitMix64 (Steele, Lea and Flood, 2014): tiny, fast, and fixed forever,
/// unlike `rand`'s `StdRng`, whose algorithm may change between versions.
struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator for one event: the seed and sequence number mixed so that
    /// neighbouring events get unrelated streams.
    fn for_event(seed: u64, seq: u64) -> Self {
        SplitMix64(mix(seed ^ mix(seq.wrapping_add(0x6a09_e667_f3bc_c909))))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.0)
    }

    /// A number in `0..n` (`n > 0`), by multiply-and-shift; the bias is below
    /// 2^-40 for the small `n` used here.
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }

    /// A number in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// SplitMix64's output function.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::testing::Collect;

    fn config(events: GeneratedKind) -> GeneratorConfig {
        GeneratorConfig {
            count: Some(1000),
            seed: 7,
            ..GeneratorConfig::new(events)
        }
    }

    fn run(source: &mut GeneratorSource) -> Collect {
        let mut out = Collect::default();
        source.run(&mut out).unwrap();
        out
    }

    #[test]
    fn splitmix_matches_the_reference_sequence() {
        // First outputs of the reference implementation seeded with 0.
        let mut rng = SplitMix64(0);
        assert_eq!(rng.next(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(rng.next(), 0x6e78_9e6a_a1b9_65f4);
    }

    #[test]
    fn payments_have_the_documented_shape() {
        let event = generate(&config(GeneratedKind::Payments), 42);
        let text = String::from_utf8(event.value.clone()).unwrap();
        assert_eq!(weir_json::validate(&event.value), Ok(()));
        assert!(
            text.starts_with("{\"id\":\"p-0000000042\",\"card\":\"c-"),
            "{text}"
        );
        let ts = 1_767_225_600_000 + 420;
        assert!(text.ends_with(&format!(",\"ts\":{ts}}}")), "{text}");
        assert_eq!(event.time, ts);
        let card = &text[29..35];
        assert_eq!(event.key.as_deref(), Some(card.as_bytes()));
        let number: u64 = card[2..].parse().unwrap();
        assert!(
            text.contains(&format!("\"email\":\"user{number}@example.com\"")),
            "{text}"
        );
        let fields = [
            "\"id\"",
            "\"card\"",
            "\"amount\"",
            "\"currency\"",
            "\"merchant\"",
            "\"country\"",
            "\"email\"",
            "\"ip\"",
            "\"ts\"",
        ];
        let positions: Vec<usize> = fields.iter().map(|f| text.find(f).unwrap()).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
        assert!(
            (150..=230).contains(&text.len()),
            "{} bytes: {text}",
            text.len()
        );
    }

    #[test]
    fn clicks_have_the_documented_shape() {
        let event = generate(&config(GeneratedKind::Clicks), 3);
        let text = String::from_utf8(event.value.clone()).unwrap();
        assert_eq!(weir_json::validate(&event.value), Ok(()));
        assert!(
            text.starts_with("{\"id\":\"k-0000000003\",\"user\":\"u-"),
            "{text}"
        );
        assert!(
            text.contains(",\"url\":\"https://shop.example.com/p/"),
            "{text}"
        );
        assert!(text.ends_with(",\"ts\":1767225600030}"), "{text}");
        assert_eq!(event.key.as_deref(), Some(&text.as_bytes()[29..36]));
    }

    #[test]
    fn the_same_seed_gives_the_same_bytes_and_another_seed_does_not() {
        let a: Vec<Event> = (0..100)
            .map(|s| generate(&config(GeneratedKind::Payments), s))
            .collect();
        let b: Vec<Event> = (0..100)
            .map(|s| generate(&config(GeneratedKind::Payments), s))
            .collect();
        assert_eq!(a, b);
        let other = GeneratorConfig {
            seed: 8,
            ..config(GeneratedKind::Payments)
        };
        assert_ne!(a[0].value, generate(&other, 0).value);
    }

    #[test]
    fn partitions_split_the_sequence_without_changing_events() {
        let whole =
            run(&mut GeneratorSource::partitions("g", &config(GeneratedKind::Payments)).remove(0));
        assert_eq!(whole.events.len(), 1000);

        let split = GeneratorConfig {
            partitions: 3,
            ..config(GeneratedKind::Payments)
        };
        let mut parts = GeneratorSource::partitions("g", &split);
        let outputs: Vec<Collect> = parts.iter_mut().map(run).collect();
        assert_eq!(
            outputs.iter().map(|o| o.events.len()).collect::<Vec<_>>(),
            [334, 333, 333]
        );
        for (p, out) in outputs.iter().enumerate() {
            for (k, event) in out.events.iter().enumerate() {
                assert_eq!(event.position.partition, p as u32);
                assert_eq!(event.position.offset, k as u64);
                assert_eq!(event.value, whole.events[k * 3 + p].value);
            }
        }
    }

    #[test]
    fn shares_of_late_and_malformed_events_are_about_right() {
        let config = GeneratorConfig {
            count: Some(20_000),
            out_of_order: 0.1,
            max_delay_ms: 5000,
            malformed: 0.05,
            ..config(GeneratedKind::Payments)
        };
        let events: Vec<Event> = (0..20_000).map(|s| generate(&config, s)).collect();

        let mut late = 0;
        let mut not_json = 0;
        let mut no_card = 0;
        for (seq, event) in events.iter().enumerate() {
            let expected = config.start_time_ms + seq as i64 * 10;
            assert!(event.time <= expected && event.time >= expected - 5000);
            late += usize::from(event.time < expected);
            let card = weir_json::Path::parse("card").unwrap();
            match weir_json::find(&event.value, &card) {
                Err(_) => not_json += 1,
                Ok(None) => no_card += 1,
                Ok(Some(_)) => assert!(event.key.is_some()),
            }
        }
        assert!((1800..2200).contains(&late), "{late} late");
        assert!((400..600).contains(&not_json), "{not_json} not JSON");
        assert!((400..600).contains(&no_card), "{no_card} without card");
    }

    #[test]
    fn malformed_events_are_cut_after_the_key_field_or_miss_it() {
        let config = GeneratorConfig {
            malformed: 1.0,
            ..config(GeneratedKind::Clicks)
        };
        let texts: Vec<String> = (0..50)
            .map(|s| String::from_utf8(generate(&config, s).value).unwrap())
            .collect();
        assert!(texts.iter().any(|t| t.ends_with("\"user\":")));
        assert!(
            texts
                .iter()
                .any(|t| !t.contains("\"user\"") && t.ends_with('}'))
        );
        assert!((0..50).all(|s| generate(&config, s).key.is_none()));
    }

    #[test]
    fn a_paced_generator_keeps_its_rate_and_flushes_before_sleeping() {
        let config = GeneratorConfig {
            count: Some(20),
            rate: Some(200.0),
            ..config(GeneratedKind::Clicks)
        };
        let started = Instant::now();
        let out = run(&mut GeneratorSource::partitions("g", &config).remove(0));
        let elapsed = started.elapsed();
        assert_eq!(out.events.len(), 20);
        assert!(elapsed >= Duration::from_millis(90), "{elapsed:?}");
        assert!(out.flushes.len() >= 10, "{:?}", out.flushes);
    }

    #[test]
    fn an_endless_generator_ends_when_the_pipeline_stops() {
        let config = GeneratorConfig::new(GeneratedKind::Payments);
        let mut out = Collect {
            stop_after: Some(5000),
            ..Collect::default()
        };
        GeneratorSource::partitions("g", &config)
            .remove(0)
            .run(&mut out)
            .unwrap();
        assert_eq!(out.events.len(), 5000);
    }
}
