//! A streamed response: server-sent events (`event: TYPE`, `data: {...}`) in the
//! order the API documents, each with its `sequence_number`:
//! `response.created`, `response.in_progress`, `response.output_item.added`,
//! `response.content_part.added`, one `response.output_text.delta` per token,
//! `response.output_text.done`, `response.content_part.done`,
//! `response.output_item.done`, then `response.completed` (or
//! `response.incomplete` when `max_output_tokens` cut it) with the usage. A
//! function call streams `response.function_call_arguments.delta` fragments and
//! `response.function_call_arguments.done` instead of the content part and text
//! events. There is no `[DONE]`. Sent by the same pacing as a chat stream
//! (`paced.rs`): a stream-cut fault ends the body with an error part-way, and a
//! stream that ends early bills what went out.

use std::time::Duration;

use axum::response::Response;
use gatebench_wire::books::hash;
use gatebench_wire::openai::{OutputText, ResponseEvent, ResponseObject, ResponseUsage};

use super::super::admission::Admission;
use super::super::paced::{self, Script};
use super::super::stream::token_pieces;
use super::super::timing::Timing;
use super::{Output, finished};
use crate::core::RequestCtx;
use gatebench_tokens::Encoding;

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

/// The streamed response. `admission` is held until the body ends.
pub(super) fn respond(plan: Plan, ctx: RequestCtx, admission: Admission) -> Response {
    let pieces = token_pieces(plan.encoding, &plan.output.text);
    let steps = schedule(pieces.len(), plan.output.call.is_some(), plan.timing);
    paced::respond(
        Events {
            pieces,
            steps,
            plan,
        },
        ctx,
        admission,
    )
}

/// Steps with the (loaded, unscaled) wait before each: the opening events at once,
/// the first delta after the time to first token, each later delta one chunk gap
/// later (jittered around the time per token, their mean exactly it), the closing
/// events one time per token after the last delta. A function call has no content
/// part.
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
    let gaps = timing.gaps(pieces.saturating_sub(1));
    for i in 0..pieces {
        let wait = match i.checked_sub(1) {
            None => timing.loaded(timing.first),
            Some(gap) => gaps.get(gap).copied().unwrap_or(per_token),
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
    plan: Plan,
}

impl Script for Events {
    fn len(&self) -> usize {
        self.steps.len()
    }

    fn wait(&self, i: usize) -> Duration {
        self.steps.get(i).map_or(Duration::ZERO, |s| s.1)
    }

    fn write(&self, i: usize, out: &mut Vec<u8>) {
        if let Some(&(step, _)) = self.steps.get(i) {
            self.write_step(step, i as u64, out);
        }
    }

    /// The Responses API sends no `[DONE]`.
    fn end(&self) -> &'static [u8] {
        b""
    }

    fn id(&self) -> &str {
        &self.plan.started.id
    }

    /// A stream that ended early is billed for the prompt and the text delivered.
    fn ended_early(&self, sent: usize, ctx: &RequestCtx) {
        let delivered: String = self.steps[..sent.min(self.steps.len())]
            .iter()
            .filter_map(|(step, _)| match *step {
                Step::Delta(i) => self.pieces.get(i).map(String::as_str),
                _ => None,
            })
            .collect();
        let tokens = self.plan.encoding.count(&delivered) as u64;
        let content = hash(delivered.as_bytes());
        ctx.serve(|served| {
            served.usage.output_tokens = tokens;
            served.content_digest = Some(content);
        });
    }
}

impl Events {
    fn write_step(&self, step: Step, sequence_number: u64, out: &mut Vec<u8>) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_opens_streams_a_delta_per_token_then_closes() {
        let timing = Timing {
            first: Duration::from_millis(300),
            per_token: Duration::from_millis(10),
            factor: 1.0,
            jitter: 0.0,
            jitter_seed: 1,
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
