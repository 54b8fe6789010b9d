//! Reasoning models (a chat model with `reasoning_tokens` in the profile, such as
//! gpt-5-mini): before its answer the model spends hidden reasoning tokens, as
//! many as its `reasoning_effort` asks (chat; `reasoning.effort` on the Responses
//! API). They are billed as output: `completion_tokens` counts them and
//! `completion_tokens_details.reasoning_tokens` says how many (the Responses
//! API's `output_tokens` and `output_tokens_details.reasoning_tokens`); the token
//! cap covers them and the answer together, so a cap they use up leaves an empty
//! answer cut at `length`; and they take their time before the first token, at
//! the model's time per token. A gateway that bills the text it saw instead of
//! the usage under-bills every such call, which the mocks' books show.
//!
//! As the API does, a reasoning model refuses `max_tokens` (it takes
//! `max_completion_tokens`) and a `temperature` or `top_p` other than 1, and a
//! model that does not reason refuses a reasoning effort.

use gatebench_wire::openai::ChatCompletionRequest;

use super::completion::draw_length;
use super::profile::ChatModel;
use super::validate::invalid;
use crate::error::ApiError;
use crate::rng::MockRng;

/// The efforts the API takes, and how many reasoning tokens each spends against
/// the profile's figure (which is `medium`'s): gatebench estimates.
const EFFORTS: [(&str, f64); 5] = [
    ("none", 0.0),
    ("minimal", 0.1),
    ("low", 0.35),
    ("medium", 1.0),
    ("high", 2.5),
];

/// The share of the profile's reasoning tokens `effort` spends (`medium` when
/// none is given); refuses an effort the API does not have, or any effort on a
/// model that does not reason. `param` names the effort as the route takes it
/// (`reasoning_effort`, `reasoning.effort`).
pub(super) fn effort(
    given: Option<&str>,
    param: &str,
    model: &ChatModel,
) -> Result<Option<f64>, ApiError> {
    let Some(given) = given else {
        return Ok(model.reasoning_tokens.map(|_| 1.0));
    };
    if model.reasoning_tokens.is_none() {
        return Err(invalid(
            param,
            format!("Unsupported parameter: '{param}' is not supported with this model."),
            Some("unsupported_parameter"),
        ));
    }
    match EFFORTS.iter().find(|(name, _)| *name == given) {
        Some((_, share)) => Ok(Some(*share)),
        None => Err(invalid(
            param,
            format!(
                "Invalid value: '{given}'. Supported values are: {}.",
                EFFORTS.map(|(name, _)| format!("'{name}'")).join(", ")
            ),
            Some("invalid_value"),
        )),
    }
}

/// What a reasoning model refuses of a chat request, in the API's words; nothing
/// for a model that does not reason.
pub(super) fn check_sampling(
    request: &ChatCompletionRequest,
    model: &ChatModel,
) -> Result<(), ApiError> {
    if model.reasoning_tokens.is_none() {
        return Ok(());
    }
    if request.max_tokens.is_some() {
        return Err(invalid(
            "max_tokens",
            "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
            Some("unsupported_parameter"),
        ));
    }
    for (param, value) in [
        ("temperature", request.temperature),
        ("top_p", request.top_p),
    ] {
        if let Some(v) = value.filter(|v| *v != 1.0) {
            return Err(invalid(
                param,
                format!(
                    "Unsupported value: '{param}' does not support {v} with this model. Only the default (1) value is supported."
                ),
                Some("unsupported_value"),
            ));
        }
    }
    Ok(())
}

/// The reasoning tokens of one answer: the profile's distribution scaled by the
/// effort's share (0 for a model that does not reason), drawn from `rng` (seeded
/// from the request, so the same request reasons as long every time).
pub(super) fn tokens(model: &ChatModel, share: Option<f64>, rng: &mut MockRng) -> u32 {
    match (model.reasoning_tokens, share) {
        (Some(length), Some(share)) if share > 0.0 => {
            (draw_length(length, rng) as f64 * share).round() as u32
        }
        _ => 0,
    }
}
