//! Checks a parsed request the way the API does, with its messages, parameters and
//! codes. Type errors (a string where a number goes, a missing field) are caught
//! earlier, by the JSON parser; these are the checks on values.

use gatebench_wire::openai::{
    ChatCompletionRequest, EmbeddingInput, EmbeddingRequest, ResponseFormat, Role,
};
use http::StatusCode;

use super::profile::{ChatModel, EmbeddingModel};
use crate::error::ApiError;

/// Most stop sequences a request may have.
pub const MAX_STOP: usize = 4;
/// Most choices a request may ask for.
pub const MAX_N: i64 = 128;
/// Most inputs an embeddings request may have.
pub const MAX_EMBEDDING_INPUTS: usize = 2048;
/// Most tokens an embeddings request may have, all inputs together.
pub const MAX_EMBEDDING_TOKENS: usize = 300_000;

/// A 400 `invalid_request_error`.
pub fn invalid(param: &str, message: impl Into<String>, code: Option<&str>) -> ApiError {
    let error = ApiError::openai(StatusCode::BAD_REQUEST, "invalid_request_error", message);
    let error = if param.is_empty() {
        error
    } else {
        error.param(param)
    };
    match code {
        Some(code) => error.code(code),
        None => error,
    }
}

/// Chat's pairing of tool calls with their results, in the API's words: an
/// assistant message's calls are answered by the tool messages right after it,
/// one per call, and a tool message answers a call of the message before.
/// (The Responses API pairs function calls with outputs more loosely; its route
/// checks that itself.)
pub fn chat_tool_turns(request: &ChatCompletionRequest) -> Result<(), ApiError> {
    let unanswered = |at: usize, open: &[&str]| {
        invalid(
            &format!("messages.[{at}].role"),
            format!(
                "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: {}",
                open.join(", ")
            ),
            None,
        )
    };
    // the assistant message whose calls are open, and those calls
    let mut open: Option<(usize, Vec<&str>)> = None;
    for (i, message) in request.messages.iter().enumerate() {
        if message.role == Role::Tool {
            let Some((_, calls)) = open.as_mut() else {
                // "preceeding" (sic): the API's own words
                return Err(invalid(
                    &format!("messages.[{i}].role"),
                    "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
                    None,
                ));
            };
            let id = message.tool_call_id.as_deref().unwrap_or_default();
            match calls.iter().position(|c| *c == id) {
                Some(at) => {
                    calls.remove(at);
                }
                None => {
                    return Err(invalid(
                        &format!("messages.[{i}].tool_call_id"),
                        format!(
                            "Invalid parameter: 'tool_call_id' of '{id}' not found in 'tool_calls' of previous message."
                        ),
                        None,
                    ));
                }
            }
            continue;
        }
        if let Some((at, calls)) = open.take()
            && !calls.is_empty()
        {
            return Err(unanswered(at, &calls));
        }
        let calls: Vec<&str> = message
            .tool_calls
            .iter()
            .flatten()
            .map(|c| c.id.as_str())
            .collect();
        if !calls.is_empty() {
            open = Some((i, calls));
        }
    }
    match open {
        Some((at, calls)) if !calls.is_empty() => Err(unanswered(at, &calls)),
        _ => Ok(()),
    }
}

