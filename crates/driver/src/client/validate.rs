//! Whether a 2xx body is what its kind returns.
//!
//! Bodies are read leniently (unknown fields are fine, the target may be anyone's
//! service) but a body that does not parse is `malformed_body`, and one that parses
//! but lacks what the kind must return is `validation_failure`.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use gatebench_wire::books::digest;
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::chain::{self, Answer};
use super::sse::{ResponseUsageJson, UsageJson};
use crate::Outcome;
use crate::metrics::{Trace, Usage};
use crate::scenario::Kind;

/// A chat answer: what its check reads, and what a trace keeps of it (the id, the
/// first choice's finish reason and text), borrowed from the body unless escaped.
#[derive(Deserialize)]
struct ChatResponse<'a> {
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    choices: Vec<ChatChoice<'a>>,
    #[serde(default)]
    usage: Option<UsageJson>,
}

#[derive(Deserialize)]
struct ChatChoice<'a> {
    #[serde(default, borrow)]
    message: Option<ChatMessage<'a>>,
    #[serde(default, borrow)]
    finish_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct ChatMessage<'a> {
    #[serde(default, borrow)]
    content: Option<Shape<'a>>,
    #[serde(default)]
    tool_calls: Option<IgnoredAny>,
}

/// A legacy text completion: its first choice's `text`.
#[derive(Deserialize)]
struct TextResponse<'a> {
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    choices: Vec<TextChoice<'a>>,
    #[serde(default)]
    usage: Option<UsageJson>,
}

#[derive(Deserialize)]
struct TextChoice<'a> {
    #[serde(default, borrow)]
    text: Option<Shape<'a>>,
    #[serde(default, borrow)]
    finish_reason: Option<Cow<'a, str>>,
}

/// A response of the Responses API: its output items, the text of their
/// `output_text` parts, and its status.
#[derive(Deserialize)]
struct ResponsesResponse<'a> {
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    status: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    output: Vec<OutputItem<'a>>,
    #[serde(default)]
    usage: Option<ResponseUsageJson>,
}

#[derive(Deserialize)]
struct OutputItem<'a> {
    #[serde(default, borrow, rename = "type")]
    kind: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    content: Vec<OutputPart<'a>>,
    #[serde(default, borrow)]
    arguments: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    call_id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    name: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct OutputPart<'a> {
    #[serde(default, borrow)]
    text: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct EmbeddingResponse<'a> {
    #[serde(default, borrow)]
    data: Vec<EmbeddingItem<'a>>,
    #[serde(default)]
    usage: Option<UsageJson>,
}

#[derive(Deserialize)]
struct EmbeddingItem<'a> {
    #[serde(default, borrow)]
    embedding: Option<Shape<'a>>,
}

/// A chunk's audio is borrowed, not copied: it is tens of kilobytes of base64,
/// read only for whether it is empty.
#[derive(Deserialize)]
struct TimestampsResponse<'a> {
    #[serde(default, borrow)]
    audio_base64: Option<Cow<'a, str>>,
}

/// What a JSON value is: a string (borrowed from the body unless it has escapes),
/// an array (and whether it is empty) or something else. Reading an embedding into
/// a `serde_json::Value` only to ask this built a value for each number of the
/// vector.
#[derive(Debug, PartialEq)]
enum Shape<'a> {
    Text(Cow<'a, str>),
    List { empty: bool },
    Other,
}

