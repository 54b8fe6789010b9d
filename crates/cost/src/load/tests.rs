//! Price files: the shipped ones load, and every kind of mistake is refused
//! with the file, the model and the line.

use std::str::FromStr;

use rust_decimal::Decimal;

use crate::book::PriceBook;
use crate::load::{PriceProblem, PricingError};
use crate::meter::{Usage, cost};
use crate::price::{FallbackPrice, Kind};

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

/// A one-model file with `body` as the model's keys.
fn file(body: &str) -> String {
    format!(
        "provider = \"acme\"\ncurrency = \"USD\"\n\n[[model]]\nid = \"m1\"\n{body}\nas_of = \"2026-11-01\"\nsource = \"https://example.com/pricing\"\n"
    )
}

const CHAT: &str = "kind = \"chat\"\ninput_per_million = \"1\"\ncached_input_per_million = \"0.5\"\noutput_per_million = \"2\"";

fn load_one(text: &str) -> Result<PriceBook, PricingError> {
    PriceBook::from_files(&[("acme.toml", text)])
}

fn err(text: &str) -> PricingError {
    load_one(text).expect_err("should be refused")
}

#[test]
fn shipped_files_load_and_price_every_model() {
    let book = PriceBook::shipped().unwrap();
    let expect = [
        ("gpt-4o-mini", "openai", Kind::Chat),
        ("gpt-4o", "openai", Kind::Chat),
        ("gpt-3.5-turbo", "openai", Kind::Chat),
        ("gpt-4", "openai", Kind::Chat),
        ("gpt-5-mini", "openai", Kind::Chat),
        ("text-embedding-3-small", "openai", Kind::Embeddings),
        ("text-embedding-3-large", "openai", Kind::Embeddings),
        ("text-embedding-ada-002", "openai", Kind::Embeddings),
        ("deepseek-chat", "deepseek", Kind::Chat),
        ("eleven_multilingual_v2", "elevenlabs", Kind::Tts),
        ("eleven_v3", "elevenlabs", Kind::Tts),
        ("eleven_turbo_v2_5", "elevenlabs", Kind::Tts),
        ("eleven_flash_v2_5", "elevenlabs", Kind::Tts),
        ("eleven_turbo_v2", "elevenlabs", Kind::Tts),
        ("eleven_flash_v2", "elevenlabs", Kind::Tts),
        ("eleven_monolingual_v1", "elevenlabs", Kind::Tts),
        ("eleven_multilingual_v1", "elevenlabs", Kind::Tts),
        ("personality", "gatebench", Kind::Personality),
        ("webvtt", "gatebench", Kind::Webvtt),
    ];
    for (model, provider, kind) in expect {
        let price = book
            .lookup(model)
            .unwrap_or_else(|| panic!("{model} not priced"));
        assert_eq!(price.provider, provider, "{model}");
        assert_eq!(price.kind, kind, "{model}");
        assert!(
            !price.source.is_empty() && price.as_of.len() == 10,
            "{model}"
        );
    }
    assert_eq!(book.len(), expect.len());
}

#[test]
fn the_repository_folder_loads_like_the_compiled_in_copy() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../pricing");
    let from_dir = PriceBook::load_dir(dir).unwrap();
    let shipped = PriceBook::shipped().unwrap();
    assert_eq!(from_dir.prices(), shipped.prices());
}

#[test]
fn shipped_cache_discounts() {
    let book = PriceBook::shipped().unwrap();
    let units = |m: &str| book.lookup(m).unwrap().units;
    assert_eq!(
        units("gpt-4o-mini").cached_input_per_million,
        Some(d("0.075"))
    );
    assert_eq!(
        units("deepseek-chat").cached_input_per_million,
        Some(d("0.028"))
    );
    // No discount: the cached price repeats the input price.
    let gpt4 = units("gpt-4");
    assert_eq!(gpt4.cached_input_per_million, gpt4.input_per_million);
    // Embeddings: no output price written, so 0.
    assert_eq!(
        units("text-embedding-3-small").output_per_million,
        Some(Decimal::ZERO)
    );
}

