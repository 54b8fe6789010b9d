//! The judgement of a whole run: matching, coverage, totals, and what the
//! report shows of it.

use std::path::Path;

use gatebench_driver::RequestRecord;
use serde_json::{Value, json};

use super::super::coverage::{Shape, Shapes};
use super::super::judge::{Inputs, Judgement, judge};
use super::super::outcome;
use super::super::recompute::Pricing;
use super::super::totals;
use super::{chat_entry, chat_record, d, entry_json, parse, record, table};

/// Judges entries (all of them this run's) against records.
fn judged(
    entries: &[Value],
    records: &[RequestRecord],
    usage: &Value,
    faults_applied: bool,
) -> Judgement {
    let table = table();
    let shapes = shapes();
    judge(&Inputs {
        run_entries: entries,
        all_entries: entries,
        usage,
        records,
        shapes: &shapes,
        pricing: Pricing {
            table: &table,
            fallback: None,
        },
        faults_applied,
    })
}

fn shapes() -> Shapes {
    let shape = |stream, include_usage| Shape {
        kind: "chat".into(),
        stream,
        include_usage,
        model: Some("gpt-4o-mini".into()),
        cacheable: true,
    };
    let mut shapes = Shapes::new();
    shapes.insert(("cost".into(), "chat".into()), shape(false, false));
    shapes.insert(
        ("cost".into(), "stream_no_usage".into()),
        shape(true, false),
    );
    shapes
}

fn usage_for(cost: &str, saved: &str, requests: u64) -> Value {
    json!({ "tenant": "alpha", "cost_usd": cost, "saved_usd": saved, "requests": requests,
            "by_model": { "gpt-4o-mini": { "cost_usd": cost, "saved_usd": saved, "requests": requests } } })
}

#[test]
fn a_price_file_that_disagrees_lists_the_entry_field_and_values() {
    let table = table();
    let mut wrong = chat_entry("r2", "0.0004695", "miss", "0");
    // the gateway used 0.25 for input: 210 × 0.25 + 1024 × 0.075 + 567 × 0.60
    wrong["prices"]["input_per_million"] = json!("0.25");
    let entries = vec![chat_entry("r1", "0.0004485", "miss", "0"), wrong];
    let records = vec![
        chat_record("r1", Some("0.0004485")),
        chat_record("r2", Some("0.0004695")),
    ];
    let usage = usage_for("0.000918", "0", 2);
    let j = judged(&entries, &records, &usage, false);
    assert_eq!((j.entries, j.exact, j.mismatched_entries), (2, 1, 1));
    assert_eq!(j.exact_pct(), Some(50.0));
    let price = j
        .mismatches
        .iter()
        .find(|d| d.field == "prices.input_per_million")
        .unwrap();
    assert_eq!(
        (
            price.request_id.as_str(),
            price.model.as_str(),
            price.expected.as_str(),
            price.found.as_str()
        ),
        ("r2", "gpt-4o-mini", "0.15", "0.25")
    );
    assert!(
        price
            .file
            .as_deref()
            .is_some_and(|f| f.ends_with("openai.toml"))
    );
    let cost = j.mismatches.iter().find(|d| d.field == "cost_usd").unwrap();
    assert_eq!(
        (cost.expected.as_str(), cost.found.as_str()),
        ("0.0004485", "0.0004695")
    );
    assert!(j.totals.equal(), "{:?}", j.totals.diffs);

    let criteria = outcome::criteria(&j, 100.0);
    assert!(
        !criteria[0].passed && criteria[1].passed && criteria[2].passed,
        "{criteria:?}"
    );
    let evidence = outcome::evidence(&j, Path::new("pricing"), table.len());
    assert!(
        evidence
            .summary
            .contains("r2 gpt-4o-mini prices.input_per_million: expected 0.15, found 0.25"),
        "{}",
        evidence.summary
    );
    let listed = evidence.details["mismatches"].as_array().unwrap();
    assert!(listed.iter().any(|m| m["request_id"] == "r2"
        && m["field"] == "cost_usd"
        && m["expected"] == "0.0004485"));
    let advice = outcome::recommendations(&j, "cost_accuracy", Path::new("pricing"));
    let mismatch = advice.iter().find(|r| r.rule == "cost-mismatch").unwrap();
    assert!(
        mismatch.message.contains("openai.toml") && mismatch.figure.contains("1 of 2"),
        "{mismatch:?}"
    );
}

#[test]
fn a_stream_without_usage_is_recomputed_from_its_own_units_and_counted() {
    let entries = vec![chat_entry("s", "0.0004485", "miss", "0")];
    let records = vec![record(
        "stream_no_usage",
        "chat",
        200,
        Some("s"),
        json!({ "cache": "miss", "model": "gpt-4o-mini" }),
    )];
    let usage = usage_for("0.0004485", "0", 1);
    let j = judged(&entries, &records, &usage, true);
    assert_eq!(
        (j.exact, j.units_from_entry, j.streams_without_usage),
        (1, 1, 1)
    );
    assert_eq!(j.coverage.checked("stream without usage"), 1);
    assert_eq!(j.coverage.checked("provider-cached tokens"), 1);
    // asked for (chat, stream without usage, cached tokens, cache hits, fallbacks): chat,
    // hits and fallbacks did not happen
    assert_eq!(j.missing, ["chat", "cache hits", "fallbacks"]);
    assert!(
        outcome::evidence(&j, Path::new("pricing"), 5)
            .summary
            .contains("Not exercised by the workload: chat, cache hits, fallbacks")
    );
}

