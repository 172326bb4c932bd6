//! `hostile`: a plugin that misbehaves on purpose, for weir's own tests only.
//!
//! Every event passes through unchanged except a *marked* one, whose JSON value
//! has `"mark": true` at the top level. What a marked event does is chosen by
//! the `behaviour` config key (see [`Behaviour`]): trap, hang, exhaust memory
//! or stack, return output the host must refuse, or reach for the file
//! system, the environment, the network or the wall clock. The integration
//! tests check that the host survives each and dead-letters exactly the
//! marked events. One behaviour, `unwrap`, only rewrites the value, for
//! tests whose next stage must see values a `[key_by]` field cannot.
//!
//! With `count = "true"`, every event first counts the events of its key in
//! weir's keyed state (a marked one too, before it misbehaves), and an
//! unmarked one is emitted as `{"id":…,"count":N}`; the tests use it to check
//! that the state changes of a failed call or a refused event are
//! discarded.
//!
//! Never ship this in a pipeline.

use std::hint::black_box;

use weir_sdk::json::{self, Path};
use weir_sdk::{Config, Emitter, Event, OwnedEvent, Transform};

/// What a marked event does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// `panic!("hostile: poisoned event {id}")`, `id` being the raw text of
    /// the event's `id` field.
    Panic,
    /// Executes the wasm `unreachable` instruction.
    Unreachable,
    /// Loops forever.
    Loop,
    /// Allocates and touches memory without bound.
    Memory,
    /// Recurses until the call stack is exhausted.
    Recursion,
    /// Emits one event whose value is this many bytes of `x`.
    BigOutput(usize),
    /// Refuses the event with a reason that is not UTF-8.
    BadUtf8Reason,
    /// Emits an event with a header name that is not UTF-8.
    BadUtf8Header,
    /// Reads `/etc/hostname`, panicking when that fails.
    ReadFile,
    /// Reads `$HOME`, panicking when that fails.
    Env,
    /// Connects to 127.0.0.1:9, panicking when that fails.
    Connect,
    /// Emits `{"now_ms": <wall clock in ms since the epoch>}`.
    Clock,
    /// Refuses the event (`hostile: refused event {id}`), a plain
    /// rejection rather than a failure.
    Refuse,
    /// Emits the event with the text of its string field `raw` as its value
    /// (key, headers and time kept), or refuses it (`hostile: no string
    /// field raw`): a keyed pipeline reads each value's key field, so only
    /// a stage can hand the next one a value that is not a JSON object.
    Unwrap,
}

/// The names accepted by `behaviour`, for the error message.
const BEHAVIOURS: &str = "panic, unreachable, loop, memory, recursion, big-output, \
                          bad-utf8-reason, bad-utf8-header, read-file, env, connect, clock, refuse, \
                          unwrap";

impl Behaviour {
    /// Reads `behaviour` (and `bytes` for `big-output`) from the config.
    ///
    /// # Errors
    ///
    /// Names the key that is missing or invalid.
    pub fn from_config(config: &Config) -> Result<Behaviour, String> {
        Ok(match config.require("behaviour")? {
            "panic" => Behaviour::Panic,
            "unreachable" => Behaviour::Unreachable,
            "loop" => Behaviour::Loop,
            "memory" => Behaviour::Memory,
            "recursion" => Behaviour::Recursion,
            "big-output" => {
                let bytes = config.get_or("bytes", "8388608");
                let bytes = bytes
                    .parse()
                    .map_err(|_| format!("config `bytes`: `{bytes}` is not a byte count"))?;
                Behaviour::BigOutput(bytes)
            }
            "bad-utf8-reason" => Behaviour::BadUtf8Reason,
            "bad-utf8-header" => Behaviour::BadUtf8Header,
            "read-file" => Behaviour::ReadFile,
            "env" => Behaviour::Env,
            "connect" => Behaviour::Connect,
            "clock" => Behaviour::Clock,
            "refuse" => Behaviour::Refuse,
            "unwrap" => Behaviour::Unwrap,
            other => {
                return Err(format!(
                    "config `behaviour`: unknown behaviour `{other}`, expected one of {BEHAVIOURS}"
                ));
            }
        })
    }
}

