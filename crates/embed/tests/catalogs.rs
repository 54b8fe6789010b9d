//! Validates the shipped fixtures: prompt catalogs, TTS texts and child profiles.
//!
//! The driver and the mocks read these files; a duplicate id, a paraphrase group
//! too small to measure cache hits with, or a long-context document too short for
//! a provider's prompt cache would quietly weaken every measurement built on them.

mod common;

use std::collections::{BTreeMap, HashSet};

use common::{CATALOGS, Intent, NEGATIONS, estimated_tokens, fixtures, load_catalogs};
use gatebench_embed::Polarity;
use serde::Deserialize;

const MIN_PARAPHRASES: usize = 4;
const MIN_MAIN_INTENTS: usize = 200;
/// A provider's prompt cache applies from 1,024 tokens; keep a margin.
const MIN_DOCUMENT_TOKENS: usize = 1200;
/// The ways `hard-negatives.toml` asks about a subject: each intent id is
/// `{subject}-{ask}`.
const HARD_NEGATIVE_ASKS: &[&str] = &["explain", "facts", "poem", "story"];

fn is_kebab(id: &str) -> bool {
    !id.is_empty()
        && !id.starts_with('-')
        && !id.ends_with('-')
        && !id.contains("--")
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn key(prompt: &str) -> String {
    prompt
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

#[test]
fn prompt_catalogs_are_well_formed() {
    let catalogs = load_catalogs();
    let mut ids = HashSet::new();
    let mut prompts = HashSet::new();
    let mut main_intents = 0;
    let mut hard_negatives: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut negations: BTreeMap<&str, Vec<&Intent>> = BTreeMap::new();
    for (file, catalog) in CATALOGS.iter().zip(&catalogs) {
        assert_eq!(&catalog.domain, file, "domain of {file}.toml");
        assert!(
            !catalog.description.trim().is_empty(),
            "{file}.toml has no description"
        );
        assert!(!catalog.intent.is_empty(), "{file}.toml has no intents");
        for intent in &catalog.intent {
            let id = &intent.id;
            assert!(is_kebab(id), "{id} is not kebab-case");
            if *file == "hard-negatives" {
                let (subject, ask) = id.rsplit_once('-').unwrap_or(("", id));
                assert!(
                    HARD_NEGATIVE_ASKS.contains(&ask),
                    "{id} does not end in one of the asks {HARD_NEGATIVE_ASKS:?}"
                );
                hard_negatives.entry(subject).or_default().push(ask);
            } else if *file == NEGATIONS {
                assert!(
                    id.starts_with("negations-"),
                    "{id} does not start with negations-"
                );
                let (subject, _side) = id.rsplit_once('-').unwrap_or(("", id));
                negations.entry(subject).or_default().push(intent);
            } else {
                let prefix = if *file == "stories" {
                    "story-".to_owned()
                } else {
                    format!("{file}-")
                };
                assert!(id.starts_with(&prefix), "{id} does not start with {prefix}");
            }
            assert!(ids.insert(id.clone()), "duplicate intent id {id}");
            assert!(
                intent.paraphrases.len() >= MIN_PARAPHRASES,
                "{id} has {} paraphrases",
                intent.paraphrases.len()
            );
            for p in intent.prompts() {
                assert!(!p.trim().is_empty(), "{id} has an empty prompt");
                assert!(prompts.insert(key(p)), "duplicate prompt {p:?} (in {id})");
            }
            match (*file, &intent.system) {
                ("long-context", Some(doc)) => {
                    let tokens = estimated_tokens(doc);
                    assert!(
                        tokens >= MIN_DOCUMENT_TOKENS,
                        "{id}: document of ~{tokens} tokens"
                    );
                }
                ("long-context", None) => panic!("{id} has no system document"),
                (_, Some(_)) => panic!("{id}: only long-context intents carry a system prompt"),
                _ => {}
            }
        }
        if matches!(*file, "stories" | "esg" | "support") {
            main_intents += catalog.intent.len();
        }
        println!("{file}: {} intents", catalog.intent.len());
    }
    assert!(
        main_intents >= MIN_MAIN_INTENTS,
        "{main_intents} intents in stories, esg and support"
    );
    // a subject asked about one way only is no hard negative for anything
    for (subject, asks) in &hard_negatives {
        assert!(
            asks.len() >= 2,
            "hard negative {subject} is asked about only as {asks:?}"
        );
    }
    // a negation is a test of the cache's polarity check only when its canonical
    // wording is negated where the other side's is not
    for (subject, sides) in &negations {
        let [plain, negated] = sides.as_slice() else {
            panic!("negation {subject} has {} sides, not two", sides.len());
        };
        assert!(
            Polarity::of(&plain.canonical).opposes(Polarity::of(&negated.canonical)),
            "the sides of {subject} agree in negation"
        );
    }
    let documents: HashSet<&str> = catalogs
        .iter()
        .flat_map(|c| &c.intent)
        .filter_map(|i| i.system.as_deref())
        .collect();
    let long = catalogs
        .iter()
        .flat_map(|c| &c.intent)
        .filter(|i| i.system.is_some())
        .count();
    assert!(
        documents.len() < long,
        "no two long-context intents share a document"
    );
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Texts {
    text: Vec<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Text {
    id: String,
    text: String,
}

#[test]
fn tts_texts_are_well_formed() {
    let path = fixtures().join("tts/texts.toml");
    let raw = std::fs::read_to_string(&path).expect("reading tts/texts.toml");
    let texts: Texts = toml::from_str(&raw).expect("parsing tts/texts.toml");
    assert!(texts.text.len() >= 60, "{} texts", texts.text.len());
    let mut ids = HashSet::new();
    for t in &texts.text {
        assert!(is_kebab(&t.id), "{} is not kebab-case", t.id);
        assert!(ids.insert(&t.id), "duplicate text id {}", t.id);
        let chars = t.text.chars().count();
        assert!(
            (1..=1000).contains(&chars),
            "{} has {chars} characters",
            t.id
        );
    }
    let lengths: Vec<usize> = texts.text.iter().map(|t| t.text.chars().count()).collect();
    assert!(lengths.iter().any(|&n| n < 20), "no short text");
    assert!(
        lengths.iter().any(|&n| n >= 700),
        "no text near 800 characters"
    );
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Profiles {
    profile: Vec<Profile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Profile {
    age: u8,
    interests: Vec<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    story_theme: Option<String>,
}

#[test]
fn personality_profiles_are_well_formed() {
    let path = fixtures().join("personality/profiles.toml");
    let raw = std::fs::read_to_string(&path).expect("reading personality/profiles.toml");
    let profiles: Profiles = toml::from_str(&raw).expect("parsing personality/profiles.toml");
    assert!(
        profiles.profile.len() >= 40,
        "{} profiles",
        profiles.profile.len()
    );
    for p in &profiles.profile {
        assert!((3..=12).contains(&p.age), "age {} in {p:?}", p.age);
        assert!(!p.interests.is_empty(), "no interests in {p:?}");
        assert!(
            p.interests.iter().all(|i| !i.trim().is_empty()),
            "empty interest in {p:?}"
        );
        assert!(
            p.name.as_deref().is_none_or(|n| !n.trim().is_empty()),
            "empty name in {p:?}"
        );
        assert!(
            p.story_theme
                .as_deref()
                .is_none_or(|t| !t.trim().is_empty()),
            "empty theme in {p:?}"
        );
    }
    assert!(
        profiles.profile.iter().any(|p| p.name.is_none()),
        "every profile has a name"
    );
    assert!(
        profiles.profile.iter().any(|p| p.story_theme.is_none()),
        "every profile has a theme"
    );
}
