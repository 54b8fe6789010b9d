//! MPEG audio Layer III: the synthetic voice (see [`super::pcm`]) encoded mono at a
//! constant bitrate by `rusty_mp3`, a pure-Rust encoder.
//!
//! MPEG-1 serves 32, 44.1 and 48 kHz with 1152 samples per frame; MPEG-2 LSF serves
//! 16, 22.05 and 24 kHz with 576. The stream is only audio frames: no ID3 tag and no
//! Xing/Info frame.
//!
//! **Codec delay.** An encoder and decoder pair delays the signal: input sample `j`
//! comes out of a decoder at sample `j + CODEC_DELAY` (the encoder's filterbank and
//! MDCT overlap, 528 samples, plus the decoder's 529). Players that honour a LAME
//! Info tag trim that delay away; most streaming clients do not, and a tag in the
//! middle of concatenated messages (the WebSocket route sends one stream per
//! generation) is noise. So the mock compensates instead: it feeds the encoder the
//! voice from sample `CODEC_DELAY` on, and drops the encoder's tag frame. Decoded
//! sample `k` of the stream is then sample `k` of the voice, for every decoder,
//! which is what the alignment promises; frame `k` covers exactly
//! `[k × samples_per_frame, (k + 1) × samples_per_frame)` of the timeline. The
//! price is the first `CODEC_DELAY` samples (24 ms at 44.1 kHz, 48 ms at
//! 22.05 kHz): they hold the codec's priming, near silence, instead of the onset of
//! the first character. The stream has `ceil(samples / samples_per_frame)` frames,
//! so it is at most one frame longer than the speech, the tail being silence.
//!
//! **Determinism.** The encoder is deterministic for a given input (its SIMD and
//! scalar kernels give identical output), so the same request gets the same bytes.
//! It reads a few tuning variables of its own from the environment
//! (`MP3_RESERVOIR`, `MP3_RESV_GAIN`, `MP3_RESV_LOOKAHEAD`): leave them unset.

use rusty_mp3::encode::lametag::{DECODER_DELAY, ENCODER_DELAY};
use rusty_mp3::{Mp3Encoder, Mp3EncoderConfig};

/// Samples between an input sample and the same sample out of a decoder.
pub const CODEC_DELAY: usize = ENCODER_DELAY + DECODER_DELAY;

/// Bitrates (kbit/s) by index 1 to 14, MPEG-1 Layer III.
const MPEG1_BITRATES: [u32; 14] = [
    32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
];
/// Bitrates (kbit/s) by index 1 to 14, MPEG-2/2.5 Layer III.
const MPEG2_BITRATES: [u32; 14] = [8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];

/// One MP3 stream configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mp3Spec {
    sample_rate: u32,
    bitrate_kbps: u32,
    mpeg1: bool,
    rate_index: u8,
    bitrate_index: u8,
}

/// Why the encoder's output could not be used.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum EncodeError {
    /// The encoder refused the input.
    #[error("the MP3 encoder failed: {0}")]
    Encoder(String),
    /// The encoder gave fewer frames than the audio needs.
    #[error("the MP3 encoder gave {got} frames for audio that needs {needed}")]
    ShortOutput {
        /// Frames needed.
        needed: usize,
        /// Frames produced.
        got: usize,
    },
    /// A frame does not have the header the stream was configured with.
    #[error("MP3 frame {index} has an unexpected header {header:02x?}")]
    UnexpectedFrame {
        /// Position among the audio frames.
        index: usize,
        /// Its first bytes.
        header: Vec<u8>,
    },
}

/// An encoded stream: its bytes and where each frame starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encoded {
    /// The frames, back to back.
    pub bytes: Vec<u8>,
    /// Byte offset of each frame, then the stream's length (frames + 1 entries).
    pub offsets: Vec<usize>,
}

impl Mp3Spec {
    /// The configuration for a sample rate and bitrate, if MPEG-1 or MPEG-2 Layer III
    /// has them.
    pub fn new(sample_rate: u32, bitrate_kbps: u32) -> Option<Mp3Spec> {
        let (mpeg1, rate_index) = match sample_rate {
            44_100 => (true, 0),
            48_000 => (true, 1),
            32_000 => (true, 2),
            22_050 => (false, 0),
            24_000 => (false, 1),
            16_000 => (false, 2),
            _ => return None,
        };
        let table = if mpeg1 {
            &MPEG1_BITRATES
        } else {
            &MPEG2_BITRATES
        };
        let position = table.iter().position(|&b| b == bitrate_kbps)?;
        Some(Mp3Spec {
            sample_rate,
            bitrate_kbps,
            mpeg1,
            rate_index,
            bitrate_index: position as u8 + 1,
        })
    }

