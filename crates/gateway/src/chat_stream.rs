//! Streams of generated text (chat completions, legacy text completions, the
//! Responses API's events): relaying an upstream stream, and replaying a cached
//! chat or text-completion answer as a stream.
//!
//! The relay forwards each event as it arrives, reading it on the way: the text
//! (for the cache), the finish reasons, and the final usage (for billing). For
//! completions the gateway always asks upstream for the usage chunk; when the
//! client did not ask for it, that chunk is dropped and `"usage": null` is removed
//! from the others, so the client sees what it would have seen from the provider.
//! A Responses stream always ends in an event that carries the usage
//! (`response.completed`, `response.incomplete`, `response.failed`) and passes
//! unchanged. The call is billed when the stream ends, however it ends: after
//! `[DONE]` (or a response's last event) from the reported usage; when the
//! upstream breaks off, from the gateway's own count of the text received, marked
//! `estimated`. A client that goes away does not end the call: the rest of the
//! stream is read and dropped, and the call is billed from the provider's usage,
//! as the provider bills it. A stream that completes carries its exact cost like
//! a non-streamed answer's header does, as an SSE comment (`:
//! x-gatebench-cost-usd 0.000123`) just before `[DONE]`, or after a response's
//! last event, which SSE clients ignore.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};
use gatebench_cache::ChatKeys;
use gatebench_cost::{Reservation, Usage};
use gatebench_queue::Permit;
use gatebench_wire::openai::{FunctionCall, ToolCall};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};

use crate::chat::billed_usage;
use crate::meta::Meta;
use crate::pipeline::{ChatAnswer, Form};
use crate::record::Record;
use crate::sse::{Event, EventReader, data_event};
use crate::state::{CachedChat, CachedChoice, Gateway};

/// The SSE comment that carries a completed stream's exact cost.
pub const COST_COMMENT: &str = "x-gatebench-cost-usd";

/// A stream being relayed.
pub struct Relay {
    state: RelayState,
}

struct RelayState {
    gateway: Arc<Gateway>,
    meta: Meta,
    reservation: Option<Reservation>,
    permit: Option<Permit>,
    upstream: BoxStream<'static, Result<Bytes, hyper::Error>>,
    reader: EventReader,
    answer: ChatAnswer,
    texts: Vec<String>,
    /// Each choice's tool calls, put together from their fragments.
    calls: Vec<Vec<ToolCall>>,
    finish: Vec<Option<String>>,
    /// The usage the provider reported, as billed.
    usage: Option<Usage>,
    /// Of its completion tokens, those a reasoning model spent reasoning.
    reasoning_tokens: u64,
    fingerprint: Option<String>,
    record: Record,
    store: Option<(ChatKeys, Option<Vec<f32>>)>,
    idle: Duration,
    out: VecDeque<Bytes>,
    done: bool,
    finished: bool,
}

impl Relay {
    /// Prepares the relay of `response`, whose call `record` describes; billed
    /// against `reservation` when the stream ends.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        gateway: Arc<Gateway>,
        meta: Meta,
        record: Record,
        reservation: Option<Reservation>,
        permit: Option<Permit>,
        response: crate::upstream::Body,
        idle: Duration,
        answer: ChatAnswer,
        store: Option<(ChatKeys, Option<Vec<f32>>)>,
    ) -> Relay {
        Relay {
            state: RelayState {
                gateway,
                meta,
                reservation,
                permit,
                upstream: response.into_data_stream().boxed(),
                reader: EventReader::default(),
                answer,
                texts: Vec::new(),
                calls: Vec::new(),
                finish: Vec::new(),
                usage: None,
                reasoning_tokens: 0,
                fingerprint: None,
                record,
                store,
                idle,
                out: VecDeque::new(),
                done: false,
                finished: false,
            },
        }
    }

    /// The body the client reads.
    pub fn into_body(self) -> Body {
        let body = futures::stream::unfold(Relaying(Some(self.state)), |mut relay| async move {
            let item = relay.0.as_mut()?.next().await?;
            Some((item, relay))
        });
        Body::from_stream(body)
    }
}

/// The relay while the client reads it. A client that leaves mid-stream does not
/// stop the call: the provider has started it and bills what it generates, so the
/// rest is read (and dropped) to the end, and the call is billed from the usage the
/// provider reports, as if the client had stayed.
struct Relaying(Option<RelayState>);

