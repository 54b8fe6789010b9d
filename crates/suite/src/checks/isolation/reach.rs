//! Stored responses across tenants. A provider keeps every response a target
//! relays under the target's own upstream key, so a target that passes the
//! Responses API's stored-response routes on as they come lets any tenant read or
//! continue another's conversation by its id. After the two runs, the second
//! tenant asks for a few of the first tenant's response ids: it reads each
//! (`GET /v1/responses/{id}`) and continues it (`previous_response_id`). The first
//! tenant does the same, which shows whether the target serves these at all; its
//! read comes first, and tells which function calls the response made, which a
//! continuation must answer with their outputs rather than a new question.
//!
//! A read reached the response when it answered 2xx with the response's `id` or
//! its text as the driver digests it (a proxy may hand out ids of its own, a new
//! one each time); a
//! continuation reached the conversation when it answered 2xx and billed more
//! input tokens than the same input alone (asked once per model, without
//! `previous_response_id`): a provider bills a continuation its conversation's
//! tokens too. A 2xx continuation that reports no usage counts as reached:
//! nothing shows the conversation was left out.

use std::collections::BTreeMap;
use std::fmt;

use gatebench_driver::{RequestRecord, ScenarioFile, TOOL_OUTPUT, response_digest};
use serde::Deserialize;
use serde_json::json;

use super::super::Ctx;

/// How many of the first tenant's responses are asked for.
const PROBED: usize = 3;

/// What one read or continuation got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Got {
    /// 2xx with the response (a read) or its conversation (a continuation).
    Reached(u16),
    /// 2xx, but neither the response's id nor its text, or a continuation billed no more than its
    /// input alone (the target dropped `previous_response_id`).
    Answered(u16),
    /// Anything but 2xx.
    Refused(u16),
    /// No answer at all.
    Failed,
}

impl Got {
    pub fn reached(self) -> bool {
        matches!(self, Got::Reached(_))
    }
}

impl fmt::Display for Got {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Got::Reached(status) => write!(f, "{status}, reached"),
            Got::Answered(status) => write!(f, "{status}, not the stored response"),
            Got::Refused(status) => write!(f, "{status}"),
            Got::Failed => f.write_str("no answer"),
        }
    }
}

/// The probes of one of the first tenant's responses.
#[derive(Clone, Debug)]
pub struct Probe {
    pub id: String,
    /// The second tenant's read and continuation.
    pub read: Got,
    pub continued: Got,
    /// The first tenant's own.
    pub own_read: Got,
    pub own_continued: Got,
}

impl Probe {
    /// The second tenant read or continued it.
    pub fn reached(&self) -> bool {
        self.read.reached() || self.continued.reached()
    }

    /// The first tenant could read or continue it: the target serves these.
    pub fn served(&self) -> bool {
        self.own_read.reached() || self.own_continued.reached()
    }

    pub fn shown(&self) -> String {
        format!(
            "{}: other tenant read {}, continued {}; own read {}, continued {}",
            self.id, self.read, self.continued, self.own_read, self.own_continued
        )
    }
}

/// The input of every probe, but a continuation of function calls.
const INPUT: &str = "Go on.";

/// A response the first tenant got, to ask for.
struct Stored<'a> {
    id: &'a str,
    /// Digest of its text, as the driver read it.
    content: Option<&'a str>,
    model: String,
}

/// Probes the first few of the first tenant's stored responses (Responses API
/// answers with an id, in send order) as `other` and as `own`; none when the run
/// made none.
pub async fn probe(
    ctx: &Ctx<'_>,
    scenario: &str,
    first: &[RequestRecord],
    own: &str,
    other: &str,
) -> Result<Vec<Probe>, String> {
    let models = request_models(ctx, scenario)?;
    let mut sent: Vec<&RequestRecord> = first
        .iter()
        .filter(|r| r.kind == "responses" && r.outcome == "ok")
        .collect();
    sent.sort_by(|a, b| a.sent_ms.total_cmp(&b.sent_ms));
    let stored: Vec<Stored<'_>> = sent
        .into_iter()
        .filter_map(|r| {
            Some(Stored {
                id: r.response_id.as_deref()?,
                content: r.content_digest.as_deref(),
                model: models.get(&r.request)?.clone(),
            })
        })
        .take(PROBED)
        .collect();
    let base = ctx.subject.gateway.trim_end_matches('/');
    let http = ctx.subject.http();
    let mut alone: BTreeMap<&str, Option<u64>> = BTreeMap::new();
    let mut probes = Vec::with_capacity(stored.len());
    for s in &stored {
        if !alone.contains_key(s.model.as_str()) {
            let billed = alone_input(http, base, own, &s.model).await;
            alone.insert(&s.model, billed.ok().flatten());
        }
        let alone = alone[s.model.as_str()];
        let (own_read, calls) = read(http, base, own, s).await;
        let (read, _) = read(http, base, other, s).await;
        probes.push(Probe {
            id: s.id.to_owned(),
            read,
            continued: continued(http, base, other, s, &calls, alone).await,
            own_read,
            own_continued: continued(http, base, own, s, &calls, alone).await,
        });
    }
    Ok(probes)
}