/// The configured plugin.
pub struct Hostile {
    behaviour: Behaviour,
    mark: Path,
    id: Path,
    raw: Path,
    count: bool,
}

/// Whether `value` is a JSON object with `"mark": true`. Values that are not
/// JSON are not marked.
pub fn is_marked(value: &[u8], mark: &Path) -> bool {
    matches!(json::find(value, mark), Ok(Some(b"true")))
}

impl Hostile {
    /// Misbehaves as configured, for a marked event.
    fn misbehave(&self, event: &Event<'_>, out: &mut Emitter) -> Result<(), String> {
        match self.behaviour {
            Behaviour::Panic => {
                let id = json::find(event.value(), &self.id)
                    .ok()
                    .flatten()
                    .unwrap_or(b"?");
                panic!("hostile: poisoned event {}", String::from_utf8_lossy(id));
            }
            Behaviour::Refuse => {
                let id = json::find(event.value(), &self.id)
                    .ok()
                    .flatten()
                    .unwrap_or(b"?");
                return Err(format!(
                    "hostile: refused event {}",
                    String::from_utf8_lossy(id)
                ));
            }
            Behaviour::Unreachable => unreachable_instruction(),
            Behaviour::Loop => spin_forever(),
            Behaviour::Memory => hoard_memory(),
            Behaviour::Recursion => {
                black_box(recurse(black_box(0)));
            }
            Behaviour::BigOutput(bytes) => {
                out.emit_value_with(|value| {
                    let chunk = [b'x'; 4096];
                    for _ in 0..bytes / chunk.len() {
                        value.extend_from_slice(&chunk);
                    }
                    value.extend_from_slice(&chunk[..bytes % chunk.len()]);
                });
            }
            Behaviour::BadUtf8Reason => return Err(not_utf8(b"hostile: \xff\xfe reason")),
            Behaviour::BadUtf8Header => {
                let name = not_utf8(b"hostile-\xff\xfe");
                out.emit(OwnedEvent::new(event.value()).with_header(name, "value"));
            }
            Behaviour::ReadFile => {
                let text =
                    std::fs::read_to_string("/etc/hostname").expect("hostile: read /etc/hostname");
                out.emit_value(text);
            }
            Behaviour::Env => {
                let home = std::env::var("HOME").expect("hostile: env HOME");
                out.emit_value(home);
            }
            Behaviour::Connect => {
                let stream = std::net::TcpStream::connect("127.0.0.1:9").expect("hostile: connect");
                drop(stream);
                out.keep();
            }
            Behaviour::Clock => out.emit_value(clock_value()),
            Behaviour::Unwrap => {
                match json::find(event.value(), &self.raw).map(|r| r.map(json::scalar)) {
                    Ok(Some(json::Scalar::String(text))) => out.emit_value(text.as_bytes()),
                    _ => return Err("hostile: no string field raw".into()),
                }
            }
        }
        Ok(())
    }
}

/// `{"now_ms":<ms since the Unix epoch>}` from the wall clock, 0 before 1970.
pub fn clock_value() -> String {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    let now_ms = since_epoch.map_or(0, |elapsed| elapsed.as_millis());
    format!("{{\"now_ms\":{now_ms}}}")
}

/// Makes a `String` of bytes that are not UTF-8, to hand to the host through
/// a WIT `string`.
///
/// This deliberately breaks `String`'s UTF-8 invariant, which is what the
/// behaviour is for: the host must refuse such output. It is sound in
/// practice only because nothing on the guest side reads the string as text:
/// the SDK and the generated bindings only move it and copy its bytes.
fn not_utf8(bytes: &[u8]) -> String {
    debug_assert!(std::str::from_utf8(bytes).is_err());
    // SAFETY: see above; the string is only moved and copied byte-wise, never
    // inspected as text, before it leaves the guest.
    unsafe { String::from_utf8_unchecked(bytes.to_vec()) }
}