impl Drop for Relaying {
    fn drop(&mut self) {
        let Some(mut state) = self.0.take() else {
            return;
        };
        if state.finished {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { while let Some(Ok(_)) = state.next().await {} });
        }
        // Without a runtime, dropping the state bills what arrived, as an estimate.
    }
}

impl RelayState {
    async fn next(&mut self) -> Option<Result<Bytes, std::io::Error>> {
        loop {
            if let Some(bytes) = self.out.pop_front() {
                return Some(Ok(bytes));
            }
            if self.done {
                let _ = self.finish();
                return None;
            }
            let broke = match tokio::time::timeout(self.idle, self.upstream.next()).await {
                Ok(Some(Ok(chunk))) => match self.reader.push(&chunk) {
                    Ok(events) => {
                        events.into_iter().for_each(|e| self.on_event(e));
                        continue;
                    }
                    Err(error) => error.to_string(),
                },
                Ok(Some(Err(error))) => format!("upstream stream broke: {error}"),
                Ok(None) => "upstream stream ended before [DONE]".to_owned(),
                Err(_) => "upstream stream went silent".to_owned(),
            };
            tracing::debug!(request_id = %self.meta.id, reason = %broke, "stream cut");
            let _ = self.finish();
            return Some(Err(std::io::Error::other(broke)));
        }
    }

