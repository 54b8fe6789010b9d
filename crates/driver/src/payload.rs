//! Payload choice: which request of the mix, which catalog entry, which wording.
//!
//! Iteration `n` of a scenario gets a generator seeded from (seed, scenario, n) alone,
//! so the sequence of payloads is the same on every run with the same seed, however
//! VUs interleave. Entries are drawn by Zipf popularity over a rank order that the
//! seed shuffles (so the most popular intent is not always the first in the file),
//! then one of the entry's variants (canonical prompt or a paraphrase) uniformly.

use std::sync::Arc;

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use serde_json::json;
use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::fixtures::{Catalog, Entry};
use crate::scenario::{Kind, Request, RequestSpec, Scenario};

/// One request's body and the entry it came from (its path is the request's:
/// see [`path`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Payload {
    /// Body (empty for `GET`).
    pub body: Bytes,
    /// Catalog entry id (intent, text or profile).
    pub intent: Option<Arc<str>>,
    /// The chosen wording (prompt or text).
    pub text: Option<Arc<str>>,
    /// WebSocket text messages, in order (TTS WebSocket only).
    pub ws_messages: Vec<String>,
}

/// Cumulative Zipf weights over `n` ranks.
#[derive(Clone, Debug)]
struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    fn new(n: usize, exponent: f64) -> Zipf {
        let mut total = 0.0;
        let cdf = (1..=n)
            .map(|rank| {
                total += 1.0 / (rank as f64).powf(exponent);
                total
            })
            .collect();
        Zipf { cdf }
    }

    fn draw<R: Rng + ?Sized>(&self, rng: &mut R) -> usize {
        let total = self.cdf.last().copied().unwrap_or(0.0);
        let u = unit(rng) * total;
        self.cdf
            .partition_point(|&c| c <= u)
            .min(self.cdf.len().saturating_sub(1))
    }
}

fn unit<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

fn below<R: Rng + ?Sized>(rng: &mut R, n: usize) -> usize {
    // modulo bias is below 2^-40 for catalog sizes
    (rng.next_u64() % n.max(1) as u64) as usize
}

/// Draws payloads for one request.
#[derive(Clone, Debug)]
struct Source {
    spec: Arc<RequestSpec>,
    catalog: Option<Arc<Catalog>>,
    zipf: Zipf,
    /// Rank → entry index.
    order: Vec<usize>,
    /// Body of `http` requests, shared.
    fixed_body: Bytes,
    /// Tools a `responses` request offers.
    tools: Option<Arc<serde_json::Value>>,
}

impl Source {
    fn new(request: &Request, seed: u64) -> Source {
        let n = request.catalog.as_ref().map_or(0, |c| c.entries.len());
        let mut order: Vec<usize> = (0..n).collect();
        let mut rng = StdRng::seed_from_u64(xxh3_64_with_seed(request.spec.name.as_bytes(), seed));
        for i in (1..order.len()).rev() {
            order.swap(i, below(&mut rng, i + 1));
        }
        Source {
            spec: Arc::new(request.spec.clone()),
            catalog: request.catalog.clone(),
            zipf: Zipf::new(n.max(1), request.spec.zipf),
            order,
            fixed_body: Bytes::from(request.spec.body.clone().unwrap_or_default()),
            tools: request.tools.clone(),
        }
    }

