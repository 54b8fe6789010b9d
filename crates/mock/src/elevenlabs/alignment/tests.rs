//! Invariants of the timeline, for any text.

use proptest::prelude::*;
use rand::SeedableRng as _;

use super::*;
use crate::rng::MockRng;

fn timeline(text: &str, rate: f64, seed: u64) -> Timeline {
    Timeline::build(text, rate, &mut MockRng::seed_from_u64(seed))
}

fn check_contiguous(spans: &[Span], duration_ms: u64) {
    let mut at = 0;
    for s in spans {
        assert_eq!(s.start_ms, at, "{spans:?}");
        assert!(s.start_ms <= s.end_ms);
        at = s.end_ms;
    }
    if !spans.is_empty() {
        assert_eq!(at, duration_ms);
    }
    let total: u64 = spans.iter().map(|s| s.end_ms - s.start_ms).sum();
    assert_eq!(total, if spans.is_empty() { 0 } else { duration_ms });
}

proptest! {
    #[test]
    fn any_text_gets_a_contiguous_timeline_that_ends_at_the_duration(
        text in "\\PC{0,200}|[ \\t\\na-z.,!?0-9]{0,120}",
        rate in 5.0f64..30.0,
        seed in any::<u64>(),
    ) {
        let t = timeline(&text, rate, seed);
        prop_assert_eq!(t.original.len(), text.chars().count());
        let sent: String = t.original.iter().map(|s| s.ch).collect();
        prop_assert_eq!(sent, text.clone());
        check_contiguous(&t.original, t.duration_ms);
        check_contiguous(&t.normalized, t.duration_ms);
        let (chars, _) = normalize(&text);
        prop_assert_eq!(t.normalized.len(), chars.len());
        prop_assert_eq!(t.duration_ms == 0, chars.is_empty());
    }

    #[test]
    fn the_same_text_and_seed_give_the_same_timeline(text in "\\PC{0,80}", seed in any::<u64>()) {
        prop_assert_eq!(timeline(&text, 15.0, seed), timeline(&text, 15.0, seed));
    }
}

#[test]
fn whitespace_is_collapsed_and_trimmed() {
    let (chars, map) = normalize("  Hi,\n\n  there \t");
    assert_eq!(chars.iter().collect::<String>(), "Hi, there");
    assert_eq!(map[0], None);
    assert_eq!(map[2], Some(0));
    assert_eq!(map[5], Some(3), "the first space of a run stands for it");
    assert_eq!(map[6], None);
    assert_eq!(map[map.len() - 1], None);
}

#[test]
fn duration_follows_length_and_rate_and_pauses_at_punctuation() {
    let words = "one two three four five six seven eight nine ten ".repeat(4);
    let slow = timeline(&words, 10.0, 1).duration_ms as f64;
    let fast = timeline(&words, 20.0, 1).duration_ms as f64;
    assert!((slow / fast - 2.0).abs() < 0.1, "{slow} vs {fast}");
    let short = timeline(&words[..50], 10.0, 1).duration_ms as f64;
    assert!(slow > 3.0 * short);

    let t = timeline("a, b. c", 15.0, 3);
    let len = |i: usize| t.normalized[i].end_ms - t.normalized[i].start_ms;
    assert!(len(1) > 2 * len(0), "comma pause");
    assert!(len(4) > len(1), "full stop pause is longer");
}

#[test]
fn chunks_partition_characters_by_start_time() {
    let t = timeline("Hello there, general.", 15.0, 9);
    let cut = t.duration_ms as f64 / 2.0;
    let first = Timeline::starting_in(&t.original, 0.0, Some(cut));
    let second = Timeline::starting_in(&t.original, cut, None);
    assert_eq!(first.len() + second.len(), t.original.len());
    assert!(first.iter().all(|s| (s.start_ms as f64) < cut));
    let ws = to_ws(second, cut as u64);
    assert!(ws.char_start_times_ms.iter().all(|&ms| ms < t.duration_ms));
    let secs = to_seconds(&t.original);
    assert_eq!(secs.end_seconds(), t.duration_ms as f64 / 1000.0);
}
