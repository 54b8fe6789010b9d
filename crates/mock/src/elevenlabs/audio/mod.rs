//! Audio of a timeline in any output format, and how to cut it into chunks.
//!
//! MP3 is silent frames (see [`mp3`]) covering the timeline's duration, so it is at
//! most one frame longer than the speech. PCM is the synthetic voice (see [`pcm`]);
//! μ-law and A-law are that voice at 8 kHz, companded (see [`g711`]). Raw formats
//! have exactly `round(duration × rate)` samples.

pub mod g711;
pub mod mp3;
pub mod pcm;

use std::ops::Range;
use std::sync::Arc;

use gatebench_wire::elevenlabs::{Codec, OutputFormat};

use self::mp3::Mp3Spec;
use super::alignment::Timeline;

/// Rendered audio.
#[derive(Clone, Debug)]
pub struct Audio {
    /// The encoded bytes.
    pub bytes: Vec<u8>,
    layout: Layout,
}

/// How the bytes divide into units (MP3 frames, or samples).
#[derive(Clone, Copy, Debug)]
enum Layout {
    Mp3 {
        spec: Mp3Spec,
        frames: usize,
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
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("no MPEG Layer III stream has {sample_rate} Hz at {bitrate_kbps} kbit/s")]
pub struct UnsupportedFormat {
    sample_rate: u32,
    bitrate_kbps: u32,
}

/// Why [`Audio::render_async`] produced nothing.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The format cannot be rendered.
    #[error(transparent)]
    Unsupported(#[from] UnsupportedFormat),
    /// The rendering task did not finish (the runtime is shutting down).
    #[error("audio rendering was interrupted")]
    Interrupted,
}

/// Audio longer than this is rendered on the blocking pool: synthesising minutes of
/// PCM is CPU work that would stall the other requests on an async thread.
pub const LONG_AUDIO_MS: u64 = 60_000;

impl Audio {
    /// Renders `timeline` in `format` with a voice pitched at `pitch_hz`.
    pub fn render(
        format: OutputFormat,
        timeline: &Timeline,
        pitch_hz: f64,
    ) -> Result<Audio, UnsupportedFormat> {
        let rate = format.sample_rate;
        let (bytes, layout) = match format.codec {
            Codec::Mp3 => {
                let kbps = format.bitrate_kbps.unwrap_or(128);
                let spec = Mp3Spec::new(rate, kbps).ok_or(UnsupportedFormat {
                    sample_rate: rate,
                    bitrate_kbps: kbps,
                })?;
                let frames = spec.frames_for(timeline.duration_ms);
                (spec.silence(frames), Layout::Mp3 { spec, frames })
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
        Ok(Audio { bytes, layout })
    }

    /// [`Audio::render`], on the blocking pool when the audio is long.
    pub async fn render_async(
        format: OutputFormat,
        timeline: Arc<Timeline>,
        pitch_hz: f64,
    ) -> Result<Audio, RenderError> {
        if timeline.duration_ms <= LONG_AUDIO_MS {
            return Ok(Audio::render(format, &timeline, pitch_hz)?);
        }
        tokio::task::spawn_blocking(move || Audio::render(format, &timeline, pitch_hz))
            .await
            .map_err(|_| RenderError::Interrupted)?
            .map_err(RenderError::from)
    }

    fn units(&self) -> usize {
        match self.layout {
            Layout::Mp3 { frames, .. } => frames,
            Layout::Raw { samples, .. } => samples,
        }
    }

    fn unit_ms(&self) -> f64 {
        match self.layout {
            Layout::Mp3 { spec, .. } => spec.frame_ms(),
            Layout::Raw { rate, .. } => 1000.0 / f64::from(rate),
        }
    }

    fn offset(&self, unit: usize) -> usize {
        match self.layout {
            Layout::Mp3 { spec, .. } => spec.offset(unit),
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

#[cfg(test)]
mod tests {
    use rand::SeedableRng as _;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn every_format_covers_the_timeline_and_chunks_tile_the_bytes() {
        let timeline = Timeline::build(
            "The quick brown fox jumps over the lazy dog.",
            15.0,
            &mut StdRng::seed_from_u64(1),
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
