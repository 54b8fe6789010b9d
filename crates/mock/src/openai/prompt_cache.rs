//! A simulated provider prompt cache, as OpenAI documents its own: prompts of 1024
//! tokens or more are cached by prefix; a later prompt on the same model that starts
//! with a cached prefix has that prefix billed as `cached_tokens`, which grows in
//! steps of 128 tokens (1024, 1152, 1280, ...). Prefixes are forgotten after a few
//! minutes unused.
//!
//! The cache remembers a hash per cacheable boundary of each prompt. Hashes are
//! chained block by block, so the hash at a boundary identifies the whole prefix up
//! to it.

use moka::sync::Cache;
use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

use super::profile::PromptCacheConfig;

/// Prefixes seen recently, per model.
#[derive(Clone, Debug)]
pub struct PromptCache {
    seen: Option<Cache<u64, ()>>,
    min: usize,
    step: usize,
}

impl PromptCache {
    /// A cache with `config`'s boundaries and lifetimes.
    pub fn new(config: &PromptCacheConfig) -> Self {
        let seen = config.enabled.then(|| {
            Cache::builder()
                .max_capacity(config.capacity)
                .time_to_idle(config.idle)
                .time_to_live(config.max_age)
                .build()
        });
        PromptCache {
            seen,
            min: config.min_tokens.max(1) as usize,
            step: config.increment.max(1) as usize,
        }
    }

    /// Forgets every prefix; the clones of a cache share what they remember.
    pub fn clear(&self) {
        if let Some(seen) = &self.seen {
            seen.invalidate_all();
        }
    }

    /// Tokens of `prompt` served from the cache on `model`, then remembers the
    /// prompt's own prefixes for later requests.
    pub fn lookup_and_store(&self, model: &str, prompt: &[u32]) -> u32 {
        let Some(seen) = &self.seen else { return 0 };
        let boundaries = self.boundaries(model, prompt);
        let cached = boundaries
            .iter()
            .rev()
            .find(|(_, hash)| seen.contains_key(hash))
            .map_or(0, |(end, _)| *end);
        for (_, hash) in boundaries {
            seen.insert(hash, ());
        }
        cached as u32
    }

    /// `(prefix length, prefix hash)` at each cacheable boundary of `prompt`.
    fn boundaries(&self, model: &str, prompt: &[u32]) -> Vec<(usize, u64)> {
        if prompt.len() < self.min {
            return Vec::new();
        }
        let mut out = Vec::with_capacity(1 + (prompt.len() - self.min) / self.step);
        let mut hash = hash_block(xxh3_64(model.as_bytes()), &prompt[..self.min]);
        out.push((self.min, hash));
        let mut end = self.min;
        while end + self.step <= prompt.len() {
            hash = hash_block(hash, &prompt[end..end + self.step]);
            end += self.step;
            out.push((end, hash));
        }
        out
    }
}

fn hash_block(seed: u64, tokens: &[u32]) -> u64 {
    let bytes: Vec<u8> = tokens.iter().flat_map(|t| t.to_le_bytes()).collect();
    xxh3_64_with_seed(&bytes, seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache() -> PromptCache {
        PromptCache::new(&PromptCacheConfig::default())
    }

    fn prompt(len: usize, salt: u32) -> Vec<u32> {
        (0..len as u32).map(|i| i.wrapping_mul(7) ^ salt).collect()
    }

    #[test]
    fn short_prompts_are_never_cached() {
        let cache = cache();
        let p = prompt(1023, 0);
        assert_eq!(cache.lookup_and_store("m", &p), 0);
        assert_eq!(cache.lookup_and_store("m", &p), 0);
    }

    #[test]
    fn a_repeated_prompt_is_cached_in_steps_of_128_from_1024() {
        let cache = cache();
        for (len, expected) in [(1024, 1024), (1100, 1024), (1152, 1152), (1500, 1408)] {
            let p = prompt(len, len as u32);
            assert_eq!(cache.lookup_and_store("m", &p), 0, "first sight of {len}");
            assert_eq!(cache.lookup_and_store("m", &p), expected, "repeat of {len}");
        }
    }

    #[test]
    fn the_longest_shared_prefix_is_served() {
        let cache = cache();
        let first = prompt(2000, 1);
        cache.lookup_and_store("m", &first);
        // Same first 1300 tokens, then different: 1280 is the last shared boundary.
        let mut second = first[..1300].to_vec();
        second.extend(prompt(700, 99));
        assert_eq!(cache.lookup_and_store("m", &second), 1280);
        // A longer prompt extending the first one gets all of the first's boundaries.
        let mut longer = first.clone();
        longer.extend(prompt(300, 5));
        assert_eq!(cache.lookup_and_store("m", &longer), 1920);
    }

    #[test]
    fn models_do_not_share_a_cache() {
        let cache = cache();
        let p = prompt(1200, 3);
        cache.lookup_and_store("gpt-4o", &p);
        assert_eq!(cache.lookup_and_store("gpt-4o-mini", &p), 0);
        assert_eq!(cache.lookup_and_store("gpt-4o", &p), 1152);
    }

    #[test]
    fn a_disabled_cache_serves_nothing() {
        let cache = PromptCache::new(&PromptCacheConfig {
            enabled: false,
            ..PromptCacheConfig::default()
        });
        let p = prompt(3000, 0);
        cache.lookup_and_store("m", &p);
        assert_eq!(cache.lookup_and_store("m", &p), 0);
    }
}