#[test]
fn flash_is_half_price_through_the_billed_count_not_the_price() {
    let book = PriceBook::shipped().unwrap();
    let flash = book.lookup("eleven_flash_v2_5").unwrap().units;
    let multi = book.lookup("eleven_multilingual_v2").unwrap().units;
    assert_eq!(flash, multi);
    // 1,000 characters of text bill 500 on Flash (the `character-cost` header).
    let billed = Usage {
        characters: 500,
        ..Usage::default()
    };
    assert_eq!(cost(&flash, &billed).unwrap(), d("0.05"));
}

#[test]
fn unknown_model_is_priced_by_the_fallback_and_flagged() {
    let book = PriceBook::shipped().unwrap();
    let r = book.resolve("gpt-7-ultra");
    assert!(r.priced_by_fallback);
    assert_eq!(r.provider, None);
    assert_eq!(r.units, FallbackPrice::default().units());
    let usage = Usage {
        prompt_tokens: 1000,
        completion_tokens: 1000,
        ..Usage::default()
    };
    assert!(cost(&r.units, &usage).unwrap() > Decimal::ZERO);
    assert!(!book.resolve("gpt-4o").priced_by_fallback);
}

#[test]
fn fallback_is_configurable_and_validated() {
    let custom = FallbackPrice {
        input_per_million: d("5.000"),
        ..FallbackPrice::default()
    };
    let book = PriceBook::shipped().unwrap().with_fallback(custom).unwrap();
    assert_eq!(book.resolve("nope").units.input_per_million, Some(d("5")));
    let negative = FallbackPrice {
        per_request: d("-0.1"),
        ..FallbackPrice::default()
    };
    let e = PriceBook::shipped()
        .unwrap()
        .with_fallback(negative)
        .unwrap_err();
    assert!(matches!(
        e,
        PricingError::BadFallback {
            field: "per_request",
            reason: PriceProblem::Negative,
            ..
        }
    ));
}

#[test]
fn unknown_key_names_file_line_and_model() {
    let text = file(&format!("{CHAT}\noutput_per_millon = \"2\""));
    let e = err(&text);
    let PricingError::Syntax {
        file,
        line,
        model,
        message,
    } = &e
    else {
        panic!("{e:?}");
    };
    assert_eq!(file, "acme.toml");
    assert_eq!(*line, Some(10));
    assert_eq!(model.as_deref(), Some("m1"));
    assert!(message.contains("output_per_millon"), "{message}");
    let shown = e.to_string();
    assert!(
        shown.contains("acme.toml line 10") && shown.contains("\"m1\""),
        "{shown}"
    );
}

#[test]
fn a_float_price_is_refused_with_its_line() {
    let text = file(
        "kind = \"chat\"\ninput_per_million = 0.15\ncached_input_per_million = \"0.1\"\noutput_per_million = \"1\"",
    );
    let e = err(&text);
    assert!(
        matches!(&e, PricingError::Syntax { line: Some(7), .. }),
        "{e:?}"
    );
}

#[test]
fn negative_price_names_file_model_and_line() {
    let text = file(
        "kind = \"chat\"\ninput_per_million = \"-1\"\ncached_input_per_million = \"0\"\noutput_per_million = \"1\"",
    );
    let e = err(&text);
    let PricingError::BadPrice {
        at, field, reason, ..
    } = &e
    else {
        panic!("{e:?}");
    };
    assert_eq!(
        (at.file.as_str(), at.line, at.model.as_str()),
        ("acme.toml", 5, "m1")
    );
    assert_eq!(
        (*field, *reason),
        ("input_per_million", PriceProblem::Negative)
    );
    assert!(
        e.to_string().starts_with("acme.toml line 5: model \"m1\""),
        "{e}"
    );
}

