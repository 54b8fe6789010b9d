//! Writing one choice: readable prose from the corpus topic the prompt is about, of a
//! length drawn from the model's distribution (never below the floor vLLM's
//! `min_tokens` or `ignore_eos` ask for), shaped as JSON when asked, cut at a stop
//! sequence, truncated at the token cap, and counted exactly.
//!
//! Everything is drawn from the generator passed in; the caller seeds it from the
//! request's content, so the same request always gets the same text.

pub(in crate::openai) mod schema;

use std::sync::{Arc, OnceLock};

use gatebench_wire::openai::FinishReason;
use rand::RngExt as _;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::corpus::{PARAGRAPH_BREAK, Sentence, Topic, corpus};
use super::profile::TokenCount;
use super::stream::{Pieces, token_pieces};
use crate::rng::MockRng;
use gatebench_tokens::Encoding;

/// z-score of the 99th percentile of the standard normal distribution.
const Z_P99: f64 = 2.326_347_874_040_841;
/// Longest answer ever drawn, whatever the distribution says.
const MAX_DRAWN_TOKENS: f64 = 32_768.0;

/// The shape of the answer (`response_format`).
#[derive(Clone, Copy, Debug)]
pub enum Format<'a> {
    /// Prose.
    Text,
    /// A JSON object.
    JsonObject,
    /// A JSON value following this schema (an object when the schema is missing).
    JsonSchema(Option<&'a Value>),
}

/// What to write.
#[derive(Clone, Copy, Debug)]
pub struct Spec<'a> {
    /// Tokenizer the answer is counted with.
    pub encoding: Encoding,
    /// Length of an uncapped answer.
    pub length: TokenCount,
    /// `max_completion_tokens` / `max_tokens`.
    pub cap: Option<u32>,
    /// Fewest tokens of a prose answer (vLLM's `min_tokens`, or the cap with
    /// `ignore_eos`); stop sequences do not cut below it.
    pub floor: Option<u32>,
    /// Stop sequences.
    pub stop: &'a [&'a str],
    /// Prose or JSON.
    pub format: Format<'a>,
    /// What the answer is about (the last user message).
    pub prompt: &'a str,
}

/// One written choice.
#[derive(Clone, Debug, PartialEq)]
pub struct Written {
    /// The text.
    pub text: String,
    /// Its token count (exact, counted on the final text).
    pub tokens: u32,
    /// `stop`, or `length` when the cap cut it (`tool_calls` for a call).
    pub finish: FinishReason,
    /// Tool calls instead of an answer: then `text` is their JSON arguments, one
    /// after another.
    pub calls: Vec<Call>,
    /// The text's token pieces, once a stream has asked for them.
    pub pieces: Memo<Arc<Pieces>>,
    /// The choice's `message` as JSON, once an answer has been sent whole.
    pub message: Memo<Box<RawValue>>,
}

impl Written {
    /// The text split at token boundaries (see [`token_pieces`]), computed once
    /// for a memoised answer however often it is streamed.
    pub fn pieces(&self, encoding: Encoding) -> Arc<Pieces> {
        Arc::clone(self.pieces.0.get_or_init(|| {
            // each call's arguments are split alone: a token never spans two calls
            Arc::new(match self.calls.as_slice() {
                [_, _, ..] => Pieces::of_parts(
                    self.calls
                        .iter()
                        .map(|c| token_pieces(encoding, &c.arguments))
                        .collect(),
                ),
                _ => Pieces::new(token_pieces(encoding, &self.text)),
            })
        }))
    }

    /// The choice's `message` as JSON (`message` writes it), serialised once for a
    /// memoised answer however often it is sent.
    pub fn message_json(&self, message: impl FnOnce(&Written) -> Box<RawValue>) -> &RawValue {
        self.message.0.get_or_init(|| message(self))
    }
}

/// Something a [`Written`] answer derives and keeps once computed. Not part of
/// what an answer is: any two compare equal.
#[derive(Clone, Debug, Default)]
pub struct Memo<T>(OnceLock<T>);

impl<T> PartialEq for Memo<T> {
    fn eq(&self, _: &Memo<T>) -> bool {
        true
    }
}

/// A tool call a choice makes.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    /// `call_...`.
    pub id: String,
    /// The function called.
    pub name: String,
    /// Its JSON arguments.
    pub arguments: String,
}

