//! MPEG audio Layer III frames, mono, constant bitrate, carrying silence.
//!
//! A frame is a 4-byte header, side information (17 bytes for MPEG-1 mono, 9 for
//! MPEG-2 mono) and main data. With the side information all zero, every granule has
//! `part2_3_length = 0`: no Huffman data, so decoders output silence; the rest of the
//! frame is zero padding. MPEG-1 serves 32, 44.1 and 48 kHz with 1152 samples per
//! frame; MPEG-2 LSF serves 16, 22.05 and 24 kHz with 576. A frame is
//! `coefficient × bitrate / sample_rate` bytes (coefficient 144 for MPEG-1, 72 for
//! MPEG-2), rounded down, plus one padding byte on the frames where the running
//! remainder carries over, so the average bitrate is exact.

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

    fn slot_bytes(&self) -> (u64, u64) {
        let coefficient: u64 = if self.mpeg1 { 144 } else { 72 };
        let numerator = coefficient * u64::from(self.bitrate_kbps) * 1000;
        let rate = u64::from(self.sample_rate);
        (numerator / rate, numerator % rate)
    }

    /// Byte offset of frame `k` (for `k` = frame count: the stream's length).
    pub fn offset(&self, k: usize) -> usize {
        let (base, remainder) = self.slot_bytes();
        let k = k as u64;
        (k * base + k * remainder / u64::from(self.sample_rate)) as usize
    }

    /// Whether frame `k` carries the padding byte.
    pub fn padded(&self, k: usize) -> bool {
        let (base, _) = self.slot_bytes();
        (self.offset(k + 1) - self.offset(k)) as u64 > base
    }

    /// The 4-byte header of a frame.
    pub fn header(&self, padded: bool) -> [u8; 4] {
        // Sync, version (11 = MPEG-1, 10 = MPEG-2), layer III (01), no CRC.
        let version: u8 = if self.mpeg1 { 0b11 } else { 0b10 };
        [
            0xFF,
            0xE0 | version << 3 | 0b01 << 1 | 1,
            self.bitrate_index << 4 | self.rate_index << 2 | u8::from(padded) << 1,
            // Mono, no mode extension, not copyrighted, original, no emphasis.
            0b11 << 6 | 1 << 2,
        ]
    }

    /// Frames needed to hold `duration_ms` of audio (a partial frame counts whole).
    pub fn frames_for(&self, duration_ms: u64) -> usize {
        let samples = duration_ms * u64::from(self.sample_rate);
        samples.div_ceil(1000 * u64::from(self.samples_per_frame())) as usize
    }

    /// `frames` silent frames.
    pub fn silence(&self, frames: usize) -> Vec<u8> {
        let mut out = vec![0u8; self.offset(frames)];
        for k in 0..frames {
            let at = self.offset(k);
            out[at..at + 4].copy_from_slice(&self.header(self.padded(k)));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_sizes_match_the_standard_formula() {
        // 44.1 kHz, 128 kbit/s: 417.96 bytes a frame, so 417 or 418.
        let spec = Mp3Spec::new(44_100, 128).unwrap();
        let sizes: Vec<usize> = (0..100)
            .map(|k| spec.offset(k + 1) - spec.offset(k))
            .collect();
        assert!(sizes.iter().all(|&s| s == 417 || s == 418));
        assert_eq!(spec.offset(100), 41_795, "100 frames average 417.96 bytes");
        // 22.05 kHz MPEG-2, 32 kbit/s: 104.49 bytes.
        let spec = Mp3Spec::new(22_050, 32).unwrap();
        assert_eq!(spec.offset(1000), 104_489);
        assert_eq!(spec.samples_per_frame(), 576);
        // 24 kHz, 48 kbit/s divides evenly: 144 bytes, never padded.
        let spec = Mp3Spec::new(24_000, 48).unwrap();
        assert!((0..50).all(|k| spec.offset(k + 1) - spec.offset(k) == 144 && !spec.padded(k)));
        // 44.1 kHz at 32, 64, 96 and 192 kbit/s.
        for (kbps, size) in [(32, 104), (64, 208), (96, 313), (192, 626)] {
            let spec = Mp3Spec::new(44_100, kbps).unwrap();
            assert_eq!(spec.offset(1), size, "{kbps} kbit/s");
        }
    }

    #[test]
    fn headers_encode_version_rate_bitrate_padding_and_mono() {
        let spec = Mp3Spec::new(44_100, 128).unwrap();
        assert_eq!(spec.header(false), [0xFF, 0xFB, 0x90, 0xC4]);
        assert_eq!(spec.header(true), [0xFF, 0xFB, 0x92, 0xC4]);
        let spec = Mp3Spec::new(22_050, 32).unwrap();
        assert_eq!(spec.header(false), [0xFF, 0xF3, 0x40, 0xC4]);
        let spec = Mp3Spec::new(16_000, 8).unwrap();
        assert_eq!(spec.header(false)[2], 0x18);
        assert_eq!(Mp3Spec::new(44_100, 8), None, "8 kbit/s is MPEG-2 only");
        assert_eq!(Mp3Spec::new(11_025, 32), None, "MPEG-2.5 is not produced");
    }

    #[test]
    fn silence_is_a_chain_of_frames_that_covers_the_duration() {
        let spec = Mp3Spec::new(44_100, 64).unwrap();
        let frames = spec.frames_for(1000);
        assert_eq!(frames, 39, "1 s is 38.28 frames of 26.12 ms");
        assert!(spec.frames_for(0) == 0 && spec.frames_for(1) == 1);
        let bytes = spec.silence(frames);
        assert_eq!(bytes.len(), spec.offset(frames));
        let mut at = 0;
        let mut seen = 0;
        while at < bytes.len() {
            assert_eq!(&bytes[at..at + 2], &[0xFF, 0xFB]);
            let padded = bytes[at + 2] & 0b10 != 0;
            at += 208 + usize::from(padded);
            seen += 1;
        }
        assert_eq!((at, seen), (bytes.len(), frames));
        assert!(bytes[4..4 + spec.side_info_len()].iter().all(|&b| b == 0));
    }
}
