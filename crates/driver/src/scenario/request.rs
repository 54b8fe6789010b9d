//! Request kinds and the checked `[[requests]]` entry.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use toml::Spanned;

use super::error::{Locator, ScenarioError};
use super::raw::RawRequest;

/// The least weight above zero a request may have in a mix.
pub const MIN_WEIGHT: f64 = 1e-6;
/// The most weight a request may have in a mix.
pub const MAX_WEIGHT: f64 = 1e6;
/// Most turns of one conversation: each resends every earlier turn, so its prompt
/// grows with the count.
pub const MAX_TURNS: u32 = 100;

/// Headers the driver writes for each request, from its body and its connection:
/// one of a file's own would contradict them (a fixed `content-length` made every
/// request a 400).
const FRAMING_HEADERS: [http::HeaderName; 4] = [
    http::header::CONTENT_LENGTH,
    http::header::TRANSFER_ENCODING,
    http::header::CONNECTION,
    http::header::UPGRADE,
];

/// What a request calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// `POST /v1/chat/completions`, streamed or not.
    Chat,
    /// `POST /v1/completions` (legacy text completions), streamed or not.
    Completions,
    /// `POST /v1/responses` (the Responses API), streamed or not.
    Responses,
    /// `POST /v1/embeddings`.
    Embeddings,
    /// `POST /v1/text-to-speech/{voice_id}` (or `/stream`).
    Tts,
    /// `POST /v1/text-to-speech/{voice_id}/with-timestamps` (or `/stream/with-timestamps`).
    TtsTimestamps,
    /// WebSocket `/v1/text-to-speech/{voice_id}/stream-input`.
    TtsWs,
    /// `POST /v1/personality`.
    Personality,
    /// `POST /v1/webvtt`.
    Webvtt,
    /// Any method and path.
    Http,
}

impl Kind {
    /// All kinds, for messages.
    pub const ALL: [Kind; 10] = [
        Kind::Chat,
        Kind::Completions,
        Kind::Responses,
        Kind::Embeddings,
        Kind::Tts,
        Kind::TtsTimestamps,
        Kind::TtsWs,
        Kind::Personality,
        Kind::Webvtt,
        Kind::Http,
    ];

    /// The name used in scenario files and results.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Chat => "chat",
            Kind::Completions => "completions",
            Kind::Responses => "responses",
            Kind::Embeddings => "embeddings",
            Kind::Tts => "tts",
            Kind::TtsTimestamps => "tts_timestamps",
            Kind::TtsWs => "tts_ws",
            Kind::Personality => "personality",
            Kind::Webvtt => "webvtt",
            Kind::Http => "http",
        }
    }

    /// Parses a scenario file's `kind`.
    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The kinds that generate text, token by token when streamed.
    pub fn generates(self) -> bool {
        matches!(self, Kind::Chat | Kind::Completions | Kind::Responses)
    }

    /// Text-to-speech kinds also send the key as `xi-api-key`.
    pub fn is_tts(self) -> bool {
        matches!(self, Kind::Tts | Kind::TtsTimestamps | Kind::TtsWs)
    }
}

/// The classes of `x-gatebench-priority`.
const PRIORITIES: [&str; 4] = ["critical", "high", "normal", "low"];

/// Default chat model.
pub const DEFAULT_CHAT_MODEL: &str = "gpt-4o-mini";
/// Default embeddings model.
pub const DEFAULT_EMBEDDINGS_MODEL: &str = "text-embedding-3-small";
/// Default TTS model.
pub const DEFAULT_TTS_MODEL: &str = "eleven_flash_v2_5";
/// Default voice: ElevenLabs' premade "Rachel".
pub const DEFAULT_VOICE: &str = "21m00Tcm4TlvDq8ikWAM";
/// Default TTS texts catalog.
pub const DEFAULT_TEXTS: &str = "fixtures/tts/texts.toml";
/// Default personality profiles.
pub const DEFAULT_PROFILES: &str = "fixtures/personality/profiles.toml";

