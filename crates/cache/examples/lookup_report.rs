//! Latency percentiles and recall of the vector index against exact search.
//!
//! Fills one partition with `--entries` sentence embeddings, then asks
//! paraphrase-like perturbations of stored sentences and unrelated sentences.
//! For each threshold it prints the per-lookup latency (HDR histogram) and
//! recall@1: how often the index returns exact search's answer.
//!
//! ```text
//! cargo run --release -p gatebench-cache --example lookup_report -- \
//!     [--entries 100000] [--paraphrases 1000] [--unrelated 500] [--bits 256] \
//!     [--shortlist 64] [--thresholds 0.6,0.8,0.9,0.95] [--cache]
//! ```

#[path = "../benches/support/corpus.rs"]
mod corpus;

use std::time::Instant;

use gatebench_cache::{CacheConfig, ChatKeys, EntryId, IndexConfig, SemanticCache, VectorIndex};
use gatebench_embed::{CALIBRATED_THRESHOLD, Embedder};
use hdrhistogram::Histogram;
use serde_json::json;

struct Args {
    entries: usize,
    paraphrases: usize,
    unrelated: usize,
    index: IndexConfig,
    thresholds: Vec<f32>,
    cache: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        entries: 100_000,
        paraphrases: 1000,
        unrelated: 500,
        index: IndexConfig::default(),
        thresholds: vec![CALIBRATED_THRESHOLD, 0.80, 0.90, 0.95],
        cache: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--cache" {
            args.cache = true;
            continue;
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--entries" => args.entries = value.parse().map_err(|e| bad(&e))?,
            "--paraphrases" => args.paraphrases = value.parse().map_err(|e| bad(&e))?,
            "--unrelated" => args.unrelated = value.parse().map_err(|e| bad(&e))?,
            "--bits" => args.index.code_bits = value.parse().map_err(|e| bad(&e))?,
            "--coarse-bits" => args.index.coarse_bits = value.parse().map_err(|e| bad(&e))?,
            "--coarse-shortlist" => {
                args.index.coarse_shortlist = value.parse().map_err(|e| bad(&e))?
            }
            "--shortlist" => args.index.shortlist = value.parse().map_err(|e| bad(&e))?,
            "--margin" => args.index.margin_sigmas = value.parse().map_err(|e| bad(&e))?,
            "--thresholds" => {
                args.thresholds = value
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()
                    .map_err(|e| bad(&e))?
            }
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(args)
}

fn main() -> Result<(), String> {
    let args = parse_args()?;
    let embedder = Embedder::new("text-embedding-3-small", 1536);
    let c = &args.index;
    println!(
        "entries {} | scan {} bits -> {} | code {} bits -> {} | margin {} sigma | exact below {}",
        args.entries,
        c.coarse_bits,
        c.coarse_shortlist,
        c.code_bits,
        c.shortlist,
        c.margin_sigmas,
        c.exact_below
    );

    let started = Instant::now();
    let stored = corpus::sentences(args.entries);
    let rss_before = resident_bytes();
    let mut index = VectorIndex::with_config(1536, args.index.clone());
    let mut vector = vec![0.0; 1536];
    for (id, text) in stored.iter().enumerate() {
        embedder.embed_into(text, &mut vector);
        index
            .insert(id as EntryId, &vector)
            .map_err(|e| e.to_string())?;
    }
    println!(
        "built in {:.1?}; index bytes per entry {} (vector {} + codes {} + id and map)",
        started.elapsed(),
        index.bytes_per_entry(),
        1536 * 4,
        (args.index.code_bits + args.index.coarse_bits) / 8
    );
    print_resident("index", rss_before, args.entries);

    let paraphrases: Vec<String> = (0..args.paraphrases)
        .map(|i| {
            let r = corpus::splitmix(i as u64);
            corpus::perturb(&stored[r as usize % stored.len()], r)
        })
        .collect();
    let unrelated = corpus::unrelated(args.unrelated);
    let queries: Vec<(bool, Vec<f32>)> = paraphrases
        .iter()
        .map(|q| (true, embedder.embed(q)))
        .chain(unrelated.iter().map(|q| (false, embedder.embed(q))))
        .collect();

    let started = Instant::now();
    let truth = exact_answers(&index, &queries);
    println!(
        "exact search of {} queries in {:.1?}",
        queries.len(),
        started.elapsed()
    );

    for &threshold in &args.thresholds {
        report_threshold(&index, &queries, &truth, threshold);
    }
    if args.cache {
        drop(index);
        cache_latency(&embedder, &stored, &paraphrases, &args)?;
    }
    Ok(())
}