    /// Samples per second.
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// Samples in one frame.
    pub fn samples_per_frame(&self) -> u32 {
        if self.mpeg1 { 1152 } else { 576 }
    }

    /// Length of one frame in milliseconds.
    pub fn frame_ms(&self) -> f64 {
        f64::from(self.samples_per_frame()) * 1000.0 / f64::from(self.sample_rate)
    }

    /// Bytes of side information (mono).
    pub fn side_info_len(&self) -> usize {
        if self.mpeg1 { 17 } else { 9 }
    }

    /// Bytes in a frame: `coefficient × bitrate / sample_rate` rounded down
    /// (coefficient 144 for MPEG-1, 72 for MPEG-2), plus the padding byte if set.
    pub fn frame_len(&self, padded: bool) -> usize {
        let coefficient: u64 = if self.mpeg1 { 144 } else { 72 };
        let bytes = coefficient * u64::from(self.bitrate_kbps) * 1000 / u64::from(self.sample_rate);
        bytes as usize + usize::from(padded)
    }

    /// The first three bytes of a frame's header: sync, version (11 = MPEG-1,
    /// 10 = MPEG-2), layer III, no CRC, bitrate, sample rate, padding.
    pub fn header_start(&self, padded: bool) -> [u8; 3] {
        let version: u8 = if self.mpeg1 { 0b11 } else { 0b10 };
        [
            0xFF,
            0xE0 | version << 3 | 0b01 << 1 | 1,
            self.bitrate_index << 4 | self.rate_index << 2 | u8::from(padded) << 1,
        ]
    }

    /// Frames needed to hold `samples` samples (a partial frame counts whole).
    pub fn frames_for_samples(&self, samples: usize) -> usize {
        samples.div_ceil(self.samples_per_frame() as usize)
    }

    /// Encodes `voice` (samples at this spec's rate, sample 0 at time 0) into
    /// [`Mp3Spec::frames_for_samples`] frames whose decoded sample `k` is `voice[k]`
    /// (see the module docs for the codec delay). Empty input gives no frame.
    pub fn encode(&self, voice: &[i16]) -> Result<Encoded, EncodeError> {
        let spf = self.samples_per_frame() as usize;
        let frames = self.frames_for_samples(voice.len());
        if frames == 0 {
            return Ok(Encoded {
                bytes: Vec::new(),
                offsets: vec![0],
            });
        }
        // Input sample j decodes at j + CODEC_DELAY, so the input starts that far
        // into the voice, and is padded with silence to fill the frames. At least a
        // frame of input: shorter, the encoder primes extra samples of its own and
        // the delay would no longer be CODEC_DELAY.
        let skip = CODEC_DELAY.min(voice.len());
        let len = (frames * spf).saturating_sub(CODEC_DELAY).max(spf);
        let mut input = Vec::with_capacity(len);
        input.extend_from_slice(&voice[skip..]);
        input.resize(len, 0);
        let mut encoder = Mp3Encoder::new(Mp3EncoderConfig {
            bitrate_kbps: self.bitrate_kbps,
            vbr_quality: None,
        });
        encoder
            .push_pcm_s16(&input, 1, self.sample_rate)
            .map_err(|e| EncodeError::Encoder(e.to_string()))?;
        encoder.finish();
        let mut bytes = Vec::with_capacity(frames * (self.frame_len(true)));
        let mut offsets = Vec::with_capacity(frames + 1);
        while offsets.len() < frames {
            let Ok(packet) = encoder.next_packet() else {
                break;
            };
            if self.is_info_tag(&packet) {
                continue;
            }
            self.check_frame(offsets.len(), &packet)?;
            offsets.push(bytes.len());
            bytes.extend_from_slice(&packet);
        }
        if offsets.len() < frames {
            return Err(EncodeError::ShortOutput {
                needed: frames,
                got: offsets.len(),
            });
        }
        // Frames past `frames` carry only the encoder's flush of silence.
        offsets.push(bytes.len());
        Ok(Encoded { bytes, offsets })
    }

    /// Whether `frame` is a Xing/Info tag frame (a silent frame whose main data
    /// starts with `Xing` or `Info`).
    fn is_info_tag(&self, frame: &[u8]) -> bool {
        let at = 4 + self.side_info_len();
        matches!(frame.get(at..at + 4), Some(b"Info" | b"Xing"))
    }

