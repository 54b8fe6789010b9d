//! A value that follows a JSON schema, as strict structured outputs
//! (`response_format: json_schema`, the Responses API's `text.format`, a
//! function's `parameters`) return: the keywords OpenAI's strict mode supports
//! are kept, so that an SDK's `parse()` (pydantic, zod) accepts the answer.
//!
//! Followed: `type` (one, or a list where the first that is not `null` is
//! written), `properties`, `items`, `enum`, `const`, `anyOf`/`oneOf` (one branch),
//! `allOf` of one schema, `$ref` to the schema's own `$defs` or `definitions`;
//! `minimum`, `maximum`, their exclusive forms and `multipleOf` of numbers;
//! `minItems` and `maxItems` of arrays; `minLength` and `maxLength` of strings,
//! and the `format`s strict mode lists (date-time, date, time, duration, email,
//! hostname, ipv4, ipv6, uuid, uri). `pattern` is not followed.

use serde_json::{Map, Value};

use super::Source;
use crate::openai::corpus::Sentence;

/// How deep a schema is followed freely: past it an array is written as short as
/// its schema allows, and a branch of `anyOf` that is `null` is taken, so that a
/// recursive schema ends.
const MAX_DEPTH: usize = 4;
/// Past this depth an object or array is written as `null`: a recursive schema
/// with no way to end would otherwise never be done.
const GIVE_UP_DEPTH: usize = 2 * MAX_DEPTH;
/// Most `$ref` (and one-schema `allOf`) followed in a row.
const MAX_HOPS: usize = 8;
/// Most values written for one answer: a schema whose objects refer to
/// themselves many times over would otherwise grow without bound. Past it
/// every value is `null`.
const MAX_VALUES: usize = 4096;
/// Most items of one array, whatever `minItems` asks.
const MAX_ITEMS: u64 = 64;
/// Most characters a string is padded to, whatever `minLength` asks.
const MAX_PADDED_CHARS: u64 = 16_384;

/// What one value is written from.
pub(super) struct Fill<'s, 'a, I: Iterator<Item = Sentence>> {
    /// The whole schema, which `$ref` points into.
    pub root: &'s Value,
    pub source: &'s mut Source<'a, I>,
    /// Tokens of the one long answer, taken by the first free string.
    pub budget: Option<usize>,
    /// Values written so far.
    pub written: usize,
}

