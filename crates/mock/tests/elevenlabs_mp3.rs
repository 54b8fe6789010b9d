//! The ElevenLabs mock's MP3 seen from a real client over a real socket and decoded
//! by an independent decoder (symphonia): it is speech whose loud and quiet parts
//! follow the alignment the with-timestamps route returns, it lines up with the PCM
//! of the same request, it is as long as the alignment (within a frame), the same
//! request gets the same bytes, and streamed chunks are whole frames that
//! concatenate into the same decodable stream.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use gatebench_mock::{MockOptions, MockPorts, RunningMocks};
use gatebench_wire::elevenlabs::{AudioWithTimestamps, CharacterAlignment, Codec, OutputFormat};
use serde_json::{Value, json};

const RACHEL: &str = "21m00Tcm4TlvDq8ikWAM";
const TEXT: &str = "Hello there! This is a quick test of the speech mock, with commas, pauses \
    and a few longer words. Is it working? Yes, it is.";

/// Samples between an encoder's input and a decoder's output (528 + 529), which
/// the mock says it compensates.
const CODEC_DELAY: usize = 1057;

async fn start() -> (RunningMocks, String) {
    let mocks = RunningMocks::start(MockOptions {
        ports: MockPorts::EPHEMERAL,
        time_scale: 0.0,
        seed: 23,
        ..Default::default()
    })
    .await
    .unwrap();
    let url = mocks.url("elevenlabs").unwrap();
    (mocks, url)
}

async fn post(url: &str, path: &str, body: &Value) -> reqwest::Response {
    let response = gatebench_tls::http_client()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
        .post(format!("{url}{path}"))
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response
}

async fn with_timestamps(url: &str, format: &str, body: &Value) -> (Vec<u8>, CharacterAlignment) {
    let path = format!("/v1/text-to-speech/{RACHEL}/with-timestamps?output_format={format}");
    let answer: AudioWithTimestamps = post(url, &path, body).await.json().await.unwrap();
    let audio = STANDARD.decode(&answer.audio_base64).unwrap();
    (audio, answer.normalized_alignment.unwrap())
}

/// Decoded mono samples in [-1, 1] and the sample rate, with symphonia's defaults
/// (no gapless trimming: what a streaming player hears). Also asserts the stream
/// has no Info/LAME tag, so no decoder trims anything from it.
fn decode(bytes: &[u8]) -> (Vec<f32>, u32) {
    use symphonia::core::audio::SampleBuffer;
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
    let mut reader = probed.format;
    let track = reader.default_track().unwrap().clone();
    assert_eq!(track.codec_params.delay, None, "no LAME tag");
    let mut decoder = symphonia::default::get_codecs()
        .make(&track.codec_params, &DecoderOptions::default())
        .unwrap();
    let mut samples = Vec::new();
    let mut rate = 0;
    loop {
        match reader.next_packet() {
            Ok(packet) => {
                let decoded = decoder.decode(&packet).unwrap();
                rate = decoded.spec().rate;
                assert_eq!(decoded.spec().channels.count(), 1, "mono");
                let mut buffer =
                    SampleBuffer::<f32>::new(decoded.capacity() as u64, *decoded.spec());
                buffer.copy_interleaved_ref(decoded);
                samples.extend_from_slice(buffer.samples());
            }
            Err(Error::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => panic!("mp3 decode failed: {e}"),
        }
    }
    (samples, rate)
}

fn rms(samples: &[f32]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let sum: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    (sum / samples.len() as f64).sqrt()
}

/// Samples of each character's window, `margin` seconds inside its edges, for the
/// characters `pick` selects; windows that the margins empty, or that fall in the
/// codec's priming, are left out.
fn windows<'a>(
    samples: &'a [f32],
    rate: u32,
    alignment: &CharacterAlignment,
    margin: f64,
    pick: impl Fn(char) -> bool,
) -> Vec<(usize, &'a [f32])> {
    let at = |seconds: f64| ((seconds * f64::from(rate)).round() as usize).min(samples.len());
    alignment
        .characters
        .iter()
        .enumerate()
        .filter(|(_, c)| c.chars().next().is_some_and(&pick))
        .filter_map(|(i, _)| {
            let from = at(alignment.character_start_times_seconds[i] + margin);
            let to = at(alignment.character_end_times_seconds[i] - margin);
            (from >= CODEC_DELAY && to > from).then(|| (i, &samples[from..to]))
        })
        .collect()
}

