//! The OpenAI-compatible mock (base URL `http://HOST:PORT/v1`).
//!
//! | route                       | what it does                                      |
//! |-----------------------------|---------------------------------------------------|
//! | `POST /v1/chat/completions` | chat, whole or streamed (server-sent events)      |
//! | `POST /v1/completions`      | legacy text completions, whole or streamed        |
//! | `POST /v1/responses`        | the Responses API, whole or as its event stream   |
//! | `GET`, `DELETE /v1/responses/{id}` | a stored response, or 404                  |
//! | `GET /v1/responses/{id}/input_items` | a page of a stored response's input items |
//! | `POST /v1/embeddings`       | vectors as floats or base64, optional `dimensions` |
//! | `GET /v1/models`            | the models of the profile                         |
//! | `GET /v1/models/{id}`       | one model, or 404 `model_not_found`               |
//! | `GET /health`               | 200 with an empty body, as vLLM answers the probe |
//!
//! Answers are readable English drawn from `fixtures/corpus` by topic, the same for
//! the same model, messages, format and seed. `usage` holds real token counts
//! (tiktoken), chat framing included; `cached_tokens` comes from a simulated prompt
//! cache. Each model has its own latency profile, and every route sits behind the
//! shared middleware (auth, body limit, faults, stats) and the per-key, per-model
//! rate limits and per-model capacity.
//!
//! Like OpenAI, the mock refuses request arguments the API does not document (400
//! `Unrecognized request argument supplied: NAME`) unless the profile's
//! `strict_arguments` is off (`arguments.rs`). It also honours vLLM's `ignore_eos`
//! (the answer fills the token cap) and `min_tokens` (never fewer tokens), which
//! benchmark tools send to fix output lengths.
//!
//! With function `tools`, a choice may call one instead of answering (`tools.rs`):
//! always with `tool_choice` `required` or a named function, never with `none`, and
//! with `auto` for the profile's `tool_call_share` of requests; some answers
//! (`parallel_tool_call_share`) make several calls at once. The arguments are
//! JSON that follows the function's `parameters` schema; streamed, each call's
//! arrive as fragments after a chunk with its index, id and name, as the API
//! sends them.

mod admission;
mod arguments;
mod chat;
mod completion;
mod corpus;
mod embeddings;
mod models;
mod paced;
mod profile;
mod prompt_cache;
mod reasoning;
mod responses;
mod stream;
mod strict;
mod text_completion;
mod timing;
mod tools;
mod usage;
mod validate;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use foldhash::fast::RandomState as Fold;
use gatebench_embed::Embedder;
use gatebench_serve::front::{Handler, Route};
use moka::sync::Cache;

pub use admission::{ORGANIZATION, rate_limited};
pub use chat::{Planned, plan};
pub use completion::{Call, Format, Spec, Written, draw_length, write};
pub use corpus::{Corpus, Sentence, Topic, corpus};
pub use embeddings::{EMBEDDING_ENCODING, decode_base64, encode_base64, shorten};
pub use gatebench_tokens::{Encoding, count_chat_prompt, prompt_sequence};
pub use profile::{ChatModel, EmbeddingModel, OpenAiProfile, PromptCacheConfig, TokenCount};
pub(crate) use profile::{MAX_CHUNK_JITTER, MAX_EMBEDDING_DIMENSIONS, MAX_OUTPUT_TOKENS};
pub use prompt_cache::PromptCache;
pub use stream::token_pieces;

use crate::control::{Control, MockApp, assemble};
use crate::core::{KeyHeader, MockCore};
use crate::error::{ApiError, ErrorStyle};

/// Token sequences kept in the memo of prompts, in bytes.
const PROMPT_MEMO_BYTES: u64 = 16 * 1024 * 1024;

/// Text kept in the memo of written answers, in bytes.
const ANSWER_MEMO_BYTES: u64 = 32 * 1024 * 1024;

/// The state the OpenAI mock's handlers share.
#[derive(Debug)]
pub struct OpenAiMock {
    /// The shared mock machinery (faults, limits, capacity, stats).
    pub core: Arc<MockCore>,
    profile: OpenAiProfile,
    prompt_cache: PromptCache,
    embedders: HashMap<String, Embedder>,
    /// Written answers by request content: an answer depends only on the request,
    /// so a repeated prompt skips writing and counting it again.
    answers: Cache<u128, Arc<Vec<Written>>, Fold>,
    /// Prompt token sequences by conversation, for the same reason.
    prompts: Cache<u128, Arc<Vec<u32>>, Fold>,
    /// Stored responses (the Responses API's `store`).
    responses: responses::Store,
    /// Prices of the Costs API.
    prices: gatebench_cost::PriceBook,
    /// The models' names, shared by every call's entry in the books.
    names: HashMap<String, Arc<str>, Fold>,
}

