//! `POST /v1/chat/completions`: parse, validate, count the prompt, write the
//! choices, admit (rate limits, capacity), then answer after the latency model's
//! delay, whole or streamed.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use gatebench_serve::front::Answer;
use gatebench_wire::books::{CallUsage, hash};
use gatebench_wire::openai::{
    AssistantMessage, ChatCompletion, ChatCompletionRequest, CompletionTokensDetails, FinishReason,
    FunctionCall, MessageContent, PromptTokensDetails, ResponseFormat, Role, ToolCall, Usage,
};
use rand::RngExt as _;
use serde_json::value::RawValue;
use xxhash_rust::xxh3::{xxh3_64, xxh3_128};

use super::OpenAiMock;
use super::admission::admit;
use super::arguments;
use super::completion::{self, Call, Format, Memo, Spec, Written};
use super::profile::ChatModel;
use super::reasoning;
use super::stream;
use super::strict;
use super::timing::Timing;
use super::tools;
use super::validate;
use crate::core::{Buffered, RequestCtx};
use crate::error::ApiError;
use crate::json::string;
use crate::layer;
use crate::rng::MockRng;

/// `owned_by` of the models whose usage also carries DeepSeek's cache fields.
const DEEPSEEK: &str = "deepseek";

/// The route.
pub(super) const ROUTE: &str = "/v1/chat/completions";

/// The route handler, as the router serves it.
pub(super) async fn handle(
    State(mock): State<Arc<OpenAiMock>>,
    ctx: RequestCtx,
    Buffered(body): Buffered,
) -> Response {
    answer(&mock, &ctx, &body).await
}

/// The route's `POST` as served ahead of the router ([`crate::control::assemble`]'s
/// `front`): the provider middleware's work, then the handler's.
pub(super) fn front(mock: Arc<OpenAiMock>, request: Request) -> Answer {
    Box::pin(async move {
        let core = Arc::clone(&mock.core);
        let inner =
            |_, ctx: RequestCtx, body: Bytes| async move { answer(&mock, &ctx, &body).await };
        Ok(layer::serve(&core, ROUTE.to_owned(), request, inner).await)
    })
}

async fn answer(mock: &OpenAiMock, ctx: &RequestCtx, body: &[u8]) -> Response {
    match serve(mock, ctx, body).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

/// Everything about an answer that does not depend on time: the choices and usage.
#[derive(Clone, Debug, PartialEq)]
pub struct Planned {
    /// One per `n` (shared with the memo of written answers).
    pub choices: Arc<Vec<Written>>,
    /// Token counts.
    pub usage: Usage,
    /// The prompt as tokens (for the prompt cache).
    pub prompt: Arc<Vec<u32>>,
    /// Hidden reasoning tokens each choice spent before its answer (a reasoning
    /// model's; counted in `usage`).
    pub reasoning: u32,
}

impl Planned {
    /// The plan with each tool call given an id of this request's own: written
    /// answers are shared by identical requests, a call's id is not (the API gives
    /// every call a new one, and clients key their state by it).
    pub fn with_call_ids(self, ctx: &RequestCtx) -> Planned {
        if self.choices.iter().all(|c| c.calls.is_empty()) {
            return self;
        }
        let mut rng = ctx.rng("call_id");
        let choices = self
            .choices
            .iter()
            .map(|c| match c.calls.as_slice() {
                [] => c.clone(),
                calls => Written {
                    calls: calls
                        .iter()
                        .map(|call| Call {
                            id: tools::call_id(&mut rng),
                            ..call.clone()
                        })
                        .collect(),
                    // the memoised message holds the shared ids
                    message: Memo::default(),
                    ..c.clone()
                },
            })
            .collect();
        Planned {
            choices: Arc::new(choices),
            ..self
        }
    }
}

/// What a generating route (chat, legacy completions, responses) served.
pub(super) struct Generated<'a> {
    pub model: &'a str,
    pub input: u32,
    pub cached: u32,
    pub output: u32,
    /// The first choice's text (a tool call's arguments).
    pub content: Option<&'a str>,
    pub prompt: Option<u64>,
    pub response_id: &'a str,
    pub stream: bool,
}

