//! Validators of the response shapes the front routes promise, and the accessors
//! they are built from. Each validator judges structure and the invariants that
//! hold for any content (totals equal their parts, times in order, lengths that
//! match), never the generated text itself, and says what is wrong with the path
//! of the field at fault.
//!
//! By provider: [`openai`] (chat completions, chunks, embeddings, models),
//! [`speech`] (ElevenLabs' audio and alignments), [`services`] (personality and
//! WebVTT), [`account`] (the gateway's usage and ledger); here, what they share:
//! error bodies, money, `server-timing`, metrics text and base64.

mod account;
mod openai;
mod services;
mod speech;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::str::FromStr as _;

use rust_decimal::Decimal;
use serde_json::Value;

pub use account::{LedgerPage, Totals, ledger_page, usage};
pub use openai::{
    Completions, chat_completion, chat_stream, completion_stream, embeddings, model, model_list,
    response, response_stream, text_completion,
};
pub use services::{personality, webvtt_document, webvtt_json};
pub use speech::{audio_with_timestamps, mp3, timestamp_lines};

/// What a validator found wrong.
pub type Wrong = String;

/// The value at a dotted path (`choices.0.message.content`).
pub fn at<'a>(value: &'a Value, path: &str) -> Result<&'a Value, Wrong> {
    let mut here = value;
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let next = match here {
            Value::Array(items) => part.parse::<usize>().ok().and_then(|i| items.get(i)),
            Value::Object(map) => map.get(part),
            _ => None,
        };
        here = next.ok_or_else(|| format!("`{path}` is missing"))?;
    }
    Ok(here)
}

/// A string at `path`.
pub fn text<'a>(value: &'a Value, path: &str) -> Result<&'a str, Wrong> {
    at(value, path)?
        .as_str()
        .ok_or_else(|| format!("`{path}` is not a string"))
}

/// A non-empty string at `path`.
pub fn filled<'a>(value: &'a Value, path: &str) -> Result<&'a str, Wrong> {
    let s = text(value, path)?;
    if s.trim().is_empty() {
        Err(format!("`{path}` is empty"))
    } else {
        Ok(s)
    }
}

/// A string or `null` at `path` (the key must be there).
pub fn text_or_null<'a>(value: &'a Value, path: &str) -> Result<Option<&'a str>, Wrong> {
    match at(value, path)? {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        _ => Err(format!("`{path}` is neither a string nor null")),
    }
}

/// A whole number ≥ 0 at `path`.
pub fn whole(value: &Value, path: &str) -> Result<u64, Wrong> {
    at(value, path)?
        .as_u64()
        .ok_or_else(|| format!("`{path}` is not a whole number ≥ 0"))
}

/// A finite number at `path`.
pub fn number(value: &Value, path: &str) -> Result<f64, Wrong> {
    at(value, path)?
        .as_f64()
        .filter(|f| f.is_finite())
        .ok_or_else(|| format!("`{path}` is not a finite number"))
}

/// An array at `path`.
pub fn array<'a>(value: &'a Value, path: &str) -> Result<&'a Vec<Value>, Wrong> {
    at(value, path)?
        .as_array()
        .ok_or_else(|| format!("`{path}` is not an array"))
}

/// A non-empty array at `path`.
pub fn items<'a>(value: &'a Value, path: &str) -> Result<&'a Vec<Value>, Wrong> {
    let list = array(value, path)?;
    if list.is_empty() {
        Err(format!("`{path}` is empty"))
    } else {
        Ok(list)
    }
}

/// An object at `path`.
pub fn object<'a>(
    value: &'a Value,
    path: &str,
) -> Result<&'a serde_json::Map<String, Value>, Wrong> {
    at(value, path)?
        .as_object()
        .ok_or_else(|| format!("`{path}` is not an object"))
}

/// `value` at `path` equals `expected`.
pub fn equals(value: &Value, path: &str, expected: &str) -> Result<(), Wrong> {
    let found = text(value, path)?;
    if found == expected {
        Ok(())
    } else {
        Err(format!("`{path}` is `{found}`, not `{expected}`"))
    }
}

/// An exact decimal as money travels: digits with an optional sign and fraction,
/// never a float's exponent.
pub fn decimal(s: &str) -> Result<Decimal, Wrong> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, "0"));
    let all_digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if !(all_digits(whole) && all_digits(fraction)) {
        return Err(format!("`{s}` is not a decimal number"));
    }
    Decimal::from_str(s).map_err(|e| format!("`{s}` is not a decimal: {e}"))
}

/// A decimal string at `path`.
pub fn money(value: &Value, path: &str) -> Result<Decimal, Wrong> {
    decimal(text(value, path)?).map_err(|e| format!("`{path}`: {e}"))
}

