//! Tool calls: whether a choice calls a function tool, which one, and its
//! arguments.
//!
//! `tool_choice` `required` or a named function always calls, `none` never does;
//! `auto` (the default when tools are offered) calls with the profile's
//! `tool_call_share`, except right after a tool result, when the model answers in
//! text as real models usually do. The decision and the arguments are drawn from
//! the seed and the request, so the same request always calls the same way. The
//! arguments are compact JSON that follows the function's `parameters` schema,
//! written by the same generator as `response_format: json_schema`, with free
//! strings taken from the prompt's words.

use gatebench_wire::openai::{
    ChatCompletionRequest, FinishReason, FunctionDefinition, Role, check_function_name,
};
use rand::RngExt as _;
use serde_json::{Map, Value};

use super::completion::schema::fit_length;
use super::completion::{self, Call, Format, Memo, Spec, Written};
use super::profile::TokenCount;
use super::validate::invalid;
use crate::error::ApiError;
use crate::rng::MockRng;
use gatebench_tokens::Encoding;

/// Length of the one long string argument (most are one sentence): arguments are
/// short, like a search query or a city name.
const ARGUMENT_LENGTH: TokenCount = TokenCount { median: 8, p99: 40 };

/// What `tool_choice` asks for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Choice<'a> {
    /// No tools offered, or `none`.
    Never,
    /// `auto`: sometimes.
    Auto,
    /// `required`: always, any function.
    Required,
    /// Always this function.
    Named(&'a str),
}

/// The function tools offered.
fn functions(request: &ChatCompletionRequest) -> Vec<&FunctionDefinition> {
    request
        .tools
        .iter()
        .flatten()
        .filter(|t| t.kind == "function")
        .filter_map(|t| t.function.as_ref())
        .collect()
}

/// Refuses a function tool without its `function` (the Responses API's shape,
/// `{"type": "function", "name": ...}`, sent to chat) or with a name the API
/// does not take.
fn check_tools(request: &ChatCompletionRequest) -> Result<(), ApiError> {
    for (i, tool) in request.tools.iter().flatten().enumerate() {
        if tool.kind != "function" {
            continue;
        }
        let Some(function) = &tool.function else {
            let param = format!("tools[{i}].function");
            return Err(invalid(
                &param,
                format!("Missing required parameter: '{param}'."),
                Some("missing_required_parameter"),
            ));
        };
        check_function_name(&format!("tools[{i}].function.name"), &function.name)
            .map_err(|e| invalid(&e.param, e.message, Some(e.code)))?;
    }
    Ok(())
}

/// Reads and checks `tools`, and `tool_choice` against them, in the API's words.
pub(super) fn choice(request: &ChatCompletionRequest) -> Result<Choice<'_>, ApiError> {
    check_tools(request)?;
    let offered = functions(request);
    let Some(value) = &request.tool_choice else {
        return Ok(if offered.is_empty() {
            Choice::Never
        } else {
            Choice::Auto
        });
    };
    if request.tools.as_ref().is_none_or(Vec::is_empty) {
        return Err(invalid(
            "tool_choice",
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
            None,
        ));
    }
    let choice = match value {
        Value::String(s) if s == "none" => Choice::Never,
        Value::String(s) if s == "auto" => Choice::Auto,
        Value::String(s) if s == "required" => Choice::Required,
        Value::Object(o) => {
            let name = o
                .get("function")
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str);
            match (o.get("type").and_then(Value::as_str), name) {
                (Some("function"), Some(name)) => Choice::Named(name),
                _ => {
                    return Err(invalid(
                        "tool_choice",
                        "Invalid value for 'tool_choice': expected {\"type\": \"function\", \"function\": {\"name\": ...}}.",
                        Some("invalid_value"),
                    ));
                }
            }
        }
        other => {
            return Err(invalid(
                "tool_choice",
                format!(
                    "Invalid value: {other}. Supported values are: 'none', 'auto', and 'required'."
                ),
                Some("invalid_value"),
            ));
        }
    };
    if let Choice::Named(name) = choice
        && !offered.iter().any(|f| f.name == name)
    {
        return Err(invalid(
            "tool_choice",
            format!("Invalid value for 'tool_choice': tool '{name}' is not in 'tools'."),
            Some("invalid_value"),
        ));
    }
    if choice != Choice::Never && offered.is_empty() {
        return Err(invalid(
            "tools",
            "Invalid 'tools': no function tool to call. Only tools of type 'function' can be called.",
            Some("invalid_value"),
        ));
    }
    Ok(choice)
}

