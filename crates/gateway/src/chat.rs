//! `POST /v1/chat/completions`: auth, budget reservation, semantic cache, queue,
//! upstream with retries and fallbacks, billing.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use gatebench_cache::ChatKeys;
use gatebench_cost::Usage;
use gatebench_tokens::{Encoding, count_chat_prompt};
use gatebench_wire::openai::{
    ChatCompletion, ChatCompletionRequest, ResponseObject, TextCompletion,
};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::de::IgnoredAny;
use serde_json::{Value, json};

use crate::chat_stream;
use crate::checked::{self, Text};
use crate::dispatch::Accepted;
use crate::error::GatewayError;
use crate::extract::{Incoming, JsonBody};
use crate::generate::{Generation, check_model, generate, keys_and_body};
use crate::meta::Meta;
use crate::pipeline::{Cache, ChatAnswer, Form};
use crate::record::Record;
use crate::request::to_the_end;
use crate::state::{CachedChat, CachedChoice, Gateway};

/// Completion tokens reserved for a request that sets no cap (OpenAI's own default
/// maximum output for current chat models is in this range).
pub const DEFAULT_MAX_OUTPUT: u64 = 4096;

/// The route: a request's head and body read, then the call. Served by
/// [`gatebench_serve::front::Front`] without the router, and by the router for
/// completeness.
pub async fn handle(gateway: Arc<Gateway>, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    let answer = match Incoming::<ChatCompletionRequest>::read(&mut parts, body, &gateway).await {
        Ok(Incoming { meta, body }) => to_the_end(serve(gateway, meta, parts.headers, body)).await,
        Err(error) => Err(error),
    };
    answer.unwrap_or_else(IntoResponse::into_response)
}

async fn serve(
    gateway: Arc<Gateway>,
    meta: Meta,
    headers: HeaderMap,
    body: JsonBody<ChatCompletionRequest>,
) -> Result<Response, GatewayError> {
    // owned, so that the handler's future is this one: a wrapper holding the
    // arguments would carry them twice
    let (gateway, headers) = (&gateway, &headers);
    let JsonBody {
        bytes: body,
        request,
    } = body;
    check_model(&request.model)?;
    if request.messages.is_empty() {
        return Err(GatewayError::BadRequest {
            message: "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.".into(),
            param: Some("messages".into()),
            code: Some("empty_array"),
        });
    }
    let encoding = Encoding::for_model(&request.model);
    let prompt_tokens =
        gateway.prompt_tokens(&body, || count_chat_prompt(encoding, &request) as u64);
    let choices = request.choices().max(1) as u64;
    let cap = request
        .token_cap()
        .filter(|c| *c > 0)
        .map_or(DEFAULT_MAX_OUTPUT, |c| c as u64);
    let worst_case = Usage {
        prompt_tokens,
        completion_tokens: cap.saturating_mul(choices),
        ..Usage::default()
    };
    // Nothing to look up and nothing to store: no keys to compute.
    let uses_cache = !(meta.no_cache && meta.no_store);
    let keyed = gateway.config.cache.enabled && choices == 1 && uses_cache;
    let stream = request.is_stream();
    let (keys, body) = keys_and_body(body, keyed, stream, |value| {
        ChatKeys::from_request(&meta.tenant.id, value)
    });
    let answer = ChatAnswer {
        form: Form::Chat,
        stream,
        client_usage: request.include_usage(),
        encoding,
        prompt_tokens,
    };
    let accept = |body: &[u8]| {
        let completion = checked::parse::<Checked>(body)?;
        Some(Accepted {
            usage: completion.usage.as_ref().map(billed_usage),
        })
    };
    let generation = Generation {
        route: "chat",
        path: "/v1/chat/completions",
        model: &request.model,
        worst_case,
        cache: keys.as_ref().map_or(Cache::None, Cache::Semantic),
        answer,
        body,
        accept: &accept,
        usage_of: &|_, body| reported_usage(body),
        pinned: None,
    };
    generate(gateway, meta, headers, generation).await
}

/// The usage a completion (chat or text) reports, read without the rest of it.
pub(crate) fn reported_usage(body: &[u8]) -> Option<Usage> {
    let reported: Reported = serde_json::from_slice(body).ok()?;
    reported.usage.as_ref().map(billed_usage)
}

