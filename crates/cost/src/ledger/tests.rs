//! Ledger: record → flush → entries, totals equal the sum of entries (property),
//! restart, in-memory, concurrency, refusals, shutdown.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

use proptest::prelude::*;
use rust_decimal::Decimal;

use super::*;
use crate::entry::{CacheOutcome, Flags};
use crate::exact;
use crate::meter::Usage;
use crate::price::{Kind, UnitPrices};

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("gatebench-ledger-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn file(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn entry(tenant: &str, model: &str, cost: &str) -> LedgerEntry {
    LedgerEntry {
        id: 0,
        at: 1_763_800_000_000,
        tenant: tenant.to_owned(),
        request_id: format!("req-{tenant}-{model}"),
        provider: "openai".to_owned(),
        model: model.to_owned(),
        kind: Kind::Chat,
        usage: Usage {
            prompt_tokens: 1234,
            cached_tokens: 1024,
            completion_tokens: 567,
            ..Usage::default()
        },
        prices: UnitPrices {
            input_per_million: Some(d("0.15")),
            cached_input_per_million: Some(d("0.075")),
            output_per_million: Some(d("0.6")),
            ..UnitPrices::default()
        },
        cost_usd: d(cost),
        cache: CacheOutcome::Miss,
        saved_usd: Decimal::ZERO,
        attempts: 1,
        flags: Flags::default(),
    }
}

/// Sums entries the way the totals should: exactly, field by field.
fn sum_of(entries: &[LedgerEntry]) -> (Decimal, Decimal, u64, u64, Usage) {
    let cost = exact::sum(entries.iter().map(|e| e.cost_usd)).unwrap();
    let saved = exact::sum(entries.iter().map(|e| e.saved_usd)).unwrap();
    let hits = entries
        .iter()
        .filter(|e| e.cache == CacheOutcome::Hit)
        .count() as u64;
    let mut units = Usage::default();
    for e in entries {
        units.add(&e.usage);
    }
    (cost, saved, entries.len() as u64, hits, units)
}

fn totals_of(t: &TenantTotals) -> (Decimal, Decimal, u64, u64, Usage) {
    let mut units = Usage::default();
    for m in t.by_model.values() {
        units.add(&m.units);
    }
    (t.cost_usd, t.saved_usd, t.requests, t.cache_hits, units)
}

#[test]
fn record_flush_entries_round_trips_every_field() {
    let ledger = Ledger::open(":memory:").unwrap();
    let mut e = entry("alpha", "gpt-4o-mini", "0.0004485");
    e.kind = Kind::Tts;
    e.prices.per_thousand_characters = Some(d("0.1"));
    e.usage.characters = 669;
    e.cache = CacheOutcome::Hit;
    e.saved_usd = d("0.000000000000000001");
    e.attempts = 3;
    e.flags = Flags {
        estimated: true,
        priced_by_fallback: true,
        failed: false,
    };
    let id = ledger.record(e.clone()).unwrap();
    assert_eq!(id, 1);
    ledger.flush().unwrap();
    let got = ledger.entries("alpha", 0, 10).unwrap();
    e.id = 1;
    assert_eq!(got, vec![e]);
    assert_eq!(got[0].saved_usd.to_string(), "0.000000000000000001");
}

