//! Incremental reading of a chat completion stream (server-sent events).
//!
//! Records when each non-empty content delta arrived, the usage of the final chunk and
//! whether `data: [DONE]` closed the stream. Chunks are parsed leniently: unknown
//! fields are ignored, since the target may be anyone's OpenAI-compatible service.

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
    #[serde(default, borrow)]
    finish_reason: Option<Cow<'a, str>>,
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
    /// `data: [DONE]` seen.
    pub done: bool,
    /// A data line was not JSON.
    pub malformed: bool,
    /// An `error` object arrived in the stream.
    pub error_event: bool,
    /// Chunks with at least one choice.
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
}

impl SseState {
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
        let chunk: Chunk<'_> = match serde_json::from_slice(data) {
            Ok(c) => c,
            Err(_) => {
                self.malformed = true;
                return;
            }
        };
        if chunk.error.is_some() {
            self.error_event = true;
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
                if let Some(text) = choice.delta.as_ref().and_then(|d| d.content.as_deref())
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
            c.delta.as_ref().is_some_and(|d| {
                d.content.as_deref().is_some_and(|t| !t.is_empty()) || d.tool_calls.is_some()
            })
        });
        if has_content {
            if self.first_content.is_none() {
                self.first_content = Some(now);
            }
            self.last_content = Some(now);
            self.content_chunks += 1;
        }
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