/// The usage of a completion.
#[derive(serde::Deserialize)]
struct Reported {
    usage: Option<gatebench_wire::openai::Usage>,
}

/// A completion as the success check reads it ([`checked`]): what parses as a
/// [`ChatCompletion`] parses as this, and only the usage is kept.
#[derive(serde::Deserialize)]
#[expect(dead_code, reason = "fields read only to check their types")]
struct Checked {
    id: Text,
    object: Text,
    created: u64,
    model: Text,
    choices: Vec<CheckedChoice>,
    #[serde(default)]
    usage: Option<gatebench_wire::openai::Usage>,
    #[serde(default)]
    service_tier: Option<Text>,
    #[serde(default)]
    system_fingerprint: Option<Text>,
}

/// [`gatebench_wire::openai::ChatChoice`], checked.
#[derive(serde::Deserialize)]
#[expect(dead_code, reason = "fields read only to check their types")]
struct CheckedChoice {
    index: u32,
    message: CheckedMessage,
    #[serde(default)]
    logprobs: Option<IgnoredAny>,
    #[serde(default)]
    finish_reason: Option<Text>,
}

/// [`gatebench_wire::openai::AssistantMessage`], checked.
#[derive(serde::Deserialize)]
#[expect(dead_code, reason = "fields read only to check their types")]
struct CheckedMessage {
    role: Text,
    #[serde(default)]
    content: Option<Text>,
    #[serde(default)]
    refusal: Option<Text>,
    #[serde(default)]
    tool_calls: Option<Vec<gatebench_wire::openai::ToolCall>>,
    #[serde(default)]
    annotations: Vec<IgnoredAny>,
}

/// The gateway's count of a completion (or response) that reports no usage: the
/// request's prompt and the tokens of the text of every choice.
pub(crate) fn count_usage(body: &[u8], answer: ChatAnswer) -> Option<Usage> {
    let texts: Vec<String> = match answer.form {
        Form::Chat => {
            let completion: ChatCompletion = serde_json::from_slice(body).ok()?;
            let contents = completion.choices.into_iter();
            contents.filter_map(|c| c.message.content).collect()
        }
        Form::Text => {
            let completion: TextCompletion = serde_json::from_slice(body).ok()?;
            completion.choices.into_iter().map(|c| c.text).collect()
        }
        Form::Response => {
            let response: ResponseObject = serde_json::from_slice(body).ok()?;
            vec![response.output_text()]
        }
    };
    let counted = texts
        .iter()
        .map(|text| answer.encoding.count(text) as u64)
        .sum();
    Some(Usage {
        prompt_tokens: answer.prompt_tokens,
        completion_tokens: counted,
        ..Usage::default()
    })
}

/// The cache entry of a completion (chat or text) `model` at `provider` answered
/// with `usage`.
pub(crate) fn to_cached(
    body: &[u8],
    form: Form,
    model: &str,
    provider: &str,
    usage: &Usage,
) -> Option<CachedChat> {
    let finish = |reason: Option<&gatebench_wire::openai::FinishReason>| {
        reason.map_or_else(|| "stop".to_owned(), |f| f.as_str().to_owned())
    };
    let (choices, system_fingerprint, reasoning_tokens) = match form {
        Form::Chat => {
            let completion: ChatCompletion = serde_json::from_slice(body).ok()?;
            let reasoning = completion
                .usage
                .as_ref()
                .map_or(0, |u| u.reasoning_tokens());
            let choices = completion
                .choices
                .iter()
                .map(|c| CachedChoice {
                    content: c.message.content.clone(),
                    tool_calls: c.message.tool_calls.clone().unwrap_or_default(),
                    finish_reason: finish(c.finish_reason.as_ref()),
                })
                .collect();
            (choices, completion.system_fingerprint, u64::from(reasoning))
        }
        Form::Text => {
            let completion: TextCompletion = serde_json::from_slice(body).ok()?;
            let choices = completion
                .choices
                .iter()
                .map(|c| CachedChoice {
                    content: Some(c.text.clone()),
                    tool_calls: Vec::new(),
                    finish_reason: finish(c.finish_reason.as_ref()),
                })
                .collect();
            (choices, completion.system_fingerprint, 0)
        }
        Form::Response => return None,
    };
    Some(CachedChat {
        model: model.to_owned(),
        provider: provider.to_owned(),
        choices,
        completion_tokens: usage.completion_tokens,
        reasoning_tokens,
        cached_tokens: usage.cached_tokens,
        system_fingerprint,
    })
}