impl OpenAiMock {
    /// The mock's state for `profile`; `seed` is the run's seed.
    pub fn new(profile: &OpenAiProfile, seed: u64, time_scale: f64) -> Arc<Self> {
        let core = MockCore::new(
            "openai",
            ErrorStyle::OpenAi,
            KeyHeader::Bearer,
            profile.settings(),
            seed,
            time_scale,
        );
        let embedders = profile
            .embedding_models
            .iter()
            .map(|(id, m)| (id.clone(), Embedder::new(id, m.dimensions as usize)))
            .collect();
        let prompt_cache = PromptCache::new(&profile.prompt_cache);
        // The shipped files are checked by the cost crate's tests, so they load.
        let prices = gatebench_cost::PriceBook::shipped().unwrap_or_else(|error| {
            tracing::error!(%error, "shipped price files do not load; the Costs API prices nothing");
            gatebench_cost::PriceBook::from_files(&[]).expect("an empty price book")
        });
        let responses = responses::Store::default();
        let forgotten = (prompt_cache.clone(), responses.clone());
        core.on_reset(move || {
            forgotten.0.clear();
            forgotten.1.clear();
        });
        Arc::new(OpenAiMock {
            core,
            profile: profile.clone(),
            prompt_cache,
            embedders,
            answers: Cache::builder()
                .weigher(|_, written: &Arc<Vec<Written>>| {
                    let bytes: usize = written.iter().map(|w| w.text.len() + 64).sum();
                    u32::try_from(bytes).unwrap_or(u32::MAX)
                })
                .max_capacity(ANSWER_MEMO_BYTES)
                .build_with_hasher(Fold::default()),
            prompts: Cache::builder()
                .weigher(|_, prompt: &Arc<Vec<u32>>| {
                    u32::try_from(prompt.len() * 4 + 64).unwrap_or(u32::MAX)
                })
                .max_capacity(PROMPT_MEMO_BYTES)
                .build_with_hasher(Fold::default()),
            responses,
            prices,
            names: profile
                .chat_models
                .keys()
                .chain(profile.embedding_models.keys())
                .map(|id| (id.clone(), Arc::from(id.as_str())))
                .collect(),
        })
    }

    /// The profile it serves.
    pub fn profile(&self) -> &OpenAiProfile {
        &self.profile
    }

    /// A served model's name, for the books.
    pub fn name(&self, model: &str) -> Arc<str> {
        self.names
            .get(model)
            .cloned()
            .unwrap_or_else(|| Arc::from(model))
    }

    /// A request body of a route whose documented arguments are `allowed`: parsed,
    /// and refused as OpenAI does when it names another argument (unless the
    /// profile is lenient). A body that does not parse gets the parser's error.
    pub(crate) fn request<T: serde::de::DeserializeOwned>(
        &self,
        body: &[u8],
        allowed: &[&str],
    ) -> Result<T, ApiError> {
        if self.profile.strict_arguments
            && let Some((request, unknown)) = arguments::parse(body, allowed)
        {
            arguments::refuse(&unknown)?;
            return Ok(request);
        }
        self.core.style.parse_json(body)
    }

    /// A chat model, or OpenAI's 404 `model_not_found`.
    pub fn chat_model(&self, id: &str) -> Result<&ChatModel, ApiError> {
        self.profile
            .chat_models
            .get(id)
            .ok_or_else(|| self.core.style.not_found("model", id))
    }

    /// An embedding model and its embedder, or OpenAI's 404 `model_not_found`.
    pub fn embedding_model(&self, id: &str) -> Result<(&EmbeddingModel, &Embedder), ApiError> {
        self.profile
            .embedding_models
            .get(id)
            .zip(self.embedders.get(id))
            .ok_or_else(|| self.core.style.not_found("model", id))
    }
}

/// The OpenAI mock's router: provider routes behind the shared middleware, plus the
/// control API.
pub fn router(profile: &OpenAiProfile, seed: u64, time_scale: f64, control: &Control) -> MockApp {
    // Building a tokenizer (and counting the corpus with it) takes a noticeable
    // moment; do it before the first request needs it.
    std::thread::spawn(|| {
        gatebench_tokens::warm_up();
        for topic in corpus().topics() {
            for encoding in [Encoding::O200kBase, Encoding::Cl100kBase] {
                let _ = topic.walk(0, encoding).next();
            }
        }
    });
    served(OpenAiMock::new(profile, seed, time_scale), control)
}

/// The routes of `mock`, the chat `POST` served ahead of the router.
fn served(mock: Arc<OpenAiMock>, control: &Control) -> MockApp {
    let chat = {
        let mock = Arc::clone(&mock);
        Route {
            method: http::Method::POST,
            path: chat::ROUTE,
            service: Handler::new(move |request| chat::front(Arc::clone(&mock), request)),
        }
    };
    app(mock, control, Some(chat))
}

/// The mock's routes, with `front` ahead of them.
fn app(mock: Arc<OpenAiMock>, control: &Control, front: Option<Route<Handler>>) -> MockApp {
    let routes = Router::new()
        .route(chat::ROUTE, post(chat::handle))
        .route("/v1/completions", post(text_completion::handle))
        .route("/v1/responses", post(responses::handle))
        .route(
            "/v1/responses/{id}",
            get(responses::retrieve).delete(responses::delete),
        )
        .route(
            "/v1/responses/{id}/input_items",
            get(responses::input_items),
        )
        .route("/v1/embeddings", post(embeddings::handle))
        .route("/v1/models", get(models::list))
        .route("/v1/models/{id}", get(models::retrieve))
        .with_state(Arc::clone(&mock));
    let account = Router::new()
        .route(
            "/v1/organization/usage/completions",
            get(usage::completions),
        )
        .route("/v1/organization/usage/embeddings", get(usage::embeddings))
        .route("/v1/organization/costs", get(usage::costs))
        .with_state(Arc::clone(&mock));
    // Benchmark tools written for vLLM-style servers (guidellm, vLLM's own bench)
    // probe `/health` before they start; like the control routes, the probe is
    // never faulted, limited or entered in the books.
    let open = Router::new().route("/health", get(health));
    assemble(
        Arc::clone(&mock.core),
        control,
        front,
        routes,
        account,
        open,
    )
}

/// `GET /health`: 200 and an empty body, as vLLM's server answers it.
async fn health() -> http::StatusCode {
    http::StatusCode::OK
}

#[cfg(test)]
mod tests;
