//! Execution segments: one run's load cut into N interleaved parts that separate
//! processes (pods of a Kubernetes Indexed Job, say) run side by side.
//!
//! Segment `I/N` owns every item `k` (an open-loop arrival, a closed-loop VU, a
//! shared iteration) with `k mod N = I`. Interleaving, rather than contiguous
//! ranges, keeps every segment within one item of `1/N` at every moment of a
//! schedule (k6's execution segments do the same for equal parts), and the segments
//! of one load partition it exactly: each item belongs to one segment.
//! Payloads are drawn from the item's global index, so the union of the segments
//! sends the same requests as one run of the whole load.

use std::fmt;
use std::str::FromStr;

/// `--segment` is not `I/N` with `0 ≤ I < N`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SegmentError {
    /// Not two whole numbers around a slash.
    #[error("segment `{0}` is not INDEX/COUNT (e.g. 0/4: the first of four)")]
    Syntax(String),
    /// `N` is zero.
    #[error("segment `{0}`: the count must be at least 1")]
    ZeroCount(String),
    /// `I ≥ N`.
    #[error("segment `{text}`: the index counts from 0 and must be below {count}")]
    IndexTooLarge {
        /// As written.
        text: String,
        /// N.
        count: u32,
    },
}

/// Segment `index` of `count` (0-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Segment {
    index: u32,
    count: u32,
}

impl Default for Segment {
    fn default() -> Segment {
        Segment::WHOLE
    }
}

impl Segment {
    /// The whole load: `0/1`.
    pub const WHOLE: Segment = Segment { index: 0, count: 1 };

    /// Segment `index` of `count`.
    pub fn new(index: u32, count: u32) -> Result<Segment, SegmentError> {
        let text = format!("{index}/{count}");
        if count == 0 {
            return Err(SegmentError::ZeroCount(text));
        }
        if index >= count {
            return Err(SegmentError::IndexTooLarge { text, count });
        }
        Ok(Segment { index, count })
    }

    /// Index, from 0.
    pub fn index(self) -> u32 {
        self.index
    }

    /// Number of segments.
    pub fn count(self) -> u32 {
        self.count
    }

    /// Whether this is the whole load.
    pub fn is_whole(self) -> bool {
        self.count == 1
    }

    /// Whether item `k` of the load is this segment's.
    pub fn owns(self, k: u64) -> bool {
        k % u64::from(self.count) == u64::from(self.index)
    }

    /// How many of the items `0..total` are this segment's.
    pub fn share(self, total: u64) -> u64 {
        let (i, n) = (u64::from(self.index), u64::from(self.count));
        if total > i {
            (total - i - 1) / n + 1
        } else {
            0
        }
    }

    /// The global index of this segment's `local`-th item.
    pub fn global(self, local: u64) -> u64 {
        local
            .saturating_mul(u64::from(self.count))
            .saturating_add(u64::from(self.index))
    }
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Segment {
    type Err = SegmentError;

    fn from_str(text: &str) -> Result<Segment, SegmentError> {
        let syntax = || SegmentError::Syntax(text.to_owned());
        let (i, n) = text.trim().split_once('/').ok_or_else(syntax)?;
        let i: u32 = i.trim().parse().map_err(|_| syntax())?;
        let n: u32 = n.trim().parse().map_err(|_| syntax())?;
        Segment::new(i, n)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn parses_and_rejects() {
        assert_eq!("2/3".parse(), Ok(Segment { index: 2, count: 3 }));
        assert_eq!("0/1".parse::<Segment>(), Ok(Segment::WHOLE));
        assert!(matches!(
            "3/2".parse::<Segment>(),
            Err(SegmentError::IndexTooLarge { count: 2, .. })
        ));
        assert!(matches!(
            "0/0".parse::<Segment>(),
            Err(SegmentError::ZeroCount(_))
        ));
        for bad in ["", "1", "a/b", "-1/2", "1/2/3", "1.5/2"] {
            assert!(
                matches!(bad.parse::<Segment>(), Err(SegmentError::Syntax(_))),
                "{bad}"
            );
        }
    }

    proptest! {
        #[test]
        fn segments_partition_every_load(total in 0u64..5_000, count in 1u32..40) {
            let segments: Vec<Segment> = (0..count).map(|i| Segment::new(i, count).unwrap()).collect();
            let shares: Vec<u64> = segments.iter().map(|s| s.share(total)).collect();
            prop_assert_eq!(shares.iter().sum::<u64>(), total);
            let even = total / u64::from(count);
            prop_assert!(shares.iter().all(|&s| s == even || s == even + 1));
            for k in 0..total {
                prop_assert_eq!(segments.iter().filter(|s| s.owns(k)).count(), 1);
            }
            for s in &segments {
                let owned: Vec<u64> = (0..total).filter(|&k| s.owns(k)).collect();
                let globals: Vec<u64> = (0..s.share(total)).map(|l| s.global(l)).collect();
                prop_assert_eq!(owned, globals);
            }
        }
    }
}