/// The model each `responses` request of the scenario names, as the target
/// calls it.
fn request_models(ctx: &Ctx<'_>, scenario: &str) -> Result<BTreeMap<String, String>, String> {
    let file = ScenarioFile::load(ctx.suite.resolve(scenario)).map_err(|e| e.to_string())?;
    let aliases = ctx.subject.profile.target_models();
    Ok(file
        .scenarios
        .iter()
        .flat_map(|s| &s.requests)
        .filter_map(|r| {
            let model = r.spec.model.as_ref()?;
            let model = aliases.get(model).unwrap_or(model);
            Some((r.spec.name.clone(), model.clone()))
        })
        .collect())
}

/// What the probes read of an answer (a proxy's may lack much of a response).
#[derive(Deserialize)]
struct Answer {
    id: Option<String>,
    #[serde(default)]
    output: Vec<Item>,
    usage: Option<AnswerUsage>,
}

#[derive(Deserialize)]
struct Item {
    #[serde(rename = "type")]
    kind: Option<String>,
    call_id: Option<String>,
}

impl Answer {
    /// The `call_id`s of its function calls.
    fn calls(&self) -> Vec<String> {
        self.output
            .iter()
            .filter(|item| item.kind.as_deref() == Some("function_call"))
            .filter_map(|item| item.call_id.clone())
            .collect()
    }
}

#[derive(Deserialize)]
struct AnswerUsage {
    input_tokens: u64,
}

/// Reads `stored` as `key`: reached when answered with its id or its text; and
/// the function calls of what came back.
async fn read(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    stored: &Stored<'_>,
) -> (Got, Vec<String>) {
    let sent = http
        .get(format!("{base}/v1/responses/{}", stored.id))
        .bearer_auth(key)
        .send()
        .await;
    let mut calls = Vec::new();
    let got = judge(sent, |answer, body| {
        calls = answer.calls();
        answer.id.as_deref() == Some(stored.id)
            || stored
                .content
                .is_some_and(|c| response_digest(body).as_deref() == Some(c))
    })
    .await;
    (got, calls)
}

/// Continues `stored` as `key`, answering its function `calls` if it made any:
/// reached when billed more than the input `alone`.
async fn continued(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    stored: &Stored<'_>,
    calls: &[String],
    alone: Option<u64>,
) -> Got {
    let sent = send(http, base, key, &stored.model, Some((stored.id, calls))).await;
    judge(sent, |answer, _| match (&answer.usage, alone) {
        (Some(usage), Some(alone)) => usage.input_tokens > alone,
        _ => true,
    })
    .await
}

/// The input tokens the probe's input is billed on its own.
async fn alone_input(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    model: &str,
) -> reqwest::Result<Option<u64>> {
    let answer: Answer = send(http, base, key, model, None)
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(answer.usage.map(|u| u.input_tokens))
}

/// Sends the probe's input, on its own or continuing `previous` (a response's
/// id and its function calls, which get an output each instead).
async fn send(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    model: &str,
    previous: Option<(&str, &[String])>,
) -> reqwest::Result<reqwest::Response> {
    let mut body = json!({
        "model": model,
        "input": INPUT,
        "max_output_tokens": 16,
        "store": false,
    });
    if let Some((id, calls)) = previous {
        body["previous_response_id"] = id.into();
        if !calls.is_empty() {
            let outputs = calls.iter().map(|call| {
                json!({"type": "function_call_output", "call_id": call, "output": TOOL_OUTPUT})
            });
            body["input"] = outputs.collect::<Vec<_>>().into();
        }
    }
    http.post(format!("{base}/v1/responses"))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
}

async fn judge(
    sent: reqwest::Result<reqwest::Response>,
    reached: impl FnOnce(&Answer, &[u8]) -> bool,
) -> Got {
    let Ok(response) = sent else {
        return Got::Failed;
    };
    let status = response.status().as_u16();
    if !response.status().is_success() {
        return Got::Refused(status);
    }
    let Ok(body) = response.bytes().await else {
        return Got::Answered(status);
    };
    match serde_json::from_slice::<Answer>(&body) {
        Ok(answer) if reached(&answer, &body) => Got::Reached(status),
        _ => Got::Answered(status),
    }
}
