//! What a refusal of a request that does not fit these types says about it:
//! serde's own words, less the names of Rust types, which mean nothing to a
//! caller (`expected struct ChatCompletionRequest`, `untagged enum ResponseInput`).

use std::borrow::Cow;

/// serde's text of a data error (without its position), with the Rust type names
/// it holds put in a caller's words.
pub fn plain(serde_text: &str) -> Cow<'_, str> {
    if serde_text.starts_with("data did not match any variant of untagged enum") {
        return Cow::Borrowed("it has none of the types this parameter takes");
    }
    match serde_text.find("expected struct ") {
        Some(at) => Cow::Owned(format!("{}expected an object", &serde_text[..at])),
        None => Cow::Borrowed(serde_text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_type_names_become_a_callers_words() {
        assert_eq!(
            plain("data did not match any variant of untagged enum ResponseInput"),
            "it has none of the types this parameter takes"
        );
        assert_eq!(
            plain("invalid type: null, expected struct ChatCompletionRequest"),
            "invalid type: null, expected an object"
        );
        assert_eq!(
            plain("invalid type: integer `5`, expected a string"),
            "invalid type: integer `5`, expected a string"
        );
    }
}
