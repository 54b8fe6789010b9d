//! Tool calls: whether a choice calls a function tool, which one, and its
//! arguments.
//!
//! `tool_choice` `required` or a named function always calls, `none` never does;
//! `auto` (the default when tools are offered) calls with the profile's
//! `tool_call_share`, except right after a tool result, when the model answers in
//! text as real models usually do. An answer that calls makes two or three calls
//! at once with the profile's `parallel_tool_call_share` (never with
//! `parallel_tool_calls: false` or a named function), as a model asked about two
//! cities calls the weather tool twice. The decision and the arguments are drawn
//! from the seed and the request, so the same request always calls the same way.
//! The arguments are compact JSON that follows the function's `parameters`
//! schema, written by the same generator as `response_format: json_schema`, with
//! free strings taken from the prompt's words.

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

/// Most calls one answer makes at once.
const MOST_PARALLEL_CALLS: usize = 3;

/// How often answers call: the profile's shares.
#[derive(Clone, Copy, Debug)]
pub(super) struct Shares {
    /// Of `auto` requests, those that call.
    pub call: f64,
    /// Of answers that call (not a named function), those that make several calls.
    pub parallel: f64,
}

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

/// The functions a choice calls, in order (none: it answers in text). `rng`
/// draws the first call, `parallel` whether and what more; neither is drawn
/// unless tools are offered.
pub(super) fn decide<'r>(
    request: &'r ChatCompletionRequest,
    choice: Choice<'_>,
    shares: Shares,
    rng: &mut MockRng,
    parallel: &mut MockRng,
) -> Vec<&'r FunctionDefinition> {
    let offered = functions(request);
    let after_tool_result = request
        .messages
        .last()
        .is_some_and(|m| m.role == Role::Tool);
    let any = |rng: &mut MockRng| {
        offered
            .get(rng.random_range(0..offered.len().max(1)))
            .copied()
    };
    match choice {
        Choice::Never => Vec::new(),
        Choice::Named(name) => offered
            .iter()
            .copied()
            .filter(|f| f.name == name)
            .take(1)
            .collect(),
        Choice::Auto if after_tool_result => Vec::new(),
        Choice::Auto if rng.random::<f64>() >= shares.call => Vec::new(),
        Choice::Auto | Choice::Required => {
            let mut calls: Vec<_> = any(rng).into_iter().collect();
            if request.parallel_tool_calls != Some(false)
                && parallel.random::<f64>() < shares.parallel
            {
                let more = parallel.random_range(1..MOST_PARALLEL_CALLS);
                calls.extend((0..more).filter_map(|_| any(parallel)));
            }
            calls
        }
    }
}

/// Calls of `functions`, one after another, about `prompt`, counted with
/// `encoding`: the answer's text is their arguments and its tokens theirs
/// together. A named call finishes with `stop`, others with `tool_calls`, as the
/// API reports them.
pub(super) fn write_calls(
    functions: &[&FunctionDefinition],
    named: bool,
    encoding: Encoding,
    prompt: &str,
    rng: &mut MockRng,
) -> Written {
    let mut calls = Vec::with_capacity(functions.len());
    let mut tokens = 0;
    for function in functions {
        let (call, counted) = write_call(function, encoding, prompt, rng);
        tokens += counted;
        calls.push(call);
    }
    Written {
        text: calls.iter().map(|c| c.arguments.as_str()).collect(),
        tokens,
        finish: if named {
            FinishReason::Stop
        } else {
            FinishReason::ToolCalls
        },
        calls,
        pieces: Memo::default(),
        message: Memo::default(),
    }
}

