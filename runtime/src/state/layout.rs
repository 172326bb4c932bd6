//! The byte layout of state keys and values in RocksDB.
//!
//! Every key starts with the stage id and the key group, both big-endian
//! `u16`, so one key group of one stage is one contiguous key range. Keys of
//! the time indexes (timers, expiry) continue with an encoded timestamp, so
//! that within a key group they sort by time. See the module docs of
//! `state` for the whole picture.

/// Bytes of the `stage | key group` prefix.
pub(super) const PREFIX_LEN: usize = 4;

/// Bytes of an encoded timestamp.
pub(super) const TIME_LEN: usize = 8;

/// Value tag: the user value follows directly.
const PLAIN: u8 = 0;

/// Value tag: an encoded expiry timestamp, then the user value.
const EXPIRING: u8 = 1;

/// The `stage | key group` prefix of every key of that group.
pub(super) fn prefix(stage: u16, key_group: u16) -> [u8; PREFIX_LEN] {
    let [s0, s1] = stage.to_be_bytes();
    let [g0, g1] = key_group.to_be_bytes();
    [s0, s1, g0, g1]
}

/// `stage | key group | key`: the key of a value.
pub(super) fn value_key(stage: u16, key_group: u16, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(PREFIX_LEN + key.len());
    out.extend_from_slice(&prefix(stage, key_group));
    out.extend_from_slice(key);
    out
}

/// `stage | key group | time | key`: the key of a time-index entry.
pub(super) fn time_key(stage: u16, key_group: u16, time: i64, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(PREFIX_LEN + TIME_LEN + key.len());
    out.extend_from_slice(&prefix(stage, key_group));
    out.extend_from_slice(&encode_time(time));
    out.extend_from_slice(key);
    out
}

/// Splits the part of a time-index key after the prefix into its time and
/// key; `None` when it is too short to hold a time.
pub(super) fn split_time(rest: &[u8]) -> Option<(i64, &[u8])> {
    let (time, key) = rest.split_first_chunk::<TIME_LEN>()?;
    Some((decode_time(*time), key))
}

/// A timestamp as 8 bytes whose byte order is its numeric order: the sign
/// bit flipped, then big-endian, so `i64::MIN` is all zeros and negative
/// times sort before positive ones.
pub(super) fn encode_time(time: i64) -> [u8; TIME_LEN] {
    ((time as u64) ^ (1 << 63)).to_be_bytes()
}

/// The inverse of [`encode_time`].
pub(super) fn decode_time(bytes: [u8; TIME_LEN]) -> i64 {
    (u64::from_be_bytes(bytes) ^ (1 << 63)) as i64
}

/// The smallest key greater than every key that starts with `prefix`, or
/// `None` when there is none (the prefix is all `0xff`).
pub(super) fn successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let last = prefix.iter().rposition(|&b| b != 0xff)?;
    let mut out = prefix[..=last].to_vec();
    out[last] += 1;
    Some(out)
}

/// A stored value: a tag, the expiry time if it has one, then the bytes the
/// caller put.
pub(super) fn encode_value(value: &[u8], expires_at: Option<i64>) -> Vec<u8> {
    match expires_at {
        None => {
            let mut out = Vec::with_capacity(1 + value.len());
            out.push(PLAIN);
            out.extend_from_slice(value);
            out
        }
        Some(time) => {
            let mut out = Vec::with_capacity(1 + TIME_LEN + value.len());
            out.push(EXPIRING);
            out.extend_from_slice(&encode_time(time));
            out.extend_from_slice(value);
            out
        }
    }
}

/// The expiry time and user bytes of a stored value; `None` when the bytes
/// are not a value this module wrote.
pub(super) fn decode_value(raw: &[u8]) -> Option<(Option<i64>, &[u8])> {
    match raw.split_first()? {
        (&PLAIN, value) => Some((None, value)),
        (&EXPIRING, rest) => {
            let (time, value) = split_time(rest)?;
            Some((Some(time), value))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_bytes_sort_like_numbers() {
        let times = [i64::MIN, -1_000, -1, 0, 1, 1_000, i64::MAX];
        for pair in times.windows(2) {
            assert!(encode_time(pair[0]) < encode_time(pair[1]), "{pair:?}");
        }
        for time in times {
            assert_eq!(decode_time(encode_time(time)), time);
        }
        assert_eq!(encode_time(i64::MIN), [0; 8]);
    }

    #[test]
    fn successor_bounds_the_prefix() {
        assert_eq!(successor(&[0, 1, 0xff]), Some(vec![0, 2]));
        assert_eq!(successor(&[0, 1, 2]), Some(vec![0, 1, 3]));
        assert_eq!(successor(&[0xff, 0xff]), None);
    }

    #[test]
    fn values_round_trip() {
        assert_eq!(
            decode_value(&encode_value(b"v", None)),
            Some((None, &b"v"[..]))
        );
        assert_eq!(
            decode_value(&encode_value(b"", Some(-5))),
            Some((Some(-5), &b""[..]))
        );
        assert_eq!(decode_value(&[]), None);
        assert_eq!(decode_value(&[EXPIRING, 1, 2]), None);
        assert_eq!(decode_value(&[9, 1]), None);
    }

    #[test]
    fn keys_start_with_stage_then_key_group() {
        assert_eq!(value_key(0x0102, 0x0304, b"k"), [1, 2, 3, 4, b'k']);
        let key = time_key(1, 2, -1, b"k");
        assert_eq!(key[..PREFIX_LEN], prefix(1, 2));
        assert_eq!(split_time(&key[PREFIX_LEN..]), Some((-1, &b"k"[..])));
    }
}
