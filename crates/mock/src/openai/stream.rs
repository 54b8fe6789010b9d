//! A streamed chat completion: server-sent events of `chat.completion.chunk`
//! objects (or, for a legacy completion, `text_completion` objects), paced by the
//! latency model (`paced.rs`), ending with `data: [DONE]`.
//!
//! Order, as the API sends it: each choice's role delta (`content: ""`), then one
//! content delta per token (choices interleaved), then each choice's
//! `finish_reason` chunk, then, with `stream_options.include_usage`, a chunk with
//! empty `choices` and the usage (every other chunk then carries `"usage": null`).
//! A legacy completion's chunks carry `choices[].text`, and no role chunk.
//! A stream-cut fault ends the body with an error after a share of the chunks, so
//! the client sees the connection drop without `[DONE]`.

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use super::admission::Admission;
use super::chat::{Meta, Object};
use super::completion::{Call, Written};
use super::paced::{self, Script};
use super::timing::Timing;
use crate::core::RequestCtx;
use crate::json::string;
use axum::response::Response;
use gatebench_tokens::Encoding;
use gatebench_wire::books::hash;
use gatebench_wire::openai::{
    ChatCompletionChunk, ChunkChoice, Delta, FinishReason, FunctionCallDelta, Role, TextChoice,
    TextCompletion, ToolCallDelta, Usage,
};
use serde::Serialize;

const DONE: &[u8] = b"data: [DONE]\n\n";

/// One chunk to send, and the wait before it.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Event {
    Role(usize),
    Content(usize, usize),
    Finish(usize),
    Usage,
}

/// The streamed response. `admission` is held until the body ends.
#[allow(clippy::too_many_arguments)]
pub(super) fn respond(
    meta: Meta,
    encoding: Encoding,
    choices: Arc<Vec<Written>>,
    usage: Option<Usage>,
    include_usage: bool,
    (timing, reasoning): (Timing, u32),
    ctx: RequestCtx,
    admission: Admission,
) -> Response {
    let pieces: Vec<Arc<Pieces>> = choices.iter().map(|c| c.pieces(encoding)).collect();
    let lengths: Vec<usize> = pieces.iter().map(|p| p.len()).collect();
    let steps = schedule(&lengths, include_usage, timing);
    let mut script = Sse {
        encoding,
        meta,
        pieces,
        finishes: choices.iter().map(|c| c.finish.clone()).collect(),
        calls: choices.iter().map(|c| c.calls.clone()).collect(),
        reasoning,
        usage,
        include_usage,
        steps,
        frames: None,
    };
    script.frames = script.frames();
    paced::respond(script, ctx, admission)
}

/// `text` split at token boundaries, each piece whole UTF-8 (a character split
/// across tokens goes out with its last token). The pieces concatenate to `text`.
pub fn token_pieces(encoding: Encoding, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut pending: Vec<u8> = Vec::new();
    for token in encoding.encode(text) {
        pending.extend(encoding.decode_bytes(&[token]).unwrap_or_default());
        if let Ok(piece) = std::str::from_utf8(&pending) {
            out.push(piece.to_owned());
            pending.clear();
        }
    }
    if !pending.is_empty() {
        out.push(String::from_utf8_lossy(&pending).into_owned());
    }
    out
}

/// A text split at token boundaries ([`token_pieces`]), each piece also written
/// once as the JSON string a content chunk carries. A memoised answer streams the
/// same pieces for every request it serves, and escaping them a few bytes at a
/// time, chunk by chunk, was the largest single cost of writing a stream.
#[derive(Debug, Default)]
pub struct Pieces {
    text: Vec<String>,
    /// Every piece as a JSON string, one after another.
    json: Vec<u8>,
    /// Where each piece's JSON string ends in `json`.
    ends: Vec<usize>,
    /// The first piece of each part after the first (the calls of a choice that
    /// makes several tool calls), ascending.
    parts: Vec<usize>,
}

impl Pieces {
    pub fn new(text: Vec<String>) -> Pieces {
        let mut json = Vec::with_capacity(text.iter().map(|t| t.len() + 2).sum());
        let ends = text
            .iter()
            .map(|piece| {
                string(&mut json, piece);
                json.len()
            })
            .collect();
        Pieces {
            text,
            json,
            ends,
            parts: Vec::new(),
        }
    }

