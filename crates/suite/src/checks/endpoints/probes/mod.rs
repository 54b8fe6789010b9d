//! The probe table: for every front route, its success path with the response
//! shape, and its error paths, each one call with what it must answer. Probes that
//! need several calls (a cache replay, tenant isolation, ledger pages) are
//! [`Script`]s, run by [`super::scripts`].
//!
//! Prompts and texts carry a per-run token so that one probe's answer is never
//! another's cache entry; where a probe still meets the cache (an external target
//! run twice), it accepts `hit` as well as `miss`.

mod account;
mod openai;
mod ops;
mod services;
mod speech;

use serde_json::{Value, json};

use super::call::{Reply, Request};
use super::shapes::{self, Wrong};

/// Every route of the gateway's router, as `METHOD PATH`.
pub const ROUTES: [&str; 22] = [
    "POST /v1/chat/completions",
    "POST /v1/completions",
    "POST /v1/responses",
    STORED,
    STORED_ITEMS,
    "POST /v1/embeddings",
    "GET /v1/models",
    "GET /v1/models/{model}",
    "POST /v1/text-to-speech/{voice_id}",
    "POST /v1/text-to-speech/{voice_id}/stream",
    "POST /v1/text-to-speech/{voice_id}/with-timestamps",
    "POST /v1/text-to-speech/{voice_id}/stream/with-timestamps",
    "POST /v1/personality",
    "POST /v1/webvtt",
    "GET /v1/gatebench/usage",
    "GET /v1/gatebench/ledger",
    "GET /v1/gatebench/config",
    "GET /metrics",
    "GET /healthz",
    "GET /health",
    "GET /readyz",
    FALLBACK,
];

/// What the router answers for paths it does not know.
pub const FALLBACK: &str = "any other path (fallback)";

const CHAT: &str = "POST /v1/chat/completions";
const COMPLETIONS: &str = "POST /v1/completions";
const RESPONSES: &str = "POST /v1/responses";
/// `DELETE` shares the route (and its probes).
const STORED: &str = "GET /v1/responses/{id}";
const STORED_ITEMS: &str = "GET /v1/responses/{id}/input_items";
const EMBED: &str = "POST /v1/embeddings";
const TTS: &str = "POST /v1/text-to-speech/{voice_id}";
const TTS_STREAM: &str = "POST /v1/text-to-speech/{voice_id}/stream";
const TTS_TIMESTAMPS: &str = "POST /v1/text-to-speech/{voice_id}/with-timestamps";
const TTS_STREAM_TIMESTAMPS: &str = "POST /v1/text-to-speech/{voice_id}/stream/with-timestamps";
const PERSONALITY: &str = "POST /v1/personality";
const WEBVTT: &str = "POST /v1/webvtt";
const USAGE: &str = "GET /v1/gatebench/usage";
const LEDGER: &str = "GET /v1/gatebench/ledger";
const CONFIG: &str = "GET /v1/gatebench/config";

/// A premade voice every ElevenLabs-compatible target knows (Rachel).
pub const VOICE: &str = "21m00Tcm4TlvDq8ikWAM";
/// The chat model probed.
pub const CHAT_MODEL: &str = "gpt-4o-mini";
/// The embedding model probed, and its dimensions.
pub const EMBED_MODEL: (&str, usize) = ("text-embedding-3-small", 1536);
/// More than the gateway's default body limit (8 MiB).
pub const OVERSIZED: usize = 9 * 1024 * 1024;

/// Judges one reply: `Ok(what it showed)` or `Err(what is wrong)`.
pub type Judge = Box<dyn Fn(&Reply) -> Result<String, Wrong> + Send + Sync>;

/// A probe needing several calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Script {
    /// The same chat request twice: the second is a cache hit with the hit's headers.
    CacheReplay,
    /// A call as one tenant moves its usage and ledger, never another tenant's.
    TenantIsolation,
    /// Ledger pages follow each other with `after=`, without overlap.
    LedgerPages,
    /// A stored response is read, listed and deleted by its tenant, and is
    /// unknown to another.
    StoredResponse,
}

/// What a probe does.
pub enum Action {
    /// One call, judged.
    Call(Request, Judge),
    /// Several calls.
    Script(Script),
}

/// One probe.
pub struct Probe {
    /// Short name.
    pub name: &'static str,
    /// The route it covers (one of [`ROUTES`]).
    pub route: &'static str,
    /// What it must answer.
    pub expect: String,
    /// What it does.
    pub action: Action,
}

/// The credentials and the run token the probes use.
#[derive(Clone, Debug)]
pub struct Keys {
    /// The suite's tenant key.
    pub own: String,
    /// Another tenant's key (for isolation).
    pub other: String,
    /// Makes this run's prompts its own.
    pub nonce: String,
}

fn call(
    name: &'static str,
    route: &'static str,
    expect: &str,
    request: Request,
    judge: Judge,
) -> Probe {
    Probe {
        name,
        route,
        expect: expect.to_owned(),
        action: Action::Call(request, judge),
    }
}