impl Generated<'_> {
    /// Enters it in the call's books (and the debug log); a stream that ends early
    /// is billed what it delivered (the stream updates the entry).
    pub fn book(self, mock: &OpenAiMock, ctx: &RequestCtx) {
        tracing::debug!(
            route = ctx.route(),
            model = self.model,
            input_tokens = self.input,
            cached_tokens = self.cached,
            output_tokens = self.output,
            stream = self.stream,
            "generated"
        );
        ctx.serve(|served| {
            served.model = Some(mock.name(self.model));
            served.usage = CallUsage {
                input_tokens: u64::from(self.input),
                cached_tokens: u64::from(self.cached),
                output_tokens: u64::from(self.output),
                ..CallUsage::default()
            };
            served.content_digest = self.content.map(|c| hash(c.as_bytes()));
            served.prompt_digest = self.prompt;
            served.response_id = Some(self.response_id.to_owned());
            served.stream = self.stream;
            served.partial_billing = self.stream;
        });
    }
}

/// What a stream's chunks are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Object {
    /// `chat.completion.chunk`.
    ChatChunk,
    /// `text_completion` (legacy completions).
    TextCompletion,
}

/// Identity of one completion, the same on every chunk.
#[derive(Clone, Debug)]
pub(super) struct Meta {
    pub object: Object,
    pub id: String,
    pub created: u64,
    pub model: String,
    pub fingerprint: String,
}

async fn serve(mock: &OpenAiMock, ctx: &RequestCtx, body: &[u8]) -> Result<Response, ApiError> {
    let request: ChatCompletionRequest = mock.request(body, arguments::CHAT)?;
    validate::chat(&request)?;
    validate::chat_tool_turns(&request)?;
    let model = mock.chat_model(&request.model)?;
    let planned = plan(mock, &request, model)?.with_call_ids(ctx);
    let n = planned.choices.len() as u64;
    let reserved = match request.token_cap() {
        Some(cap) => n.saturating_mul(cap.max(0) as u64),
        None => u64::from(planned.usage.completion_tokens),
    };
    let admission = admit(
        &mock.core,
        ctx,
        &request.model,
        planned.prompt.len() as u64 + reserved,
    )?;
    let mut usage = planned.usage;
    let cached = mock
        .prompt_cache
        .lookup_and_store(&request.model, &planned.prompt);
    set_cached(&mut usage, cached, model);

    let timing = Timing::draw(model, ctx, &admission).thinking(planned.reasoning);
    let meta = Meta {
        object: Object::ChatChunk,
        id: completion_id(ctx, "chatcmpl-"),
        created: unix_now(),
        model: request.model.clone(),
        fingerprint: fingerprint(&request.model),
    };
    Generated {
        model: &request.model,
        input: usage.prompt_tokens,
        cached,
        output: usage.completion_tokens,
        content: planned.choices.first().map(|c| c.text.as_str()),
        prompt: prompt_hash(&request),
        response_id: &meta.id,
        stream: request.is_stream(),
    }
    .book(mock, ctx);
    if request.is_stream() {
        let usage = request.include_usage().then_some(usage);
        return Ok(stream::respond(
            meta,
            model.tokenizer,
            planned.choices,
            usage,
            request.include_usage(),
            (timing, planned.reasoning),
            ctx.clone(),
            admission,
        ));
    }
    let longest = planned.choices.iter().map(|c| c.tokens).max().unwrap_or(0);
    ctx.sleep_from_received(timing.whole(longest)).await;
    let whole = Whole::of(&meta, &planned.choices, &usage).to_json();
    let mut response = crate::json::response(whole);
    response.headers_mut().extend(admission.headers.clone());
    Ok(response)
}

/// A chat completion, written as serde writes [`ChatCompletion`] (tested byte for
/// byte), with each choice's message serialised once per memoised answer: escaping
/// the text was the largest part of a response's cost, and load tests repeat
/// prompts. The keys are written as they are, not escaped byte by byte as serde
/// writes every key; only the strings that vary are.
struct Whole<'a> {
    id: &'a str,
    created: u64,
    model: &'a str,
    choices: Vec<Choice<'a>>,
    usage: &'a Usage,
    system_fingerprint: &'a str,
}

