//! Lookup cost with 1k, 10k and 100k entries of 1536 dimensions in one partition:
//! the index search alone (and exhaustive search for reference), and full cache
//! lookups (exact fast path; exact miss then similarity). Vectors come from the
//! workspace embedder over sentences built from word lists; queries are
//! paraphrase-like perturbations of stored sentences.
//!
//! `cargo bench -p gatebench-cache --bench lookup`
//! (percentiles and recall: `cargo run --release -p gatebench-cache --example lookup_report`)

#[path = "support/corpus.rs"]
mod corpus;

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use gatebench_cache::{CacheConfig, ChatKeys, EntryId, SemanticCache, VectorIndex};
use gatebench_embed::{CALIBRATED_THRESHOLD, Embedder};
use serde_json::json;

const SIZES: [usize; 3] = [1_000, 10_000, 100_000];
const QUERIES: usize = 256;

fn embedder() -> Embedder {
    Embedder::new("text-embedding-3-small", 1536)
}

fn keys(text: &str) -> ChatKeys {
    let request = json!({
        "model": "gpt-4o-mini",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": text}]
    });
    match ChatKeys::from_request("alpha", &request) {
        Some(keys) => keys,
        None => unreachable!("the benchmark's requests are cacheable"),
    }
}

/// Paraphrase-like queries of the first `n` stored sentences, with their vectors.
fn queries(stored: &[String], e: &Embedder) -> Vec<(ChatKeys, Vec<f32>)> {
    (0..QUERIES as u64)
        .map(|i| {
            let r = corpus::splitmix(i);
            let text = corpus::perturb(&stored[r as usize % stored.len()], r);
            (keys(&text), e.embed(&text))
        })
        .collect()
}

fn index_search(c: &mut Criterion) {
    let e = embedder();
    let mut group = c.benchmark_group("index_search");
    group
        .sample_size(50)
        .measurement_time(Duration::from_secs(5));
    for n in SIZES {
        let stored = corpus::sentences(n);
        let mut index = VectorIndex::new(1536);
        for (id, text) in stored.iter().enumerate() {
            index
                .insert(id as EntryId, &e.embed(text))
                .expect("unit vector");
        }
        let queries = queries(&stored, &e);
        let mut i = 0;
        group.bench_function(BenchmarkId::new("approximate", n), |b| {
            b.iter(|| {
                i = (i + 1) % queries.len();
                black_box(index.search(&queries[i].1, CALIBRATED_THRESHOLD))
            })
        });
        if n <= 10_000 {
            group.bench_function(BenchmarkId::new("exhaustive", n), |b| {
                b.iter(|| {
                    i = (i + 1) % queries.len();
                    black_box(index.exact_search(&queries[i].1, CALIBRATED_THRESHOLD))
                })
            });
        }
    }
    group.finish();
}

fn cache_lookup(c: &mut Criterion) {
    let e = embedder();
    let mut group = c.benchmark_group("cache_lookup");
    group
        .sample_size(50)
        .measurement_time(Duration::from_secs(5));
    for n in SIZES {
        let stored = corpus::sentences(n);
        let cache: SemanticCache<u32> = SemanticCache::new(CacheConfig {
            threshold: CALIBRATED_THRESHOLD,
            max_entries: 2 * n as u64,
            ..CacheConfig::default()
        });
        let stored_keys: Vec<ChatKeys> = stored.iter().take(QUERIES).map(|t| keys(t)).collect();
        for (id, text) in stored.iter().enumerate() {
            let vector = e.embed(text);
            cache
                .insert("alpha", &keys(text), &vector, id as u32)
                .expect("unit vector");
        }
        let queries = queries(&stored, &e);
        let mut i = 0;
        group.bench_function(BenchmarkId::new("exact_hit", n), |b| {
            b.iter(|| {
                i = (i + 1) % stored_keys.len();
                black_box(cache.lookup("alpha", &stored_keys[i], |_| Vec::new()))
            })
        });
        // the closure hands over a precomputed vector: embedding is not measured
        group.bench_function(BenchmarkId::new("exact_miss_then_similar", n), |b| {
            b.iter(|| {
                i = (i + 1) % queries.len();
                let (k, v) = &queries[i];
                black_box(cache.lookup("alpha", k, |_| v.clone()))
            })
        });
    }
    group.finish();
}

fn chat_keys(c: &mut Criterion) {
    let request = json!({
        "model": "gpt-4o-mini",
        "temperature": 0.2,
        "max_tokens": 256,
        "stream": true,
        "messages": [
            {"role": "system", "content": "You are a storyteller for children aged 5 to 7."},
            {"role": "user", "content": "Tell me a story about a dragon"},
            {"role": "assistant", "content": "Once upon a time, a small dragon..."},
            {"role": "user", "content": "Now make it about a brave knight instead"}
        ]
    });
    c.bench_function("chat_keys", |b| {
        b.iter(|| black_box(ChatKeys::from_request("alpha", &request)))
    });
}

criterion_group!(benches, chat_keys, index_search, cache_lookup);
criterion_main!(benches);
