//! Audio of a timeline in any output format, and how to cut it into chunks.
//!
//! Every format carries the same synthetic voice (see [`pcm`]), generated at the
//! format's sample rate, so voiced characters sound and spaces and punctuation are
//! pauses, on the alignment's timeline. PCM is its samples; μ-law and A-law are the
//! voice at 8 kHz, companded (see [`g711`]); MP3 is the voice encoded at the
//! format's bitrate (see [`mp3`]). Raw formats have exactly `round(duration × rate)`
//! samples; MP3 has `ceil` of that over the frame size in frames, so it is at most
//! one frame longer than the speech, and each decoded sample lines up with the
//! timeline (the codec delay is compensated, see [`mp3`]). Rendered audio is kept
//! in a bounded cache for the requests that ask for it again (see [`cache`]).

pub mod cache;
pub mod g711;
pub mod mp3;
pub mod pcm;

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use gatebench_wire::elevenlabs::{Codec, OutputFormat};

use self::mp3::{EncodeError, Mp3Spec};
use super::alignment::Timeline;

/// Rendered audio. Cloning it is cheap (the bytes are shared).
#[derive(Clone, Debug)]
pub struct Audio {
    /// The encoded bytes.
    pub bytes: Bytes,
    layout: Layout,
}

/// How the bytes divide into units (MP3 frames, or samples).
#[derive(Clone, Debug)]
enum Layout {
    Mp3 {
        spec: Mp3Spec,
        /// Where each frame starts, then the length (frames + 1 entries).
        offsets: Arc<[usize]>,
    },
    Raw {
        rate: u32,
        width: usize,
        samples: usize,
    },
}

/// A piece of the audio: its bytes and the time it covers.
#[derive(Clone, Debug, PartialEq)]
pub struct Chunk {
    /// Byte range in [`Audio::bytes`].
    pub bytes: Range<usize>,
    /// Start, in milliseconds.
    pub start_ms: f64,
    /// End, in milliseconds.
    pub end_ms: f64,
}

/// Why a format cannot be rendered.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
#[error("no MPEG Layer III stream has {sample_rate} Hz at {bitrate_kbps} kbit/s")]
pub struct UnsupportedFormat {
    sample_rate: u32,
    bitrate_kbps: u32,
}

/// Why [`Audio::render`] or [`Audio::render_async`] produced nothing.
#[derive(Clone, Debug, thiserror::Error)]
pub enum RenderError {
    /// The format cannot be rendered.
    #[error(transparent)]
    Unsupported(#[from] UnsupportedFormat),
    /// The MP3 encoder failed (a bug, not the request's fault).
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// The rendering task did not finish (the runtime is shutting down).
    #[error("audio rendering was interrupted")]
    Interrupted,
}

/// Raw audio longer than this is rendered on the blocking pool: synthesising
/// minutes of PCM is CPU work that would stall the other requests on an async
/// thread. MP3 always is: encoding costs milliseconds per second of audio.
pub const LONG_AUDIO_MS: u64 = 60_000;

impl Audio {
    /// Renders `timeline` in `format` with a voice pitched at `pitch_hz`.
    pub fn render(
        format: OutputFormat,
        timeline: &Timeline,
        pitch_hz: f64,
    ) -> Result<Audio, RenderError> {
        let rate = format.sample_rate;
        let (bytes, layout) = match format.codec {
            Codec::Mp3 => {
                let spec = mp3_spec(format)?;
                let voice = pcm::synthesize(timeline, pitch_hz, rate);
                let encoded = spec.encode(&voice)?;
                let layout = Layout::Mp3 {
                    spec,
                    offsets: encoded.offsets.into(),
                };
                (encoded.bytes, layout)
            }
            Codec::Pcm => {
                let samples = pcm::synthesize(timeline, pitch_hz, rate);
                let bytes = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
                let layout = Layout::Raw {
                    rate,
                    width: 2,
                    samples: samples.len(),
                };
                (bytes, layout)
            }
            Codec::Ulaw | Codec::Alaw => {
                let encode = if format.codec == Codec::Ulaw {
                    g711::ulaw
                } else {
                    g711::alaw
                };
                let samples = pcm::synthesize(timeline, pitch_hz, rate);
                let bytes: Vec<u8> = samples.iter().map(|&s| encode(s)).collect();
                let layout = Layout::Raw {
                    rate,
                    width: 1,
                    samples: samples.len(),
                };
                (bytes, layout)
            }
        };
        Ok(Audio {
            bytes: bytes.into(),
            layout,
        })
    }