/// A choice of a [`Whole`], written as `ChatChoice` is.
struct Choice<'a> {
    message: &'a RawValue,
    finish_reason: &'a FinishReason,
}

impl<'a> Whole<'a> {
    fn of(meta: &'a Meta, choices: &'a [Written], usage: &'a Usage) -> Whole<'a> {
        let message = |c: &Written| {
            serde_json::value::to_raw_value(&assistant_message(c)).unwrap_or_default()
        };
        Whole {
            id: &meta.id,
            created: meta.created,
            model: &meta.model,
            choices: choices
                .iter()
                .map(|c| Choice {
                    message: c.message_json(message),
                    finish_reason: &c.finish,
                })
                .collect(),
            usage,
            system_fingerprint: &meta.fingerprint,
        }
    }

    fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            512 + self
                .choices
                .iter()
                .map(|c| c.message.get().len())
                .sum::<usize>(),
        );
        let mut number = itoa::Buffer::new();
        out.extend_from_slice(b"{\"id\":");
        string(&mut out, self.id);
        out.extend_from_slice(b",\"object\":");
        string(&mut out, ChatCompletion::OBJECT);
        out.extend_from_slice(b",\"created\":");
        out.extend_from_slice(number.format(self.created).as_bytes());
        out.extend_from_slice(b",\"model\":");
        string(&mut out, self.model);
        out.extend_from_slice(b",\"choices\":[");
        for (i, choice) in self.choices.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"index\":");
            out.extend_from_slice(number.format(i).as_bytes());
            out.extend_from_slice(b",\"message\":");
            out.extend_from_slice(choice.message.get().as_bytes());
            out.extend_from_slice(b",\"logprobs\":null,\"finish_reason\":");
            string(&mut out, choice.finish_reason.as_str());
            out.push(b'}');
        }
        out.extend_from_slice(b"],\"usage\":");
        write_usage(&mut out, self.usage);
        out.extend_from_slice(b",\"service_tier\":\"default\",\"system_fingerprint\":");
        string(&mut out, self.system_fingerprint);
        out.push(b'}');
        out
    }
}

/// `usage` as serde writes [`Usage`]. The patterns name every field, so a field
/// added to the wire type does not compile here until it is written.
fn write_usage(out: &mut Vec<u8>, usage: &Usage) {
    let Usage {
        prompt_tokens,
        completion_tokens,
        total_tokens,
        prompt_tokens_details,
        completion_tokens_details,
        prompt_cache_hit_tokens,
        prompt_cache_miss_tokens,
    } = usage;
    let mut number = itoa::Buffer::new();
    let mut field = |out: &mut Vec<u8>, key: &[u8], value: u32| {
        out.extend_from_slice(key);
        out.extend_from_slice(number.format(value).as_bytes());
    };
    field(out, b"{\"prompt_tokens\":", *prompt_tokens);
    field(out, b",\"completion_tokens\":", *completion_tokens);
    field(out, b",\"total_tokens\":", *total_tokens);
    if let Some(PromptTokensDetails {
        cached_tokens,
        audio_tokens,
    }) = prompt_tokens_details
    {
        field(
            out,
            b",\"prompt_tokens_details\":{\"cached_tokens\":",
            *cached_tokens,
        );
        field(out, b",\"audio_tokens\":", *audio_tokens);
        out.push(b'}');
    }
    if let Some(CompletionTokensDetails {
        reasoning_tokens,
        audio_tokens,
        accepted_prediction_tokens,
        rejected_prediction_tokens,
    }) = completion_tokens_details
    {
        field(
            out,
            b",\"completion_tokens_details\":{\"reasoning_tokens\":",
            *reasoning_tokens,
        );
        field(out, b",\"audio_tokens\":", *audio_tokens);
        field(
            out,
            b",\"accepted_prediction_tokens\":",
            *accepted_prediction_tokens,
        );
        field(
            out,
            b",\"rejected_prediction_tokens\":",
            *rejected_prediction_tokens,
        );
        out.push(b'}');
    }
    if let Some(hit) = prompt_cache_hit_tokens {
        field(out, b",\"prompt_cache_hit_tokens\":", *hit);
    }
    if let Some(miss) = prompt_cache_miss_tokens {
        field(out, b",\"prompt_cache_miss_tokens\":", *miss);
    }
    out.push(b'}');
}

