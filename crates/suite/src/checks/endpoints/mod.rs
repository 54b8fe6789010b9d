//! Endpoint coverage: every front route of the gateway, its success path with the
//! response shape, and its error paths, probed one call at a time (see
//! [`probes`] for the table).
//!
//! Two criteria: the share of probes answered as expected (target `coverage_min`,
//! default 100 %), and the routes covered (every route of the router, and the
//! fallback for unknown paths, has at least one passing probe). The evidence is
//! the whole probe table: name, route, expectation, what came back, pass or fail.

mod call;
mod probes;
mod scripts;
mod shapes;

#[cfg(test)]
mod tests;

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use gatebench_report::{Criterion, Evidence, Recommendation};
use serde::Serialize;

use super::{CheckOutcome, Ctx, criterion, number};
use crate::subject::DEMO_KEYS;
use probes::{Action, Keys, Probe, ROUTES};
use scripts::Session;

/// What one probe found.
#[derive(Clone, Debug, Serialize)]
pub struct ProbeResult {
    /// Probe name.
    pub name: String,
    /// Route covered.
    pub route: String,
    /// What it had to answer.
    pub expected: String,
    /// What came back.
    pub got: String,
    /// As expected?
    pub passed: bool,
    /// How long it took, ms (for the reader; never judged).
    pub ms: f64,
}

/// Runs every probe against the subject and judges the table.
pub async fn run(ctx: &Ctx<'_>) -> Result<CheckOutcome, String> {
    let keys = keys(ctx.subject.key(), ctx.seed);
    let results = probe_all(ctx.subject.http(), &ctx.subject.gateway, &keys).await;
    Ok(judge(ctx, &results))
}

/// The suite's key, another demo tenant's, and a token unique to this run.
fn keys(own: &str, seed: u64) -> Keys {
    let other = DEMO_KEYS
        .iter()
        .find(|k| **k != own)
        .copied()
        .unwrap_or(DEMO_KEYS[1]);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    Keys {
        own: own.to_owned(),
        other: other.to_owned(),
        nonce: format!("{seed}-{nanos:x}"),
    }
}

/// Runs every probe, in order.
pub async fn probe_all(http: &reqwest::Client, base: &str, keys: &Keys) -> Vec<ProbeResult> {
    let session = Session { http, base, keys };
    let mut results = Vec::new();
    for probe in probes::table(keys) {
        let started = Instant::now();
        let outcome = match &probe.action {
            Action::Call(request, judge) => match call::send(http, base, request).await {
                Ok(reply) => match judge(&reply) {
                    Ok(shown) => Ok(format!("{}: {shown}", reply.status)),
                    Err(wrong) if wrong.starts_with("status ") => Err(wrong),
                    Err(wrong) => Err(format!("status {}: {wrong}", reply.status)),
                },
                Err(error) => Err(error),
            },
            Action::Script(script) => scripts::run(*script, &session).await,
        };
        let ms = (started.elapsed().as_secs_f64() * 100_000.0).round() / 100.0;
        tracing::debug!(
            probe = probe.name,
            route = probe.route,
            passed = outcome.is_ok(),
            "endpoint probe"
        );
        results.push(result(&probe, outcome, ms));
    }
    results
}

fn result(probe: &Probe, outcome: Result<String, String>, ms: f64) -> ProbeResult {
    let passed = outcome.is_ok();
    ProbeResult {
        name: probe.name.to_owned(),
        route: probe.route.to_owned(),
        expected: probe.expect.clone(),
        got: outcome.unwrap_or_else(|wrong| wrong),
        passed,
        ms,
    }
}

/// Routes of the router with no passing probe.
pub fn uncovered(results: &[ProbeResult]) -> Vec<&'static str> {
    ROUTES
        .iter()
        .copied()
        .filter(|route| !results.iter().any(|r| r.passed && r.route == *route))
        .collect()
}

fn judge(ctx: &Ctx<'_>, results: &[ProbeResult]) -> CheckOutcome {
    let total = results.len();
    let passed = results.iter().filter(|r| r.passed).count();
    let share = (total > 0).then(|| 100.0 * passed as f64 / total as f64);
    let target = ctx.spec.targets.coverage_min.unwrap_or(100.0);
    let failures: Vec<&ProbeResult> = results.iter().filter(|r| !r.passed).collect();
    let missing = uncovered(results);
    let covered = ROUTES.len() - missing.len();

    let mut probes_measured = format!("{passed} of {total} probes");
    if !failures.is_empty() {
        let names: Vec<&str> = failures.iter().map(|r| r.name.as_str()).collect();
        probes_measured.push_str(&format!("; failed: {}", names.join(", ")));
    }
    let mut routes_measured = format!("{covered} of {} routes", ROUTES.len());
    if !missing.is_empty() {
        routes_measured.push_str(&format!("; no passing probe: {}", missing.join(", ")));
    }
    let criteria: Vec<Criterion> = vec![
        criterion(
            "probes answered as expected",
            share,
            "%",
            target,
            true,
            probes_measured,
        ),
        criterion(
            "routes covered",
            Some(100.0 * covered as f64 / ROUTES.len() as f64),
            "%",
            100.0,
            true,
            routes_measured,
        ),
    ];

    let mut summary = String::new();
    for failure in &failures {
        summary.push_str(&format!(
            "FAILED {} ({}): expected {}; got {}. ",
            failure.name, failure.route, failure.expected, failure.got
        ));
    }
    summary.push_str(&format!(
        "{passed} of {total} probes answered as expected ({}); {covered} of {} routes have a passing probe.",
        share.map_or("-".into(), |s| number(s, "%")),
        ROUTES.len()
    ));
    let details = serde_json::to_value(results).unwrap_or_default();

    let mut recommendations = Vec::new();
    if !failures.is_empty() {
        let mut routes: Vec<&str> = Vec::new();
        for failure in &failures {
            if !routes.contains(&failure.route.as_str()) {
                routes.push(&failure.route);
            }
        }
        recommendations.push(Recommendation {
            rule: "endpoint-contract".into(),
            check: ctx.spec.name.clone(),
            message: format!(
                "Fix the routes that do not answer as an SDK expects before release: {}. Each failed probe in the evidence shows the request's expectation and the answer.",
                routes.join(", ")
            ),
            figure: format!("{} of {total} probes failed", failures.len()),
        });
    }
    CheckOutcome {
        result: ctx.result(criteria, Evidence { summary, details }),
        runs: Vec::new(),
        charts: Vec::new(),
        recommendations,
    }
}
