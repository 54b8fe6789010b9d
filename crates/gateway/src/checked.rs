//! What a success check reads of a provider's 200: every field a client relies on,
//! checked for the type the full wire type would parse it into, with nothing
//! copied out of it (the body goes on to the client as it came). Each route's
//! check is held to the full parse by a property test beside it.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use serde_json::value::RawValue;

/// The body as `T`, `None` if it is not one. The body's UTF-8 is checked once as
/// a whole, which also covers the values a check skips unread.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Option<T> {
    serde_json::from_str(std::str::from_utf8(body).ok()?).ok()
}

/// A JSON string, checked (escapes included) and dropped.
pub struct Text;

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Text, D::Error> {
        struct Visit;
        impl Visitor<'_> for Visit {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Text, E> {
                Ok(Text)
            }
        }
        deserializer.deserialize_str(Visit)
    }
}

/// An array of numbers as a `Vec<f32>` or `Vec<f64>` takes it. The parser checks
/// the value is JSON without working out its numbers (working them out took most
/// of an embeddings call's time), and a scan of its text checks they are numbers
/// in `f64`'s range, as the full parse checks them.
pub struct Numbers;

impl<'de> Deserialize<'de> for Numbers {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Numbers, D::Error> {
        let raw = <&'de RawValue>::deserialize(deserializer)?;
        if numbers(raw.get()) {
            Ok(Numbers)
        } else {
            Err(de::Error::custom("expected an array of numbers"))
        }
    }
}

/// An embedding as [`gatebench_wire::openai::EmbeddingVector`] takes it: an
/// array of numbers (checked as [`Numbers`] are), or a string (base64).
pub struct Vector;

impl<'de> Deserialize<'de> for Vector {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Vector, D::Error> {
        let raw = <&'de RawValue>::deserialize(deserializer)?;
        let text = raw.get();
        if numbers(text) || text.starts_with('"') {
            Ok(Vector)
        } else {
            Err(de::Error::custom(
                "expected an array of numbers or a base64 string",
            ))
        }
    }
}

/// Whether a JSON value's text is an array of numbers that `f64` holds.
fn numbers(text: &str) -> bool {
    text.strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .is_some_and(numbers_in_range)
}

/// Whether the elements of a JSON array, `items` being the text between its
/// brackets, are all numbers that `f64` holds. The array is valid JSON, so its
/// elements are numbers when it has none of the characters a string, an object,
/// an array or a literal needs. A number without an exponent and shorter than
/// `f64::MAX` is written is always held; any other is parsed.
fn numbers_in_range(items: &str) -> bool {
    let in_range = |number: &str| number.trim().parse::<f64>().is_ok_and(f64::is_finite);
    let mut start = 0;
    let mut parse = false;
    for (i, byte) in items.bytes().enumerate() {
        match byte {
            b'0'..=b'9' | b'-' | b'.' | b' ' | b'\n' | b'\r' | b'\t' => {}
            b'e' | b'E' | b'+' => parse = true,
            b',' => {
                if (parse || i - start >= 300) && !in_range(&items[start..i]) {
                    return false;
                }
                (start, parse) = (i + 1, false);
            }
            _ => return false,
        }
    }
    !(parse || items.len() - start >= 300) || in_range(&items[start..])
}

/// One of `bodies` cut anywhere, or with one byte changed to one of `bytes`: what
/// each route's property test holds its check to the full parse with.
#[cfg(test)]
pub(crate) fn mutated(
    bodies: &'static [&'static str],
    bytes: &'static [u8],
) -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
    use proptest::prelude::*;
    let at = any::<prop::sample::Index>();
    (
        prop::sample::select(bodies),
        at,
        prop::sample::select(bytes),
        any::<bool>(),
    )
        .prop_map(|(body, at, byte, cut)| {
            let mut body = body.as_bytes().to_vec();
            let at = at.index(body.len());
            if cut {
                body.truncate(at);
            } else {
                body[at] = byte;
            }
            body
        })
}
