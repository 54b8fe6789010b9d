//! Token counts with the models' own tokenizers (tiktoken), and the framing OpenAI
//! bills on top of a chat's text. The OpenAI mock reports usage with these counts;
//! the gateway reserves budgets and prices cache hits with the same ones.
//!
//! A chat prompt costs, per the OpenAI cookbook ("How to count tokens with
//! tiktoken"), 3 tokens per message, plus the tokens of its role and content, plus
//! 1 per `name` (with the name's own tokens), plus 3 that prime the reply. The
//! prompt is also built as a token sequence (framing tokens included, as ids
//! outside the vocabulary) so that the prompt cache can compare prefixes.
//!
//! Tool definitions and tool calls are counted as the tokens of their JSON: OpenAI
//! does not publish its exact formula for them, so that part is an approximation.

use std::sync::OnceLock;

use gatebench_wire::openai::{ChatCompletionRequest, ChatMessage};
use serde::{Deserialize, Serialize};
use tiktoken_rs::CoreBPE;

/// Framing tokens added per message.
pub const TOKENS_PER_MESSAGE: usize = 3;
/// Extra token for a message with a `name`.
pub const TOKENS_PER_NAME: usize = 1;
/// Tokens that prime the assistant's reply, once per prompt.
pub const REPLY_PRIMING: usize = 3;
/// What a conversation's earlier turn costs when a later prompt resends it,
/// beyond that turn's own input and output tokens: the output's framing as an
/// assistant message (`assistant` is one token in every encoding), less the reply
/// priming the turn's input counted, which is not resent.
pub const RESENT_TURN: usize = TOKENS_PER_MESSAGE + 1 - REPLY_PRIMING;

// Ids above every vocabulary stand for the framing tokens in a prompt sequence;
// they only need to be distinct from text tokens and from each other.
const MESSAGE_START: u32 = u32::MAX - 1;
const MESSAGE_SEP: u32 = u32::MAX - 2;
const MESSAGE_END: u32 = u32::MAX - 3;
const NAME_MARK: u32 = u32::MAX - 4;
const REPLY: [u32; REPLY_PRIMING] = [u32::MAX - 5, u32::MAX - 6, u32::MAX - 7];

/// A tiktoken encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// GPT-4o family, o-series, GPT-4.1 and later.
    O200kBase,
    /// GPT-3.5 and GPT-4, and every embedding model.
    Cl100kBase,
}

impl Encoding {
    /// The encoding OpenAI documents for `model`. Models it does not know (DeepSeek
    /// among them, whose own tokenizer is not published in tiktoken form) get
    /// `o200k_base`, a close approximation for English text.
    pub fn for_model(model: &str) -> Encoding {
        let legacy = model.starts_with("gpt-3.5")
            || model.starts_with("text-embedding")
            || (model.starts_with("gpt-4")
                && !model.starts_with("gpt-4o")
                && !model.starts_with("gpt-4."));
        if legacy {
            Encoding::Cl100kBase
        } else {
            Encoding::O200kBase
        }
    }

    /// The tokenizer, built on first use and kept for the life of the process
    /// (building one takes a noticeable fraction of a second).
    pub fn bpe(self) -> &'static CoreBPE {
        static O200K: OnceLock<CoreBPE> = OnceLock::new();
        static CL100K: OnceLock<CoreBPE> = OnceLock::new();
        // The ranks are compiled into tiktoken-rs; failing to load them is a broken
        // build, not bad input.
        match self {
            Encoding::O200kBase => O200K
                .get_or_init(|| tiktoken_rs::o200k_base().expect("o200k_base ranks are bundled")),
            Encoding::Cl100kBase => CL100K
                .get_or_init(|| tiktoken_rs::cl100k_base().expect("cl100k_base ranks are bundled")),
        }
    }

    /// Token ids of `text`. Special-token text (`<|endoftext|>`) is treated as plain
    /// text, as the API does with user content.
    pub fn encode(self, text: &str) -> Vec<u32> {
        self.bpe().encode_ordinary(text)
    }

    /// Number of tokens of `text`.
    pub fn count(self, text: &str) -> usize {
        self.bpe().encode_ordinary(text).len()
    }

    /// Raw bytes of `tokens`, or `None` if one is not in the vocabulary.
    pub fn decode_bytes(self, tokens: &[u32]) -> Option<Vec<u8>> {
        self.bpe().decode_bytes(tokens).ok()
    }

    /// Text of `tokens` with invalid UTF-8 replaced, or `None` if a token is not in
    /// the vocabulary.
    pub fn decode_lossy(self, tokens: &[u32]) -> Option<String> {
        self.decode_bytes(tokens)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    /// Name as tiktoken spells it.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::O200kBase => "o200k_base",
            Encoding::Cl100kBase => "cl100k_base",
        }
    }
}

/// Loads both tokenizers (on a background thread at start, so the first request
/// does not pay for it).
pub fn warm_up() {
    Encoding::O200kBase.bpe();
    Encoding::Cl100kBase.bpe();
}

/// Prompt tokens of a chat request as OpenAI bills them.
pub fn count_chat_prompt(encoding: Encoding, request: &ChatCompletionRequest) -> usize {
    prompt_sequence(encoding, request).len()
}

/// The prompt as a token sequence whose length is its billed size: tool
/// definitions first (the API places them ahead of the conversation), then each
/// message framed, then the reply priming.
pub fn prompt_sequence(encoding: Encoding, request: &ChatCompletionRequest) -> Vec<u32> {
    let mut out = Vec::new();
    if let Some(tools) = request.tools.as_ref().filter(|t| !t.is_empty())
        && let Ok(json) = serde_json::to_string(tools)
    {
        out.extend(encoding.encode(&json));
    }
    for message in &request.messages {
        push_message(encoding, message, &mut out);
    }
    out.extend(REPLY);
    out
}