    fn on_event(&mut self, event: Event) {
        if self.answer.form == Form::Response {
            return self.on_response_event(event);
        }
        let Some(data) = event.data.as_deref() else {
            self.out.push_back(event.raw);
            return;
        };
        if data.trim() == "[DONE]" {
            self.complete();
            self.out.push_back(event.raw);
            return;
        }
        let Ok(mut chunk) = serde_json::from_str::<Value>(data) else {
            self.out.push_back(event.raw);
            return;
        };
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object())
            && let Ok(usage) =
                serde_json::from_value::<gatebench_wire::openai::Usage>(usage.clone())
        {
            self.usage = Some(billed_usage(&usage));
            self.reasoning_tokens = u64::from(usage.reasoning_tokens());
        }
        if self.fingerprint.is_none() {
            self.fingerprint = chunk
                .get("system_fingerprint")
                .and_then(Value::as_str)
                .map(str::to_owned);
        }
        let choices = chunk.get("choices").and_then(Value::as_array);
        for choice in choices.into_iter().flatten() {
            let index = choice.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
            if index >= 128 {
                continue;
            }
            if self.texts.len() <= index {
                self.texts.resize(index + 1, String::new());
                self.calls.resize(index + 1, Vec::new());
                self.finish.resize(index + 1, None);
            }
            let text = match self.answer.form {
                Form::Text => choice.get("text"),
                _ => choice.pointer("/delta/content"),
            };
            if let Some(text) = text.and_then(Value::as_str) {
                self.texts[index].push_str(text);
            }
            if let Some(fragments) = choice.pointer("/delta/tool_calls") {
                add_fragments(&mut self.calls[index], fragments);
            }
            if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
                self.finish[index] = Some(reason.to_owned());
            }
        }
        if self.answer.client_usage {
            self.out.push_back(event.raw);
            return;
        }
        let usage_only = choices.is_some_and(|c| c.is_empty())
            && chunk.get("usage").is_some_and(Value::is_object);
        if usage_only {
            return;
        }
        match chunk.as_object_mut().and_then(|o| o.remove("usage")) {
            Some(_) => self.out.push_back(data_event(&chunk.to_string())),
            None => self.out.push_back(event.raw),
        }
    }

    /// Reads one event of a Responses stream on its way through: the text of its
    /// deltas, and the usage of the event that ends it (`response.completed`,
    /// `response.incomplete` or `response.failed`), after which the stream is
    /// billed and its cost follows as a comment.
    fn on_response_event(&mut self, event: Event) {
        let data = event.data.as_deref();
        let Some(parsed) = data.and_then(|d| serde_json::from_str::<Value>(d).ok()) else {
            self.out.push_back(event.raw);
            return;
        };
        self.out.push_back(event.raw);
        match parsed.get("type").and_then(Value::as_str) {
            Some("response.created") => self.note_stored(&parsed),
            Some("response.output_text.delta") => {
                if let Some(delta) = parsed.get("delta").and_then(Value::as_str) {
                    if self.texts.is_empty() {
                        self.texts.push(String::new());
                    }
                    self.texts[0].push_str(delta);
                }
            }
            Some(kind @ ("response.completed" | "response.incomplete" | "response.failed")) => {
                let usage = parsed.pointer("/response/usage").cloned();
                if let Some(Ok(usage)) = usage.map(serde_json::from_value) {
                    let id = parsed.pointer("/response/id").and_then(Value::as_str);
                    if let (false, Some(id)) = (kind == "response.failed", id) {
                        let tokens = crate::responses::conversation_tokens(&usage);
                        self.gateway.stored.ended(&self.gateway, id, tokens);
                    }
                    self.usage = Some(crate::responses::billed_usage(&usage));
                }
                self.complete();
            }
            _ => {}
        }
    }

    /// Notes where the response an event names is stored, before the client reads
    /// the event, so that a continuation may follow at once: when it is created
    /// (its tokens are noted when it ends).
    fn note_stored(&self, event: &Value) {
        let response = event.get("response");
        let id = response.and_then(|r| r.get("id")).and_then(Value::as_str);
        let stored = response.and_then(|r| r.get("store")) != Some(&Value::Bool(false));
        if let (true, Some(id), Some(provider)) = (stored, id, &self.record.provider) {
            self.gateway
                .stored
                .made(&self.gateway, id, &self.meta.tenant.id, provider, 0);
        }
    }

    /// The stream reached its end as the provider ends it: bills it and states
    /// its cost in a comment, next in line for the client.
    fn complete(&mut self) {
        self.done = true;
        if let Some(cost) = self.finish() {
            self.out
                .push_back(Bytes::from(format!(": {COST_COMMENT} {cost}\n\n")));
        }
    }

    /// Bills the call and stores a complete answer; runs once, however the stream
    /// ends. Returns what the call cost, the first time.
    fn finish(&mut self) -> Option<rust_decimal::Decimal> {
        if std::mem::replace(&mut self.finished, true) {
            return None;
        }
        self.permit = None;
        let (usage, estimated) = match self.usage {
            Some(usage) => (usage, false),
            None => {
                let counted: u64 = self
                    .texts
                    .iter()
                    .map(|t| self.answer.encoding.count(t) as u64)
                    .sum();
                let usage = Usage {
                    prompt_tokens: self.answer.prompt_tokens,
                    completion_tokens: counted,
                    ..Usage::default()
                };
                (usage, true)
            }
        };
        let record = &mut self.record;
        (record.usage, record.estimated) = (usage, estimated);
        record.charge(&self.gateway, &self.meta, self.reservation.take());
        let complete = self.done
            && !estimated
            && self.finish.iter().all(Option::is_some)
            && !self.texts.is_empty();
        if let (true, Some((keys, vector))) = (complete, self.store.take()) {
            let vector = vector.unwrap_or_else(|| self.gateway.embedder.embed(&keys.query));
            let cached = CachedChat {
                model: self.record.model.clone(),
                provider: self.record.provider.clone().unwrap_or_default(),
                choices: self
                    .texts
                    .iter()
                    .zip(&self.calls)
                    .zip(&self.finish)
                    .map(|((content, calls), reason)| CachedChoice {
                        // a choice that only called tools has `content: null`
                        content: (!content.is_empty() || calls.is_empty()).then(|| content.clone()),
                        tool_calls: calls.clone(),
                        finish_reason: reason.clone().unwrap_or_else(|| "stop".to_owned()),
                    })
                    .collect(),
                completion_tokens: usage.completion_tokens,
                reasoning_tokens: self.reasoning_tokens,
                cached_tokens: usage.cached_tokens,
                system_fingerprint: self.fingerprint.clone(),
            };
            if let Err(error) =
                self.gateway
                    .chat_cache
                    .insert(&self.meta.tenant.id, &keys, &vector, cached)
            {
                tracing::warn!(%error, "cache insert failed");
            }
        }
        self.record.cost
    }
}

impl Drop for RelayState {
    fn drop(&mut self) {
        // The client went away mid-stream: the upstream tokens were still spent.
        let _ = self.finish();
    }
}