/// A call of `function`: arguments following its `parameters`, about `prompt`,
/// and their count with `encoding`.
fn write_call(
    function: &FunctionDefinition,
    encoding: Encoding,
    prompt: &str,
    rng: &mut MockRng,
) -> (Call, u32) {
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
    let tokens = encoding.count(&arguments) as u32;
    let call = Call {
        id: call_id(rng),
        name: function.name.clone(),
        arguments,
    };
    (call, tokens)
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
        let shares = |call, parallel| Shares { call, parallel };
        let decide = |r: &ChatCompletionRequest, choice, shares, seed| {
            let mut parallel = MockRng::seed_from_u64(seed ^ 0xff);
            decide(
                r,
                choice,
                shares,
                &mut MockRng::seed_from_u64(seed),
                &mut parallel,
            )
            .len()
        };
        let calls = (0..1000)
            .filter(|&seed| decide(&r, choice, shares(0.3, 0.0), seed) > 0)
            .count();
        assert!((230..370).contains(&calls), "{calls}");
        let mut answered = request(None);
        answered.messages.push(ChatMessage {
            role: Role::Tool,
            tool_call_id: Some("call_1".into()),
            ..ChatMessage::user("18 degrees")
        });
        assert_eq!(decide(&answered, Choice::Auto, shares(1.0, 1.0), 1), 0);
        assert_eq!(decide(&r, Choice::Never, shares(1.0, 1.0), 1), 0);
        assert_eq!(decide(&r, Choice::Required, shares(0.0, 0.0), 1), 1);
    }

    #[test]
    fn a_share_of_calling_answers_make_two_or_three_calls() {
        let r = request(None);
        let shares = Shares {
            call: 1.0,
            parallel: 0.25,
        };
        let counts: Vec<usize> = (0..1000)
            .map(|seed| {
                let mut parallel = MockRng::seed_from_u64(seed ^ 0xff);
                let mut rng = MockRng::seed_from_u64(seed);
                decide(&r, Choice::Auto, shares, &mut rng, &mut parallel).len()
            })
            .collect();
        let several = counts.iter().filter(|&&n| n > 1).count();
        assert!((190..310).contains(&several), "{several}");
        assert!(counts.iter().all(|n| (1..=MOST_PARALLEL_CALLS).contains(n)));
        assert!(counts.contains(&3));
        // never when the request says no, nor for a named function
        let single = ChatCompletionRequest {
            parallel_tool_calls: Some(false),
            ..request(None)
        };
        let all = Shares {
            call: 1.0,
            parallel: 1.0,
        };
        for seed in 0..50 {
            let mut parallel = MockRng::seed_from_u64(seed);
            let mut rng = MockRng::seed_from_u64(seed);
            assert_eq!(
                decide(&single, Choice::Auto, all, &mut rng, &mut parallel).len(),
                1
            );
            let named = decide(
                &r,
                Choice::Named("get_weather"),
                all,
                &mut rng,
                &mut parallel,
            );
            assert_eq!(named.len(), 1);
        }
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
            let (call, _) = write_call(
                &function,
                Encoding::O200kBase,
                &prompt,
                &mut MockRng::seed_from_u64(seed),
            );
            let value: Value = serde_json::from_str(&call.arguments).unwrap();
            let validator = jsonschema::validator_for(&schema).unwrap();
            proptest::prop_assert!(validator.is_valid(&value), "{}", value);
        }
    }

    #[test]
    fn arguments_are_compact_json_of_the_schema() {
        let r = request(None);
        let function = functions(&r)[0];
        let written = write_calls(
            &[function, function],
            false,
            Encoding::O200kBase,
            "Weather in Paris?",
            &mut MockRng::seed_from_u64(4),
        );
        assert_eq!(written.calls.len(), 2);
        for call in &written.calls {
            let value: Value = serde_json::from_str(&call.arguments).unwrap();
            assert!(
                value["city"].is_string() && value["days"].is_u64(),
                "{value}"
            );
            assert!(!call.arguments.contains('\n'));
            assert!(call.id.starts_with("call_"));
        }
        assert_ne!(written.calls[0].id, written.calls[1].id);
        assert_eq!(written.finish, FinishReason::ToolCalls);
        // the text is the arguments one after another, the tokens theirs together
        let arguments: Vec<&str> = written.calls.iter().map(|c| c.arguments.as_str()).collect();
        assert_eq!(written.text, arguments.concat());
        let counted: usize = arguments.iter().map(|a| Encoding::O200kBase.count(a)).sum();
        assert_eq!(written.tokens as usize, counted);
    }
}