#[test]
fn malformed_and_over_precise_prices_are_refused() {
    for (value, problem) in [
        ("abc", PriceProblem::NotDecimal),
        ("1e3", PriceProblem::NotDecimal),
        ("1_000", PriceProblem::NotDecimal),
        ("", PriceProblem::NotDecimal),
        (".5", PriceProblem::NotDecimal),
        ("+1", PriceProblem::NotDecimal),
        ("0.0000000000001", PriceProblem::TooPrecise),
        // past a Decimal's 28 places: once rounded to a price of zero
        (
            "0.0000000000000000000000000000001",
            PriceProblem::TooPrecise,
        ),
    ] {
        let text = file(&format!(
            "kind = \"tts\"\nper_thousand_characters = \"{value}\""
        ));
        match err(&text) {
            PricingError::BadPrice { reason, .. } => assert_eq!(reason, problem, "{value:?}"),
            other => panic!("{value:?}: {other:?}"),
        }
    }
    // Trailing zeros beyond 12 places are fine: the value has 2.
    let ok = file("kind = \"tts\"\nper_thousand_characters = \"0.10000000000000\"");
    assert!(load_one(&ok).is_ok());
    let zeros = "0.1000000000000000000000000000000000";
    let ok = file(&format!(
        "kind = \"tts\"\nper_thousand_characters = \"{zeros}\""
    ));
    assert!(load_one(&ok).is_ok());
}

#[test]
fn missing_prices_for_each_kind() {
    let cases = [
        (
            "kind = \"chat\"\ninput_per_million = \"1\"\ncached_input_per_million = \"1\"",
            Kind::Chat,
            "output_per_million",
        ),
        (
            "kind = \"chat\"\ninput_per_million = \"1\"\noutput_per_million = \"1\"",
            Kind::Chat,
            "cached_input_per_million",
        ),
        (
            "kind = \"embeddings\"\ncached_input_per_million = \"1\"",
            Kind::Embeddings,
            "input_per_million",
        ),
        ("kind = \"tts\"", Kind::Tts, "per_thousand_characters"),
        ("kind = \"personality\"", Kind::Personality, "per_request"),
        ("kind = \"webvtt\"", Kind::Webvtt, "per_request"),
    ];
    for (body, kind, missing) in cases {
        match err(&file(body)) {
            PricingError::MissingPrice { at, kind: k, field } => {
                assert_eq!((k, field), (kind, missing));
                assert_eq!(
                    (at.file.as_str(), at.model.as_str(), at.line),
                    ("acme.toml", "m1", 5)
                );
            }
            other => panic!("{body}: {other:?}"),
        }
    }
}

#[test]
fn a_price_for_a_unit_the_kind_does_not_use_is_refused() {
    let text = file("kind = \"tts\"\nper_thousand_characters = \"0.1\"\ninput_per_million = \"1\"");
    assert!(matches!(
        err(&text),
        PricingError::UnexpectedPrice {
            kind: Kind::Tts,
            field: "input_per_million",
            ..
        }
    ));
    let text = file(&format!("{CHAT}\nper_request = \"1\""));
    assert!(matches!(
        err(&text),
        PricingError::UnexpectedPrice {
            field: "per_request",
            ..
        }
    ));
}

/// A chat model's output cap bounds the worst case quoted for it, and nothing
/// else: a call within it is quoted as asked. A cap on another kind, or of 0,
/// is refused.
#[test]
fn an_output_cap_bounds_the_worst_case_of_a_chat_model() {
    let book = load_one(&file(&format!("{CHAT}\nmax_output_tokens = 100"))).unwrap();
    let asking = |completion_tokens| Usage {
        prompt_tokens: 10,
        completion_tokens,
        ..Usage::default()
    };
    let worst = |usage: &Usage| book.quote_worst("m1", usage).unwrap().cost_usd;
    // 10 prompt tokens at 1 and 100 output tokens at 2, per million
    assert_eq!(worst(&asking(1_000_000_000)), d("0.00021"));
    assert_eq!(
        worst(&asking(50)),
        book.quote("m1", &asking(50)).unwrap().cost_usd
    );
    // a model without a cap is quoted as asked
    let uncapped = load_one(&file(CHAT)).unwrap();
    assert_eq!(
        uncapped.quote_worst("m1", &asking(1_000)).unwrap().cost_usd,
        d("0.00201")
    );
    for body in [
        format!("{CHAT}\nmax_output_tokens = 0"),
        "kind = \"tts\"\nper_thousand_characters = \"0.1\"\nmax_output_tokens = 10".to_owned(),
    ] {
        assert!(
            matches!(err(&file(&body)), PricingError::BadOutputCap { .. }),
            "{body}"
        );
    }
}

#[test]
fn cached_price_above_input_is_refused() {
    let text = file(
        "kind = \"chat\"\ninput_per_million = \"1\"\ncached_input_per_million = \"2\"\noutput_per_million = \"1\"",
    );
    assert!(matches!(err(&text), PricingError::CachedAboveInput { .. }));
}

