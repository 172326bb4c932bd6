//! Key groups: how a key is hashed to a group, and how groups map to workers.
//!
//! A key hashes into one of a fixed number of key groups (the pipeline's
//! maximum parallelism). Groups map to workers through a table of contiguous
//! ranges, so changing the parallelism later moves whole groups, never
//! rehashes keys. The hash is weir's own (FNV-1a with a final mix) and must
//! never change: state will be stored per key group.

/// The key group of `key` among `groups` groups.
pub fn key_group(key: &[u8], groups: u32) -> u32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in key {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    // FNV-1a's low bits are weak for short keys; mix before reducing.
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
    hash ^= hash >> 33;
    (hash % u64::from(groups)) as u32
}

/// Which worker owns each key group: group `g` goes to worker
/// `g * workers / groups`, so each worker owns one contiguous range.
pub fn assignment(groups: u32, workers: u32) -> Vec<u32> {
    (0..groups)
        .map(|g| (u64::from(g) * u64::from(workers) / u64::from(groups)) as u32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_stable() {
        // Pinned: state is stored per key group, so these may never change.
        let pinned: Vec<u32> = [&b""[..], b"a", b"c-0042", b"user-17"]
            .iter()
            .map(|k| key_group(k, 128))
            .collect();
        assert_eq!(pinned, PINNED);
    }

    const PINNED: [u32; 4] = [82, 77, 115, 87];

    #[test]
    fn groups_spread_evenly() {
        let mut counts = [0u32; 16];
        for i in 0..16_000 {
            counts[key_group(format!("c-{i:04}").as_bytes(), 16) as usize] += 1;
        }
        assert!(
            counts.iter().all(|&c| (800..1200).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn assignment_is_contiguous_and_balanced() {
        assert_eq!(assignment(8, 3), vec![0, 0, 0, 1, 1, 1, 2, 2]);
        assert_eq!(assignment(4, 4), vec![0, 1, 2, 3]);
        assert_eq!(assignment(128, 1), vec![0; 128]);
    }
}
