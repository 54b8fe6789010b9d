//! Splitting text into lowercase words and reducing each word to a crude stem.
//!
//! The stemmer is deliberately small: it only has to map the forms a paraphrase
//! tends to swap (plural and singular, `-ing`, `-ed`, a final `e`, doubled final
//! consonants) onto one key. It need not produce real words, only the same key
//! for every form, so every rule is applied to every word the same way.

/// Splits `text` into lowercase words, expanding negative contractions
/// (`can't` → `can not`) and dropping other clitics (`'s`, `'re`, `'ll`...).
///
/// Letters and digits make words; everything else, hyphens included, separates
/// them, so `next-day` is two words, as the same phrase typed with a space is.
pub fn split_words(text: &str, out: &mut Vec<String>) {
    let mut word = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_alphanumeric() {
            word.extend(c.to_lowercase());
        } else if (c == '\'' || c == '\u{2019}')
            && !word.is_empty()
            && chars.peek().is_some_and(|n| n.is_alphabetic())
        {
            word.push('\'');
        } else {
            flush(&mut word, out);
        }
    }
    flush(&mut word, out);
}

fn flush(word: &mut String, out: &mut Vec<String>) {
    if word.is_empty() {
        return;
    }
    let w = std::mem::take(word);
    if let Some(base) = w.strip_suffix("n't") {
        let base = match base {
            "ca" => "can",
            "wo" => "will",
            "sha" => "shall",
            other => other,
        };
        if !base.is_empty() {
            out.push(base.to_owned());
        }
        out.push("not".to_owned());
        return;
    }
    match w.split_once('\'') {
        Some((head, _clitic)) if !head.is_empty() => out.push(head.to_owned()),
        Some(_) => {}
        None => out.push(w),
    }
}

/// The stem of a lowercase word: the key under which its inflected forms meet.
pub fn stem(word: &str) -> String {
    let mut s = word.to_owned();
    if s.chars().count() <= 3 || !s.is_ascii() {
        return s;
    }
    strip_plural(&mut s);
    strip_verb_ending(&mut s);
    if s.len() > 3 && s.ends_with('e') {
        s.pop();
    }
    undouble(&mut s);
    s
}

fn strip_plural(s: &mut String) {
    if s.len() > 4 && s.ends_with("ies") {
        s.truncate(s.len() - 3);
        s.push('y');
    } else if ["sses", "ches", "shes", "xes", "zes"]
        .iter()
        .any(|e| s.ends_with(e))
    {
        s.truncate(s.len() - 2);
    } else if s.ends_with('s') && !["ss", "us", "is"].iter().any(|e| s.ends_with(e)) {
        s.pop();
    }
}

fn strip_verb_ending(s: &mut String) {
    if s.len() >= 6 && s.ends_with("ing") {
        s.truncate(s.len() - 3);
    } else if s.len() > 4 && s.ends_with("ied") {
        s.truncate(s.len() - 3);
        s.push('y');
    } else if s.len() >= 5 && s.ends_with("ed") && !s.ends_with("eed") {
        s.truncate(s.len() - 2);
    }
}

/// `stopp` → `stop`, `cancell` → `cancel`; applied to every word, so that `fall`
/// and `falling` still meet (both become `fal`).
fn undouble(s: &mut String) {
    let b = s.as_bytes();
    let n = b.len();
    if n >= 4
        && b[n - 1] == b[n - 2]
        && !b"aeiou".contains(&b[n - 1])
        && b[n - 1].is_ascii_alphabetic()
    {
        s.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        split_words(text, &mut out);
        out
    }

    #[test]
    fn splits_and_expands_contractions() {
        assert_eq!(words("I can't find it!"), ["i", "can", "not", "find", "it"]);
        assert_eq!(
            words("The dragon's won't-stop"),
            ["the", "dragon", "will", "not", "stop"]
        );
        assert_eq!(words("next-day  Scope 3"), ["next", "day", "scope", "3"]);
        assert_eq!(words("it\u{2019}s fine"), ["it", "fine"]);
        assert!(words("  ...  ").is_empty());
    }

    #[test]
    fn inflected_forms_share_a_stem() {
        let groups: &[&[&str]] = &[
            &["story", "stories"],
            &["learn", "learns", "learning", "learned"],
            &["make", "makes", "making"],
            &["cancel", "cancelled", "cancelling", "canceled", "cancels"],
            &["stop", "stopped", "stopping", "stops"],
            &["fall", "falling", "falls"],
            &["box", "boxes"],
            &["wish", "wishes", "wishing", "wished"],
            &["emission", "emissions"],
            &["hibernate", "hibernating", "hibernates"],
            &["carry", "carried", "carries"],
            &["crash", "crashes", "crashing", "crashed"],
        ];
        for group in groups {
            let first = stem(group[0]);
            for w in group.iter() {
                assert_eq!(stem(w), first, "{w} vs {}", group[0]);
            }
        }
    }

    #[test]
    fn short_and_non_ascii_words_are_kept() {
        assert_eq!(stem("bus"), "bus");
        assert_eq!(stem("über"), "über");
        assert_eq!(stem("ness"), stem("nesses"));
    }
}
