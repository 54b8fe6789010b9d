//! Which upstream calls each request caused.
//!
//! Two ways, the first that applies:
//! 1. **By id**: the target forwarded the `x-request-id` the driver sent (every
//!    attempt of a request carries it: retries and fallbacks are its calls too), or
//!    the trace id of the `traceparent` it sent (a traced service keeps the trace id
//!    on every hop).
//! 2. **By content**: the request's prompt digest and the content it received
//!    match a call's. The mocks answer the same prompt with the same content, so
//!    requests are matched in the order they were sent to the earliest call not yet
//!    taken: a later identical request that found no free call was answered
//!    without one (from a cache). Kinds without content (speech, embeddings) match
//!    by prompt digest alone, among calls that were billed.
//!
//! Calls no request claims are orphans: failed attempts of a target that does not
//! forward ids, or calls the target made on its own.

use std::collections::HashMap;

use gatebench_driver::RequestRecord;
use gatebench_wire::books::{CallRecord, trace_id, trace_id_of};

/// The calls of each request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attribution {
    /// Per record (same order as the records): indexes of its calls.
    pub calls: Vec<Vec<usize>>,
    /// Calls attributed to no record.
    pub orphans: Vec<usize>,
    /// Records attributed by forwarded id.
    pub by_id: u64,
    /// Records attributed by prompt and content.
    pub by_content: u64,
}

impl Attribution {
    /// Whether the target forwards the driver's `x-request-id` upstream.
    pub fn forwards_ids(&self) -> bool {
        self.by_id > 0
    }
}

/// How far the mocks' clock and the driver's may disagree, ms.
pub const CLOCK_SLACK_MS: f64 = 50.0;

/// Attributes `calls` to `records`; `started_ms` is the Unix time the records'
/// times count from, when known.
pub fn attribute(
    records: &[RequestRecord],
    calls: &[CallRecord],
    started_ms: Option<u64>,
) -> Attribution {
    let mut out = Attribution {
        calls: vec![Vec::new(); records.len()],
        ..Attribution::default()
    };
    let mut taken = vec![false; calls.len()];

    let mut by_id: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut by_trace: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, call) in calls.iter().enumerate() {
        if let Some(id) = call.client_request_id.as_deref() {
            by_id.entry(id).or_default().push(i);
        } else if let Some(trace) = call.traceparent.as_deref().and_then(trace_id_of) {
            by_trace.entry(trace).or_default().push(i);
        }
    }
    for (r, record) in records.iter().enumerate() {
        let Some(id) = record.client_request_id.as_deref() else {
            continue;
        };
        let found = by_id
            .get(id)
            .or_else(|| by_trace.get(trace_id(id).as_str()));
        if let Some(found) = found {
            for &i in found {
                taken[i] = true;
            }
            out.calls[r] = found.clone();
            out.by_id += 1;
        }
    }

    // By content, in send order, earliest free call first.
    let mut order: Vec<usize> = (0..records.len())
        .filter(|&r| out.calls[r].is_empty())
        .collect();
    order.sort_by(|&a, &b| records[a].sent_ms.total_cmp(&records[b].sent_ms));
    let mut by_prompt: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, call) in calls.iter().enumerate() {
        if !taken[i]
            && let Some(prompt) = call.prompt_digest.as_deref()
        {
            by_prompt.entry(prompt).or_default().push(i);
        }
    }
    // First only calls that arrived while the request was open (identical prompts
    // can be a cache hit early and a miss later: time keeps them apart), then any
    // (the mocks' clock may be another machine's).
    for timed in [true, false] {
        for &r in &order {
            let record = &records[r];
            if !out.calls[r].is_empty() || !(200..300).contains(&record.status) {
                continue;
            }
            let Some(candidates) = record
                .prompt_digest
                .as_deref()
                .and_then(|p| by_prompt.get(p))
            else {
                continue;
            };
            let open = |call: &CallRecord| match started_ms.filter(|_| timed) {
                None => true,
                Some(start) => {
                    let sent = start as f64 + record.sent_ms - CLOCK_SLACK_MS;
                    let ended = start as f64
                        + record.sent_ms
                        + record.latency_uncorrected_ms
                        + CLOCK_SLACK_MS;
                    (sent..=ended).contains(&(call.at_ms as f64))
                }
            };
            let fits = |call: &CallRecord| match record.content_digest.as_deref() {
                Some(content) => call.content_digest.as_deref() == Some(content),
                // a text answer's digest is known whenever it arrived
                None => !super::generates_text(record) && call.billed,
            };
            if let Some(&i) = candidates
                .iter()
                .find(|&&i| !taken[i] && fits(&calls[i]) && open(&calls[i]))
            {
                taken[i] = true;
                out.calls[r].push(i);
                out.by_content += 1;
            }
        }
    }
    out.orphans = (0..calls.len()).filter(|&i| !taken[i]).collect();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::truth::chat_call as call;

    fn record(id: &str, sent_ms: f64, prompt: &str, content: Option<&str>) -> RequestRecord {
        let json = serde_json::json!({
            "scenario": "s", "request": "r", "kind": "chat",
            "intended_ms": sent_ms, "sent_ms": sent_ms, "latency_ms": 1.0,
            "latency_uncorrected_ms": 1.0, "status": 200, "outcome": "ok",
            "client_request_id": id, "prompt_digest": prompt, "content_digest": content,
        });
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn forwarded_ids_claim_every_attempt() {
        let records = [record("a", 0.0, "p1", Some("c1"))];
        let calls = [
            call(Some("a"), "p1", "c1", false),
            call(Some("a"), "p1", "c1", true),
        ];
        let got = attribute(&records, &calls, None);
        assert_eq!(got.calls, vec![vec![0, 1]]);
        assert!(got.forwards_ids() && got.orphans.is_empty());
    }

    #[test]
    fn without_ids_the_first_request_takes_the_call_and_a_repeat_is_a_hit() {
        let records = [
            record("a", 0.0, "p1", Some("c1")),
            record("b", 5.0, "p1", Some("c1")),
            record("c", 9.0, "p2", Some("c1")),
        ];
        let calls = [call(None, "p1", "c1", false), call(None, "p1", "c1", true)];
        let got = attribute(&records, &calls, None);
        assert_eq!(got.calls, vec![vec![1], vec![], vec![]]);
        assert_eq!(got.by_content, 1);
        assert_eq!(got.orphans, vec![0], "the failed attempt is nobody's");
    }

    #[test]
    fn a_propagated_trace_id_ties_a_call_to_its_request() {
        let records = [record("a", 0.0, "p1", Some("c1"))];
        let mut traced = call(None, "p9", "c9", true);
        traced.traceparent = Some(format!("00-{}-b7ad6b7169203331-01", trace_id("a")));
        let got = attribute(&records, &[traced], None);
        assert_eq!(got.calls, vec![vec![0]]);
        assert_eq!(got.by_id, 1);
    }

    #[test]
    fn a_call_goes_to_the_request_that_was_open_when_it_arrived() {
        // An early hit (0–1 ms) and a later miss (500–600 ms) of the same prompt.
        let mut hit = record("a", 0.0, "p1", Some("c1"));
        hit.latency_uncorrected_ms = 1.0;
        let mut miss = record("b", 500.0, "p1", Some("c1"));
        miss.latency_uncorrected_ms = 100.0;
        let mut late = call(None, "p1", "c1", true);
        late.at_ms = 10_000 + 520;
        let got = attribute(&[hit, miss], &[late], Some(10_000));
        assert_eq!(got.calls, vec![vec![], vec![0]]);
    }
}