impl<'de: 'a, 'a> Deserialize<'de> for Shape<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Shape<'a>, D::Error> {
        struct Visit<'a>(PhantomData<Shape<'a>>);
        impl<'de: 'a, 'a> Visitor<'de> for Visit<'a> {
            type Value = Shape<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Shape<'a>, E> {
                Ok(Shape::Other)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Shape<'a>, E> {
                Ok(Shape::Other)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Shape<'a>, E> {
                Ok(Shape::Other)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Shape<'a>, E> {
                Ok(Shape::Other)
            }
            fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Shape<'a>, E> {
                Ok(Shape::Text(Cow::Borrowed(text)))
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Shape<'a>, E> {
                Ok(Shape::Text(Cow::Owned(text.to_owned())))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Shape<'a>, E> {
                Ok(Shape::Other)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Shape<'a>, A::Error> {
                let mut empty = true;
                while items.next_element::<IgnoredAny>()?.is_some() {
                    empty = false;
                }
                Ok(Shape::List { empty })
            }
            fn visit_map<A: MapAccess<'de>>(self, mut fields: A) -> Result<Shape<'a>, A::Error> {
                while fields.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Shape::Other)
            }
        }
        deserializer.deserialize_any(Visit(PhantomData))
    }
}

#[derive(Deserialize)]
struct PersonalityResponse {
    #[serde(default)]
    traits: Option<Vec<IgnoredAny>>,
}

/// The verdict on a complete 2xx body, the usage it carried and, for a response
/// with an id, what a conversation continuing it needs. A chat answer's id,
/// finish reason and text digest go into `trace`, when the request has one, from
/// the same parse.
pub(crate) fn check_body(
    kind: Kind,
    stream: bool,
    content_type: &str,
    body: &[u8],
    trace: Option<&mut Trace>,
) -> (Outcome, Option<Usage>, Option<Answer>) {
    let mut answer = None;
    let (outcome, usage) = check(kind, stream, content_type, body, trace, &mut answer);
    (outcome, usage, answer)
}