    /// The pieces of several texts one after another, each text a part.
    pub fn of_parts(parts: Vec<Vec<String>>) -> Pieces {
        let mut starts = Vec::with_capacity(parts.len());
        let mut all = Vec::new();
        for part in parts {
            starts.push(all.len());
            all.extend(part);
        }
        Pieces {
            parts: starts.split_off(1.min(starts.len())),
            ..Pieces::new(all)
        }
    }

    /// The part piece `p` belongs to, and whether it is that part's first piece.
    pub fn part(&self, p: usize) -> (usize, bool) {
        let k = self.parts.partition_point(|&start| start <= p);
        let first = k > 0 && self.parts[k - 1] == p;
        (k, first || p == 0)
    }

    /// How many pieces there are.
    pub fn len(&self) -> usize {
        self.text.len()
    }

    /// Piece `p`.
    pub fn get(&self, p: usize) -> Option<&String> {
        self.text.get(p)
    }

    /// Piece `p` as a JSON string, quotes included.
    fn json(&self, p: usize) -> Option<&[u8]> {
        let end = *self.ends.get(p)?;
        let start = p.checked_sub(1).map_or(0, |q| self.ends[q]);
        self.json.get(start..end)
    }
}

/// Events in sending order with the (loaded, unscaled) wait before each: the
/// first token after the time to first token; each later token one chunk gap
/// after the previous (choices generated side by side share their gaps), the gaps
/// jittered around the time per token with their mean exactly it; the finish one
/// time per token after the last token.
fn schedule(lengths: &[usize], include_usage: bool, timing: Timing) -> Vec<(Event, Duration)> {
    let per_token = timing.loaded(timing.per_token);
    let tokens: usize = lengths.iter().sum();
    let mut steps = Vec::with_capacity(2 * lengths.len() + tokens + usize::from(include_usage));
    for i in 0..lengths.len() {
        let wait = if i == 0 {
            timing.loaded(timing.first)
        } else {
            Duration::ZERO
        };
        steps.push((Event::Role(i), wait));
    }
    let longest = lengths.iter().copied().max().unwrap_or(0);
    let mut gaps = timing.gaps(longest.saturating_sub(1)).into_iter();
    for position in 0..longest {
        let mut first_in_round = true;
        for (i, &length) in lengths.iter().enumerate() {
            if position < length {
                let wait = if position > 0 && first_in_round {
                    gaps.next().unwrap_or(per_token)
                } else {
                    Duration::ZERO
                };
                first_in_round = false;
                steps.push((Event::Content(i, position), wait));
            }
        }
    }
    for i in 0..lengths.len() {
        let wait = if i == 0 { per_token } else { Duration::ZERO };
        steps.push((Event::Finish(i), wait));
    }
    if include_usage {
        steps.push((Event::Usage, Duration::ZERO));
    }
    steps
}

struct Sse {
    encoding: Encoding,
    meta: Meta,
    pieces: Vec<Arc<Pieces>>,
    finishes: Vec<FinishReason>,
    /// Per choice, the tool calls it streams (as argument fragments, one call
    /// after another) instead of text.
    calls: Vec<Vec<Call>>,
    /// Hidden reasoning tokens each choice spent before its first chunk.
    reasoning: u32,
    usage: Option<Usage>,
    include_usage: bool,
    steps: Vec<(Event, Duration)>,
    /// What every chunk but the usage chunk has around its choices.
    frames: Option<Frames>,
}

/// A chunk's JSON around its `choices`, serialised once per stream. The chunks of
/// a stream differ only in their choices (and the last in its usage), and
/// escaping the id, the model and every key again for each token was most of the
/// cost of a stream. Within the choices, a content chunk differs from the next
/// only in its piece of text, so each choice has a frame around that too.
#[derive(Debug)]
struct Frame {
    /// Up to the hole.
    head: Vec<u8>,
    /// From the hole on.
    tail: Vec<u8>,
}

