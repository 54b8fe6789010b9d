//! Tenant isolation: one tenant asks a set of questions (more than once, so a cache
//! stores the answers), then a second tenant asks the same ones. An answer the
//! second tenant gets without an upstream call must be one it could have cached
//! itself: the same question (or intent) went upstream for it earlier in its own
//! run. Otherwise it was served from the first tenant's entries.
//!
//! When the first tenant's run made stored responses (the Responses API), the
//! second tenant then asks for a few of them by id ([`reach`]).

mod reach;

use std::collections::{BTreeMap, HashMap};

use gatebench_report::{Evidence, Source};
use serde_json::json;

use super::judged::Judged;
use super::{CheckOutcome, Ctx, by_class, criterion, first, not_measurable};
use crate::subject::DEMO_KEYS;
use crate::truth::{CLOCK_SLACK_MS, generates_text};

pub async fn run(ctx: &Ctx<'_>) -> Result<CheckOutcome, String> {
    let scenario = ctx.spec.scenario.as_deref().unwrap_or_default();
    let keys = &ctx.subject.keys;
    if keys.len() < 2 || keys[0] == keys[1] {
        let criteria = vec![not_measurable(
            ctx,
            "answers served across tenants",
            "isolation needs two tenants: give a second --key",
            Source::Truth,
        )];
        let evidence = Evidence {
            summary: "Not measured: only one tenant key was given.".into(),
            details: serde_json::Value::Null,
        };
        return Ok(CheckOutcome {
            result: ctx.result(criteria, evidence),
            runs: Vec::new(),
            charts: Vec::new(),
            recommendations: Vec::new(),
        });
    }
    let as_tenant = |key: &str| {
        DEMO_KEYS
            .iter()
            .map(|demo| (demo.to_string(), key.to_owned()))
            .collect()
    };
    let first_tenant = ctx.drive_judged_as(scenario, as_tenant(&keys[0])).await?;
    let second = ctx.drive_judged_as(scenario, as_tenant(&keys[1])).await?;

    let probes = reach::probe(ctx, scenario, first_tenant.records(), &keys[0], &keys[1]).await?;

    let (answered, leaks) = leaks(&second);
    let most = ctx.spec.targets.leaks_max.unwrap_or(0) as f64;
    let mut criteria = vec![
        criterion(
            "answers served across tenants",
            (answered > 0).then_some(leaks.len() as f64),
            "count",
            most,
            false,
            format!("{} of the second tenant's {answered} answers", leaks.len()),
        )
        .from_source(Source::Truth),
    ];
    let mut summary = format!(
        "The first tenant's run made {} upstream calls; the second tenant then asked the same questions: {} of its {answered} answers came from no call of its own. {}",
        first_tenant.window.calls.len(),
        leaks.len(),
        second.attribution_sentence()
    );
    if !probes.is_empty() {
        const NAME: &str = "stored responses reached by another tenant";
        let reached = probes.iter().filter(|p| p.reached()).count();
        // what each probe got, counted: `404 × 3`
        let tally = |got: fn(&reach::Probe) -> reach::Got| {
            let mut counts: BTreeMap<String, u64> = BTreeMap::new();
            for probe in &probes {
                *counts.entry(got(probe).to_string()).or_default() += 1;
            }
            by_class(&counts)
        };
        criteria.push(if reached == 0 && !probes.iter().any(reach::Probe::served) {
            not_measurable(
                ctx,
                NAME,
                &format!(
                    "the target served the first tenant neither a read nor a continuation of its own responses (read {}; continued {})",
                    tally(|p| p.own_read),
                    tally(|p| p.own_continued),
                ),
                Source::Client,
            )
        } else {
            criterion(
                NAME,
                Some(reached as f64),
                "count",
                most,
                false,
                format!(
                    "{reached} of {} of the first tenant's responses (read {}; continued {})",
                    probes.len(),
                    tally(|p| p.read),
                    tally(|p| p.continued),
                ),
            )
            .from_source(Source::Client)
        });
        summary.push_str(&format!(
            " The second tenant then read and continued {} of the first tenant's stored responses by id: {reached} reached.",
            probes.len(),
        ));
    }
    let evidence = Evidence {
        summary,
        details: json!({
            "answers_judged": answered,
            "leaks": first(&leaks),
            "stored_responses_probed": probes.iter().map(reach::Probe::shown).collect::<Vec<_>>(),
            "first_tenant": first_tenant.truth_notes(),
            "second_tenant": second.truth_notes(),
        }),
    };
    Ok(CheckOutcome {
        result: ctx.result(criteria, evidence),
        runs: vec![
            (
                format!("{}-first", first_tenant.results.name),
                first_tenant.results,
            ),
            (format!("{}-second", second.results.name), second.results),
        ],
        charts: Vec::new(),
        recommendations: Vec::new(),
    })
}