/// The best entry for every query with no threshold, on both cores. The exact
/// answer at threshold t is this one when its similarity reaches t.
fn exact_answers(index: &VectorIndex, queries: &[(bool, Vec<f32>)]) -> Vec<Option<(EntryId, f32)>> {
    let half = queries.len().div_ceil(2);
    std::thread::scope(|s| {
        let parts: Vec<_> = queries
            .chunks(half.max(1))
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|(_, q)| index.exact_search(q, -1.0))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        parts
            .into_iter()
            .flat_map(|p| p.join().unwrap_or_default())
            .collect()
    })
}

fn histogram() -> Histogram<u64> {
    match Histogram::new_with_bounds(1, 60_000_000_000, 3) {
        Ok(h) => h,
        Err(e) => unreachable!("fixed histogram bounds are valid: {e}"),
    }
}

fn report_threshold(
    index: &VectorIndex,
    queries: &[(bool, Vec<f32>)],
    truth: &[Option<(EntryId, f32)>],
    t: f32,
) {
    let mut latency = Latency::new();
    let (mut expected_hits, mut same_id, mut same_similarity) = (0u32, 0u32, 0u32);
    let (mut para_misses, mut para_miss_agree) = (0u32, 0u32);
    let (mut unrelated_total, mut unrelated_exact_hits, mut unrelated_agree) = (0u32, 0u32, 0u32);
    // three rounds so the percentiles rest on more than one sample per query
    for round in 0..3 {
        for ((paraphrase, q), exact) in queries.iter().zip(truth) {
            let got = latency.time(|| index.search(q, t));
            if round > 0 {
                continue;
            }
            let expected = exact.filter(|(_, s)| *s >= t);
            if !paraphrase {
                unrelated_total += 1;
                unrelated_exact_hits += u32::from(expected.is_some());
                unrelated_agree += u32::from(got == expected);
            }
            match expected {
                Some((id, s)) => {
                    expected_hits += 1;
                    same_id += u32::from(got.map(|g| g.0) == Some(id));
                    same_similarity += u32::from(got.is_some_and(|g| g.1 == s));
                }
                None if *paraphrase => {
                    para_misses += 1;
                    para_miss_agree += u32::from(got.is_none());
                }
                None => {}
            }
        }
    }
    let ratio = |a: u32, b: u32| {
        if b == 0 {
            1.0
        } else {
            f64::from(a) / f64::from(b)
        }
    };
    println!("threshold {t:.2}: search {}", latency.summary());
    println!(
        "  recall@1 {:.4} ({same_id}/{expected_hits} same entry; {:.4} same similarity, ties included)",
        ratio(same_id, expected_hits),
        ratio(same_similarity, expected_hits)
    );
    println!(
        "  paraphrases exact search misses: {para_misses}, index agrees on {para_miss_agree}; \
         unrelated: {unrelated_total}, exact search hits {unrelated_exact_hits}, index agrees on {unrelated_agree} ({:.4})",
        ratio(unrelated_agree, unrelated_total)
    );
}

