//! A streamed response: server-sent events (`event: TYPE`, `data: {...}`) in the
//! order the API documents, each with its `sequence_number`:
//! `response.created`, `response.in_progress`, `response.output_item.added`,
//! `response.content_part.added`, one `response.output_text.delta` per token,
//! `response.output_text.done`, `response.content_part.done`,
//! `response.output_item.done`, then `response.completed` (or
//! `response.incomplete` when `max_output_tokens` cut it) with the usage. A
//! function call streams `response.function_call_arguments.delta` fragments and
//! `response.function_call_arguments.done` instead of the content part and text
//! events. There is no `[DONE]`. Paced like a chat stream; a stream-cut fault ends the body with an
//! error part-way, and a stream that ends early bills what went out.

use std::io;
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use gatebench_wire::books::hash;
use gatebench_wire::openai::{OutputText, ResponseEvent, ResponseObject, ResponseUsage};

use super::Output;
use http::{HeaderValue, header};
use tokio::time::Instant;

use super::super::admission::Admission;
use super::super::chat::Timing;
use super::super::stream::token_pieces;
use super::finished;
use crate::core::RequestCtx;
use gatebench_tokens::Encoding;

/// See the chat stream: lets the server write out what was sent before a cut.
const CUT_GRACE: Duration = Duration::from_millis(20);
/// Events written back to back share one body frame, up to about this many bytes.
const FRAME_BYTES: usize = 16 * 1024;

/// Everything a streamed response needs.
pub(super) struct Plan {
    /// The response as created.
    pub started: ResponseObject,
    /// Its one output item.
    pub output: Output,
    /// Its usage.
    pub usage: ResponseUsage,
    /// The model's tokenizer (pieces, and billing a cut stream).
    pub encoding: Encoding,
    /// Its pacing.
    pub timing: Timing,
    /// The request (its books entry, delays, faults).
    pub ctx: RequestCtx,
    /// Held until the body ends.
    pub admission: Admission,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Step {
    Created,
    InProgress,
    ItemAdded,
    PartAdded,
    Delta(usize),
    TextDone,
    PartDone,
    ItemDone,
    Done,
}

/// The streamed response.
pub(super) fn respond(plan: Plan) -> Response {
    let pieces = token_pieces(plan.encoding, &plan.output.text);
    let steps = schedule(pieces.len(), plan.output.call.is_some(), plan.timing);
    let cut_at = plan.ctx.take_stream_cut().map(|share| {
        ((share * steps.len() as f64) as usize).clamp(1, steps.len().saturating_sub(1).max(1))
    });
    let headers = plan.admission.headers.clone();
    let state = Events {
        pieces,
        steps,
        next: 0,
        cut_at,
        deadline: Instant::now(),
        finished: false,
        all_sent: false,
        plan,
    };
    let body = futures::stream::unfold(state, Events::step);
    let mut response = Response::new(Body::from_stream(body));
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.extend(headers);
    response
}

/// Steps with the (loaded, unscaled) wait before each: the opening events at once,
/// the first delta after the time to first token, each later delta (and the
/// closing events) one time-per-token later. A function call has no content part.
fn schedule(pieces: usize, call: bool, timing: Timing) -> Vec<(Step, Duration)> {
    let per_token = timing.loaded(timing.per_token);
    let mut steps = vec![
        (Step::Created, Duration::ZERO),
        (Step::InProgress, Duration::ZERO),
        (Step::ItemAdded, Duration::ZERO),
    ];
    if !call {
        steps.push((Step::PartAdded, Duration::ZERO));
    }
    for i in 0..pieces {
        let wait = if i == 0 {
            timing.loaded(timing.first)
        } else {
            per_token
        };
        steps.push((Step::Delta(i), wait));
    }
    let closing = if pieces == 0 {
        timing.loaded(timing.first)
    } else {
        per_token
    };
    steps.push((Step::TextDone, closing));
    if !call {
        steps.push((Step::PartDone, Duration::ZERO));
    }
    for step in [Step::ItemDone, Step::Done] {
        steps.push((step, Duration::ZERO));
    }
    steps
}

struct Events {
    pieces: Vec<String>,
    steps: Vec<(Step, Duration)>,
    next: usize,
    cut_at: Option<usize>,
    deadline: Instant,
    finished: bool,
    /// The stream went out to its last event.
    all_sent: bool,
    plan: Plan,
}

impl Events {
    async fn step(mut self) -> Option<(Result<Bytes, io::Error>, Events)> {
        if self.finished {
            return None;
        }
        if self.cut_at == Some(self.next) {
            self.finished = true;
            tokio::time::sleep(CUT_GRACE).await;
            tracing::debug!(id = %self.plan.started.id, after = self.next, "stream cut");
            return Some((Err(io::Error::other("stream cut")), self));
        }
        self.deadline += self.plan.ctx.scaled(self.steps[self.next].1);
        if self.deadline > Instant::now() {
            tokio::time::sleep_until(self.deadline).await;
        }
        let mut frame = Vec::new();
        loop {
            let step = self.steps[self.next].0;
            self.write(step, self.next as u64, &mut frame);
            self.next += 1;
            let more = self.next < self.steps.len()
                && self.cut_at != Some(self.next)
                && frame.len() < FRAME_BYTES
                && self.plan.ctx.scaled(self.steps[self.next].1).is_zero();
            if !more {
                break;
            }
        }
        if self.next >= self.steps.len() {
            self.finished = true;
            self.all_sent = true;
        }
        Some((Ok(Bytes::from(frame)), self))
    }

