//! Binary codes of vectors: sign bits after a random rotation.
//!
//! Two unit vectors at angle θ disagree on the sign of a random projection with
//! probability θ/π, so the Hamming distance between their codes estimates their
//! angle. Raw coordinates would not do: real embedding models put unequal energy
//! in their dimensions, and their signs are correlated. A randomised Hadamard
//! transform (random sign flips, then a Walsh–Hadamard transform, three rounds)
//! spreads every vector evenly over all coordinates like a random rotation does,
//! in O(d log d) time and with no matrix to store, which matters because each
//! lookup and each insert encodes one vector.

/// A fixed pseudo-random rotation of `dims`-dimensional vectors, keeping `bits`
/// sign bits.
#[derive(Clone, Debug)]
pub struct Rotation {
    dims: usize,
    padded: usize,
    bits: usize,
    signs: Vec<Vec<f32>>,
}

const ROUNDS: usize = 3;

impl Rotation {
    /// A rotation for vectors of `dims` dimensions producing codes of `bits` bits
    /// (rounded up to a multiple of 64, at least 64). The same arguments always
    /// give the same rotation.
    pub fn new(dims: usize, bits: usize, seed: u64) -> Self {
        let bits = bits.max(1).div_ceil(64) * 64;
        let padded = dims.max(bits).next_power_of_two();
        let mut state = seed ^ 0x5851_f42d_4c95_7f2d;
        let signs = (0..ROUNDS)
            .map(|_| {
                (0..padded)
                    .map(|_| {
                        if splitmix(&mut state) >> 63 == 1 {
                            1.0
                        } else {
                            -1.0
                        }
                    })
                    .collect()
            })
            .collect();
        Rotation {
            dims,
            padded,
            bits,
            signs,
        }
    }

    /// Input dimensions.
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// Bits per code.
    pub fn bits(&self) -> usize {
        self.bits
    }

    /// `u64` words per code.
    pub fn words(&self) -> usize {
        self.bits / 64
    }

    /// Writes the code of `vector` (length `dims`) into `out` (length `words`).
    pub fn encode(&self, vector: &[f32], out: &mut [u64]) {
        debug_assert_eq!(vector.len(), self.dims);
        debug_assert_eq!(out.len(), self.words());
        let mut x = vec![0.0f32; self.padded];
        x[..self.dims].copy_from_slice(vector);
        for signs in &self.signs {
            x.iter_mut().zip(signs).for_each(|(v, s)| *v *= s);
            walsh_hadamard(&mut x);
        }
        for (word, chunk) in out.iter_mut().zip(x.chunks_exact(64)) {
            *word = chunk
                .iter()
                .enumerate()
                .fold(0u64, |acc, (i, v)| acc | (u64::from(*v > 0.0) << i));
        }
    }

    /// The code of `vector` as a new vector of words.
    pub fn code(&self, vector: &[f32]) -> Vec<u64> {
        let mut out = vec![0; self.words()];
        self.encode(vector, &mut out);
        out
    }
}

/// In-place unnormalised Walsh–Hadamard transform; `x.len()` is a power of two.
fn walsh_hadamard(x: &mut [f32]) {
    let mut half = 1;
    if x.len() >= 8 {
        // the first three levels act within blocks of 8: done per block in
        // registers, they avoid three passes of one- to four-element loops
        let (blocks, _) = x.as_chunks_mut::<8>();
        blocks.iter_mut().for_each(hadamard8);
        half = 8;
    }
    while half < x.len() {
        for block in x.chunks_exact_mut(2 * half) {
            let (a, b) = block.split_at_mut(half);
            for (u, v) in a.iter_mut().zip(b.iter_mut()) {
                let (s, d) = (*u + *v, *u - *v);
                *u = s;
                *v = d;
            }
        }
        half *= 2;
    }
}

fn hadamard8(x: &mut [f32; 8]) {
    for half in [1, 2, 4] {
        for i in 0..8 {
            if i & half == 0 {
                let (u, v) = (x[i], x[i + half]);
                x[i] = u + v;
                x[i + half] = u - v;
            }
        }
    }
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hamming(a: &[u64], b: &[u64]) -> u32 {
        a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
    }

    fn unit(seed: u64, dims: usize) -> Vec<f32> {
        let mut state = seed;
        let mut v: Vec<f32> = (0..dims)
            .map(|_| (splitmix(&mut state) >> 40) as f32 / (1u64 << 24) as f32 - 0.5)
            .collect();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter_mut().for_each(|x| *x /= norm);
        v
    }

    #[test]
    fn blocked_hadamard_equals_the_definition() {
        // H[i][j] = (-1)^popcount(i & j)
        let n = 32;
        let x: Vec<f32> = (0..n).map(|i| (i * i % 7) as f32 - 3.0).collect();
        let mut fast = x.clone();
        walsh_hadamard(&mut fast);
        for (i, got) in fast.iter().enumerate() {
            let expected: f32 = x
                .iter()
                .enumerate()
                .map(|(j, v)| {
                    if (i & j).count_ones() % 2 == 0 {
                        *v
                    } else {
                        -v
                    }
                })
                .sum();
            assert_eq!(*got, expected, "row {i}");
        }
    }

    #[test]
    fn hadamard_twice_is_scaled_identity() {
        let mut x: Vec<f32> = (0..8).map(|i| i as f32).collect();
        walsh_hadamard(&mut x);
        walsh_hadamard(&mut x);
        let expected: Vec<f32> = (0..8).map(|i| 8.0 * i as f32).collect();
        assert_eq!(x, expected);
    }

    #[test]
    fn codes_are_deterministic_and_sized() {
        let r = Rotation::new(1536, 200, 1);
        assert_eq!(r.bits(), 256);
        assert_eq!(r.words(), 4);
        let v = unit(3, 1536);
        assert_eq!(r.code(&v), Rotation::new(1536, 256, 1).code(&v));
        let small = Rotation::new(5, 64, 1);
        assert_eq!(small.code(&unit(4, 5)).len(), 1);
    }

    #[test]
    fn hamming_distance_tracks_the_angle() {
        let r = Rotation::new(1536, 512, 9);
        let a = unit(1, 1536);
        let b = unit(2, 1536);
        let same = r.code(&a);
        let opposite: Vec<f32> = a.iter().map(|x| -x).collect();
        assert_eq!(hamming(&same, &r.code(&a)), 0);
        // an opposite vector flips every sign (no coordinate is exactly zero here)
        assert_eq!(hamming(&same, &r.code(&opposite)), 512);
        // nearly orthogonal random vectors: about half the bits, well inside 6 sigma
        let d = hamming(&same, &r.code(&b));
        assert!((256 - 70..=256 + 70).contains(&d), "{d}");
        // a small perturbation stays close
        let mut near = a.clone();
        near.iter_mut().zip(&b).for_each(|(x, y)| *x += 0.2 * y);
        assert!(hamming(&same, &r.code(&near)) < 60);
    }
}
