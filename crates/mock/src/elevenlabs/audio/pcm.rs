//! A synthetic voice: deterministic 16-bit mono samples that follow the timeline.
//!
//! Each normalised character gets its own sound between its start and end time,
//! shaped by a short raised-cosine fade in and out: a vowel is a harmonic tone on the
//! voice's pitch with its harmonics weighted around a formant of that vowel; a voiced
//! consonant the same tone, quieter and duller; a fricative (s, f, h, ...) mostly
//! noise; spaces and punctuation silence. The pitch drifts a little from word to word
//! and falls at the end of a sentence. Nothing in it is random: noise comes from a
//! fixed generator, so the same timeline always gives the same samples.

use std::f64::consts::TAU;

use crate::elevenlabs::alignment::Timeline;

/// Fade at each character's edges.
const FADE_MS: f64 = 6.0;
/// Peak amplitude, as a share of full scale.
const LEVEL: f64 = 0.3;

/// Samples at `sample_rate` in `duration_ms`, rounded to the nearest sample.
pub fn samples_for(duration_ms: u64, sample_rate: u32) -> usize {
    ((duration_ms * u64::from(sample_rate) + 500) / 1000) as usize
}

#[derive(Clone, Copy)]
enum Sound {
    Vowel(f64),
    Voiced,
    Fricative,
    Silence,
}

fn sound(c: char) -> Sound {
    match c.to_ascii_lowercase() {
        'a' => Sound::Vowel(750.0),
        'e' => Sound::Vowel(500.0),
        'i' | 'y' => Sound::Vowel(320.0),
        'o' => Sound::Vowel(550.0),
        'u' => Sound::Vowel(380.0),
        's' | 'f' | 'h' | 'x' | 'z' | 'c' | 'j' => Sound::Fricative,
        c if c.is_alphanumeric() => Sound::Voiced,
        _ => Sound::Silence,
    }
}

/// A tiny xorshift generator: noise that is the same on every run and platform.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}

/// The samples of `timeline` spoken at `pitch_hz`, at `sample_rate`.
pub fn synthesize(timeline: &Timeline, pitch_hz: f64, sample_rate: u32) -> Vec<i16> {
    let total = samples_for(timeline.duration_ms, sample_rate);
    let mut out = vec![0i16; total];
    let rate = f64::from(sample_rate);
    let nyquist = rate / 2.0;
    let fade = (FADE_MS * rate / 1000.0).max(1.0);
    let mut noise = Noise(0x9E37_79B9_7F4A_7C15);
    let mut phase = 0.0f64;
    let mut word = 0u32;
    for (index, span) in timeline.normalized.iter().enumerate() {
        if span.ch == ' ' {
            word += 1;
        }
        let from = samples_for(span.start_ms, sample_rate).min(total);
        let to = samples_for(span.end_ms, sample_rate).min(total);
        let kind = sound(span.ch);
        if matches!(kind, Sound::Silence) || to <= from {
            continue;
        }
        let sentence_end = timeline
            .normalized
            .get(index + 1..)
            .and_then(|rest| {
                rest.iter()
                    .take(3)
                    .find(|s| matches!(s.ch, '.' | '!' | '?'))
            })
            .is_some();
        let drift = 1.0 + 0.04 * (f64::from(word) * 1.7).sin();
        let f0 = pitch_hz * drift * if sentence_end { 0.92 } else { 1.0 };
        let length = (to - from) as f64;
        for (i, slot) in out[from..to].iter_mut().enumerate() {
            let i = i as f64;
            let edge = i.min(length - 1.0 - i).max(0.0);
            let envelope = if edge < fade {
                0.5 - 0.5 * (std::f64::consts::PI * edge / fade).cos()
            } else {
                1.0
            };
            phase = (phase + f0 / rate).fract();
            let value = match kind {
                Sound::Vowel(formant) => harmonics(phase, f0, formant, nyquist),
                Sound::Voiced => 0.5 * harmonics(phase, f0, 250.0, nyquist),
                Sound::Fricative => 0.35 * noise.next() + 0.1 * (TAU * phase).sin(),
                Sound::Silence => 0.0,
            };
            *slot = (value * envelope * LEVEL * 32_767.0).clamp(-32_768.0, 32_767.0) as i16;
        }
    }
    out
}

/// Five harmonics of `f0`, weighted by closeness to `formant`, normalised to ±1.
fn harmonics(phase: f64, f0: f64, formant: f64, nyquist: f64) -> f64 {
    let mut sum = 0.0;
    let mut norm = 0.0;
    for h in 1..=5 {
        let freq = f0 * f64::from(h);
        if freq >= nyquist {
            break;
        }
        let distance = (freq - formant) / 200.0;
        let gain = 1.0 / (1.0 + distance * distance) + 0.3 / f64::from(h);
        sum += gain * (TAU * phase * f64::from(h)).sin();
        norm += gain;
    }
    if norm > 0.0 { sum / norm } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng as _;

    use super::*;
    use crate::rng::MockRng;

    fn timeline(text: &str) -> Timeline {
        Timeline::build(text, 15.0, &mut MockRng::seed_from_u64(5))
    }

    #[test]
    fn sample_count_follows_the_duration_at_every_rate() {
        let t = timeline("Hello there, how are you today?");
        for rate in [8_000, 16_000, 22_050, 24_000, 44_100, 48_000] {
            let samples = synthesize(&t, 200.0, rate);
            let expected = t.duration_ms as f64 * f64::from(rate) / 1000.0;
            assert!((samples.len() as f64 - expected).abs() <= 0.5, "{rate}");
        }
        assert_eq!(samples_for(1000, 22_050), 22_050);
        assert_eq!(samples_for(1, 22_050), 22);
    }

    #[test]
    fn letters_sound_and_spaces_and_punctuation_are_silent() {
        let t = timeline("ah, oh");
        let samples = synthesize(&t, 150.0, 16_000);
        let energy = |i: usize| {
            let s = t.normalized[i];
            let (a, b) = (
                samples_for(s.start_ms, 16_000),
                samples_for(s.end_ms, 16_000),
            );
            samples[a..b]
                .iter()
                .map(|&x| f64::from(x).abs())
                .sum::<f64>()
                / (b - a) as f64
        };
        assert!(energy(0) > 1000.0, "a vowel is loud");
        assert_eq!(energy(2), 0.0, "the comma is silent");
        assert_eq!(energy(3), 0.0, "the space is silent");
        assert_eq!(synthesize(&t, 150.0, 16_000), samples, "deterministic");
    }
}