#[tokio::test]
async fn every_mp3_format_is_speech_that_follows_the_alignment() {
    let (mocks, url) = start().await;
    let body = json!({ "text": TEXT });
    for name in OutputFormat::SUPPORTED {
        let format = OutputFormat::parse(name).unwrap();
        if format.codec != Codec::Mp3 {
            continue;
        }
        let (audio, alignment) = with_timestamps(&url, name, &body).await;
        let (samples, rate) = decode(&audio);
        assert_eq!(rate, format.sample_rate, "{name}");

        // As long as the speech, and at most one frame longer.
        let frame = if rate >= 32_000 { 1152 } else { 576 };
        let speech = (alignment.end_seconds() * f64::from(rate)).round() as usize;
        assert!(
            samples.len() >= speech && samples.len() < speech + frame,
            "{name}: {} samples decoded for {speech} samples of speech",
            samples.len()
        );

        // Not silence.
        let whole = rms(&samples);
        assert!(whole > 0.03, "{name}: RMS {whole}");

        // Vowels are loud, the pauses at punctuation are quiet. The margins skip
        // the characters' fades and the codec's smearing across a granule.
        let vowels: Vec<f64> = windows(&samples, rate, &alignment, 0.012, |c| {
            "aeiouAEIOU".contains(c)
        })
        .iter()
        .map(|(_, w)| rms(w))
        .collect();
        let pauses: Vec<(usize, f64)> =
            windows(&samples, rate, &alignment, 0.03, |c| ".,!?".contains(c))
                .iter()
                .map(|(i, w)| (*i, rms(w)))
                .collect();
        assert!(vowels.len() > 20 && pauses.len() >= 6, "{name}");
        let loudest_pause = pauses.iter().map(|p| p.1).fold(0.0, f64::max);
        let quietest_vowel = vowels.iter().copied().fold(f64::INFINITY, f64::min);
        eprintln!(
            "{name}: RMS {whole:.4}, quietest vowel {quietest_vowel:.4}, loudest pause {loudest_pause:.5}"
        );
        assert!(
            quietest_vowel > 8.0 * loudest_pause,
            "{name}: quietest vowel RMS {quietest_vowel}, loudest pause {loudest_pause} ({pauses:?})"
        );
    }
    mocks.shutdown().await;
}