    /// An audio frame must have this spec's header (mono, no CRC) and length.
    fn check_frame(&self, index: usize, frame: &[u8]) -> Result<(), EncodeError> {
        let padded = frame.get(2).is_some_and(|b| b & 0b10 != 0);
        let ok = frame.get(..3) == Some(&self.header_start(padded)[..])
            && frame.get(3).is_some_and(|b| b >> 6 == 0b11)
            && frame.len() == self.frame_len(padded);
        if ok {
            Ok(())
        } else {
            Err(EncodeError::UnexpectedFrame {
                index,
                header: frame.iter().take(4).copied().collect(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 200 Hz tone with 1 kHz overtone, `ms` long.
    fn tone(rate: u32, ms: usize) -> Vec<i16> {
        let n = ms * rate as usize / 1000;
        (0..n)
            .map(|i| {
                let t = i as f64 / f64::from(rate);
                let v = 0.3 * (std::f64::consts::TAU * 200.0 * t).sin()
                    + 0.1 * (std::f64::consts::TAU * 1000.0 * t).sin();
                (v * 32_767.0) as i16
            })
            .collect()
    }

    #[test]
    fn frame_lengths_and_headers_follow_the_standard() {
        // 44.1 kHz, 128 kbit/s: 417.96 bytes a frame, so 417 or 418.
        let spec = Mp3Spec::new(44_100, 128).unwrap();
        assert_eq!((spec.frame_len(false), spec.frame_len(true)), (417, 418));
        assert_eq!(spec.header_start(false), [0xFF, 0xFB, 0x90]);
        assert_eq!(spec.header_start(true), [0xFF, 0xFB, 0x92]);
        let spec = Mp3Spec::new(22_050, 32).unwrap();
        assert_eq!(spec.frame_len(false), 104);
        assert_eq!(spec.header_start(false), [0xFF, 0xF3, 0x40]);
        assert_eq!(spec.samples_per_frame(), 576);
        assert_eq!(Mp3Spec::new(24_000, 48).unwrap().frame_len(false), 144);
        assert_eq!(
            Mp3Spec::new(16_000, 8).unwrap().header_start(false)[2],
            0x18
        );
        assert_eq!(Mp3Spec::new(44_100, 8), None, "8 kbit/s is MPEG-2 only");
        assert_eq!(Mp3Spec::new(11_025, 32), None, "MPEG-2.5 is not produced");
    }

    #[test]
    fn encoding_gives_one_frame_per_started_frame_of_samples() {
        for (rate, kbps) in [(44_100, 128), (44_100, 32), (22_050, 32), (24_000, 48)] {
            let spec = Mp3Spec::new(rate, kbps).unwrap();
            let spf = spec.samples_per_frame() as usize;
            for ms in [1, 10, 30, 100, 1000] {
                let voice = tone(rate, ms);
                let encoded = spec.encode(&voice).unwrap();
                let frames = voice.len().div_ceil(spf);
                assert_eq!(encoded.offsets.len(), frames + 1, "{rate}/{kbps} {ms} ms");
                assert_eq!(encoded.offsets[0], 0);
                assert_eq!(*encoded.offsets.last().unwrap(), encoded.bytes.len());
                for pair in encoded.offsets.windows(2) {
                    let frame = &encoded.bytes[pair[0]..pair[1]];
                    assert_eq!(&frame[..2], &spec.header_start(false)[..2]);
                    assert!(!spec.is_info_tag(frame), "no Info frame is sent");
                }
            }
        }
        let spec = Mp3Spec::new(44_100, 64).unwrap();
        let empty = spec.encode(&[]).unwrap();
        assert!(empty.bytes.is_empty() && empty.offsets == [0]);
    }

    #[test]
    fn encoding_is_deterministic_and_not_silent() {
        let spec = Mp3Spec::new(44_100, 128).unwrap();
        let voice = tone(44_100, 500);
        let a = spec.encode(&voice).unwrap();
        assert_eq!(a, spec.encode(&voice).unwrap());
        // A silent frame has no Huffman data: its side information is all zero.
        let side = |k: usize| &a.bytes[a.offsets[k] + 4..a.offsets[k] + 4 + spec.side_info_len()];
        assert!((1..a.offsets.len() - 1).any(|k| side(k).iter().any(|&b| b != 0)));
    }
}