/// Counts the prompt, checks it against the model, and writes every choice. Pure:
/// the same request on the same mock always plans the same answer (except for
/// `cached_tokens`, which depends on what came before and is filled in later).
pub fn plan(
    mock: &OpenAiMock,
    request: &ChatCompletionRequest,
    model: &ChatModel,
) -> Result<Planned, ApiError> {
    let messages = serde_json::to_vec(&request.messages).unwrap_or_default();
    let prompt = prompt_tokens(mock, request, model, &messages);
    plan_for_prompt(mock, request, model, &messages, prompt)
}

/// [`plan`] for a prompt counted by the caller (a route whose prompt is not a chat
/// conversation); `messages` is the conversation as the answer's content key.
pub(super) fn plan_for_prompt(
    mock: &OpenAiMock,
    request: &ChatCompletionRequest,
    model: &ChatModel,
    messages: &[u8],
    prompt: Arc<Vec<u32>>,
) -> Result<Planned, ApiError> {
    validate::chat_for_model(request, model, prompt.len())?;
    reasoning::check_sampling(request, model)?;
    let effort = request.reasoning_effort.as_deref();
    let share = reasoning::effort(effort, "reasoning_effort", model)?;
    let tool_choice = tools::choice(request)?;
    strict::check(request)?;
    // only a reasoning model draws: seeding hashes the whole conversation again
    let thought = if share.is_some() {
        let seed = request.seed.map(i64::to_le_bytes).unwrap_or_default();
        let mut rng = mock.core.content_rng(&[
            b"reasoning",
            request.model.as_bytes(),
            messages,
            effort.unwrap_or_default().as_bytes(),
            &seed,
        ]);
        // a cap below the reasoning cuts it there, and leaves no answer
        let cap = request
            .token_cap()
            .map_or(u32::MAX, |c| c.clamp(0, i64::from(u32::MAX)) as u32);
        reasoning::tokens(model, share, &mut rng).min(cap)
    } else {
        0
    };
    let choices = write_choices(mock, request, model, messages, tool_choice, thought);
    let n = choices.len() as u32;
    let reasoning_tokens = n.saturating_mul(thought);
    let completion_tokens: u32 = choices.iter().map(|c| c.tokens).sum::<u32>() + reasoning_tokens;
    let prompt_tokens = prompt.len() as u32;
    let mut usage = Usage {
        prompt_tokens,
        completion_tokens,
        total_tokens: prompt_tokens + completion_tokens,
        prompt_tokens_details: Some(PromptTokensDetails::default()),
        completion_tokens_details: Some(CompletionTokensDetails {
            reasoning_tokens,
            ..CompletionTokensDetails::default()
        }),
        ..Usage::default()
    };
    set_cached(&mut usage, 0, model);
    Ok(Planned {
        choices,
        usage,
        prompt,
        reasoning: thought,
    })
}

/// The prompt's token sequence, memoised: tokenising is the costliest step of
/// planning, and load tests repeat prompts.
fn prompt_tokens(
    mock: &OpenAiMock,
    request: &ChatCompletionRequest,
    model: &ChatModel,
    messages: &[u8],
) -> Arc<Vec<u32>> {
    let tools = serde_json::to_vec(&request.tools).unwrap_or_default();
    let key = memo_key(&[model.tokenizer.name().as_bytes(), messages, &tools]);
    if let Some(prompt) = mock.prompts.get(&key) {
        return prompt;
    }
    let prompt = Arc::new(gatebench_tokens::prompt_sequence(model.tokenizer, request));
    mock.prompts.insert(key, Arc::clone(&prompt));
    prompt
}

