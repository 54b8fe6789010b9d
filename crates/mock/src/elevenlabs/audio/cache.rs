//! Rendered audio kept for the requests that ask for it again.
//!
//! Synthesising the voice costs milliseconds per second of audio, and encoding it as
//! MP3 more; load tests send the same texts over and over, so the ElevenLabs mock
//! keeps what it rendered in a bounded cache. The key is everything the bytes
//! depend on: the format, the voice's pitch and the normalised timeline (characters
//! and times; the voice reads nothing else). Concurrent requests for the same audio
//! wait for one rendering. Entries are weighed by their bytes.

use std::sync::Arc;

use gatebench_wire::elevenlabs::OutputFormat;
use moka::future::Cache;
use xxhash_rust::xxh3::Xxh3;

use super::{Audio, RenderError};
use crate::elevenlabs::alignment::Timeline;

/// Bytes of audio the cache holds at most (about 8 minutes of `pcm_44100`, or
/// 70 minutes of `mp3_44100_128`).
pub const CAPACITY_BYTES: u64 = 64 * 1024 * 1024;

/// What determines rendered bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Key {
    format: OutputFormat,
    pitch_bits: u64,
    duration_ms: u64,
    timeline: u128,
}

impl Key {
    fn new(format: OutputFormat, timeline: &Timeline, pitch_hz: f64) -> Key {
        let mut hasher = Xxh3::new();
        for span in &timeline.normalized {
            hasher.update(&u32::from(span.ch).to_le_bytes());
            hasher.update(&span.start_ms.to_le_bytes());
            hasher.update(&span.end_ms.to_le_bytes());
        }
        Key {
            format,
            pitch_bits: pitch_hz.to_bits(),
            duration_ms: timeline.duration_ms,
            timeline: hasher.digest128(),
        }
    }
}

/// A bounded cache of rendered audio.
#[derive(Clone, Debug)]
pub struct AudioCache {
    cache: Cache<Key, Audio>,
}

impl Default for AudioCache {
    fn default() -> Self {
        AudioCache::with_capacity(CAPACITY_BYTES)
    }
}

impl AudioCache {
    /// A cache holding at most `bytes` of audio (0 keeps nothing).
    pub fn with_capacity(bytes: u64) -> AudioCache {
        let cache = Cache::builder()
            .max_capacity(bytes)
            .weigher(|_: &Key, audio: &Audio| u32::try_from(audio.bytes.len()).unwrap_or(u32::MAX))
            .build();
        AudioCache { cache }
    }

    /// [`Audio::render_async`], or the audio rendered before for the same key.
    pub async fn render(
        &self,
        format: OutputFormat,
        timeline: Arc<Timeline>,
        pitch_hz: f64,
    ) -> Result<Audio, RenderError> {
        let key = Key::new(format, &timeline, pitch_hz);
        self.cache
            .try_get_with(key, Audio::render_async(format, timeline, pitch_hz))
            .await
            .map_err(|error| (*error).clone())
    }

    /// Entries held (after pending maintenance), for tests.
    pub async fn entries(&self) -> u64 {
        self.cache.run_pending_tasks().await;
        self.cache.entry_count()
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng as _;

    use super::*;
    use crate::rng::MockRng;

    fn timeline(text: &str, seed: u64) -> Arc<Timeline> {
        Arc::new(Timeline::build(
            text,
            15.0,
            &mut MockRng::seed_from_u64(seed),
        ))
    }

    #[tokio::test]
    async fn the_key_is_everything_the_bytes_depend_on() {
        let cache = AudioCache::default();
        let mp3 = OutputFormat::parse("mp3_22050_32").unwrap();
        let pcm = OutputFormat::parse("pcm_16000").unwrap();
        let a = cache
            .render(mp3, timeline("Hello there.", 1), 180.0)
            .await
            .unwrap();
        let again = cache
            .render(mp3, timeline("Hello there.", 1), 180.0)
            .await
            .unwrap();
        assert_eq!(a.bytes, again.bytes);
        assert_eq!(cache.entries().await, 1, "the same key is one entry");
        for (format, text, seed, pitch) in [
            (pcm, "Hello there.", 1, 180.0),
            (mp3, "Hello there!", 1, 180.0),
            (mp3, "Hello there.", 2, 180.0),
            (mp3, "Hello there.", 1, 120.0),
        ] {
            let other = cache
                .render(format, timeline(text, seed), pitch)
                .await
                .unwrap();
            let direct = Audio::render(format, &timeline(text, seed), pitch).unwrap();
            assert_eq!(other.bytes, direct.bytes, "{format} {text} {seed} {pitch}");
        }
        assert_eq!(cache.entries().await, 5);
    }

    #[tokio::test]
    async fn a_zero_capacity_cache_still_renders_and_errors_pass_through() {
        let cache = AudioCache::with_capacity(0);
        let format = OutputFormat::parse("pcm_8000").unwrap();
        let audio = cache
            .render(format, timeline("Hi.", 3), 200.0)
            .await
            .unwrap();
        assert_eq!(cache.entries().await, 0);
        assert!(!audio.bytes.is_empty());
        let odd = OutputFormat {
            bitrate_kbps: Some(999),
            ..OutputFormat::DEFAULT
        };
        let error = cache.render(odd, timeline("Hi.", 3), 200.0).await;
        assert!(matches!(error, Err(RenderError::Unsupported(_))));
    }
}
