//! Token usage of a chat completion, with the breakdowns cost tracking needs
//! (cached input tokens are billed at a discount).

use serde::{Deserialize, Serialize};

/// `usage` of a chat completion.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Input tokens, message framing included.
    pub prompt_tokens: u32,
    /// Generated tokens, all choices together.
    pub completion_tokens: u32,
    /// `prompt_tokens + completion_tokens`.
    pub total_tokens: u32,
    /// Breakdown of the input tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens_details: Option<PromptTokensDetails>,
    /// Breakdown of the generated tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_tokens_details: Option<CompletionTokensDetails>,
    /// DeepSeek: input tokens served from its context cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_cache_hit_tokens: Option<u32>,
    /// DeepSeek: input tokens not served from its context cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_cache_miss_tokens: Option<u32>,
}

impl Usage {
    /// Input tokens served from the provider's prompt cache (OpenAI's
    /// `prompt_tokens_details.cached_tokens`, or DeepSeek's `prompt_cache_hit_tokens`).
    pub fn cached_tokens(&self) -> u32 {
        self.prompt_tokens_details
            .as_ref()
            .map(|d| d.cached_tokens)
            .or(self.prompt_cache_hit_tokens)
            .unwrap_or(0)
    }

    /// Reasoning tokens (billed as output, not shown).
    pub fn reasoning_tokens(&self) -> u32 {
        self.completion_tokens_details
            .as_ref()
            .map_or(0, |d| d.reasoning_tokens)
    }
}

/// `usage.prompt_tokens_details`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromptTokensDetails {
    /// Input tokens served from the prompt cache.
    #[serde(default)]
    pub cached_tokens: u32,
    /// Audio input tokens.
    #[serde(default)]
    pub audio_tokens: u32,
}

/// `usage.completion_tokens_details`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompletionTokensDetails {
    /// Tokens spent reasoning.
    #[serde(default)]
    pub reasoning_tokens: u32,
    /// Audio output tokens.
    #[serde(default)]
    pub audio_tokens: u32,
    /// Predicted-output tokens that appeared in the completion.
    #[serde(default)]
    pub accepted_prediction_tokens: u32,
    /// Predicted-output tokens that did not (billed nonetheless).
    #[serde(default)]
    pub rejected_prediction_tokens: u32,
}
