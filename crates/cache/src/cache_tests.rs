//! Tests of the semantic cache.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use gatebench_embed::Embedder;
use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

/// The embedder's calibrated threshold: its paraphrases hit, different questions miss.
const THRESHOLD: f32 = gatebench_embed::CALIBRATED_THRESHOLD;

fn embedder() -> Embedder {
    Embedder::new("text-embedding-3-small", 1536)
}

fn request(model: &str, query: &str) -> Value {
    json!({
        "model": model,
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": query}
        ]
    })
}

fn chat_keys(tenant: &str, model: &str, query: &str) -> ChatKeys {
    ChatKeys::from_request(tenant, &request(model, query)).expect("cacheable")
}

fn cache(max_entries: u64, ttl: Duration) -> SemanticCache<String> {
    SemanticCache::new(CacheConfig {
        threshold: THRESHOLD,
        ttl,
        max_entries,
        ..CacheConfig::default()
    })
}

/// Looks up and, on a miss, stores `answer`; returns the lookup.
fn lookup_or_insert(
    c: &SemanticCache<String>,
    tenant: &str,
    keys: &ChatKeys,
    answer: &str,
) -> Lookup<String> {
    let e = embedder();
    let outcome = c.lookup(tenant, keys, |q| e.embed(q));
    if let Lookup::Miss(miss) = &outcome {
        let key = c
            .insert(tenant, keys, &miss.vector, answer.to_owned())
            .expect("insert");
        assert_eq!(key, miss.key);
    }
    outcome
}

fn hit(outcome: Lookup<String>) -> Hit<String> {
    match outcome {
        Lookup::Hit(hit) => hit,
        Lookup::Miss(_) => panic!("expected a hit"),
    }
}

#[test]
fn exact_hit_does_not_embed() {
    let c = cache(100, Duration::from_secs(60));
    let keys = chat_keys("alpha", "gpt-4o-mini", "Tell me a story about a dragon");
    assert!(matches!(
        lookup_or_insert(&c, "alpha", &keys, "once upon a time"),
        Lookup::Miss(_)
    ));

    let same = chat_keys("alpha", "gpt-4o-mini", "  tell me a STORY about a dragon ");
    let h = hit(c.lookup("alpha", &same, |_| panic!("exact hits must not embed")));
    assert_eq!(h.kind, HitKind::Exact);
    assert_eq!(h.value, "once upon a time");
    assert_eq!(h.similarity, 1.0);
    assert_eq!(h.key, keys.exact);
    let m = c.metrics();
    assert_eq!(
        (m.exact_hits, m.semantic_hits, m.misses, m.inserts),
        (1, 0, 1, 1)
    );
}

#[test]
fn paraphrase_hits_and_unrelated_misses() {
    let c = cache(100, Duration::from_secs(60));
    let stored = chat_keys("alpha", "gpt-4o-mini", "Tell me a story about a dragon");
    lookup_or_insert(&c, "alpha", &stored, "once upon a time");

    let paraphrase = chat_keys(
        "alpha",
        "gpt-4o-mini",
        "Can you tell me a story about a dragon?",
    );
    let h = hit(lookup_or_insert(&c, "alpha", &paraphrase, "unused"));
    assert_eq!(h.kind, HitKind::Semantic);
    assert_eq!(h.value, "once upon a time");
    assert_eq!(h.key, stored.exact, "the served entry is the stored one");
    assert!(h.similarity >= THRESHOLD && h.similarity < 1.0);

    let unrelated = chat_keys(
        "alpha",
        "gpt-4o-mini",
        "What is the tax rate on dividends in Spain",
    );
    assert!(matches!(
        lookup_or_insert(&c, "alpha", &unrelated, "19%"),
        Lookup::Miss(_)
    ));
    assert_eq!(c.metrics().semantic_hits, 1);
}