    fn draw<R: Rng + ?Sized>(&self, rng: &mut R) -> Payload {
        let spec = &*self.spec;
        let entry: Option<&Entry> = self.catalog.as_ref().map(|c| {
            let rank = self.zipf.draw(rng);
            &c.entries[self.order[rank]]
        });
        let text = entry.map(|e| e.variants[below(rng, e.variants.len())].clone());
        let intent = entry.map(|e| e.id.clone());
        let t = text.as_deref().unwrap_or("");
        let mut ws_messages = Vec::new();
        let model = spec.model.as_deref();
        let body = match spec.kind {
            Kind::Chat => {
                let system = entry
                    .and_then(|e| e.system.as_deref())
                    .or(spec.system.as_deref());
                let mut messages = Vec::with_capacity(2);
                if let Some(system) = system {
                    messages.push(Message {
                        content: system,
                        role: "system",
                    });
                }
                messages.push(Message {
                    content: t,
                    role: "user",
                });
                to_bytes(&ChatBody {
                    max_tokens: spec.max_tokens,
                    messages,
                    model,
                    stream: spec.stream.then_some(true),
                    stream_options: (spec.stream && spec.include_usage).then_some(StreamOptions {
                        include_usage: true,
                    }),
                    temperature: spec.temperature,
                })
            }
            // a legacy prompt is plain text: no system prompt
            Kind::Completions => to_bytes(&CompletionsBody {
                max_tokens: spec.max_tokens,
                model,
                prompt: t,
                stream: spec.stream.then_some(true),
                stream_options: (spec.stream && spec.include_usage).then_some(StreamOptions {
                    include_usage: true,
                }),
                temperature: spec.temperature,
            }),
            Kind::Responses => to_bytes(&ResponsesBody {
                input: t,
                instructions: entry
                    .and_then(|e| e.system.as_deref())
                    .or(spec.system.as_deref()),
                max_output_tokens: spec.max_tokens,
                model,
                stream: spec.stream.then_some(true),
                temperature: spec.temperature,
                tools: self.tools.as_deref(),
            }),
            Kind::Embeddings => to_bytes(&EmbeddingsBody {
                dimensions: spec.dimensions,
                encoding_format: spec.encoding_format.as_deref(),
                input: t,
                model,
            }),
            Kind::Tts | Kind::TtsTimestamps => to_bytes(&TtsBody {
                model_id: model,
                text: t,
            }),
            Kind::TtsWs => {
                ws_messages.push(json!({"text": " "}).to_string());
                let words: Vec<&str> = t.split_whitespace().collect();
                for chunk in words.chunks(spec.chunk_words.max(1)) {
                    ws_messages.push(json!({"text": format!("{} ", chunk.join(" "))}).to_string());
                }
                ws_messages.push(json!({"text": ""}).to_string());
                Bytes::new()
            }
            Kind::Personality => match entry.and_then(|e| e.profile.as_deref()) {
                Some(profile) => to_bytes(profile),
                None => Bytes::from_static(b"{}"),
            },
            Kind::Webvtt => {
                let secs = spec.duration_seconds.unwrap_or_else(|| {
                    ((t.chars().count() as f64 / 15.0) * 10.0).round().max(10.0) / 10.0
                });
                to_bytes(&WebvttBody {
                    duration_seconds: secs,
                    text: t,
                })
            }
            Kind::Http => {
                return Payload {
                    body: self.fixed_body.clone(),
                    intent: None,
                    text: None,
                    ws_messages,
                };
            }
        };
        Payload {
            body,
            intent,
            text,
            ws_messages,
        }
    }
}

/// A body as JSON. Each body type lists its fields in the order of their names,
/// so that it is written byte for byte as a `serde_json::Value` of the same fields
/// is (its map sorts them): drawing it that way took a map node and a string per
/// key, then `Display`'s formatter, on every request.
fn to_bytes(body: &impl Serialize) -> Bytes {
    // serialising plain structs and values into a Vec cannot fail
    Bytes::from(serde_json::to_vec(body).unwrap_or_default())
}

#[derive(Serialize)]
struct Message<'a> {
    content: &'a str,
    role: &'a str,
}

#[derive(Serialize)]
struct StreamOptions {
    include_usage: bool,
}

#[derive(Serialize)]
struct ChatBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    messages: Vec<Message<'a>>,
    model: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<StreamOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
}

#[derive(Serialize)]
struct CompletionsBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    model: Option<&'a str>,
    prompt: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<StreamOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
}

#[derive(Serialize)]
struct ResponsesBody<'a> {
    input: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    instructions: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_output_tokens: Option<u32>,
    model: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tools: Option<&'a serde_json::Value>,
}

#[derive(Serialize)]
struct EmbeddingsBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    dimensions: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    encoding_format: Option<&'a str>,
    input: &'a str,
    model: Option<&'a str>,
}

#[derive(Serialize)]
struct TtsBody<'a> {
    model_id: Option<&'a str>,
    text: &'a str,
}

#[derive(Serialize)]
struct WebvttBody<'a> {
    duration_seconds: f64,
    text: &'a str,
}

