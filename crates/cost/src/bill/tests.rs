//! Billing a call, quoting a reservation, and verifying entries against the book.

use std::str::FromStr;

use rust_decimal::Decimal;

use super::*;
use crate::ledger::Ledger;

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn book() -> PriceBook {
    PriceBook::shipped().unwrap()
}

fn call<'a>(model: &'a str, kind: Kind, usage: Usage) -> Call<'a> {
    Call {
        tenant: "alpha",
        request_id: "req-1",
        provider: None,
        model,
        kind,
        usage,
        cache: CacheOutcome::Miss,
        attempts: 1,
        estimated: false,
        failed: false,
    }
}

fn chat_usage() -> Usage {
    Usage {
        prompt_tokens: 1234,
        cached_tokens: 1024,
        completion_tokens: 567,
        ..Usage::default()
    }
}

#[test]
fn a_miss_costs_the_price_of_its_usage() {
    let e = book()
        .bill(&call("gpt-4o-mini", Kind::Chat, chat_usage()))
        .unwrap();
    assert_eq!(e.cost_usd.to_string(), "0.0004485");
    assert_eq!(e.saved_usd, Decimal::ZERO);
    assert_eq!(e.provider, "openai");
    assert_eq!(e.prices.cached_input_per_million, Some(d("0.075")));
    assert_eq!(e.flags, Flags::default());
    assert_eq!(e.id, 0);
}

#[test]
fn a_hit_costs_nothing_and_saves_exactly_the_price() {
    let mut c = call("gpt-4o-mini", Kind::Chat, chat_usage());
    c.cache = CacheOutcome::Hit;
    c.attempts = 0;
    let e = book().bill(&c).unwrap();
    assert_eq!(e.cost_usd, Decimal::ZERO);
    assert_eq!(e.saved_usd.to_string(), "0.0004485");
}

#[test]
fn a_failed_call_costs_nothing_but_is_an_entry() {
    let mut c = call("gpt-4o", Kind::Chat, chat_usage());
    c.failed = true;
    c.attempts = 4;
    let e = book().bill(&c).unwrap();
    assert_eq!((e.cost_usd, e.saved_usd), (Decimal::ZERO, Decimal::ZERO));
    assert!(e.flags.failed);
    assert_eq!(e.attempts, 4);
}

#[test]
fn each_kind_is_billed_in_its_units() {
    let b = book();
    let cases = [
        (
            "deepseek-chat",
            Kind::Chat,
            Usage {
                prompt_tokens: 4000,
                cached_tokens: 3000,
                completion_tokens: 500,
                ..Usage::default()
            },
            "0.000574",
        ),
        (
            "text-embedding-3-large",
            Kind::Embeddings,
            Usage {
                prompt_tokens: 5000,
                ..Usage::default()
            },
            "0.00065",
        ),
        (
            "eleven_flash_v2_5",
            Kind::Tts,
            Usage {
                characters: 669,
                ..Usage::default()
            },
            "0.0669",
        ),
        (
            "eleven_multilingual_v2",
            Kind::Tts,
            Usage {
                characters: 1337,
                ..Usage::default()
            },
            "0.1337",
        ),
        (
            "personality",
            Kind::Personality,
            Usage {
                requests: 1,
                ..Usage::default()
            },
            "0.0004",
        ),
        (
            "webvtt",
            Kind::Webvtt,
            Usage {
                requests: 1,
                ..Usage::default()
            },
            "0.0001",
        ),
    ];
    for (model, kind, usage, expected) in cases {
        let e = b.bill(&call(model, kind, usage)).unwrap();
        assert_eq!(e.cost_usd.to_string(), expected, "{model}");
        e.verify(&b).unwrap();
    }
}

#[test]
fn an_unknown_model_is_billed_at_the_fallback_and_flagged() {
    let b = book();
    let usage = Usage {
        prompt_tokens: 1000,
        completion_tokens: 500,
        ..Usage::default()
    };
    let e = b.bill(&call("gpt-9", Kind::Chat, usage)).unwrap();
    assert!(e.flags.priced_by_fallback);
    assert_eq!(e.provider, UNKNOWN_PROVIDER);
    // 1,000 × 30 + 500 × 60, per million.
    assert_eq!(e.cost_usd, d("0.06"));
    let mut named = call("gpt-9", Kind::Chat, usage);
    named.provider = Some("openai");
    assert_eq!(b.bill(&named).unwrap().provider, "openai");
    e.verify(&b).unwrap();
}