fn write_choices(
    mock: &OpenAiMock,
    request: &ChatCompletionRequest,
    model: &ChatModel,
    messages: &[u8],
    tool_choice: tools::Choice<'_>,
    reasoning: u32,
) -> Arc<Vec<Written>> {
    // What the text depends on: the model, the conversation, the answer's format
    // and the seed. Not on temperature, caps or stop sequences, so a capped or
    // stopped answer is a prefix of the uncapped one.
    let format_key = serde_json::to_vec(&request.response_format).unwrap_or_default();
    let seed = match request.seed {
        Some(seed) => format!("seed:{seed}"),
        None => "seed:none".to_owned(),
    };
    let stop = request.stop_sequences();
    let n = request.choices().max(1) as u64;
    // the cap covers the reasoning and the answer: the answer gets what is left
    let cap = request
        .token_cap()
        .map(|c| (c.clamp(0, i64::from(u32::MAX)) as u32).saturating_sub(reasoning));
    let floor = request
        .token_floor()
        .map(|f| f.clamp(0, i64::from(u32::MAX)) as u32);
    let tools_key = serde_json::to_vec(&(&request.tools, &request.tool_choice)).unwrap_or_default();
    // The memo key adds what shapes the final text (cap, floor, stop, n, tools).
    let shape = serde_json::to_vec(&(
        n,
        cap,
        floor,
        &stop,
        &tools_key,
        request.parallel_tool_calls,
    ))
    .unwrap_or_default();
    let parts: [&[u8]; 5] = [
        request.model.as_bytes(),
        messages,
        &format_key,
        seed.as_bytes(),
        &shape,
    ];
    let key = memo_key(&parts);
    if let Some(written) = mock.answers.get(&key) {
        return written;
    }
    let prompt_text = request.last_user_text().unwrap_or_default();
    let format = match &request.response_format {
        Some(ResponseFormat::JsonObject) => Format::JsonObject,
        Some(ResponseFormat::JsonSchema { json_schema }) => {
            Format::JsonSchema(json_schema.schema.as_ref())
        }
        Some(ResponseFormat::Text) | None => Format::Text,
    };
    let spec = Spec {
        encoding: model.tokenizer,
        length: model.output_tokens,
        cap,
        floor,
        stop: &stop,
        format,
        prompt: &prompt_text,
    };
    let written: Arc<Vec<Written>> = Arc::new(
        (0..n)
            .map(|i| {
                // A draw of its own, so offering tools does not change the text of
                // an answer that calls none.
                let mut tool_rng = mock.core.content_rng(&[
                    b"tools",
                    parts[0],
                    parts[1],
                    &tools_key,
                    parts[3],
                    &i.to_le_bytes(),
                ]);
                let mut parallel_rng = mock.core.content_rng(&[
                    b"parallel tools",
                    parts[0],
                    parts[1],
                    &tools_key,
                    parts[3],
                    &i.to_le_bytes(),
                ]);
                let shares = tools::Shares {
                    call: mock.profile.tool_call_share,
                    parallel: mock.profile.parallel_tool_call_share,
                };
                let functions = tools::decide(
                    request,
                    tool_choice,
                    shares,
                    &mut tool_rng,
                    &mut parallel_rng,
                );
                if !functions.is_empty() {
                    let named = matches!(tool_choice, tools::Choice::Named(_));
                    return tools::write_calls(
                        &functions,
                        named,
                        model.tokenizer,
                        &prompt_text,
                        &mut tool_rng,
                    );
                }
                let mut rng = mock.core.content_rng(&[
                    b"chat",
                    parts[0],
                    parts[1],
                    parts[2],
                    parts[3],
                    &i.to_le_bytes(),
                ]);
                completion::write(&spec, &mut rng)
            })
            .collect(),
    );
    mock.answers.insert(key, Arc::clone(&written));
    written
}

/// A choice's message: its text, or its tool calls (with `content: null`).
fn assistant_message(written: &Written) -> AssistantMessage {
    if written.calls.is_empty() {
        return AssistantMessage::text(written.text.clone());
    }
    AssistantMessage {
        content: None,
        tool_calls: Some(
            written
                .calls
                .iter()
                .map(|call| ToolCall {
                    id: call.id.clone(),
                    kind: "function".to_owned(),
                    function: FunctionCall {
                        name: call.name.clone(),
                        arguments: call.arguments.clone(),
                    },
                })
                .collect(),
        ),
        ..AssistantMessage::text("")
    }
}

