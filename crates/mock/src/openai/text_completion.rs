//! `POST /v1/completions`, the legacy text completions that benchmark tools (vLLM's
//! and guidellm's) still drive: `prompt` as a string, a list, or token arrays, each
//! prompt getting `n` choices of `choices[].text`, whole or streamed as
//! `text_completion` chunks.
//!
//! Each prompt is answered by the chat pipeline as a one-message conversation
//! (the same text, caps, floors, stop sequences and seed rules), but counted as
//! plain text: a legacy prompt has no chat framing. Any chat model of the profile
//! serves it, as on vLLM. The legacy API reports no cached tokens, so its calls
//! never hit the simulated prompt cache and bill none. `echo`, `suffix`,
//! `best_of` and `logprobs` are accepted and not acted on (`logprobs` is `null`).

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use gatebench_wire::books::hash;
use gatebench_wire::openai::{
    ChatCompletionRequest, ChatMessage, CompletionPrompt, CompletionRequest, TextChoice,
    TextCompletion, Usage,
};
use http::StatusCode;

use super::OpenAiMock;
use super::admission::admit;
use super::arguments;
use super::chat::{self, Generated, Meta, Object};
use super::completion::Written;
use super::stream;
use super::timing::Timing;
use super::validate::{self, invalid};
use crate::core::{Buffered, RequestCtx};
use crate::error::ApiError;
use crate::json::Json;
use gatebench_tokens::Encoding;

/// The route handler.
pub(super) async fn handle(
    State(mock): State<Arc<OpenAiMock>>,
    ctx: RequestCtx,
    Buffered(body): Buffered,
) -> Response {
    match serve(&mock, &ctx, &body).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn serve(mock: &OpenAiMock, ctx: &RequestCtx, body: &[u8]) -> Result<Response, ApiError> {
    let request: CompletionRequest = mock.request(body, arguments::COMPLETIONS)?;
    let model = mock.chat_model(&request.model)?;
    if model.reasoning_tokens.is_some() {
        // as the API answers a chat-only model on this endpoint
        return Err(ApiError::openai(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "This is a chat model and not supported in the v1/completions endpoint. Did you mean to use v1/chat/completions?",
        )
        .param("model"));
    }
    let prompts = prompts(&request.prompt, model.tokenizer)?;

    let mut choices: Vec<Written> = Vec::new();
    let mut usage = Usage::default();
    let mut reserved = 0u64;
    for (text, tokens) in &prompts {
        let conversation = as_chat(&request, text);
        validate::chat(&conversation)?;
        let messages = serde_json::to_vec(&conversation.messages).unwrap_or_default();
        // a prompt sent as token ids is those tokens, as the API bills it
        let prompt = Arc::new(
            tokens
                .clone()
                .unwrap_or_else(|| model.tokenizer.encode(text)),
        );
        let planned = chat::plan_for_prompt(mock, &conversation, model, &messages, prompt)?;
        let n = planned.choices.len() as u64;
        reserved += planned.prompt.len() as u64
            + n.saturating_mul(conversation.token_cap().unwrap_or(0).max(0) as u64);
        usage.prompt_tokens += planned.usage.prompt_tokens;
        usage.completion_tokens += planned.usage.completion_tokens;
        choices.extend(planned.choices.iter().cloned());
    }
    usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
    let admission = admit(&mock.core, ctx, &request.model, reserved)?;

    let timing = Timing::draw(model, ctx, &admission);
    let meta = Meta {
        object: Object::TextCompletion,
        id: chat::completion_id(ctx, "cmpl-"),
        created: chat::unix_now(),
        model: request.model.clone(),
        fingerprint: chat::fingerprint(&request.model),
    };
    Generated {
        model: &request.model,
        input: usage.prompt_tokens,
        cached: 0,
        output: usage.completion_tokens,
        content: choices.first().map(|c| c.text.as_str()),
        prompt: prompts.first().map(|(p, _)| hash(p.as_bytes())),
        response_id: &meta.id,
        stream: request.is_stream(),
    }
    .book(mock, ctx);
    if request.is_stream() {
        let include = request.include_usage();
        return Ok(stream::respond(
            meta,
            model.tokenizer,
            Arc::new(choices),
            include.then_some(usage),
            include,
            (timing, 0),
            ctx.clone(),
            admission,
        ));
    }
    let longest = choices.iter().map(|c| c.tokens).max().unwrap_or(0);
    ctx.sleep_from_received(timing.whole(longest)).await;
    let completion = TextCompletion {
        id: meta.id,
        object: TextCompletion::OBJECT.to_owned(),
        created: meta.created,
        model: meta.model,
        choices: choices
            .into_iter()
            .enumerate()
            .map(|(i, c)| TextChoice {
                text: c.text,
                index: i as u32,
                logprobs: None,
                finish_reason: Some(c.finish),
            })
            .collect(),
        system_fingerprint: Some(meta.fingerprint),
        usage: Some(usage),
    };
    let mut response = Json(completion).into_response();
    response.headers_mut().extend(admission.headers.clone());
    Ok(response)
}

/// A prompt as text, with the token ids it was sent as, if it was.
type Prompt = (String, Option<Vec<u32>>);

/// The prompts as text, with their token ids when they were sent as ids (decoded
/// with the model's tokenizer for the writer).
fn prompts(prompt: &CompletionPrompt, encoding: Encoding) -> Result<Vec<Prompt>, ApiError> {
    let decode = |i: usize, tokens: &Vec<u32>| {
        let text = encoding.decode_lossy(tokens).ok_or_else(|| {
            invalid(
                "prompt",
                format!(
                    "Invalid token in 'prompt[{i}]': every token must be an id of the {} vocabulary.",
                    encoding.name()
                ),
                Some("invalid_value"),
            )
        })?;
        Ok((text, Some(tokens.clone())))
    };
    let prompts = match prompt {
        CompletionPrompt::Text(s) => vec![(s.clone(), None)],
        CompletionPrompt::Texts(v) => v.iter().map(|s| (s.clone(), None)).collect(),
        CompletionPrompt::Tokens(t) => vec![decode(0, t)?],
        CompletionPrompt::TokenLists(v) => v
            .iter()
            .enumerate()
            .map(|(i, t)| decode(i, t))
            .collect::<Result<_, _>>()?,
    };
    if prompts.is_empty() {
        return Err(invalid(
            "prompt",
            "Invalid 'prompt': empty array. Expected an array with minimum length 1, but got an empty array instead.",
            Some("empty_array"),
        ));
    }
    Ok(prompts)
}

/// The request as a one-message chat, for the chat pipeline's checks and writer.
fn as_chat(request: &CompletionRequest, prompt: &str) -> ChatCompletionRequest {
    ChatCompletionRequest {
        model: request.model.clone(),
        messages: vec![ChatMessage::user(prompt)],
        stream: request.stream,
        stream_options: request.stream_options.clone(),
        max_tokens: Some(
            request
                .max_tokens
                .unwrap_or(CompletionRequest::DEFAULT_MAX_TOKENS),
        ),
        n: request.n,
        temperature: request.temperature,
        top_p: request.top_p,
        stop: request.stop.clone(),
        seed: request.seed,
        presence_penalty: request.presence_penalty,
        frequency_penalty: request.frequency_penalty,
        ignore_eos: request.ignore_eos,
        min_tokens: request.min_tokens,
        ..ChatCompletionRequest::default()
    }
}
