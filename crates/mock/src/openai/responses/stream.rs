//! A streamed response: server-sent events (`event: TYPE`, `data: {...}`) in the
//! order the API documents, each with its `sequence_number`:
//! `response.created`, `response.in_progress`, `response.output_item.added`,
//! `response.content_part.added`, one `response.output_text.delta` per token,
//! `response.output_text.done`, `response.content_part.done`,
//! `response.output_item.done`, then `response.completed` (or
//! `response.incomplete` when `max_output_tokens` cut it) with the usage. A
//! function call streams `response.function_call_arguments.delta` fragments and
//! `response.function_call_arguments.done` instead of the content part and text
//! events; several calls are several items, each added, streamed and done before
//! the next, under its own `output_index`. There is no `[DONE]`. Sent by the same pacing as a chat stream
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
    /// Its output items.
    pub output: Output,
    /// Its usage.
    pub usage: ResponseUsage,
    /// The model's tokenizer (pieces, and billing a cut stream).
    pub encoding: Encoding,
    /// Its pacing.
    pub timing: Timing,
}

/// A step of the stream; `k` is the output item it is about.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Step {
    Created,
    InProgress,
    ItemAdded(usize),
    PartAdded(usize),
    Delta(usize, usize),
    TextDone(usize),
    PartDone(usize),
    ItemDone(usize),
    Done,
}