#[test]
fn one_model_from_two_providers_is_two_rows() {
    let ledger = Ledger::open(":memory:").unwrap();
    ledger
        .record(entry("alpha", "gpt-4o-mini", "0.0004485"))
        .unwrap();
    let mut azure = entry("alpha", "gpt-4o-mini", "0.0005");
    azure.provider = "azure".to_owned();
    ledger.record(azure).unwrap();
    let t = ledger.totals("alpha");
    let rows: Vec<_> = t
        .by_model
        .iter()
        .map(|(key, m)| {
            (
                key.as_str(),
                m.provider.as_str(),
                m.model.as_str(),
                m.cost_usd,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("azure/gpt-4o-mini", "azure", "gpt-4o-mini", d("0.0005")),
            (
                "openai/gpt-4o-mini",
                "openai",
                "gpt-4o-mini",
                d("0.0004485")
            ),
        ]
    );
}

#[test]
fn totals_are_immediate_and_per_model() {
    let ledger = Ledger::open(":memory:").unwrap();
    ledger
        .record(entry("alpha", "gpt-4o-mini", "0.0004485"))
        .unwrap();
    ledger
        .record(entry("alpha", "gpt-4o-mini", "0.0000001"))
        .unwrap();
    let mut hit = entry("alpha", "gpt-4o", "0");
    hit.cache = CacheOutcome::Hit;
    hit.saved_usd = d("0.25");
    ledger.record(hit).unwrap();
    let t = ledger.totals("alpha");
    assert_eq!(t.cost_usd.to_string(), "0.0004486");
    assert_eq!(t.saved_usd, d("0.25"));
    assert_eq!((t.requests, t.cache_hits), (3, 1));
    let mini = &t.by_model["openai/gpt-4o-mini"];
    assert_eq!((mini.requests, mini.units.prompt_tokens), (2, 2468));
    assert_eq!(mini.cost_usd, d("0.0004486"));
    assert_eq!(t.by_model["openai/gpt-4o"].cache_hits, 1);
    let json = serde_json::to_value(&t).unwrap();
    assert_eq!(
        json["cost_usd"], "0.0004486",
        "money serialises as a decimal string"
    );
    assert_eq!(ledger.totals("nobody").requests, 0);
}

#[test]
fn entries_paginate_and_stay_within_the_tenant() {
    let ledger = Ledger::open(":memory:").unwrap();
    for i in 0..25 {
        let tenant = if i % 5 == 0 { "beta" } else { "alpha" };
        ledger.record(entry(tenant, "m", "0.01")).unwrap();
    }
    // No explicit flush: `entries` flushes first.
    let mut seen = Vec::new();
    let mut after = 0;
    loop {
        let page = ledger.entries("alpha", after, 7).unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 7);
        after = page.last().unwrap().id;
        seen.extend(page);
    }
    assert_eq!(seen.len(), 20);
    assert!(seen.iter().all(|e| e.tenant == "alpha"));
    assert!(seen.windows(2).all(|w| w[0].id < w[1].id));
    assert_eq!(ledger.entries("beta", 0, 100).unwrap().len(), 5);
    assert_eq!(ledger.all_entries(20, 100).unwrap().len(), 5);
}

#[test]
fn a_restart_keeps_entries_totals_and_ids() {
    let dir = TempDir::new();
    let path = dir.file("ledger.sqlite");
    let before = {
        let ledger = Ledger::open(&path).unwrap();
        ledger
            .record(entry("alpha", "gpt-4o-mini", "0.0004485"))
            .unwrap();
        ledger.record(entry("beta", "gpt-4o", "1.5")).unwrap();
        ledger
            .record(entry("alpha", "gpt-4o", "0.0000000001"))
            .unwrap();
        // Dropped without an explicit flush: shutdown writes what is pending.
        ledger.all_totals()
    };
    let ledger = Ledger::open(&path).unwrap();
    assert_eq!(ledger.all_totals(), before);
    assert_eq!(ledger.totals("alpha").cost_usd.to_string(), "0.0004485001");
    assert_eq!(ledger.entries("alpha", 0, 10).unwrap().len(), 2);
    assert_eq!(ledger.record(entry("alpha", "m", "0")).unwrap(), 4);
}

/// When the responses of these tests were made: one time for all of them.
static MADE_MS: LazyLock<i64> = LazyLock::new(crate::now_ms);

fn response(id: &str, tenant: &str, tokens: u64) -> StoredResponse {
    StoredResponse {
        id: id.to_owned(),
        tenant: tenant.to_owned(),
        provider: "openai".to_owned(),
        tokens,
        made_ms: *MADE_MS,
    }
}