/// Writes one choice.
pub fn write(spec: &Spec<'_>, rng: &mut MockRng) -> Written {
    // A floor at the cap (`ignore_eos`) writes past it, so the cap cuts the answer
    // and it ends as `length`, as a generation that never stopped does.
    let floor = match (spec.floor, spec.cap) {
        (Some(floor), Some(cap)) if floor >= cap => cap as usize + 1,
        (floor, _) => floor.unwrap_or(0) as usize,
    };
    let target = draw_length(spec.length, rng).max(floor);
    // The cap cuts the text anyway: write only enough of it to be sure to pass the
    // cap, since counting the rest was most of the cost of an answer. The prefix
    // the cap keeps is the same either way.
    let target = match spec.cap {
        Some(cap) => target.min(past_the_cap(cap as usize)),
        None => target,
    };
    let text = match corpus().pick(spec.prompt, rng) {
        None => String::new(),
        Some(topic) => {
            let start = topic.random_start(rng);
            let mut source = Source {
                topic,
                encoding: spec.encoding,
                walk: topic.walk(start, spec.encoding),
                rng,
            };
            match spec.format {
                Format::Text => {
                    let Prose { mut text, tokens } = source.prose_counted(target, true);
                    match tokens {
                        // Counted as written: no tokenizer, unless a stop sequence cuts.
                        Some(tokens) if tokens.ids.len() >= floor && !stops(&text, spec.stop) => {
                            return finish_counted(spec, text, &tokens);
                        }
                        _ => source.top_up(&mut text, floor, spec.encoding),
                    }
                    text
                }
                Format::JsonObject => {
                    let mut object = Map::new();
                    object.insert("topic".into(), Value::from(topic.name()));
                    object.insert("answer".into(), Value::from(source.prose(target)));
                    pretty(&Value::Object(object))
                }
                Format::JsonSchema(schema) => {
                    let empty = Value::Object(Map::new());
                    let root = schema.unwrap_or(&empty);
                    let mut fill = schema::Fill {
                        root,
                        source: &mut source,
                        budget: Some(target),
                        written: 0,
                    };
                    pretty(&fill.value(root, 0))
                }
            }
        }
    };
    finish(spec, text)
}

/// Applies the stop sequences and the token cap, and counts the result.
pub fn finish(spec: &Spec<'_>, text: String) -> Written {
    let text = cut_at_stop(text, spec.stop, spec.floor, spec.encoding);
    match spec.cap {
        Some(cap) => {
            let (text, tokens, truncated) = truncate(spec.encoding, text, cap as usize);
            Written {
                text,
                tokens,
                finish: if truncated {
                    FinishReason::Length
                } else {
                    FinishReason::Stop
                },
                calls: Vec::new(),
                pieces: Memo::default(),
                message: Memo::default(),
            }
        }
        None => {
            let tokens = spec.encoding.count(&text) as u32;
            Written {
                text,
                tokens,
                finish: FinishReason::Stop,
                calls: Vec::new(),
                pieces: Memo::default(),
                message: Memo::default(),
            }
        }
    }
}

/// `text` whose `tokens` are known: cut at the cap as [`finish`] cuts it, with the
/// tokenizer run on the part of one sentence the cut falls in, if any.
fn finish_counted(spec: &Spec<'_>, text: String, tokens: &Tokens) -> Written {
    let (text, count, finish) = match spec.cap {
        Some(cap) if tokens.ids.len() > cap as usize => {
            let (text, count) = cut(spec.encoding, &text, tokens, cap as usize);
            (text, count, FinishReason::Length)
        }
        _ => (text, tokens.ids.len() as u32, FinishReason::Stop),
    };
    Written {
        text,
        tokens: count,
        finish,
        calls: Vec::new(),
        pieces: Memo::default(),
        message: Memo::default(),
    }
}

/// Whether any of the stop sequences occurs in `text`.
fn stops(text: &str, stop: &[&str]) -> bool {
    stop.iter().any(|s| !s.is_empty() && text.contains(s))
}

/// [`truncate`] for a text whose tokens are known sentence by sentence: the same
/// prefix and count. A prefix's count is the whole sentences' tokens before it
/// plus the count of the part of the sentence it ends in.
fn cut(encoding: Encoding, text: &str, tokens: &Tokens, cap: usize) -> (String, u32) {
    let mut n = cap;
    while n > 0 {
        let k = tokens.starts.partition_point(|&(first, _)| first < n) - 1;
        let (first, at) = tokens.starts[k];
        let end = tokens.starts.get(k + 1).map_or(tokens.ids.len(), |s| s.0);
        if let Some(bytes) = encoding.decode_bytes(&tokens.ids[first..n])
            && let Ok(rest) = String::from_utf8(bytes)
        {
            let count = first
                + if n == end {
                    n - first
                } else {
                    encoding.count(&rest)
                };
            if count <= cap {
                return ([&text[..at], &rest].concat(), count as u32);
            }
        }
        n -= 1;
    }
    (String::new(), 0)
}

/// Tokens of prose to write for an answer capped at `cap`, by the sentence-by-
/// sentence count `prose` goes by: that count can run over the exact one by about
/// a token a sentence, so this is well past the cap.
fn past_the_cap(cap: usize) -> usize {
    cap.saturating_add(cap / 4).saturating_add(16)
}

/// A log-normal draw with the distribution's median and p99, at least 1.
pub fn draw_length(length: TokenCount, rng: &mut MockRng) -> usize {
    let median = f64::from(length.median.max(1));
    let p99 = f64::from(length.p99).max(median);
    let sigma = (p99 / median).ln() / Z_P99;
    // Box-Muller: two uniforms make one standard normal draw.
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random();
    let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
    (median * (sigma * z).exp())
        .round()
        .clamp(1.0, MAX_DRAWN_TOKENS) as usize
}