/// The function a choice calls, if it calls one; `rng` is drawn only when tools
/// are offered.
pub(super) fn decide<'r>(
    request: &'r ChatCompletionRequest,
    choice: Choice<'_>,
    share: f64,
    rng: &mut MockRng,
) -> Option<&'r FunctionDefinition> {
    let offered = functions(request);
    let after_tool_result = request
        .messages
        .last()
        .is_some_and(|m| m.role == Role::Tool);
    match choice {
        Choice::Never => None,
        Choice::Named(name) => offered.into_iter().find(|f| f.name == name),
        Choice::Auto if after_tool_result => None,
        Choice::Auto if rng.random::<f64>() >= share => None,
        Choice::Auto | Choice::Required => {
            let i = rng.random_range(0..offered.len().max(1));
            offered.get(i).copied()
        }
    }
}

/// A call of `function`: arguments following its `parameters`, about `prompt`,
/// counted with `encoding`. A named call finishes with `stop`, others with
/// `tool_calls`, as the API reports them.
pub(super) fn write_call(
    function: &FunctionDefinition,
    named: bool,
    encoding: Encoding,
    prompt: &str,
    rng: &mut MockRng,
) -> Written {
    let schema = function.parameters.as_ref();
    let has_properties = schema
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object)
        .is_some_and(|p| !p.is_empty());
    let arguments = if has_properties {
        let spec = Spec {
            encoding,
            length: ARGUMENT_LENGTH,
            cap: None,
            floor: None,
            stop: &[],
            format: Format::JsonSchema(schema),
            prompt,
        };
        let pretty = completion::write(&spec, rng).text;
        let mut value =
            serde_json::from_str::<Value>(&pretty).unwrap_or_else(|_| Value::Object(Map::new()));
        let words: Vec<&str> = prompt
            .split_whitespace()
            .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
            .filter(|w| !w.is_empty())
            .collect();
        if let Some(schema) = schema {
            fit_arguments(&mut value, schema, &words, rng);
        }
        value.to_string()
    } else {
        "{}".to_owned()
    };
    Written {
        tokens: encoding.count(&arguments) as u32,
        text: arguments,
        finish: if named {
            FinishReason::Stop
        } else {
            FinishReason::ToolCalls
        },
        call: Some(Call {
            id: call_id(rng),
            name: function.name.clone(),
        }),
        pieces: Memo::default(),
        message: Memo::default(),
    }
}