/// The usage as the ledger counts it, from a provider's `usage`.
pub(crate) fn billed_usage(u: &gatebench_wire::openai::Usage) -> Usage {
    Usage {
        prompt_tokens: u64::from(u.prompt_tokens),
        cached_tokens: u64::from(u.cached_tokens().min(u.prompt_tokens)),
        completion_tokens: u64::from(u.completion_tokens),
        ..Usage::default()
    }
}

/// The answer of a semantic hit, as the provider would have sent it: the cached
/// text under this request's id, with this request's usage, streamed if asked, as
/// a chat completion or a text completion (`answer.form`).
pub(crate) fn hit(
    meta: &Meta,
    record: &Record,
    cached: &CachedChat,
    answer: ChatAnswer,
) -> (StatusCode, HeaderMap, Body) {
    let usage = record.usage;
    let text = answer.form == Form::Text;
    let id = if text {
        format!("cmpl-{}", meta.id)
    } else {
        format!("chatcmpl-{}", meta.id)
    };
    let created = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut usage_json = json!({
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
    });
    // the legacy API reports no details
    if let (false, Some(fields)) = (text, usage_json.as_object_mut()) {
        fields.insert(
            "prompt_tokens_details".into(),
            json!({ "cached_tokens": 0, "audio_tokens": 0 }),
        );
        fields.insert(
            "completion_tokens_details".into(),
            json!({ "reasoning_tokens": cached.reasoning_tokens, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0 }),
        );
    }
    let mut headers = HeaderMap::new();
    if answer.stream {
        let body = chat_stream::replay(
            &id,
            created,
            cached,
            answer.client_usage.then_some(&usage_json),
            answer.form,
        );
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        return (StatusCode::OK, headers, Body::from_stream(body));
    }
    let choices: Vec<Value> = cached
        .choices
        .iter()
        .enumerate()
        .map(|(index, c)| {
            if text {
                return json!({
                    "text": c.content.as_deref().unwrap_or_default(),
                    "index": index,
                    "logprobs": null,
                    "finish_reason": c.finish_reason,
                });
            }
            let mut message = json!({ "role": "assistant", "content": c.content, "refusal": null, "annotations": [] });
            if let (false, Some(fields)) = (c.tool_calls.is_empty(), message.as_object_mut()) {
                fields.insert("tool_calls".into(), json!(c.tool_calls));
            }
            json!({
                "index": index,
                "message": message,
                "logprobs": null,
                "finish_reason": c.finish_reason,
            })
        })
        .collect();
    let body = if text {
        json!({
            "id": id,
            "object": "text_completion",
            "created": created,
            "model": cached.model,
            "choices": choices,
            "system_fingerprint": cached.system_fingerprint,
            "usage": usage_json,
        })
    } else {
        json!({
            "id": id,
            "object": "chat.completion",
            "created": created,
            "model": cached.model,
            "choices": choices,
            "usage": usage_json,
            "service_tier": "default",
            "system_fingerprint": cached.system_fingerprint,
        })
    };
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let body = serde_json::to_vec(&body).unwrap_or_default();
    (StatusCode::OK, headers, Body::from(body))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::checked::mutated;

    /// Bodies a provider sends: the mock's, escapes and non-ASCII text, a tool
    /// call with null content, DeepSeek's usage, no usage at all.
    const BODIES: [&str; 4] = [
        r#"{"id":"chatcmpl-1","object":"chat.completion","created":1796408672,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"It is scheduled","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"length"}],"usage":{"prompt_tokens":14,"completion_tokens":50,"total_tokens":64,"prompt_tokens_details":{"cached_tokens":3,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"service_tier":"default","system_fingerprint":"fp_43c69e5f39"}"#,
        r#"{"id":"c\"2\u00e9","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"caf\u00e9 \ud83d\ude00 «ok»\n","annotations":[{"type":"url_citation"}]},"logprobs":{"content":[]},"finish_reason":"stop"}]}"#,
        r#"{"id":"c3","object":"chat.completion","created":2,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},"finish_reason":"tool_calls"},{"index":1,"message":{"role":"assistant","content":"b"},"finish_reason":null}],"usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12,"prompt_cache_hit_tokens":4,"prompt_cache_miss_tokens":1}}"#,
        r#"{"id":"c4","object":"chat.completion","created":3,"model":"deepseek-chat","choices":[],"usage":null}"#,
    ];

    /// What the full parse makes of a body: whether it is a completion, and its usage.
    fn full(body: &[u8]) -> Option<Option<Usage>> {
        let completion: ChatCompletion = serde_json::from_slice(body).ok()?;
        Some(completion.usage.as_ref().map(billed_usage))
    }

    fn checked(body: &[u8]) -> Option<Option<Usage>> {
        let completion = checked::parse::<Checked>(body)?;
        Some(completion.usage.as_ref().map(billed_usage))
    }

    #[test]
    fn the_check_accepts_what_parses_as_a_completion_and_keeps_its_usage() {
        for body in BODIES {
            assert!(full(body.as_bytes()).is_some(), "{body}");
            assert_eq!(checked(body.as_bytes()), full(body.as_bytes()), "{body}");
        }
        assert_eq!(
            checked(BODIES[0].as_bytes())
                .flatten()
                .map(|u| u.cached_tokens),
            Some(3)
        );
    }

    #[test]
    fn an_answer_without_usage_is_counted_in_its_own_form() {
        let answer = |form| ChatAnswer {
            form,
            stream: false,
            client_usage: false,
            encoding: Encoding::O200kBase,
            prompt_tokens: 7,
        };
        let counted = |body: &str, form| count_usage(body.as_bytes(), answer(form));
        let hello = Encoding::O200kBase.count("hello world") as u64;
        let chat = r#"{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hello world"},"finish_reason":"stop"}]}"#;
        let text = r#"{"id":"c","object":"text_completion","created":1,"model":"m","choices":[{"text":"hello world","index":0},{"text":"hello world","index":1}]}"#;
        let response = r#"{"id":"resp_1","object":"response","created_at":1,"status":"completed","completed_at":1,"background":false,"error":null,"incomplete_details":null,"instructions":null,"max_output_tokens":null,"model":"m","output":[{"type":"message","id":"msg_1","status":"completed","role":"assistant","content":[{"type":"output_text","text":"hello world","annotations":[],"logprobs":[]}]}],"parallel_tool_calls":true,"previous_response_id":null,"prompt_cache_key":null,"reasoning":{},"safety_identifier":null,"temperature":1,"top_p":1,"text":{},"tool_choice":"auto","tools":[],"truncation":"disabled","metadata":{},"service_tier":"default","store":true,"usage":null,"user":null}"#;
        for (body, form, tokens) in [
            (chat, Form::Chat, hello),
            (text, Form::Text, 2 * hello),
            (response, Form::Response, hello),
        ] {
            let usage = counted(body, form).unwrap_or_else(|| panic!("{form:?}"));
            assert_eq!(
                (usage.prompt_tokens, usage.completion_tokens),
                (7, tokens),
                "{form:?}"
            );
        }
        // each form reads only its own answers
        assert!(counted(chat, Form::Text).is_none());
        assert!(counted(text, Form::Response).is_none());
    }

    #[test]
    fn the_check_refuses_what_is_not_a_completion() {
        let refused = [
            &b"not json"[..],
            b"{}",
            br#"{"id":"c","object":"chat.completion","created":1,"model":"m"}"#,
            br#"{"id":7,"object":"chat.completion","created":1,"model":"m","choices":[]}"#,
            br#"{"id":"c","object":"chat.completion","created":-1,"model":"m","choices":[]}"#,
            br#"{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0}]}"#,
            br#"{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","annotations":{}}}]}"#,
            b"{\"id\":\"c\xff\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"m\",\"choices\":[]}",
        ];
        for body in refused {
            assert!(full(body).is_none(), "{}", String::from_utf8_lossy(body));
            assert!(checked(body).is_none(), "{}", String::from_utf8_lossy(body));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// A body cut anywhere, or with any byte changed, is accepted by the check
        /// exactly when the full parse accepts it, with the same usage.
        #[test]
        fn the_check_agrees_with_the_full_parse(body in mutated(&BODIES, &b"\"\\0}]{[,:1an -\xff\xc3e"[..])) {
            prop_assert_eq!(checked(&body), full(&body));
        }
    }
}