/// One checked `[[requests]]` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct RequestSpec {
    /// Name in results and threshold selectors; unique in the file.
    pub name: String,
    /// Kind.
    pub kind: Kind,
    /// Relative weight in the scenario's mix.
    pub weight: f64,
    /// Model (`model` for OpenAI, `model_id` for TTS).
    pub model: Option<String>,
    /// Catalog file: prompts (chat, embeddings), texts (TTS, WebVTT), profiles
    /// (personality); as written in the file.
    pub catalog: Option<PathBuf>,
    /// Zipf exponent over the catalog's entries.
    pub zipf: f64,
    /// Chat, completions, responses: stream; TTS: use the `/stream` route.
    pub stream: bool,
    /// Chat and completions streams: ask for the usage chunk (a response's stream
    /// always has it).
    pub include_usage: bool,
    /// Chat, completions: `max_tokens`; responses: `max_output_tokens`.
    pub max_tokens: Option<u32>,
    /// Chat, completions, responses: `temperature`.
    pub temperature: Option<f64>,
    /// Chat: a system prompt used when the catalog entry has none; responses:
    /// the `instructions`, likewise.
    pub system: Option<String>,
    /// Embeddings: `dimensions`.
    pub dimensions: Option<u32>,
    /// Embeddings: `encoding_format`.
    pub encoding_format: Option<String>,
    /// TTS: voice.
    pub voice_id: String,
    /// TTS: `output_format` query parameter.
    pub output_format: Option<String>,
    /// TTS WebSocket: words per text message.
    pub chunk_words: usize,
    /// Responses: turns a conversation runs, each continuing the last answer
    /// (`previous_response_id`); 1, the default: every request stands alone.
    pub turns: u32,
    /// Responses: a JSON file of the tools offered (as the API takes them); a
    /// turn answered with function calls is followed, in its conversation, by
    /// a turn that sends their outputs.
    pub tools: Option<PathBuf>,
    /// Responses: a JSON object of what each tool returns when called, by name
    /// (default for any tool: [`crate::TOOL_OUTPUT`]).
    pub tool_outputs: Option<PathBuf>,
    /// WebVTT: `duration_seconds`; default from the text length.
    pub duration_seconds: Option<f64>,
    /// HTTP: method.
    pub method: http::Method,
    /// Path (HTTP: required; others: overrides the kind's route).
    pub path: Option<String>,
    /// HTTP: body.
    pub body: Option<String>,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// `x-gatebench-priority`.
    pub priority: Option<String>,
    /// Sent as `Authorization: Bearer` (and `xi-api-key` on TTS routes).
    pub api_key: Option<String>,
    /// Per-request timeout (else the scenario's).
    pub timeout: Option<Duration>,
}