/// Free strings become a few words of the prompt, as a model fills arguments from
/// what the user said (a city, a query), fitted to the schema's `minLength` and
/// `maxLength`; strings the schema constrains otherwise (`enum`, `const`,
/// `format`, a choice of schemas or a reference) keep the writer's value, which
/// follows them.
fn fit_arguments(value: &mut Value, schema: &Value, words: &[&str], rng: &mut MockRng) {
    match value {
        Value::String(text) => {
            let constrained = ["enum", "const", "format", "anyOf", "oneOf", "allOf", "$ref"];
            if constrained.iter().any(|key| schema.get(*key).is_some()) {
                return;
            }
            if !words.is_empty() {
                let n = 1 + rng.random_range(0..words.len().min(4));
                let start = rng.random_range(0..=words.len() - n);
                *text = words[start..start + n].join(" ");
            }
            fit_length(text, schema);
        }
        Value::Object(fields) => {
            for (name, field) in fields.iter_mut() {
                if let Some(property) = schema.get("properties").and_then(|p| p.get(name)) {
                    fit_arguments(field, property, words, rng);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item) = schema.get("items") {
                for element in items {
                    fit_arguments(element, item, words, rng);
                }
            }
        }
        _ => {}
    }
}

/// A tool call's id, as the API gives them: `call_` and 24 letters and digits.
pub(super) fn call_id(rng: &mut MockRng) -> String {
    format!("call_{}", alphanumeric(rng, 24))
}

fn alphanumeric(rng: &mut MockRng, n: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..n)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

#[cfg(test)]
mod tests {
    use gatebench_wire::openai::{ChatMessage, Tool};
    use rand::SeedableRng as _;
    use serde_json::json;

    use super::*;

    fn request(tool_choice: Option<Value>) -> ChatCompletionRequest {
        ChatCompletionRequest {
            tools: Some(vec![Tool {
                kind: "function".into(),
                function: Some(FunctionDefinition {
                    name: "get_weather".into(),
                    description: None,
                    parameters: Some(json!({
                        "type": "object",
                        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                        "required": ["city", "days"]
                    })),
                    strict: None,
                }),
            }]),
            tool_choice,
            ..ChatCompletionRequest::new("gpt-4o", vec![ChatMessage::user("Weather in Paris?")])
        }
    }

    #[test]
    fn auto_calls_about_the_share_of_requests_and_never_after_a_result() {
        let r = request(None);
        let choice = choice(&r).unwrap();
        assert_eq!(choice, Choice::Auto);
        let calls = (0..1000)
            .filter(|&seed| decide(&r, choice, 0.3, &mut MockRng::seed_from_u64(seed)).is_some())
            .count();
        assert!((230..370).contains(&calls), "{calls}");
        let mut answered = request(None);
        answered.messages.push(ChatMessage {
            role: Role::Tool,
            tool_call_id: Some("call_1".into()),
            ..ChatMessage::user("18 degrees")
        });
        assert!(decide(&answered, Choice::Auto, 1.0, &mut MockRng::seed_from_u64(1)).is_none());
        assert!(decide(&r, Choice::Never, 1.0, &mut MockRng::seed_from_u64(1)).is_none());
        assert!(decide(&r, Choice::Required, 0.0, &mut MockRng::seed_from_u64(1)).is_some());
    }

    #[test]
    fn tool_choice_is_checked_against_the_tools() {
        let named = json!({"type": "function", "function": {"name": "get_weather"}});
        assert_eq!(
            choice(&request(Some(named))).unwrap(),
            Choice::Named("get_weather")
        );
        for bad in [
            json!("sometimes"),
            json!({"type": "function", "function": {"name": "get_time"}}),
            json!({"type": "function"}),
            json!(3),
        ] {
            assert!(choice(&request(Some(bad.clone()))).is_err(), "{bad}");
        }
        let no_tools = ChatCompletionRequest {
            tools: None,
            ..request(Some(json!("auto")))
        };
        assert!(choice(&no_tools).is_err());
    }

    proptest::proptest! {
        #[test]
        fn arguments_always_follow_the_schema(seed: u64, prompt in "\\PC{0,60}") {
            let schema = json!({
                "type": "object",
                "properties": {
                    "query": {"type": "string", "maxLength": 30},
                    "code": {"type": "string", "minLength": 12, "maxLength": 12},
                    "page": {"type": "integer", "minimum": 200, "maximum": 300},
                    "score": {"type": "number", "minimum": -1.5, "maximum": 0.5},
                    "unit": {"type": "string", "enum": ["c", "f"]},
                    "limit": {"type": "integer"},
                    "ratio": {"type": "number"},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "filter": {
                        "type": "object",
                        "properties": {"exact": {"type": "boolean"}, "note": {"type": ["string", "null"]}},
                        "required": ["exact", "note"],
                        "additionalProperties": false
                    }
                },
                "required": ["query", "code", "page", "score", "unit", "limit", "ratio", "tags", "filter"],
                "additionalProperties": false
            });
            let function = FunctionDefinition {
                name: "search".into(),
                description: None,
                parameters: Some(schema.clone()),
                strict: Some(true),
            };
            let call = write_call(
                &function,
                false,
                Encoding::O200kBase,
                &prompt,
                &mut MockRng::seed_from_u64(seed),
            );
            let value: Value = serde_json::from_str(&call.text).unwrap();
            let validator = jsonschema::validator_for(&schema).unwrap();
            proptest::prop_assert!(validator.is_valid(&value), "{}", value);
        }
    }

    #[test]
    fn arguments_are_compact_json_of_the_schema() {
        let r = request(None);
        let function = functions(&r)[0];
        let call = write_call(
            function,
            false,
            Encoding::O200kBase,
            "Weather in Paris?",
            &mut MockRng::seed_from_u64(4),
        );
        let value: Value = serde_json::from_str(&call.text).unwrap();
        assert!(
            value["city"].is_string() && value["days"].is_u64(),
            "{value}"
        );
        assert!(!call.text.contains('\n'));
        assert_eq!(call.finish, FinishReason::ToolCalls);
        assert_eq!(call.tokens as usize, Encoding::O200kBase.count(&call.text));
        assert!(call.call.unwrap().id.starts_with("call_"));
    }
}
