//! Negation, which similarity cannot see.
//!
//! "Delete the file report.txt" and "Do not delete the file report.txt" share
//! every meaningful word, so their vectors are close (0.91 in cosine), yet one
//! answer is wrong for the other. A text's [`Polarity`] is what it says with its
//! negations set aside (its normalised words without `not` and the `do` that
//! comes with it, `without` read as `with`) and how many negations it has; two
//! texts that say the same with an odd number of negations between them are
//! [opposites](Polarity::opposes). Two wordings that differ in more than the
//! negation ("refuses to eat" and "won't eat") are not judged: their words
//! differ, and similarity decides as before.

use xxhash_rust::xxh3::Xxh3;

use crate::features::normalised_words;

/// What a text says with its negations set aside, and whether they negate it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Polarity {
    /// Hash of the text's normalised words other than negations, in order.
    said: u64,
    /// An odd number of negations.
    negated: bool,
}

impl Polarity {
    /// The polarity of `text`.
    pub fn of(text: &str) -> Polarity {
        let mut hasher = Xxh3::new();
        let mut negations = 0u32;
        for word in normalised_words(text) {
            let said = match word.as_str() {
                // `never`, `no` and `n't` normalise to `not`
                "not" => {
                    negations += 1;
                    continue;
                }
                // do-support comes with the negation ("did not arrive")
                "do" => continue,
                "without" => {
                    negations += 1;
                    "with"
                }
                w => w,
            };
            hasher.update(said.as_bytes());
            hasher.update(&[0]);
        }
        Polarity {
            said: hasher.digest(),
            negated: negations % 2 == 1,
        }
    }

    /// `self` and `other` say the same thing, one of them negated.
    pub fn opposes(self, other: Polarity) -> bool {
        self.said == other.said && self.negated != other.negated
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opposed(a: &str, b: &str) -> bool {
        Polarity::of(a).opposes(Polarity::of(b))
    }

    #[test]
    fn a_negation_of_the_same_words_is_opposed() {
        assert!(opposed(
            "Delete the file report.txt",
            "Do not delete the file report.txt"
        ));
        assert!(opposed(
            "Don't delete the file report.txt",
            "delete the file report.txt"
        ));
        assert!(opposed(
            "Is it safe to take ibuprofen with alcohol?",
            "Is it safe to take ibuprofen without alcohol?"
        ));
        assert!(opposed(
            "Write a product description that mentions the price.",
            "Write a product description that does not mention the price."
        ));
        assert!(opposed(
            "Which EU countries never used the euro?",
            "Which EU countries used the euro?"
        ));
    }

    #[test]
    fn the_same_negation_worded_otherwise_is_not_opposed() {
        // one negation each, spelt differently
        assert!(!opposed(
            "a bear cub who doesn't want to hibernate",
            "a bear cub who does not want to hibernate"
        ));
        assert!(!opposed("I can't log in", "I cannot log in"));
        // two negations cancel out
        assert!(!opposed(
            "Leave with your keys",
            "Do not leave without your keys"
        ));
        assert!(opposed("Leave with your keys", "Leave without your keys"));
        assert!(!opposed("Delete the file", "Delete the file"));
    }

    #[test]
    fn wordings_that_differ_beyond_the_negation_are_left_to_similarity() {
        // a paraphrase with a negation on one side only: not this check's to judge
        assert!(!opposed(
            "a dinosaur who refuses to eat his vegetables",
            "a dinosaur who won't eat his vegetables"
        ));
        assert!(!opposed(
            "Where is my order? It hasn't arrived yet.",
            "I'm still waiting for my order, where is it?"
        ));
    }
}
