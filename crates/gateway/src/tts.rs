//! Text-to-speech (`POST /v1/text-to-speech/{voice_id}` and its `/stream`,
//! `/with-timestamps` and `/stream/with-timestamps` forms): exact-match cache,
//! queue, upstream, billing by the characters the provider reports in its
//! `character-cost` header.
//!
//! The cost is known from the response head, so streamed audio is billed before
//! its body flows and carries `x-gatebench-cost-usd` like the other forms.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use gatebench_cache::exact_key;
use gatebench_cost::{Kind, Usage};
use gatebench_wire::elevenlabs::{CHARACTER_COST_HEADER, TextToSpeechRequest};
use http::{HeaderMap, Method};
use serde::Deserialize;

use crate::checked::{self, Numbers, Text};
use crate::config::ProviderKind;
use crate::dispatch::{Accepted, Media, Outbound};
use crate::error::GatewayError;
use crate::extract::{Incoming, JsonBody};
use crate::meta::Meta;
use crate::pipeline::{self, Answer, Cache, Call};
use crate::render::render;
use crate::request::{MAX_NAME, body_for, object, to_the_end};
use crate::state::Gateway;

/// ElevenLabs' default model, used for pricing when the request names none.
pub const DEFAULT_TTS_MODEL: &str = "eleven_multilingual_v2";

/// Which form of the endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// Audio bytes.
    Convert,
    /// Audio bytes, streamed.
    Stream,
    /// JSON with base64 audio and alignment.
    WithTimestamps,
    /// Newline-delimited JSON chunks.
    StreamWithTimestamps,
}

impl Form {
    fn suffix(self) -> &'static str {
        match self {
            Form::Convert => "",
            Form::Stream => "/stream",
            Form::WithTimestamps => "/with-timestamps",
            Form::StreamWithTimestamps => "/stream/with-timestamps",
        }
    }

    fn streamed(self) -> bool {
        matches!(self, Form::Stream | Form::StreamWithTimestamps)
    }
}

macro_rules! form_handler {
    ($name:ident, $form:expr) => {
        /// Route handler.
        pub fn $name(
            State(gateway): State<Arc<Gateway>>,
            Path(voice): Path<String>,
            RawQuery(query): RawQuery,
            headers: HeaderMap,
            Incoming { meta, body }: Incoming<TextToSpeechRequest>,
        ) -> impl Future<Output = Result<Response, GatewayError>> + Send {
            to_the_end(serve(gateway, $form, voice, query, meta, headers, body))
        }
    };
}

form_handler!(convert, Form::Convert);
form_handler!(stream, Form::Stream);
form_handler!(with_timestamps, Form::WithTimestamps);
form_handler!(stream_with_timestamps, Form::StreamWithTimestamps);