/// A negation shares every word of what it negates: similar enough to hit, yet
/// the stored answer is wrong for it. Each side gets its own answer, and each
/// side's paraphrases still get theirs.
#[test]
fn a_negated_question_gets_its_own_answer() {
    let c = cache(100, Duration::from_secs(60));
    let e = embedder();
    let pairs = [
        (
            "Delete the file report.txt",
            "Do not delete the file report.txt",
            "Please delete the file report.txt",
        ),
        (
            "Is it safe to take ibuprofen with alcohol?",
            "Is it safe to take ibuprofen without alcohol?",
            "is it safe to take ibuprofen with alcohol",
        ),
        (
            "Which EU countries use the euro?",
            "Which EU countries don't use the euro?",
            "Which EU countries do not use the euro?",
        ),
    ];
    for (said, negated, paraphrase) in pairs {
        let (said_keys, negated_keys) = (
            chat_keys("alpha", "gpt-4o-mini", said),
            chat_keys("alpha", "gpt-4o-mini", negated),
        );
        // close enough that similarity alone would serve one for the other
        let similarity = gatebench_embed::cosine(&e.embed(said), &e.embed(negated));
        assert!(similarity >= THRESHOLD, "{said} / {negated}: {similarity}");
        lookup_or_insert(&c, "alpha", &said_keys, said);
        let before = c.metrics().opposed;
        assert!(
            matches!(
                lookup_or_insert(&c, "alpha", &negated_keys, negated),
                Lookup::Miss(_)
            ),
            "{negated} served the answer to {said}"
        );
        assert_eq!(c.metrics().opposed, before + 1);
        for query in [said, negated] {
            let h = hit(lookup_or_insert(
                &c,
                "alpha",
                &chat_keys("alpha", "gpt-4o-mini", query),
                "unused",
            ));
            assert_eq!(h.value, query);
        }
        let h = hit(lookup_or_insert(
            &c,
            "alpha",
            &chat_keys("alpha", "gpt-4o-mini", paraphrase),
            "unused",
        ));
        assert_eq!(h.kind, HitKind::Semantic, "{paraphrase}");
        let meant = if paraphrase.contains("not") {
            negated
        } else {
            said
        };
        assert_eq!(h.value, meant, "{paraphrase}");
    }
}

/// Questions alike but for a number are close enough to hit, yet the stored
/// answer is wrong for the other: each gets its own answer.
#[test]
fn a_question_about_another_number_gets_its_own_answer() {
    let c = cache(100, Duration::from_secs(60));
    let e = embedder();
    let pairs = [
        (
            "What year did World War 1 start?",
            "What year did World War 2 start?",
        ),
        ("Convert 250 USD to EUR.", "Convert 100 USD to EUR."),
    ];
    for (said, other) in pairs {
        let similarity = gatebench_embed::cosine(&e.embed(said), &e.embed(other));
        assert!(similarity >= THRESHOLD, "{said} / {other}: {similarity}");
        lookup_or_insert(&c, "alpha", &chat_keys("alpha", "gpt-4o-mini", said), said);
        let before = c.metrics().other_figures;
        let other_keys = chat_keys("alpha", "gpt-4o-mini", other);
        assert!(
            matches!(
                lookup_or_insert(&c, "alpha", &other_keys, other),
                Lookup::Miss(_)
            ),
            "{other} served the answer to {said}"
        );
        assert_eq!(c.metrics().other_figures, before + 1);
    }
}

/// Hard negatives: the same subject asked for as an explanation, facts, a poem
/// and a story are four questions with four answers.
#[test]
fn different_asks_about_one_subject_get_their_own_answers() {
    let c = cache(100, Duration::from_secs(60));
    let asks = [
        (
            "Explain to a child how a robot becomes afraid of rain.",
            "explanation",
        ),
        (
            "List three facts about a robot who is afraid of rain.",
            "facts",
        ),
        (
            "Write a short poem about a robot who is afraid of rain.",
            "poem",
        ),
        (
            "Tell a bedtime story about a robot who is afraid of rain.",
            "story",
        ),
    ];
    for (query, answer) in asks {
        let keys = chat_keys("alpha", "gpt-4o-mini", query);
        let outcome = lookup_or_insert(&c, "alpha", &keys, answer);
        assert!(
            matches!(outcome, Lookup::Miss(_)),
            "{query:?} was served {outcome:?}"
        );
    }
    let paraphrases = [
        (
            "How would you explain to a kid how a robot could be frightened of rain?",
            "explanation",
        ),
        (
            "Give me three facts about a robot that is scared of the rain.",
            "facts",
        ),
        (
            "Can you write a little poem about a robot that is scared of the rain?",
            "poem",
        ),
        (
            "Could you tell me a bedtime story about a robot that is scared of the rain?",
            "story",
        ),
    ];
    for (query, answer) in paraphrases {
        let keys = chat_keys("alpha", "gpt-4o-mini", query);
        let h = hit(lookup_or_insert(&c, "alpha", &keys, "unused"));
        assert_eq!(h.value, answer, "{query:?}");
    }
    assert_eq!(c.metrics().semantic_hits, 4);
    assert_eq!(c.len(), 4);
}