    fn write(&self, step: Step, sequence_number: u64, out: &mut Vec<u8>) {
        let plan = &self.plan;
        let output = &plan.output;
        let item_id = || output.item_id.clone();
        let in_progress = || Box::new(plan.started.clone());
        let call = output.call.is_some();
        let event = match step {
            Step::Created => ResponseEvent::Created {
                sequence_number,
                response: in_progress(),
            },
            Step::InProgress => ResponseEvent::InProgress {
                sequence_number,
                response: in_progress(),
            },
            Step::ItemAdded => ResponseEvent::OutputItemAdded {
                sequence_number,
                output_index: 0,
                item: output.item(false),
            },
            Step::PartAdded => ResponseEvent::ContentPartAdded {
                sequence_number,
                item_id: item_id(),
                output_index: 0,
                content_index: 0,
                part: OutputText::new(""),
            },
            Step::Delta(i) if call => ResponseEvent::FunctionCallArgumentsDelta {
                sequence_number,
                item_id: item_id(),
                output_index: 0,
                delta: self.pieces.get(i).cloned().unwrap_or_default(),
            },
            Step::Delta(i) => ResponseEvent::OutputTextDelta {
                sequence_number,
                item_id: item_id(),
                output_index: 0,
                content_index: 0,
                delta: self.pieces.get(i).cloned().unwrap_or_default(),
                logprobs: Vec::new(),
            },
            Step::TextDone => match &output.call {
                Some(c) => ResponseEvent::FunctionCallArgumentsDone {
                    sequence_number,
                    item_id: item_id(),
                    output_index: 0,
                    name: c.name.clone(),
                    arguments: output.text.clone(),
                },
                None => ResponseEvent::OutputTextDone {
                    sequence_number,
                    item_id: item_id(),
                    output_index: 0,
                    content_index: 0,
                    text: output.text.clone(),
                    logprobs: Vec::new(),
                },
            },
            Step::PartDone => ResponseEvent::ContentPartDone {
                sequence_number,
                item_id: item_id(),
                output_index: 0,
                content_index: 0,
                part: OutputText::new(output.text.clone()),
            },
            Step::ItemDone => ResponseEvent::OutputItemDone {
                sequence_number,
                output_index: 0,
                item: output.item(true),
            },
            Step::Done => {
                let response = Box::new(finished(plan.started.clone(), output, plan.usage.clone()));
                if output.incomplete {
                    ResponseEvent::Incomplete {
                        sequence_number,
                        response,
                    }
                } else {
                    ResponseEvent::Completed {
                        sequence_number,
                        response,
                    }
                }
            }
        };
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(event.kind().as_bytes());
        out.extend_from_slice(b"\ndata: ");
        // Serialising plain structs into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, &event);
        out.extend_from_slice(b"\n\n");
    }
}

impl Drop for Events {
    /// A stream that ended early is billed for the prompt and the text delivered.
    fn drop(&mut self) {
        if self.all_sent {
            return;
        }
        let delivered: String = self.steps[..self.next.min(self.steps.len())]
            .iter()
            .filter_map(|(step, _)| match *step {
                Step::Delta(i) => self.pieces.get(i).map(String::as_str),
                _ => None,
            })
            .collect();
        let tokens = self.plan.encoding.count(&delivered) as u64;
        let content = hash(delivered.as_bytes());
        self.plan.ctx.serve(|served| {
            served.usage.output_tokens = tokens;
            served.content_digest = Some(content);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_opens_streams_a_delta_per_token_then_closes() {
        let timing = Timing {
            first: Duration::from_millis(300),
            per_token: Duration::from_millis(10),
            factor: 1.0,
        };
        let steps = schedule(3, false, timing);
        let order: Vec<Step> = steps.iter().map(|s| s.0).collect();
        assert_eq!(
            order,
            [
                Step::Created,
                Step::InProgress,
                Step::ItemAdded,
                Step::PartAdded,
                Step::Delta(0),
                Step::Delta(1),
                Step::Delta(2),
                Step::TextDone,
                Step::PartDone,
                Step::ItemDone,
                Step::Done,
            ]
        );
        let total: Duration = steps.iter().map(|s| s.1).sum();
        assert_eq!(total, Duration::from_millis(300 + 3 * 10));
        let call: Vec<Step> = schedule(2, true, timing).iter().map(|s| s.0).collect();
        assert!(!call.contains(&Step::PartAdded) && !call.contains(&Step::PartDone));
        assert_eq!(call.len(), 3 + 2 + 3);
    }
}
