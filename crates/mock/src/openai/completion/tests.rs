use proptest::prelude::*;
use rand::SeedableRng as _;
use serde_json::json;

use super::*;

fn spec(cap: Option<u32>) -> Spec<'static> {
    Spec {
        encoding: Encoding::O200kBase,
        length: TokenCount {
            median: 200,
            p99: 900,
        },
        cap,
        floor: None,
        stop: &[],
        format: Format::Text,
        prompt: "Tell me a bedtime story about a dragon",
    }
}

fn write_seeded(spec: &Spec<'_>, seed: u64) -> Written {
    write(spec, &mut MockRng::seed_from_u64(seed))
}

#[test]
fn the_count_is_the_count_of_the_returned_text() {
    for seed in 0..20 {
        for encoding in [Encoding::O200kBase, Encoding::Cl100kBase] {
            let spec = Spec {
                encoding,
                ..spec(None)
            };
            let written = write_seeded(&spec, seed);
            assert_eq!(written.tokens as usize, encoding.count(&written.text));
            assert_eq!(written.finish, FinishReason::Stop);
            assert!(!written.text.is_empty());
        }
    }
}

#[test]
fn the_same_seed_writes_the_same_text_and_another_seed_another() {
    let a = write_seeded(&spec(None), 42);
    let b = write_seeded(&spec(None), 42);
    let c = write_seeded(&spec(None), 43);
    assert_eq!(a, b);
    assert_ne!(a.text, c.text);
}

#[test]
fn a_story_prompt_gets_story_prose() {
    let written = write_seeded(&spec(None), 3);
    let story_words = ["once", "little", "friend", "forest", "said", "day", "night"];
    let lower = written.text.to_lowercase();
    assert!(
        story_words.iter().any(|w| lower.contains(w)),
        "{}",
        written.text
    );
    assert!(written.text.ends_with('.') || written.text.ends_with('?'));
}

#[test]
fn the_cap_truncates_to_exactly_the_cap_and_says_length() {
    let full = write_seeded(&spec(None), 5);
    assert!(full.tokens > 10);
    let capped = write_seeded(&spec(Some(10)), 5);
    assert_eq!(capped.finish, FinishReason::Length);
    assert_eq!(capped.tokens, 10);
    assert_eq!(Encoding::O200kBase.count(&capped.text), 10);
    assert!(
        full.text.starts_with(&capped.text),
        "a capped answer is a prefix"
    );
    // A cap above the natural length changes nothing.
    let roomy = write_seeded(&spec(Some(full.tokens + 50)), 5);
    assert_eq!(roomy, full);
}

#[test]
fn a_stop_sequence_ends_the_text_before_it() {
    let full = write_seeded(&spec(None), 8);
    let stop = [". "];
    let spec = Spec {
        stop: &stop,
        ..spec(None)
    };
    let stopped = write_seeded(&spec, 8);
    assert_eq!(stopped.finish, FinishReason::Stop);
    assert!(!stopped.text.contains(". "));
    assert!(full.text.starts_with(&stopped.text));
    assert!(stopped.tokens < full.tokens);
}

#[test]
fn json_mode_writes_a_json_object() {
    let spec = Spec {
        format: Format::JsonObject,
        ..spec(None)
    };
    let written = write_seeded(&spec, 1);
    let value: Value = serde_json::from_str(&written.text).unwrap();
    assert!(value["answer"].as_str().is_some_and(|a| a.len() > 20));
    assert_eq!(value["topic"], "stories");
}

#[test]
fn a_json_schema_is_followed() {
    let schema = json!({
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "age": {"type": "integer"},
            "mood": {"type": "string", "enum": ["happy", "sleepy"]},
            "tags": {"type": "array", "items": {"type": "string"}},
            "done": {"type": "boolean"},
            "nested": {"type": "object", "properties": {"score": {"type": "number"}}}
        }
    });
    let spec = Spec {
        format: Format::JsonSchema(Some(&schema)),
        ..spec(None)
    };
    let value: Value = serde_json::from_str(&write_seeded(&spec, 2).text).unwrap();
    assert!(value["title"].is_string());
    assert!(value["age"].is_u64());
    assert!(["happy", "sleepy"].contains(&value["mood"].as_str().unwrap()));
    assert!(value["tags"].as_array().is_some_and(|t| !t.is_empty()));
    assert!(value["done"].is_boolean());
    assert!(value["nested"]["score"].is_number());
}

