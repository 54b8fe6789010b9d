//! Adding a feature's pseudo-random ±1 direction, scaled by its weight, to a vector.
//!
//! The direction's signs come from a splitmix64 stream seeded by the feature key,
//! 64 dimensions per draw, dimension `i` from bit `i % 64`. A byte of signs is
//! looked up in a table of eight ±1 lanes so the inner loop is plain
//! multiply-adds the compiler vectorises.

/// `SIGNS[b][k]` is +1 when bit `k` of `b` is set, else −1.
static SIGNS: [[f32; 8]; 256] = sign_table();

const fn sign_table() -> [[f32; 8]; 256] {
    let mut t = [[0.0f32; 8]; 256];
    let mut b = 0;
    while b < 256 {
        let mut k = 0;
        while k < 8 {
            t[b][k] = if (b >> k) & 1 == 1 { 1.0 } else { -1.0 };
            k += 1;
        }
        b += 1;
    }
    t
}

/// Adds `weight` times the direction of `key` to `out`.
pub fn add_direction(key: u64, weight: f32, out: &mut [f32]) {
    let mut state = key;
    let mut blocks = out.chunks_exact_mut(64);
    for block in &mut blocks {
        let bits = splitmix(&mut state);
        for (j, lanes) in block.chunks_exact_mut(8).enumerate() {
            let signs = &SIGNS[((bits >> (8 * j)) & 0xff) as usize];
            for (x, s) in lanes.iter_mut().zip(signs) {
                *x += s * weight;
            }
        }
    }
    let rest = blocks.into_remainder();
    if !rest.is_empty() {
        let bits = splitmix(&mut state);
        for (i, x) in rest.iter_mut().enumerate() {
            *x += if (bits >> i) & 1 == 1 {
                weight
            } else {
                -weight
            };
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
