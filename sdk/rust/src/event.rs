//! Events as a plugin sees them: [`Event`], a borrowed view into the input
//! batch, and [`OwnedEvent`], a new event to emit.

use std::fmt;

use weir_json::{JsonError, Path};

/// One input event, borrowed from the batch weir passed in.
///
/// Reading it copies nothing; headers are decoded as they are iterated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event<'a> {
    pub(crate) time: i64,
    pub(crate) key: Option<&'a [u8]>,
    /// The header entries, after the header count.
    pub(crate) headers: &'a [u8],
    pub(crate) header_count: u32,
    pub(crate) value: &'a [u8],
    /// The frame up to where the value starts: time, key and headers, ready
    /// to be reused by [`crate::Emitter::emit_value`].
    pub(crate) prefix: &'a [u8],
    /// The event's index in the batch being processed (what keyed state
    /// calls name it by).
    pub(crate) index: u32,
}

impl<'a> Event<'a> {
    /// The keyed state of this event's key in this stage: see
    /// [`KeyedState`](crate::state::KeyedState). Only transforms have it.
    pub fn state(&self) -> crate::state::KeyedState<'_> {
        crate::state::KeyedState::new(self)
    }

    /// The event time, in milliseconds since the Unix epoch.
    pub fn time(&self) -> i64 {
        self.time
    }

    /// The key, if the event has one.
    pub fn key(&self) -> Option<&'a [u8]> {
        self.key
    }

    /// The value (the payload), usually JSON.
    pub fn value(&self) -> &'a [u8] {
        self.value
    }

    /// The value of the first header called `name`.
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.headers()
            .find(|(n, _)| *n == name)
            .map(|(_, value)| value)
    }

    /// The headers as `(name, value)` pairs, in order.
    pub fn headers(&self) -> Headers<'a> {
        Headers {
            rest: self.headers,
            remaining: self.header_count,
        }
    }

    /// Validates the value as JSON and returns the raw bytes of the field at
    /// `path` (see [`weir_json::find`]).
    ///
    /// # Errors
    ///
    /// Returns a [`JsonError`] when the value is not well-formed JSON.
    pub fn json(&self, path: &Path) -> Result<Option<&'a [u8]>, JsonError> {
        weir_json::find(self.value, path)
    }

    /// Copies the event into an [`OwnedEvent`], e.g. to change it and emit it.
    pub fn to_owned_event(&self) -> OwnedEvent {
        OwnedEvent {
            time: self.time,
            key: self.key.map(<[u8]>::to_vec),
            headers: self
                .headers()
                .map(|(n, v)| (n.to_owned(), v.to_vec()))
                .collect(),
            value: self.value.to_vec(),
        }
    }
}

/// The headers of an [`Event`], as `(name, value)` pairs.
#[derive(Clone, Debug)]
pub struct Headers<'a> {
    rest: &'a [u8],
    remaining: u32,
}

impl<'a> Iterator for Headers<'a> {
    type Item = (&'a str, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        // The frame was checked when the event was decoded, names included,
        // so neither the split nor the UTF-8 conversion can fail here.
        let (name, rest) = crate::frame::split_sized(self.rest).ok()?;
        let (value, rest) = crate::frame::split_sized(rest).ok()?;
        self.rest = rest;
        Some((std::str::from_utf8(name).unwrap_or_default(), value))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let remaining = self.remaining as usize;
        (remaining, Some(remaining))
    }
}

impl ExactSizeIterator for Headers<'_> {}

/// A new event to emit from a transform.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OwnedEvent {
    /// The event time, in milliseconds since the Unix epoch.
    pub time: i64,
    /// The key, or `None` for an event without one.
    pub key: Option<Vec<u8>>,
    /// The headers as `(name, value)` pairs, in order.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The value (the payload).
    pub value: Vec<u8>,
}

impl OwnedEvent {
    /// An event with this value, time 0, no key and no headers.
    pub fn new(value: impl Into<Vec<u8>>) -> OwnedEvent {
        OwnedEvent {
            value: value.into(),
            ..OwnedEvent::default()
        }
    }

    /// Sets the event time, in milliseconds since the Unix epoch.
    pub fn with_time(mut self, time: i64) -> OwnedEvent {
        self.time = time;
        self
    }

    /// Sets the key.
    pub fn with_key(mut self, key: impl Into<Vec<u8>>) -> OwnedEvent {
        self.key = Some(key.into());
        self
    }

    /// Appends a header.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) -> OwnedEvent {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// An input frame that does not follow weir's packed layout.
///
/// weir never sends one; seeing it means the host and the SDK disagree about
/// the layout. The event is refused with this as the reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// The frame ends before the named part is complete.
    Truncated(&'static str),
    /// A header name is not UTF-8.
    HeaderNameNotUtf8,
    /// The batch's `ends` point outside `frames` or go backwards.
    BadEnds,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("malformed input frame: ")?;
        match self {
            FrameError::Truncated(what) => write!(f, "truncated {what}"),
            FrameError::HeaderNameNotUtf8 => f.write_str("header name is not utf-8"),
            FrameError::BadEnds => f.write_str("frame end lies outside the batch"),
        }
    }
}

impl std::error::Error for FrameError {}
