//! Numbers, which similarity barely sees.
//!
//! "Convert 100 USD to EUR" and "Convert 250 USD to EUR", or "What year did World
//! War 1 start?" and "... World War 2 ...", differ in one token among many alike,
//! so their vectors are close (0.76 in cosine), yet one answer is wrong for the
//! other. A text's [`Figures`] are the numbers it names, each once: runs of
//! digits (`1,000` is `1000`, `2.5` stays `2.5`) and the number words `two` to
//! `nineteen`, the tens, `hundred`, `thousand` and `twice` (`3` and `three`
//! agree). Two texts that both name numbers, and not the same ones,
//! [differ](Figures::differ): they are different questions however close their
//! vectors are. A text that names none differs from no other, since a
//! paraphrase often drops a detail ("it came two days late", "it came late").
//!
//! `one` and the ordinals are left out: "which one", "at first" and "a second"
//! name no number.

/// The numbers a text names, each once, in order (as text, normalised).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Figures {
    numbers: Vec<String>,
}

/// Number words and the figures they name.
const WORDS: &[(&str, &str)] = &[
    ("two", "2"),
    ("three", "3"),
    ("four", "4"),
    ("five", "5"),
    ("six", "6"),
    ("seven", "7"),
    ("eight", "8"),
    ("nine", "9"),
    ("ten", "10"),
    ("eleven", "11"),
    ("twelve", "12"),
    ("thirteen", "13"),
    ("fourteen", "14"),
    ("fifteen", "15"),
    ("sixteen", "16"),
    ("seventeen", "17"),
    ("eighteen", "18"),
    ("nineteen", "19"),
    ("twenty", "20"),
    ("thirty", "30"),
    ("forty", "40"),
    ("fifty", "50"),
    ("sixty", "60"),
    ("seventy", "70"),
    ("eighty", "80"),
    ("ninety", "90"),
    ("hundred", "100"),
    ("thousand", "1000"),
    ("twice", "2"),
];

impl Figures {
    /// The figures of `text`.
    pub fn of(text: &str) -> Figures {
        let mut numbers = Vec::new();
        let mut word = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if c.is_ascii_digit() {
                // a number: digits, with `,` and `.` between digits
                let mut number = String::from(c);
                while let Some(&n) = chars.peek() {
                    if n.is_ascii_digit() {
                        number.push(n);
                        chars.next();
                    } else if n == ',' || n == '.' {
                        chars.next();
                        match chars.peek() {
                            Some(d) if d.is_ascii_digit() && n == '.' => number.push('.'),
                            Some(d) if d.is_ascii_digit() => {}
                            _ => break,
                        }
                    } else {
                        break;
                    }
                }
                number_word(&mut word, &mut numbers);
                numbers.push(normalised(&number));
            } else if c.is_alphabetic() {
                word.extend(c.to_lowercase());
            } else {
                number_word(&mut word, &mut numbers);
            }
        }
        number_word(&mut word, &mut numbers);
        numbers.sort_unstable();
        numbers.dedup();
        Figures { numbers }
    }

    /// Both texts name numbers, and not the same ones.
    pub fn differ(&self, other: &Figures) -> bool {
        !self.numbers.is_empty() && !other.numbers.is_empty() && self.numbers != other.numbers
    }
}

/// Adds the figure `word` names, if it names one, and clears it.
fn number_word(word: &mut String, numbers: &mut Vec<String>) {
    if let Some((_, figure)) = WORDS.iter().find(|(w, _)| *w == word.as_str()) {
        numbers.push((*figure).to_owned());
    }
    word.clear();
}

/// `007` is `7`, `2.50` is `2.5`.
fn normalised(number: &str) -> String {
    let number = match number.split_once('.') {
        Some((whole, fraction)) => {
            let fraction = fraction.trim_end_matches('0');
            if fraction.is_empty() {
                whole.to_owned()
            } else {
                format!("{whole}.{fraction}")
            }
        }
        None => number.to_owned(),
    };
    let trimmed = number.trim_start_matches('0');
    match trimmed {
        "" => "0".to_owned(),
        t if t.starts_with('.') => format!("0{t}"),
        t => t.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn differ(a: &str, b: &str) -> bool {
        Figures::of(a).differ(&Figures::of(b))
    }

    #[test]
    fn questions_about_other_numbers_differ() {
        assert!(differ(
            "What year did World War 1 start?",
            "What year did World War 2 start?"
        ));
        assert!(differ("Convert 250 USD to EUR.", "Convert 100 USD to EUR."));
        assert!(differ("What is 2+2?", "What is 3+5?"));
        assert!(differ("a 2.5% fee", "a 25% fee"));
        assert!(differ("the 15 categories", "the fourteen categories"));
    }

    #[test]
    fn one_number_written_differently_agrees() {
        assert!(!differ(
            "Convert 1,000 USD to EUR",
            "How much is 1000 dollars in euros?"
        ));
        assert!(!differ("What is two plus two?", "What's 2+2?"));
        assert!(!differ("You charged me two times", "I was charged twice"));
        assert!(!differ(
            "Scope 2 against Scope 2",
            "the two kinds of Scope 2"
        ));
        assert!(!differ("a fee of 2.50 dollars", "a $2.5 fee"));
        assert!(!differ("order 007", "order 7"));
        // a detail a paraphrase dropped, or words that name no number
        assert!(!differ("It arrived two days late", "It arrived late"));
        assert!(!differ("Which one is cheaper?", "Which is cheaper?"));
        assert!(!differ(
            "What are the first steps?",
            "What are the steps at first?"
        ));
        assert!(!differ("It costs 5.", "It costs 5. Why?"));
    }
}