    /// [`Audio::render`], on the blocking pool when the audio is long.
    pub async fn render_async(
        format: OutputFormat,
        timeline: Arc<Timeline>,
        pitch_hz: f64,
    ) -> Result<Audio, RenderError> {
        if format.codec == Codec::Mp3 {
            // Refused before any work is queued.
            mp3_spec(format)?;
        } else if timeline.duration_ms <= LONG_AUDIO_MS {
            return Audio::render(format, &timeline, pitch_hz);
        }
        tokio::task::spawn_blocking(move || Audio::render(format, &timeline, pitch_hz))
            .await
            .map_err(|_| RenderError::Interrupted)?
    }

    fn units(&self) -> usize {
        match &self.layout {
            Layout::Mp3 { offsets, .. } => offsets.len().saturating_sub(1),
            Layout::Raw { samples, .. } => *samples,
        }
    }

    fn unit_ms(&self) -> f64 {
        match &self.layout {
            Layout::Mp3 { spec, .. } => spec.frame_ms(),
            Layout::Raw { rate, .. } => 1000.0 / f64::from(*rate),
        }
    }

    fn offset(&self, unit: usize) -> usize {
        match &self.layout {
            Layout::Mp3 { offsets, .. } => offsets.get(unit).copied().unwrap_or(self.bytes.len()),
            Layout::Raw { width, .. } => unit * width,
        }
    }

    /// Length of the audio in milliseconds.
    pub fn duration_ms(&self) -> f64 {
        self.units() as f64 * self.unit_ms()
    }

    /// Cuts the audio into chunks of about `target_ms` each, on frame or sample
    /// boundaries; the chunks cover the bytes in order, without gaps. Empty audio
    /// gives no chunk.
    pub fn chunks(&self, target_ms: f64) -> Vec<Chunk> {
        let units = self.units();
        let unit_ms = self.unit_ms();
        let per_chunk = ((target_ms / unit_ms).round() as usize).max(1);
        (0..units)
            .step_by(per_chunk)
            .map(|first| {
                let last = (first + per_chunk).min(units);
                Chunk {
                    bytes: self.offset(first)..self.offset(last),
                    start_ms: first as f64 * unit_ms,
                    end_ms: last as f64 * unit_ms,
                }
            })
            .collect()
    }
}

/// The MP3 configuration of `format`, if Layer III has its rate and bitrate.
fn mp3_spec(format: OutputFormat) -> Result<Mp3Spec, UnsupportedFormat> {
    let kbps = format.bitrate_kbps.unwrap_or(128);
    Mp3Spec::new(format.sample_rate, kbps).ok_or(UnsupportedFormat {
        sample_rate: format.sample_rate,
        bitrate_kbps: kbps,
    })
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng as _;

    use super::*;
    use crate::rng::MockRng;

    #[test]
    fn every_format_covers_the_timeline_and_chunks_tile_the_bytes() {
        let timeline = Timeline::build(
            "The quick brown fox jumps over the lazy dog.",
            15.0,
            &mut MockRng::seed_from_u64(1),
        );
        let duration = timeline.duration_ms as f64;
        for name in OutputFormat::SUPPORTED {
            let format = OutputFormat::parse(name).unwrap();
            let audio = Audio::render(format, &timeline, 180.0).unwrap();
            let slack = match format.codec {
                Codec::Mp3 => Mp3Spec::new(format.sample_rate, format.bitrate_kbps.unwrap())
                    .unwrap()
                    .frame_ms(),
                _ => 1000.0 / f64::from(format.sample_rate),
            };
            assert!(audio.duration_ms() >= duration - slack / 2.0, "{name}");
            assert!(audio.duration_ms() < duration + slack, "{name}");
            if let Some(width) = format.bytes_per_sample() {
                let samples = pcm::samples_for(timeline.duration_ms, format.sample_rate);
                assert_eq!(audio.bytes.len(), samples * width, "{name}");
            }
            let chunks = audio.chunks(200.0);
            assert!(chunks.len() > 5, "{name}");
            let mut at = 0;
            for chunk in &chunks {
                assert_eq!(chunk.bytes.start, at);
                at = chunk.bytes.end;
            }
            assert_eq!(at, audio.bytes.len());
            assert_eq!(chunks.last().unwrap().end_ms, audio.duration_ms());
        }
    }
}