#[test]
fn unknown_kind_is_refused_with_its_line() {
    let text = file("kind = \"video\"\nper_request = \"1\"");
    assert!(matches!(
        err(&text),
        PricingError::Syntax {
            line: Some(6),
            model: Some(_),
            ..
        }
    ));
}

#[test]
fn bad_dates_are_refused() {
    for date in [
        "2026-13-01",
        "2026-02-29",
        "2026-04-31",
        "Nov 2026",
        "2026-1-01",
        "26-11-01",
        "2026-11-01T00:00",
    ] {
        let text = file(CHAT).replace("2026-11-01", date);
        match err(&text) {
            PricingError::BadDate { at, value } => {
                assert_eq!(value, date);
                assert_eq!(at.model, "m1");
            }
            other => panic!("{date}: {other:?}"),
        }
    }
    let leap = file(CHAT).replace("2026-11-01", "2024-02-29");
    assert!(load_one(&leap).is_ok());
}

#[test]
fn a_source_must_be_a_url_or_an_internal_estimate() {
    let text = file(CHAT).replace("https://example.com/pricing", "the internet");
    assert!(matches!(err(&text), PricingError::BadSource { .. }));
    let ok = file(CHAT).replace("https://example.com/pricing", "internal estimate");
    assert!(load_one(&ok).is_ok());
}

#[test]
fn wrong_currency_names_the_file() {
    let text = file(CHAT).replace("\"USD\"", "\"EUR\"");
    let e = err(&text);
    assert!(
        matches!(&e, PricingError::Currency { file, found } if file == "acme.toml" && found == "EUR")
    );
}

#[test]
fn missing_top_level_keys_are_refused() {
    let text = file(CHAT).replace("provider = \"acme\"\n", "");
    assert!(matches!(err(&text), PricingError::Syntax { .. }));
    let text = file(CHAT).replace("provider = \"acme\"", "provider = \" \"");
    assert!(matches!(err(&text), PricingError::EmptyProvider { .. }));
    let text = file(CHAT).replace("id = \"m1\"", "id = \"\"");
    assert!(matches!(err(&text), PricingError::EmptyId { line: 5, .. }));
}

#[test]
fn duplicate_model_within_a_file() {
    let one = file(CHAT);
    let model = &one[one.find("[[model]]").unwrap()..];
    let text = format!("{one}\n{model}");
    match err(&text) {
        PricingError::Duplicate {
            at,
            first_file,
            first_line,
        } => {
            assert_eq!((at.file.as_str(), at.model.as_str()), ("acme.toml", "m1"));
            assert_eq!((first_file.as_str(), first_line), ("acme.toml", 5));
            assert!(at.line > 5);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn duplicate_model_across_files_names_both() {
    let a = file(CHAT);
    let b = a.replace("acme", "other");
    let e = PriceBook::from_files(&[("a.toml", &a), ("b.toml", &b)]).unwrap_err();
    assert!(
        matches!(&e, PricingError::Duplicate { at, first_file, .. } if at.file == "b.toml" && first_file == "a.toml")
    );
    assert!(e.to_string().contains("a.toml line 5"), "{e}");
}

#[test]
fn load_dir_errors() {
    let missing = PriceBook::load_dir("/nonexistent/pricing").unwrap_err();
    assert!(matches!(missing, PricingError::Io { .. }));
    let empty = std::env::temp_dir().join(format!("gatebench-cost-empty-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let e = PriceBook::load_dir(&empty).unwrap_err();
    std::fs::remove_dir_all(&empty).unwrap();
    assert!(matches!(e, PricingError::NoFiles { .. }));
}

#[test]
fn prices_are_normalised() {
    let book = load_one(&file(
        "kind = \"chat\"\ninput_per_million = \"0.150\"\ncached_input_per_million = \"0.0750\"\noutput_per_million = \"10.00\"",
    ))
    .unwrap();
    let units = book.lookup("m1").unwrap().units;
    assert_eq!(units.input_per_million.unwrap().to_string(), "0.15");
    assert_eq!(units.output_per_million.unwrap().to_string(), "10");
}
