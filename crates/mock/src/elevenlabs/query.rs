//! Query strings, parsed by hand so that every problem becomes a FastAPI-shaped 422
//! naming the parameter (axum's `Query` extractor answers in its own plain text).

use gatebench_wire::elevenlabs::OutputFormat;

use crate::error::ApiError;

/// Decoded `name=value` pairs, in order; the first occurrence of a name wins.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

/// Parses a raw query string (without `?`). Malformed escapes are kept literally and
/// invalid UTF-8 is replaced, so parsing never fails; validation names what is wrong.
pub fn parse(raw: Option<&str>) -> Query {
    let pairs = raw
        .unwrap_or("")
        .split('&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (name, value) = part.split_once('=').unwrap_or((part, ""));
            (decode(name), decode(value))
        })
        .collect();
    Query { pairs }
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

impl Query {
    /// The value of `name`, if given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// `output_format`, [`OutputFormat::DEFAULT`] when absent.
    pub fn output_format(&self) -> Result<OutputFormat, ApiError> {
        match self.get("output_format") {
            None | Some("") => Ok(OutputFormat::DEFAULT),
            Some(name) => OutputFormat::parse(name).ok_or_else(|| {
                let expected = OutputFormat::SUPPORTED
                    .iter()
                    .map(|f| format!("'{f}'"))
                    .collect::<Vec<_>>()
                    .join(", ");
                ApiError::validation(
                    &["query", "output_format"],
                    format!("Input should be one of {expected}; got '{name}'"),
                    "enum",
                )
            }),
        }
    }

    /// An integer parameter within `[min, max]`.
    pub fn integer(&self, name: &str, min: i64, max: i64) -> Result<Option<i64>, ApiError> {
        let Some(text) = self.get(name) else {
            return Ok(None);
        };
        let value: i64 = text.parse().map_err(|_| {
            ApiError::validation(
                &["query", name],
                "Input should be a valid integer, unable to parse string as an integer",
                "int_parsing",
            )
        })?;
        if value < min {
            return Err(ApiError::validation(
                &["query", name],
                format!("Input should be greater than or equal to {min}"),
                "greater_than_equal",
            ));
        }
        if value > max {
            return Err(ApiError::validation(
                &["query", name],
                format!("Input should be less than or equal to {max}"),
                "less_than_equal",
            ));
        }
        Ok(Some(value))
    }

    /// A boolean parameter (`true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`).
    pub fn boolean(&self, name: &str) -> Result<Option<bool>, ApiError> {
        let Some(text) = self.get(name) else {
            return Ok(None);
        };
        match text.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(Some(true)),
            "false" | "0" | "no" | "off" => Ok(Some(false)),
            _ => Err(ApiError::validation(
                &["query", name],
                "Input should be a valid boolean, unable to interpret input",
                "bool_parsing",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_decoded_and_the_first_wins() {
        let q = parse(Some("a=1&b=x%20y+z&a=2&flag&bad=%zz%4"));
        assert_eq!(q.get("a"), Some("1"));
        assert_eq!(q.get("b"), Some("x y z"));
        assert_eq!(q.get("flag"), Some(""));
        assert_eq!(q.get("bad"), Some("%zz%4"));
        assert_eq!(q.get("missing"), None);
        assert_eq!(parse(Some("x=%FF")).get("x"), Some("\u{FFFD}"));
    }

    #[test]
    fn typed_parameters_are_checked() {
        let q = parse(Some(
            "n=5&big=500&word=abc&yes=true&maybe=perhaps&output_format=wav",
        ));
        assert_eq!(q.integer("n", 0, 10).unwrap(), Some(5));
        assert!(q.integer("big", 0, 180).is_err());
        assert!(q.integer("word", 0, 10).is_err());
        assert_eq!(q.boolean("yes").unwrap(), Some(true));
        assert!(q.boolean("maybe").is_err());
        assert!(q.output_format().is_err());
        assert_eq!(parse(None).output_format().unwrap(), OutputFormat::DEFAULT);
    }
}
