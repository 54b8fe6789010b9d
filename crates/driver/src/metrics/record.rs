//! The driver's side of per-request records: turning a finished request into
//! the [`RequestRecord`] a run keeps when asked for them.

use super::sample::Sample;
use super::{RequestRecord, round3};

/// The record of one finished request.
pub(crate) fn record_of(
    s: &Sample,
    scenario: &str,
    request: &str,
    kind: &str,
    priority: Option<&str>,
) -> RequestRecord {
    let ms = |us: u64| round3(us as f64 / 1000.0);
    let g = s.gateway.as_deref();
    let t = s.trace.as_deref();
    RequestRecord {
        scenario: scenario.to_owned(),
        request: request.to_owned(),
        kind: kind.to_owned(),
        intent: s.intent.as_deref().map(str::to_owned),
        priority: priority.map(str::to_owned),
        intended_ms: ms(s.intended_us),
        sent_ms: ms(s.sent_us),
        latency_ms: ms(s.latency_us()),
        latency_uncorrected_ms: ms(s.latency_uncorrected_us()),
        ttfb_ms: s.ttfb_us.map(ms),
        ttft_ms: s.ttft_us.map(ms),
        status: s.status,
        outcome: s.outcome.class().into_owned(),
        usage: s.usage,
        tts_characters: s.tts_characters,
        cache: g.and_then(|g| g.cache.clone()),
        cache_similarity: g.and_then(|g| g.similarity),
        cache_key: g.and_then(|g| g.cache_key.clone()),
        cost_usd: g.and_then(|g| g.cost_usd),
        provider: g.and_then(|g| g.provider.clone()),
        attempts: g.and_then(|g| g.attempts),
        model: g.and_then(|g| g.model.clone()),
        request_id: g.and_then(|g| g.request_id.clone()),
        server_timing: g
            .map(|g| g.server_timing.iter().cloned().collect())
            .unwrap_or_default(),
        client_request_id: t.map(|t| t.client_request_id.clone()),
        prompt_digest: t.and_then(|t| t.prompt_digest.clone()),
        content_digest: t.and_then(|t| t.content_digest.clone()),
        response_id: t.and_then(|t| t.response_id.clone()),
        finish_reason: t.and_then(|t| t.finish_reason.clone()),
        chunks: t.and_then(|t| t.chunks),
        claims: t
            .map(|t| t.claims.iter().cloned().collect())
            .unwrap_or_default(),
    }
}
