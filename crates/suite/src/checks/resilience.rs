//! Error resilience: the mocks inject a fault mix and an outage window (the check's
//! `faults`); the client should still see its requests succeed thanks to retries
//! and fallbacks, every failure it does see should be a clean, classified error,
//! and the gateway should report ready again soon after the outage ends.
//!
//! Readiness is polled on `/readyz` every 100 ms while the scenario runs. A clean
//! failure is an HTTP error with a body (the provider's or the gateway's error
//! shape), an error event that ends a stream (the API's own way to fail one that
//! has begun), or the cut of a stream the gateway had already started to relay
//! (which no proxy can take back); timeouts, resets, malformed bodies and 200s
//! that fail validation are not clean.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use gatebench_report::{Chart, ChartKind, Evidence, Recommendation, Series};
use serde_json::json;

use super::{CheckOutcome, Ctx, by_class, criterion, number};

const UNCLEAN: [&str; 7] = [
    "timeout",
    "connect_error",
    "tls_error",
    "reset",
    "malformed_body",
    "validation_failure",
    "interrupted",
];

pub async fn run(ctx: &Ctx<'_>) -> Result<CheckOutcome, String> {
    // Re-apply the faults so their windows count from now.
    ctx.subject
        .apply_faults(&ctx.spec.faults)
        .await
        .map_err(|e| e.to_string())?;
    let epoch = Instant::now();
    let outage_end = outage_end(&ctx.spec.faults);

    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let subject = ctx.subject;
    let poll = async {
        let mut samples: Vec<(f64, bool)> = Vec::new();
        loop {
            samples.push((epoch.elapsed().as_secs_f64(), subject.ready().await));
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                _ = stopped.changed() => break,
            }
        }
        samples
    };
    let has_readyz = subject.ready_route().await;
    let drive = async {
        let result = ctx
            .drive_judged(ctx.spec.scenario.as_deref().unwrap_or_default())
            .await;
        // Keep watching a little after the run, in case readiness lags the load.
        let grace = outage_end.map_or(Duration::ZERO, |end| {
            end.saturating_sub(epoch.elapsed()) + Duration::from_secs(10)
        });
        if !grace.is_zero() && result.is_ok() {
            let deadline = Instant::now() + grace;
            while Instant::now() < deadline && !subject.ready().await {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        let _ = stop.send(true);
        result
    };
    let (samples, judged) = tokio::join!(poll, drive);
    let judged = judged?;
    let behaviour = judged.under_faults();
    let results = &judged.results;
    let totals = &results.totals;
    if totals.sent == 0 {
        return Err("the scenario sent no request".into());
    }
    let records = results.requests.as_deref().unwrap_or_default();

    let success = 100.0 * totals.ok as f64 / totals.sent as f64;
    let mut failures: BTreeMap<String, u64> = BTreeMap::new();
    for r in records.iter().filter(|r| r.outcome != "ok") {
        *failures.entry(r.outcome.clone()).or_default() += 1;
    }
    let unclean: u64 = failures
        .iter()
        .filter(|(k, _)| UNCLEAN.contains(&k.as_str()))
        .map(|(_, n)| n)
        .sum();
    let fallbacks = records
        .iter()
        .filter(|r| r.provider.as_deref().is_some_and(|p| p != "openai"))
        .count();
    let retried = records
        .iter()
        .filter(|r| r.attempts.is_some_and(|a| a > 1))
        .count();

    let went_down = samples.iter().any(|(_, ready)| !ready);
    let recovered = outage_end.and_then(|end| {
        let end = end.as_secs_f64();
        samples
            .iter()
            .find(|(t, ready)| *t >= end && *ready)
            .map(|(t, _)| (t - end).max(0.0))
    });
    let mut criteria = vec![
        criterion(
            "client-visible success",
            Some(success),
            "%",
            ctx.spec.targets.success_rate_min.unwrap_or(95.0),
            true,
            format!(
                "{success:.2}% ({} of {}; {retried} retried, {fallbacks} served by a fallback)",
                totals.ok, totals.sent
            ),
        ),
        criterion(
            "unclean failures",
            Some(unclean as f64),
            "count",
            0.0,
            false,
            format!("{unclean} (failures by class: {})", by_class(&failures)),
        ),
    ];
    if outage_end.is_some() && has_readyz {
        criteria.push(criterion(
            "ready after the outage",
            recovered,
            "s",
            ctx.spec.targets.ready_within_s.unwrap_or(5.0),
            false,
            match recovered {
                Some(s) => format!(
                    "{} after it ended{}",
                    number(s, "s"),
                    if went_down {
                        ""
                    } else {
                        " (never reported unready)"
                    }
                ),
                None => "not ready again while watched".into(),
            },
        ));
    }

    let mut recommendations = Vec::new();
    if success < ctx.spec.targets.success_rate_min.unwrap_or(95.0) {
        recommendations.push(Recommendation {
            rule: "resilience-fallbacks".into(),
            check: ctx.spec.name.clone(),
            message: "Add fallbacks to another provider for the affected models, or more retry attempts; check that retry-after waits stay under max_retry_after.".into(),
            figure: format!("success {success:.2}% with {fallbacks} fallbacks and {retried} retries"),
        });
    }
    let chart = Chart {
        id: format!("{}-readiness", ctx.spec.name),
        title: "Readiness during the fault window (1 = ready)".into(),
        kind: ChartKind::Line,
        x_label: "s".into(),
        y_unit: "ready".into(),
        categories: Vec::new(),
        series: vec![Series {
            name: "/readyz".into(),
            points: samples
                .iter()
                .map(|(t, ready)| [*t, if *ready { 1.0 } else { 0.0 }])
                .collect(),
        }],
        load: None,
    };
    let evidence = Evidence {
        summary: format!(
            "{} requests through the fault mix: {} succeeded ({success:.2}%), {retried} after retries, {fallbacks} via a fallback provider; failures by class: {}. Readiness {}.",
            totals.sent,
            totals.ok,
            by_class(&failures),
            match (outage_end, recovered) {
                (Some(end), Some(s)) => format!(
                    "returned {} after the outage ended at {}",
                    number(s, "s"),
                    number(end.as_secs_f64(), "s")
                ),
                (Some(_), None) => "did not return".to_owned(),
                (None, _) => "was not judged (no outage window)".to_owned(),
            }
        ),
        details: json!({
            "under_each_fault": behaviour,
            "truth": judged.truth_notes(),
            "readyz": has_readyz,
            "failures": failures,
            "retried": retried,
            "fallbacks": fallbacks,
            "outage_end_s": outage_end.map(|d| d.as_secs_f64()),
            "ready_again_after_s": recovered,
            "readiness_samples": samples.len(),
        }),
    };
    let name = results.name.clone();
    Ok(CheckOutcome {
        result: ctx.result(criteria, evidence),
        runs: vec![(name, judged.results)],
        charts: vec![chart],
        recommendations,
    })
}

/// End of the latest outage-like window in the fault specs.
fn outage_end(faults: &BTreeMap<String, toml::Value>) -> Option<Duration> {
    const OUTAGES: [&str; 6] = [
        "unavailable",
        "server_error",
        "bad_gateway",
        "timeout",
        "hang",
        "reset",
    ];
    faults
        .values()
        .filter_map(|spec| spec.get("windows")?.as_array().cloned())
        .flatten()
        .filter(|w| {
            w.get("kind")
                .and_then(toml::Value::as_str)
                .is_some_and(|k| OUTAGES.contains(&k))
        })
        .filter_map(|w| gatebench_driver::parse_duration(w.get("to")?.as_str()?).ok())
        .max()
}
