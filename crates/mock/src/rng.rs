//! Deterministic randomness.
//!
//! Nothing in a mock draws from a global generator: the order in which concurrent
//! requests arrive is not repeatable, so a shared stream would not be either. Each
//! request gets its own generators, seeded from the run's seed, what the request says
//! (route and body) and how many identical requests came before it. Two runs of the
//! same workload with the same seed then see the same latencies and faults however
//! the requests interleave.

use std::sync::atomic::{AtomicU64, Ordering};

use rand::SeedableRng;
use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

/// Mixes several parts into one 64-bit seed.
pub fn mix(seed: u64, parts: &[&[u8]]) -> u64 {
    parts
        .iter()
        .fold(seed, |acc, part| xxh3_64_with_seed(part, acc))
}

/// The generator every draw of a mock comes from: PCG with 128 bits of state and
/// 64-bit output, a documented algorithm that gives the same numbers on every
/// platform and in every release of its crate. Requests seed several each, so
/// seeding matters as much as drawing: both are a few multiplications.
pub type MockRng = rand_pcg::Pcg64Mcg;

/// A generator for one purpose, derived from a seed and a label.
pub fn stream(seed: u64, label: &str) -> MockRng {
    MockRng::seed_from_u64(xxh3_64_with_seed(label.as_bytes(), seed))
}

/// Hash of a request's identity (route and body), stable across runs and platforms.
pub fn request_hash(route: &str, body: &[u8]) -> u64 {
    xxh3_64_with_seed(body, xxh3_64(route.as_bytes()))
}

/// Counts how often each request identity has been seen.
///
/// A fixed table of counters indexed by hash keeps memory bounded on long soaks; two
/// identities that share a slot share a counter, which changes which draw a request
/// gets but not the fact that the same workload gets the same draws.
#[derive(Debug)]
pub struct Occurrences {
    slots: Box<[AtomicU64]>,
}

const SLOTS: usize = 1 << 16;

impl Default for Occurrences {
    fn default() -> Self {
        Occurrences {
            slots: (0..SLOTS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl Occurrences {
    /// Returns how many times `hash` was seen before, and counts this time.
    pub fn next(&self, hash: u64) -> u64 {
        self.slots[(hash as usize) % SLOTS].fetch_add(1, Ordering::Relaxed)
    }

    /// Forgets every count.
    pub fn clear(&self) {
        for slot in self.slots.iter() {
            slot.store(0, Ordering::Relaxed);
        }
    }
}
