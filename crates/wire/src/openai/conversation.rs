//! A Responses API request as the chat conversation it stands for: the
//! instructions as a system message, then each input item as a message. The mock
//! answers a response through its chat pipeline with it, and a gateway counts
//! the prompt it reserves for with it.

use serde_json::{Value, json};

use super::{
    ChatCompletionRequest, ChatMessage, FunctionCall, FunctionDefinition, InputItem,
    JsonSchemaFormat, MessageContent, ResponseFormat, ResponseInput, ResponseRequest, Role, Tool,
    ToolCall,
};

/// Why a request's input is not a conversation, in the API's words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputError {
    /// The parameter at fault (`input`, `input[2].role`).
    pub param: String,
    /// The API's message.
    pub message: String,
    /// The API's error code.
    pub code: &'static str,
}

impl InputError {
    fn missing(param: String) -> InputError {
        InputError {
            message: format!("Missing required parameter: '{param}'."),
            param,
            code: "missing_required_parameter",
        }
    }
}

/// Longest function name the API takes.
const MAX_FUNCTION_NAME: usize = 64;

/// A function tool's `name` (at `param`) as the API checks it: 1 to 64 of
/// letters, digits, `_` and `-`.
pub fn check_function_name(param: &str, name: &str) -> Result<(), InputError> {
    let invalid = |message: String| InputError {
        param: param.to_owned(),
        message,
        code: "invalid_value",
    };
    if name.len() > MAX_FUNCTION_NAME {
        return Err(invalid(format!(
            "Invalid '{param}': string too long. Expected a string with maximum length {MAX_FUNCTION_NAME}, but got a string with length {} instead.",
            name.len()
        )));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    if name.is_empty() || !name.chars().all(allowed) {
        return Err(invalid(format!(
            "Invalid '{param}': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'."
        )));
    }
    Ok(())
}

/// The function tools of a Responses request in chat's shape: `{"type":
/// "function", "name": ...}` here, `{"type": "function", "function": {"name":
/// ...}}` there. A function tool in chat's shape, without its `name`, is refused
/// as the API refuses it; tools of other types (built-in ones) are left out.
fn chat_tools(tools: &[Value]) -> Result<Vec<Tool>, InputError> {
    let mut functions = Vec::new();
    for (i, tool) in tools.iter().enumerate() {
        if tool.get("type").and_then(Value::as_str) != Some("function") {
            continue;
        }
        let Some(name) = tool.get("name").and_then(Value::as_str) else {
            return Err(InputError::missing(format!("tools[{i}].name")));
        };
        check_function_name(&format!("tools[{i}].name"), name)?;
        let function =
            serde_json::from_value::<FunctionDefinition>(tool.clone()).map_err(|e| InputError {
                param: format!("tools[{i}]"),
                message: format!(
                    "Invalid value for 'tools[{i}]': {}.",
                    crate::refusal::plain(&e.to_string())
                ),
                code: "invalid_type",
            })?;
        functions.push(Tool {
            kind: "function".to_owned(),
            function: Some(function),
        });
    }
    Ok(functions)
}

impl ResponseRequest {
    /// The request as a chat request: the conversation, the output cap, the
    /// sampling settings, the function tools and the text format.
    pub fn as_chat(&self) -> Result<ChatCompletionRequest, InputError> {
        let mut messages = Vec::new();
        if let Some(instructions) = &self.instructions {
            messages.push(ChatMessage::system(instructions.clone()));
        }
        match &self.input {
            ResponseInput::Text(text) => messages.push(ChatMessage::user(text.clone())),
            ResponseInput::Items(items) if items.is_empty() => {
                return Err(InputError {
                    param: "input".to_owned(),
                    message: "Invalid 'input': empty array. Expected an array with minimum length 1, but got an empty array instead.".to_owned(),
                    code: "empty_array",
                });
            }
            ResponseInput::Items(items) => {
                for (i, item) in items.iter().enumerate() {
                    let Some(message) = message(i, item)? else {
                        continue;
                    };
                    // calls made together are one assistant turn, as chat has them
                    match (messages.last_mut(), message.tool_calls) {
                        (Some(last), Some(calls))
                            if last.role == Role::Assistant && last.content.is_none() =>
                        {
                            last.tool_calls.get_or_insert_with(Vec::new).extend(calls);
                        }
                        (_, tool_calls) => messages.push(ChatMessage {
                            tool_calls,
                            ..message
                        }),
                    }
                }
            }
        }
        Ok(ChatCompletionRequest {
            model: self.model.clone(),
            messages,
            max_completion_tokens: self.max_output_tokens,
            temperature: self.temperature,
            top_p: self.top_p,
            response_format: response_format(self.text.as_ref()),
            tools: self.tools.as_deref().map(chat_tools).transpose()?,
            tool_choice: self.tool_choice.as_ref().map(chat_tool_choice),
            ignore_eos: self.ignore_eos,
            min_tokens: self.min_tokens,
            ..ChatCompletionRequest::default()
        })
    }
}

/// A Responses `tool_choice` in chat's shape: a named function is
/// `{"type": "function", "name": ...}` here, `{"type": "function", "function":
/// {"name": ...}}` there.
fn chat_tool_choice(choice: &Value) -> Value {
    match choice.get("name") {
        Some(name) if choice.get("type").and_then(Value::as_str) == Some("function") => {
            json!({"type": "function", "function": {"name": name}})
        }
        _ => choice.clone(),
    }
}

/// One input item as a chat message (`None` for items that add nothing to the
/// conversation, such as reasoning items).
fn message(i: usize, item: &InputItem) -> Result<Option<ChatMessage>, InputError> {
    match item.kind.as_deref() {
        None | Some("message") => {
            let role = match &item.role {
                Some(role @ (Role::User | Role::System | Role::Developer | Role::Assistant)) => {
                    role.clone()
                }
                Some(other) => {
                    return Err(InputError {
                        param: format!("input[{i}].role"),
                        message: format!(
                            "Invalid value: '{other}'. Supported values are: 'assistant', 'system', 'developer', and 'user'."
                        ),
                        code: "invalid_value",
                    });
                }
                None => return Err(InputError::missing(format!("input[{i}].role"))),
            };
            let Some(content) = &item.content else {
                return Err(InputError::missing(format!("input[{i}].content")));
            };
            Ok(Some(ChatMessage::new(role, content.text())))
        }
        Some("function_call") => Ok(Some(ChatMessage {
            role: Role::Assistant,
            content: None,
            tool_calls: Some(vec![ToolCall {
                id: item.call_id.clone().unwrap_or_default(),
                kind: "function".to_owned(),
                function: FunctionCall {
                    name: item.name.clone().unwrap_or_default(),
                    arguments: item.arguments.clone().unwrap_or_default(),
                },
            }]),
            ..ChatMessage::default()
        })),
        Some("function_call_output") => {
            let output = match &item.output {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => String::new(),
            };
            Ok(Some(ChatMessage {
                role: Role::Tool,
                content: Some(MessageContent::Text(output)),
                tool_call_id: Some(item.call_id.clone().unwrap_or_default()),
                ..ChatMessage::default()
            }))
        }
        // the API's other items (tool calls it ran itself, reasoning, references)
        // add no text a chat conversation carries
        Some(kind) if OTHER_ITEMS.contains(&kind) => Ok(None),
        Some(other) => Err(InputError {
            param: format!("input[{i}].type"),
            message: format!(
                "Invalid value: '{other}'. Supported values are: 'message', 'function_call', 'function_call_output', {}.",
                OTHER_ITEMS.map(|k| format!("'{k}'")).join(", ")
            ),
            code: "invalid_value",
        }),
    }
}

/// Input item types the Responses API takes besides messages and function calls
/// with their outputs (platform.openai.com/docs/api-reference/responses/create).
const OTHER_ITEMS: [&str; 20] = [
    "reasoning",
    "item_reference",
    "file_search_call",
    "web_search_call",
    "computer_call",
    "computer_call_output",
    "image_generation_call",
    "code_interpreter_call",
    "local_shell_call",
    "local_shell_call_output",
    "shell_call",
    "shell_call_output",
    "apply_patch_call",
    "apply_patch_call_output",
    "mcp_list_tools",
    "mcp_approval_request",
    "mcp_approval_response",
    "mcp_call",
    "custom_tool_call",
    "custom_tool_call_output",
];

/// `text.format` as a chat `response_format`.
fn response_format(text: Option<&Value>) -> Option<ResponseFormat> {
    let format = text?.get("format")?;
    match format.get("type")?.as_str()? {
        "json_object" => Some(ResponseFormat::JsonObject),
        "json_schema" => Some(ResponseFormat::JsonSchema {
            json_schema: JsonSchemaFormat {
                name: format
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("response")
                    .to_owned(),
                description: None,
                schema: format.get("schema").cloned(),
                strict: format.get("strict").and_then(Value::as_bool),
            },
        }),
        _ => None,
    }
}