/// Sentences of one topic, walked in order from a random paragraph.
struct Source<'r, I> {
    topic: &'r Topic,
    encoding: Encoding,
    walk: I,
    rng: &'r mut MockRng,
}

/// Prose, with its tokens when they are known.
struct Prose {
    text: String,
    tokens: Option<Tokens>,
}

/// A text's tokens, and where each sentence's tokens start: the token index and the byte.
struct Tokens {
    ids: Vec<u32>,
    starts: Vec<(usize, usize)>,
}

impl<'r, I: Iterator<Item = Sentence>> Source<'r, I> {
    /// Whole sentences until about `target` tokens.
    fn prose(&mut self, target: usize) -> String {
        self.prose_counted(target, false).text
    }

    /// [`Source::prose`], with its tokens if `count` and the text starts a
    /// paragraph, as the topic's sentence tokens are joined.
    fn prose_counted(&mut self, target: usize, count: bool) -> Prose {
        let sentence_tokens = self.topic.tokens(self.encoding);
        let mut text = String::new();
        let mut counted = count.then(|| Tokens {
            ids: Vec::new(),
            starts: Vec::new(),
        });
        let mut last = None;
        let mut tokens = 0;
        while tokens < target {
            let Some(sentence) = self.walk.next() else {
                break;
            };
            let follows_space = !self.topic.starts_paragraph(sentence.index);
            if text.is_empty() && follows_space {
                counted = None;
            }
            if let Some(counted) = &mut counted {
                // A sentence's tokens take the space before it.
                let at = text.len() - usize::from(follows_space);
                counted.starts.push((counted.ids.len(), at));
                let ids = sentence_tokens.of(sentence.index, sentence.paragraph_end);
                counted.ids.extend_from_slice(ids);
            }
            last = Some(sentence);
            text.push_str(sentence.text);
            // Counting sentence by sentence is close to the joined text's count; the
            // exact count is taken on the final text.
            tokens += sentence.tokens + 1;
            text.push_str(if sentence.paragraph_end {
                PARAGRAPH_BREAK
            } else {
                " "
            });
        }
        text.truncate(text.trim_end().len());
        // The text ends without its last sentence's paragraph break.
        if let (Some(counted), Some(last)) = (&mut counted, last)
            && last.paragraph_end
            && let Some(&(first, _)) = counted.starts.last()
        {
            counted.ids.truncate(first);
            counted
                .ids
                .extend_from_slice(sentence_tokens.of(last.index, false));
        }
        Prose {
            text,
            tokens: counted,
        }
    }

    /// More sentences until `text` counts at least `floor` tokens exactly (the
    /// sentence-by-sentence count `prose` goes by can fall a little short).
    fn top_up(&mut self, text: &mut String, floor: usize, encoding: Encoding) {
        if floor == 0 {
            return;
        }
        loop {
            let have = encoding.count(text);
            if have >= floor {
                return;
            }
            let more = self.prose(floor - have + 1);
            if more.is_empty() {
                return;
            }
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(&more);
        }
    }

    /// One sentence.
    fn sentence(&mut self) -> String {
        self.walk
            .next()
            .map(|s| s.text.to_owned())
            .unwrap_or_default()
    }

    /// A number below `below`.
    fn number(&mut self, below: u64) -> u64 {
        self.rng.random_range(0..below.max(1))
    }
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// The text before the earliest stop sequence (which is not included); with a
/// floor, the earliest that leaves at least `floor` tokens before it.
fn cut_at_stop(mut text: String, stop: &[&str], floor: Option<u32>, encoding: Encoding) -> String {
    let stop = stop.iter().filter(|s| !s.is_empty());
    let first = match floor {
        None => stop.filter_map(|s| text.find(s)).min(),
        Some(floor) => {
            let mut at: Vec<usize> = stop
                .flat_map(|s| text.match_indices(s).map(|(i, _)| i))
                .collect();
            at.sort_unstable();
            at.into_iter()
                .find(|&i| encoding.count(&text[..i]) >= floor as usize)
        }
    };
    if let Some(at) = first {
        text.truncate(at);
    }
    text
}

/// The longest prefix of `text` that counts at most `cap` tokens, its count, and
/// whether anything was cut. A prefix of tokens does not always re-tokenise to the
/// same tokens, nor decode to whole characters, so the cut backs off until the
/// prefix is valid UTF-8 and its own count fits.
fn truncate(encoding: Encoding, text: String, cap: usize) -> (String, u32, bool) {
    let tokens = encoding.encode(&text);
    if tokens.len() <= cap {
        return (text, tokens.len() as u32, false);
    }
    let mut n = cap;
    while n > 0 {
        if let Some(bytes) = encoding.decode_bytes(&tokens[..n])
            && let Ok(prefix) = String::from_utf8(bytes)
        {
            let count = encoding.count(&prefix);
            if count <= cap {
                return (prefix, count as u32, true);
            }
        }
        n -= 1;
    }
    (String::new(), 0, true)
}

#[cfg(test)]
mod tests;