#[test]
fn other_tenants_and_partitions_miss() {
    let c = cache(100, Duration::from_secs(60));
    let e = embedder();
    let alpha = chat_keys("alpha", "gpt-4o-mini", "Tell me a story about a dragon");
    lookup_or_insert(&c, "alpha", &alpha, "alpha's answer");

    let beta = chat_keys("beta", "gpt-4o-mini", "Tell me a story about a dragon");
    assert!(matches!(
        c.lookup("beta", &beta, |q| e.embed(q)),
        Lookup::Miss(_)
    ));
    // keys computed for alpha but presented by beta: the stored tenant refuses
    assert!(matches!(
        c.lookup("beta", &alpha, |q| e.embed(q)),
        Lookup::Miss(_)
    ));
    let other_model = chat_keys("alpha", "deepseek-chat", "Tell me a story about a dragon");
    assert!(matches!(
        c.lookup("alpha", &other_model, |q| e.embed(q)),
        Lookup::Miss(_)
    ));
}

#[test]
fn reinsert_replaces_and_keeps_one_vector() {
    let c = cache(100, Duration::from_secs(60));
    let e = embedder();
    let keys = chat_keys("alpha", "m", "hello there");
    let v = e.embed(&keys.query);
    c.insert("alpha", &keys, &v, "first".into())
        .expect("insert");
    c.insert("alpha", &keys, &v, "second".into())
        .expect("insert");
    c.run_pending_tasks();
    assert_eq!(c.partition_sizes(), vec![1]);
    let h = hit(c.lookup("alpha", &keys, |q| e.embed(q)));
    assert_eq!(h.value, "second");
    // the surviving vector is the new entry's: a semantic lookup finds it too
    let paraphrase = chat_keys("alpha", "m", "hello there please");
    assert_eq!(
        hit(c.lookup("alpha", &paraphrase, |q| e.embed(q))).value,
        "second"
    );
}

#[test]
fn bad_vectors_are_refused_without_leaving_a_partition() {
    let c = cache(100, Duration::from_secs(60));
    let keys = chat_keys("alpha", "m", "hello");
    assert!(c.insert("alpha", &keys, &[0.0; 8], "x".into()).is_err());
    assert!(
        c.insert("alpha", &keys, &[f32::NAN; 8], "x".into())
            .is_err()
    );
    assert_eq!(c.partition_count(), 0);
    c.insert("alpha", &keys, &[1.0; 8], "x".into())
        .expect("insert");
    // a vector of other dimensions than the partition's is refused, and matches nothing
    assert!(
        c.insert(
            "alpha",
            &chat_keys("alpha", "m", "bye"),
            &[1.0; 4],
            "y".into()
        )
        .is_err()
    );
    assert!(
        c.lookup_similar("alpha", &chat_keys("alpha", "m", "bye"), &[1.0; 4])
            .is_none()
    );
}