/// Checks a chat request's values (model-independent checks).
pub fn chat(request: &ChatCompletionRequest) -> Result<(), ApiError> {
    if request.messages.is_empty() {
        return Err(invalid(
            "messages",
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
            Some("empty_array"),
        ));
    }
    for (i, message) in request.messages.iter().enumerate() {
        if let Role::Other(role) = &message.role {
            return Err(invalid(
                &format!("messages[{i}].role"),
                format!(
                    "Invalid value: '{role}'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'."
                ),
                Some("invalid_value"),
            ));
        }
        let needs_content = matches!(
            message.role,
            Role::System | Role::Developer | Role::User | Role::Tool
        );
        if needs_content && message.content.is_none() {
            return Err(invalid(
                &format!("messages[{i}].content"),
                format!("Invalid value for 'messages[{i}].content': expected a string, got null."),
                Some("invalid_type"),
            ));
        }
        if message.role == Role::Tool && message.tool_call_id.is_none() {
            return Err(invalid(
                &format!("messages[{i}].tool_call_id"),
                format!("Missing required parameter: 'messages[{i}].tool_call_id'."),
                Some("missing_required_parameter"),
            ));
        }
    }
    range_f64("temperature", request.temperature, 0.0, 2.0)?;
    range_f64("top_p", request.top_p, 0.0, 1.0)?;
    range_f64("presence_penalty", request.presence_penalty, -2.0, 2.0)?;
    range_f64("frequency_penalty", request.frequency_penalty, -2.0, 2.0)?;
    range_i64("n", request.n, 1, MAX_N)?;
    range_i64("max_tokens", request.max_tokens, 1, i64::MAX)?;
    range_i64(
        "max_completion_tokens",
        request.max_completion_tokens,
        1,
        i64::MAX,
    )?;
    range_i64("top_logprobs", request.top_logprobs, 0, 20)?;
    // keys are token ids
    if let Some(key) = request
        .logit_bias
        .iter()
        .flat_map(|bias| bias.keys())
        .find(|key| key.parse::<u32>().is_err())
    {
        return Err(invalid(
            "logit_bias",
            format!(
                "Invalid key in 'logit_bias': {key}. You should only be submitting non-negative integers."
            ),
            None,
        ));
    }
    // values are biases from -100 to 100
    if let Some((key, value)) = request
        .logit_bias
        .iter()
        .flatten()
        .find(|(_, v)| !v.as_f64().is_some_and(|b| (-100.0..=100.0).contains(&b)))
    {
        return Err(invalid(
            "logit_bias",
            format!(
                "Invalid value in 'logit_bias': {value} for token {key}. Each bias must be a number from -100 to 100."
            ),
            Some("invalid_value"),
        ));
    }
    if request.top_logprobs.is_some() && request.logprobs != Some(true) {
        return Err(invalid(
            "top_logprobs",
            "The 'top_logprobs' parameter is only allowed when 'logprobs' is enabled.",
            None,
        ));
    }
    range_i64("min_tokens", request.min_tokens, 0, i64::MAX)?;
    if let (Some(min), Some(cap)) = (request.min_tokens, request.token_cap())
        && min > cap
    {
        return Err(invalid(
            "min_tokens",
            format!(
                "Invalid 'min_tokens': {min} is above the token cap ({cap}). 'min_tokens' must be less than or equal to 'max_tokens'."
            ),
            Some("invalid_value"),
        ));
    }
    let stops = request.stop_sequences();
    if stops.len() > MAX_STOP {
        return Err(invalid(
            "stop",
            format!(
                "Invalid 'stop': array too long. Expected an array with maximum length {MAX_STOP}, but got an array with length {} instead.",
                stops.len()
            ),
            Some("array_above_max_length"),
        ));
    }
    if request.stream_options.is_some() && !request.is_stream() {
        return Err(invalid(
            "stream_options",
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            None,
        ));
    }
    if matches!(request.response_format, Some(ResponseFormat::JsonObject)) {
        let mentions_json = request
            .messages
            .iter()
            .any(|m| m.text().to_lowercase().contains("json"));
        if !mentions_json {
            return Err(invalid(
                "messages",
                "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.",
                None,
            ));
        }
    }
    Ok(())
}

/// Checks what depends on the model: the token cap and the context window.
pub fn chat_for_model(
    request: &ChatCompletionRequest,
    model: &ChatModel,
    prompt_tokens: usize,
) -> Result<(), ApiError> {
    let limit = i64::from(model.max_output_tokens);
    for (param, value) in [
        ("max_tokens", request.max_tokens),
        ("max_completion_tokens", request.max_completion_tokens),
        ("min_tokens", request.min_tokens),
    ] {
        if let Some(v) = value
            && v > limit
        {
            return Err(invalid(
                param,
                format!(
                    "{param} is too large: {v}. This model supports at most {limit} completion tokens, whereas you provided {v}."
                ),
                Some("invalid_value"),
            ));
        }
    }
    let window = model.context_window as usize;
    if prompt_tokens > window {
        return Err(invalid(
            "messages",
            format!(
                "This model's maximum context length is {window} tokens. However, your messages resulted in {prompt_tokens} tokens. Please reduce the length of the messages."
            ),
            Some("context_length_exceeded"),
        ));
    }
    Ok(())
}

