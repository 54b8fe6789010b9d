//! OpenAI's shapes: chat and text completions, their stream chunks and whole
//! streams, responses and their event streams, embeddings (floats or base64) and
//! the model list.

use serde_json::Value;

use super::{Wrong, array, clip, decode_base64, equals, filled, items, object, text, whole};

/// Token counts of a `usage` object at `path`: prompt, completion, total, and
/// `prompt_tokens_details.cached_tokens` (required when `details`).
pub fn token_usage(value: &Value, path: &str, details: bool) -> Result<[u64; 4], Wrong> {
    let field = |name: &str| whole(value, &format!("{path}.{name}"));
    let (prompt, completion, total) = (
        field("prompt_tokens")?,
        field("completion_tokens")?,
        field("total_tokens")?,
    );
    if prompt == 0 {
        return Err(format!("`{path}.prompt_tokens` is 0"));
    }
    if total != prompt + completion {
        return Err(format!(
            "`{path}.total_tokens` {total} ≠ prompt {prompt} + completion {completion}"
        ));
    }
    let cached = if details {
        field("prompt_tokens_details.cached_tokens")?
    } else {
        0
    };
    if cached > prompt {
        return Err(format!(
            "{path}: cached tokens {cached} > prompt tokens {prompt}"
        ));
    }
    Ok([prompt, completion, total, cached])
}

const FINISH_REASONS: [&str; 5] = [
    "stop",
    "length",
    "tool_calls",
    "content_filter",
    "function_call",
];

/// A non-streamed chat completion; a one-line description.
pub fn chat_completion(value: &Value) -> Result<String, Wrong> {
    filled(value, "id")?;
    equals(value, "object", "chat.completion")?;
    if whole(value, "created")? == 0 {
        return Err("`created` is 0".into());
    }
    let model = filled(value, "model")?;
    items(value, "choices")?;
    if whole(value, "choices.0.index")? != 0 {
        return Err("`choices.0.index` is not 0".into());
    }
    equals(value, "choices.0.message.role", "assistant")?;
    let content = filled(value, "choices.0.message.content")?;
    let finish = text(value, "choices.0.finish_reason")?;
    if !FINISH_REASONS.contains(&finish) {
        return Err(format!("`choices.0.finish_reason` is `{finish}`"));
    }
    let [p, c, t, cached] = token_usage(value, "usage", true)?;
    Ok(format!(
        "{model}, {} chars, finish {finish}, usage {p}+{c}={t} ({cached} cached)",
        content.chars().count()
    ))
}

/// A non-streamed legacy text completion; a one-line description.
pub fn text_completion(value: &Value) -> Result<String, Wrong> {
    filled(value, "id")?;
    equals(value, "object", "text_completion")?;
    whole(value, "created")?;
    let model = filled(value, "model")?;
    let choices = items(value, "choices")?;
    for i in 0..choices.len() {
        if whole(value, &format!("choices.{i}.index"))? != i as u64 {
            return Err(format!("`choices.{i}.index` is not {i}"));
        }
        text(value, &format!("choices.{i}.text"))?;
    }
    let finish = text(value, "choices.0.finish_reason")?;
    if !FINISH_REASONS.contains(&finish) {
        return Err(format!("`choices.0.finish_reason` is `{finish}`"));
    }
    let [p, c, t, _] = token_usage(value, "usage", false)?;
    Ok(format!(
        "{model}, {} choices, finish {finish}, usage {p}+{c}={t}",
        choices.len()
    ))
}

/// The usage of a response at `path`: input, output, total, cached.
fn response_usage(value: &Value, path: &str) -> Result<[u64; 4], Wrong> {
    let field = |name: &str| whole(value, &format!("{path}.{name}"));
    let (input, output, total) = (
        field("input_tokens")?,
        field("output_tokens")?,
        field("total_tokens")?,
    );
    let cached = field("input_tokens_details.cached_tokens")?;
    if input == 0 {
        return Err(format!("`{path}.input_tokens` is 0"));
    }
    if total != input + output || cached > input {
        return Err(format!(
            "`{path}`: input {input}, cached {cached}, output {output}, total {total}"
        ));
    }
    Ok([input, output, total, cached])
}