impl Frame {
    /// `json` with a hole in place of `hole` (a range of `marker`) where its only
    /// `marker` is; `None` unless `marker` occurs exactly once (a string value
    /// cannot hold a marker that starts with a quote: its quotes are escaped).
    fn around(json: &[u8], marker: &[u8], hole: Range<usize>) -> Option<Frame> {
        let mut found = memchr::memmem::find_iter(json, marker);
        let at = found.next()?;
        if found.next().is_some() {
            return None;
        }
        Some(Frame {
            head: json[..at + hole.start].to_vec(),
            tail: json[at + hole.end..].to_vec(),
        })
    }

    /// The frame of a chunk without usage: `data: {...,"choices":[` and
    /// `],...}` with the event's blank line.
    fn chunk(empty: &impl Serialize) -> Option<Frame> {
        let mut json = b"data: ".to_vec();
        serde_json::to_writer(&mut json, empty).ok()?;
        json.extend_from_slice(b"\n\n");
        const CHOICES: &[u8] = b"\"choices\":[]";
        Frame::around(&json, CHOICES, CHOICES.len() - 1..CHOICES.len() - 1)
    }

    /// The frame of a content choice, from it with an empty piece: the piece's
    /// string goes where the empty one was.
    fn content(empty: &impl Serialize) -> Option<Frame> {
        Frame::around(&serde_json::to_vec(empty).ok()?, b"\"\"", 0..2)
    }

    fn write<C: Serialize>(&self, choices: &[C], out: &mut Vec<u8>) {
        out.extend_from_slice(&self.head);
        for (i, choice) in choices.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            // Serialising plain structs into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut *out, choice);
        }
        out.extend_from_slice(&self.tail);
    }
}

/// The frames of a stream: its chunks', and per choice, its whole content
/// chunk's around the piece of text.
#[derive(Debug)]
struct Frames {
    chunk: Frame,
    content: Vec<Option<Frame>>,
}

impl Frames {
    /// `chunk`, and in it each choice's content frame (if it has one).
    fn new(chunk: Frame, content: impl Iterator<Item = Option<Frame>>) -> Frames {
        let content = content
            .map(|c| {
                c.map(|c| Frame {
                    head: [&chunk.head[..], &c.head].concat(),
                    tail: [&c.tail[..], &chunk.tail].concat(),
                })
            })
            .collect();
        Frames { chunk, content }
    }
}

/// A whole chunk as an event: `data: {...}` and a blank line.
fn write_whole(chunk: &impl Serialize, out: &mut Vec<u8>) {
    out.extend_from_slice(b"data: ");
    // Serialising plain structs into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, chunk);
    out.extend_from_slice(b"\n\n");
}

impl Script for Sse {
    fn len(&self) -> usize {
        self.steps.len()
    }

    fn wait(&self, i: usize) -> Duration {
        self.steps.get(i).map_or(Duration::ZERO, |s| s.1)
    }

    fn write(&self, i: usize, out: &mut Vec<u8>) {
        let Some(&(event, _)) = self.steps.get(i) else {
            return;
        };
        if let (Event::Content(i, p), Some(frames)) = (event, &self.frames)
            && let Some(Some(content)) = frames.content.get(i)
            && let Some(piece) = self.pieces.get(i).and_then(|v| v.json(p))
        {
            out.extend_from_slice(&content.head);
            out.extend_from_slice(piece);
            out.extend_from_slice(&content.tail);
            return;
        }
        self.write_event(event, out);
    }