/// What an OpenAI error body says.
#[derive(Debug, PartialEq)]
pub struct ErrorInfo {
    /// `error.type`.
    pub kind: String,
    /// `error.param`.
    pub param: Option<String>,
    /// `error.code`.
    pub code: Option<String>,
}

/// `{"error": {"message", "type", "param", "code"}}`, `param` and `code` a string or null.
pub fn openai_error(value: &Value) -> Result<ErrorInfo, Wrong> {
    object(value, "error")?;
    filled(value, "error.message")?;
    Ok(ErrorInfo {
        kind: filled(value, "error.type")?.to_owned(),
        param: text_or_null(value, "error.param")?.map(str::to_owned),
        code: text_or_null(value, "error.code")?.map(str::to_owned),
    })
}

/// FastAPI's validation error: `{"detail": [{"loc", "msg", "type"}, ...]}`; the
/// locations, dotted.
pub fn validation_error(value: &Value) -> Result<Vec<String>, Wrong> {
    let detail = items(value, "detail")?;
    let mut locs = Vec::new();
    for (i, issue) in detail.iter().enumerate() {
        let loc = items(issue, "loc").map_err(|e| format!("detail.{i}: {e}"))?;
        filled(issue, "msg").map_err(|e| format!("detail.{i}: {e}"))?;
        filled(issue, "type").map_err(|e| format!("detail.{i}: {e}"))?;
        let parts: Vec<String> = loc
            .iter()
            .map(|p| match p {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        locs.push(parts.join("."));
    }
    Ok(locs)
}

/// ElevenLabs' other errors: `{"detail": {"status", "message"}}`; the status.
pub fn status_error(value: &Value) -> Result<String, Wrong> {
    filled(value, "detail.message")?;
    Ok(filled(value, "detail.status")?.to_owned())
}

/// `server-timing` with a numeric `dur` for each of `required`; the durations by name.
pub fn server_timing(header: &str, required: &[&str]) -> Result<BTreeMap<String, f64>, Wrong> {
    let mut found = BTreeMap::new();
    for metric in header.split(',') {
        let mut params = metric.split(';').map(str::trim);
        let name = params.next().unwrap_or_default();
        for param in params {
            if let Some(dur) = param.strip_prefix("dur=") {
                let ms = dur
                    .parse::<f64>()
                    .ok()
                    .filter(|d| d.is_finite() && *d >= 0.0);
                let ms = ms.ok_or_else(|| format!("server-timing `{name}` has dur `{dur}`"))?;
                found.insert(name.to_owned(), ms);
            }
        }
    }
    if let Some(missing) = required.iter().find(|r| !found.contains_key(**r)) {
        return Err(format!("server-timing `{header}` has no `{missing};dur=`"));
    }
    Ok(found)
}

/// Prometheus or OpenMetrics text with at least one sample of `metric`; how many.
pub fn prometheus(body: &str, metric: &str) -> Result<usize, Wrong> {
    let mut samples = 0;
    for line in body
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (series, value) = line
            .rsplit_once(' ')
            .ok_or_else(|| format!("not a sample: `{}`", clip(line, 60)))?;
        let name = series.split('{').next().unwrap_or_default();
        let parsed = value.parse::<f64>().is_ok() || ["+Inf", "-Inf", "NaN"].contains(&value);
        if !parsed || name.is_empty() {
            return Err(format!("not a sample: `{}`", clip(line, 60)));
        }
        samples += usize::from(name == metric);
    }
    if samples == 0 {
        return Err(format!("no `{metric}` sample"));
    }
    Ok(samples)
}

/// Standard base64 (with padding) decoded.
pub fn decode_base64(s: &str) -> Result<Vec<u8>, Wrong> {
    fn sextet(b: u8) -> Option<u8> {
        match b {
            b'A'..=b'Z' => Some(b - b'A'),
            b'a'..=b'z' => Some(b - b'a' + 26),
            b'0'..=b'9' => Some(b - b'0' + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let bytes = s.as_bytes();
    if !bytes.len().is_multiple_of(4) {
        return Err(format!(
            "base64 of length {} (not a multiple of 4)",
            bytes.len()
        ));
    }
    let padding = bytes.iter().rev().take_while(|b| **b == b'=').count();
    if padding > 2 {
        return Err("too much base64 padding".into());
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    let mut acc = 0u32;
    for (i, b) in bytes[..bytes.len() - padding].iter().enumerate() {
        let v = sextet(*b).ok_or_else(|| format!("`{}` at {i} is not base64", *b as char))?;
        acc = (acc << 6) | u32::from(v);
        if i % 4 == 3 {
            out.extend_from_slice(&acc.to_be_bytes()[1..]);
            acc = 0;
        }
    }
    match padding {
        1 => out.extend_from_slice(&(acc << 6).to_be_bytes()[1..3]),
        2 => out.push((acc >> 4) as u8),
        _ => {}
    }
    Ok(out)
}

/// At most `n` characters of `s`, with `…` when cut.
pub fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}
