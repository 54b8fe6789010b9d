//! Incremental reading of a stream of generated text (server-sent events): chat
//! completion chunks, legacy text completion chunks, or the Responses API's events.
//!
//! Records when each non-empty content delta arrived, the usage of the final chunk
//! (a response's last event) and whether the stream closed as it should: `data:
//! [DONE]`, or `response.completed` / `response.incomplete`. Chunks are parsed
//! leniently: unknown fields are ignored, since the target may be anyone's
//! OpenAI-compatible service.

use std::borrow::Cow;
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::trace::StreamCapture;
use crate::metrics::Usage;

#[derive(Deserialize)]
struct Chunk<'a> {
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    choices: Vec<ChunkChoice<'a>>,
    #[serde(default)]
    usage: Option<UsageJson>,
    #[serde(default)]
    error: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
struct ChunkChoice<'a> {
    #[serde(default)]
    index: u32,
    #[serde(default, borrow)]
    delta: Option<Delta<'a>>,
    /// A text completion's piece (chat chunks have a `delta` instead).
    #[serde(default, borrow)]
    text: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    finish_reason: Option<Cow<'a, str>>,
}

impl ChunkChoice<'_> {
    /// The text this chunk adds, from either form.
    fn content(&self) -> Option<&str> {
        match &self.delta {
            Some(delta) => delta.content.as_deref(),
            None => self.text.as_deref(),
        }
    }
}

/// One event of a Responses stream.
#[derive(Deserialize)]
struct ResponseEvent<'a> {
    #[serde(default, borrow, rename = "type")]
    kind: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    delta: Option<Cow<'a, str>>,
    #[serde(default)]
    response: Option<EventResponse>,
}

#[derive(Deserialize)]
struct EventResponse {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    usage: Option<ResponseUsageJson>,
    #[serde(default)]
    output: Vec<super::chain::OutputItem>,
}

/// A response's `usage`; every field optional.
#[derive(Deserialize, Default)]
pub(crate) struct ResponseUsageJson {
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default)]
    pub input_tokens_details: Option<PromptDetails>,
}

impl From<ResponseUsageJson> for Usage {
    fn from(u: ResponseUsageJson) -> Usage {
        Usage {
            prompt_tokens: u.input_tokens,
            completion_tokens: u.output_tokens,
            cached_tokens: u
                .input_tokens_details
                .and_then(|d| d.cached_tokens)
                .unwrap_or(0),
        }
    }
}

#[derive(Deserialize)]
struct Delta<'a> {
    #[serde(default, borrow)]
    content: Option<Cow<'a, str>>,
    #[serde(default)]
    tool_calls: Option<serde::de::IgnoredAny>,
}

/// `usage` as OpenAI sends it; every field optional.
#[derive(Deserialize, Default)]
pub(crate) struct UsageJson {
    #[serde(default)]
    pub prompt_tokens: u64,
    #[serde(default)]
    pub completion_tokens: u64,
    #[serde(default)]
    pub prompt_tokens_details: Option<PromptDetails>,
}

#[derive(Deserialize, Default)]
pub(crate) struct PromptDetails {
    #[serde(default)]
    pub cached_tokens: Option<u64>,
}

impl From<UsageJson> for Usage {
    fn from(u: UsageJson) -> Usage {
        Usage {
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
            cached_tokens: u
                .prompt_tokens_details
                .and_then(|d| d.cached_tokens)
                .unwrap_or(0),
        }
    }
}

/// State of one stream being read.
#[derive(Default)]
pub(crate) struct SseState {
    line: Vec<u8>,
    /// The stream is a Responses API's (typed events), not completion chunks.
    pub responses: bool,
    /// `data: [DONE]` seen (a response's `response.completed` or `incomplete`).
    pub done: bool,
    /// A data line was not JSON.
    pub malformed: bool,
    /// An `error` object arrived in the stream (a response's `error` or
    /// `response.failed` event).
    pub error_event: bool,
    /// What the first error event said.
    pub error_said: Option<Box<crate::metrics::Said>>,
    /// Chunks with at least one choice (a response's events).
    pub chunks: u64,
    /// First non-empty content.
    pub first_content: Option<Instant>,
    /// Latest non-empty content.
    pub last_content: Option<Instant>,
    /// Chunks that carried content.
    pub content_chunks: u64,
    /// Usage of the final chunk.
    pub usage: Option<Usage>,
    /// What the stream delivered, when the request is traced.
    pub capture: Option<StreamCapture>,
    /// The cost a gatebench gateway states in a comment before `[DONE]`.
    pub cost_usd: Option<rust_decimal::Decimal>,
    /// The id and function calls of a response that ended whole (`completed`
    /// or `incomplete`).
    pub answer: Option<super::chain::Answer>,
}

