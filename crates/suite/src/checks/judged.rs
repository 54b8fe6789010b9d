//! A run judged against the truth: the driver's records, the mocks' calls in the
//! same window, and which calls each request caused.

use std::collections::BTreeMap;

use gatebench_driver::{RequestRecord, RunResults};
use gatebench_wire::books::CallRecord;
use serde_json::{Value, json};

use super::Ctx;
use crate::truth::{Attribution, Window, attribute};

/// A run and its truth.
#[derive(Debug)]
pub struct Judged {
    /// What the driver measured.
    pub results: RunResults,
    /// The mocks' calls during the run.
    pub window: Window,
    /// Calls per request.
    pub attribution: Attribution,
    /// Unix milliseconds when the run started (record times are relative to it).
    pub started_ms: u64,
}

impl Ctx<'_> {
    /// Drives `scenario` and reads the truth of it from the mocks' books.
    pub async fn drive_judged(&self, scenario: &str) -> Result<Judged, String> {
        self.drive_judged_as(scenario, self.subject.key_map()).await
    }

    /// [`Ctx::drive_judged`] with the scenario's keys mapped by `keys`.
    pub async fn drive_judged_as(
        &self,
        scenario: &str,
        keys: std::collections::BTreeMap<String, String>,
    ) -> Result<Judged, String> {
        let (results, window) = self.drive_with_truth(scenario, keys).await?;
        Ok(Judged::new(results, window))
    }

    /// Drives `scenario` between a mark of the mocks' books and the settling of
    /// the calls in flight after it, and returns its results with the calls since
    /// the mark. Against mocks others use too, the window also holds their calls:
    /// they stay unattributed.
    pub async fn drive_with_truth(
        &self,
        scenario: &str,
        keys: std::collections::BTreeMap<String, String>,
    ) -> Result<(RunResults, Window), String> {
        let books = self.subject.truth()?;
        let mark = books.mark().await?;
        let results = self.drive_as(scenario, keys).await?;
        books.settle().await;
        let window = books.since(&mark).await?;
        Ok((results, window))
    }
}

impl Judged {
    /// A run judged against the calls of `window`: each request's calls found.
    pub fn new(results: RunResults, window: Window) -> Judged {
        // The run's own clock start (to the millisecond); records' times count from it.
        let started_ms = humantime::parse_rfc3339(&results.started_at)
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_millis() as u64);
        let attribution = attribute(
            results.requests.as_deref().unwrap_or_default(),
            &window.calls,
            (started_ms > 0).then_some(started_ms),
        );
        Judged {
            results,
            window,
            attribution,
            started_ms,
        }
    }

    /// The driver's records.
    pub fn records(&self) -> &[RequestRecord] {
        self.results.requests.as_deref().unwrap_or_default()
    }

    /// The calls request `r` caused.
    pub fn calls_of(&self, r: usize) -> impl Iterator<Item = &CallRecord> {
        self.attribution
            .calls
            .get(r)
            .into_iter()
            .flatten()
            .map(|&i| &self.window.calls[i])
    }

    /// The call whose content request `r` received: one of its own calls that
    /// delivered that content, else (an answer replayed from a cache) the first
    /// call of the window that delivered it.
    pub fn source_of(&self, r: usize) -> Option<&CallRecord> {
        let content = self.records()[r].content_digest.as_deref()?;
        let delivered = |c: &&CallRecord| c.content_digest.as_deref() == Some(content);
        self.calls_of(r)
            .find(delivered)
            .or_else(|| self.window.calls.iter().find(delivered))
    }

    /// When request `r` ended, Unix milliseconds.
    pub fn ended_ms(&self, r: usize) -> f64 {
        let record = &self.records()[r];
        self.started_ms as f64 + (record.sent_ms + record.latency_uncorrected_ms).max(0.0)
    }

    /// Whether request `r` caused at least one upstream call.
    pub fn went_upstream(&self, r: usize) -> bool {
        self.calls_of(r).next().is_some()
    }

    /// What the evidence should say about how the truth was read.
    pub fn truth_notes(&self) -> Value {
        json!({
            "upstream_calls": self.window.calls.len(),
            "attributed_by_forwarded_id": self.attribution.by_id,
            "attributed_by_content": self.attribution.by_content,
            "unattributed_calls": self.attribution.orphans.len(),
            "calls_lost_from_the_log": self.window.lost,
        })
    }

    /// A sentence on how requests were tied to upstream calls.
    pub fn attribution_sentence(&self) -> String {
        let how = if self.attribution.forwards_ids() {
            "the target forwards x-request-id or traceparent, so calls were tied to requests by id"
        } else {
            "the target forwards neither x-request-id nor traceparent, so calls were tied to requests by prompt and content"
        };
        let lost = if self.window.lost.is_empty() {
            String::new()
        } else {
            format!(
                " Per-call truth is incomplete: {}.",
                self.window.lost.join("; ")
            )
        };
        format!(
            "{} upstream calls in the mocks' books; {how} ({} unattributed).{lost}",
            self.window.calls.len(),
            self.attribution.orphans.len()
        )
    }

    /// For each fault the mocks injected: how many calls got it, and what the clients
    /// of the requests those calls belonged to saw in the end.
    pub fn under_faults(&self) -> Value {
        let mut calls: BTreeMap<&str, u64> = BTreeMap::new();
        let mut seen: BTreeMap<&str, BTreeMap<&str, u64>> = BTreeMap::new();
        for call in &self.window.calls {
            if call.outcome != "ok" {
                *calls.entry(call.outcome.as_str()).or_default() += 1;
            }
        }
        for (r, record) in self.records().iter().enumerate() {
            for call in self.calls_of(r).filter(|c| c.outcome != "ok") {
                *seen
                    .entry(call.outcome.as_str())
                    .or_default()
                    .entry(record.outcome.as_str())
                    .or_default() += 1;
            }
        }
        json!({ "calls": calls, "client_outcomes_of_affected_requests": seen })
    }
}