/// Checks an embeddings request's values: inputs present and not empty, not too
/// many, `dimensions` allowed and in range.
pub fn embeddings(request: &EmbeddingRequest, model: &EmbeddingModel) -> Result<(), ApiError> {
    let input_invalid = || {
        invalid(
            "input",
            "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
            None,
        )
    };
    let empty_string = match &request.input {
        EmbeddingInput::Text(s) => s.is_empty(),
        EmbeddingInput::Texts(v) => v.iter().any(String::is_empty),
        EmbeddingInput::Tokens(t) => t.is_empty(),
        EmbeddingInput::TokenLists(v) => v.iter().any(Vec::is_empty),
    };
    if request.input.is_empty() || empty_string {
        return Err(input_invalid());
    }
    if request.input.len() > MAX_EMBEDDING_INPUTS {
        return Err(invalid(
            "input",
            format!(
                "Invalid 'input': array too long. Expected an array with maximum length {MAX_EMBEDDING_INPUTS}, but got an array with length {} instead.",
                request.input.len()
            ),
            Some("array_above_max_length"),
        ));
    }
    if let Some(dims) = request.dimensions {
        if !model.shortening {
            return Err(invalid(
                "dimensions",
                "This model does not support specifying dimensions.",
                None,
            ));
        }
        if dims < 1 || dims > i64::from(model.dimensions) {
            return Err(invalid(
                "dimensions",
                format!(
                    "Invalid value for 'dimensions' = {dims}. Must be between 1 and {}.",
                    model.dimensions
                ),
                Some("invalid_value"),
            ));
        }
    }
    Ok(())
}

/// Checks the token counts of an embeddings request's inputs.
pub fn embedding_tokens(counts: &[usize], model: &EmbeddingModel) -> Result<(), ApiError> {
    let max = model.max_input_tokens as usize;
    if let Some(&over) = counts.iter().find(|&&c| c > max) {
        return Err(invalid(
            "input",
            format!(
                "This model's maximum context length is {max} tokens, however you requested {over} tokens ({over} in your prompt; 0 for the completion). Please reduce your prompt; or completion length."
            ),
            None,
        ));
    }
    let total: usize = counts.iter().sum();
    if total > MAX_EMBEDDING_TOKENS {
        return Err(invalid(
            "input",
            format!("Requested {total} tokens, max {MAX_EMBEDDING_TOKENS} tokens per request."),
            Some("max_tokens_per_request"),
        ));
    }
    Ok(())
}

fn range_f64(param: &str, value: Option<f64>, min: f64, max: f64) -> Result<(), ApiError> {
    let Some(v) = value else { return Ok(()) };
    if v < min {
        return Err(invalid(
            param,
            format!(
                "Invalid '{param}': decimal below minimum value. Expected a value >= {min}, but got {v} instead."
            ),
            Some("decimal_below_min_value"),
        ));
    }
    if v > max || v.is_nan() {
        return Err(invalid(
            param,
            format!(
                "Invalid '{param}': decimal above maximum value. Expected a value <= {max}, but got {v} instead."
            ),
            Some("decimal_above_max_value"),
        ));
    }
    Ok(())
}

fn range_i64(param: &str, value: Option<i64>, min: i64, max: i64) -> Result<(), ApiError> {
    let Some(v) = value else { return Ok(()) };
    if v < min {
        return Err(invalid(
            param,
            format!(
                "Invalid '{param}': integer below minimum value. Expected a value >= {min}, but got {v} instead."
            ),
            Some("integer_below_min_value"),
        ));
    }
    if v > max {
        return Err(invalid(
            param,
            format!(
                "Invalid '{param}': integer above maximum value. Expected a value <= {max}, but got {v} instead."
            ),
            Some("integer_above_max_value"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