    fn end(&self) -> &'static [u8] {
        DONE
    }

    fn id(&self) -> &str {
        &self.meta.id
    }

    /// A stream that ended early (cut, or left by its client) is billed for what
    /// went out: the prompt, the reasoning once the first chunk was out, and the
    /// tokens of the content delivered, counted as a client that read them would
    /// count them.
    fn ended_early(&self, sent: usize, ctx: &RequestCtx) {
        // per choice, the text of each of its parts (a tool call's arguments are
        // counted alone, as the whole answer's usage counts them)
        let mut texts = vec![Vec::<String>::new(); self.pieces.len()];
        for (event, _) in &self.steps[..sent.min(self.steps.len())] {
            if let Event::Content(i, p) = *event
                && let Some(pieces) = self.pieces.get(i)
                && let Some(piece) = pieces.get(p)
            {
                let (k, _) = pieces.part(p);
                let parts = &mut texts[i];
                if parts.len() <= k {
                    parts.resize_with(k + 1, String::new);
                }
                parts[k].push_str(piece);
            }
        }
        // the reasoning was spent once the first chunk went out
        let reasoning = if sent > 0 {
            u64::from(self.reasoning) * self.pieces.len() as u64
        } else {
            0
        };
        let tokens: u64 = reasoning
            + texts
                .iter()
                .flatten()
                .map(|t| self.encoding.count(t) as u64)
                .sum::<u64>();
        let content = texts.first().map(|t| hash(t.concat().as_bytes()));
        ctx.serve(|served| {
            served.usage.output_tokens = tokens;
            served.content_digest = content;
        });
    }
}

impl Sse {
    fn write_event(&self, event: Event, out: &mut Vec<u8>) {
        if self.meta.object == Object::TextCompletion {
            return self.write_text(event, out);
        }
        let choice = |index: usize, delta: Delta, finish: Option<FinishReason>| ChunkChoice {
            index: index as u32,
            delta,
            logprobs: None,
            finish_reason: finish,
        };
        let (choices, usage) = match event {
            // A tool call starts with the role: id, type and name, empty arguments.
            Event::Role(i) => {
                let delta = match self.call_start(i, 0) {
                    Some(start) => Delta {
                        role: Some(Role::Assistant),
                        ..start
                    },
                    None => Delta {
                        role: Some(Role::Assistant),
                        content: Some(String::new()),
                        ..Delta::default()
                    },
                };
                (vec![choice(i, delta, None)], None)
            }
            Event::Content(i, p) => {
                let pieces = self.pieces.get(i);
                // every later call starts as the first did, in a chunk of its own
                if let Some((k @ 1.., true)) = pieces.map(|v| v.part(p))
                    && let Some(start) = self.call_start(i, k)
                {
                    self.write_chat(vec![choice(i, start, None)], None, out);
                }
                let piece = pieces.and_then(|v| v.get(p)).cloned();
                (vec![self.chat_content(i, p, piece)], None)
            }
            Event::Finish(i) => (
                vec![choice(i, Delta::default(), self.finishes.get(i).cloned())],
                None,
            ),
            Event::Usage => (Vec::new(), self.usage.clone()),
        };
        self.write_chat(choices, usage, out);
    }

    fn write_chat(&self, choices: Vec<ChunkChoice>, usage: Option<Usage>, out: &mut Vec<u8>) {
        match (&self.frames, usage) {
            (Some(frames), None) => frames.chunk.write(&choices, out),
            (_, usage) => write_whole(&self.chat_chunk(choices, usage), out),
        }
    }

    /// The delta that starts choice `i`'s call `k`: its id, type and name, and
    /// empty arguments.
    fn call_start(&self, i: usize, k: usize) -> Option<Delta> {
        let call = self.calls.get(i)?.get(k)?;
        Some(Delta {
            tool_calls: Some(vec![ToolCallDelta {
                index: k as u32,
                id: Some(call.id.clone()),
                kind: Some("function".to_owned()),
                function: Some(FunctionCallDelta {
                    name: Some(call.name.clone()),
                    arguments: Some(String::new()),
                }),
            }]),
            ..Delta::default()
        })
    }

    /// Choice `i`'s chunk with `piece` `p` of its text (or of its tool calls'
    /// arguments).
    fn chat_content(&self, i: usize, p: usize, piece: Option<String>) -> ChunkChoice {
        let delta = if self.calls.get(i).is_some_and(|c| !c.is_empty()) {
            let (k, _) = self.pieces.get(i).map_or((0, true), |v| v.part(p));
            Delta {
                tool_calls: Some(vec![ToolCallDelta {
                    index: k as u32,
                    function: Some(FunctionCallDelta {
                        name: None,
                        arguments: piece,
                    }),
                    ..ToolCallDelta::default()
                }]),
                ..Delta::default()
            }
        } else {
            Delta {
                content: piece,
                ..Delta::default()
            }
        };
        ChunkChoice {
            index: i as u32,
            delta,
            logprobs: None,
            finish_reason: None,
        }
    }