/// Normalised correlation of `a` with `b` shifted by `lag` samples.
fn correlation(a: &[f32], b: &[f32], lag: isize) -> f64 {
    let (mut ab, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
    for (i, &x) in a.iter().enumerate() {
        let Some(&y) = i.checked_add_signed(lag).and_then(|j| b.get(j)) else {
            continue;
        };
        let (x, y) = (f64::from(x), f64::from(y));
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    ab / (aa * bb).sqrt().max(f64::MIN_POSITIVE)
}

#[tokio::test]
async fn mp3_decodes_to_the_pcm_voice_with_no_delay() {
    let (mocks, url) = start().await;
    let body = json!({ "text": TEXT });
    for (mp3, pcm, floor) in [
        ("mp3_44100_128", "pcm_44100", 0.95),
        ("mp3_22050_32", "pcm_22050", 0.85),
    ] {
        let (audio, _) = with_timestamps(&url, mp3, &body).await;
        let (decoded, _) = decode(&audio);
        let (raw, _) = with_timestamps(&url, pcm, &body).await;
        let voice: Vec<f32> = raw
            .chunks_exact(2)
            .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32_768.0)
            .collect();
        let at_zero = correlation(&voice, &decoded, 0);
        eprintln!("{mp3}: correlation with {pcm} {at_zero:.4} at lag 0");
        assert!(at_zero > floor, "{mp3}: correlation {at_zero} at lag 0");
        // Had the codec delay (or either half of it) not been compensated, the
        // voice would match the decoded audio better shifted by it.
        for lag in [528isize, 529, 1057, -528, -529, -1057, 1, -1] {
            let shifted = correlation(&voice, &decoded, lag);
            assert!(
                at_zero > shifted,
                "{mp3}: {shifted} at lag {lag} ≥ {at_zero} at 0"
            );
        }
    }
    mocks.shutdown().await;
}

#[tokio::test]
async fn the_same_request_gets_the_same_mp3() {
    let (mocks, url) = start().await;
    let body = json!({ "text": TEXT });
    let path = format!("/v1/text-to-speech/{RACHEL}");
    let first = post(&url, &path, &body).await;
    assert_eq!(first.headers()["content-type"], "audio/mpeg");
    let first = first.bytes().await.unwrap();
    let again = post(&url, &path, &body).await.bytes().await.unwrap();
    assert_eq!(first, again);
    // The default format is mp3_44100_128; with-timestamps carries the same audio.
    let (audio, _) = with_timestamps(&url, "mp3_44100_128", &body).await;
    assert_eq!(first, audio);
    let other = post(&url, &path, &json!({ "text": "Something else entirely." }))
        .await
        .bytes()
        .await
        .unwrap();
    assert_ne!(first, other);
    mocks.shutdown().await;
}

/// Frames of an MPEG audio Layer III stream, read from their headers: (offset,
/// length, samples). Panics on anything that is not a frame.
fn frames(bytes: &[u8]) -> Vec<(usize, usize, usize)> {
    const V1: [u32; 15] = [
        0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
    ];
    const V2: [u32; 15] = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let h = &bytes[at..at + 4];
        assert!(h[0] == 0xFF && h[1] & 0xE0 == 0xE0, "no frame sync at {at}");
        let mpeg1 = (h[1] >> 3) & 0b11 == 0b11;
        assert_eq!((h[1] >> 1) & 0b11, 0b01, "layer III");
        let kbps = if mpeg1 { V1 } else { V2 }[usize::from(h[2] >> 4)];
        let rate =
            [44_100, 48_000, 32_000][usize::from((h[2] >> 2) & 0b11)] / if mpeg1 { 1 } else { 2 };
        let padding = usize::from((h[2] >> 1) & 1);
        let coefficient = if mpeg1 { 144 } else { 72 };
        let length = (coefficient * kbps * 1000 / rate) as usize + padding;
        out.push((at, length, if mpeg1 { 1152 } else { 576 }));
        at += length;
    }
    assert_eq!(at, bytes.len(), "the last frame is whole");
    out
}

#[tokio::test]
async fn streamed_chunks_are_whole_frames_that_say_when_they_play() {
    let (mocks, url) = start().await;
    let body = json!({ "text": TEXT.repeat(2), "model_id": "eleven_turbo_v2_5" });
    for name in ["mp3_44100_128", "mp3_22050_32"] {
        let (whole, alignment) = with_timestamps(&url, name, &body).await;
        let rate = f64::from(OutputFormat::parse(name).unwrap().sample_rate);

        let path = format!("/v1/text-to-speech/{RACHEL}/stream?output_format={name}");
        let streamed = post(&url, &path, &body).await.bytes().await.unwrap();
        assert_eq!(streamed, whole, "{name}");

        let path =
            format!("/v1/text-to-speech/{RACHEL}/stream/with-timestamps?output_format={name}");
        let text = post(&url, &path, &body).await.text().await.unwrap();
        let mut joined = Vec::new();
        let mut starts = Vec::new();
        let mut played = 0usize;
        for line in text.lines().filter(|l| !l.is_empty()) {
            let chunk: AudioWithTimestamps = serde_json::from_str(line).unwrap();
            let audio = STANDARD.decode(&chunk.audio_base64).unwrap();
            // Whole frames: the chunk plays from `clock` for its frames' samples.
            let samples: usize = frames(&audio).iter().map(|f| f.2).sum();
            let clock = played as f64 / rate;
            let end = (played + samples) as f64 / rate;
            // The characters a chunk carries start while it plays.
            if let Some(a) = &chunk.normalized_alignment {
                for &s in &a.character_start_times_seconds {
                    assert!(
                        s >= clock - 1e-6 && s < end + 1e-6,
                        "{name}: {s} not in [{clock}, {end})"
                    );
                    starts.push(s);
                }
            }
            played += samples;
            joined.extend(audio);
        }
        assert_eq!(joined, whole, "{name}");
        assert_eq!(starts, alignment.character_start_times_seconds, "{name}");
        let (samples, _) = decode(&joined);
        assert_eq!(samples.len(), played, "{name}");
    }
    mocks.shutdown().await;
}
