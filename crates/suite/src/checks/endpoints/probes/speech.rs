//! Probes of the ElevenLabs-compatible text-to-speech routes: audio, streamed
//! audio, alignments, and the provider's own errors passed through.

use serde_json::json;

use super::{
    Judge, Keys, Probe, TTS, TTS_STREAM, TTS_STREAM_TIMESTAMPS, TTS_TIMESTAMPS, VOICE, call,
    gateway_headers, media, status, unauthorized, validation_error,
};
use crate::checks::endpoints::call::{Auth, Reply, Request};
use crate::checks::endpoints::shapes::{self, Wrong};

/// A TTS answer of MP3 audio billed per character of `text`.
fn audio(text: String) -> Judge {
    Box::new(move |reply| {
        status(reply, 200)?;
        media(reply, "audio/mpeg")?;
        shapes::mp3(&reply.body)?;
        character_cost(reply, &text)?;
        Ok(format!(
            "{} bytes of MP3; {}",
            reply.body.len(),
            gateway_headers(reply, true)?
        ))
    })
}

fn character_cost(reply: &Reply, text: &str) -> Result<(), Wrong> {
    let cost = reply
        .header("character-cost")
        .ok_or("no `character-cost` header")?;
    let expected = text.chars().count();
    match cost.trim().parse::<usize>() {
        Ok(n) if n == expected => Ok(()),
        _ => Err(format!("character-cost `{cost}` for {expected} characters")),
    }
}

pub(super) fn speech(keys: &Keys) -> Vec<Probe> {
    let own = || Auth::Bearer(keys.own.clone());
    let xi = || Auth::Xi(keys.own.clone());
    let n = &keys.nonce;
    let path = |suffix: &str| format!("/v1/text-to-speech/{VOICE}{suffix}");
    let line = |what: &str| format!("Probe {n}: {what}");
    let (convert, streamed, timed, lines) = (
        line("the lighthouse keeper waved goodnight."),
        line("a fox crossed the frozen river."),
        line("the baker opened the shop at dawn."),
        line("two owls shared a branch in the rain."),
    );
    vec![
        call(
            "speech",
            TTS,
            "200 audio/mpeg (MP3) with character-cost = characters of the text and x-gatebench-cost-usd",
            Request::post(path(""), own(), json!({ "text": convert })),
            audio(convert.clone()),
        ),
        call(
            "speech stream with xi-api-key",
            TTS_STREAM,
            "200 audio/mpeg (MP3) with character-cost, authenticated by xi-api-key",
            Request::post(path("/stream"), xi(), json!({ "text": streamed })),
            audio(streamed.clone()),
        ),
        call(
            "speech with timestamps",
            TTS_TIMESTAMPS,
            "200 JSON {audio_base64 (MP3), alignment and normalized_alignment with characters, start and end times}; the alignment spells the text",
            Request::post(path("/with-timestamps"), xi(), json!({ "text": timed })),
            Box::new(move |reply| {
                status(reply, 200)?;
                media(reply, "application/json")?;
                let spoken = shapes::audio_with_timestamps(&reply.json()?)?;
                if spoken != timed {
                    return Err(format!("the alignment spells `{spoken}`, not the text"));
                }
                character_cost(reply, &timed)?;
                Ok(format!(
                    "{} aligned characters; {}",
                    spoken.chars().count(),
                    gateway_headers(reply, true)?
                ))
            }),
        ),
        call(
            "speech stream with timestamps",
            TTS_STREAM_TIMESTAMPS,
            "200 application/x-ndjson lines of {audio_base64, alignment|null, normalized_alignment|null}; the alignments spell the text",
            Request::post(
                path("/stream/with-timestamps"),
                own(),
                json!({ "text": lines }),
            ),
            Box::new(move |reply| {
                status(reply, 200)?;
                media(reply, "application/x-ndjson")?;
                let (spoken, count) = shapes::timestamp_lines(reply.text()?)?;
                if spoken != lines {
                    return Err(format!("the alignments spell `{spoken}`, not the text"));
                }
                character_cost(reply, &lines)?;
                Ok(format!("{count} lines; {}", gateway_headers(reply, true)?))
            }),
        ),
        call(
            "speech without text",
            TTS,
            "422 ElevenLabs validation detail about `text` (the provider's answer)",
            Request::post(
                path(""),
                xi(),
                json!({ "model_id": "eleven_multilingual_v2" }),
            ),
            validation_error("text"),
        ),
        call(
            "speech with an unknown voice",
            TTS,
            "404 ElevenLabs {detail: {status: voice_not_found, message}}",
            Request::post(
                "/v1/text-to-speech/NoSuchVoiceProbe000",
                xi(),
                json!({ "text": line("hello") }),
            ),
            Box::new(|reply| {
                status(reply, 404)?;
                let found = shapes::status_error(&reply.json()?)?;
                if found == "voice_not_found" {
                    Ok(format!("detail {found}"))
                } else {
                    Err(format!("detail.status `{found}`"))
                }
            }),
        ),
        call(
            "speech without a key",
            TTS,
            "401 error (OpenAI's or ElevenLabs' shape)",
            Request::post(path(""), Auth::None, json!({ "text": line("hello") })),
            unauthorized(),
        ),
    ]
}