#[test]
fn every_answered_request_has_exactly_one_entry() {
    let mut failed = chat_entry("gone", "0", "miss", "0");
    failed["usage"] = json!({});
    failed["flags"]["failed"] = json!(true);
    let entries = vec![
        chat_entry("r1", "0.0004485", "miss", "0"),
        chat_entry("r1", "0.0004485", "miss", "0"), // billed twice
        chat_entry("stray", "0.0004485", "miss", "0"), // no response
        failed,                                     // a failure whose error response carried no id
    ];
    let records = vec![
        chat_record("r1", None),
        chat_record("unbilled", None),
        record("chat", "chat", 200, None, json!({})),
        record("chat", "chat", 503, None, json!({})),
    ];
    let usage = usage_for("0.0013455", "0", 4);
    let j = judged(&entries, &records, &usage, false);
    assert_eq!(
        j.unmatched_responses,
        ["unbilled", "chat (no x-gatebench-request-id)"]
    );
    assert_eq!(j.unmatched_entries, ["r1 (duplicate)", "stray"]);
    assert_eq!((j.failed_without_response, j.failures_without_id), (1, 1));
    assert!(j.mismatches.iter().any(|d| d.field == "request_id"));
    let criteria = outcome::criteria(&j, 100.0);
    assert_eq!(criteria[2].value, Some(4.0));
    assert!(!criteria[2].passed);
    assert!(criteria[1].passed, "{criteria:?}");
}

#[test]
fn totals_must_equal_the_exact_sums() {
    let entry = |request_id: &str, model: &str, cost: &str, saved: &str| {
        parse(&entry_json(
            request_id,
            model,
            "chat",
            json!({}),
            json!({}),
            [cost, if saved == "0" { "miss" } else { "hit" }, saved],
        ))
    };
    // 0.1 + 0.2 is 0.3 exactly in decimals, not 0.30000000000000004
    let entries = vec![
        entry("a", "gpt-4o-mini", "0.1", "0"),
        entry("b", "gpt-4o-mini", "0.2", "0"),
        entry("c", "gpt-4o", "0", "0.5"),
    ];
    let usage = json!({
        "cost_usd": "0.3", "saved_usd": "0.50", "requests": 3,
        "by_model": {
            "gpt-4o-mini": { "cost_usd": "0.30", "saved_usd": "0", "requests": 2 },
            "gpt-4o": { "cost_usd": "0", "saved_usd": "0.5", "requests": 1 }
        }
    });
    let report = totals::check(&entries, &usage);
    assert!(report.equal(), "{:?}", report.diffs);
    assert_eq!(report.tenant.cost, d("0.3"));

    let mut off = usage.clone();
    off["cost_usd"] = json!("0.30000000000000004");
    off["by_model"]["gpt-4o"]["requests"] = json!(2);
    off["by_model"]["ghost"] = json!({ "cost_usd": "1", "saved_usd": "0", "requests": 1 });
    let report = totals::check(&entries, &off);
    let found: Vec<(String, String, String, String)> = report
        .diffs
        .iter()
        .map(|d| {
            (
                d.scope.clone(),
                d.field.clone(),
                d.expected.clone(),
                d.found.clone(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            (
                "tenant".into(),
                "cost_usd".into(),
                "0.3".into(),
                "0.30000000000000004".into()
            ),
            (
                "model gpt-4o".into(),
                "requests".into(),
                "1".into(),
                "2".into()
            ),
            (
                "model ghost".into(),
                "cost_usd".into(),
                "no entries".into(),
                "1".into()
            ),
        ]
    );
    let mut missing = usage;
    missing["by_model"]
        .as_object_mut()
        .unwrap()
        .remove("gpt-4o");
    assert!(
        totals::check(&entries, &missing)
            .diffs
            .iter()
            .any(|d| d.scope == "model gpt-4o" && d.found == "missing")
    );
}

#[test]
fn nothing_to_verify_fails() {
    let usage = json!({ "cost_usd": "0", "saved_usd": "0", "requests": 0, "by_model": {} });
    let j = judged(&[], &[], &usage, false);
    let criteria = outcome::criteria(&j, 100.0);
    assert!(!criteria[0].passed);
    assert!(criteria[0].measured.contains("no ledger entries"));
}

#[test]
fn an_unreadable_entry_is_a_mismatch_not_a_panic() {
    let entries = vec![json!({ "request_id": "x", "model": "gpt-4o-mini", "cost_usd": "lots" })];
    let usage = json!({});
    let j = judged(&entries, &[], &usage, false);
    assert_eq!((j.entries, j.exact), (1, 0));
    assert_eq!(j.mismatches[0].field, "entry");
    assert!(!j.totals.equal());
}

#[test]
fn the_chart_has_cost_and_saved_by_provider_and_model() {
    let entries = vec![
        chat_entry("r1", "0.0004485", "miss", "0"),
        chat_entry("h", "0", "hit", "0.0004485"),
    ];
    let records = vec![chat_record("r1", None), chat_record("h", None)];
    let usage = json!({});
    let j = judged(&entries, &records, &usage, false);
    let chart = outcome::chart(&j, "cost_accuracy");
    assert_eq!(chart.categories, ["openai/gpt-4o-mini"]);
    assert_eq!(
        chart
            .series
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>(),
        ["cost", "saved"]
    );
    assert_eq!(chart.series[0].points, [[0.0, 0.0004485]]);
    assert_eq!(chart.series[1].points, [[0.0, 0.0004485]]);
}
