//! Bad inputs for the two services and what each must get back: a 422 with this
//! `loc`, `type` and message. Kept apart from the tests so each list reads as a table.

use serde_json::{Value, json};

/// One bad request body and the validation issue it must produce.
pub struct BadInput {
    /// The raw body (not always JSON, not always UTF-8).
    pub body: Vec<u8>,
    /// Expected `loc`.
    pub loc: Value,
    /// Expected `type`.
    pub kind: &'static str,
    /// Text the expected `msg` contains.
    pub message: &'static str,
}

fn bad(
    body: impl Into<Vec<u8>>,
    loc: Value,
    kind: &'static str,
    message: &'static str,
) -> BadInput {
    BadInput {
        body: body.into(),
        loc,
        kind,
        message,
    }
}

/// An ElevenLabs-style alignment of `text`: 60 ms per character, 200 ms pauses at
/// sentence ends.
pub fn alignment(text: &str) -> Value {
    let (mut t, mut starts, mut ends) = (0.0_f64, Vec::new(), Vec::new());
    let mut previous = ' ';
    for c in text.chars() {
        if previous == '.' && c == ' ' {
            t += 0.2;
        }
        starts.push((t * 1000.0).round() / 1000.0);
        t += 0.06;
        ends.push((t * 1000.0).round() / 1000.0);
        previous = c;
    }
    json!({
        "characters": text.chars().map(String::from).collect::<Vec<_>>(),
        "character_start_times_seconds": starts,
        "character_end_times_seconds": ends,
    })
}

/// Bad personality requests.
pub fn personality() -> Vec<BadInput> {
    vec![
        bad(
            &br#"{"interests": []}"#[..],
            json!(["body", "age"]),
            "missing",
            "Field required",
        ),
        bad(
            &br#"{"age": 5}"#[..],
            json!(["body", "interests"]),
            "missing",
            "Field required",
        ),
        bad(
            &br#"{"age": 13, "interests": []}"#[..],
            json!(["body", "age"]),
            "out_of_range",
            "age must be between 3 and 12 (got 13)",
        ),
        bad(
            &br#"{"age": 2, "interests": []}"#[..],
            json!(["body", "age"]),
            "out_of_range",
            "age must be between 3 and 12 (got 2)",
        ),
        bad(
            &br#"{"age": "five", "interests": []}"#[..],
            json!(["body", "age"]),
            "value_error",
            "invalid type",
        ),
        bad(
            &br#"{"age": 5, "interests": "dinosaurs"}"#[..],
            json!(["body", "interests"]),
            "value_error",
            "invalid type",
        ),
        bad(
            &br#"{"age": 5, "interests": ["a", ""]}"#[..],
            json!(["body", "interests", 1]),
            "string_too_short",
            "interests[1] must not be empty",
        ),
        bad(
            &br#"{"age": 5, "interests": [], "name": "  "}"#[..],
            json!(["body", "name"]),
            "string_too_short",
            "name must not be empty",
        ),
        bad(
            &br#"{"age": 5, "interests": [], "favourite": 1}"#[..],
            json!(["body", "favourite"]),
            "value_error",
            "unknown field `favourite`",
        ),
        bad(
            &br#"{"age": 5, "interests": ["#[..],
            json!(["body"]),
            "json_invalid",
            "JSON decode error",
        ),
        bad(
            &b"{\"age\": 5, \"interests\": [\"\xff\xfe\"]}"[..],
            json!(["body"]),
            "json_invalid",
            "JSON decode error",
        ),
        // the fields in order, as serde would read them from an array
        bad(
            &br#"[7, ["dinosaurs"]]"#[..],
            json!(["body"]),
            "model_attributes_type",
            "Input should be a valid dictionary",
        ),
    ]
}

/// Bad WebVTT requests.
pub fn webvtt() -> Vec<BadInput> {
    let mut uneven = alignment("Hello world");
    if let Some(ends) = uneven["character_end_times_seconds"].as_array_mut() {
        ends.pop();
    }
    let mut backwards = alignment("Hello world");
    backwards["character_start_times_seconds"][4] = json!(0.01);
    let text = |t: &str| json!(["body", t]);
    vec![
        bad(
            json!({"text": " \n", "duration_seconds": 1}).to_string(),
            text("text"),
            "string_too_short",
            "text must contain at least one word",
        ),
        bad(
            json!({"duration_seconds": 1}).to_string(),
            text("text"),
            "missing",
            "Field required",
        ),
        bad(
            json!({"text": "Hello world", "alignment": uneven}).to_string(),
            text("alignment"),
            "value_error",
            "must have the same length",
        ),
        bad(
            json!({"text": "Hello world", "alignment": backwards}).to_string(),
            json!(["body", "alignment", "character_start_times_seconds", 4]),
            "value_error",
            "non-decreasing",
        ),
        bad(
            json!({"text": "Hello there", "alignment": alignment("Hello world")}).to_string(),
            json!(["body", "alignment", "characters"]),
            "value_error",
            "word 2 is \"there\" in the text but \"world\" in the alignment",
        ),
        bad(
            json!({"text": "Hello", "duration_seconds": -1}).to_string(),
            text("duration_seconds"),
            "out_of_range",
            "duration_seconds must be greater than 0",
        ),
        bad(
            json!({"text": "Hello", "duration_seconds": 0}).to_string(),
            text("duration_seconds"),
            "out_of_range",
            "greater than 0",
        ),
        bad(
            json!({"text": "Hello", "duration_seconds": 1, "max_chars_per_cue": 5}).to_string(),
            text("max_chars_per_cue"),
            "out_of_range",
            "max_chars_per_cue must be at least 10 (got 5)",
        ),
        bad(
            json!({"text": "Hello", "duration_seconds": 1, "max_cue_seconds": 0}).to_string(),
            text("max_cue_seconds"),
            "out_of_range",
            "max_cue_seconds must be greater than 0",
        ),
        bad(
            json!({"text": "Hello"}).to_string(),
            json!(["body"]),
            "missing",
            "one of alignment or duration_seconds is required",
        ),
        bad(
            json!({"text": "Hello", "duration_seconds": 1, "alignment": alignment("Hello")})
                .to_string(),
            json!(["body"]),
            "value_error",
            "not both",
        ),
        bad(
            json!({"text": "Hello", "duration_seconds": "1s"}).to_string(),
            text("duration_seconds"),
            "value_error",
            "invalid type",
        ),
        bad(
            json!({"text": "Hello", "duration_seconds": 1, "max_chars_per_cue": -3}).to_string(),
            text("max_chars_per_cue"),
            "value_error",
            "invalid value",
        ),
        bad(
            &b"{\"text\": \"Hello\", \"duration_seconds\": 1"[..],
            json!(["body"]),
            "json_invalid",
            "JSON decode error",
        ),
        bad(
            &b"{\"text\": \"Hel\xc3\x28lo\", \"duration_seconds\": 1}"[..],
            json!(["body"]),
            "json_invalid",
            "JSON decode error",
        ),
        bad(
            &b"not json at all"[..],
            json!(["body"]),
            "json_invalid",
            "JSON decode error",
        ),
        bad(
            &br#"["hello world", null, 2.0]"#[..],
            json!(["body"]),
            "model_attributes_type",
            "Input should be a valid dictionary",
        ),
    ]
}