/// The path and query a request is sent to, without the target's prefix: its
/// `path`, else its kind's endpoint.
pub(crate) fn path(spec: &RequestSpec) -> String {
    if let Some(path) = &spec.path {
        return path.clone();
    }
    match spec.kind {
        Kind::Chat => "/v1/chat/completions".into(),
        Kind::Completions => "/v1/completions".into(),
        Kind::Responses => "/v1/responses".into(),
        Kind::Embeddings => "/v1/embeddings".into(),
        Kind::Tts | Kind::TtsTimestamps => {
            let mut path = format!("/v1/text-to-speech/{}", encode(&spec.voice_id));
            if spec.stream {
                path.push_str("/stream");
            }
            if spec.kind == Kind::TtsTimestamps {
                path.push_str("/with-timestamps");
            }
            if let Some(f) = &spec.output_format {
                path.push_str("?output_format=");
                path.push_str(&encode(f));
            }
            path
        }
        Kind::TtsWs => {
            let mut path = format!("/v1/text-to-speech/{}/stream-input", encode(&spec.voice_id));
            if let Some(m) = &spec.model {
                path.push_str("?model_id=");
                path.push_str(&encode(m));
            }
            if let Some(f) = &spec.output_format {
                path.push(if spec.model.is_some() { '&' } else { '?' });
                path.push_str("output_format=");
                path.push_str(&encode(f));
            }
            path
        }
        Kind::Personality => "/v1/personality".into(),
        Kind::Webvtt => "/v1/webvtt".into(),
        // a checked `http` request has a path
        Kind::Http => "/".into(),
    }
}

/// Percent-encodes a path segment or query value (unreserved characters stay).
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The weighted mix of one scenario's requests and their payload sources.
#[derive(Clone, Debug)]
pub struct Mix {
    /// The payload of a mix of one fixed request (no catalog): no draw needed.
    fixed: Option<Payload>,
    seed: u64,
    scenario: u64,
    cumulative: Vec<f64>,
    sources: Vec<Source>,
}

/// One drawn iteration: which request, with which payload.
#[derive(Clone, Debug, PartialEq)]
pub struct Drawn {
    /// Index of the request in the scenario.
    pub request: usize,
    /// The payload.
    pub payload: Payload,
}

impl Mix {
    /// Prepares a scenario's mix; `scenario` is its index in the file.
    pub fn new(scenario: &Scenario, scenario_index: usize, seed: u64) -> Mix {
        let mut total = 0.0;
        let cumulative = scenario
            .requests
            .iter()
            .map(|r| {
                total += r.spec.weight;
                total
            })
            .collect();
        let sources: Vec<Source> = scenario
            .requests
            .iter()
            .map(|r| Source::new(r, seed))
            .collect();
        let fixed = match sources.as_slice() {
            [only] if only.catalog.is_none() => Some(only.draw(&mut StdRng::seed_from_u64(0))),
            _ => None,
        };
        Mix {
            fixed,
            seed,
            scenario: scenario_index as u64,
            cumulative,
            sources,
        }
    }

    /// The generator of iteration `n`: a function of seed, scenario and `n` only.
    pub fn rng(&self, n: u64) -> StdRng {
        let mut key = [0u8; 16];
        key[..8].copy_from_slice(&self.scenario.to_le_bytes());
        key[8..].copy_from_slice(&n.to_le_bytes());
        StdRng::seed_from_u64(xxh3_64_with_seed(&key, self.seed))
    }