/// Full cache lookups (exact fast path, then similarity) in one partition.
fn cache_latency(
    embedder: &Embedder,
    stored: &[String],
    paraphrases: &[String],
    args: &Args,
) -> Result<(), String> {
    let rss_before = resident_bytes();
    let cache: SemanticCache<u32> = SemanticCache::new(CacheConfig {
        threshold: CALIBRATED_THRESHOLD,
        max_entries: stored.len() as u64 * 2,
        index: args.index.clone(),
        ..CacheConfig::default()
    });
    let keys = |q: &str| {
        ChatKeys::from_request(
            "alpha",
            &json!({"model": "m", "messages": [{"role": "user", "content": q}]}),
        )
    };
    for (i, text) in stored.iter().enumerate() {
        let k = keys(text).ok_or("uncacheable")?;
        cache
            .insert("alpha", &k, &embedder.embed(text), i as u32)
            .map_err(|e| e.to_string())?;
    }
    cache.run_pending_tasks();
    print_resident("cache (u32 values)", rss_before, stored.len());
    let mut exact = Latency::new();
    let mut semantic = Latency::new();
    // three rounds, as for the index
    for _ in 0..3 {
        for (i, q) in paraphrases.iter().enumerate() {
            let stored_text = &stored[corpus::splitmix(i as u64) as usize % stored.len()];
            let hit = keys(stored_text).ok_or("uncacheable")?;
            exact.time(|| cache.lookup_exact("alpha", &hit));

            let k = keys(q).ok_or("uncacheable")?;
            let v = embedder.embed(q);
            semantic.time(|| cache.lookup("alpha", &k, |_| v));
        }
    }
    println!(
        "cache lookup, {} entries in one partition, embedding excluded:",
        stored.len()
    );
    println!("  exact hit: {}", exact.summary());
    println!("  exact miss then similarity: {}", semantic.summary());
    Ok(())
}

/// Resident memory of this process (Linux), to report memory per entry.
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn print_resident(what: &str, before: Option<u64>, entries: usize) {
    if let (Some(before), Some(after)) = (before, resident_bytes()) {
        let grown = after.saturating_sub(before);
        println!(
            "{what}: resident memory grew {:.1} MB, {} bytes per entry",
            grown as f64 / 1e6,
            grown / entries.max(1) as u64
        );
    }
}

/// Per-lookup latency, all lookups and those the scheduler did not interrupt.
///
/// On a shared machine a lookup that loses its core waits a whole time slice
/// (milliseconds), which says nothing about the lookup; the thread's context
/// switch counters (read outside the timed span) tell those apart.
struct Latency {
    all: Histogram<u64>,
    undisturbed: Histogram<u64>,
}

impl Latency {
    fn new() -> Self {
        Latency {
            all: histogram(),
            undisturbed: histogram(),
        }
    }

    fn time<R>(&mut self, f: impl FnOnce() -> R) -> R {
        let switches = context_switches();
        let started = Instant::now();
        let out = std::hint::black_box(f());
        let nanos = started.elapsed().as_nanos() as u64;
        self.all.saturating_record(nanos);
        if switches.is_some() && switches == context_switches() {
            self.undisturbed.saturating_record(nanos);
        }
        out
    }

    fn summary(&self) -> String {
        let us = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        format!(
            "p50 {:.1} us, p99 {:.1} us, max {:.0} us over {} lookups; \
             not preempted ({} lookups): p50 {:.1} us, p99 {:.1} us",
            us(&self.all, 0.5),
            us(&self.all, 0.99),
            us(&self.all, 1.0),
            self.all.len(),
            self.undisturbed.len(),
            us(&self.undisturbed, 0.5),
            us(&self.undisturbed, 0.99),
        )
    }
}

/// Voluntary plus involuntary context switches of the calling thread (Linux).
fn context_switches() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/thread-self/status").ok()?;
    let mut total = 0;
    for line in status.lines() {
        if let Some(rest) = line
            .strip_prefix("voluntary_ctxt_switches:")
            .or_else(|| line.strip_prefix("nonvoluntary_ctxt_switches:"))
        {
            total += rest.trim().parse::<u64>().ok()?;
        }
    }
    Some(total)
}
