//! What strict structured outputs ask of a schema (`strict: true` on a
//! `json_schema` response format or on a function tool), checked as the API
//! checks it before it answers: the root is an object, and every object says
//! `additionalProperties: false` and lists each of its properties in `required`.
//! The API names the first object at fault by its path, as a Python tuple.

use gatebench_wire::openai::{ChatCompletionRequest, ResponseFormat};
use serde_json::Value;

use super::validate::invalid;
use crate::error::ApiError;

/// Refuses a strict response format or strict function tool whose schema strict
/// mode does not take, naming the parameter.
pub(super) fn check(request: &ChatCompletionRequest) -> Result<(), ApiError> {
    if let Some(ResponseFormat::JsonSchema { json_schema }) = &request.response_format
        && json_schema.strict == Some(true)
    {
        let what = format!("response_format '{}'", json_schema.name);
        let schema = json_schema.schema.as_ref().unwrap_or(&Value::Null);
        if let Some(message) = refusal(&what, schema) {
            return Err(invalid("response_format", message, None));
        }
    }
    for (i, tool) in request.tools.iter().flatten().enumerate() {
        let Some(function) = tool.function.as_ref().filter(|f| f.strict == Some(true)) else {
            continue;
        };
        let what = format!("function '{}'", function.name);
        let schema = function.parameters.as_ref().unwrap_or(&Value::Null);
        if let Some(message) = refusal(&what, schema) {
            let param = format!("tools[{i}].function.parameters");
            return Err(invalid(&param, message, None));
        }
    }
    Ok(())
}

/// Why `schema`, for `what` (`response_format 'Answer'`, `function 'lookup'`),
/// is no strict schema, in the API's words; `None` if it is one.
pub(super) fn refusal(what: &str, schema: &Value) -> Option<String> {
    let kind = schema.get("type").and_then(Value::as_str);
    if kind != Some("object") {
        let got = kind.map_or_else(|| "None".to_owned(), |k| format!("type: \"{k}\""));
        return Some(format!(
            "Invalid schema for {what}: schema must be a JSON Schema of 'type: \"object\"', got '{got}'."
        ));
    }
    let mut path = Vec::new();
    fault(schema, &mut path).map(|fault| format!("Invalid schema for {what}: {fault}"))
}

/// The first object below `schema` (at `path`) that strict mode refuses.
fn fault<'s>(schema: &'s Value, path: &mut Vec<&'s str>) -> Option<String> {
    let object = schema.as_object()?;
    let properties = object.get("properties").and_then(Value::as_object);
    let is_object =
        object.get("type").and_then(Value::as_str) == Some("object") || properties.is_some();
    if is_object {
        let context = context(path);
        if object.get("additionalProperties") != Some(&Value::Bool(false)) {
            return Some(format!(
                "In context={context}, 'additionalProperties' is required to be supplied and to be false."
            ));
        }
        let required: Vec<&str> = object
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if let Some(missing) = properties
            .into_iter()
            .flat_map(|p| p.keys())
            .find(|key| !required.contains(&key.as_str()))
        {
            return Some(format!(
                "In context={context}, 'required' is required to be supplied and to be an array including every key in properties. Missing '{missing}'."
            ));
        }
    }
    // what holds further schemas: by name, or in a list
    for key in ["properties", "$defs", "definitions"] {
        if let Some(named) = object.get(key).and_then(Value::as_object) {
            for (name, inner) in named {
                path.extend([key, name.as_str()]);
                let found = fault(inner, path);
                path.truncate(path.len() - 2);
                if found.is_some() {
                    return found;
                }
            }
        }
    }
    if let Some(items) = object.get("items") {
        path.push("items");
        let found = fault(items, path);
        path.pop();
        if found.is_some() {
            return found;
        }
    }
    for key in ["anyOf", "allOf"] {
        for inner in object
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            path.push(key);
            let found = fault(inner, path);
            path.pop();
            if found.is_some() {
                return found;
            }
        }
    }
    None
}

/// A path as the Python tuple the API prints: `()`, `('items',)`,
/// `('properties', 'address')`.
fn context(path: &[&str]) -> String {
    match path {
        [] => "()".to_owned(),
        [one] => format!("('{one}',)"),
        many => format!(
            "({})",
            many.iter()
                .map(|p| format!("'{p}'"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_strict_schema_is_closed_and_requires_every_property() {
        let closed = json!({
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "home": {"$ref": "#/$defs/Address"},
                "tags": {"type": "array", "items": {"type": "object", "properties": {"k": {"type": "string"}}, "required": ["k"], "additionalProperties": false}}
            },
            "required": ["city", "home", "tags"],
            "additionalProperties": false,
            "$defs": {"Address": {"type": "object", "properties": {"zip": {"anyOf": [{"type": "string"}, {"type": "null"}]}}, "required": ["zip"], "additionalProperties": false}}
        });
        assert_eq!(refusal("response_format 'R'", &closed), None);

        let open =
            json!({"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]});
        assert_eq!(
            refusal("response_format 'R'", &open).unwrap(),
            "Invalid schema for response_format 'R': In context=(), 'additionalProperties' is required to be supplied and to be false."
        );
        let partly_required = json!({"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}, "required": ["a"], "additionalProperties": false});
        assert_eq!(
            refusal("function 'f'", &partly_required).unwrap(),
            "Invalid schema for function 'f': In context=(), 'required' is required to be supplied and to be an array including every key in properties. Missing 'b'."
        );
        let mut nested = closed.clone();
        nested["$defs"]["Address"]["additionalProperties"] = json!(true);
        assert!(
            refusal("response_format 'R'", &nested)
                .unwrap()
                .contains("In context=('$defs', 'Address'), 'additionalProperties'")
        );
        let mut in_items = closed;
        in_items["properties"]["tags"]["items"]["required"] = json!([]);
        assert!(
            refusal("response_format 'R'", &in_items)
                .unwrap()
                .contains("In context=('properties', 'tags', 'items'), 'required'")
        );
        assert_eq!(
            refusal(
                "response_format 'R'",
                &json!({"type": "array", "items": {}})
            )
            .unwrap(),
            "Invalid schema for response_format 'R': schema must be a JSON Schema of 'type: \"object\"', got 'type: \"array\"'."
        );
    }
}