/// Adds a delta's tool call fragments to a choice's `calls`: the first fragment of
/// a call opens it (its `index` says which), later ones add to its strings, as
/// OpenAI's SDKs put them together. Fragments past 128 calls are left out.
fn add_fragments(calls: &mut Vec<ToolCall>, fragments: &Value) {
    for fragment in fragments.as_array().into_iter().flatten() {
        let Some(i) = fragment.get("index").and_then(Value::as_u64) else {
            continue;
        };
        let i = i as usize;
        if i >= 128 {
            continue;
        }
        if calls.len() <= i {
            calls.resize_with(i + 1, || ToolCall {
                id: String::new(),
                kind: "function".to_owned(),
                function: FunctionCall {
                    name: String::new(),
                    arguments: String::new(),
                },
            });
        }
        let call = &mut calls[i];
        let text = |pointer: &str| fragment.pointer(pointer).and_then(Value::as_str);
        if let Some(id) = text("/id") {
            call.id.push_str(id);
        }
        if let Some(kind) = text("/type") {
            kind.clone_into(&mut call.kind);
        }
        if let Some(name) = text("/function/name") {
            call.function.name.push_str(name);
        }
        if let Some(arguments) = text("/function/arguments") {
            call.function.arguments.push_str(arguments);
        }
    }
}

/// A cached answer as a stream: the role, the text in word-sized pieces, each tool
/// call in two fragments, the finish reason, the usage chunk if the client asked
/// for it, and `[DONE]`; a text completion's (`form`) is its text in pieces and
/// an empty piece with the finish reason, in `text_completion` chunks.
pub fn replay(
    id: &str,
    created: u64,
    cached: &CachedChat,
    usage: Option<&Value>,
    form: Form,
) -> impl futures::Stream<Item = Result<Bytes, std::convert::Infallible>> + Send + 'static {
    let text = form == Form::Text;
    let chunk = |choices: Value, usage_field: Option<Value>| {
        let object = if text {
            "text_completion"
        } else {
            "chat.completion.chunk"
        };
        let mut c = json!({
            "id": id,
            "object": object,
            "created": created,
            "model": cached.model,
            "system_fingerprint": cached.system_fingerprint,
            "choices": choices,
        });
        if let (Some(object), Some(u)) = (c.as_object_mut(), usage_field) {
            object.insert("usage".into(), u);
        }
        data_event(&c.to_string())
    };
    // a chat chunk says `usage: null` until the usage chunk; a text one does not
    let null_usage = || usage.filter(|_| !text).map(|_| Value::Null);
    let mut events = Vec::new();
    for (index, choice) in cached.choices.iter().enumerate() {
        let pieces = choice.content.iter().flat_map(|c| c.split_inclusive(' '));
        if text {
            for piece in pieces {
                let choices = json!([{ "text": piece, "index": index, "logprobs": null, "finish_reason": null }]);
                events.push(chunk(choices, None));
            }
            let end = json!([{ "text": "", "index": index, "logprobs": null, "finish_reason": choice.finish_reason }]);
            events.push(chunk(end, None));
            continue;
        }
        let mut delta = |delta: Value| {
            let choices = json!([{ "index": index, "delta": delta, "logprobs": null, "finish_reason": null }]);
            events.push(chunk(choices, null_usage()));
        };
        // as the provider streams: a text answer opens with empty content, a tool
        // call with none
        let opening = choice.content.as_ref().map(|_| "");
        delta(json!({ "role": "assistant", "content": opening, "refusal": null }));
        for piece in pieces {
            delta(json!({ "content": piece }));
        }
        // each call: its id, type and name first, then its arguments
        for (i, call) in choice.tool_calls.iter().enumerate() {
            let head = json!({ "index": i, "id": call.id, "type": call.kind, "function": { "name": call.function.name, "arguments": "" } });
            delta(json!({ "tool_calls": [head] }));
            let arguments =
                json!({ "index": i, "function": { "arguments": call.function.arguments } });
            delta(json!({ "tool_calls": [arguments] }));
        }
        let end = json!([{ "index": index, "delta": {}, "logprobs": null, "finish_reason": choice.finish_reason }]);
        events.push(chunk(end, null_usage()));
    }
    if let Some(u) = usage {
        events.push(chunk(json!([]), Some(u.clone())));
    }
    events.push(data_event("[DONE]"));
    futures::stream::iter(events.into_iter().map(Ok))
}