/// Checks a raw request; `key` is its path (`requests[2]`).
pub(crate) fn check(
    raw: &Spanned<RawRequest>,
    key: &str,
    loc: &Locator,
) -> Result<RequestSpec, ScenarioError> {
    let span = Some(raw.span());
    let r = raw.get_ref();
    let err =
        |field: &str, message: String| loc.error(span.clone(), format!("{key}.{field}"), message);
    let kind = Kind::parse(&r.kind).ok_or_else(|| {
        let names: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
        err(
            "kind",
            format!(
                "unknown kind `{}`: expected one of {}",
                r.kind,
                names.join(", ")
            ),
        )
    })?;
    if r.name.trim().is_empty() {
        return Err(err("name", "must not be empty".into()));
    }
    let allowed: &[&str] = match kind {
        Kind::Chat => &[
            "model",
            "prompts",
            "zipf",
            "stream",
            "include_usage",
            "max_tokens",
            "temperature",
            "system",
        ],
        Kind::Completions => &[
            "model",
            "prompts",
            "zipf",
            "stream",
            "include_usage",
            "max_tokens",
            "temperature",
        ],
        // a response's stream always ends with its usage
        Kind::Responses => &[
            "model",
            "prompts",
            "zipf",
            "stream",
            "max_tokens",
            "temperature",
            "system",
            "turns",
            "tools",
            "tool_outputs",
        ],
        Kind::Embeddings => &["model", "prompts", "zipf", "dimensions", "encoding_format"],
        Kind::Tts | Kind::TtsTimestamps => &[
            "model",
            "texts",
            "zipf",
            "stream",
            "voice_id",
            "output_format",
        ],
        Kind::TtsWs => &[
            "model",
            "texts",
            "zipf",
            "voice_id",
            "output_format",
            "chunk_words",
        ],
        Kind::Personality => &["profiles", "zipf"],
        Kind::Webvtt => &["texts", "zipf", "duration_seconds"],
        Kind::Http => &["method", "body"],
    };
    let set = [
        ("model", r.model.is_some()),
        ("prompts", r.prompts.is_some()),
        ("texts", r.texts.is_some()),
        ("profiles", r.profiles.is_some()),
        ("zipf", r.zipf.is_some()),
        ("stream", r.stream.is_some()),
        ("include_usage", r.include_usage.is_some()),
        ("max_tokens", r.max_tokens.is_some()),
        ("temperature", r.temperature.is_some()),
        ("system", r.system.is_some()),
        ("dimensions", r.dimensions.is_some()),
        ("encoding_format", r.encoding_format.is_some()),
        ("voice_id", r.voice_id.is_some()),
        ("output_format", r.output_format.is_some()),
        ("chunk_words", r.chunk_words.is_some()),
        ("turns", r.turns.is_some()),
        ("tools", r.tools.is_some()),
        ("tool_outputs", r.tool_outputs.is_some()),
        ("duration_seconds", r.duration_seconds.is_some()),
        ("method", r.method.is_some()),
        ("body", r.body.is_some()),
    ];
    for (field, is_set) in set {
        if is_set && !allowed.contains(&field) {
            return Err(err(
                field,
                format!("`{field}` does not apply to kind `{}`", kind.name()),
            ));
        }
    }
    let weight = r.weight.unwrap_or(1.0);
    // weights are relative: far outside this range their sum overflows (1e308
    // twice is infinite) or loses the small ones (a subnormal weight drew a request
    // of weight 0), and no mix needs a ratio above 10^12 between two requests
    if !(weight == 0.0 || (MIN_WEIGHT..=MAX_WEIGHT).contains(&weight)) {
        return Err(err(
            "weight",
            format!("must be 0 or from {MIN_WEIGHT} to {MAX_WEIGHT}, got {weight}"),
        ));
    }
    if let Some(t) = r.temperature
        && !t.is_finite()
    {
        // JSON has no NaN or infinity: it would be sent as null
        return Err(err(
            "temperature",
            format!("must be a finite number, got {t}"),
        ));
    }
    // values every OpenAI-compatible API refuses: the run would be all 400s
    let least_output = if kind == Kind::Responses { 16 } else { 1 };
    if let Some(m) = r.max_tokens
        && m < least_output
    {
        let sent = if kind == Kind::Responses {
            "sent as `max_output_tokens`, which the API takes from 16"
        } else {
            "the API refuses 0"
        };
        return Err(err(
            "max_tokens",
            format!("must be ≥ {least_output} ({sent}), got {m}"),
        ));
    }
    if let Some(p) = &r.priority
        && !PRIORITIES.contains(&p.as_str())
    {
        return Err(err(
            "priority",
            format!(
                "must be one of {} (a gatebench gateway refuses others), got `{p}`",
                PRIORITIES.join(", ")
            ),
        ));
    }
    let zipf = r.zipf.unwrap_or(1.0);
    if !(zipf.is_finite() && zipf >= 0.0) {
        return Err(err("zipf", format!("the exponent must be ≥ 0, got {zipf}")));
    }
    if r.include_usage.is_some() && r.stream != Some(true) {
        return Err(err(
            "include_usage",
            "applies only with `stream = true`".into(),
        ));
    }
    let catalog = match kind {
        Kind::Chat | Kind::Completions | Kind::Responses | Kind::Embeddings => {
            Some(r.prompts.clone().ok_or_else(|| {
                err(
                    "prompts",
                    format!("kind `{}` needs a prompt catalog", kind.name()),
                )
            })?)
        }
        Kind::Tts | Kind::TtsTimestamps | Kind::TtsWs | Kind::Webvtt => Some(
            r.texts
                .clone()
                .unwrap_or_else(|| PathBuf::from(DEFAULT_TEXTS)),
        ),
        Kind::Personality => Some(
            r.profiles
                .clone()
                .unwrap_or_else(|| PathBuf::from(DEFAULT_PROFILES)),
        ),
        Kind::Http => None,
    };
    let method = match &r.method {
        Some(m) => http::Method::from_bytes(m.to_ascii_uppercase().as_bytes())
            .map_err(|_| err("method", format!("`{m}` is not an HTTP method")))?,
        None if kind == Kind::Http => http::Method::GET,
        None => http::Method::POST,
    };
    let path = match &r.path {
        Some(p) if !p.starts_with('/') => {
            return Err(err("path", format!("must start with `/`, got `{p}`")));
        }
        Some(p) if http::uri::PathAndQuery::try_from(p.as_str()).is_err() => {
            return Err(err(
                "path",
                format!("`{p}` is not a valid URL path (percent-encode spaces and the like)"),
            ));
        }
        Some(p) => Some(p.clone()),
        None if kind == Kind::Http => return Err(err("path", "kind `http` needs a path".into())),
        None => None,
    };
    for (name, value) in &r.headers {
        let Ok(header) = http::HeaderName::from_bytes(name.as_bytes()) else {
            return Err(err(
                "headers",
                format!("`{name}` is not a valid header name"),
            ));
        };
        if FRAMING_HEADERS.contains(&header) {
            return Err(err(
                "headers",
                format!(
                    "`{name}` is set by the driver for each request (it frames the body or the connection)"
                ),
            ));
        }
        if http::HeaderValue::from_str(value).is_err() {
            return Err(err(
                "headers",
                format!("the value of `{name}` is not a valid header value"),
            ));
        }
    }
    for (field, value) in [("api_key", &r.api_key), ("priority", &r.priority)] {
        if let Some(v) = value
            && http::HeaderValue::from_str(v).is_err()
        {
            return Err(err(field, "is not a valid header value".into()));
        }
    }
    if let Some(t) = r.timeout
        && t.is_zero()
    {
        return Err(err("timeout", "must be above zero".into()));
    }
    if let Some(d) = r.duration_seconds
        && !(d.is_finite() && d > 0.0)
    {
        return Err(err(
            "duration_seconds",
            format!("must be above zero, got {d}"),
        ));
    }
    if r.chunk_words == Some(0) {
        return Err(err("chunk_words", "must be ≥ 1".into()));
    }
    if r.tool_outputs.is_some() && r.tools.is_none() {
        return Err(err(
            "tool_outputs",
            "applies only with `tools` (what the offered tools return)".into(),
        ));
    }
    if let Some(t) = r.turns
        && !(1..=MAX_TURNS).contains(&t)
    {
        return Err(err(
            "turns",
            format!("must be from 1 to {MAX_TURNS}, got {t}"),
        ));
    }
    let model = r.model.clone().or_else(|| match kind {
        Kind::Chat | Kind::Completions | Kind::Responses => Some(DEFAULT_CHAT_MODEL.to_owned()),
        Kind::Embeddings => Some(DEFAULT_EMBEDDINGS_MODEL.to_owned()),
        Kind::Tts | Kind::TtsTimestamps | Kind::TtsWs => Some(DEFAULT_TTS_MODEL.to_owned()),
        _ => None,
    });
    let stream = r.stream.unwrap_or(false);
    Ok(RequestSpec {
        name: r.name.clone(),
        kind,
        weight,
        model,
        catalog,
        zipf,
        stream,
        include_usage: r.include_usage.unwrap_or(stream),
        max_tokens: r.max_tokens,
        temperature: r.temperature,
        system: r.system.clone(),
        dimensions: r.dimensions,
        encoding_format: r.encoding_format.clone(),
        voice_id: r
            .voice_id
            .clone()
            .unwrap_or_else(|| DEFAULT_VOICE.to_owned()),
        output_format: r.output_format.clone(),
        chunk_words: r.chunk_words.unwrap_or(8),
        turns: r.turns.unwrap_or(1),
        tools: r.tools.clone(),
        tool_outputs: r.tool_outputs.clone(),
        duration_seconds: r.duration_seconds,
        method,
        path,
        body: r.body.clone(),
        headers: r
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        priority: r.priority.clone(),
        api_key: r.api_key.clone(),
        timeout: r.timeout,
    })
}