#[cfg(target_arch = "wasm32")]
fn unreachable_instruction() -> ! {
    core::arch::wasm32::unreachable()
}

#[cfg(not(target_arch = "wasm32"))]
fn unreachable_instruction() -> ! {
    // Outside WebAssembly the nearest equivalent is an abort.
    std::process::abort()
}

fn spin_forever() -> ! {
    let mut turns = 0u64;
    loop {
        turns = black_box(turns.wrapping_add(1));
    }
}

fn hoard_memory() -> ! {
    const CHUNK: usize = 1 << 20;
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut chunk = vec![0u8; CHUNK];
        // Touch every page so the memory is really used.
        for page in chunk.iter_mut().step_by(4096) {
            *page = 1;
        }
        hoard.push(black_box(chunk));
    }
}

/// Recurses until the stack runs out; the work after the call keeps it from
/// becoming a loop, and the exit no one reaches keeps the compiler from
/// calling it endless.
#[inline(never)]
fn recurse(depth: u64) -> u64 {
    if black_box(depth) == u64::MAX {
        return 0;
    }
    let deeper = recurse(black_box(depth + 1));
    black_box(deeper ^ depth)
}

impl Transform for Hostile {
    fn init(config: &Config) -> Result<Self, String> {
        let behaviour = Behaviour::from_config(config)?;
        weir_sdk::log::warn(&format!(
            "hostile test plugin loaded, behaviour {behaviour:?}"
        ));
        let mark = Path::parse("mark").map_err(|err| err.to_string())?;
        let id = Path::parse("id").map_err(|err| err.to_string())?;
        let raw = Path::parse("raw").map_err(|err| err.to_string())?;
        let count = match config.get_or("count", "false") {
            "true" => true,
            "false" => false,
            other => {
                return Err(format!(
                    "config `count`: expected true or false, got `{other}`"
                ));
            }
        };
        Ok(Hostile {
            behaviour,
            mark,
            id,
            raw,
            count,
        })
    }

    fn transform(&mut self, event: &Event<'_>, out: &mut Emitter) -> Result<(), String> {
        if is_marked(event.value(), &self.mark) {
            if self.count {
                count(event);
            }
            return self.misbehave(event, out);
        }
        if self.count {
            let seen = count(event);
            let id = match json::find(event.value(), &self.id) {
                Ok(Some(raw)) => String::from_utf8_lossy(raw).into_owned(),
                _ => "null".into(),
            };
            out.emit_value(format!("{{\"id\":{id},\"count\":{seen}}}"));
            return Ok(());
        }
        out.keep();
        Ok(())
    }
}

/// Adds one to the count of the event's key in keyed state; returns it.
fn count(event: &Event<'_>) -> u64 {
    let state = event.state();
    let seen = state
        .get("count")
        .and_then(|bytes| bytes.try_into().ok())
        .map_or(0, u64::from_le_bytes)
        + 1;
    state.set("count", seen.to_le_bytes());
    seen
}

weir_sdk::export_transform!(Hostile);

#[cfg(test)]
mod tests {
    use super::*;
    use weir_sdk::testing::{self, Emitted};

    fn hostile(entries: &[(&str, &str)]) -> Result<Hostile, String> {
        Hostile::init(&entries.iter().copied().collect())
    }