/// The hash of the last user message's text, without copying plain text.
pub(super) fn prompt_hash(request: &ChatCompletionRequest) -> Option<u64> {
    let last = request
        .messages
        .iter()
        .rev()
        .find(|m| m.role == Role::User)?;
    Some(match &last.content {
        Some(MessageContent::Text(text)) => hash(text.as_bytes()),
        _ => hash(last.text().as_bytes()),
    })
}

/// A 128-bit digest of length-prefixed parts (so part boundaries cannot shift).
fn memo_key(parts: &[&[u8]]) -> u128 {
    let mut bytes = Vec::with_capacity(parts.iter().map(|p| p.len() + 8).sum());
    for part in parts {
        bytes.extend_from_slice(&(part.len() as u64).to_le_bytes());
        bytes.extend_from_slice(part);
    }
    xxh3_128(&bytes)
}

fn set_cached(usage: &mut Usage, cached: u32, model: &ChatModel) {
    if let Some(details) = &mut usage.prompt_tokens_details {
        details.cached_tokens = cached;
    }
    if model.owned_by == DEEPSEEK {
        usage.prompt_cache_hit_tokens = Some(cached);
        usage.prompt_cache_miss_tokens = Some(usage.prompt_tokens.saturating_sub(cached));
    }
}

/// `prefix` (`chatcmpl-`, `cmpl-`) and 29 letters and digits, like OpenAI's ids.
pub(super) fn completion_id(ctx: &RequestCtx, prefix: &str) -> String {
    random_id(&mut ctx.rng("completion_id"), prefix)
}

/// `prefix` and 29 letters and digits: five uniform base-62 digits from each draw
/// below 62⁵, one draw per five digits.
fn random_id(rng: &mut MockRng, prefix: &str) -> String {
    const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    const DIGITS: usize = 29;
    const PER_DRAW: usize = 5;
    const DRAW: u32 = 62u32.pow(PER_DRAW as u32);
    // written as bytes and added at once: a `char` pushed at a time cost twice as much
    let mut digits = [b'A'; DIGITS];
    for chunk in digits.chunks_mut(PER_DRAW) {
        let mut draw = rng.random_range(0..DRAW);
        for digit in chunk {
            *digit = ALPHABET[(draw % 62) as usize];
            draw /= 62;
        }
    }
    let mut id = String::with_capacity(prefix.len() + DIGITS);
    id.push_str(prefix);
    id.push_str(std::str::from_utf8(&digits).unwrap_or_default());
    id
}

/// A stable `fp_` fingerprint per model.
pub(super) fn fingerprint(model: &str) -> String {
    gatebench_wire::hex::with_prefix("fp_", xxh3_64(model.as_bytes()) & 0xff_ffff_ffff, 10)
}

