//! Probes of gatebench's own services behind the gateway: personality and WebVTT.

use serde_json::json;

use super::{
    Keys, PERSONALITY, Probe, WEBVTT, call, detail_error, gateway_headers, media, status,
    validation_error,
};
use crate::checks::endpoints::call::{Auth, Request};
use crate::checks::endpoints::shapes;

pub(super) fn services(keys: &Keys) -> Vec<Probe> {
    let own = || Auth::Bearer(keys.own.clone());
    let n = &keys.nonce;
    let vtt_text =
        format!("Probe {n}. The owl hooted twice. Then the whole forest was quiet again.");
    let vtt = json!({ "text": vtt_text, "duration_seconds": 4.5 });
    vec![
        call(
            "personality",
            PERSONALITY,
            "200 {age_band 6-8 for age 7, traits [{name, score in [0,1], description}] highest first, tone, reading_level, guidelines}",
            Request::post(
                "/v1/personality",
                own(),
                json!({ "age": 7, "interests": ["dinosaurs", "space"], "name": "Mia" }),
            ),
            Box::new(|reply| {
                status(reply, 200)?;
                media(reply, "application/json")?;
                let body = reply.json()?;
                let shape = shapes::personality(&body)?;
                shapes::equals(&body, "age_band", "6-8")?;
                Ok(format!("{shape}; {}", gateway_headers(reply, true)?))
            }),
        ),
        call(
            "personality for an adult",
            PERSONALITY,
            "422 validation detail about `age` (the provider's answer)",
            Request::post(
                "/v1/personality",
                own(),
                json!({ "age": 40, "interests": [] }),
            ),
            validation_error("age"),
        ),
        call(
            "personality without a key",
            PERSONALITY,
            "401 in the service's own detail shape",
            Request::post(
                "/v1/personality",
                Auth::None,
                json!({ "age": 7, "interests": [] }),
            ),
            detail_error(401, "missing_api_key"),
        ),
        call(
            "webvtt",
            WEBVTT,
            "200 text/vtt starting with WEBVTT, cues with valid, ordered timings",
            Request::post("/v1/webvtt", own(), vtt.clone()),
            Box::new(|reply| {
                status(reply, 200)?;
                media(reply, "text/vtt")?;
                let cues = shapes::webvtt_document(reply.text()?)?;
                Ok(format!("{cues} cues; {}", gateway_headers(reply, true)?))
            }),
        ),
        call(
            "webvtt as JSON",
            WEBVTT,
            "200 JSON {cues: [{start, end, text}], duration_seconds} with Accept: application/json",
            Request::post("/v1/webvtt", own(), vtt).header("accept", "application/json"),
            Box::new(|reply| {
                status(reply, 200)?;
                media(reply, "application/json")?;
                shapes::webvtt_json(&reply.json()?).map(|cues| format!("{cues} cues"))
            }),
        ),
        call(
            "webvtt of empty text",
            WEBVTT,
            "422 validation detail about `text` (the provider's answer)",
            Request::post(
                "/v1/webvtt",
                own(),
                json!({ "text": "", "duration_seconds": 1.0 }),
            ),
            validation_error("text"),
        ),
    ]
}