fn check(
    kind: Kind,
    stream: bool,
    content_type: &str,
    body: &[u8],
    trace: Option<&mut Trace>,
    answer: &mut Option<Answer>,
) -> (Outcome, Option<Usage>) {
    let json = |body: &[u8]| -> Result<serde_json::Value, Outcome> {
        serde_json::from_slice(body).map_err(|_| Outcome::MalformedBody)
    };
    match kind {
        Kind::Chat => match serde_json::from_slice::<ChatResponse<'_>>(body) {
            Err(_) => (malformed_or_invalid(body), None),
            Ok(r) => {
                let usage = r.usage.map(Usage::from);
                let first = r.choices.into_iter().next();
                let message = first.as_ref().and_then(|c| c.message.as_ref());
                let text = message.and_then(|m| match &m.content {
                    Some(Shape::Text(text)) => Some(text),
                    _ => None,
                });
                let valid = text.is_some() || message.is_some_and(|m| m.tool_calls.is_some());
                if let Some(t) = trace {
                    t.response_id = r.id.map(Cow::into_owned);
                    if let Some(choice) = &first {
                        t.finish_reason = choice.finish_reason.as_deref().map(str::to_owned);
                        t.content_digest = text.map(|text| digest(text.as_bytes()));
                    }
                }
                (
                    if valid {
                        Outcome::Ok
                    } else {
                        Outcome::ValidationFailure
                    },
                    usage,
                )
            }
        },
        Kind::Completions => match serde_json::from_slice::<TextResponse<'_>>(body) {
            Err(_) => (malformed_or_invalid(body), None),
            Ok(r) => {
                let usage = r.usage.map(Usage::from);
                let first = r.choices.into_iter().next();
                let text = match first.as_ref().and_then(|c| c.text.as_ref()) {
                    Some(Shape::Text(text)) => Some(text),
                    _ => None,
                };
                if let Some(t) = trace {
                    t.response_id = r.id.map(Cow::into_owned);
                    if let Some(choice) = &first {
                        t.finish_reason = choice.finish_reason.as_deref().map(str::to_owned);
                        t.content_digest = text.map(|text| digest(text.as_bytes()));
                    }
                }
                (valid_if(text.is_some()), usage)
            }
        },
        Kind::Responses => match serde_json::from_slice::<ResponsesResponse<'_>>(body) {
            Err(_) => (malformed_or_invalid(body), None),
            Ok(r) => {
                let usage = r.usage.map(Usage::from);
                // a message's text, or a function call: what a response answers with
                let answered = r
                    .output
                    .iter()
                    .any(|item| matches!(item.kind.as_deref(), Some("message" | "function_call")));
                *answer = r.id.as_deref().map(|id| Answer {
                    id: id.to_owned(),
                    calls: r
                        .output
                        .iter()
                        .filter_map(|item| {
                            chain::call(
                                item.kind.as_deref(),
                                item.call_id.as_deref(),
                                item.name.as_deref(),
                            )
                        })
                        .collect(),
                });
                if let Some(t) = trace {
                    t.content_digest = Some(digest(response_text(&r.output).as_bytes()));
                    t.response_id = r.id.map(Cow::into_owned);
                    t.finish_reason = r.status.as_deref().map(str::to_owned);
                }
                (valid_if(answered), usage)
            }
        },
        Kind::Embeddings => match serde_json::from_slice::<EmbeddingResponse<'_>>(body) {
            Err(_) => (malformed_or_invalid(body), None),
            Ok(r) => {
                let usage = r.usage.map(Usage::from);
                let valid = r
                    .data
                    .first()
                    .and_then(|d| d.embedding.as_ref())
                    .is_some_and(|e| {
                        matches!(e, Shape::List { empty: false })
                            || matches!(e, Shape::Text(text) if !text.is_empty())
                    });
                (
                    if valid {
                        Outcome::Ok
                    } else {
                        Outcome::ValidationFailure
                    },
                    usage,
                )
            }
        },
        Kind::Tts => {
            // audio, not an error document that came with a 200
            let looks_json = content_type.contains("json") || body.first() == Some(&b'{');
            let ok = !body.is_empty() && !looks_json;
            (
                if ok {
                    Outcome::Ok
                } else {
                    Outcome::ValidationFailure
                },
                None,
            )
        }
        Kind::TtsTimestamps => {
            let audio_in = |line: &[u8]| -> Result<bool, Outcome> {
                let r: TimestampsResponse<'_> =
                    serde_json::from_slice(line).map_err(|_| Outcome::MalformedBody)?;
                Ok(r.audio_base64.is_some_and(|a| !a.is_empty()))
            };
            let result = if stream {
                // newline-delimited JSON, one object per audio chunk
                body.split(|&b| b == b'\n')
                    .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
                    .try_fold(false, |any, line| audio_in(line).map(|a| any || a))
            } else {
                audio_in(body)
            };
            match result {
                Ok(true) => (Outcome::Ok, None),
                Ok(false) => (Outcome::ValidationFailure, None),
                Err(o) => (o, None),
            }
        }
        Kind::Personality => match serde_json::from_slice::<PersonalityResponse>(body) {
            Err(_) => (malformed_or_invalid(body), None),
            Ok(r) => (
                if r.traits.is_some() {
                    Outcome::Ok
                } else {
                    Outcome::ValidationFailure
                },
                None,
            ),
        },
        Kind::Webvtt => {
            let text = body.strip_prefix("\u{feff}".as_bytes()).unwrap_or(body);
            if content_type.contains("json") {
                // `Accept: application/json` returns the cues as JSON
                match json(body) {
                    Ok(v) if v.get("cues").is_some() || v.is_array() => (Outcome::Ok, None),
                    Ok(_) => (Outcome::ValidationFailure, None),
                    Err(o) => (o, None),
                }
            } else if text.starts_with(b"WEBVTT")
                && matches!(text.get(6), None | Some(b'\n' | b'\r' | b' ' | b'\t'))
            {
                (Outcome::Ok, None)
            } else {
                (Outcome::ValidationFailure, None)
            }
        }
        Kind::Http | Kind::TtsWs => (Outcome::Ok, None),
    }
}