/// Stored responses are kept, updated and forgotten in the order asked, are seen
/// at once by a read, and survive a restart; one whose row was damaged is
/// reported.
#[test]
fn stored_responses_are_kept_across_a_restart_until_forgotten() {
    let dir = TempDir::new();
    let path = dir.file("ledger.sqlite");
    {
        let ledger = Ledger::open(&path).unwrap();
        ledger
            .keep_response(response("resp_a", "alpha", 0))
            .unwrap();
        ledger
            .keep_response(response("resp_a", "alpha", 42))
            .unwrap();
        ledger.keep_response(response("resp_b", "beta", 7)).unwrap();
        ledger.keep_response(response("resp_c", "beta", 9)).unwrap();
        ledger.forget_response("resp_c").unwrap();
        assert_eq!(
            ledger.stored_response("resp_a").unwrap(),
            Some(response("resp_a", "alpha", 42))
        );
        assert_eq!(ledger.stored_response("resp_c").unwrap(), None);
        // forgotten and kept again in one batch: the last word holds
        ledger.forget_response("resp_b").unwrap();
        ledger.keep_response(response("resp_b", "beta", 8)).unwrap();
    }
    let ledger = Ledger::open(&path).unwrap();
    assert_eq!(
        ledger.stored_response("resp_a").unwrap(),
        Some(response("resp_a", "alpha", 42))
    );
    assert_eq!(
        ledger.stored_response("resp_b").unwrap(),
        Some(response("resp_b", "beta", 8))
    );
    assert_eq!(ledger.stored_response("resp_c").unwrap(), None);
    assert_eq!(ledger.stored_response("resp_nothing").unwrap(), None);
    // the responses are no billed calls
    assert_eq!(ledger.all_entries(0, 10).unwrap().len(), 0);
    drop(ledger);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "UPDATE stored_responses SET tokens = -1 WHERE id = 'resp_a'",
        [],
    )
    .unwrap();
    drop(conn);
    let ledger = Ledger::open(&path).unwrap();
    let e = ledger.stored_response("resp_a").unwrap_err();
    assert!(
        matches!(&e, LedgerError::CorruptResponse { id, tokens: -1 } if id == "resp_a"),
        "{e}"
    );
}

/// A stored response made longer than [`RESPONSE_RETENTION`] ago is no longer
/// read back, and is gone from the database once it is opened again; one made
/// within it stays, as does one whose tokens were updated later.
#[test]
fn stored_responses_past_their_retention_are_forgotten() {
    let dir = TempDir::new();
    let path = dir.file("ledger.sqlite");
    let day = 24 * 60 * 60 * 1000;
    let retention_days = i64::try_from(RESPONSE_RETENTION.as_secs()).unwrap() / (24 * 60 * 60);
    let made_days_ago = |id: &str, days: i64| StoredResponse {
        made_ms: crate::now_ms() - days * day,
        ..response(id, "alpha", 5)
    };
    {
        let ledger = Ledger::open(&path).unwrap();
        ledger
            .keep_response(made_days_ago("resp_old", retention_days + 1))
            .unwrap();
        ledger
            .keep_response(made_days_ago("resp_recent", retention_days - 1))
            .unwrap();
        // its tokens noted later: still as old as when it was made
        ledger
            .keep_response(made_days_ago("resp_recent", 0))
            .unwrap();
        assert_eq!(ledger.stored_response("resp_old").unwrap(), None);
        let recent = ledger.stored_response("resp_recent").unwrap().unwrap();
        assert!(recent.made_ms <= crate::now_ms() - (retention_days - 1) * day);
    }
    let ids = |path: &str| {
        let conn = rusqlite::Connection::open(path).unwrap();
        let mut stmt = conn
            .prepare("SELECT id FROM stored_responses ORDER BY id")
            .unwrap();
        stmt.query_map([], |row| row.get::<_, String>(0))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap()
    };
    assert_eq!(ids(&path), ["resp_old", "resp_recent"]);
    drop(Ledger::open(&path).unwrap());
    assert_eq!(ids(&path), ["resp_recent"]);
}

/// A database whose stored responses were kept before they had a time of making
/// opens: its responses are read back as made when it was opened, and new ones
/// are kept beside them.
#[test]
fn stored_responses_kept_without_a_time_of_making_are_read_back() {
    let dir = TempDir::new();
    let path = dir.file("ledger.sqlite");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE stored_responses (id TEXT PRIMARY KEY, tenant TEXT NOT NULL, \
             provider TEXT NOT NULL, tokens INTEGER NOT NULL) WITHOUT ROWID;
             INSERT INTO stored_responses VALUES ('resp_a', 'alpha', 'openai', 12);",
        )
        .unwrap();
    }
    let before = crate::now_ms();
    let ledger = Ledger::open(&path).unwrap();
    let kept = ledger.stored_response("resp_a").unwrap().unwrap();
    assert_eq!((kept.tenant.as_str(), kept.tokens), ("alpha", 12));
    assert!(kept.made_ms >= before && kept.made_ms <= crate::now_ms());
    ledger.keep_response(response("resp_b", "beta", 3)).unwrap();
    assert_eq!(
        ledger.stored_response("resp_b").unwrap(),
        Some(response("resp_b", "beta", 3))
    );
}