/// Schemas as SDKs send them for structured outputs (pydantic's and zod's: bounds,
/// `$defs` references, optional fields as `anyOf` with `null`, formats, a
/// recursive model): every answer validates against its schema, formats
/// included.
#[test]
fn answers_follow_the_bounds_references_and_formats_of_a_schema() {
    let schemas = [
        json!({
            "type": "object",
            "properties": {
                "stars": {"type": "integer", "minimum": 1, "maximum": 5},
                "label": {"type": "string", "enum": ["good", "bad"]},
                "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
                "score": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
                "price": {"type": "number", "minimum": 10, "multipleOf": 0.5},
                "even": {"type": "integer", "minimum": -9, "maximum": 9, "multipleOf": 2},
                "below": {"type": "integer", "exclusiveMaximum": -3},
                "code": {"type": "string", "minLength": 3, "maxLength": 5},
                "kind": {"const": "review"},
                "many": {"type": "array", "items": {"type": "integer"}, "minItems": 4, "maxItems": 6}
            },
            "required": ["stars", "label", "tags", "score", "price", "even", "below", "code", "kind", "many"],
            "additionalProperties": false
        }),
        json!({
            "$defs": {
                "Address": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}, "zip": {"anyOf": [{"type": "string", "maxLength": 5}, {"type": "null"}]}},
                    "required": ["city", "zip"],
                    "additionalProperties": false
                }
            },
            "type": "object",
            "properties": {
                "home": {"$ref": "#/$defs/Address"},
                "others": {"type": "array", "items": {"$ref": "#/$defs/Address"}},
                "born": {"type": "string", "format": "date"},
                "seen": {"type": "string", "format": "date-time"},
                "at": {"type": "string", "format": "time"},
                "mail": {"type": "string", "format": "email"},
                "id": {"type": "string", "format": "uuid"},
                "host": {"type": "string", "format": "hostname"},
                "v4": {"type": "string", "format": "ipv4"},
                "v6": {"type": "string", "format": "ipv6"},
                "wait": {"type": "string", "format": "duration"},
                "link": {"type": "string", "format": "uri"},
                "age": {"anyOf": [{"type": "integer", "minimum": 0, "maximum": 120}, {"type": "null"}]},
                "work": {"allOf": [{"$ref": "#/$defs/Address"}]}
            },
            "required": ["home", "others", "born", "seen", "at", "mail", "id", "host", "v4", "v6", "wait", "link", "age", "work"],
            "additionalProperties": false
        }),
        // a tree: only `null` children end it
        json!({
            "$defs": {
                "Node": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "left": {"anyOf": [{"$ref": "#/$defs/Node"}, {"type": "null"}]},
                        "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}
                    },
                    "required": ["name", "left", "children"],
                    "additionalProperties": false
                }
            },
            "$ref": "#/$defs/Node"
        }),
    ];
    for schema in &schemas {
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(schema)
            .unwrap();
        let spec = Spec {
            format: Format::JsonSchema(Some(schema)),
            ..spec(None)
        };
        for seed in 0..200 {
            let value: Value = serde_json::from_str(&write_seeded(&spec, seed).text).unwrap();
            let errors: Vec<String> = validator
                .iter_errors(&value)
                .map(|e| e.to_string())
                .collect();
            assert!(errors.is_empty(), "seed {seed}: {errors:?} in {value:#}");
        }
    }
}

/// A schema that asks for more than any answer holds (a billion items, a
/// billion characters, an object that refers to itself ten times over) gets an
/// answer of bounded size.
#[test]
fn a_schema_asking_for_too_much_gets_a_bounded_answer() {
    let schema = json!({
        "$defs": {"Node": {"type": "object", "properties": {
            "a": {"$ref": "#/$defs/Node"}, "b": {"$ref": "#/$defs/Node"}, "c": {"$ref": "#/$defs/Node"},
            "d": {"$ref": "#/$defs/Node"}, "e": {"$ref": "#/$defs/Node"}, "f": {"$ref": "#/$defs/Node"},
            "g": {"$ref": "#/$defs/Node"}, "h": {"$ref": "#/$defs/Node"}, "i": {"$ref": "#/$defs/Node"},
            "j": {"$ref": "#/$defs/Node"}
        }}},
        "type": "object",
        "properties": {
            "many": {"type": "array", "minItems": 1_000_000_000u64, "items": {"type": "integer"}},
            "long": {"type": "string", "minLength": 1_000_000_000u64},
            "tree": {"$ref": "#/$defs/Node"}
        }
    });
    let spec = Spec {
        format: Format::JsonSchema(Some(&schema)),
        ..spec(None)
    };
    let text = write_seeded(&spec, 3).text;
    assert!(text.len() < 1 << 20, "{} bytes", text.len());
    let value: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["many"].as_array().unwrap().len(), 64);
    assert!(value["long"].as_str().unwrap().chars().count() >= 16_384);
    // a choice that refers back to itself ends too
    let circular = json!({"anyOf": [{"$ref": "#"}]});
    let circular = Spec {
        format: Format::JsonSchema(Some(&circular)),
        ..spec
    };
    assert!(serde_json::from_str::<Value>(&write_seeded(&circular, 3).text).is_ok());
}