#[test]
fn inconsistent_usage_is_an_error() {
    let usage = Usage {
        prompt_tokens: 1,
        cached_tokens: 2,
        ..Usage::default()
    };
    assert!(matches!(
        book().bill(&call("gpt-4o", Kind::Chat, usage)),
        Err(CostError::CachedExceedsPrompt { .. })
    ));
}

#[test]
fn quote_prices_the_worst_case_for_a_reservation() {
    // A 200-token prompt with max_tokens 1,000 on gpt-4o.
    let worst = Usage {
        prompt_tokens: 200,
        completion_tokens: 1000,
        ..Usage::default()
    };
    let q = book().quote("gpt-4o", &worst).unwrap();
    assert_eq!(q.cost_usd, d("0.0105"));
    assert!(!q.priced_by_fallback);
    assert!(book().quote("nope", &worst).unwrap().priced_by_fallback);
}

#[test]
fn verify_names_every_field_that_differs() {
    let b = book();
    let mut e = b
        .bill(&call("gpt-4o-mini", Kind::Chat, chat_usage()))
        .unwrap();
    e.cost_usd = d("0.0004486");
    e.flags.priced_by_fallback = true;
    let m = e.verify(&b).unwrap_err();
    let fields: Vec<&str> = m.differences.iter().map(|d| d.field).collect();
    assert_eq!(fields, ["priced_by_fallback", "cost_usd"]);
    assert!(
        m.to_string()
            .contains("cost_usd expected 0.0004485 found 0.0004486"),
        "{m}"
    );
    // Trailing zeros are the same amount.
    let mut same = b
        .bill(&call("gpt-4o-mini", Kind::Chat, chat_usage()))
        .unwrap();
    same.cost_usd = d("0.00044850");
    same.verify(&b).unwrap();
}

#[test]
fn verify_catches_a_price_file_that_disagrees() {
    let e = book()
        .bill(&call("gpt-4o", Kind::Chat, chat_usage()))
        .unwrap();
    let cheaper = crate::book::SHIPPED_PRICE_FILES
        .iter()
        .map(|(n, t)| {
            (
                *n,
                t.replace(
                    "output_per_million = \"10.00\"",
                    "output_per_million = \"9.00\"",
                ),
            )
        })
        .collect::<Vec<_>>();
    let refs: Vec<(&str, &str)> = cheaper.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let other = PriceBook::from_files(&refs).unwrap();
    let m = e.verify(&other).unwrap_err();
    assert!(m.differences.iter().any(|d| d.field == "prices"));
    assert!(m.differences.iter().any(|d| d.field == "cost_usd"));
}

#[test]
fn billed_entries_survive_the_ledger_and_still_verify() {
    let b = book();
    let ledger = Ledger::open(":memory:").unwrap();
    let usages = [
        ("gpt-4o-mini", Kind::Chat, chat_usage(), CacheOutcome::Miss),
        ("gpt-4o-mini", Kind::Chat, chat_usage(), CacheOutcome::Hit),
        (
            "eleven_v3",
            Kind::Tts,
            Usage {
                characters: 77,
                ..Usage::default()
            },
            CacheOutcome::Bypass,
        ),
        ("mystery", Kind::Chat, chat_usage(), CacheOutcome::Miss),
    ];
    for (model, kind, usage, cache) in usages {
        let mut c = call(model, kind, usage);
        c.cache = cache;
        ledger.record(b.bill(&c).unwrap()).unwrap();
    }
    let stored = ledger.entries("alpha", 0, 100).unwrap();
    assert_eq!(stored.len(), 4);
    for e in &stored {
        e.verify(&b).unwrap();
    }
    let t = ledger.totals("alpha");
    assert_eq!(t.saved_usd.to_string(), "0.0004485");
    assert_eq!((t.cache_hits, t.priced_by_fallback), (1, 1));
}
