//! The `output_format` query parameter: `codec_samplerate[_bitrate]`, e.g.
//! `mp3_44100_128`, `pcm_16000`, `ulaw_8000`.

use std::fmt;

/// How the audio is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Codec {
    /// MPEG audio Layer III, mono, constant bitrate.
    Mp3,
    /// Raw signed 16-bit little-endian mono samples, no header.
    Pcm,
    /// G.711 μ-law, 8 bits per sample, no header.
    Ulaw,
    /// G.711 A-law, 8 bits per sample, no header.
    Alaw,
}

/// One output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OutputFormat {
    /// Encoding.
    pub codec: Codec,
    /// Samples per second.
    pub sample_rate: u32,
    /// Bitrate in kbit/s (MP3 only).
    pub bitrate_kbps: Option<u32>,
}

impl OutputFormat {
    /// The format when the request names none.
    pub const DEFAULT: OutputFormat = OutputFormat::mp3(44_100, 128);

    /// Every format gatebench serves, by name. ElevenLabs also offers Opus
    /// (`opus_48000_*`), which gatebench does not produce.
    pub const SUPPORTED: [&'static str; 15] = [
        "mp3_22050_32",
        "mp3_24000_48",
        "mp3_44100_32",
        "mp3_44100_64",
        "mp3_44100_96",
        "mp3_44100_128",
        "mp3_44100_192",
        "pcm_8000",
        "pcm_16000",
        "pcm_22050",
        "pcm_24000",
        "pcm_44100",
        "pcm_48000",
        "ulaw_8000",
        "alaw_8000",
    ];

    const fn mp3(sample_rate: u32, bitrate_kbps: u32) -> Self {
        OutputFormat {
            codec: Codec::Mp3,
            sample_rate,
            bitrate_kbps: Some(bitrate_kbps),
        }
    }

    /// Parses a name from [`OutputFormat::SUPPORTED`]; anything else is `None`.
    pub fn parse(name: &str) -> Option<OutputFormat> {
        if !Self::SUPPORTED.contains(&name) {
            return None;
        }
        let mut parts = name.split('_');
        let codec = match parts.next()? {
            "mp3" => Codec::Mp3,
            "pcm" => Codec::Pcm,
            "ulaw" => Codec::Ulaw,
            "alaw" => Codec::Alaw,
            _ => return None,
        };
        let sample_rate = parts.next()?.parse().ok()?;
        let bitrate_kbps = match parts.next() {
            Some(b) => Some(b.parse().ok()?),
            None => None,
        };
        Some(OutputFormat {
            codec,
            sample_rate,
            bitrate_kbps,
        })
    }

    /// The `content-type` ElevenLabs sends for this format.
    pub fn content_type(&self) -> &'static str {
        match self.codec {
            Codec::Mp3 => "audio/mpeg",
            Codec::Pcm => "audio/pcm",
            Codec::Ulaw => "audio/basic",
            Codec::Alaw => "audio/x-alaw-basic",
        }
    }

    /// Bytes per sample of the raw formats (`None` for MP3).
    pub fn bytes_per_sample(&self) -> Option<usize> {
        match self.codec {
            Codec::Mp3 => None,
            Codec::Pcm => Some(2),
            Codec::Ulaw | Codec::Alaw => Some(1),
        }
    }
}

impl Default for OutputFormat {
    fn default() -> Self {
        OutputFormat::DEFAULT
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let codec = match self.codec {
            Codec::Mp3 => "mp3",
            Codec::Pcm => "pcm",
            Codec::Ulaw => "ulaw",
            Codec::Alaw => "alaw",
        };
        write!(f, "{codec}_{}", self.sample_rate)?;
        if let Some(kbps) = self.bitrate_kbps {
            write!(f, "_{kbps}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_supported_name_parses_and_prints_back() {
        for name in OutputFormat::SUPPORTED {
            let format = OutputFormat::parse(name).unwrap();
            assert_eq!(format.to_string(), name);
        }
        assert_eq!(
            OutputFormat::parse("mp3_44100_128"),
            Some(OutputFormat::DEFAULT)
        );
        for bad in [
            "",
            "mp3",
            "mp3_44100",
            "wav_44100",
            "opus_48000_64",
            "pcm_16000_1",
        ] {
            assert_eq!(OutputFormat::parse(bad), None, "{bad}");
        }
    }
}