/// The writer lingers while entries keep coming and blocks on the channel once a
/// linger finds none: an entry after a quiet spell still wakes it, and one
/// recorded while it lingers is written when the ledger closes.
#[test]
fn entries_after_a_quiet_spell_and_at_close_are_written() {
    let dir = TempDir::new();
    let path = dir.file("ledger.sqlite");
    {
        let ledger = Ledger::open(&path).unwrap();
        ledger.record(entry("alpha", "gpt-4o", "0.1")).unwrap();
        ledger.flush().unwrap();
        // many lingers: the writer has found nothing and blocks
        std::thread::sleep(std::time::Duration::from_millis(50));
        ledger.record(entry("alpha", "gpt-4o", "0.2")).unwrap();
        ledger.flush().unwrap();
        assert_eq!(ledger.entries("alpha", 0, 10).unwrap().len(), 2);
        // the writer lingers after that batch; the ledger closes meanwhile
        ledger.record(entry("alpha", "gpt-4o", "0.3")).unwrap();
    }
    let ledger = Ledger::open(&path).unwrap();
    assert_eq!(ledger.entries("alpha", 0, 10).unwrap().len(), 3);
    assert_eq!(ledger.totals("alpha").cost_usd.to_string(), "0.6");
}

#[test]
fn money_is_stored_as_text() {
    let dir = TempDir::new();
    let path = dir.file("ledger.sqlite");
    let ledger = Ledger::open(&path).unwrap();
    ledger.record(entry("alpha", "m", "0.0004485")).unwrap();
    ledger.flush().unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let (ty, value): (String, String) = conn
        .query_row("SELECT typeof(cost_usd), cost_usd FROM ledger", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((ty.as_str(), value.as_str()), ("text", "0.0004485"));
}

#[test]
fn in_memory_ledgers_are_independent() {
    let a = Ledger::open(":memory:").unwrap();
    let b = Ledger::open(":memory:").unwrap();
    a.record(entry("alpha", "m", "1")).unwrap();
    assert_eq!(a.entries("alpha", 0, 10).unwrap().len(), 1);
    assert!(b.entries("alpha", 0, 10).unwrap().is_empty());
    assert_eq!(a.path(), ":memory:");
}

#[test]
fn concurrent_records_from_many_threads() {
    let dir = TempDir::new();
    let ledger = Ledger::open(&dir.file("ledger.sqlite")).unwrap();
    let threads = 8;
    let per_thread = 400;
    std::thread::scope(|s| {
        for t in 0..threads {
            let ledger = &ledger;
            s.spawn(move || {
                for i in 0..per_thread {
                    let tenant = if (t + i) % 3 == 0 { "beta" } else { "alpha" };
                    let cost = Decimal::new(i64::from(i) + 1, 7);
                    let mut e = entry(tenant, "gpt-4o-mini", "0");
                    e.cost_usd = cost;
                    ledger.record(e).unwrap();
                }
            });
        }
    });
    let all = ledger.all_entries(0, usize::MAX).unwrap();
    assert_eq!(all.len(), (threads * per_thread) as usize);
    let ids: Vec<u64> = all.iter().map(|e| e.id).collect();
    assert_eq!(ids, (1..=all.len() as u64).collect::<Vec<_>>());
    for tenant in ["alpha", "beta"] {
        let mine: Vec<LedgerEntry> = all.iter().filter(|e| e.tenant == tenant).cloned().collect();
        assert_eq!(totals_of(&ledger.totals(tenant)), sum_of(&mine));
    }
}

#[test]
fn inconsistent_entries_are_refused_and_not_counted() {
    let ledger = Ledger::open(":memory:").unwrap();
    let mut bad = entry("alpha", "m", "0.1");
    bad.usage.cached_tokens = bad.usage.prompt_tokens + 1;
    assert!(matches!(ledger.record(bad), Err(LedgerError::Invalid(_))));
    let negative = entry("alpha", "m", "-0.1");
    assert!(matches!(
        ledger.record(negative),
        Err(LedgerError::Invalid(_))
    ));
    let mut huge = entry("alpha", "m", "0");
    huge.usage.characters = u64::MAX;
    assert!(matches!(ledger.record(huge), Err(LedgerError::Invalid(_))));
    assert_eq!(ledger.totals("alpha").requests, 0);
    assert!(ledger.entries("alpha", 0, 10).unwrap().is_empty());
}

#[test]
fn after_shutdown_records_are_refused_but_reads_work() {
    let ledger = Ledger::open(":memory:").unwrap();
    ledger.record(entry("alpha", "m", "0.5")).unwrap();
    ledger.shutdown().unwrap();
    assert!(matches!(
        ledger.record(entry("alpha", "m", "1")),
        Err(LedgerError::Closed)
    ));
    ledger.flush().unwrap();
    assert_eq!(ledger.totals("alpha").cost_usd, d("0.5"));
    assert_eq!(ledger.entries("alpha", 0, 10).unwrap().len(), 1);
    ledger.shutdown().unwrap();
}

#[test]
fn a_damaged_row_is_reported_not_misread() {
    let dir = TempDir::new();
    let path = dir.file("ledger.sqlite");
    {
        let ledger = Ledger::open(&path).unwrap();
        ledger.record(entry("alpha", "m", "0.5")).unwrap();
    }
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("UPDATE ledger SET cost_usd = 'half a dollar'", [])
        .unwrap();
    drop(conn);
    let e = Ledger::open(&path).unwrap_err();
    assert!(
        matches!(
            e,
            LedgerError::Corrupt {
                id: 1,
                column: "cost_usd",
                ..
            }
        ),
        "{e}"
    );
}

fn arb_entry() -> impl Strategy<Value = LedgerEntry> {
    (
        prop::sample::select(vec!["alpha", "beta", "gamma"]),
        prop::sample::select(vec!["gpt-4o-mini", "deepseek-chat", "eleven_v3"]),
        prop::sample::select(vec!["openai", "azure"]),
        0_i64..10_000_000_000,
        0_u32..=18,
        any::<bool>(),
        (
            0_u64..100_000,
            0_u64..100_000,
            0_u64..100_000,
            0_u64..10_000,
        ),
    )
        .prop_map(
            |(tenant, model, provider, mantissa, scale, hit, (uncached, cached, out, chars))| {
                let amount = Decimal::new(mantissa, scale);
                let mut e = entry(tenant, model, "0");
                e.provider = provider.to_owned();
                e.usage = Usage {
                    prompt_tokens: uncached + cached,
                    cached_tokens: cached,
                    completion_tokens: out,
                    characters: chars,
                    requests: 0,
                };
                if hit {
                    e.cache = CacheOutcome::Hit;
                    e.saved_usd = amount;
                } else {
                    e.cost_usd = amount;
                }
                e
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Totals equal the exact sum of the tenant's entries, as read back from the
    /// database, before and after a restart.
    #[test]
    fn totals_equal_the_sum_of_entries(entries in prop::collection::vec(arb_entry(), 0..60)) {
        let dir = TempDir::new();
        let path = dir.file("ledger.sqlite");
        let ledger = Ledger::open(&path).unwrap();
        for e in &entries {
            ledger.record(e.clone()).unwrap();
        }
        for tenant in ["alpha", "beta", "gamma"] {
            let stored = ledger.entries(tenant, 0, usize::MAX).unwrap();
            prop_assert_eq!(totals_of(&ledger.totals(tenant)), sum_of(&stored));
            for m in ledger.totals(tenant).by_model.values() {
                let of_model: Vec<LedgerEntry> = stored
                    .iter()
                    .filter(|e| e.provider == m.provider && e.model == m.model)
                    .cloned()
                    .collect();
                let (cost, saved, requests, hits, units) = sum_of(&of_model);
                prop_assert_eq!((m.cost_usd, m.saved_usd, m.requests, m.cache_hits, m.units),
                    (cost, saved, requests, hits, units));
            }
        }
        let before = ledger.all_totals();
        drop(ledger);
        let reopened = Ledger::open(&path).unwrap();
        prop_assert_eq!(reopened.all_totals(), before);
    }
}

/// A ledger that cannot be opened says where and why, each once.
#[test]
fn an_unopenable_ledger_says_why_once() {
    let path = "/nonexistent-gatebench-folder/ledger.db";
    let error = Ledger::open(path).err().unwrap();
    let text = error.to_string();
    assert_eq!(text.matches(path).count(), 1, "{text}");
    assert_eq!(text.matches("unable to open").count(), 1, "{text}");
    assert!(std::error::Error::source(&error).is_none(), "{text}");
}
