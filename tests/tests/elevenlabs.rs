//! The ElevenLabs-compatible mock seen from real clients over real sockets: every
//! text-to-speech route and output format (MP3 decoded with symphonia), alignment,
//! voices and models here; errors, auth, limits and faults in `errors`; the
//! `stream-input` WebSocket in `ws`.

#[path = "elevenlabs/errors.rs"]
mod errors;
#[path = "elevenlabs/ws.rs"]
mod ws;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use gatebench_mock::{MockOptions, MockPorts, Profile, RunningMocks};
use gatebench_wire::elevenlabs::{
    AudioWithTimestamps, CharacterAlignment, Codec, GetVoicesResponse, OutputFormat,
    SearchVoicesResponse, Voice,
};
use serde_json::{Value, json};

const RACHEL: &str = "21m00Tcm4TlvDq8ikWAM";
const GEORGE: &str = "JBFqnCBsd6RMkjVDRZzb";
const TEXT: &str = "Hello there! This is a quick test of the text-to-speech mock, with commas, pauses and 42 numbers.";

async fn start_with(profile: Profile, time_scale: f64) -> (RunningMocks, String) {
    let mocks = RunningMocks::start(MockOptions {
        ports: MockPorts::EPHEMERAL,
        time_scale,
        seed: 11,
        profile,
        ..Default::default()
    })
    .await
    .unwrap();
    let url = mocks.url("elevenlabs").unwrap();
    (mocks, url)
}

async fn start() -> (RunningMocks, String) {
    start_with(Profile::default(), 0.0).await
}

