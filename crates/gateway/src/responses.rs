//! `POST /v1/responses`: the Responses API, whole or as its event stream, through
//! the same steps as chat (auth, budget reservation, queue, upstream with retries
//! and fallbacks, billing at the model's chat prices). Not cached: a response
//! may continue a stored one (`previous_response_id`), which the request does not
//! show, so equal requests need not mean equal questions (every call is a
//! `bypass`). The id of each response relayed is noted with its tenant and
//! provider ([`crate::stored`]): a continuation goes to that provider only, and
//! only for that tenant.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::response::Response;
use gatebench_cost::Usage;
use gatebench_tokens::{Encoding, RESENT_TURN, count_chat_prompt};
use gatebench_wire::gateway::PROVIDER;
use gatebench_wire::openai::{ResponseRequest, ResponseUsage};
use http::HeaderMap;
use serde::Deserialize;

use crate::chat::DEFAULT_MAX_OUTPUT;
use crate::checked::{self, Text};
use crate::dispatch::Accepted;
use crate::error::GatewayError;
use crate::extract::{Incoming, JsonBody};
use crate::generate::{Generation, check_model, generate};
use crate::meta::Meta;
use crate::pipeline::{Cache, ChatAnswer, Form};
use crate::request::to_the_end;
use crate::state::Gateway;
use crate::stored::Stored;

/// The route handler.
pub fn handle(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    Incoming { meta, body }: Incoming<ResponseRequest>,
) -> impl Future<Output = Result<Response, GatewayError>> + Send {
    to_the_end(serve(gateway, meta, headers, body))
}

async fn serve(
    gateway: Arc<Gateway>,
    meta: Meta,
    headers: HeaderMap,
    body: JsonBody<ResponseRequest>,
) -> Result<Response, GatewayError> {
    let JsonBody {
        bytes: body,
        request,
    } = body;
    check_model(&request.model)?;
    let tenant = Arc::clone(&meta.tenant.id);
    // a continuation goes where the response it continues is, and only for the
    // tenant that made it
    let held = match &request.previous_response_id {
        Some(id) => Some(
            Stored::held(&gateway, &tenant, id)
                .await?
                .ok_or_else(|| previous_not_found(id))?,
        ),
        None => None,
    };
    let encoding = Encoding::for_model(&request.model);
    // An input that is no conversation is refused by the provider, in its words;
    // until then it is counted as no prompt.
    let own_tokens = gateway.prompt_tokens(&body, || {
        request
            .as_chat()
            .map_or(0, |chat| count_chat_prompt(encoding, &chat) as u64)
    });
    // a continuation's prompt also holds the conversation it continues
    let prompt_tokens = own_tokens + held.as_ref().map_or(0, |h| h.tokens);
    let cap = request
        .max_output_tokens
        .filter(|c| *c > 0)
        .map_or(DEFAULT_MAX_OUTPUT, |c| c as u64);
    let worst_case = Usage {
        prompt_tokens,
        completion_tokens: cap,
        ..Usage::default()
    };
    // the id of a whole answer the check took, to note where it is stored
    let made = Mutex::new(None);
    let answer = ChatAnswer {
        form: Form::Response,
        stream: request.is_stream(),
        // a response's stream always carries its usage, and passes unchanged
        client_usage: true,
        encoding,
        prompt_tokens,
    };
    let generation = Generation {
        route: "responses",
        path: "/v1/responses",
        model: &request.model,
        worst_case,
        cache: Cache::None,
        answer,
        body,
        accept: &|body| {
            let response = checked::parse::<Checked>(body)?;
            let tokens = response.usage.as_ref().map_or(0, conversation_tokens);
            *made.lock().unwrap_or_else(|e| e.into_inner()) = Some((response.id, tokens));
            Some(Accepted {
                usage: response.usage.as_ref().map(billed_usage),
            })
        },
        usage_of: &|_, body| {
            let response = checked::parse::<Checked>(body)?;
            response.usage.as_ref().map(billed_usage)
        },
        pinned: held.map(|h| h.provider),
    };
    let response = generate(&gateway, meta, &headers, generation).await?;
    // a stream's id is noted as it passes (`chat_stream`)
    let made = made.lock().unwrap_or_else(|e| e.into_inner()).take();
    let provider = response
        .headers()
        .get(PROVIDER)
        .and_then(|v| v.to_str().ok());
    if let (true, Some((id, tokens)), Some(provider)) =
        (request.store != Some(false), made, provider)
    {
        gateway
            .stored
            .made(&gateway, &id, &tenant, provider, tokens);
    }
    Ok(response)
}

/// OpenAI's refusal of a `previous_response_id` it does not hold: the gateway's
/// for one it did not relay to the caller's tenant.
fn previous_not_found(id: &str) -> GatewayError {
    GatewayError::BadRequest {
        message: format!("Previous response with id '{id}' not found."),
        param: Some("previous_response_id".to_owned()),
        code: Some("previous_response_not_found"),
    }
}

/// The tokens of a response's conversation as a continuation resends it: its
/// input, its output, and the output's framing as a message.
pub(crate) fn conversation_tokens(u: &ResponseUsage) -> u64 {
    u64::from(u.input_tokens) + u64::from(u.output_tokens) + RESENT_TURN as u64
}

/// The usage as the ledger counts it, from a response's `usage`.
pub(crate) fn billed_usage(u: &ResponseUsage) -> Usage {
    Usage {
        prompt_tokens: u64::from(u.input_tokens),
        cached_tokens: u64::from(u.input_tokens_details.cached_tokens.min(u.input_tokens)),
        completion_tokens: u64::from(u.output_tokens),
        ..Usage::default()
    }
}

/// A response as the success check reads it ([`checked`]): an object named a
/// `response` with an id, a status and its output, and its usage (`null` is
/// allowed, then the gateway counts the output).
#[derive(Deserialize)]
#[expect(dead_code, reason = "fields read only to check their types")]
struct Checked {
    id: String,
    object: Text,
    status: Text,
    model: Text,
    output: Vec<serde::de::IgnoredAny>,
    #[serde(default)]
    usage: Option<ResponseUsage>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage_of(body: &str) -> Option<Option<Usage>> {
        let response = checked::parse::<Checked>(body.as_bytes())?;
        Some(response.usage.as_ref().map(billed_usage))
    }

    #[test]
    fn the_check_takes_a_response_and_its_usage_and_nothing_else() {
        let response = r#"{"id":"resp_1","object":"response","status":"incomplete","model":"gpt-4o","output":[{"type":"message"}],"usage":{"input_tokens":9,"input_tokens_details":{"cached_tokens":12},"output_tokens":16,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":25}}"#;
        let usage = usage_of(response).flatten().unwrap();
        // cached tokens never exceed the input they are part of
        assert_eq!(
            (
                usage.prompt_tokens,
                usage.cached_tokens,
                usage.completion_tokens
            ),
            (9, 9, 16)
        );
        let unbilled = r#"{"id":"r","object":"response","status":"completed","model":"m","output":[],"usage":null}"#;
        assert_eq!(usage_of(unbilled), Some(None));
        for refused in [
            "{}",
            "not json",
            r#"{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[]}"#,
            r#"{"id":"r","object":"response","status":"completed","model":"m","output":{}}"#,
            r#"{"id":"r","object":"response","status":"completed","model":"m","output":[],"usage":{"input_tokens":-1}}"#,
        ] {
            assert!(usage_of(refused).is_none(), "{refused}");
        }
    }
}
