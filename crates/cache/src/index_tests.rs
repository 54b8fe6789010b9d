//! Tests of the vector index.

use gatebench_embed::Embedder;
use proptest::prelude::*;

use super::*;

fn embedder() -> Embedder {
    Embedder::new("text-embedding-3-small", 1536)
}

/// An index that always takes the approximate path, to test it on small sets.
fn approximate(dims: usize) -> VectorIndex {
    VectorIndex::with_config(
        dims,
        IndexConfig {
            exact_below: 0,
            ..IndexConfig::default()
        },
    )
}

fn axis(dims: usize, i: usize) -> Vec<f32> {
    let mut v = vec![0.0; dims];
    v[i] = 1.0;
    v
}

#[test]
fn insert_search_remove() {
    let e = embedder();
    let mut index = VectorIndex::new(1536);
    assert!(index.is_empty());
    assert_eq!(index.search(&e.embed("anything"), -1.0), None);

    index
        .insert(1, &e.embed("how do I reset my password"))
        .unwrap();
    index
        .insert(2, &e.embed("what is the capital of france"))
        .unwrap();
    index
        .insert(3, &e.embed("write a poem about the sea"))
        .unwrap();
    assert_eq!(index.len(), 3);

    let (id, similarity) = index
        .search(&e.embed("what is the capital of france"), 0.9)
        .unwrap();
    assert_eq!(id, 2);
    assert!((similarity - 1.0).abs() < 1e-5);

    assert!(index.remove(2));
    assert!(!index.remove(2));
    assert!(!index.contains(2));
    assert_eq!(index.len(), 2);
    assert_eq!(
        index.search(&e.embed("what is the capital of france"), 0.9),
        None
    );
    // the entry moved into the freed slot is still found
    assert_eq!(
        index
            .search(&e.embed("write a poem about the sea"), 0.9)
            .map(|h| h.0),
        Some(3)
    );
    assert_eq!(
        index
            .search(&e.embed("how do I reset my password"), 0.9)
            .map(|h| h.0),
        Some(1)
    );
}

#[test]
fn reinserting_an_id_replaces_its_vector() {
    let mut index = VectorIndex::new(4);
    index.insert(7, &axis(4, 0)).unwrap();
    index.insert(7, &axis(4, 1)).unwrap();
    assert_eq!(index.len(), 1);
    assert_eq!(index.search(&axis(4, 0), 0.5), None);
    assert_eq!(index.search(&axis(4, 1), 0.5), Some((7, 1.0)));
}

#[test]
fn vectors_are_normalised() {
    let mut index = VectorIndex::new(3);
    index.insert(1, &[3.0, 0.0, 4.0]).unwrap();
    let (_, similarity) = index.search(&[0.0, 0.0, 10.0], 0.0).unwrap();
    assert!((similarity - 0.8).abs() < 1e-6);
}

#[test]
fn bad_vectors_are_refused_and_match_nothing() {
    let mut index = VectorIndex::new(3);
    assert_eq!(
        index.insert(1, &[1.0, 0.0]),
        Err(IndexError::Dimensions {
            expected: 3,
            got: 2
        })
    );
    assert_eq!(index.insert(1, &[0.0; 3]), Err(IndexError::NotUnitizable));
    assert_eq!(
        index.insert(1, &[f32::NAN, 0.0, 1.0]),
        Err(IndexError::NotUnitizable)
    );
    assert_eq!(
        index.insert(1, &[f32::INFINITY, 0.0, 1.0]),
        Err(IndexError::NotUnitizable)
    );
    assert!(index.is_empty());
    index.insert(1, &[1.0, 0.0, 0.0]).unwrap();
    assert_eq!(index.search(&[1.0, 0.0], -1.0), None);
    assert_eq!(index.search(&[0.0; 3], -1.0), None);
}

#[test]
fn threshold_is_inclusive_and_ties_go_to_the_lower_id() {
    let mut index = VectorIndex::new(2);
    index.insert(9, &[1.0, 0.0]).unwrap();
    index.insert(4, &[1.0, 0.0]).unwrap();
    assert_eq!(index.search(&[1.0, 0.0], 1.0), Some((4, 1.0)));
    assert_eq!(index.exact_search(&[1.0, 0.0], 1.0), Some((4, 1.0)));
}

#[test]
fn approximate_equals_exact_on_sentences() {
    let e = embedder();
    let mut index = approximate(1536);
    let topics = [
        "password", "invoice", "dragon", "weather", "recipe", "train", "guitar", "tax",
    ];
    let asks = [
        "how do I fix my",
        "tell me about the",
        "what is a good",
        "explain the",
    ];
    let mut id = 0;
    for topic in topics {
        for ask in asks {
            index
                .insert(id, &e.embed(&format!("{ask} {topic} today")))
                .unwrap();
            id += 1;
        }
    }
    for topic in topics {
        for ask in asks {
            for query in [
                format!("{ask} {topic} today please"),
                format!("{ask} {topic}"),
                format!("unrelated {topic}"),
            ] {
                let q = e.embed(&query);
                for threshold in [0.5, 0.8, 0.9] {
                    assert_eq!(
                        index.search(&q, threshold),
                        index.exact_search(&q, threshold),
                        "{query} @ {threshold}"
                    );
                }
            }
        }
    }
}

#[test]
fn removed_entries_never_come_back() {
    let e = embedder();
    let mut index = approximate(1536);
    let texts: Vec<String> = (0..40)
        .map(|i| format!("question number {i} about topic {}", i % 7))
        .collect();
    for (i, t) in texts.iter().enumerate() {
        index.insert(i as EntryId, &e.embed(t)).unwrap();
    }
    for i in (0..40).step_by(3) {
        assert!(index.remove(i as EntryId));
    }
    for (i, t) in texts.iter().enumerate() {
        let hit = index.search(&e.embed(t), -1.0).map(|h| h.0);
        assert!(hit.is_some());
        if i % 3 == 0 {
            assert_ne!(hit, Some(i as EntryId));
        } else {
            assert_eq!(hit, Some(i as EntryId));
        }
    }
    assert_eq!(index.len(), 40 - 14);
}

proptest! {
    /// After any sequence of inserts and removals, the index holds exactly the live
    /// ids, and on a small set its answer equals exhaustive search.
    #[test]
    fn index_tracks_live_entries(ops in prop::collection::vec((0u64..20, prop::bool::ANY, 0usize..8), 1..80)) {
        let dims = 8;
        let mut index = approximate(dims);
        let mut live = std::collections::BTreeMap::new();
        for (id, insert, axis_i) in ops {
            if insert {
                let mut v = axis(dims, axis_i);
                v[(axis_i + 1) % dims] = 0.1 * (id as f32 + 1.0);
                index.insert(id, &v).unwrap();
                live.insert(id, v);
            } else {
                prop_assert_eq!(index.remove(id), live.remove(&id).is_some());
            }
        }
        prop_assert_eq!(index.len(), live.len());
        for (id, v) in &live {
            prop_assert!(index.contains(*id));
            let hit = index.search(v, 0.999);
            prop_assert!(hit.is_some());
            prop_assert_eq!(hit, index.exact_search(v, 0.999));
        }
    }
}