/// The text a Responses answer is digested by: its messages' text, or, for an
/// answer that only calls functions, their arguments (as the mocks digest it).
fn response_text(output: &[OutputItem<'_>]) -> String {
    let of_kind = |kind: &'static str| {
        output
            .iter()
            .filter(move |item| item.kind.as_deref() == Some(kind))
    };
    let text: String = of_kind("message")
        .flat_map(|item| &item.content)
        .filter_map(|part| part.text.as_deref())
        .collect();
    if !text.is_empty() {
        return text;
    }
    of_kind("function_call")
        .filter_map(|item| item.arguments.as_deref())
        .collect()
}

/// The digest of a whole Responses answer's text, as a run's record holds it;
/// `None` for a body that is no response with output.
pub fn response_digest(body: &[u8]) -> Option<String> {
    let r = serde_json::from_slice::<ResponsesResponse<'_>>(body).ok()?;
    (!r.output.is_empty()).then(|| digest(response_text(&r.output).as_bytes()))
}

fn valid_if(valid: bool) -> Outcome {
    if valid {
        Outcome::Ok
    } else {
        Outcome::ValidationFailure
    }
}

/// JSON that does not fit the expected struct is invalid; bytes that are not JSON at
/// all are malformed.
fn malformed_or_invalid(body: &[u8]) -> Outcome {
    if serde_json::from_slice::<IgnoredAny>(body).is_ok() {
        Outcome::ValidationFailure
    } else {
        Outcome::MalformedBody
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chat_answer_fills_its_trace_from_the_parse_that_checks_it() {
        let traced = |body: &str| {
            let mut trace = Trace::default();
            let outcome = check_body(Kind::Chat, false, "", body.as_bytes(), Some(&mut trace)).0;
            (outcome, trace)
        };
        // the digest is of the text as sent, escapes read
        let (o, t) = traced(
            r#"{"id":"chatcmpl-1","choices":[{"message":{"content":"say \"hi\"\n"},"finish_reason":"stop"},{"message":{"content":"other"},"finish_reason":"length"}]}"#,
        );
        assert_eq!(o, Outcome::Ok);
        assert_eq!(t.response_id.as_deref(), Some("chatcmpl-1"));
        assert_eq!(t.finish_reason.as_deref(), Some("stop"));
        assert_eq!(t.content_digest, Some(digest(b"say \"hi\"\n")));
        // a tool call has no text to digest; the id and finish reason are still kept
        let (o, t) = traced(
            r#"{"id":"c2","choices":[{"message":{"content":null,"tool_calls":[]},"finish_reason":"tool_calls"}]}"#,
        );
        assert_eq!(o, Outcome::Ok);
        assert_eq!(
            (
                t.response_id.as_deref(),
                t.finish_reason.as_deref(),
                t.content_digest
            ),
            (Some("c2"), Some("tool_calls"), None)
        );
        // a body that is not a chat answer leaves the trace as it was
        let (o, t) = traced(r#"{"id":"c3","choices":3}"#);
        assert_eq!(o, Outcome::ValidationFailure);
        assert_eq!(t.response_id, None);
    }

    #[test]
    fn chat_bodies() {
        let ok = br#"{"choices":[{"message":{"role":"assistant","content":"hi"}}],"usage":{"prompt_tokens":5,"completion_tokens":1}}"#;
        let (o, u, _) = check_body(Kind::Chat, false, "application/json", ok, None);
        assert_eq!(o, Outcome::Ok);
        assert_eq!(u.unwrap().prompt_tokens, 5);
        assert_eq!(
            check_body(Kind::Chat, false, "", br#"{"choices":[]}"#, None).0,
            Outcome::ValidationFailure
        );
        assert_eq!(
            check_body(Kind::Chat, false, "", br#"{"choices": 3}"#, None).0,
            Outcome::ValidationFailure
        );
        assert_eq!(
            check_body(Kind::Chat, false, "", b"{\"choices\":[{", None).0,
            Outcome::MalformedBody
        );
        // any string is an answer, an empty one or one with escapes too; a null, a
        // number, an object or an array is not
        for (content, outcome) in [
            (r#""""#, Outcome::Ok),
            (r#""say \"hi\"\n""#, Outcome::Ok),
            ("null", Outcome::ValidationFailure),
            ("3", Outcome::ValidationFailure),
            (r#"{"text":"hi"}"#, Outcome::ValidationFailure),
            (r#"["hi"]"#, Outcome::ValidationFailure),
            (r#""unterminated"#, Outcome::MalformedBody),
        ] {
            let body = format!(r#"{{"choices":[{{"message":{{"content":{content}}}}}]}}"#);
            assert_eq!(
                check_body(Kind::Chat, false, "", body.as_bytes(), None).0,
                outcome,
                "{content}"
            );
        }
    }

    #[test]
    fn text_completion_and_response_bodies() {
        let text = br#"{"id":"cmpl-1","choices":[{"text":" a lamp","index":0,"finish_reason":"length"}],"usage":{"prompt_tokens":4,"completion_tokens":2}}"#;
        let mut trace = Trace::default();
        let (o, u, _) = check_body(Kind::Completions, false, "", text, Some(&mut trace));
        assert_eq!((o, u.unwrap().completion_tokens), (Outcome::Ok, 2));
        assert_eq!(trace.finish_reason.as_deref(), Some("length"));
        assert_eq!(trace.content_digest, Some(digest(b" a lamp")));
        for body in [&br#"{"choices":[]}"#[..], br#"{"choices":[{"text":null}]}"#] {
            assert_eq!(
                check_body(Kind::Completions, false, "", body, None).0,
                Outcome::ValidationFailure
            );
        }
        let response = br#"{"id":"resp_1","object":"response","status":"incomplete","output":[{"type":"message","content":[{"type":"output_text","text":"Tides"},{"type":"output_text","text":" rise."}]}],"usage":{"input_tokens":9,"input_tokens_details":{"cached_tokens":4},"output_tokens":16}}"#;
        let mut trace = Trace::default();
        let (o, u, _) = check_body(Kind::Responses, false, "", response, Some(&mut trace));
        let u = u.unwrap();
        assert_eq!(o, Outcome::Ok);
        assert_eq!(
            (u.prompt_tokens, u.cached_tokens, u.completion_tokens),
            (9, 4, 16)
        );
        assert_eq!(trace.response_id.as_deref(), Some("resp_1"));
        assert_eq!(trace.finish_reason.as_deref(), Some("incomplete"));
        assert_eq!(trace.content_digest, Some(digest(b"Tides rise.")));
        // an answer that only calls a function is digested as its arguments,
        // as the mocks digest it
        let call = br#"{"output":[{"type":"function_call","name":"f","arguments":"{\"q\":1}"}]}"#;
        let mut trace = Trace::default();
        assert_eq!(
            check_body(Kind::Responses, false, "", call, Some(&mut trace)).0,
            Outcome::Ok
        );
        assert_eq!(trace.content_digest, Some(digest(br#"{"q":1}"#)));
        // the same digests for a body read elsewhere (the suite's probes)
        assert_eq!(response_digest(call), trace.content_digest);
        assert_eq!(response_digest(response), Some(digest(b"Tides rise.")));
        assert_eq!(response_digest(br#"{"id":"resp_1","output":[]}"#), None);
        // a chat completion is no response
        let chat = br#"{"choices":[{"message":{"content":"hi"}}]}"#;
        assert_eq!(
            check_body(Kind::Responses, false, "", chat, None).0,
            Outcome::ValidationFailure
        );
        assert_eq!(
            check_body(Kind::Responses, false, "", b"{\"output\":[", None).0,
            Outcome::MalformedBody
        );
    }

    #[test]
    fn an_embedding_is_a_nonempty_array_or_string() {
        for (embedding, outcome) in [
            ("[0.1, -2e-3, 7]", Outcome::Ok),
            ("[[1]]", Outcome::Ok),
            (r#""AAAA""#, Outcome::Ok),
            ("[]", Outcome::ValidationFailure),
            (r#""""#, Outcome::ValidationFailure),
            ("{}", Outcome::ValidationFailure),
            ("null", Outcome::ValidationFailure),
            ("[0.1,", Outcome::MalformedBody),
        ] {
            let body = format!(r#"{{"data":[{{"embedding":{embedding}}}]}}"#);
            assert_eq!(
                check_body(Kind::Embeddings, false, "", body.as_bytes(), None).0,
                outcome,
                "{embedding}"
            );
        }
    }

    #[test]
    fn other_kinds() {
        assert_eq!(
            check_body(
                Kind::Embeddings,
                false,
                "",
                br#"{"data":[{"embedding":[0.1]}]}"#,
                None
            )
            .0,
            Outcome::Ok
        );
        assert_eq!(
            check_body(
                Kind::Embeddings,
                false,
                "",
                br#"{"data":[{"embedding":"AAAA"}]}"#,
                None
            )
            .0,
            Outcome::Ok
        );
        assert_eq!(
            check_body(Kind::Embeddings, false, "", br#"{"data":[]}"#, None).0,
            Outcome::ValidationFailure
        );
        assert_eq!(
            check_body(Kind::Tts, false, "audio/mpeg", b"\xff\xfb\x90", None).0,
            Outcome::Ok
        );
        assert_eq!(
            check_body(Kind::Tts, false, "audio/mpeg", b"", None).0,
            Outcome::ValidationFailure
        );
        assert_eq!(
            check_body(Kind::Tts, false, "application/json", b"{}", None).0,
            Outcome::ValidationFailure
        );
        assert_eq!(
            check_body(
                Kind::TtsTimestamps,
                false,
                "",
                br#"{"audio_base64":"AAA","alignment":{}}"#,
                None
            )
            .0,
            Outcome::Ok
        );
        assert_eq!(
            check_body(
                Kind::TtsTimestamps,
                true,
                "",
                b"{\"audio_base64\":\"AA\"}\n{\"audio_base64\":\"\"}\n",
                None
            )
            .0,
            Outcome::Ok
        );
        assert_eq!(
            check_body(
                Kind::TtsTimestamps,
                true,
                "",
                b"{\"audio_base64\":\"AA\"}\n{oops\n",
                None
            )
            .0,
            Outcome::MalformedBody
        );
        // audio that is not a string is malformed, as it was when read as a String
        assert_eq!(
            check_body(
                Kind::TtsTimestamps,
                false,
                "",
                br#"{"audio_base64":5}"#,
                None
            )
            .0,
            Outcome::MalformedBody
        );
        assert_eq!(
            check_body(
                Kind::TtsTimestamps,
                false,
                "",
                br#"{"audio_base64":""}"#,
                None
            )
            .0,
            Outcome::ValidationFailure
        );
        assert_eq!(
            check_body(Kind::Personality, false, "", br#"{"traits":[]}"#, None).0,
            Outcome::Ok
        );
        assert_eq!(
            check_body(Kind::Personality, false, "", br#"{"tone":"x"}"#, None).0,
            Outcome::ValidationFailure
        );
        assert_eq!(
            check_body(
                Kind::Webvtt,
                false,
                "text/vtt",
                b"WEBVTT\n\n00:00.000 --> 00:01.000\nhi\n",
                None
            )
            .0,
            Outcome::Ok
        );
        assert_eq!(
            check_body(
                Kind::Webvtt,
                false,
                "text/vtt",
                b"\xef\xbb\xbfWEBVTT\n",
                None
            )
            .0,
            Outcome::Ok
        );
        assert_eq!(
            check_body(Kind::Webvtt, false, "text/vtt", b"WEBVTTX\n", None).0,
            Outcome::ValidationFailure
        );
        assert_eq!(
            check_body(Kind::Webvtt, false, "text/plain", b"hello", None).0,
            Outcome::ValidationFailure
        );
    }
}