    fn chat_chunk(&self, choices: Vec<ChunkChoice>, usage: Option<Usage>) -> ChatCompletionChunk {
        ChatCompletionChunk {
            id: self.meta.id.clone(),
            object: ChatCompletionChunk::OBJECT.to_owned(),
            created: self.meta.created,
            model: self.meta.model.clone(),
            system_fingerprint: Some(self.meta.fingerprint.clone()),
            service_tier: Some("default".to_owned()),
            choices,
            usage: self.include_usage.then_some(usage),
        }
    }

    fn text_chunk(&self, choices: Vec<TextChoice>, usage: Option<Usage>) -> TextCompletion {
        TextCompletion {
            id: self.meta.id.clone(),
            object: TextCompletion::OBJECT.to_owned(),
            created: self.meta.created,
            model: self.meta.model.clone(),
            choices,
            system_fingerprint: Some(self.meta.fingerprint.clone()),
            usage,
        }
    }

    /// The frames of every chunk without usage, and of each choice's content.
    fn frames(&self) -> Option<Frames> {
        let choices = 0..self.pieces.len();
        if self.meta.object == Object::TextCompletion {
            Some(Frames::new(
                Frame::chunk(&self.text_chunk(Vec::new(), None))?,
                choices.map(|i| Frame::content(&text_choice(i, String::new(), None))),
            ))
        } else {
            Some(Frames::new(
                self.chat_frame(),
                choices.map(|i| match self.calls.get(i).map(Vec::len) {
                    Some(0) => Some(text_content_frame(i)),
                    // the fragments of several calls differ in their call's index
                    Some(1) => Frame::content(&self.chat_content(i, 0, Some(String::new()))),
                    _ => None,
                }),
            ))
        }
    }

    /// A chat chunk's frame, laid out as serde writes [`ChatCompletionChunk`]
    /// (serialising one and cutting it was most of the cost of starting a stream).
    fn chat_frame(&self) -> Frame {
        let mut head = Vec::with_capacity(256);
        head.extend_from_slice(b"data: {\"id\":");
        string(&mut head, &self.meta.id);
        head.extend_from_slice(b",\"object\":");
        string(&mut head, ChatCompletionChunk::OBJECT);
        head.extend_from_slice(b",\"created\":");
        head.extend_from_slice(itoa::Buffer::new().format(self.meta.created).as_bytes());
        head.extend_from_slice(b",\"model\":");
        string(&mut head, &self.meta.model);
        head.extend_from_slice(b",\"system_fingerprint\":");
        string(&mut head, &self.meta.fingerprint);
        head.extend_from_slice(b",\"service_tier\":\"default\",\"choices\":[");
        let tail: &[u8] = if self.include_usage {
            b"],\"usage\":null}\n\n"
        } else {
            b"]}\n\n"
        };
        Frame {
            head,
            tail: tail.to_vec(),
        }
    }

    /// A legacy completion's chunk: the text so far of one choice, its finish, or
    /// the usage.
    fn write_text(&self, event: Event, out: &mut Vec<u8>) {
        let (choices, usage) = match event {
            Event::Role(_) => return,
            Event::Content(i, p) => {
                let piece = self.pieces.get(i).and_then(|v| v.get(p)).cloned();
                (vec![text_choice(i, piece.unwrap_or_default(), None)], None)
            }
            Event::Finish(i) => (
                vec![text_choice(i, String::new(), self.finishes.get(i).cloned())],
                None,
            ),
            Event::Usage => (Vec::new(), self.usage.clone()),
        };
        match (&self.frames, usage) {
            (Some(frames), None) => frames.chunk.write(&choices, out),
            (_, usage) => write_whole(&self.text_chunk(choices, usage), out),
        }
    }
}