/// The second tenant's answered requests for generated text, and those of them
/// that were served without an upstream call of their own and without this tenant
/// having asked the question (or, for a semantic cache, its intent) upstream
/// before. "Before" allows for the clocks: a call's arrival and a request's end
/// are each read to the millisecond, and the mocks' clock may be off the driver's.
fn leaks(second: &Judged) -> (u64, Vec<String>) {
    // The second tenant's own questions, by intent (a semantic cache may answer a
    // paraphrase from the tenant's own earlier entry).
    let intent_of: HashMap<&str, &str> = second
        .records()
        .iter()
        .filter_map(|r| Some((r.prompt_digest.as_deref()?, r.intent.as_deref()?)))
        .collect();
    let mut answered = 0u64;
    let mut leaks = Vec::new();
    for (r, record) in second.records().iter().enumerate() {
        if !generates_text(record) || record.outcome != "ok" {
            continue;
        }
        answered += 1;
        if second.went_upstream(r) {
            continue;
        }
        let ended = second.ended_ms(r) + CLOCK_SLACK_MS;
        let intent = record.intent.as_deref();
        let asked_before = second.window.calls.iter().any(|c| {
            c.at_ms as f64 <= ended
                && (c.prompt_digest == record.prompt_digest
                    || (intent.is_some()
                        && c.prompt_digest
                            .as_deref()
                            .and_then(|p| intent_of.get(p))
                            .copied()
                            == intent))
        });
        if !asked_before {
            leaks.push(format!(
                "{} ({}): answered without an upstream call, and this tenant had not asked it before",
                record.client_request_id.as_deref().unwrap_or("?"),
                intent.unwrap_or("?")
            ));
        }
    }
    (answered, leaks)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use gatebench_driver::RequestRecord;
    use gatebench_driver::results::{RunMeta, build};
    use gatebench_wire::books::CallRecord;

    use super::*;
    use crate::truth::{Window, chat_call};

    fn record(id: &str, sent_ms: f64, latency_ms: f64) -> RequestRecord {
        serde_json::from_value(json!({
            "scenario": "s", "request": "r", "kind": "chat",
            "intended_ms": sent_ms, "sent_ms": sent_ms, "latency_ms": latency_ms,
            "latency_uncorrected_ms": latency_ms, "status": 200, "outcome": "ok",
            "client_request_id": id, "prompt_digest": "p1", "content_digest": "c1",
        }))
        .unwrap()
    }

    fn call(at_ms: u64, prompt: &str) -> CallRecord {
        CallRecord {
            at_ms,
            ..chat_call(None, prompt, "c1", true)
        }
    }

    /// The second tenant's run, started 10,000.9 ms after the epoch (read back to
    /// the millisecond, 10,000), with `records` and the mocks' `calls`.
    fn second(records: Vec<RequestRecord>, calls: Vec<CallRecord>) -> Judged {
        let meta = RunMeta {
            name: "second".into(),
            scenario_file: None,
            seed: 1,
            started_at: SystemTime::UNIX_EPOCH + Duration::from_micros(10_000_900),
            planned: Duration::from_secs(1),
            aborted: false,
            abort_reason: None,
            executors: Default::default(),
            time_scale: None,
        };
        let mut results = build(meta, &Default::default(), Vec::new(), None, Vec::new());
        results.requests = Some(records);
        Judged::new(
            results,
            Window {
                calls,
                ..Window::default()
            },
        )
    }

    #[test]
    fn a_hit_on_the_tenants_own_answer_a_moment_old_is_no_leak() {
        // a's call arrives at 10,001.2 (read 10,001); b, a hit on a's answer,
        // ends at 10,001.8: by the driver's millisecond clock, at 10,000 + 0.9.
        let (answered, leaks) = leaks(&second(
            vec![record("a", 0.2, 0.5), record("b", 0.8, 0.1)],
            vec![call(10_001, "p1")],
        ));
        assert_eq!((answered, leaks), (2, Vec::new()));
    }

    #[test]
    fn a_hit_on_a_question_the_tenant_never_sent_is_a_leak() {
        let (answered, leaks) = leaks(&second(
            vec![record("b", 0.8, 0.1)],
            vec![call(10_001, "p2")],
        ));
        assert_eq!(answered, 1);
        assert_eq!(leaks.len(), 1, "{leaks:?}");
        assert!(leaks[0].starts_with("b "), "{leaks:?}");
    }
}