pub(super) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use gatebench_wire::openai::ChatChoice;
    use proptest::prelude::*;

    use super::*;
    use crate::openai::completion::{Call, Memo};

    #[test]
    fn an_id_is_its_prefix_and_29_letters_and_digits_of_every_kind() {
        let mut seen = std::collections::BTreeSet::new();
        for seed in 0..200 {
            let id = random_id(&mut crate::rng::stream(seed, "completion_id"), "chatcmpl-");
            let digits = id.strip_prefix("chatcmpl-").unwrap();
            assert_eq!(digits.len(), 29, "{id}");
            assert!(digits.bytes().all(|b| b.is_ascii_alphanumeric()), "{id}");
            seen.extend(digits.bytes());
        }
        // 5,800 uniform draws from 62 symbols miss one with odds far below 1e-30
        assert_eq!(seen.len(), 62);
        let again = |seed| random_id(&mut crate::rng::stream(seed, "completion_id"), "");
        assert_eq!(again(7), again(7));
        assert_ne!(again(7), again(8));
    }

    /// A whole answer written from memoised messages is, byte for byte, the wire
    /// type's serialisation: text with quotes, backslashes, a newline and
    /// non-ASCII, a tool call, each finish reason, sent twice (the second time
    /// from the memo).
    #[test]
    fn a_whole_answer_is_the_wire_type_serialised() {
        let text = |text: &str, finish| Written {
            text: text.to_owned(),
            tokens: 3,
            finish,
            calls: Vec::new(),
            pieces: Memo::default(),
            message: Memo::default(),
        };
        let call = |id: &str, arguments: &str| Call {
            id: id.to_owned(),
            name: "get_weather".to_owned(),
            arguments: arguments.to_owned(),
        };
        let choices = vec![
            text(
                "He said \"hi\" \\ caf\u{e9}\nthen \u{1f600}",
                FinishReason::Stop,
            ),
            text("cut", FinishReason::Length),
            Written {
                calls: vec![call("call_1", r#"{"city":"Paris"}"#)],
                ..text(r#"{"city":"Paris"}"#, FinishReason::ToolCalls)
            },
            Written {
                calls: vec![
                    call("call_2", r#"{"city":"Paris"}"#),
                    call("call_3", r#"{"city":"Lyon"}"#),
                ],
                ..text(
                    r#"{"city":"Paris"}{"city":"Lyon"}"#,
                    FinishReason::ToolCalls,
                )
            },
            text(
                "",
                FinishReason::Other("insufficient_system_resource".into()),
            ),
        ];
        let meta = Meta {
            object: Object::ChatChunk,
            id: "chatcmpl-\"x\"".to_owned(),
            created: 1_700_000_000,
            model: "gpt-4o-mini".to_owned(),
            fingerprint: "fp_1".to_owned(),
        };
        let usage = Usage {
            prompt_tokens: 5,
            completion_tokens: 9,
            total_tokens: 14,
            prompt_tokens_details: Some(PromptTokensDetails::default()),
            completion_tokens_details: Some(CompletionTokensDetails::default()),
            ..Usage::default()
        };
        let wire = ChatCompletion {
            id: meta.id.clone(),
            object: ChatCompletion::OBJECT.to_owned(),
            created: meta.created,
            model: meta.model.clone(),
            choices: choices
                .iter()
                .enumerate()
                .map(|(i, c)| ChatChoice {
                    index: i as u32,
                    message: assistant_message(c),
                    logprobs: None,
                    finish_reason: Some(c.finish.clone()),
                })
                .collect(),
            usage: Some(usage.clone()),
            service_tier: Some("default".to_owned()),
            system_fingerprint: Some(meta.fingerprint.clone()),
        };
        let expected = serde_json::to_string(&wire).unwrap();
        for _ in 0..2 {
            let whole = Whole::of(&meta, &choices, &usage).to_json();
            assert_eq!(String::from_utf8(whole).unwrap(), expected);
        }
    }

    fn arb_usage() -> impl Strategy<Value = Usage> {
        let prompt = proptest::option::of((any::<u32>(), any::<u32>()));
        let completion = proptest::option::of(any::<[u32; 4]>());
        let deepseek = (
            proptest::option::of(any::<u32>()),
            proptest::option::of(any::<u32>()),
        );
        (any::<[u32; 3]>(), prompt, completion, deepseek).prop_map(
            |([p, c, t], prompt, completion, (hit, miss))| Usage {
                prompt_tokens: p,
                completion_tokens: c,
                total_tokens: t,
                prompt_tokens_details: prompt.map(|(cached_tokens, audio_tokens)| {
                    PromptTokensDetails {
                        cached_tokens,
                        audio_tokens,
                    }
                }),
                completion_tokens_details: completion.map(|[r, a, acc, rej]| {
                    CompletionTokensDetails {
                        reasoning_tokens: r,
                        audio_tokens: a,
                        accepted_prediction_tokens: acc,
                        rejected_prediction_tokens: rej,
                    }
                }),
                prompt_cache_hit_tokens: hit,
                prompt_cache_miss_tokens: miss,
            },
        )
    }

    proptest! {
        /// Every usage, with or without each optional part, is written as serde
        /// writes it.
        #[test]
        fn usage_is_written_as_serde_writes_it(usage in arb_usage()) {
            let mut ours = Vec::new();
            write_usage(&mut ours, &usage);
            prop_assert_eq!(String::from_utf8(ours).unwrap(), serde_json::to_string(&usage).unwrap());
        }
    }
}
