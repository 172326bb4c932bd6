//! weir's packed batch layout (see `types.batch` in `wit/weir.wit`): decoding
//! input frames into [`Event`] views and encoding output frames into one
//! growing buffer.
//!
//! A frame is, integers little-endian: the event time (s64), the key length
//! (u32, `0xffffffff` for no key) and key, the header count (u32) and for each
//! header its name length (u32), name, value length (u32) and value; then the
//! event value, which runs to the end of the frame. Decoding allocates nothing;
//! encoding appends to the output buffers, which grow once per batch at most
//! a few times.

use crate::event::{Event, FrameError, OwnedEvent};

/// The key length that means "no key".
const NO_KEY: u32 = u32::MAX;

/// Splits a batch into its frames: `(index, frame)` pairs, or the error for a
/// frame whose end is out of place.
pub(crate) fn frames<'a>(
    frames: &'a [u8],
    ends: &'a [u32],
) -> impl Iterator<Item = (u32, Result<&'a [u8], FrameError>)> + 'a {
    let mut start = 0usize;
    ends.iter().enumerate().map(move |(index, &end)| {
        let end = end as usize;
        let frame = match frames.get(start..end) {
            Some(frame) => Ok(frame),
            None => Err(FrameError::BadEnds),
        };
        start = end.max(start);
        // Batches never hold more than u32::MAX events: `ends` is a list<u32>
        // indexed by the same u32s weir sends back as `origins`.
        (index as u32, frame)
    })
}

/// Decodes one frame.
pub(crate) fn decode(frame: &[u8]) -> Result<Event<'_>, FrameError> {
    let (time, rest) = split_array::<8>(frame, "event time")?;
    let (key_len, rest) = split_u32(rest, "key length")?;
    let (key, rest) = match key_len {
        NO_KEY => (None, rest),
        len => {
            let (key, rest) = split_at(rest, len as usize, "key")?;
            (Some(key), rest)
        }
    };
    let (header_count, headers) = split_u32(rest, "header count")?;
    let mut rest = headers;
    for _ in 0..header_count {
        let (name, after_name) = split_sized(rest).map_err(|_| FrameError::Truncated("header"))?;
        std::str::from_utf8(name).map_err(|_| FrameError::HeaderNameNotUtf8)?;
        let (_, after_value) =
            split_sized(after_name).map_err(|_| FrameError::Truncated("header"))?;
        rest = after_value;
    }
    let prefix_len = frame.len() - rest.len();
    Ok(Event {
        time: i64::from_le_bytes(time),
        key,
        headers: &headers[..headers.len() - rest.len()],
        header_count,
        value: rest,
        prefix: &frame[..prefix_len],
        index: 0,
    })
}

/// Splits a length-prefixed byte string off the front of `bytes`.
pub(crate) fn split_sized(bytes: &[u8]) -> Result<(&[u8], &[u8]), FrameError> {
    let (len, rest) = split_u32(bytes, "length")?;
    split_at(rest, len as usize, "bytes")
}

fn split_u32<'a>(bytes: &'a [u8], what: &'static str) -> Result<(u32, &'a [u8]), FrameError> {
    let (value, rest) = split_array::<4>(bytes, what)?;
    Ok((u32::from_le_bytes(value), rest))
}

fn split_array<'a, const N: usize>(
    bytes: &'a [u8],
    what: &'static str,
) -> Result<([u8; N], &'a [u8]), FrameError> {
    let (head, rest) = split_at(bytes, N, what)?;
    let mut array = [0u8; N];
    array.copy_from_slice(head);
    Ok((array, rest))
}

fn split_at<'a>(
    bytes: &'a [u8],
    len: usize,
    what: &'static str,
) -> Result<(&'a [u8], &'a [u8]), FrameError> {
    bytes
        .split_at_checked(len)
        .ok_or(FrameError::Truncated(what))
}

/// Appends the frame of `event` to `out`.
pub(crate) fn encode(event: &OwnedEvent, out: &mut Vec<u8>) {
    let headers_len: usize = event
        .headers
        .iter()
        .map(|(n, v)| 8 + n.len() + v.len())
        .sum();
    let key_len = event.key.as_ref().map_or(0, Vec::len);
    out.reserve(16 + key_len + headers_len + event.value.len());

    out.extend_from_slice(&event.time.to_le_bytes());
    match &event.key {
        Some(key) => put_sized(out, key),
        None => out.extend_from_slice(&NO_KEY.to_le_bytes()),
    }
    out.extend_from_slice(&len_u32(event.headers.len()).to_le_bytes());
    for (name, value) in &event.headers {
        put_sized(out, name.as_bytes());
        put_sized(out, value);
    }
    out.extend_from_slice(&event.value);
}

