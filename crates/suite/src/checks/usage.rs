//! Usage accuracy: the token counts a target reports to its client (`usage` of a
//! whole answer, the final chunk of a stream, a response's last event) of every
//! kind that generates text and of embeddings, against what the mock billed for
//! the call that produced the answer: prompt, cached and completion tokens, exactly.
//! Answers that never went upstream (cache hits) have no call to compare with and
//! are counted apart.

use gatebench_driver::RequestRecord;
use gatebench_report::{Evidence, Source};
use gatebench_wire::books::CallRecord;
use serde_json::json;

use super::judged::Judged;
use super::{CheckOutcome, Ctx, criterion, first, not_measurable, share};
use crate::truth::generates_text;

/// `None` when the reported usage equals the call's, else what differs.
pub fn usage_diff(record: &RequestRecord, call: &CallRecord) -> Option<String> {
    let usage = record.usage?;
    let truth = (
        call.usage.input_tokens,
        call.usage.cached_tokens,
        call.usage.output_tokens,
    );
    let reported = (
        usage.prompt_tokens,
        usage.cached_tokens,
        usage.completion_tokens,
    );
    // Embeddings report no completion or cached tokens.
    let reported = if record.kind == "embeddings" {
        (reported.0, truth.1, truth.2)
    } else {
        reported
    };
    (reported != truth).then(|| {
        format!(
            "{}: reported prompt/cached/completion {reported:?}, the mock billed {truth:?}",
            record.client_request_id.as_deref().unwrap_or("?")
        )
    })
}

/// The verdict on a run and the mocks' calls during it (one process's, or
/// its segments' merged).
pub(super) fn verdict(ctx: &Ctx<'_>, judged: Judged) -> Result<CheckOutcome, String> {
    let (mut compared, mut exact, mut without_usage, mut not_upstream) = (0u64, 0u64, 0u64, 0u64);
    let mut wrong = Vec::new();
    let (mut streamed, mut whole) = (0u64, 0u64);
    for (r, record) in judged.records().iter().enumerate() {
        let reports_usage = generates_text(record) || record.kind == "embeddings";
        if !reports_usage || record.outcome != "ok" {
            continue;
        }
        let Some(call) = judged.calls_of(r).filter(|c| c.complete).last() else {
            not_upstream += 1;
            continue;
        };
        if record.usage.is_none() {
            without_usage += 1;
            continue;
        }
        compared += 1;
        if record.chunks.is_some() {
            streamed += 1;
        } else {
            whole += 1;
        }
        match usage_diff(record, call) {
            None => exact += 1,
            Some(diff) => wrong.push(diff),
        }
    }
    let criteria = vec![if compared == 0 {
        not_measurable(
            ctx,
            "reported usage equal to the mock's",
            "no answer that went upstream reported usage",
            Source::ClaimVsTruth,
        )
    } else {
        criterion(
            "reported usage equal to the mock's",
            share(exact, compared),
            "%",
            ctx.spec.targets.exact_min.unwrap_or(100.0),
            true,
            format!("{exact} of {compared} ({whole} whole, {streamed} streamed)"),
        )
        .from_source(Source::ClaimVsTruth)
    }];
    let evidence = Evidence {
        summary: format!(
            "{compared} answers reported usage and went upstream: {exact} equal to what the mock billed, {} not. {not_upstream} answers had no upstream call (cache hits) and {without_usage} reported no usage. {}",
            wrong.len(),
            judged.attribution_sentence()
        ),
        details: json!({
            "compared": compared,
            "wrong": first(&wrong),
            "no_upstream_call": not_upstream,
            "no_usage_reported": without_usage,
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