/// A text choice's content chunk around its piece, as serde writes
/// [`ChunkChoice`] with only `delta.content`.
fn text_content_frame(index: usize) -> Frame {
    let mut head = b"{\"index\":".to_vec();
    head.extend_from_slice(itoa::Buffer::new().format(index).as_bytes());
    head.extend_from_slice(b",\"delta\":{\"content\":");
    Frame {
        head,
        tail: b"},\"logprobs\":null,\"finish_reason\":null}".to_vec(),
    }
}

fn text_choice(index: usize, text: String, finish: Option<FinishReason>) -> TextChoice {
    TextChoice {
        text,
        index: index as u32,
        logprobs: None,
        finish_reason: finish,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openai::completion::Call;

    fn timing() -> Timing {
        Timing {
            first: Duration::from_millis(400),
            per_token: Duration::from_millis(10),
            factor: 1.0,
            jitter: 0.0,
            jitter_seed: 7,
        }
    }

    #[test]
    fn pieces_concatenate_to_the_text_and_number_about_one_per_token() {
        for text in ["Once upon a time, a rabbit.", "caf\u{e9} \u{1f600} ok", ""] {
            let pieces = token_pieces(Encoding::O200kBase, text);
            assert_eq!(pieces.concat(), text);
            assert!(pieces.len() <= Encoding::O200kBase.count(text));
        }
        let plain = "Every morning he hopped to the edge of the meadow.";
        assert_eq!(
            token_pieces(Encoding::Cl100kBase, plain).len(),
            Encoding::Cl100kBase.count(plain)
        );
    }

    /// A stream of three choices, the second a tool call and the third two, with
    /// a quote and a backslash in the id and the text.
    fn sse(object: Object, include_usage: bool) -> Sse {
        let pieces = vec![
            Pieces::new(vec!["Say \"hi\"".to_owned(), " \\ caf\u{e9}".to_owned()]),
            Pieces::new(vec!["{\"a\":".to_owned(), "1}".to_owned()]),
            Pieces::of_parts(vec![
                vec!["{\"b\":".to_owned(), "2}".to_owned()],
                vec!["{\"c\":3}".to_owned()],
            ]),
        ];
        let call = |id: &str, arguments: &str| Call {
            id: id.to_owned(),
            name: "lookup".to_owned(),
            arguments: arguments.to_owned(),
        };
        let mut sse = Sse {
            encoding: Encoding::O200kBase,
            meta: Meta {
                object,
                id: "chatcmpl-\"choices\":[]".to_owned(),
                created: 1_700_000_000,
                model: "gpt-4o-mini".to_owned(),
                fingerprint: "fp_1".to_owned(),
            },
            steps: schedule(&[2, 2, 3], include_usage, timing()),
            pieces: pieces.into_iter().map(Arc::new).collect(),
            finishes: vec![
                FinishReason::Stop,
                FinishReason::ToolCalls,
                FinishReason::ToolCalls,
            ],
            calls: vec![
                Vec::new(),
                vec![call("call_1", "{\"a\":1}")],
                vec![call("call_2", "{\"b\":2}"), call("call_3", "{\"c\":3}")],
            ],
            reasoning: 0,
            usage: Some(Usage {
                prompt_tokens: 12,
                completion_tokens: 4,
                total_tokens: 16,
                ..Usage::default()
            }),
            include_usage,
            frames: None,
        };
        sse.frames = sse.frames();
        sse
    }

    #[test]
    fn every_event_through_the_frame_is_the_whole_chunk_serialised() {
        for object in [Object::ChatChunk, Object::TextCompletion] {
            for include_usage in [false, true] {
                let mut sse = sse(object, include_usage);
                let frames = sse.frames.as_ref().expect("a chunk has one `choices`");
                // a choice of several calls has no content frame: its fragments
                // differ in their call's index
                let framed = if object == Object::ChatChunk { 2 } else { 3 };
                assert!(
                    frames.content[..framed].iter().all(Option::is_some),
                    "{object:?}"
                );
                let framed: Vec<Vec<u8>> = (0..sse.len())
                    .map(|i| {
                        let mut out = Vec::new();
                        sse.write(i, &mut out);
                        out
                    })
                    .collect();
                sse.frames = None;
                for (i, framed) in framed.iter().enumerate() {
                    let mut whole = Vec::new();
                    sse.write(i, &mut whole);
                    assert_eq!(
                        String::from_utf8_lossy(framed),
                        String::from_utf8_lossy(&whole),
                        "{object:?}, usage {include_usage}, event {i}"
                    );
                }
            }
        }
    }

    /// Several calls stream one after another: each starts with a chunk of its
    /// index, id, name and empty arguments, then its fragments under its index,
    /// as the API streams parallel calls.
    #[test]
    fn parallel_calls_stream_one_after_another_under_their_index() {
        let sse = sse(Object::ChatChunk, false);
        let mut calls: Vec<(String, String, String)> = Vec::new();
        let mut order = Vec::new();
        for i in 0..sse.len() {
            let mut out = Vec::new();
            sse.write(i, &mut out);
            for line in String::from_utf8(out).unwrap().lines() {
                let Some(data) = line.strip_prefix("data: ") else {
                    continue;
                };
                let chunk: serde_json::Value = serde_json::from_str(data).unwrap();
                let choice = &chunk["choices"][0];
                if choice["index"] != 2 {
                    continue;
                }
                for delta in choice["delta"]["tool_calls"]
                    .as_array()
                    .into_iter()
                    .flatten()
                {
                    let k = delta["index"].as_u64().unwrap() as usize;
                    if let Some(id) = delta["id"].as_str() {
                        assert_eq!(k, calls.len(), "calls start in order");
                        assert_eq!(delta["function"]["arguments"], "");
                        let name = delta["function"]["name"].as_str().unwrap();
                        calls.push((id.to_owned(), name.to_owned(), String::new()));
                    }
                    let fragment = delta["function"]["arguments"].as_str().unwrap();
                    calls[k].2.push_str(fragment);
                    order.push(k);
                }
            }
        }
        let expected = [("call_2", "{\"b\":2}"), ("call_3", "{\"c\":3}")]
            .map(|(id, args)| (id.to_owned(), "lookup".to_owned(), args.to_owned()));
        assert_eq!(calls, expected);
        assert!(order.is_sorted(), "{order:?}");
    }

    #[test]
    fn the_schedule_sends_roles_then_tokens_then_finishes_then_usage() {
        let steps = schedule(&[2, 1], true, timing());
        let events: Vec<Event> = steps.iter().map(|s| s.0).collect();
        assert_eq!(
            events,
            [
                Event::Role(0),
                Event::Role(1),
                Event::Content(0, 0),
                Event::Content(1, 0),
                Event::Content(0, 1),
                Event::Finish(0),
                Event::Finish(1),
                Event::Usage,
            ]
        );
        let total: Duration = steps.iter().map(|s| s.1).sum();
        assert_eq!(total, Duration::from_millis(400 + 2 * 10));
    }

    #[test]
    fn load_stretches_every_wait() {
        let loaded = Timing {
            factor: 2.0,
            ..timing()
        };
        let total: Duration = schedule(&[5], false, loaded).iter().map(|s| s.1).sum();
        assert_eq!(total, Duration::from_millis(2 * (400 + 5 * 10)));
    }

    #[test]
    fn jittered_token_gaps_keep_the_time_per_token_on_average() {
        let jittered = Timing {
            jitter: 0.5,
            ..timing()
        };
        let steps = schedule(&[41, 30], false, jittered);
        let gaps: Vec<Duration> = steps
            .iter()
            .filter(|s| matches!(s.0, Event::Content(0, p) if p > 0))
            .map(|s| s.1)
            .collect();
        assert_eq!(gaps.len(), 40);
        assert!(gaps.windows(2).any(|w| w[0] != w[1]), "the gaps vary");
        let total: Duration = steps.iter().map(|s| s.1).sum();
        let expected = Duration::from_millis(400 + 41 * 10);
        assert!(
            total.abs_diff(expected) < Duration::from_micros(1),
            "{total:?}"
        );
        let choice_1: Duration = steps
            .iter()
            .filter(|s| matches!(s.0, Event::Content(1, _)))
            .map(|s| s.1)
            .sum();
        assert!(
            choice_1.is_zero(),
            "the second choice rides the first one's gaps"
        );
    }
}