fn put_sized(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&len_u32(bytes.len()).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// Converts a length or offset to the u32 the layout uses.
///
/// # Panics
///
/// Panics past 4 GiB, which a wasm32 guest cannot reach (its memory is at
/// most 4 GiB and a `Vec` at most half of that); only host-side tests could.
pub(crate) fn len_u32(len: usize) -> u32 {
    u32::try_from(len).expect("a batch never exceeds 4 GiB in a wasm32 guest")
}

/// The output of a transform call being built: the frames, where each ends,
/// and which input each came from.
#[derive(Debug, Default)]
pub(crate) struct Output {
    pub(crate) frames: Vec<u8>,
    pub(crate) ends: Vec<u32>,
    pub(crate) origins: Vec<u32>,
}

/// How far [`Output`] had got, to undo the outputs of a refused event.
#[derive(Clone, Copy)]
pub(crate) struct Mark {
    frames: usize,
    events: usize,
}

impl Output {
    /// An empty output with room for one output per input event, the common
    /// case for filters and maps; the frame buffer starts empty because kept
    /// events need none of it.
    pub(crate) fn for_inputs(events: usize) -> Output {
        let ends = Vec::with_capacity(events);
        let origins = Vec::with_capacity(events);
        Output {
            frames: Vec::new(),
            ends,
            origins,
        }
    }

    pub(crate) fn mark(&self) -> Mark {
        Mark {
            frames: self.frames.len(),
            events: self.ends.len(),
        }
    }

    pub(crate) fn rollback(&mut self, mark: Mark) {
        self.frames.truncate(mark.frames);
        self.ends.truncate(mark.events);
        self.origins.truncate(mark.events);
    }

    fn close_frame(&mut self, origin: u32) {
        self.ends.push(len_u32(self.frames.len()));
        self.origins.push(origin);
    }
}

/// Where a transform puts the events it emits for one input event.
///
/// Emitting nothing drops the input event. Outputs are delivered in the order
/// they were emitted. When the transform returns an error, everything it
/// emitted for that event is discarded.
pub struct Emitter<'a> {
    out: &'a mut Output,
    origin: u32,
    input: &'a Event<'a>,
}