/// A chat request body.
pub fn chat_body(prompt: &str) -> Value {
    json!({ "model": CHAT_MODEL, "messages": [{ "role": "user", "content": prompt }], "max_tokens": 48 })
}

/// `status` was answered, else what came instead.
pub fn status(reply: &Reply, expected: u16) -> Result<(), Wrong> {
    if reply.status == expected {
        Ok(())
    } else {
        Err(format!(
            "status {}, not {expected}: `{}`",
            reply.status,
            reply.preview()
        ))
    }
}

/// The media type is `expected`.
pub fn media(reply: &Reply, expected: &str) -> Result<(), Wrong> {
    let found = reply.media_type();
    if found == expected {
        Ok(())
    } else {
        Err(format!("content-type `{found}`, not `{expected}`"))
    }
}

/// The `x-gatebench-*` and `server-timing` headers every proxied answer carries;
/// `x-gatebench-cost-usd` too when `cost`.
pub fn gateway_headers(reply: &Reply, cost: bool) -> Result<String, Wrong> {
    let header = |name: &str| {
        reply
            .header(name)
            .filter(|v| !v.trim().is_empty())
            .ok_or(format!("no `{name}` header"))
    };
    header("x-gatebench-request-id")?;
    let cache = header("x-gatebench-cache")?;
    if !["hit", "miss", "bypass"].contains(&cache) {
        return Err(format!("x-gatebench-cache is `{cache}`"));
    }
    let provider = header("x-gatebench-provider")?;
    let attempts = header("x-gatebench-attempts")?;
    attempts
        .parse::<u32>()
        .map_err(|_| format!("x-gatebench-attempts is `{attempts}`"))?;
    let mut text = format!("cache {cache}, provider {provider}, attempts {attempts}");
    if cost {
        let usd = shapes::decimal(header("x-gatebench-cost-usd")?)
            .map_err(|e| format!("x-gatebench-cost-usd: {e}"))?;
        text.push_str(&format!(", {usd} USD"));
    }
    shapes::server_timing(
        header("server-timing")?,
        &["queue", "cache", "upstream", "total"],
    )?;
    Ok(text)
}

/// What an error's `code` must be.
#[derive(Clone, Copy, Debug)]
pub enum Code {
    /// A string or null.
    Any,
    /// This string.
    Is(&'static str),
}

/// An OpenAI-shaped error with `expected` status, `code`, and (when given) `param`.
pub fn openai_error(expected: u16, code: Code, param: Option<&'static str>) -> Judge {
    Box::new(move |reply| {
        status(reply, expected)?;
        media(reply, "application/json")?;
        let error = shapes::openai_error(&reply.json()?)?;
        if let Code::Is(want) = code
            && error.code.as_deref() != Some(want)
        {
            return Err(format!("error code {:?}, not `{want}`", error.code));
        }
        if let Some(want) = param
            && error.param.as_deref() != Some(want)
        {
            return Err(format!("error param {:?}, not `{want}`", error.param));
        }
        Ok(format!(
            "{}, code {:?}, param {:?}",
            error.kind, error.code, error.param
        ))
    })
}

/// ElevenLabs' error shape, `{"detail": {"status", "message"}}`, with `expected`
/// status and detail status `want`.
pub fn detail_error(expected: u16, want: &'static str) -> Judge {
    Box::new(move |reply| {
        status(reply, expected)?;
        let found = shapes::status_error(&reply.json()?).map_err(|e| e.to_string())?;
        if found != want {
            return Err(format!("detail status `{found}`, not `{want}`"));
        }
        Ok(format!("detail {found}"))
    })
}

/// FastAPI's 422 with an issue whose location contains `field`.
fn validation_error(field: &'static str) -> Judge {
    Box::new(move |reply| {
        status(reply, 422)?;
        let locs = shapes::validation_error(&reply.json()?)?;
        if !locs.iter().any(|l| l.split('.').any(|p| p == field)) {
            return Err(format!("no issue about `{field}`: {locs:?}"));
        }
        Ok(format!("detail at {locs:?}"))
    })
}

/// 401 in either provider's shape (OpenAI's, or ElevenLabs' `detail`).
fn unauthorized() -> Judge {
    Box::new(|reply| {
        status(reply, 401)?;
        let body = reply.json()?;
        match shapes::openai_error(&body) {
            Ok(error) => Ok(format!("{}, code {:?}", error.kind, error.code)),
            Err(openai) => shapes::status_error(&body)
                .map(|s| format!("detail {s}"))
                .map_err(|detail| {
                    format!("neither OpenAI's error shape ({openai}) nor ElevenLabs' ({detail})")
                }),
        }
    })
}

/// Every probe, in the order they run. Calls that bill come before the usage and
/// ledger probes, so that the ledger has entries to page through.
pub fn table(keys: &Keys) -> Vec<Probe> {
    let mut probes = openai::chat(keys);
    probes.extend(openai::completions(keys));
    probes.extend(openai::responses(keys));
    probes.extend(openai::embeddings(keys));
    probes.extend(speech::speech(keys));
    probes.extend(services::services(keys));
    probes.extend(account::account(keys));
    probes.extend(ops::operations(keys));
    probes
}