    fn marked(id: u32) -> OwnedEvent {
        OwnedEvent::new(format!(r#"{{"id":{id},"mark":true}}"#))
    }

    #[test]
    fn reads_the_behaviour() {
        let behaviour = |entries: &[(&str, &str)]| hostile(entries).map(|h| h.behaviour);
        assert_eq!(behaviour(&[("behaviour", "loop")]), Ok(Behaviour::Loop));
        assert_eq!(
            behaviour(&[("behaviour", "big-output")]),
            Ok(Behaviour::BigOutput(8 * 1024 * 1024))
        );
        assert_eq!(
            behaviour(&[("behaviour", "big-output"), ("bytes", "12")]),
            Ok(Behaviour::BigOutput(12))
        );
        assert_eq!(
            behaviour(&[("behaviour", "big-output"), ("bytes", "lots")]).unwrap_err(),
            "config `bytes`: `lots` is not a byte count"
        );
        assert_eq!(
            hostile(&[]).err().unwrap(),
            "missing config key `behaviour`"
        );
        assert_eq!(
            hostile(&[("behaviour", "nice")]).err().unwrap(),
            format!("config `behaviour`: unknown behaviour `nice`, expected one of {BEHAVIOURS}")
        );
    }

    #[test]
    fn only_marked_events_misbehave() {
        let mark = Path::parse("mark").unwrap();
        assert!(is_marked(br#"{"id":1,"mark":true}"#, &mark));
        assert!(!is_marked(br#"{"id":1,"mark":false}"#, &mark));
        assert!(!is_marked(br#"{"id":1,"inner":{"mark":true}}"#, &mark));
        assert!(!is_marked(br#"{"mark":"true"}"#, &mark));
        assert!(!is_marked(b"not json", &mark));

        let mut plugin = hostile(&[("behaviour", "panic")]).unwrap();
        let plain = OwnedEvent::new(r#"{"id":1,"mark":false}"#);
        assert_eq!(
            testing::transform(&mut plugin, &plain),
            Ok(vec![Emitted::Kept])
        );
    }

    #[test]
    #[should_panic(expected = "hostile: poisoned event 3")]
    fn panics_with_the_event_id() {
        let mut plugin = hostile(&[("behaviour", "panic")]).unwrap();
        let _ = testing::transform(&mut plugin, &marked(3));
    }

    #[test]
    fn emits_big_output() {
        let mut plugin = hostile(&[("behaviour", "big-output"), ("bytes", "1000")]).unwrap();
        let emitted = testing::transform(&mut plugin, &marked(1)).unwrap();
        let [Emitted::Event(event)] = emitted.as_slice() else {
            panic!("{emitted:?}")
        };
        assert_eq!(event.value, vec![b'x'; 1000]);
    }

    #[test]
    fn returns_a_reason_that_is_not_utf8() {
        let mut plugin = hostile(&[("behaviour", "bad-utf8-reason")]).unwrap();
        let reason = testing::transform(&mut plugin, &marked(1)).unwrap_err();
        // Compare bytes: the string is deliberately not UTF-8.
        assert_eq!(reason.into_bytes(), b"hostile: \xff\xfe reason");
    }

    #[test]
    fn emits_a_header_name_that_is_not_utf8() {
        let mut plugin = hostile(&[("behaviour", "bad-utf8-header")]).unwrap();
        // The frame round trip refuses the header name, as the host must.
        assert_eq!(
            testing::transform(&mut plugin, &marked(1)).unwrap_err(),
            "malformed input frame: header name is not utf-8"
        );
    }

    #[test]
    fn unwraps_the_raw_field() {
        let mut plugin = hostile(&[("behaviour", "unwrap")]).unwrap();
        let event = OwnedEvent::new(r#"{"mark":true,"raw":" [1,\"\\u00e9\"]"}"#).with_key("k");
        let emitted = testing::transform(&mut plugin, &event).unwrap();
        let [Emitted::Event(out)] = emitted.as_slice() else {
            panic!("{emitted:?}")
        };
        assert_eq!(out.value, br#" [1,"\u00e9"]"#);
        assert_eq!(out.key.as_deref(), Some(&b"k"[..]));
        assert_eq!(
            testing::transform(&mut plugin, &marked(1)).unwrap_err(),
            "hostile: no string field raw"
        );
    }

    #[test]
    fn clock_value_is_json() {
        let value = clock_value();
        assert!(value.starts_with("{\"now_ms\":"), "{value}");
        assert!(json::validate(value.as_bytes()).is_ok());
    }
}