#[test]
fn lengths_follow_the_distribution() {
    let mut rng = MockRng::seed_from_u64(11);
    let length = TokenCount {
        median: 200,
        p99: 900,
    };
    let mut draws: Vec<usize> = (0..4001).map(|_| draw_length(length, &mut rng)).collect();
    draws.sort_unstable();
    let median = draws[2000];
    let p99 = draws[3960];
    assert!((170..=230).contains(&median), "median {median}");
    assert!((650..=1200).contains(&p99), "p99 {p99}");
}

#[test]
fn truncation_backs_off_past_a_split_character() {
    // "é" and emoji take several bytes and often several tokens: a cut inside one
    // must back off to a whole character, and the count must still be exact.
    let text = "caf\u{e9} \u{1f600}\u{1f600}\u{1f600} na\u{ef}ve".to_owned();
    for cap in 1..12 {
        let (prefix, count, _) = truncate(Encoding::Cl100kBase, text.clone(), cap);
        assert!(text.starts_with(&prefix));
        assert_eq!(count as usize, Encoding::Cl100kBase.count(&prefix));
        assert!(count as usize <= cap);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The capped text is written only a little past the cap: it must still be
    /// exactly the uncapped text cut at the cap, ending as `length` just when the
    /// uncapped one runs past it.
    /// Both are counted sentence by sentence, and `truncate` with the tokenizer.
    #[test]
    fn a_capped_answer_is_the_uncapped_one_cut_at_the_cap(
        seed in 0u64..1000,
        cap in 1u32..600,
        encoding in prop_oneof![Just(Encoding::O200kBase), Just(Encoding::Cl100kBase)],
    ) {
        let spec = |cap| Spec { encoding, ..spec(cap) };
        let full = write_seeded(&spec(None), seed);
        prop_assert_eq!(full.tokens as usize, encoding.count(&full.text));
        let capped = write_seeded(&spec(Some(cap)), seed);
        let (text, tokens, cut) = truncate(encoding, full.text.clone(), cap as usize);
        prop_assert_eq!(&capped.text, &text);
        prop_assert_eq!(capped.tokens, tokens);
        prop_assert_eq!(cut, full.tokens > cap);
        let finish = if cut { FinishReason::Length } else { FinishReason::Stop };
        prop_assert_eq!(capped.finish, finish);
    }

    #[test]
    fn any_cap_gives_an_exact_count_within_the_cap(seed in 0u64..1000, cap in 1u32..400) {
        let written = write_seeded(&spec(Some(cap)), seed);
        prop_assert_eq!(written.tokens as usize, Encoding::O200kBase.count(&written.text));
        prop_assert!(written.tokens <= cap);
        if written.finish == FinishReason::Length {
            prop_assert!(written.tokens + 3 >= cap, "a cut keeps close to the cap");
        }
    }
}

#[test]
fn a_floor_is_never_undercut_and_a_floor_at_the_cap_fills_it() {
    for seed in 0..10 {
        // min_tokens far above the usual length.
        let at_least = Spec {
            floor: Some(700),
            length: TokenCount {
                median: 20,
                p99: 40,
            },
            ..spec(None)
        };
        let written = write_seeded(&at_least, seed);
        assert!(written.tokens >= 700, "{}", written.tokens);
        assert_eq!(
            written.tokens as usize,
            Encoding::O200kBase.count(&written.text)
        );
        // ignore_eos: the floor is the cap, the answer is exactly the cap.
        for cap in [1, 17, 300] {
            let whole = Spec {
                floor: Some(cap),
                length: TokenCount { median: 5, p99: 10 },
                ..spec(Some(cap))
            };
            let written = write_seeded(&whole, seed);
            assert_eq!(written.tokens, cap, "seed {seed}");
            assert_eq!(written.finish, FinishReason::Length);
        }
    }
}

#[test]
fn stop_sequences_do_not_cut_below_the_floor() {
    let stop = ["."];
    let stopped = write_seeded(
        &Spec {
            stop: &stop,
            ..spec(None)
        },
        3,
    );
    assert!(!stopped.text.contains('.'));
    let floored = write_seeded(
        &Spec {
            stop: &stop,
            floor: Some(stopped.tokens + 40),
            ..spec(None)
        },
        3,
    );
    assert!(floored.tokens >= stopped.tokens + 40);
    assert!(floored.text.starts_with(&stopped.text));
}