impl SseState {
    /// A stream about to be read: a Responses stream when `responses`, else
    /// completion chunks; what it delivers is kept in `capture` if given.
    pub fn new(responses: bool, capture: Option<StreamCapture>) -> SseState {
        SseState {
            responses,
            capture,
            ..SseState::default()
        }
    }

    /// Inter-token latency: the time from the first content to the last, over the
    /// tokens after the first (the usage's completion tokens, else the content
    /// chunks). Per-chunk gaps would count chunks that arrive in one read as
    /// zero-time tokens; this is the mean gap the client really waited.
    pub fn inter_token_latency(&self) -> Option<Duration> {
        let (first, last) = (self.first_content?, self.last_content?);
        let tokens = match self.usage {
            Some(u) if u.completion_tokens > 0 => u.completion_tokens,
            _ => self.content_chunks,
        };
        (tokens > 1 && last > first).then(|| (last - first) / (tokens - 1) as u32)
    }

    /// Feeds bytes as they arrive; `now` is their arrival time.
    pub fn feed(&mut self, mut bytes: &[u8], now: Instant) {
        while let Some(nl) = bytes.iter().position(|&b| b == b'\n') {
            let (head, rest) = bytes.split_at(nl);
            bytes = &rest[1..];
            if self.line.is_empty() {
                self.on_line(head, now);
            } else {
                let mut line = std::mem::take(&mut self.line);
                line.extend_from_slice(head);
                self.on_line(&line, now);
                line.clear();
                self.line = line;
            }
        }
        self.line.extend_from_slice(bytes);
    }

