//! `POST /v1/text-to-speech/{voice_id}/stream` (audio bytes, chunked) and
//! `.../stream/with-timestamps` (newline-delimited JSON).
//!
//! The audio is cut into chunks of about [`CHUNK_MS`] of audio, on MP3 frame or
//! sample boundaries; concatenated, they are exactly the non-streamed audio. The
//! response headers and the first chunk leave after the first-byte delay plus the
//! generation time of the characters the chunk starts; each later chunk after the
//! generation time of its own characters. Each JSON line carries its chunk's audio as base64 and the alignment
//! of the characters that start inside it, with times in seconds from the start of
//! the whole audio (so the lines' alignments concatenate into the non-streamed one);
//! a chunk that starts no character has `null` alignments.
//!
//! A stream-cut fault sends only its share of the chunks, then fails the body: the
//! client sees the connection drop mid-body.

use std::collections::VecDeque;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use gatebench_wire::elevenlabs::AudioWithTimestamps;
use http::StatusCode;

use super::AppState;
use super::admission::Admission;
use super::alignment::{Timeline, to_seconds};
use super::tts::{Prepared, headers, prepare};
use crate::core::{Buffered, RequestCtx};

/// Audio per streamed chunk, in milliseconds.
pub const CHUNK_MS: f64 = 250.0;

/// `POST /v1/text-to-speech/{voice_id}/stream`.
pub async fn stream(
    State(state): State<AppState>,
    Path(voice_id): Path<String>,
    ctx: RequestCtx,
    RawQuery(query): RawQuery,
    Buffered(body): Buffered,
) -> Response {
    match prepare(&state, &voice_id, &ctx, query.as_deref(), &body).await {
        Ok(prepared) => respond(prepared, ctx, Kind::Audio).await,
        Err(error) => error.into_response(),
    }
}

/// `POST /v1/text-to-speech/{voice_id}/stream/with-timestamps`.
pub async fn stream_with_timestamps(
    State(state): State<AppState>,
    Path(voice_id): Path<String>,
    ctx: RequestCtx,
    RawQuery(query): RawQuery,
    Buffered(body): Buffered,
) -> Response {
    match prepare(&state, &voice_id, &ctx, query.as_deref(), &body).await {
        Ok(prepared) => respond(prepared, ctx, Kind::Lines).await,
        Err(error) => error.into_response(),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Audio,
    Lines,
}

async fn respond(prepared: Prepared, ctx: RequestCtx, kind: Kind) -> Response {
    let Prepared {
        job,
        admission,
        pace,
        timeline,
        audio,
    } = prepared;
    ctx.serve(|served| served.stream = true);
    let chunks = audio.chunks(CHUNK_MS);
    let mut items = VecDeque::with_capacity(chunks.len());
    for (i, chunk) in chunks.iter().enumerate() {
        let to = chunks.get(i + 1).map(|next| next.start_ms);
        let characters = Timeline::starting_in(&timeline.normalized, chunk.start_ms, to).len();
        let delay = if i == 0 {
            pace.whole(characters)
        } else {
            pace.generation(characters)
        };
        let bytes = audio.bytes.slice(chunk.bytes.clone());
        let payload = match kind {
            Kind::Audio => bytes,
            Kind::Lines => {
                let original = Timeline::starting_in(&timeline.original, chunk.start_ms, to);
                let normalized = Timeline::starting_in(&timeline.normalized, chunk.start_ms, to);
                let line = AudioWithTimestamps {
                    audio_base64: STANDARD.encode(&bytes),
                    alignment: (!original.is_empty()).then(|| to_seconds(original)),
                    normalized_alignment: (!normalized.is_empty()).then(|| to_seconds(normalized)),
                };
                let mut json = serde_json::to_vec(&line).unwrap_or_default();
                json.push(b'\n');
                Bytes::from(json)
            }
        };
        items.push_back((delay, payload));
    }
    // The headers leave with the first chunk, so that a client timing either sees
    // the model's time to first byte.
    let mut offset = Duration::ZERO;
    if let Some((delay, _)) = items.front_mut() {
        offset = std::mem::take(delay);
        ctx.sleep_from_received(offset).await;
    }
    let cut_after = ctx
        .take_stream_cut()
        .map(|share| cut_point(share, items.len()));
    if cut_after.is_some() {
        tracing::debug!(chunks = items.len(), ?cut_after, "stream will be cut");
    }
    let content_type = match kind {
        Kind::Audio => job.format.content_type(),
        Kind::Lines => "application/x-ndjson",
    };
    let headers = headers(&job, &ctx, content_type);
    let paced = Paced {
        items,
        ctx,
        offset,
        cut_after,
        sent: 0,
        done: false,
        _admission: admission,
    };
    let body = Body::from_stream(futures::stream::unfold(paced, Paced::next));
    (StatusCode::OK, headers, body).into_response()
}

/// How many of `chunks` chunks a cut at `share` lets through: at least one and at
/// most all but one when there are two or more.
fn cut_point(share: f64, chunks: usize) -> usize {
    if chunks < 2 {
        return 0;
    }
    ((share * chunks as f64).floor() as usize).clamp(1, chunks - 1)
}

/// The body of a streamed answer: chunks released on their delays, holding the
/// request's slots until the last one is sent. Each chunk is due at the sum of the
/// delays so far, counted from the request's arrival, so a late wake-up is not
/// carried into the next chunk.
struct Paced {
    items: VecDeque<(Duration, Bytes)>,
    ctx: RequestCtx,
    /// When the last chunk was due, from the request's arrival (unscaled).
    offset: Duration,
    cut_after: Option<usize>,
    sent: usize,
    done: bool,
    _admission: Admission,
}

impl Paced {
    async fn next(mut self) -> Option<(Result<Bytes, std::io::Error>, Paced)> {
        if self.done {
            return None;
        }
        if self.cut_after == Some(self.sent) {
            self.done = true;
            return Some((Err(std::io::Error::other("stream cut")), self));
        }
        let (delay, bytes) = self.items.pop_front()?;
        self.offset += delay;
        self.ctx.sleep_from_received(self.offset).await;
        self.sent += 1;
        Some((Ok(bytes), self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_leaves_something_sent_and_something_missing() {
        assert_eq!(cut_point(0.2, 10), 2);
        assert_eq!(cut_point(0.01, 10), 1);
        assert_eq!(cut_point(0.99, 10), 9);
        assert_eq!(cut_point(0.5, 2), 1);
        assert_eq!(cut_point(0.5, 1), 0);
    }
}