#[test]
fn expired_entries_leave_cache_and_index() {
    let c = cache(100, Duration::from_millis(30));
    let keys = chat_keys("alpha", "m", "Tell me a story about a dragon");
    lookup_or_insert(&c, "alpha", &keys, "answer");
    assert_eq!(c.partition_count(), 1);
    // poll, never assert on elapsed time: the entry must go eventually
    let mut expired = false;
    for _ in 0..1000 {
        if c.lookup_exact("alpha", &keys).is_none() {
            expired = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(expired);
    c.run_pending_tasks();
    assert_eq!(c.len(), 0);
    assert_eq!(c.partition_count(), 0, "an empty partition is dropped");
    assert_eq!(c.metrics().expired, 1);
    let e = embedder();
    assert!(matches!(
        c.lookup("alpha", &keys, |q| e.embed(q)),
        Lookup::Miss(_)
    ));
}

#[test]
fn capacity_eviction_removes_vectors() {
    let c = cache(20, Duration::from_secs(60));
    let e = embedder();
    let all: Vec<ChatKeys> = (0..120)
        .map(|i| chat_keys("alpha", "m", &format!("question {i} about topic {}", i * 7)))
        .collect();
    for keys in &all {
        c.insert("alpha", keys, &e.embed(&keys.query), keys.query.clone())
            .expect("insert");
    }
    let len = c.len();
    assert!(len <= 20, "{len}");
    assert_eq!(
        c.partition_sizes().iter().sum::<usize>() as u64,
        len,
        "index holds exactly the live entries"
    );
    assert_eq!(c.metrics().evicted, 120 - len);
    for keys in &all {
        if c.lookup_exact("alpha", keys).is_none() {
            // evicted: its own vector must not find it any more
            let similar = c.lookup_similar("alpha", keys, &e.embed(&keys.query));
            assert_ne!(similar.map(|h| h.key), Some(keys.exact));
        }
    }
}

#[test]
fn clear_and_invalidate() {
    let c = cache(100, Duration::from_secs(60));
    let e = embedder();
    let a = chat_keys("alpha", "m", "first question here");
    let b = chat_keys("beta", "m", "second question here");
    lookup_or_insert(&c, "alpha", &a, "a");
    lookup_or_insert(&c, "beta", &b, "b");
    assert_eq!(c.len(), 2);
    c.invalidate(&a.exact);
    assert!(matches!(
        c.lookup("alpha", &a, |q| e.embed(q)),
        Lookup::Miss(_)
    ));
    assert_eq!(c.partition_count(), 1);
    c.clear();
    assert!(c.is_empty());
    assert_eq!(c.partition_count(), 0);
    assert!(matches!(
        c.lookup("beta", &b, |q| e.embed(q)),
        Lookup::Miss(_)
    ));
}

#[test]
fn concurrent_lookups_and_inserts() {
    let c = std::sync::Arc::new(cache(10_000, Duration::from_secs(60)));
    std::thread::scope(|s| {
        for t in 0..4 {
            let c = &c;
            s.spawn(move || {
                let tenant = if t % 2 == 0 { "alpha" } else { "beta" };
                for i in 0..100 {
                    let keys =
                        chat_keys(tenant, "m", &format!("question {} of thread {t}", i % 30));
                    if let Lookup::Hit(h) = lookup_or_insert(c, tenant, &keys, tenant) {
                        assert_eq!(h.value, tenant);
                    }
                }
            });
        }
    });
    let m = c.metrics();
    assert_eq!(m.hits() + m.misses, 400);
}

const TENANTS: [&str; 3] = ["alpha", "beta", "gamma"];
const MODELS: [&str; 2] = ["gpt-4o-mini", "deepseek-chat"];
const QUERIES: [&str; 6] = [
    "tell me a story about a dragon",
    "tell me a story about a brave dragon",
    "what is the weather in paris",
    "how do I reset my password",
    "how can I reset my password please",
    "write a poem about the sea",
];

/// A value that says where it was stored.
#[derive(Clone, Debug, PartialEq)]
struct Origin {
    tenant: String,
    partition: PartitionKey,
}

fn prop_request(model: usize, temperature: Option<u8>, query: usize) -> Value {
    let mut r = request(MODELS[model], QUERIES[query]);
    if let Some(t) = temperature {
        r["temperature"] = json!(f32::from(t) / 10.0);
    }
    r
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Whatever was stored by whom, a lookup returns only an entry of the same
    /// tenant and partition; with the threshold at -1 it hits exactly when that
    /// tenant's partition holds something.
    #[test]
    fn never_serves_another_tenant_or_partition(
        ops in prop::collection::vec((0..3usize, 0..2usize, prop::option::of(0u8..3), 0..6usize, prop::bool::ANY), 1..40)
    ) {
        let e = embedder();
        let c: SemanticCache<Origin> = SemanticCache::new(CacheConfig { threshold: -1.0, ..CacheConfig::default() });
        let mut stored: BTreeMap<(String, PartitionKey), BTreeSet<ExactKey>> = BTreeMap::new();
        for (tenant, model, temperature, query, insert) in ops {
            let tenant = TENANTS[tenant];
            let keys = ChatKeys::from_request(tenant, &prop_request(model, temperature, query)).expect("cacheable");
            let slot = (tenant.to_owned(), keys.partition);
            match c.lookup(tenant, &keys, |q| e.embed(q)) {
                Lookup::Hit(h) => {
                    prop_assert_eq!(&h.value.tenant, tenant);
                    prop_assert_eq!(h.value.partition, keys.partition);
                    prop_assert!(stored.get(&slot).is_some_and(|keys| keys.contains(&h.key)));
                }
                Lookup::Miss(miss) => {
                    prop_assert!(!stored.contains_key(&slot));
                    if insert {
                        let origin = Origin { tenant: tenant.to_owned(), partition: keys.partition };
                        c.insert(tenant, &keys, &miss.vector, origin).expect("insert");
                        stored.entry(slot).or_default().insert(keys.exact);
                    }
                }
            }
        }
    }
}