    /// Handles an unterminated last line when the body ends.
    pub fn finish(&mut self, now: Instant) {
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            self.on_line(&line, now);
        }
    }

    fn on_line(&mut self, line: &[u8], now: Instant) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(data) = line.strip_prefix(b"data:") else {
            // `event:`, `id:` and blank separators carry nothing we measure; of the
            // comments, one may state the stream's cost
            if let Some(cost) = line
                .strip_prefix(b": x-gatebench-cost-usd ")
                .and_then(|v| std::str::from_utf8(v).ok())
                .and_then(|v| v.trim().parse().ok())
            {
                self.cost_usd = Some(cost);
            }
            return;
        };
        let data = data.strip_prefix(b" ").unwrap_or(data);
        if data == b"[DONE]" {
            self.done = true;
            return;
        }
        if self.done {
            return;
        }
        if self.responses {
            return self.on_response_event(data, now);
        }
        let chunk: Chunk<'_> = match serde_json::from_slice(data) {
            Ok(c) => c,
            Err(_) => {
                self.malformed = true;
                return;
            }
        };
        if chunk.error.is_some() {
            self.error_event = true;
            self.said(data);
        }
        if let Some(u) = chunk.usage {
            self.usage = Some(u.into());
        }
        if chunk.choices.is_empty() {
            return;
        }
        self.chunks += 1;
        if let Some(capture) = &mut self.capture {
            if capture.id.is_none() {
                capture.id = chunk.id.as_deref().map(str::to_owned);
            }
            for choice in chunk.choices.iter().filter(|c| c.index == 0) {
                if let Some(text) = choice.content()
                    && !text.is_empty()
                {
                    capture.text.push_str(text);
                    capture.chunks += 1;
                }
                if let Some(finish) = &choice.finish_reason {
                    capture.finish = Some(finish.to_string());
                }
            }
        }
        let has_content = chunk.choices.iter().any(|c| {
            c.content().is_some_and(|t| !t.is_empty())
                || c.delta.as_ref().is_some_and(|d| d.tool_calls.is_some())
        });
        if has_content {
            self.content_at(now);
        }
    }

    /// One event of a Responses stream: text and function-call argument deltas
    /// are content; `response.completed` and `response.incomplete` end it with
    /// the usage; `response.failed` and `error` are error events.
    fn on_response_event(&mut self, data: &[u8], now: Instant) {
        let Ok(event) = serde_json::from_slice::<ResponseEvent<'_>>(data) else {
            self.malformed = true;
            return;
        };
        self.chunks += 1;
        let kind = event.kind.as_deref().unwrap_or("");
        match kind {
            "response.output_text.delta" | "response.function_call_arguments.delta" => {
                let Some(delta) = event.delta.as_deref().filter(|d| !d.is_empty()) else {
                    return;
                };
                if let Some(capture) = &mut self.capture {
                    if kind == "response.output_text.delta" {
                        capture.text.push_str(delta);
                        capture.chunks += 1;
                    } else {
                        capture.arguments.push_str(delta);
                    }
                }
                self.content_at(now);
            }
            "response.completed" | "response.incomplete" | "response.failed" => {
                self.done = true;
                if kind == "response.failed" {
                    self.error_event = true;
                    // the failed response's `error` says why
                    let failed = serde_json::from_slice::<serde_json::Value>(data)
                        .ok()
                        .and_then(|event| event.get("response").map(ToString::to_string));
                    self.said(failed.as_deref().map_or(data, str::as_bytes));
                }
                let Some(response) = event.response else {
                    return;
                };
                if kind != "response.failed"
                    && let Some(id) = &response.id
                {
                    self.answer = Some(super::chain::Answer {
                        id: id.clone(),
                        calls: super::chain::calls(&response.output),
                    });
                }
                if let Some(capture) = &mut self.capture {
                    capture.id = response.id;
                    capture.finish = response.status;
                }
                self.usage = response.usage.map(Usage::from);
            }
            "error" => {
                self.error_event = true;
                self.said(data);
            }
            _ => {}
        }
    }

    /// Keeps what the stream's first error event said.
    fn said(&mut self, data: &[u8]) {
        if self.error_said.is_none() {
            self.error_said = super::error_message(data);
        }
    }

    fn content_at(&mut self, now: Instant) {
        if self.first_content.is_none() {
            self.first_content = Some(now);
        }
        self.last_content = Some(now);
        self.content_chunks += 1;
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn reads_content_usage_and_done_across_split_frames() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut s = SseState::default();
        s.feed(
            b"data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n",
            ms(1),
        );
        s.feed(
            b"data: {\"choices\":[{\"delta\":{\"content\":\"Once\"}}]}\n\ndata: {\"choi",
            ms(10),
        );
        s.feed(b"ces\":[{\"delta\":{\"content\":\" upon\"}}]}\n\n", ms(25));
        s.feed(b"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":2,\"prompt_tokens_details\":{\"cached_tokens\":0}}}\n\n", ms(26));
        s.feed(b"data: [DONE]\n\n", ms(27));
        s.finish(ms(27));
        assert!(s.done && !s.malformed);
        assert_eq!(s.first_content, Some(ms(10)));
        assert_eq!(s.inter_token_latency(), Some(Duration::from_millis(15)));
        assert_eq!(s.usage.unwrap().completion_tokens, 2);
        assert_eq!(s.chunks, 3);
        assert_eq!(s.cost_usd, None);
        s.feed(b": x-gatebench-cost-usd 0.000123450000000001\n\n", ms(28));
        assert_eq!(
            s.cost_usd.map(|c| c.to_string()).as_deref(),
            Some("0.000123450000000001")
        );
        // other comments and a bad figure change nothing
        s.feed(b": keep-alive\n: x-gatebench-cost-usd lots\n", ms(29));
        assert!(s.cost_usd.is_some());
    }

    #[test]
    fn reads_text_completion_chunks() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut s = SseState::default();
        s.feed(b"data: {\"object\":\"text_completion\",\"choices\":[{\"text\":\" a\",\"index\":0,\"finish_reason\":null}]}\n\n", ms(5));
        s.feed(b"data: {\"object\":\"text_completion\",\"choices\":[{\"text\":\" lamp\",\"index\":0,\"finish_reason\":\"length\"}]}\n\n", ms(9));
        s.feed(b"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2}}\n\ndata: [DONE]\n\n", ms(10));
        assert!(s.done && !s.malformed && !s.error_event);
        assert_eq!(
            (s.first_content, s.last_content),
            (Some(ms(5)), Some(ms(9)))
        );
        assert_eq!(s.usage.unwrap().prompt_tokens, 3);
    }

    #[test]
    fn reads_a_responses_stream_to_its_last_event() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut s = SseState {
            responses: true,
            capture: Some(StreamCapture::default()),
            ..SseState::default()
        };
        s.feed(b"event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_1\",\"status\":\"in_progress\",\"usage\":null}}\n\n", ms(1));
        s.feed(b"event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"Tides\"}\n\n", ms(20));
        s.feed(b"event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\" rise.\"}\n\n", ms(30));
        assert!(!s.done);
        s.feed(b"event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"id\":\"resp_1\",\"status\":\"completed\",\"usage\":{\"input_tokens\":9,\"input_tokens_details\":{\"cached_tokens\":0},\"output_tokens\":3}}}\n\n", ms(31));
        s.feed(b": x-gatebench-cost-usd 0.00001\n\n", ms(31));
        assert!(s.done && !s.malformed && !s.error_event);
        assert_eq!(s.first_content, Some(ms(20)));
        assert_eq!(s.inter_token_latency(), Some(Duration::from_millis(5)));
        let usage = s.usage.unwrap();
        assert_eq!((usage.prompt_tokens, usage.completion_tokens), (9, 3));
        assert!(s.cost_usd.is_some());
        let capture = s.capture.take().unwrap();
        assert_eq!(capture.text, "Tides rise.");
        assert_eq!(capture.id.as_deref(), Some("resp_1"));
        assert_eq!(capture.finish.as_deref(), Some("completed"));

        // an answer that calls a function: its arguments stand for its text, and
        // the call is kept for the conversation's next turn
        let mut s = SseState {
            responses: true,
            capture: Some(StreamCapture::default()),
            ..SseState::default()
        };
        s.feed(b"data: {\"type\":\"response.function_call_arguments.delta\",\"delta\":\"{\\\"q\\\":\"}\n\n", ms(5));
        s.feed(
            b"data: {\"type\":\"response.function_call_arguments.delta\",\"delta\":\"1}\"}\n\n",
            ms(6),
        );
        s.feed(b"data: {\"type\":\"response.completed\",\"response\":{\"id\":\"resp_2\",\"status\":\"completed\",\"output\":[{\"type\":\"function_call\",\"call_id\":\"call_7\",\"name\":\"f\",\"arguments\":\"{\\\"q\\\":1}\"}]}}\n\n", ms(7));
        assert!(s.done && !s.malformed);
        let answer = s.answer.take().unwrap();
        assert_eq!(answer.id, "resp_2");
        assert_eq!(answer.calls[0].id, "call_7");
        assert_eq!(answer.calls[0].name, "f");
        let mut trace = crate::metrics::Trace::default();
        s.capture.take().unwrap().finish(&mut trace);
        assert_eq!(
            trace.content_digest,
            Some(gatebench_wire::books::digest(br#"{"q":1}"#))
        );

        // a failed response ends the stream as an error; a chat chunk is no event
        let mut s = SseState {
            responses: true,
            ..SseState::default()
        };
        s.feed(
            b"data: {\"type\":\"response.failed\",\"response\":{\"status\":\"failed\"}}\n\n",
            ms(1),
        );
        assert!(s.done && s.error_event);
        let mut s = SseState {
            responses: true,
            ..SseState::default()
        };
        s.feed(
            b"data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\ndata: [DONE]\n\n",
            ms(1),
        );
        assert!(s.done && s.first_content.is_none());
    }

    #[test]
    fn flags_garbage_and_missing_done() {
        let now = Instant::now();
        let mut s = SseState::default();
        s.feed(b"data: {not json}\n\n", now);
        s.finish(now);
        assert!(s.malformed && !s.done);
        let mut s = SseState::default();
        s.feed(
            b"data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\r\n\r\n",
            now,
        );
        s.finish(now);
        assert!(!s.done && s.first_content.is_some());
    }
}