fn push_message(encoding: Encoding, message: &ChatMessage, out: &mut Vec<u32>) {
    out.push(MESSAGE_START);
    out.extend(encoding.encode(message.role.as_str()));
    out.push(MESSAGE_SEP);
    out.extend(encoding.encode(&message.text()));
    if let Some(name) = &message.name {
        out.extend(encoding.encode(name));
        out.push(NAME_MARK);
    }
    for call in message.tool_calls.iter().flatten() {
        out.extend(encoding.encode(&call.function.name));
        out.extend(encoding.encode(&call.function.arguments));
        out.push(NAME_MARK);
    }
    out.push(MESSAGE_END);
}

#[cfg(test)]
mod tests {
    use gatebench_wire::openai::{ChatMessage, Role};

    use super::*;

    #[test]
    fn known_strings_have_known_counts() {
        // Reference values from OpenAI's tokenizer (tiktoken).
        assert_eq!(Encoding::Cl100kBase.encode("hello"), [15339]);
        assert_eq!(Encoding::Cl100kBase.count("hello world"), 2);
        assert_eq!(Encoding::O200kBase.count("hello world"), 2);
        assert_eq!(
            Encoding::Cl100kBase.count("tiktoken is great!"),
            6,
            "the cookbook's example string"
        );
        assert_eq!(Encoding::O200kBase.count(""), 0);
        // Special-token text is plain text, not one special token.
        assert!(Encoding::Cl100kBase.count("<|endoftext|>") > 1);
    }

    fn named(role: Role, name: &str, content: &str) -> ChatMessage {
        ChatMessage {
            name: Some(name.to_owned()),
            ..ChatMessage::new(role, content)
        }
    }

    /// The example of the OpenAI cookbook "How to count tokens with tiktoken",
    /// whose counts the API itself reported: 129 (gpt-3.5-turbo, gpt-4) and 124
    /// (gpt-4o, gpt-4o-mini).
    #[test]
    fn the_cookbook_example_counts_as_the_api_reported() {
        let messages = vec![
            ChatMessage::system(
                "You are a helpful, pattern-following assistant that translates corporate jargon into plain English.",
            ),
            named(
                Role::System,
                "example_user",
                "New synergies will help drive top-line growth.",
            ),
            named(
                Role::System,
                "example_assistant",
                "Things working well together will increase revenue.",
            ),
            named(
                Role::System,
                "example_user",
                "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage.",
            ),
            named(
                Role::System,
                "example_assistant",
                "Let's talk later when we're less busy about how to do better.",
            ),
            ChatMessage::user(
                "This late pivot means we don't have time to boil the ocean for the client deliverable.",
            ),
        ];
        let request = ChatCompletionRequest::new("gpt-4", messages);
        assert_eq!(count_chat_prompt(Encoding::Cl100kBase, &request), 129);
        assert_eq!(count_chat_prompt(Encoding::O200kBase, &request), 124);
    }

    #[test]
    fn one_short_message_costs_its_text_plus_six() {
        let request = ChatCompletionRequest::new("gpt-4o", vec![ChatMessage::user("Hello!")]);
        let text = Encoding::O200kBase.count("user") + Encoding::O200kBase.count("Hello!");
        assert_eq!(count_chat_prompt(Encoding::O200kBase, &request), text + 6);
    }

    #[test]
    fn a_resent_turn_costs_its_input_and_output_and_its_framing() {
        for encoding in [Encoding::O200kBase, Encoding::Cl100kBase] {
            assert_eq!(encoding.count("assistant"), 1);
            let count = |messages: Vec<ChatMessage>| {
                count_chat_prompt(encoding, &ChatCompletionRequest::new("m", messages))
            };
            let (question, answer) = ("Where is my parcel?", "It left the depot today.");
            let first = count(vec![ChatMessage::user(question)]);
            let next = count(vec![ChatMessage::user("And when will it arrive?")]);
            let continued = count(vec![
                ChatMessage::user(question),
                ChatMessage::new(Role::Assistant, answer),
                ChatMessage::user("And when will it arrive?"),
            ]);
            assert_eq!(
                continued,
                first + encoding.count(answer) + RESENT_TURN + next
            );
        }
    }

    #[test]
    fn models_get_their_documented_encoding() {
        assert_eq!(Encoding::for_model("gpt-4o-mini"), Encoding::O200kBase);
        assert_eq!(Encoding::for_model("gpt-4.1"), Encoding::O200kBase);
        assert_eq!(Encoding::for_model("gpt-4"), Encoding::Cl100kBase);
        assert_eq!(Encoding::for_model("gpt-3.5-turbo"), Encoding::Cl100kBase);
        assert_eq!(
            Encoding::for_model("text-embedding-3-small"),
            Encoding::Cl100kBase
        );
        assert_eq!(Encoding::for_model("deepseek-chat"), Encoding::O200kBase);
    }

    #[test]
    fn decoding_round_trips_and_refuses_unknown_ids() {
        let tokens = Encoding::Cl100kBase.encode("Paraphrase me, please.");
        assert_eq!(
            Encoding::Cl100kBase.decode_lossy(&tokens).as_deref(),
            Some("Paraphrase me, please.")
        );
        assert_eq!(Encoding::Cl100kBase.decode_lossy(&[u32::MAX]), None);
    }
}