/// A response of the Responses API, ended (`completed`, or `incomplete` when its
/// cap cut it), at `path` (`""` for the whole value); its output text.
fn ended_response(value: &Value, path: &str) -> Result<(String, [u64; 4]), Wrong> {
    let at = |name: &str| {
        if path.is_empty() {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };
    let id = filled(value, &at("id"))?;
    if !id.starts_with("resp_") {
        return Err(format!("`{}` is `{}`, not resp_…", at("id"), clip(id, 40)));
    }
    equals(value, &at("object"), "response")?;
    let status = text(value, &at("status"))?;
    if !["completed", "incomplete"].contains(&status) {
        return Err(format!("`{}` is `{status}`", at("status")));
    }
    let output = items(value, &at("output"))?;
    let mut said = String::new();
    for (i, item) in output.iter().enumerate() {
        if item.get("type").and_then(Value::as_str) != Some("message") {
            continue;
        }
        for (j, part) in array(item, "content")?.iter().enumerate() {
            if part.get("type").and_then(Value::as_str) == Some("output_text") {
                said.push_str(
                    text(part, "text").map_err(|e| format!("output.{i}.content.{j}: {e}"))?,
                );
            }
        }
    }
    Ok((said, response_usage(value, &at("usage"))?))
}

/// A non-streamed response; a one-line description.
pub fn response(value: &Value) -> Result<String, Wrong> {
    let (said, [i, o, t, cached]) = ended_response(value, "")?;
    let status = text(value, "status")?;
    Ok(format!(
        "{}, {status}, {} chars, usage {i}+{o}={t} ({cached} cached)",
        filled(value, "model")?,
        said.chars().count()
    ))
}

/// A Responses event stream: `response.created` first, sequence numbers counting
/// from 0, and a last event `response.completed` (or `response.incomplete`) whose
/// response holds the text the deltas sent, with its usage. No `[DONE]`.
pub fn response_stream(body: &str) -> Result<String, Wrong> {
    let events: Vec<Value> = payloads(body)?
        .iter()
        .enumerate()
        .map(|(i, data)| {
            serde_json::from_str(data)
                .map_err(|e| format!("event {i} is not JSON ({e}): `{}`", clip(data, 60)))
        })
        .collect::<Result<_, _>>()?;
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e.get("type").and_then(Value::as_str).unwrap_or(""))
        .collect();
    if kinds.first() != Some(&"response.created") {
        return Err(format!(
            "the first event is `{:?}`, not response.created",
            kinds.first()
        ));
    }
    for (i, event) in events.iter().enumerate() {
        if whole(event, "sequence_number").map_err(|e| format!("event {i}: {e}"))? != i as u64 {
            return Err(format!(
                "event {i} has sequence_number {}",
                event["sequence_number"]
            ));
        }
    }
    let last = events.last().ok_or("no events")?;
    let kind = kinds[kinds.len() - 1];
    if !["response.completed", "response.incomplete"].contains(&kind) {
        return Err(format!("the last event is `{kind}`"));
    }
    let (said, [i, o, t, _]) = ended_response(last, "response")?;
    let deltas: String = events
        .iter()
        .filter(|e| e.get("type").and_then(Value::as_str) == Some("response.output_text.delta"))
        .filter_map(|e| e.get("delta").and_then(Value::as_str))
        .collect();
    if deltas != said {
        return Err(format!(
            "the deltas ({} chars) are not the final text ({} chars)",
            deltas.chars().count(),
            said.chars().count()
        ));
    }
    if said.trim().is_empty() {
        return Err("no text in the stream".into());
    }
    Ok(format!(
        "{} events, {} chars, {kind}, usage {i}+{o}={t}",
        events.len(),
        said.chars().count()
    ))
}

/// What one chunk of a chat stream carried.
#[derive(Debug, Default)]
pub struct Chunk {
    /// `id`.
    pub id: String,
    /// Content deltas, concatenated.
    pub content: String,
    /// Choices in the chunk.
    pub choices: usize,
    /// A finish reason, if the chunk has one.
    pub finish: Option<String>,
    /// Token counts, when the chunk carries usage.
    pub usage: Option<[u64; 4]>,
}

/// Which completions API a stream speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Completions {
    /// `chat.completion.chunk`s with `choices[].delta.content`.
    Chat,
    /// Legacy `text_completion` chunks with `choices[].text`.
    Text,
}

