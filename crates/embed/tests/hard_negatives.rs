//! Different asks about one subject stay apart at the calibrated threshold.
//!
//! `fixtures/prompts/hard-negatives.toml` asks about each of its subjects in
//! several ways ("explain to a child how…", "list three facts about…", "write a
//! short poem about…", "tell a bedtime story about…"); each way of asking is its
//! own intent, with paraphrases of that same ask. A cache that serves the poem
//! to the request for facts answers wrongly, however close the two prompts are.
//!
//! At [`CALIBRATED_THRESHOLD`], with the embedder the gateway uses by default:
//! - **false hits**: each prompt is looked up in a cache holding every wording of
//!   the *other* asks of its subject; it is served a wrong answer when the nearest
//!   of them reaches the threshold. At most 2 % of lookups may be;
//! - **recall**: each prompt is looked up in a cache holding the other wordings of
//!   its own intent; at least 90 % must hit.
//!
//! Run with `--nocapture` for the figures by pair of asks and the closest wrong pairs.
//!
//! Telling asks apart costs a paraphrase its match when it names an ask its
//! original leaves implicit, so every intent of every catalog must name the same
//! asks in all its wordings.

mod common;

use std::collections::BTreeMap;

use common::{CATALOGS, Intent, load_catalog, load_catalogs};
use gatebench_embed::{CALIBRATED_THRESHOLD, Embedder, asks, cosine};

const MAX_FALSE_HIT_RATE: f64 = 0.02;
const MIN_RECALL: f64 = 0.90;
const WORST_SHOWN: usize = 15;

/// The subject of an intent id: everything before the last `-` (the ask).
fn split_id(id: &str) -> (&str, &str) {
    id.rsplit_once('-')
        .unwrap_or_else(|| panic!("intent id {id} names no ask"))
}

struct Embedded<'a> {
    intent: &'a Intent,
    vectors: Vec<Vec<f32>>,
}

/// The nearest of `entries` to `query`, with its similarity.
fn nearest<'a>(
    query: &[f32],
    entries: impl Iterator<Item = (&'a str, &'a [f32])>,
) -> (&'a str, f32) {
    entries
        .map(|(text, v)| (text, cosine(query, v)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap_or(("", f32::MIN))
}

#[test]
fn different_asks_about_one_subject_do_not_share_answers() {
    let catalog = load_catalog("hard-negatives");
    let embedder = Embedder::new("text-embedding-3-small", 1536);
    let mut subjects: BTreeMap<&str, Vec<Embedded<'_>>> = BTreeMap::new();
    for intent in &catalog.intent {
        let vectors = intent.prompts().map(|p| embedder.embed(p)).collect();
        subjects
            .entry(split_id(&intent.id).0)
            .or_default()
            .push(Embedded { intent, vectors });
    }

    let (mut lookups, mut false_hits, mut hits) = (0usize, 0usize, 0usize);
    // (query ask, served ask) -> (lookups, false hits)
    let mut by_pair: BTreeMap<(&str, &str), (usize, usize)> = BTreeMap::new();
    let mut worst: Vec<(f32, &str, &str)> = Vec::new();
    let mut lonely: Vec<(f32, &str, &str)> = Vec::new();
    for asks in subjects.values() {
        for (a, own) in asks.iter().enumerate() {
            let own_ask = split_id(&own.intent.id).1;
            for (q, (text, v)) in own.intent.prompts().zip(&own.vectors).enumerate() {
                lookups += 1;
                let others = asks.iter().enumerate().filter(|(b, _)| *b != a);
                let wrong = nearest(
                    v,
                    others.clone().flat_map(|(_, e)| {
                        e.intent.prompts().zip(e.vectors.iter().map(Vec::as_slice))
                    }),
                );
                if wrong.1 >= CALIBRATED_THRESHOLD {
                    false_hits += 1;
                }
                worst.push((wrong.1, text, wrong.0));
                for (_, other) in others {
                    let served = nearest(
                        v,
                        other
                            .intent
                            .prompts()
                            .zip(other.vectors.iter().map(Vec::as_slice)),
                    );
                    let pair = by_pair
                        .entry((own_ask, split_id(&other.intent.id).1))
                        .or_default();
                    pair.0 += 1;
                    pair.1 += usize::from(served.1 >= CALIBRATED_THRESHOLD);
                }
                let right = nearest(
                    v,
                    own.intent
                        .prompts()
                        .zip(own.vectors.iter().map(Vec::as_slice))
                        .enumerate()
                        .filter(|(p, _)| *p != q)
                        .map(|(_, e)| e),
                );
                if right.1 >= CALIBRATED_THRESHOLD {
                    hits += 1;
                }
                lonely.push((right.1, text, right.0));
            }
        }
    }

    let false_hit_rate = false_hits as f64 / lookups as f64;
    let recall = hits as f64 / lookups as f64;
    println!(
        "{} subjects, {} intents, {lookups} prompts, threshold {CALIBRATED_THRESHOLD:.2}",
        subjects.len(),
        catalog.intent.len()
    );
    println!(
        "served another ask's answer: {false_hits} of {lookups} lookups ({:.2} %)",
        100.0 * false_hit_rate
    );
    println!(
        "served its own ask's answer: {hits} of {lookups} lookups (recall {:.4})",
        recall
    );
    println!("\nby pair of asks (query ask <- cached ask): false hits / lookups");
    for ((q, c), (n, f)) in &by_pair {
        println!(
            "  {q:>8} <- {c:<8} {f:>4} / {n:<4} {:>6.2} %",
            100.0 * *f as f64 / *n as f64
        );
    }
    worst.sort_by(|a, b| b.0.total_cmp(&a.0));
    println!("\nclosest prompts of another ask, highest first:");
    for (s, q, c) in worst.iter().take(WORST_SHOWN) {
        println!("  {s:.3}  {q:?}\n         {c:?}");
    }
    lonely.sort_by(|a, b| a.0.total_cmp(&b.0));
    println!("\nlowest nearest-paraphrase similarities:");
    for (s, q, c) in lonely.iter().take(WORST_SHOWN) {
        println!("  {s:.3}  {q:?}\n         {c:?}");
    }

    assert!(
        false_hit_rate <= MAX_FALSE_HIT_RATE,
        "{:.2} % of lookups were served another ask's answer",
        100.0 * false_hit_rate
    );
    assert!(recall >= MIN_RECALL, "paraphrase recall {recall:.4}");
}

#[test]
fn every_intent_names_the_same_asks_in_all_its_wordings() {
    for (file, catalog) in CATALOGS.iter().zip(load_catalogs()) {
        for intent in &catalog.intent {
            let expected = asks(&intent.canonical);
            for p in &intent.paraphrases {
                assert_eq!(
                    asks(p),
                    expected,
                    "{file}.toml, {}: {p:?} against {:?}",
                    intent.id,
                    intent.canonical
                );
            }
        }
    }
}
