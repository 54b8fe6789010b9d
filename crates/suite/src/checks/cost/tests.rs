//! The price reader and the recomputation of single entries, on hand-built
//! entries and records (no servers); `tests/judge.rs` judges whole runs.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};

use gatebench_driver::RequestRecord;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::coverage::{self, Shape};
use super::entry::Entry;
use super::prices::{PriceTable, Prices, price_dir};
use super::recompute::{PriceFrom, Pricing, UnitsFrom, price_of, verify};

mod judge;

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

/// A fresh folder under the system's temporary folder, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        // Tests run in parallel: every folder gets its own number.
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("gatebench-cost-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn write(&self, file: &str, text: &str) -> PathBuf {
        let path = self.0.join(file);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const OPENAI: &str = r#"
provider = "openai"
currency = "USD"

[[model]]
id = "gpt-4o-mini"
kind = "chat"
input_per_million = "0.15"
cached_input_per_million = "0.075"
output_per_million = "0.60"
as_of = "2026-06-20"
source = "https://platform.openai.com/docs/pricing"

[[model]]
id = "text-embedding-3-small"
kind = "embeddings"
input_per_million = "0.02"
cached_input_per_million = "0.02"
"#;

const OTHERS: &str = r#"
provider = "elevenlabs"
currency = "USD"

[[model]]
id = "eleven_flash_v2_5"
kind = "tts"
per_thousand_characters = "0.10"

[[model]]
id = "eleven_multilingual_v2"
kind = "tts"
per_thousand_characters = "0.10"

[[model]]
id = "personality"
kind = "personality"
per_request = "0.0004"
"#;

fn table() -> PriceTable {
    let dir = TempDir::new("table");
    dir.write("openai.toml", OPENAI);
    dir.write("others.toml", OTHERS);
    PriceTable::load(&dir.0).unwrap()
}

fn fallback() -> Prices {
    Prices {
        input_per_million: Some(d("30")),
        cached_input_per_million: Some(d("30")),
        output_per_million: Some(d("60")),
        per_thousand_characters: Some(d("0.10")),
        per_request: Some(d("0.0004")),
    }
}

/// A ledger entry as the gateway serialises it.
/// `bill` is cost, cache outcome and saved.
fn entry_json(
    request_id: &str,
    model: &str,
    kind: &str,
    usage: Value,
    prices: Value,
    bill: [&str; 3],
) -> Value {
    let [cost, cache, saved] = bill;
    json!({
        "id": 1, "at": 1_700_000_000_000_i64, "tenant": "alpha", "request_id": request_id,
        "provider": if kind == "tts" { "elevenlabs" } else { "openai" },
        "model": model, "kind": kind, "usage": usage, "prices": prices,
        "cost_usd": cost, "cache": cache, "saved_usd": saved, "attempts": 1,
        "flags": { "estimated": false, "priced_by_fallback": false, "failed": false }
    })
}

fn mini_prices() -> Value {
    json!({ "input_per_million": "0.15", "cached_input_per_million": "0.075", "output_per_million": "0.60",
            "per_thousand_characters": null, "per_request": null })
}

fn chat_entry(request_id: &str, cost: &str, cache: &str, saved: &str) -> Value {
    let usage = json!({ "prompt_tokens": 1234, "cached_tokens": 1024, "completion_tokens": 567, "characters": 0, "requests": 0 });
    entry_json(
        request_id,
        "gpt-4o-mini",
        "chat",
        usage,
        mini_prices(),
        [cost, cache, saved],
    )
}

/// A driver record, built through its serde shape so that new optional fields
/// do not break these tests.
fn record(
    request: &str,
    kind: &str,
    status: u16,
    request_id: Option<&str>,
    extra: Value,
) -> RequestRecord {
    let mut value = json!({
        "scenario": "cost", "request": request, "kind": kind,
        "intended_ms": 0.0, "sent_ms": 0.0, "latency_ms": 1.0, "latency_uncorrected_ms": 1.0,
        "status": status, "outcome": if (200..300).contains(&status) { "ok" } else { "server_error" },
    });
    if let Some(id) = request_id {
        value["request_id"] = json!(id);
    }
    for (k, v) in extra.as_object().unwrap() {
        value[k] = v.clone();
    }
    serde_json::from_value(value).unwrap()
}

fn chat_record(request_id: &str, cost: Option<&str>) -> RequestRecord {
    let mut extra = json!({
        "usage": { "prompt_tokens": 1234, "completion_tokens": 567, "cached_tokens": 1024 },
        "cache": "miss", "provider": "openai", "model": "gpt-4o-mini",
    });
    if let Some(cost) = cost {
        extra["cost_usd"] = json!(cost);
    }
    record("chat", "chat", 200, Some(request_id), extra)
}

fn parse(value: &Value) -> Entry {
    Entry::parse(value).unwrap()
}

#[test]
fn the_price_reader_reads_every_file_of_the_folder() {
    let dir = TempDir::new("reader");
    dir.write("openai.toml", OPENAI);
    dir.write("others.toml", OTHERS);
    dir.write("README.md", "not a price file");
    let table = PriceTable::load(&dir.0).unwrap();
    assert_eq!(table.len(), 5);
    let mini = table.get("gpt-4o-mini").unwrap();
    assert_eq!(mini.provider, "openai");
    assert_eq!(mini.kind, "chat");
    // by value: "0.60" is 0.6
    assert_eq!(mini.prices.output_per_million, Some(d("0.6")));
    assert_eq!(
        table
            .get("text-embedding-3-small")
            .unwrap()
            .prices
            .output_per_million,
        None
    );
    assert_eq!(
        table.get("personality").unwrap().prices.per_request,
        Some(d("0.0004"))
    );
    assert!(
        table
            .get("personality")
            .unwrap()
            .file
            .ends_with("others.toml")
    );
    assert!(table.get("gpt-4").is_none());
}

#[test]
fn a_bad_price_file_is_an_error_naming_the_file() {
    let cases = [
        (
            "float.toml",
            "provider = \"x\"\n[[model]]\nid = \"m\"\nkind = \"chat\"\ninput_per_million = 0.15\n",
            "input_per_million",
        ),
        (
            "broken.toml",
            "provider = \"x\"\n[[model]\nid = \"m\"\n",
            "broken.toml",
        ),
        (
            "word.toml",
            "provider = \"x\"\n[[model]]\nid = \"m\"\nkind = \"chat\"\ninput_per_million = \"cheap\"\n",
            "cheap",
        ),
        (
            "negative.toml",
            "provider = \"x\"\n[[model]]\nid = \"m\"\nkind = \"chat\"\ninput_per_million = \"-1\"\n",
            "negative",
        ),
        ("euro.toml", "provider = \"x\"\ncurrency = \"EUR\"\n", "EUR"),
    ];
    for (file, text, detail) in cases {
        let dir = TempDir::new(&format!("bad-{file}"));
        dir.write("good.toml", OPENAI);
        dir.write(file, text);
        let error = PriceTable::load(&dir.0).unwrap_err().to_string();
        assert!(
            error.contains(file) && error.contains(detail),
            "{file}: {error}"
        );
    }
    let dir = TempDir::new("duplicate");
    dir.write("a.toml", OPENAI);
    dir.write("b.toml", OPENAI);
    let error = PriceTable::load(&dir.0).unwrap_err().to_string();
    assert!(
        error.contains("a.toml") && error.contains("b.toml") && error.contains("gpt-4o-mini"),
        "{error}"
    );
    let empty = TempDir::new("empty");
    assert!(
        PriceTable::load(&empty.0)
            .unwrap_err()
            .to_string()
            .contains("no .toml")
    );
    assert!(
        PriceTable::load(&empty.0.join("absent"))
            .unwrap_err()
            .to_string()
            .contains("absent")
    );
}

#[test]
fn the_price_folder_is_the_specs_else_the_nearest_pricing_folder_up() {
    let root = TempDir::new("walk");
    std::fs::create_dir_all(root.0.join("pricing")).unwrap();
    std::fs::create_dir_all(root.0.join("scenarios/suites")).unwrap();
    let base = root.0.join("scenarios/suites");
    let found = price_dir(None, |p| base.join(p), &base);
    assert_eq!(
        std::fs::canonicalize(found).unwrap(),
        std::fs::canonicalize(root.0.join("pricing")).unwrap()
    );
    assert_eq!(
        price_dir(Some("../my-prices"), |p| base.join(p), &base),
        base.join("../my-prices")
    );
    // The repository's own folder is found from the built-in suites' folder.
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/suites");
    let table = PriceTable::load(&price_dir(None, |p| repo.join(p), &repo)).unwrap();
    assert!(table.get("gpt-4o-mini").is_some() && table.get("webvtt").is_some());
}

#[test]
fn price_of_is_exact_and_refuses_unpriced_units() {
    let table = table();
    let mini = table.get("gpt-4o-mini").unwrap().prices;
    let units = parse(&chat_entry("a", "0", "miss", "0")).usage;
    // 210 × 0.15 + 1024 × 0.075 + 567 × 0.60, per million
    assert_eq!(price_of(&units, &mini).unwrap(), d("0.0004485"));
    let tts = table.get("eleven_flash_v2_5").unwrap().prices;
    let mut chars = super::entry::Units {
        characters: 669,
        ..Default::default()
    };
    assert_eq!(price_of(&chars, &tts).unwrap(), d("0.0669"));
    chars.requests = 1;
    assert!(price_of(&chars, &tts).unwrap_err().contains("per_request"));
    let bad = super::entry::Units {
        prompt_tokens: 1,
        cached_tokens: 2,
        ..Default::default()
    };
    assert!(price_of(&bad, &mini).unwrap_err().contains("exceed"));
}

#[test]
fn chat_with_provider_cached_tokens_matches_to_the_last_decimal() {
    let table = table();
    let pricing = Pricing {
        table: &table,
        fallback: None,
    };
    let entry = parse(&chat_entry("r1", "0.0004485", "miss", "0"));
    let v = verify(
        &entry,
        Some(&chat_record("r1", Some("0.0004485"))),
        &pricing,
    );
    assert!(v.diffs.is_empty(), "{:?}", v.diffs);
    assert_eq!(
        (v.units_from, v.price_from, v.header_checked),
        (UnitsFrom::Response, PriceFrom::File, true)
    );

    // Cached tokens billed at the full input price: off by 1024 × 0.075 per million.
    let entry = parse(&chat_entry("r1", "0.0005253", "miss", "0"));
    let v = verify(&entry, Some(&chat_record("r1", None)), &pricing);
    assert_eq!(v.diffs.len(), 1, "{:?}", v.diffs);
    assert_eq!(
        (
            v.diffs[0].field.as_str(),
            v.diffs[0].expected.as_str(),
            v.diffs[0].found.as_str()
        ),
        ("cost_usd", "0.0004485", "0.0005253")
    );
}

#[test]
fn a_cache_hit_costs_nothing_and_saves_its_price() {
    let table = table();
    let pricing = Pricing {
        table: &table,
        fallback: None,
    };
    let mut hit_record = chat_record("h", Some("0"));
    hit_record.cache = Some("hit".into());
    let hit = parse(&chat_entry("h", "0", "hit", "0.0004485"));
    assert!(verify(&hit, Some(&hit_record), &pricing).diffs.is_empty());

    // A hit billed as if it were a call, saving nothing.
    let billed = parse(&chat_entry("h", "0.0004485", "hit", "0"));
    let fields: Vec<String> = verify(&billed, Some(&hit_record), &pricing)
        .diffs
        .into_iter()
        .map(|d| d.field)
        .collect();
    assert_eq!(fields, ["cost_usd", "saved_usd", "x-gatebench-cost-usd"]);
}

#[test]
fn a_failed_call_costs_and_saves_nothing() {
    let table = table();
    let pricing = Pricing {
        table: &table,
        fallback: None,
    };
    let mut failed = chat_entry("f", "0", "miss", "0");
    failed["usage"] = json!({});
    failed["flags"]["failed"] = json!(true);
    let record = record(
        "chat",
        "chat",
        503,
        Some("f"),
        json!({ "model": "gpt-4o-mini", "provider": "openai", "cache": "miss" }),
    );
    let v = verify(&parse(&failed), Some(&record), &pricing);
    assert!(v.diffs.is_empty(), "{:?}", v.diffs);
    assert_eq!(v.units_from, UnitsFrom::Failed);

    failed["cost_usd"] = json!("0.0001");
    let v = verify(&parse(&failed), Some(&record), &pricing);
    assert_eq!(
        v.diffs.iter().map(|d| d.field.as_str()).collect::<Vec<_>>(),
        ["cost_usd"]
    );

    // A 2xx response billed as failed.
    failed["cost_usd"] = json!("0");
    let ok = chat_record("f", None);
    assert!(
        verify(&parse(&failed), Some(&ok), &pricing)
            .diffs
            .iter()
            .any(|d| d.field == "flags.failed")
    );
}

#[test]
fn half_price_speech_bills_the_characters_the_response_reported() {
    let table = table();
    let pricing = Pricing {
        table: &table,
        fallback: None,
    };
    let usage = json!({ "characters": 669 });
    let prices = json!({ "per_thousand_characters": "0.1" });
    let tts = |cost: &str| {
        entry_json(
            "t",
            "eleven_flash_v2_5",
            "tts",
            usage.clone(),
            prices.clone(),
            [cost, "miss", "0"],
        )
    };
    let rec = record(
        "tts_flash",
        "tts",
        200,
        Some("t"),
        json!({ "tts_characters": 669, "cost_usd": "0.0669", "model": "eleven_flash_v2_5" }),
    );
    let entry = parse(&tts("0.0669"));
    assert!(verify(&entry, Some(&rec), &pricing).diffs.is_empty());
    let shape = Shape {
        kind: "tts".into(),
        stream: false,
        include_usage: false,
        model: Some("eleven_flash_v2_5".into()),
        cacheable: true,
    };
    assert!(coverage::categories(&entry, Some(&shape), &table).contains(&"tts half price"));

    // Halving a count that is already halved.
    let v = verify(&parse(&tts("0.03345")), Some(&rec), &pricing);
    assert!(
        v.diffs
            .iter()
            .any(|d| d.field == "cost_usd" && d.expected == "0.0669" && d.found == "0.03345"),
        "{:?}",
        v.diffs
    );
    // Billing the text length instead of the billed count.
    let mut long = tts("0.1337");
    long["usage"]["characters"] = json!(1337);
    let fields: Vec<String> = verify(&parse(&long), Some(&rec), &pricing)
        .diffs
        .into_iter()
        .map(|d| d.field)
        .collect();
    assert!(
        fields.contains(&"usage.characters".to_owned()) && fields.contains(&"cost_usd".to_owned()),
        "{fields:?}"
    );
}

#[test]
fn a_service_call_is_one_request_at_its_price() {
    let table = table();
    let pricing = Pricing {
        table: &table,
        fallback: None,
    };
    let prices = json!({ "per_request": "0.0004" });
    let entry = entry_json(
        "p",
        "personality",
        "personality",
        json!({ "requests": 1 }),
        prices,
        ["0.0004", "bypass", "0"],
    );
    let rec = record(
        "personality",
        "personality",
        200,
        Some("p"),
        json!({ "cost_usd": "0.0004" }),
    );
    assert!(
        verify(&parse(&entry), Some(&rec), &pricing)
            .diffs
            .is_empty()
    );
}

#[test]
fn an_unknown_model_is_judged_by_the_fallback_price_when_it_is_known() {
    let table = table();
    let usage = json!({ "prompt_tokens": 100, "completion_tokens": 10 });
    let prices = json!({ "input_per_million": "30", "cached_input_per_million": "30", "output_per_million": "60",
                         "per_thousand_characters": "0.1", "per_request": "0.0004" });
    // 100 × 30 + 10 × 60, per million
    let mut value = entry_json(
        "u",
        "ft:gpt-4o-mini:demo",
        "chat",
        usage,
        prices,
        ["0.0036", "miss", "0"],
    );
    value["flags"]["priced_by_fallback"] = json!(true);
    let rec = record(
        "unknown_model",
        "chat",
        200,
        Some("u"),
        json!({ "usage": { "prompt_tokens": 100, "completion_tokens": 10, "cached_tokens": 0 } }),
    );

    let embedded = Pricing {
        table: &table,
        fallback: Some(fallback()),
    };
    let v = verify(&parse(&value), Some(&rec), &embedded);
    assert!(v.diffs.is_empty(), "{:?}", v.diffs);
    assert_eq!(v.price_from, PriceFrom::Fallback);

    // External: the fallback is not knowable; the entry's own prices are used.
    let external = Pricing {
        table: &table,
        fallback: None,
    };
    let v = verify(&parse(&value), Some(&rec), &external);
    assert!(v.diffs.is_empty());
    assert_eq!(v.price_from, PriceFrom::Unverifiable);

    // A fallback-priced entry must say so.
    value["flags"]["priced_by_fallback"] = json!(false);
    assert!(
        verify(&parse(&value), Some(&rec), &embedded)
            .diffs
            .iter()
            .any(|d| d.field == "flags.priced_by_fallback")
    );
    // And the known fallback price must be the one applied.
    value["flags"]["priced_by_fallback"] = json!(true);
    let cheaper = Pricing {
        table: &table,
        fallback: Some(Prices {
            output_per_million: Some(d("50")),
            ..fallback()
        }),
    };
    let fields: Vec<String> = verify(&parse(&value), Some(&rec), &cheaper)
        .diffs
        .into_iter()
        .map(|d| d.field)
        .collect();
    assert_eq!(fields, ["prices.output_per_million", "cost_usd"]);
}