impl Completions {
    fn chunk_object(self) -> &'static str {
        match self {
            Completions::Chat => "chat.completion.chunk",
            Completions::Text => "text_completion",
        }
    }
}

/// One chunk of a completions stream.
pub fn chunk(value: &Value, api: Completions) -> Result<Chunk, Wrong> {
    let id = filled(value, "id")?.to_owned();
    equals(value, "object", api.chunk_object())?;
    whole(value, "created")?;
    filled(value, "model")?;
    let choices = array(value, "choices")?;
    let mut chunk = Chunk {
        id,
        choices: choices.len(),
        ..Chunk::default()
    };
    for (i, choice) in choices.iter().enumerate() {
        let err = |e: Wrong| format!("choices.{i}: {e}");
        whole(choice, "index").map_err(err)?;
        let (content, path) = match api {
            Completions::Chat => {
                object(choice, "delta").map_err(err)?;
                (
                    choice.get("delta").and_then(|d| d.get("content")),
                    "delta.content",
                )
            }
            Completions::Text => (Some(choice.get("text").unwrap_or(&Value::Null)), "text"),
        };
        match content {
            None | Some(Value::Null) if api == Completions::Chat => {}
            Some(Value::String(s)) => chunk.content.push_str(s),
            _ => {
                let kind = if api == Completions::Chat {
                    "neither a string nor null"
                } else {
                    "not a string"
                };
                return Err(format!("`choices.{i}.{path}` is {kind}"));
            }
        }
        match choice.get("finish_reason") {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if FINISH_REASONS.contains(&s.as_str()) => {
                chunk.finish = Some(s.clone())
            }
            Some(other) => return Err(format!("`choices.{i}.finish_reason` is {other}")),
        }
    }
    chunk.usage = match value.get("usage") {
        None | Some(Value::Null) => None,
        Some(_) => Some(token_usage(value, "usage", false)?),
    };
    Ok(chunk)
}

/// The `data:` payloads of a `text/event-stream` body, refusing lines that are no
/// part of an event.
fn payloads(body: &str) -> Result<Vec<&str>, Wrong> {
    let mut payloads = Vec::new();
    for line in body.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(data) = line.strip_prefix("data:") {
            payloads.push(data.trim_start());
        } else if !(line.is_empty()
            || line.starts_with(':')
            || line.starts_with("event:")
            || line.starts_with("id:"))
        {
            return Err(format!(
                "not a server-sent event line: `{}`",
                clip(line, 60)
            ));
        }
    }
    Ok(payloads)
}

/// A chat completion stream (the body of a `text/event-stream` answer): see
/// [`completion_stream`].
pub fn chat_stream(body: &str, include_usage: bool) -> Result<String, Wrong> {
    completion_stream(body, Completions::Chat, include_usage)
}

/// A completions stream: chunks of one id, exactly one finish reason, `[DONE]`
/// last; with `include_usage` a final chunk with no choices and the usage,
/// without it no usage at all.
pub fn completion_stream(
    body: &str,
    api: Completions,
    include_usage: bool,
) -> Result<String, Wrong> {
    let payloads = payloads(body)?;
    match payloads.last() {
        Some(&"[DONE]") => {}
        Some(last) => {
            return Err(format!(
                "the stream does not end with [DONE] (last: `{}`)",
                clip(last, 60)
            ));
        }
        None => return Err("no data events".into()),
    }
    let chunks: Vec<Chunk> = payloads[..payloads.len() - 1]
        .iter()
        .enumerate()
        .map(|(i, data)| {
            let value: Value = serde_json::from_str(data)
                .map_err(|e| format!("event {i} is not JSON ({e}): `{}`", clip(data, 60)))?;
            chunk(&value, api).map_err(|e| format!("event {i}: {e}"))
        })
        .collect::<Result<_, _>>()?;
    let first = chunks.first().ok_or("no chunk before [DONE]")?;
    if let Some(other) = chunks.iter().find(|c| c.id != first.id) {
        return Err(format!(
            "chunks of different ids: `{}` and `{}`",
            first.id, other.id
        ));
    }
    let finishes = chunks.iter().filter(|c| c.finish.is_some()).count();
    if finishes != 1 {
        return Err(format!("{finishes} chunks carry a finish reason, not 1"));
    }
    let content: String = chunks.iter().map(|c| c.content.as_str()).collect();
    if content.trim().is_empty() {
        return Err("no content in the stream".into());
    }
    let with_usage: Vec<usize> = chunks
        .iter()
        .enumerate()
        .filter(|(_, c)| c.usage.is_some())
        .map(|(i, _)| i)
        .collect();
    let usage = if include_usage {
        let last = chunks.len() - 1;
        if with_usage != [last] {
            return Err(format!(
                "usage expected in the last chunk only, found in chunks {with_usage:?} of {}",
                chunks.len()
            ));
        }
        if chunks[last].choices != 0 {
            return Err(format!(
                "the usage chunk has {} choices, not 0",
                chunks[last].choices
            ));
        }
        chunks[last]
            .usage
            .map(|[p, c, t, _]| format!(", usage {p}+{c}={t}"))
            .unwrap_or_default()
    } else {
        if !with_usage.is_empty() {
            return Err(format!(
                "usage sent without include_usage (chunks {with_usage:?})"
            ));
        }
        if let Some(i) = chunks.iter().position(|c| c.choices == 0) {
            return Err(format!("chunk {i} has no choices without include_usage"));
        }
        String::new()
    };
    Ok(format!(
        "{} chunks, {} chars, [DONE]{usage}",
        chunks.len(),
        content.chars().count()
    ))
}

