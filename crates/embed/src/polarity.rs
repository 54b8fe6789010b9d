//! Negation, which similarity cannot see.
//!
//! "Delete the file report.txt" and "Do not delete the file report.txt" share
//! every meaningful word, so their vectors are close (0.91 in cosine), yet one
//! answer is wrong for the other. A text's [`Polarity`] is whether it is negated:
//! whether it has an odd number of negations (`not`, `n't`, `never`, `no`,
//! `cannot`, `without`, `nothing`, ...; not the `not` of "or not?"). Two texts of
//! opposite polarity [oppose](Polarity::opposes) each other however close their
//! vectors are.
//!
//! Negation said in other words ("refuses to eat" against "won't eat", "unhappy"
//! against "not happy") is not seen: such paraphrases oppose each other, and a
//! question negated that way meets its plain form on similarity alone.

use crate::tokens::split_words;

/// Whether a text is negated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Polarity {
    negated: bool,
}

/// Words that negate, as the embedder splits them (`can't` is `can not`).
const NEGATIONS: &[&str] = &[
    "not", "no", "never", "cannot", "unable", "without", "nor", "neither", "nothing", "nobody",
    "none", "nowhere",
];

impl Polarity {
    /// The polarity of `text`.
    pub fn of(text: &str) -> Polarity {
        let mut words = Vec::new();
        split_words(text, &mut words);
        // "or not" closes a question ("on track or not?") without negating it
        let negations = words
            .iter()
            .enumerate()
            .filter(|&(i, w)| {
                NEGATIONS.contains(&w.as_str()) && !(w == "not" && i > 0 && words[i - 1] == "or")
            })
            .count();
        Polarity {
            negated: negations % 2 == 1,
        }
    }

    /// One of `self` and `other` is negated and the other is not.
    pub fn opposes(self, other: Polarity) -> bool {
        self.negated != other.negated
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opposed(a: &str, b: &str) -> bool {
        Polarity::of(a).opposes(Polarity::of(b))
    }

    #[test]
    fn a_question_and_its_negation_are_opposed() {
        assert!(opposed(
            "Delete the file report.txt",
            "Do not delete the file report.txt"
        ));
        assert!(opposed(
            "Don't delete the file report.txt",
            "delete the file report.txt"
        ));
        assert!(opposed(
            "Is it safe to take ibuprofen with food?",
            "Is it safe to take ibuprofen without food?"
        ));
        assert!(opposed(
            "How do I cancel my order if it has already shipped?",
            "How do I cancel my order if it has not shipped yet?"
        ));
        assert!(opposed(
            "Which EU countries never used the euro?",
            "Which EU countries used the euro?"
        ));
    }

    #[test]
    fn negations_spelt_differently_agree() {
        assert!(!opposed(
            "a bear cub who doesn't want to hibernate",
            "a bear cub who does not want to hibernate"
        ));
        assert!(!opposed(
            "a lion cub who cannot roar",
            "a lion cub who can't roar"
        ));
        assert!(!opposed(
            "a dragon who is unable to breathe fire",
            "a dragon that can't breathe fire"
        ));
        assert!(!opposed(
            "a song that the other whales cannot hear",
            "a song no other whales can hear"
        ));
        assert!(!opposed(
            "Is Northwind on track for its 2030 target?",
            "Northwind 2030 target: on track or not?"
        ));
        // two negations cancel out
        assert!(!opposed(
            "Leave with your keys",
            "Do not leave without your keys"
        ));
    }

    #[test]
    fn negation_in_other_words_is_not_seen() {
        assert!(!opposed(
            "Why do cats purr when they are happy?",
            "Why do cats purr when they are unhappy?"
        ));
        assert!(opposed(
            "a dinosaur who refuses to eat his vegetables",
            "a dinosaur who won't eat his vegetables"
        ));
    }
}
