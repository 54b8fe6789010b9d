//! Realistic data for the index benchmarks: many distinct sentences built from
//! word lists (so stored entries have many near neighbours, as a busy cache does),
//! paraphrase-like perturbations of stored sentences, and unrelated sentences.

#![allow(dead_code)]

const ASKS: &[&str] = &[
    "tell me a story about",
    "write a short poem about",
    "can you describe",
    "explain to me why",
    "what happens when",
    "i would like to hear about",
    "give me three facts about",
    "summarise the news about",
];
const SUBJECTS: &[&str] = &[
    "a dragon",
    "a robot",
    "the teacher",
    "a fox",
    "the pirate",
    "an astronaut",
    "the baker",
    "a penguin",
    "the wizard",
    "a knight",
    "the farmer",
    "a whale",
    "the doctor",
    "a squirrel",
    "the painter",
    "an owl",
    "the sailor",
    "a tiger",
    "the mayor",
    "a rabbit",
    "the engineer",
    "a parrot",
    "the queen",
    "a turtle",
    "the firefighter",
];
const VERBS: &[&str] = &[
    "finds",
    "builds",
    "loses",
    "paints",
    "chases",
    "repairs",
    "discovers",
    "sells",
    "hides",
    "climbs",
    "guards",
    "bakes",
    "steals",
    "plants",
    "carries",
    "opens",
    "follows",
    "fixes",
    "draws",
    "catches",
];
const OBJECTS: &[&str] = &[
    "a golden key",
    "an old map",
    "a broken clock",
    "a secret door",
    "a tiny boat",
    "a red balloon",
    "a magic lamp",
    "a silver coin",
    "a wooden bridge",
    "a giant cake",
    "a lost letter",
    "a glass tower",
    "a paper kite",
    "a hidden garden",
    "a rusty bicycle",
    "a blue crystal",
    "a strange egg",
    "a music box",
    "a flying carpet",
    "a stone statue",
    "a dusty book",
    "a lantern",
    "a treasure chest",
    "a snow globe",
    "a violin",
];
const PLACES: &[&str] = &[
    "in the forest",
    "on the moon",
    "under the sea",
    "in a busy city",
    "on a mountain",
    "in the desert",
    "at the harbour",
    "in a castle",
    "on a farm",
    "in the jungle",
];

/// Words absent from the lists above, for perturbations that change or add a word.
const EXTRA: &[&str] = &[
    "yesterday",
    "secretly",
    "bravely",
    "suddenly",
    "slowly",
    "happily",
    "tonight",
    "again",
    "wizardly",
    "enormous",
    "ancient",
    "shiny",
    "noisy",
    "gentle",
    "clever",
    "sleepy",
];

const UNRELATED_HEADS: &[&str] = &[
    "how much tax do i owe on",
    "what is the exchange rate for",
    "how do i reset the password of",
    "which insurance covers",
    "what are the side effects of",
    "how do i cancel",
    "what is the warranty period for",
    "how should i invest in",
];
const UNRELATED_TOPICS: &[&str] = &[
    "dividends",
    "government bonds",
    "my laptop",
    "a rental car",
    "ibuprofen",
    "my mortgage",
    "a gym membership",
    "index funds",
    "a dishwasher",
    "travel delays",
    "cryptocurrency",
    "dental work",
    "my router",
    "solar panels",
    "a pension plan",
    "parking fines",
];
const UNRELATED_TAILS: &[&str] = &[
    "in germany",
    "this year",
    "as a student",
    "after retirement",
    "for a small business",
    "under the new rules",
    "in two thousand twenty five",
    "with a low income",
];

/// Number of distinct sentences the lists can form.
pub fn capacity() -> usize {
    ASKS.len() * SUBJECTS.len() * VERBS.len() * OBJECTS.len() * PLACES.len()
}

/// `n` distinct sentences (n at most [`capacity`]), spread over the whole
/// combination space rather than enumerated in order.
pub fn sentences(n: usize) -> Vec<String> {
    let total = capacity();
    assert!(n <= total, "the word lists form only {total} sentences");
    // a stride coprime with the total (2^6 * 5^6) visits every combination once
    let stride = 618_037;
    (0..n)
        .map(|i| sentence((i * stride + 12_345) % total))
        .collect()
}

fn sentence(mut code: usize) -> String {
    let mut pick = |list: &[&'static str]| {
        let word = list[code % list.len()];
        code /= list.len();
        word
    };
    let ask = pick(ASKS);
    let subject = pick(SUBJECTS);
    let verb = pick(VERBS);
    let object = pick(OBJECTS);
    let place = pick(PLACES);
    format!("{ask} {subject} that {verb} {object} {place}")
}

/// A paraphrase-like variant of `sentence`: one or two words added, changed or
/// removed, chosen by `seed`. Two edits put the true nearest entry close to the
/// threshold with many stored neighbours nearly as close: the hard case for an
/// approximate index.
pub fn perturb(sentence: &str, seed: u64) -> String {
    let mut words: Vec<&str> = sentence.split(' ').collect();
    let edits = 1 + (seed >> 62) as usize % 2;
    for edit in 0..edits {
        let r = splitmix(seed ^ edit as u64);
        let at = (r >> 8) as usize % words.len();
        let extra = EXTRA[(r >> 32) as usize % EXTRA.len()];
        match r % 4 {
            0 => words.insert(at, extra),
            1 => words[at] = extra,
            2 if words.len() > 3 => {
                words.remove(at);
            }
            _ => words.push(extra),
        }
    }
    words.join(" ")
}

/// `n` sentences about other things than the stored ones (n at most 1024).
pub fn unrelated(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let r = splitmix(i as u64 + 99);
            let head = UNRELATED_HEADS[r as usize % UNRELATED_HEADS.len()];
            let topic = UNRELATED_TOPICS[(r >> 16) as usize % UNRELATED_TOPICS.len()];
            let tail = UNRELATED_TAILS[(r >> 32) as usize % UNRELATED_TAILS.len()];
            format!("{head} {topic} {tail}")
        })
        .collect()
}

/// A deterministic pseudo-random number from `x`.
pub fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