impl<'a> Emitter<'a> {
    pub(crate) fn new(out: &'a mut Output, origin: u32, input: &'a Event<'a>) -> Emitter<'a> {
        Emitter { out, origin, input }
    }

    /// Emits the input event unchanged. Copies nothing: the output says "the
    /// input event, as it was" and weir reuses its bytes.
    pub fn keep(&mut self) {
        self.out.close_frame(self.origin);
    }

    /// Emits a new event.
    pub fn emit(&mut self, event: OwnedEvent) {
        encode(&event, &mut self.out.frames);
        self.out.close_frame(self.origin);
    }

    /// Emits the input event with its value replaced: key, headers and time
    /// are kept.
    pub fn emit_value(&mut self, value: impl AsRef<[u8]>) {
        self.emit_value_with(|out| out.extend_from_slice(value.as_ref()));
    }

    /// Emits the input event with a value written in place by `write`: key,
    /// headers and time are kept. `write` appends the new value to the buffer
    /// it is given, which saves building the value in a `Vec` of its own
    /// first (splicing pieces of the input value, say).
    pub fn emit_value_with(&mut self, write: impl FnOnce(&mut ValueWriter<'_>)) {
        self.out.frames.extend_from_slice(self.input.prefix);
        write(&mut ValueWriter {
            buf: &mut self.out.frames,
        });
        self.out.close_frame(self.origin);
    }

    /// How many events have been emitted for this input event so far.
    pub fn emitted(&self) -> usize {
        self.out
            .origins
            .iter()
            .rev()
            .take_while(|&&o| o == self.origin)
            .count()
    }
}

/// Appends the bytes of a value being emitted with
/// [`Emitter::emit_value_with`].
pub struct ValueWriter<'a> {
    buf: &'a mut Vec<u8>,
}

impl ValueWriter<'_> {
    /// Appends bytes to the value.
    pub fn extend_from_slice(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Appends one byte to the value.
    pub fn push(&mut self, byte: u8) {
        self.buf.push(byte);
    }
}

impl std::fmt::Write for ValueWriter<'_> {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        self.buf.extend_from_slice(text.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(events: &[OwnedEvent]) -> (Vec<u8>, Vec<u32>) {
        let mut frames = Vec::new();
        let mut ends = Vec::new();
        for event in events {
            encode(event, &mut frames);
            ends.push(len_u32(frames.len()));
        }
        (frames, ends)
    }

    fn sample() -> OwnedEvent {
        OwnedEvent::new(&br#"{"a":1}"#[..])
            .with_time(-5)
            .with_key("k-1")
            .with_header("trace", "t1")
            .with_header("", "")
            .with_header("h\u{e9}", vec![0, 255])
    }

    #[test]
    fn encodes_the_documented_layout() {
        let mut out = Vec::new();
        encode(
            &OwnedEvent::new("v")
                .with_time(1)
                .with_key("k")
                .with_header("n", "x"),
            &mut out,
        );
        let expected: &[u8] = &[
            1, 0, 0, 0, 0, 0, 0, 0, // time
            1, 0, 0, 0, b'k', // key
            1, 0, 0, 0, // header count
            1, 0, 0, 0, b'n', 1, 0, 0, 0, b'x', // header
            b'v', // value
        ];
        assert_eq!(out, expected);

        out.clear();
        encode(&OwnedEvent::new(""), &mut out);
        assert_eq!(
            out,
            [0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 0]
        );
    }

    #[test]
    fn decodes_what_it_encodes() {
        let events = [
            sample(),
            OwnedEvent::new(""),
            OwnedEvent::new("x").with_key(""),
        ];
        let (frames, ends) = batch(&events);
        let decoded: Vec<_> = super::frames(&frames, &ends)
            .map(|(_, f)| decode(f.unwrap()).unwrap())
            .collect();
        assert_eq!(decoded.len(), 3);

        let first = decoded[0];
        assert_eq!(first.time(), -5);
        assert_eq!(first.key(), Some(&b"k-1"[..]));
        assert_eq!(first.value(), br#"{"a":1}"#);
        assert_eq!(first.header("trace"), Some(&b"t1"[..]));
        assert_eq!(first.header("h\u{e9}"), Some(&[0u8, 255][..]));
        assert_eq!(first.header("missing"), None);
        assert_eq!(first.headers().len(), 3);
        assert_eq!(first.to_owned_event(), events[0]);

        assert_eq!(decoded[1].key(), None);
        assert_eq!(decoded[1].value(), b"");
        assert_eq!(decoded[1].headers().count(), 0);
        assert_eq!(decoded[2].key(), Some(&b""[..]));
    }

    #[test]
    fn rejects_malformed_frames() {
        let mut frame = Vec::new();
        encode(&sample(), &mut frame);
        assert_eq!(
            decode(&frame[..5]),
            Err(FrameError::Truncated("event time"))
        );
        assert_eq!(
            decode(&frame[..10]),
            Err(FrameError::Truncated("key length"))
        );
        assert_eq!(decode(&frame[..13]), Err(FrameError::Truncated("key")));
        assert_eq!(
            decode(&frame[..17]),
            Err(FrameError::Truncated("header count"))
        );
        assert_eq!(decode(&frame[..24]), Err(FrameError::Truncated("header")));

        let mut bad_name = Vec::new();
        let event = OwnedEvent::new("v").with_header("n", "x");
        encode(&event, &mut bad_name);
        bad_name[20] = 0xff;
        assert_eq!(decode(&bad_name), Err(FrameError::HeaderNameNotUtf8));
        assert_eq!(
            FrameError::HeaderNameNotUtf8.to_string(),
            "malformed input frame: header name is not utf-8"
        );
    }

    #[test]
    fn reports_ends_outside_the_batch() {
        let (frames, _) = batch(&[sample()]);
        let ends = [len_u32(frames.len()) + 1, 3, 2];
        let split: Vec<_> = super::frames(&frames, &ends).collect();
        assert_eq!(split[0], (0, Err(FrameError::BadEnds)));
        assert_eq!(split[1], (1, Err(FrameError::BadEnds)));
        assert_eq!(split[2], (2, Err(FrameError::BadEnds)));
    }

    #[test]
    fn emitter_keeps_replaces_and_emits() {
        let (frames, ends) = batch(&[sample()]);
        let input = decode(&frames[..ends[0] as usize]).unwrap();
        let mut out = Output::default();
        let mut emitter = Emitter::new(&mut out, 7, &input);
        emitter.keep();
        emitter.emit_value(b"new");
        emitter.emit(OwnedEvent::new("own").with_key("k2"));
        assert_eq!(emitter.emitted(), 3);

        assert_eq!(out.origins, [7, 7, 7]);
        assert_eq!(out.ends[0], 0, "keep is an empty frame");
        let replaced = decode(&out.frames[..out.ends[1] as usize]).unwrap();
        assert_eq!(replaced.value(), b"new");
        assert_eq!(replaced.key(), input.key());
        assert_eq!(replaced.time(), input.time());
        assert!(replaced.headers().eq(input.headers()));
        let own = decode(&out.frames[out.ends[1] as usize..out.ends[2] as usize]).unwrap();
        assert_eq!(own.to_owned_event(), OwnedEvent::new("own").with_key("k2"));
    }

    #[test]
    fn rollback_discards_an_events_outputs() {
        let (frames, ends) = batch(&[sample()]);
        let input = decode(&frames[..ends[0] as usize]).unwrap();
        let mut out = Output::default();
        Emitter::new(&mut out, 0, &input).emit_value("kept");
        let mark = out.mark();
        let mut emitter = Emitter::new(&mut out, 1, &input);
        emitter.emit_value("dropped");
        emitter.keep();
        out.rollback(mark);
        assert_eq!(out.origins, [0]);
        assert_eq!(out.ends.len(), 1);
        assert_eq!(out.frames.len(), out.ends[0] as usize);
    }
}
