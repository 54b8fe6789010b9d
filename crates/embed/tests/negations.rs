//! A question and its negation keep their own answers at the calibrated threshold.
//!
//! `fixtures/prompts/negations.toml` asks each of its subjects plain and negated
//! ("…delete old backups…" and "…not delete old backups…"); each side is its own
//! intent, with paraphrases of that side. The two sides share nearly every word,
//! so similarity alone serves one side's answer to the other; the cache also
//! refuses an entry of the other [`Polarity`].
//!
//! With the embedder and the threshold the gateway uses by default:
//! - **the catalog is hard**: each prompt's nearest wording of the other side
//!   reaches the threshold for at least 90 % of prompts, so without the polarity
//!   check nearly every lookup would be a false hit;
//! - **false hits**: with the check, at most 5 % of lookups are served the other
//!   side (negation said in other words, "unhappy", "before it ships", is not seen);
//! - **recall**: each prompt is looked up among the other wordings of its own side;
//!   at least 90 % hit.
//!
//! Run with `--nocapture` for the lookups that went wrong.

mod common;

use common::{NEGATIONS, load_catalog};
use gatebench_embed::{CALIBRATED_THRESHOLD, Embedder, Polarity, cosine};

const MIN_SIMILAR_OTHER_SIDE: f64 = 0.90;
const MAX_FALSE_HIT_RATE: f64 = 0.05;
const MIN_RECALL: f64 = 0.90;

struct Wording {
    subject: String,
    intent: String,
    text: String,
    vector: Vec<f32>,
    polarity: Polarity,
}

/// The nearest wording `among` accepts, with its similarity to `query`.
fn nearest<'a>(
    query: &Wording,
    wordings: &'a [Wording],
    among: impl Fn(&Wording) -> bool,
) -> Option<(&'a Wording, f32)> {
    wordings
        .iter()
        .filter(|w| !std::ptr::eq(*w, query) && among(w))
        .map(|w| (w, cosine(&query.vector, &w.vector)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

#[test]
fn a_question_and_its_negation_do_not_share_answers() {
    let catalog = load_catalog(NEGATIONS);
    let embedder = Embedder::new("text-embedding-3-small", 1536);
    let mut wordings = Vec::new();
    for intent in &catalog.intent {
        let (subject, _) = intent
            .id
            .rsplit_once('-')
            .unwrap_or_else(|| panic!("intent id {} names no side", intent.id));
        for text in intent.prompts() {
            wordings.push(Wording {
                subject: subject.to_owned(),
                intent: intent.id.clone(),
                text: text.to_owned(),
                vector: embedder.embed(text),
                polarity: Polarity::of(text),
            });
        }
    }
    let sides: std::collections::BTreeSet<_> = wordings.iter().map(|w| &w.intent).collect();
    assert_eq!(
        sides.len(),
        2 * wordings
            .iter()
            .map(|w| &w.subject)
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        "each subject has two sides"
    );

    let (mut similar, mut false_hits, mut true_hits) = (0usize, 0usize, 0usize);
    for query in &wordings {
        let other_side = nearest(query, &wordings, |w| {
            w.subject == query.subject && w.intent != query.intent
        });
        if let Some((other, s)) = other_side
            && s >= CALIBRATED_THRESHOLD
        {
            similar += 1;
            if !query.polarity.opposes(other.polarity) {
                false_hits += 1;
                println!("false hit {s:.3}: {:?} served {:?}", query.text, other.text);
            }
        }
        let own = nearest(query, &wordings, |w| w.intent == query.intent);
        match own {
            Some((w, s)) if s >= CALIBRATED_THRESHOLD && !query.polarity.opposes(w.polarity) => {
                true_hits += 1;
            }
            Some((w, s)) => println!("missed {s:.3}: {:?} against {:?}", query.text, w.text),
            None => {}
        }
    }
    let n = wordings.len() as f64;
    let (similar_rate, false_rate, recall) = (
        similar as f64 / n,
        false_hits as f64 / n,
        true_hits as f64 / n,
    );
    println!(
        "{} lookups: the other side within the threshold for {similar} ({:.1} %); false hits with the polarity check {false_hits} ({:.1} %); own side found {true_hits} ({:.1} %)",
        wordings.len(),
        100.0 * similar_rate,
        100.0 * false_rate,
        100.0 * recall
    );
    assert!(
        similar_rate >= MIN_SIMILAR_OTHER_SIDE,
        "the negations are no longer hard for similarity: {similar_rate:.3}"
    );
    assert!(
        false_rate <= MAX_FALSE_HIT_RATE,
        "false-hit rate {false_rate:.3} over {MAX_FALSE_HIT_RATE}"
    );
    assert!(
        recall >= MIN_RECALL,
        "recall {recall:.3} under {MIN_RECALL}"
    );
}