impl<'s, I: Iterator<Item = Sentence>> Fill<'s, '_, I> {
    /// A value that follows `schema`, `depth` levels below the root.
    pub fn value(&mut self, schema: &Value, depth: usize) -> Value {
        if self.written >= MAX_VALUES || depth >= 2 * GIVE_UP_DEPTH {
            return Value::Null;
        }
        self.written += 1;
        let schema = self.resolved(schema);
        if let Some(value) = schema.get("const") {
            return value.clone();
        }
        if let Some(options) = schema.get("enum").and_then(Value::as_array)
            && !options.is_empty()
        {
            let i = self.source.number(options.len() as u64) as usize;
            return options[i].clone();
        }
        if let Some(branches) = ["anyOf", "oneOf"]
            .iter()
            .find_map(|key| schema.get(*key).and_then(Value::as_array))
            .filter(|b| !b.is_empty())
        {
            // a level deeper: a branch may refer back to where it is
            let branch = self.branch(branches, depth);
            return self.value(branch, depth + 1);
        }
        match kind(schema) {
            "object" | "array" if depth >= GIVE_UP_DEPTH => Value::Null,
            "object" => self.object(schema, depth),
            "array" => self.array(schema, depth),
            "integer" => Value::from(self.integer(schema)),
            "number" => Value::from(self.number(schema)),
            "boolean" => Value::from(self.source.number(2) == 1),
            "null" => Value::Null,
            _ => Value::from(self.string(schema)),
        }
    }

    /// `schema` with `$ref` followed and an `allOf` of one schema opened, a few
    /// steps at most (a reference to a reference).
    fn resolved<'v>(&self, mut schema: &'v Value) -> &'v Value
    where
        's: 'v,
    {
        for _ in 0..MAX_HOPS {
            if let Some(pointer) = schema.get("$ref").and_then(Value::as_str) {
                match pointer.strip_prefix('#').and_then(|p| self.root.pointer(p)) {
                    Some(target) => schema = target,
                    None => return schema,
                }
            } else if let Some([only]) = schema
                .get("allOf")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
            {
                schema = only;
            } else {
                break;
            }
        }
        schema
    }

    /// A branch of `anyOf`: one that is not `null`, unless the schema is deep
    /// enough (a recursive one) that `null` ends it.
    fn branch<'v>(&mut self, branches: &'v [Value], depth: usize) -> &'v Value {
        let is_null = |b: &Value| b.get("type").and_then(Value::as_str) == Some("null");
        let (nulls, others): (Vec<&Value>, Vec<&Value>) = branches.iter().partition(|b| is_null(b));
        match (nulls.first(), others.is_empty()) {
            (Some(null), true) => null,
            (Some(null), false) if depth >= MAX_DEPTH => null,
            _ => others[self.source.number(others.len() as u64) as usize],
        }
    }

    fn object(&mut self, schema: &Value, depth: usize) -> Value {
        let mut object = Map::new();
        match schema.get("properties").and_then(Value::as_object) {
            Some(properties) if !properties.is_empty() => {
                for (name, property) in properties {
                    object.insert(name.clone(), self.value(property, depth + 1));
                }
            }
            _ => {
                let answer = self.free_string();
                object.insert("answer".into(), Value::from(answer));
            }
        }
        Value::Object(object)
    }

    fn array(&mut self, schema: &Value, depth: usize) -> Value {
        let count = |key: &str| {
            schema
                .get(key)
                .and_then(Value::as_u64)
                .map(|n| n.min(MAX_ITEMS))
        };
        let most = count("maxItems");
        let mut least = count("minItems").unwrap_or(if depth >= MAX_DEPTH { 0 } else { 1 });
        if let Some(most) = most {
            least = least.min(most);
        }
        let most = most.unwrap_or(least.max(1) + 2);
        let n = if depth >= MAX_DEPTH {
            least
        } else {
            least + self.source.number(most - least + 1)
        };
        let items = schema.get("items").unwrap_or(&Value::Null);
        Value::Array((0..n).map(|_| self.value(items, depth + 1)).collect())
    }

    /// An integer within the schema's bounds (1 to 100 when it has none), a
    /// multiple of its `multipleOf`.
    fn integer(&mut self, schema: &Value) -> i64 {
        let bound = |key: &str| schema.get(key).and_then(Value::as_f64);
        let low = match (bound("minimum"), bound("exclusiveMinimum")) {
            (Some(m), Some(e)) => Some(m.ceil().max(e.floor() + 1.0)),
            (Some(m), None) => Some(m.ceil()),
            (None, Some(e)) => Some(e.floor() + 1.0),
            (None, None) => None,
        };
        let high = match (bound("maximum"), bound("exclusiveMaximum")) {
            (Some(m), Some(e)) => Some(m.floor().min(e.ceil() - 1.0)),
            (Some(m), None) => Some(m.floor()),
            (None, Some(e)) => Some(e.ceil() - 1.0),
            (None, None) => None,
        };
        let (low, high) = match (low, high) {
            (None, None) => (1.0, 100.0),
            (Some(low), None) => (low, low + 99.0),
            (None, Some(high)) => (high.min(100.0) - 99.0, high.min(100.0)),
            (Some(low), Some(high)) => (low, high.max(low)),
        };
        let step = bound("multipleOf")
            .filter(|m| *m >= 1.0 && m.fract() == 0.0)
            .unwrap_or(1.0);
        let (first, last) = ((low / step).ceil(), (high / step).floor());
        if first > last {
            return low as i64;
        }
        let steps = (last - first) as u64;
        ((first + self.source.number(steps.saturating_add(1)) as f64) * step) as i64
    }

    /// A number with two decimals within the schema's bounds (0 to 99.99 when it
    /// has none), or a multiple of its `multipleOf`.
    fn number(&mut self, schema: &Value) -> f64 {
        let bound = |key: &str| schema.get(key).and_then(Value::as_f64);
        let low = bound("minimum").or(bound("exclusiveMinimum"));
        let high = bound("maximum").or(bound("exclusiveMaximum"));
        let (low, high) = match (low, high) {
            (None, None) if bound("multipleOf").is_none() => {
                return self.source.number(10_000) as f64 / 100.0;
            }
            (None, None) => (0.0, 99.99),
            (Some(low), None) => (low, low + 99.99),
            (None, Some(high)) => (high - 99.99, high),
            (Some(low), Some(high)) => (low, high.max(low)),
        };
        let share = self.source.number(10_000) as f64 / 10_000.0;
        if let Some(step) = bound("multipleOf").filter(|m| *m > 0.0) {
            let (first, last) = ((low / step).ceil(), (high / step).floor());
            return (first + ((last - first).max(0.0) * share).round()) * step;
        }
        let x = ((low + (high - low) * share) * 100.0).round() / 100.0;
        // an exclusive bound is never met
        let inside = |x: f64| {
            bound("exclusiveMinimum").is_none_or(|e| x > e)
                && bound("exclusiveMaximum").is_none_or(|e| x < e)
        };
        if inside(x) { x } else { (low + high) / 2.0 }
    }

    /// A string: one in the schema's `format`, else prose, fitted to its lengths.
    fn string(&mut self, schema: &Value) -> String {
        let format = schema.get("format").and_then(Value::as_str);
        if let Some(text) = format.and_then(|f| self.formatted(f)) {
            return text;
        }
        let mut text = self.free_string();
        fit_length(&mut text, schema);
        text
    }

    /// The first free string gets the long answer, the others a sentence each.
    fn free_string(&mut self) -> String {
        match self.budget.take() {
            Some(target) => self.source.prose(target),
            None => self.source.sentence(),
        }
    }

    /// A string in one of the formats strict mode supports.
    fn formatted(&mut self, format: &str) -> Option<String> {
        let mut n = |below: u64| self.source.number(below);
        let text = match format {
            "date-time" => format!(
                "2025-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                1 + n(12),
                1 + n(28),
                n(24),
                n(60),
                n(60)
            ),
            "date" => format!("2025-{:02}-{:02}", 1 + n(12), 1 + n(28)),
            "time" => format!("{:02}:{:02}:{:02}Z", n(24), n(60), n(60)),
            "duration" => format!("P{}DT{}H", n(30), n(24)),
            "email" => format!("user{}@example.com", n(1000)),
            "hostname" => format!("host{}.example.com", n(1000)),
            "ipv4" => format!("192.0.2.{}", 1 + n(254)),
            "ipv6" => format!("2001:db8::{:x}", 1 + n(0xfffe)),
            "uuid" => format!(
                "{:08x}-{:04x}-4{:03x}-{:x}{:03x}-{:012x}",
                n(1 << 32),
                n(1 << 16),
                n(1 << 12),
                8 + n(4),
                n(1 << 12),
                n(1 << 48)
            ),
            "uri" => format!("https://example.com/item/{}", n(1000)),
            _ => return None,
        };
        Some(text)
    }
}

/// What a schema describes: its `type` (the first that is not `null` of a list),
/// an object if it has properties, a string otherwise.
fn kind(schema: &Value) -> &str {
    match schema.get("type") {
        Some(Value::String(s)) => s.as_str(),
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("null"),
        _ if schema.get("properties").is_some() => "object",
        _ => "string",
    }
}

/// Pads `text` (with itself, or `a`) to the schema's `minLength` and cuts it to
/// its `maxLength`, in characters.
pub(in crate::openai) fn fit_length(text: &mut String, schema: &Value) {
    let bound = |key: &str| schema.get(key).and_then(Value::as_u64);
    if let Some(min) = bound("minLength").map(|n| n.min(MAX_PADDED_CHARS)) {
        let unit = if text.is_empty() {
            "a".to_owned()
        } else {
            text.clone()
        };
        let (mut count, step) = (text.chars().count() as u64, unit.chars().count() as u64 + 1);
        while count < min {
            text.push(' ');
            text.push_str(&unit);
            count += step;
        }
    }
    if let Some(max) = bound("maxLength")
        && text.chars().count() as u64 > max
    {
        *text = text.chars().take(max as usize).collect();
    }
}
