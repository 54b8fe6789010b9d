//! Streaming fidelity: concurrent streamed text (chat, text completions, responses)
//! through the target. Each stream the client reassembles must equal, to the byte,
//! the content the mock produced for it (no chunk dropped, duplicated, reordered or
//! mixed with another stream's), and the usage of its final chunk (a response's
//! last event) must equal the mock's. A stream replayed from a cache is compared
//! with the call that first produced its content.

use std::collections::BTreeMap;

use gatebench_report::{Evidence, Source};
use serde_json::json;

use super::judged::Judged;
use super::usage::usage_diff;
use super::{CheckOutcome, Ctx, criterion, first, not_measurable, share};
use crate::truth::generates_text;

/// What the streams were found to be.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Fidelity {
    /// Streams the client read to the end.
    pub streams: u64,
    /// Of those, by the kind of request (chat, completions, responses).
    pub by_kind: BTreeMap<String, u64>,
    /// Equal to the content of the call they came from.
    pub faithful: u64,
    /// Their own upstream call delivered different content.
    pub altered: Vec<String>,
    /// No call of the window delivered this content.
    pub unknown: Vec<String>,
    /// Replayed from a cache (no upstream call of their own).
    pub replayed: u64,
    /// Final usage reported and compared with their own call.
    pub usage_compared: u64,
    /// Of those, equal in prompt, cached and completion tokens.
    pub usage_exact: u64,
    /// The usage differences.
    pub usage_wrong: Vec<String>,
}

/// Judges the streamed text answers of a run, of every kind that generates text.
pub fn judge(judged: &Judged) -> Fidelity {
    let mut f = Fidelity::default();
    for (r, record) in judged.records().iter().enumerate() {
        if !generates_text(record) || record.chunks.is_none() || record.outcome != "ok" {
            continue;
        }
        f.streams += 1;
        *f.by_kind.entry(record.kind.clone()).or_default() += 1;
        let id = record
            .client_request_id
            .clone()
            .unwrap_or_else(|| format!("#{r}"));
        // The last complete attempt is the one whose content the client got.
        let own = judged.calls_of(r).filter(|c| c.complete).last();
        let faithful = match own {
            Some(call) => call.content_digest == record.content_digest,
            None => judged.source_of(r).is_some(),
        };
        match own {
            _ if faithful => f.faithful += 1,
            Some(call) => f.altered.push(format!(
                "{id}: received {} but the mock sent {} ({})",
                record.content_digest.as_deref().unwrap_or("nothing"),
                call.content_digest.as_deref().unwrap_or("nothing"),
                call.request_id
            )),
            None => f.unknown.push(format!(
                "{id}: content {} came from no upstream call",
                record.content_digest.as_deref().unwrap_or("-")
            )),
        }
        if own.is_none() {
            f.replayed += 1;
        }
        if let Some(call) = own.filter(|_| record.usage.is_some()) {
            f.usage_compared += 1;
            match usage_diff(record, call) {
                None => f.usage_exact += 1,
                Some(diff) => f.usage_wrong.push(diff),
            }
        }
    }
    f
}

/// The verdict on a run and the mocks' calls during it (one process's, or
/// its segments' merged).
pub(super) fn verdict(ctx: &Ctx<'_>, judged: Judged) -> Result<CheckOutcome, String> {
    let f = judge(&judged);
    if f.streams == 0 {
        return Err(format!(
            "no stream was read to its end ({} requests sent)",
            judged.results.totals.sent
        ));
    }
    let faithful = share(f.faithful, f.streams);
    let mut criteria = vec![
        criterion(
            "streams equal to the mock's content",
            faithful,
            "%",
            ctx.spec.targets.faithful_min.unwrap_or(100.0),
            true,
            format!(
                "{} of {} ({} replayed from a cache; {} altered, {} from no upstream call)",
                f.faithful,
                f.streams,
                f.replayed,
                f.altered.len(),
                f.unknown.len()
            ),
        )
        .from_source(Source::Truth),
    ];
    criteria.push(if f.usage_compared == 0 {
        not_measurable(
            ctx,
            "final usage equal to the mock's",
            "no stream that went upstream reported usage",
            Source::ClaimVsTruth,
        )
    } else {
        criterion(
            "final usage equal to the mock's",
            share(f.usage_exact, f.usage_compared),
            "%",
            ctx.spec.targets.exact_min.unwrap_or(100.0),
            true,
            format!("{} of {} streams", f.usage_exact, f.usage_compared),
        )
        .from_source(Source::ClaimVsTruth)
    });
    let evidence = Evidence {
        summary: format!(
            "{} streams read to the end ({}): {} equal to the content the mock produced, {} altered, {} of unknown origin; final usage exact on {} of {}. {}",
            f.streams,
            f.by_kind
                .iter()
                .map(|(kind, n)| format!("{kind} {n}"))
                .collect::<Vec<_>>()
                .join(", "),
            f.faithful,
            f.altered.len(),
            f.unknown.len(),
            f.usage_exact,
            f.usage_compared,
            judged.attribution_sentence()
        ),
        details: json!({
            "streams_by_kind": f.by_kind,
            "altered": first(&f.altered),
            "unknown_origin": first(&f.unknown),
            "usage_wrong": first(&f.usage_wrong),
            "truth": judged.truth_notes(),
        }),
    };
    Ok(CheckOutcome {
        result: ctx.result(criteria, evidence),
        runs: vec![(judged.results.name.clone(), judged.results)],
        charts: Vec::new(),
        recommendations: Vec::new(),
    })
}