/// An embeddings list of `dims`-long vectors, as floats or base64 of little-endian f32.
pub fn embeddings(value: &Value, dims: usize, base64: bool) -> Result<String, Wrong> {
    equals(value, "object", "list")?;
    let data = items(value, "data")?;
    for (i, item) in data.iter().enumerate() {
        equals(item, "object", "embedding").map_err(|e| format!("data.{i}: {e}"))?;
        if whole(item, "index").map_err(|e| format!("data.{i}: {e}"))? != i as u64 {
            return Err(format!("`data.{i}.index` is not {i}"));
        }
        let path = format!("data.{i}.embedding");
        let len = if base64 {
            let bytes = decode_base64(text(value, &path)?).map_err(|e| format!("`{path}`: {e}"))?;
            if !bytes.len().is_multiple_of(4) {
                return Err(format!(
                    "`{path}` decodes to {} bytes, not whole f32s",
                    bytes.len()
                ));
            }
            bytes.len() / 4
        } else {
            let floats = array(value, &path)?;
            if let Some(j) = floats
                .iter()
                .position(|f| !f.as_f64().is_some_and(f64::is_finite))
            {
                return Err(format!("`{path}.{j}` is not a finite number"));
            }
            floats.len()
        };
        if len != dims {
            return Err(format!("`{path}` has {len} dimensions, not {dims}"));
        }
    }
    filled(value, "model")?;
    let prompt = whole(value, "usage.prompt_tokens")?;
    let total = whole(value, "usage.total_tokens")?;
    if prompt == 0 || total != prompt {
        return Err(format!(
            "usage: prompt_tokens {prompt}, total_tokens {total}"
        ));
    }
    let form = if base64 { "base64" } else { "floats" };
    Ok(format!("{} × {dims} {form}, {prompt} tokens", data.len()))
}

/// `GET /v1/models/{model}`: the model object of `id`.
pub fn model(value: &Value, id: &str) -> Result<String, Wrong> {
    equals(value, "id", id)?;
    let owner = model_fields(value)?;
    Ok(format!("{id}, owned by {owner}"))
}

/// A model object's fields but its id; its owner.
fn model_fields(model: &Value) -> Result<&str, Wrong> {
    equals(model, "object", "model")?;
    whole(model, "created")?;
    filled(model, "owned_by")
}

/// `GET /v1/models`: a list of unique model ids including `required`.
pub fn model_list(value: &Value, required: &[&str]) -> Result<String, Wrong> {
    equals(value, "object", "list")?;
    let data = items(value, "data")?;
    let mut ids = std::collections::BTreeSet::new();
    for (i, model) in data.iter().enumerate() {
        let err = |e: Wrong| format!("data.{i}: {e}");
        let id = filled(model, "id").map_err(err)?;
        model_fields(model).map_err(err)?;
        if !ids.insert(id) {
            return Err(format!("model `{id}` is listed twice"));
        }
    }
    if let Some(missing) = required.iter().find(|m| !ids.contains(**m)) {
        return Err(format!("`{missing}` is not listed"));
    }
    Ok(format!("{} models", ids.len()))
}