fn billed_characters(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(CHARACTER_COST_HEADER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

async fn serve(
    gateway: Arc<Gateway>,
    form: Form,
    voice: String,
    query: Option<String>,
    meta: Meta,
    headers: HeaderMap,
    body: JsonBody<TextToSpeechRequest>,
) -> Result<Response, GatewayError> {
    // owned, so that the handler's future is this one: a wrapper holding the
    // arguments would carry them twice
    let (gateway, voice, query, headers) = (&gateway, voice.as_str(), query.as_deref(), &headers);
    // the voice goes into the cache key and upstream: no longer than a model name
    if voice.chars().count() > MAX_NAME {
        return Err(GatewayError::Validation {
            loc: vec!["path".into(), "voice_id".into()],
            msg: format!("String should have at most {MAX_NAME} characters"),
            kind: "string_too_long".into(),
        });
    }
    let JsonBody { bytes, request } = body;
    let value = object(&bytes);
    let model = request
        .model_id
        .clone()
        .unwrap_or_else(|| DEFAULT_TTS_MODEL.to_owned());
    let path = match query {
        Some(q) if !q.is_empty() => format!("/v1/text-to-speech/{voice}{}?{q}", form.suffix()),
        _ => format!("/v1/text-to-speech/{voice}{}", form.suffix()),
    };
    let accept = move |body: &[u8]| {
        let valid = match form {
            Form::WithTimestamps => checked::parse::<Checked>(body).is_some(),
            _ => !body.is_empty(),
        };
        valid.then_some(Accepted::default())
    };
    let body_for = body_for(bytes, "model_id");
    let usage_of = |headers: &HeaderMap, _: &[u8]| {
        billed_characters(headers).map(|characters| Usage {
            characters,
            ..Usage::default()
        })
    };
    let call = Call {
        route: "tts",
        kind: Kind::Tts,
        provider_kind: ProviderKind::Elevenlabs,
        model: &model,
        routed: request.model_id.is_some(),
        worst_case: Usage {
            characters: request.text.chars().count() as u64,
            ..Usage::default()
        },
        cache: Cache::Exact(exact_key(&meta.tenant.id, &path, &value)),
        answer: Answer::Body,
        outbound: Outbound {
            method: Method::POST,
            path: &path,
            headers,
            stream: form.streamed(),
            media: match form {
                Form::Convert | Form::Stream => Media::Audio,
                Form::WithTimestamps | Form::StreamWithTimestamps => Media::Any,
            },
            accept: &accept,
        },
        body_for: &body_for,
        usage_of: &usage_of,
        pinned: None,
    };
    let done = pipeline::run(gateway, meta, call)
        .await
        .map_err(GatewayError::detail_shaped)?;
    Ok(render(gateway, done, Answer::Body))
}

/// Audio with timestamps as the success check reads it ([`checked`]): what parses
/// as an [`AudioWithTimestamps`](gatebench_wire::elevenlabs::AudioWithTimestamps)
/// parses as this, the audio not copied and no character kept.
#[derive(Deserialize)]
#[expect(dead_code, reason = "fields read only to check their types")]
struct Checked {
    audio_base64: Text,
    alignment: Option<CheckedAlignment>,
    normalized_alignment: Option<CheckedAlignment>,
}

/// [`gatebench_wire::elevenlabs::CharacterAlignment`], checked.
#[derive(Deserialize)]
#[expect(dead_code, reason = "fields read only to check their types")]
struct CheckedAlignment {
    characters: Vec<Text>,
    character_start_times_seconds: Numbers,
    character_end_times_seconds: Numbers,
}

#[cfg(test)]
mod tests {
    use gatebench_wire::elevenlabs::AudioWithTimestamps;
    use proptest::prelude::*;

    use super::*;
    use crate::checked::mutated;

    /// Answers a provider sends: escaped characters and base64, times in every
    /// JSON number form, no normalised alignment, no alignment at all.
    const BODIES: [&str; 3] = [
        r#"{"audio_base64":"//uQx\/AAGJI5+UASlHw=","alignment":{"characters":["H","\u00e9","\"",","," "],"character_start_times_seconds":[0,0.058,1e-1,0.2,2.5E-1],"character_end_times_seconds":[0.058,0.1,0.2,0.25,0.3]},"normalized_alignment":{"characters":["h"],"character_start_times_seconds":[0.0],"character_end_times_seconds":[1]}}"#,
        r#"{"audio_base64":"","alignment":{"characters":[],"character_start_times_seconds":[],"character_end_times_seconds":[]},"normalized_alignment":null}"#,
        r#"{"audio_base64":"AAAA"}"#,
    ];

    fn full(body: &[u8]) -> bool {
        serde_json::from_slice::<AudioWithTimestamps>(body).is_ok()
    }

    fn checked(body: &[u8]) -> bool {
        checked::parse::<Checked>(body).is_some()
    }

    #[test]
    fn the_check_accepts_what_parses_as_audio_with_timestamps() {
        for body in BODIES {
            assert!(full(body.as_bytes()), "{body}");
            assert!(checked(body.as_bytes()), "{body}");
        }
    }

    #[test]
    fn the_check_refuses_what_is_not_audio_with_timestamps() {
        let refused = [
            &b"{}"[..],
            br#"{"audio_base64":7}"#,
            br#"{"audio_base64":"A","alignment":{"characters":["a"],"character_start_times_seconds":["0"],"character_end_times_seconds":[1]}}"#,
            br#"{"audio_base64":"A","alignment":{"characters":[1],"character_start_times_seconds":[0],"character_end_times_seconds":[1]}}"#,
            br#"{"audio_base64":"A","alignment":{"characters":["a"],"character_start_times_seconds":[1e999],"character_end_times_seconds":[1]}}"#,
            br#"{"audio_base64":"A","alignment":{"characters":["a"],"character_start_times_seconds":[0]}}"#,
            b"{\"audio_base64\":\"\xff\"}",
        ];
        for body in refused {
            assert!(!full(body), "{}", String::from_utf8_lossy(body));
            assert!(!checked(body), "{}", String::from_utf8_lossy(body));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// An answer cut anywhere, or with any byte changed, is accepted by the
        /// check exactly when the full parse accepts it.
        #[test]
        fn the_check_agrees_with_the_full_parse(body in mutated(&BODIES, &b"\"\\0}]{[,:1an -\xffeE+.9u/"[..])) {
            prop_assert_eq!(checked(&body), full(&body));
        }
    }
}
