//! The candidate scans: Hamming distances over packed codes, keeping the nearest.
//!
//! [`shortlist`] is the only part of a lookup that touches every entry of a
//! partition, so it reads nothing but short codes (16 bytes per entry at 128 bits:
//! 1.6 MB for 100 000 entries, against 614 MB of f32 vectors) and is specialised
//! per code width so the compiler unrolls the xor/popcount of a code into
//! straight-line code. [`refine`] then ranks its candidates by longer codes.

/// The (distance, slot) of at most `limit` codes nearest to `query` among those
/// within `max_distance` bits, nearest first. `codes` holds one code of
/// `query.len()` words per slot, back to back.
pub(crate) fn shortlist(
    codes: &[u64],
    query: &[u64],
    max_distance: u32,
    limit: usize,
) -> Vec<(u32, u32)> {
    let mut best = Nearest::new(limit, max_distance);
    match query.len() {
        2 => scan::<2>(codes, query, &mut best),
        4 => scan::<4>(codes, query, &mut best),
        8 => scan::<8>(codes, query, &mut best),
        16 => scan::<16>(codes, query, &mut best),
        _ => scan_any(codes, query, &mut best),
    }
    best.into_sorted()
}

/// Of `candidates` (from [`shortlist`]), the (distance, slot) of at most `limit`
/// whose full codes are nearest to `query` within `max_distance` bits, nearest
/// first: the second, finer pass.
pub(crate) fn refine(
    codes: &[u64],
    query: &[u64],
    candidates: &[(u32, u32)],
    max_distance: u32,
    limit: usize,
) -> Vec<(u32, u32)> {
    let words = query.len();
    let mut best = Nearest::new(limit, max_distance);
    for &(_, slot) in candidates {
        let start = slot as usize * words;
        let Some(code) = codes.get(start..start + words) else {
            continue;
        };
        let d = code
            .iter()
            .zip(query)
            .map(|(c, q)| (c ^ q).count_ones())
            .sum();
        best.offer(d, slot as usize);
    }
    best.into_sorted()
}

fn scan<const W: usize>(codes: &[u64], query: &[u64], best: &mut Nearest) {
    let mut q = [0u64; W];
    q.copy_from_slice(query);
    let (codes, _) = codes.as_chunks::<W>();
    for (slot, code) in codes.iter().enumerate() {
        let mut d = 0u32;
        for i in 0..W {
            d += (code[i] ^ q[i]).count_ones();
        }
        best.offer(d, slot);
    }
}

fn scan_any(codes: &[u64], query: &[u64], best: &mut Nearest) {
    if query.is_empty() {
        return;
    }
    for (slot, code) in codes.chunks_exact(query.len()).enumerate() {
        let d = code
            .iter()
            .zip(query)
            .map(|(c, q)| (c ^ q).count_ones())
            .sum();
        best.offer(d, slot);
    }
}

/// The nearest candidates seen so far: a buffer of up to twice `limit`, cut back
/// to the `limit` nearest (a linear-time selection) whenever it fills. After a
/// cut, only codes strictly nearer than the farthest kept one get in, so most
/// codes are rejected by one comparison and the cost stays linear overall
/// (a binary heap costs a sift of log(limit) steps per accepted code instead).
struct Nearest {
    buf: Vec<(u32, u32)>,
    limit: usize,
    /// Codes at this distance or farther are rejected.
    reject_from: u32,
}

impl Nearest {
    fn new(limit: usize, max_distance: u32) -> Self {
        Nearest {
            buf: Vec::with_capacity(2 * limit.min(4096)),
            limit,
            reject_from: if limit == 0 {
                0
            } else {
                max_distance.saturating_add(1)
            },
        }
    }

    #[inline(always)]
    fn offer(&mut self, distance: u32, slot: usize) {
        if distance >= self.reject_from {
            return;
        }
        // slots fit in u32: an index refuses to grow past u32::MAX entries
        self.buf.push((distance, slot as u32));
        if self.buf.len() >= 2 * self.limit {
            self.cut();
        }
    }

    #[cold]
    fn cut(&mut self) {
        if self.buf.len() <= self.limit {
            return;
        }
        self.buf.select_nth_unstable(self.limit - 1);
        self.buf.truncate(self.limit);
        self.reject_from = self.buf.iter().map(|c| c.0).max().unwrap_or(0);
    }

    fn into_sorted(mut self) -> Vec<(u32, u32)> {
        self.cut();
        self.buf.sort_unstable();
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pseudo_codes(n: usize, words: usize) -> Vec<u64> {
        let mut state = 7u64;
        (0..n * words)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                state
            })
            .collect()
    }

    fn distance(codes: &[u64], query: &[u64], slot: u32) -> u32 {
        let words = query.len();
        let code = &codes[slot as usize * words..(slot as usize + 1) * words];
        code.iter()
            .zip(query)
            .map(|(c, q)| (c ^ q).count_ones())
            .sum()
    }

    /// Distances of the `limit` nearest of `slots` within the bound, ascending.
    fn expected(codes: &[u64], query: &[u64], slots: &[u32], bound: u32, limit: usize) -> Vec<u32> {
        let mut all: Vec<u32> = slots
            .iter()
            .map(|s| distance(codes, query, *s))
            .filter(|d| *d <= bound)
            .collect();
        all.sort_unstable();
        all.truncate(limit);
        all
    }

    /// Checks that `got` is sorted, reports true distances, and (ties at the cut
    /// may keep different slots) has the expected distances.
    fn check(codes: &[u64], query: &[u64], got: &[(u32, u32)], expected: &[u32]) {
        assert!(got.windows(2).all(|w| w[0] <= w[1]), "nearest first");
        for (d, slot) in got {
            assert_eq!(*d, distance(codes, query, *slot));
        }
        let got_d: Vec<u32> = got.iter().map(|c| c.0).collect();
        assert_eq!(got_d, expected);
    }

    #[test]
    fn keeps_the_nearest_within_the_bound() {
        for words in [1, 2, 3, 4, 8, 16] {
            let codes = pseudo_codes(500, words);
            let query = pseudo_codes(1, words);
            let slots: Vec<u32> = (0..500).collect();
            for (bound, limit) in [
                (u32::MAX, 10),
                (words as u32 * 30, 50),
                (0, 5),
                (u32::MAX, 0),
            ] {
                let got = shortlist(&codes, &query, bound, limit);
                check(
                    &codes,
                    &query,
                    &got,
                    &expected(&codes, &query, &slots, bound, limit),
                );
            }
        }
    }

    #[test]
    fn refine_keeps_the_nearest_of_the_given_candidates() {
        let codes = pseudo_codes(300, 4);
        let query = pseudo_codes(1, 4);
        let slots: Vec<u32> = (0..300).step_by(2).collect();
        // the coarse distance carried in does not matter, only the slot
        let candidates: Vec<(u32, u32)> = slots.iter().map(|s| (0, *s)).collect();
        let got = refine(&codes, &query, &candidates, u32::MAX, 10);
        assert!(got.iter().all(|(_, s)| s % 2 == 0));
        check(
            &codes,
            &query,
            &got,
            &expected(&codes, &query, &slots, u32::MAX, 10),
        );
        // out-of-range slots are skipped, not a panic
        assert!(refine(&codes, &query, &[(0, 10_000)], u32::MAX, 10).is_empty());
    }

    #[test]
    fn empty_inputs() {
        assert!(shortlist(&[], &[1, 2, 3, 4], 10, 10).is_empty());
        assert!(shortlist(&[], &[], 10, 10).is_empty());
    }
}