fn client() -> reqwest::Client {
    gatebench_tls::http_client()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

async fn post(url: &str, path: &str, body: Value) -> reqwest::Response {
    client()
        .post(format!("{url}{path}"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn with_timestamps(url: &str, voice: &str, format: &str, body: Value) -> AudioWithTimestamps {
    let path = format!("/v1/text-to-speech/{voice}/with-timestamps?output_format={format}");
    let response = post(url, &path, body).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// Decodes an MP3 with symphonia: (seconds of audio, sample rate, frames seen).
fn decode_mp3(bytes: &[u8]) -> (f64, u32) {
    use symphonia::core::codecs::DecoderOptions;
    use symphonia::core::errors::Error;
    use symphonia::core::formats::FormatOptions;
    use symphonia::core::io::MediaSourceStream;
    use symphonia::core::meta::MetadataOptions;
    use symphonia::core::probe::Hint;

    let source = MediaSourceStream::new(
        Box::new(std::io::Cursor::new(bytes.to_vec())),
        Default::default(),
    );
    let mut hint = Hint::new();
    hint.with_extension("mp3");
    let probed = symphonia::default::get_probe()
        .format(
            &hint,
            source,
            &FormatOptions::default(),
            &MetadataOptions::default(),
        )
        .unwrap();
    let mut format = probed.format;
    let track = format.default_track().unwrap().clone();
    let mut decoder = symphonia::default::get_codecs()
        .make(&track.codec_params, &DecoderOptions::default())
        .unwrap();
    let mut samples = 0u64;
    let mut rate = 0;
    loop {
        match format.next_packet() {
            Ok(packet) => {
                let decoded = decoder.decode(&packet).unwrap();
                rate = decoded.spec().rate;
                samples += decoded.frames() as u64;
            }
            Err(Error::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => panic!("mp3 decode failed: {e}"),
        }
    }
    (samples as f64 / f64::from(rate), rate)
}

fn check_alignment(a: &CharacterAlignment, text: &str) {
    assert_eq!(a.characters.len(), a.character_start_times_seconds.len());
    assert_eq!(a.characters.len(), a.character_end_times_seconds.len());
    assert_eq!(a.text(), text);
    let mut at = 0.0;
    for (s, e) in a
        .character_start_times_seconds
        .iter()
        .zip(&a.character_end_times_seconds)
    {
        assert!(*s >= at - 1e-9 && s <= e, "times go backwards at {s}");
        at = *e;
    }
}

#[tokio::test]
async fn every_output_format_is_valid_audio_as_long_as_the_alignment() {
    let (mocks, url) = start().await;
    let mut duration = None;
    for name in OutputFormat::SUPPORTED {
        let format = OutputFormat::parse(name).unwrap();
        let answer = with_timestamps(&url, RACHEL, name, json!({ "text": TEXT })).await;
        let alignment = answer.alignment.unwrap();
        check_alignment(&alignment, TEXT);
        let end = alignment.end_seconds();
        // Every format of the same request shares one timeline.
        assert_eq!(*duration.get_or_insert(end), end, "{name}");
        let audio = STANDARD.decode(&answer.audio_base64).unwrap();
        match format.codec {
            Codec::Mp3 => {
                let (seconds, rate) = decode_mp3(&audio);
                assert_eq!(rate, format.sample_rate, "{name}");
                let frame = if rate >= 32_000 { 1152.0 } else { 576.0 } / f64::from(rate);
                assert!(
                    seconds >= end && seconds - end < frame,
                    "{name}: {seconds} s of audio for {end} s of speech"
                );
            }
            _ => {
                let width = format.bytes_per_sample().unwrap();
                let samples = (end * f64::from(format.sample_rate)).round() as usize;
                assert_eq!(audio.len(), samples * width, "{name}");
            }
        }
        // The plain route sends the same bytes with the codec's content type.
        let response = post(
            &url,
            &format!("/v1/text-to-speech/{RACHEL}?output_format={name}"),
            json!({ "text": TEXT }),
        )
        .await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], format.content_type());
        assert_eq!(response.bytes().await.unwrap(), audio, "{name}");
    }
    mocks.shutdown().await;
}

#[tokio::test]
async fn streams_agree_with_the_non_streamed_audio() {
    let (mocks, url) = start().await;
    let long = TEXT.repeat(3);
    for format in ["mp3_44100_128", "mp3_22050_32", "pcm_24000", "ulaw_8000"] {
        let body = json!({ "text": long, "model_id": "eleven_turbo_v2_5" });
        let whole = with_timestamps(&url, GEORGE, format, body.clone()).await;
        let audio = STANDARD.decode(&whole.audio_base64).unwrap();

        let path = format!("/v1/text-to-speech/{GEORGE}/stream?output_format={format}");
        let streamed = post(&url, &path, body.clone()).await.bytes().await.unwrap();
        assert_eq!(streamed, audio, "{format}");

        let path =
            format!("/v1/text-to-speech/{GEORGE}/stream/with-timestamps?output_format={format}");
        let text = post(&url, &path, body).await.text().await.unwrap();
        let mut joined = Vec::new();
        let mut alignment = CharacterAlignment::default();
        let mut normalized = CharacterAlignment::default();
        let lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
        assert!(lines.len() > 10, "{format}: {} chunks", lines.len());
        for line in lines {
            let chunk: AudioWithTimestamps = serde_json::from_str(line).unwrap();
            joined.extend(STANDARD.decode(&chunk.audio_base64).unwrap());
            if let Some(a) = &chunk.alignment {
                alignment.extend(a);
            }
            if let Some(n) = &chunk.normalized_alignment {
                normalized.extend(n);
            }
        }
        assert_eq!(joined, audio, "{format}");
        assert_eq!(Some(alignment), whole.alignment, "{format}");
        assert_eq!(Some(normalized), whole.normalized_alignment, "{format}");
    }
    mocks.shutdown().await;
}

#[tokio::test]
async fn duration_follows_text_length_voice_rate_and_speed() {
    let (mocks, url) = start().await;
    let seconds = |a: AudioWithTimestamps| a.alignment.unwrap().end_seconds();
    let short = seconds(with_timestamps(&url, RACHEL, "pcm_16000", json!({ "text": TEXT })).await);
    let long = seconds(
        with_timestamps(&url, RACHEL, "pcm_16000", json!({ "text": TEXT.repeat(4) })).await,
    );
    assert!(
        long > 3.5 * short && long < 4.5 * short,
        "{short} vs {long}"
    );
    let slow = seconds(
        with_timestamps(
            &url,
            RACHEL,
            "pcm_16000",
            json!({ "text": TEXT, "voice_settings": { "speed": 0.7 } }),
        )
        .await,
    );
    let fast = seconds(
        with_timestamps(
            &url,
            RACHEL,
            "pcm_16000",
            json!({ "text": TEXT, "voice_settings": { "speed": 1.2 } }),
        )
        .await,
    );
    assert!(slow > 1.5 * fast, "{slow} vs {fast}");
    // Brian speaks at 13 characters a second, Elli at 16.5.
    let brian = seconds(
        with_timestamps(
            &url,
            "nPczCjzI2devNBz1zQrb",
            "pcm_16000",
            json!({ "text": TEXT }),
        )
        .await,
    );
    let elli = seconds(
        with_timestamps(
            &url,
            "MF3mGyEYCl7XYWbV9V6O",
            "pcm_16000",
            json!({ "text": TEXT }),
        )
        .await,
    );
    assert!(brian > 1.15 * elli, "{brian} vs {elli}");
    // The normalised alignment collapses whitespace and ends at the same time.
    let spaced = with_timestamps(
        &url,
        RACHEL,
        "mp3_44100_128",
        json!({ "text": "  Hello \n\n world  " }),
    )
    .await;
    let normalized = spaced.normalized_alignment.unwrap();
    assert_eq!(normalized.text(), "Hello world");
    assert_eq!(
        normalized.end_seconds(),
        spaced.alignment.unwrap().end_seconds()
    );
    mocks.shutdown().await;
}

#[tokio::test]
async fn character_cost_and_ids_are_reported() {
    let (mocks, url) = start().await;
    let chars = TEXT.chars().count() as u64;
    for (model, cost) in [
        ("eleven_multilingual_v2", chars),
        ("eleven_v3", chars),
        ("eleven_monolingual_v1", chars),
        ("eleven_flash_v2_5", chars.div_ceil(2)),
        ("eleven_turbo_v2_5", chars.div_ceil(2)),
    ] {
        let response = post(
            &url,
            &format!("/v1/text-to-speech/{RACHEL}"),
            json!({ "text": TEXT, "model_id": model }),
        )
        .await;
        assert_eq!(response.status(), 200, "{model}");
        let headers = response.headers();
        assert_eq!(
            headers["character-cost"],
            cost.to_string().as_str(),
            "{model}"
        );
        assert!(!headers["request-id"].is_empty());
        assert_eq!(headers["history-item-id"].len(), 20);
    }
    mocks.shutdown().await;
}

#[tokio::test]
async fn voices_and_models_are_listed_and_looked_up() {
    let (mocks, url) = start().await;
    let http = client();
    let list: GetVoicesResponse = http
        .get(format!("{url}/v1/voices"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.voices.len(), 12);
    assert!(
        list.voices
            .iter()
            .all(|v| v.voice_id.len() == 20 && v.labels.contains_key("gender"))
    );
    let one: Voice = http
        .get(format!("{url}/v1/voices/{GEORGE}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one.name, "George");
    let page: SearchVoicesResponse = http
        .get(format!("{url}/v2/voices?search=female&page_size=3"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!((page.voices.len(), page.has_more), (3, true));
    let settings: Value = http
        .get(format!("{url}/v1/voices/{GEORGE}/settings"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(settings["stability"], 0.5);

    for path in [
        "/v1/voices/aaaaaaaaaaaaaaaaaaaa".to_owned(),
        "/v1/voices/aaaaaaaaaaaaaaaaaaaa/settings".to_owned(),
    ] {
        let missing = http.get(format!("{url}{path}")).send().await.unwrap();
        assert_eq!(missing.status(), 404);
        let body: Value = missing.json().await.unwrap();
        assert_eq!(body["detail"]["status"], "voice_not_found");
    }
    let missing = post(
        &url,
        "/v1/text-to-speech/aaaaaaaaaaaaaaaaaaaa/stream",
        json!({ "text": "hi" }),
    )
    .await;
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.json::<Value>().await.unwrap()["detail"]["status"],
        "voice_not_found"
    );

    let models: Vec<Value> = http
        .get(format!("{url}/v1/models"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = models
        .iter()
        .filter_map(|m| m["model_id"].as_str())
        .collect();
    for id in [
        "eleven_multilingual_v2",
        "eleven_turbo_v2_5",
        "eleven_flash_v2_5",
        "eleven_v3",
        "eleven_monolingual_v1",
    ] {
        assert!(ids.contains(&id), "{id}");
    }
    mocks.shutdown().await;
}

#[tokio::test]
async fn the_same_request_gets_the_same_audio_in_every_run() {
    let body = json!({ "text": TEXT, "seed": 3 });
    let mut runs = Vec::new();
    for _ in 0..2 {
        let (mocks, url) = start().await;
        runs.push(with_timestamps(&url, RACHEL, "pcm_22050", body.clone()).await);
        mocks.shutdown().await;
    }
    assert_eq!(runs[0], runs[1]);
}

#[tokio::test]
async fn minutes_of_audio_come_out_whole() {
    // Over a minute of speech, rendered on the blocking pool.
    let (mocks, url) = start().await;
    let text = TEXT.repeat(12);
    let answer = with_timestamps(&url, RACHEL, "pcm_8000", json!({ "text": text })).await;
    let end = answer.alignment.unwrap().end_seconds();
    assert!(end > 60.0, "{end} s");
    let audio = STANDARD.decode(&answer.audio_base64).unwrap();
    assert_eq!(audio.len(), (end * 8000.0).round() as usize * 2);
    mocks.shutdown().await;
}
