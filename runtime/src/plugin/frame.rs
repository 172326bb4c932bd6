//! The packed batch layout of `wit/weir.wit`, host side: events are encoded
//! into one byte buffer plus frame ends, and a plugin's output frames are
//! decoded back into events.
//!
//! Frame: event time (i64), key length (u32, `u32::MAX` for none) and key,
//! header count (u32) and per header name length (u32), name, value length
//! (u32), value; then the event value to the end of the frame. Integers are
//! little-endian.

use super::bindings::Batch;
use crate::event::Event;

const NO_KEY: u32 = u32::MAX;

/// Fills `batch` with `events`, reusing its buffers.
pub fn encode<'a, I>(events: I, batch: &mut Batch)
where
    I: IntoIterator<Item = &'a Event>,
    I::IntoIter: Clone,
{
    let events = events.into_iter();
    batch.frames.clear();
    batch.ends.clear();
    let bytes: usize = events.clone().map(|e| 16 + e.value.len()).sum();
    batch.frames.reserve(bytes);
    for event in events {
        let out = &mut batch.frames;
        out.extend_from_slice(&event.time.to_le_bytes());
        match &event.key {
            Some(key) => {
                out.extend_from_slice(&(key.len() as u32).to_le_bytes());
                out.extend_from_slice(key);
            }
            None => out.extend_from_slice(&NO_KEY.to_le_bytes()),
        }
        out.extend_from_slice(&(event.headers.len() as u32).to_le_bytes());
        for (name, value) in &event.headers {
            out.extend_from_slice(&(name.len() as u32).to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(&(value.len() as u32).to_le_bytes());
            out.extend_from_slice(value);
        }
        out.extend_from_slice(&event.value);
        batch.ends.push(out.len() as u32);
    }
}

/// The parts of an event a plugin produced (its position comes from the input
/// event it was derived from).
#[derive(Debug, PartialEq, Eq)]
pub struct Decoded {
    pub key: Option<Vec<u8>>,
    pub value: Vec<u8>,
    pub headers: Vec<(String, Vec<u8>)>,
    pub time: i64,
}

/// Decodes one frame a plugin returned.
///
/// # Errors
///
/// A message naming what is wrong with the frame.
pub fn decode(frame: &[u8]) -> Result<Decoded, String> {
    let mut reader = Reader {
        bytes: frame,
        at: 0,
    };
    let time = i64::from_le_bytes(reader.array::<8>("event time")?);
    let key = match reader.u32("key length")? {
        NO_KEY => None,
        len => Some(reader.take(len, "key")?.to_vec()),
    };
    let count = reader.u32("header count")?;
    let mut headers = Vec::with_capacity(count.min(64) as usize);
    for _ in 0..count {
        let len = reader.u32("header name length")?;
        let name = reader.take(len, "header name")?;
        let name = std::str::from_utf8(name)
            .map_err(|e| format!("header name is not valid utf-8: {e}"))?
            .to_owned();
        let len = reader.u32("header value length")?;
        let value = reader.take(len, "header value")?.to_vec();
        headers.push((name, value));
    }
    let value = frame[reader.at..].to_vec();
    Ok(Decoded {
        key,
        value,
        headers,
        time,
    })
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: u32, what: &str) -> Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(len as usize)
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| {
                format!(
                    "frame of {} bytes ends inside the {what} (at byte {})",
                    self.bytes.len(),
                    self.at
                )
            })?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], String> {
        let slice = self.take(N as u32, what)?;
        Ok(slice.try_into().expect("take returned N bytes"))
    }

    fn u32(&mut self, what: &str) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.array::<4>(what)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> Event {
        Event {
            key: Some(b"c-1".to_vec()),
            value: br#"{"a":1}"#.to_vec(),
            headers: vec![("h".into(), b"v".to_vec()), ("empty".into(), Vec::new())],
            time: -5,
            position: Default::default(),
            route_key: None,
        }
    }

    #[test]
    fn round_trip() {
        let mut batch = Batch {
            frames: Vec::new(),
            ends: Vec::new(),
        };
        let plain = Event::from_value(&b"x"[..]);
        encode(&[event(), plain], &mut batch);
        let first = &batch.frames[..batch.ends[0] as usize];
        let second = &batch.frames[batch.ends[0] as usize..batch.ends[1] as usize];
        let e = event();
        assert_eq!(
            decode(first).unwrap(),
            Decoded {
                key: e.key,
                value: e.value,
                headers: e.headers,
                time: -5
            }
        );
        assert_eq!(decode(second).unwrap().key, None);
        assert_eq!(decode(second).unwrap().value, b"x");
    }

    #[test]
    fn truncated_and_invalid_frames_are_errors() {
        assert_eq!(
            decode(&[0; 10]).unwrap_err(),
            "frame of 10 bytes ends inside the key length (at byte 8)"
        );
        let mut frame = 0i64.to_le_bytes().to_vec();
        frame.extend_from_slice(&NO_KEY.to_le_bytes());
        frame.extend_from_slice(&1u32.to_le_bytes());
        frame.extend_from_slice(&2u32.to_le_bytes());
        frame.extend_from_slice(&[0xff, 0xfe]);
        frame.extend_from_slice(&0u32.to_le_bytes());
        assert_eq!(
            decode(&frame).unwrap_err(),
            "header name is not valid utf-8: invalid utf-8 sequence of 1 bytes from index 0"
        );
    }
}