/// The streamed response. `admission` is held until the body ends.
pub(super) fn respond(plan: Plan, ctx: RequestCtx, admission: Admission) -> Response {
    let pieces: Vec<Vec<String>> = plan
        .output
        .items
        .iter()
        .map(|item| token_pieces(plan.encoding, &item.text))
        .collect();
    let items: Vec<(usize, bool)> = pieces
        .iter()
        .zip(&plan.output.items)
        .map(|(p, item)| (p.len(), item.call.is_some()))
        .collect();
    let steps = schedule(&items, plan.timing);
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

/// Steps with the (loaded, unscaled) wait before each, for `items` of so many
/// pieces each (and whether each is a function call, which has no content part):
/// the opening events at once, the first delta after the time to first token,
/// each later delta one chunk gap later (jittered around the time per token,
/// their mean exactly it; an item after the first opens at once and its first
/// delta takes the next gap), the last item's closing events one time per token
/// after the last delta.
fn schedule(items: &[(usize, bool)], timing: Timing) -> Vec<(Step, Duration)> {
    let per_token = timing.loaded(timing.per_token);
    let mut steps = vec![
        (Step::Created, Duration::ZERO),
        (Step::InProgress, Duration::ZERO),
    ];
    let total: usize = items.iter().map(|i| i.0).sum();
    let mut gaps = timing.gaps(total.saturating_sub(1)).into_iter();
    let mut sent = 0;
    for (k, &(pieces, call)) in items.iter().enumerate() {
        steps.push((Step::ItemAdded(k), Duration::ZERO));
        if !call {
            steps.push((Step::PartAdded(k), Duration::ZERO));
        }
        for i in 0..pieces {
            let wait = if sent == 0 {
                timing.loaded(timing.first)
            } else {
                gaps.next().unwrap_or(per_token)
            };
            sent += 1;
            steps.push((Step::Delta(k, i), wait));
        }
        let closing = match (k + 1 == items.len(), sent) {
            (false, _) => Duration::ZERO,
            (true, 0) => timing.loaded(timing.first),
            (true, _) => per_token,
        };
        steps.push((Step::TextDone(k), closing));
        if !call {
            steps.push((Step::PartDone(k), Duration::ZERO));
        }
        steps.push((Step::ItemDone(k), Duration::ZERO));
    }
    steps.push((Step::Done, Duration::ZERO));
    steps
}

struct Events {
    /// Per output item, its text's pieces.
    pieces: Vec<Vec<String>>,
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

    /// A stream that ended early is billed for the prompt, the reasoning once the
    /// answer began, and the text delivered (each item's counted alone, as the
    /// whole response's usage counts them).
    fn ended_early(&self, sent: usize, ctx: &RequestCtx) {
        let mut delivered = vec![String::new(); self.pieces.len()];
        for (step, _) in &self.steps[..sent.min(self.steps.len())] {
            if let Step::Delta(k, i) = *step
                && let Some(piece) = self.pieces.get(k).and_then(|p| p.get(i))
            {
                delivered[k].push_str(piece);
            }
        }
        // the reasoning was spent once the answer began
        let answering = self.steps[..sent.min(self.steps.len())]
            .iter()
            .any(|(step, _)| matches!(step, Step::Delta(..) | Step::TextDone(_)));
        let reasoning = if answering {
            u64::from(self.plan.usage.output_tokens_details.reasoning_tokens)
        } else {
            0
        };
        let tokens = reasoning
            + delivered
                .iter()
                .map(|text| self.plan.encoding.count(text) as u64)
                .sum::<u64>();
        let content = hash(delivered.concat().as_bytes());
        ctx.serve(|served| {
            served.usage.output_tokens = tokens;
            served.content_digest = Some(content);
        });
    }
}

impl Events {
    fn write_step(&self, step: Step, sequence_number: u64, out: &mut Vec<u8>) {
        if let Some(event) = self.event(step, sequence_number) {
            out.extend_from_slice(b"event: ");
            out.extend_from_slice(event.kind().as_bytes());
            out.extend_from_slice(b"\ndata: ");
            // Serialising plain structs into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut *out, &event);
            out.extend_from_slice(b"\n\n");
        }
    }

    /// The event of `step` (`None` for an item that is not there).
    fn event(&self, step: Step, sequence_number: u64) -> Option<ResponseEvent> {
        let plan = &self.plan;
        let output = &plan.output;
        let item = |k: usize| output.items.get(k);
        let item_id = |k: usize| item(k).map(|i| i.id.clone()).unwrap_or_default();
        let text = |k: usize| item(k).map(|i| i.text.clone()).unwrap_or_default();
        let call = |k: usize| item(k).and_then(|i| i.call.as_ref());
        let in_progress = || Box::new(plan.started.clone());
        let event = match step {
            Step::Created => ResponseEvent::Created {
                sequence_number,
                response: in_progress(),
            },
            Step::InProgress => ResponseEvent::InProgress {
                sequence_number,
                response: in_progress(),
            },
            Step::ItemAdded(k) => ResponseEvent::OutputItemAdded {
                sequence_number,
                output_index: k as u32,
                item: item(k).map(|i| i.item(false, output))?,
            },
            Step::PartAdded(k) => ResponseEvent::ContentPartAdded {
                sequence_number,
                item_id: item_id(k),
                output_index: k as u32,
                content_index: 0,
                part: OutputText::new(""),
            },
            Step::Delta(k, i) if call(k).is_some() => ResponseEvent::FunctionCallArgumentsDelta {
                sequence_number,
                item_id: item_id(k),
                output_index: k as u32,
                delta: self.pieces[k].get(i).cloned().unwrap_or_default(),
            },
            Step::Delta(k, i) => ResponseEvent::OutputTextDelta {
                sequence_number,
                item_id: item_id(k),
                output_index: k as u32,
                content_index: 0,
                delta: self.pieces[k].get(i).cloned().unwrap_or_default(),
                logprobs: Vec::new(),
            },
            Step::TextDone(k) => match call(k) {
                Some(c) => ResponseEvent::FunctionCallArgumentsDone {
                    sequence_number,
                    item_id: item_id(k),
                    output_index: k as u32,
                    name: c.name.clone(),
                    arguments: text(k),
                },
                None => ResponseEvent::OutputTextDone {
                    sequence_number,
                    item_id: item_id(k),
                    output_index: k as u32,
                    content_index: 0,
                    text: text(k),
                    logprobs: Vec::new(),
                },
            },
            Step::PartDone(k) => ResponseEvent::ContentPartDone {
                sequence_number,
                item_id: item_id(k),
                output_index: k as u32,
                content_index: 0,
                part: OutputText::new(text(k)),
            },
            Step::ItemDone(k) => ResponseEvent::OutputItemDone {
                sequence_number,
                output_index: k as u32,
                item: item(k).map(|i| i.item(true, output))?,
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
        Some(event)
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
        let steps = schedule(&[(3, false)], timing);
        let order: Vec<Step> = steps.iter().map(|s| s.0).collect();
        assert_eq!(
            order,
            [
                Step::Created,
                Step::InProgress,
                Step::ItemAdded(0),
                Step::PartAdded(0),
                Step::Delta(0, 0),
                Step::Delta(0, 1),
                Step::Delta(0, 2),
                Step::TextDone(0),
                Step::PartDone(0),
                Step::ItemDone(0),
                Step::Done,
            ]
        );
        let total: Duration = steps.iter().map(|s| s.1).sum();
        assert_eq!(total, Duration::from_millis(300 + 3 * 10));
        let call: Vec<Step> = schedule(&[(2, true)], timing).iter().map(|s| s.0).collect();
        assert!(!call.contains(&Step::PartAdded(0)) && !call.contains(&Step::PartDone(0)));
        assert_eq!(call.len(), 3 + 2 + 3);
        // two calls: each item added, streamed and done before the next, the
        // deltas paced as one answer of their pieces together
        let calls = schedule(&[(2, true), (1, true)], timing);
        let order: Vec<Step> = calls.iter().map(|s| s.0).collect();
        assert_eq!(
            order,
            [
                Step::Created,
                Step::InProgress,
                Step::ItemAdded(0),
                Step::Delta(0, 0),
                Step::Delta(0, 1),
                Step::TextDone(0),
                Step::ItemDone(0),
                Step::ItemAdded(1),
                Step::Delta(1, 0),
                Step::TextDone(1),
                Step::ItemDone(1),
                Step::Done,
            ]
        );
        let total: Duration = calls.iter().map(|s| s.1).sum();
        assert_eq!(total, Duration::from_millis(300 + 3 * 10));
    }
}
