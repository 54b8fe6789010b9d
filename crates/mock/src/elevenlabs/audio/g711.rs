//! G.711 companding of 16-bit samples: μ-law (`ulaw_8000`, what telephony such as
//! Twilio expects) and A-law (`alaw_8000`).

const ULAW_BIAS: i32 = 0x84;
const ULAW_CLIP: i32 = 32_635;

/// One 16-bit sample as μ-law.
pub fn ulaw(sample: i16) -> u8 {
    let mut magnitude = i32::from(sample);
    let sign: u8 = if magnitude < 0 {
        magnitude = -magnitude;
        0x80
    } else {
        0
    };
    let biased = magnitude.min(ULAW_CLIP) + ULAW_BIAS;
    // The segment is the position of the highest set bit above bit 7.
    let exponent = (31 - biased.leading_zeros() as i32 - 7).clamp(0, 7);
    let mantissa = (biased >> (exponent + 3)) & 0x0F;
    !(sign | (exponent as u8) << 4 | mantissa as u8)
}

/// One μ-law byte back to a 16-bit sample.
pub fn ulaw_decode(byte: u8) -> i16 {
    let byte = !byte;
    let exponent = i32::from((byte >> 4) & 0x07);
    let mantissa = i32::from(byte & 0x0F);
    let magnitude = (((mantissa << 3) + ULAW_BIAS) << exponent) - ULAW_BIAS;
    if byte & 0x80 != 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

/// One 16-bit sample as A-law.
pub fn alaw(sample: i16) -> u8 {
    // A-law works on 13 bits.
    let mut value = i32::from(sample) >> 3;
    let mask: u8 = if value >= 0 {
        0xD5
    } else {
        value = -value - 1;
        0x55
    };
    let segment = (0..8).find(|&s| value < (0x20 << s)).unwrap_or(8);
    if segment >= 8 {
        return 0x7F ^ mask;
    }
    let shift = if segment < 2 { 1 } else { segment };
    let encoded = (segment as u8) << 4 | ((value >> shift) & 0x0F) as u8;
    encoded ^ mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulaw_known_values() {
        assert_eq!(ulaw(0), 0xFF);
        assert_eq!(ulaw(-1), 0x7F);
        assert_eq!(ulaw(32_767), 0x80);
        assert_eq!(ulaw(-32_768), 0x00);
        assert_eq!(ulaw(1000), 0xCE);
        assert_eq!(ulaw(-1000), 0x4E);
        assert_eq!(ulaw_decode(0xFF), 0);
        assert_eq!(ulaw_decode(0x80), 32_124);
        assert_eq!(ulaw_decode(0x00), -32_124);
    }

    #[test]
    fn ulaw_round_trips_within_half_a_step() {
        for sample in (-32_768i32..=32_767).step_by(37) {
            let back = i32::from(ulaw_decode(ulaw(sample as i16)));
            let error = (back - sample).abs();
            // Steps double with each segment: about 1/16 of the magnitude, and the
            // largest code stands for 32124, so values beyond it clip.
            let allowed = if sample.abs() > 32_124 {
                sample.abs() - 32_124 + 1
            } else {
                sample.abs() / 16 + 8
            };
            assert!(error <= allowed, "{sample} -> {back}");
        }
    }

    #[test]
    fn alaw_known_values() {
        assert_eq!(alaw(0), 0xD5);
        assert_eq!(alaw(-1), 0x55);
        assert_eq!(alaw(32_767), 0xAA);
        assert_eq!(alaw(-32_768), 0x2A);
        assert_eq!(alaw(1000), 0xFA);
    }
}