    /// Each request's share of the draws, in scenario order (all zero when no
    /// request has a weight).
    pub fn shares(&self) -> impl Iterator<Item = f64> + '_ {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let mut before = 0.0;
        self.cumulative.iter().map(move |&upto| {
            let share = if total > 0.0 {
                (upto - before) / total
            } else {
                0.0
            };
            before = upto;
            share
        })
    }

    /// Whether every iteration gets the same payload (one request, no catalog).
    pub fn is_fixed(&self) -> bool {
        self.fixed.is_some()
    }

    /// Draws iteration `n`.
    pub fn draw(&self, n: u64) -> Drawn {
        if let Some(payload) = &self.fixed {
            // a single fixed request needs no randomness: keep the hot path lean
            return Drawn {
                request: 0,
                payload: payload.clone(),
            };
        }
        let mut rng = self.rng(n);
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let u = unit(&mut rng) * total;
        let request = self
            .cumulative
            .partition_point(|&c| c <= u)
            .min(self.sources.len() - 1);
        let payload = self.sources[request].draw(&mut rng);
        Drawn { request, payload }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each body is the same bytes as a `serde_json::Value` of its fields, which
    /// is how bodies were written before they had types.
    #[test]
    fn bodies_are_written_as_a_value_of_their_fields_is() {
        let same = |typed: Bytes, value: serde_json::Value| {
            assert_eq!(
                String::from_utf8_lossy(&typed),
                value.to_string(),
                "{value}"
            );
        };
        let text = "Say \"hi\" \\ caf\u{e9}\n";
        for (max_tokens, stream, include_usage, temperature, system) in [
            (None, false, false, None, None),
            (Some(16), true, true, Some(0.7), Some("Be brief.")),
            (Some(0), true, false, Some(f64::NAN), None),
        ] {
            let mut messages = Vec::new();
            if let Some(system) = system {
                messages.push(json!({"role": "system", "content": system}));
            }
            messages.push(json!({"role": "user", "content": text}));
            let mut value = json!({"model": "gpt-4o-mini", "messages": messages});
            if stream {
                value["stream"] = json!(true);
                if include_usage {
                    value["stream_options"] = json!({"include_usage": true});
                }
            }
            if let Some(m) = max_tokens {
                value["max_tokens"] = json!(m);
            }
            if let Some(t) = temperature {
                value["temperature"] = json!(t);
            }
            let mut typed = vec![];
            if let Some(system) = system {
                typed.push(Message {
                    content: system,
                    role: "system",
                });
            }
            typed.push(Message {
                content: text,
                role: "user",
            });
            let body = ChatBody {
                max_tokens,
                messages: typed,
                model: Some("gpt-4o-mini"),
                stream: stream.then_some(true),
                stream_options: (stream && include_usage).then_some(StreamOptions {
                    include_usage: true,
                }),
                temperature,
            };
            same(to_bytes(&body), value);
        }
        same(
            to_bytes(&CompletionsBody {
                max_tokens: Some(16),
                model: Some("gpt-4o-mini"),
                prompt: text,
                stream: Some(true),
                stream_options: Some(StreamOptions {
                    include_usage: true,
                }),
                temperature: Some(0.5),
            }),
            json!({"model": "gpt-4o-mini", "prompt": text, "max_tokens": 16, "stream": true,
                   "stream_options": {"include_usage": true}, "temperature": 0.5}),
        );
        same(
            to_bytes(&ResponsesBody {
                input: text,
                instructions: Some("Be brief."),
                max_output_tokens: Some(32),
                model: Some("gpt-4o-mini"),
                stream: None,
                temperature: None,
                tools: Some(&json!([{"type": "function", "name": "f"}])),
            }),
            json!({"model": "gpt-4o-mini", "input": text, "instructions": "Be brief.",
                   "max_output_tokens": 32, "tools": [{"type": "function", "name": "f"}]}),
        );
        same(
            to_bytes(&EmbeddingsBody {
                dimensions: Some(256),
                encoding_format: Some("base64"),
                input: text,
                model: None,
            }),
            json!({"model": null, "input": text, "dimensions": 256, "encoding_format": "base64"}),
        );
        same(
            to_bytes(&EmbeddingsBody {
                dimensions: None,
                encoding_format: None,
                input: text,
                model: Some("text-embedding-3-small"),
            }),
            json!({"model": "text-embedding-3-small", "input": text}),
        );
        same(
            to_bytes(&TtsBody {
                model_id: Some("eleven_flash_v2_5"),
                text,
            }),
            json!({"text": text, "model_id": "eleven_flash_v2_5"}),
        );
        for secs in [10.0, 3.25] {
            same(
                to_bytes(&WebvttBody {
                    duration_seconds: secs,
                    text,
                }),
                json!({"text": text, "duration_seconds": secs}),
            );
        }
    }

    #[test]
    fn zipf_favours_low_ranks_and_covers_all() {
        let z = Zipf::new(10, 1.0);
        let mut rng = StdRng::seed_from_u64(7);
        let mut counts = [0u32; 10];
        for _ in 0..20_000 {
            counts[z.draw(&mut rng)] += 1;
        }
        assert!(counts[0] > counts[1] && counts[1] > counts[4] && counts[4] > counts[9]);
        assert!(counts.iter().all(|&c| c > 0));
        // rank 1 has weight 1 / H(10) ≈ 0.341
        let share = f64::from(counts[0]) / 20_000.0;
        assert!((0.32..0.36).contains(&share), "share {share}");
    }

    #[test]
    fn zipf_exponent_zero_is_uniform() {
        let z = Zipf::new(4, 0.0);
        let mut rng = StdRng::seed_from_u64(1);
        let mut counts = [0u32; 4];
        for _ in 0..40_000 {
            counts[z.draw(&mut rng)] += 1;
        }
        assert!(
            counts.iter().all(|&c| (9_000..11_000).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn encode_keeps_unreserved() {
        assert_eq!(encode("mp3_44100_128"), "mp3_44100_128");
        assert_eq!(encode("a b/c"), "a%20b%2Fc");
    }
}
