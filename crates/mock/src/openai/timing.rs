//! How long a generated answer takes: the latency model of the chat models, shared
//! by every generating route (chat, legacy completions, responses) whole or
//! streamed.
//!
//! Per request: a time to first token (`first_token`) and a time per output token
//! (`per_token`, what benchmark tools call TPOT: the request's mean gap between
//! content chunks), both multiplied by the capacity factor fixed at admission. Per
//! chunk: the gaps of one stream spread around that mean with a coefficient of
//! variation of `chunk_jitter` (log-normal factors), normalised so that their mean
//! is exactly the request's time per token. So a client that measures
//! `(last content chunk − first content chunk) / (chunks − 1)` finds the drawn
//! time per token, and the gaps pooled over many requests are the product of both
//! spreads.
//!
//! Waits here are before the server time scale; the pacing (`paced.rs`) scales them
//! and counts them from when the request was received.

use std::time::Duration;

use rand::{Rng, RngExt as _, SeedableRng as _};

use super::admission::Admission;
use super::profile::ChatModel;
use crate::core::RequestCtx;
use crate::delay;
use crate::rng::MockRng;

/// This request's draw of its model's latency.
#[derive(Clone, Copy, Debug)]
pub(super) struct Timing {
    /// Time to first token.
    pub first: Duration,
    /// Time per output token: the mean gap between content chunks.
    pub per_token: Duration,
    /// The capacity factor every wait is multiplied by.
    pub factor: f64,
    /// Coefficient of variation of the gaps between chunks around `per_token`.
    pub jitter: f64,
    /// Seeds the per-chunk draws, so the same request repeats its gaps.
    pub jitter_seed: u64,
}

impl Timing {
    /// This request's draw of `model`'s latency, stretched by the load `admission`
    /// found.
    pub fn draw(model: &ChatModel, ctx: &RequestCtx, admission: &Admission) -> Timing {
        // With no delays every wait is zero, whatever is drawn: nothing to draw (each
        // purpose has a generator of its own, so no other draw moves).
        if ctx.scaled(Duration::from_secs(1)).is_zero() {
            return Timing {
                first: Duration::ZERO,
                per_token: Duration::ZERO,
                factor: admission.factor(),
                jitter: 0.0,
                jitter_seed: 0,
            };
        }
        Timing {
            first: model.first_token.sample(&mut ctx.rng("first_token")),
            per_token: model.per_token.sample(&mut ctx.rng("per_token")),
            factor: admission.factor(),
            jitter: model.chunk_jitter,
            jitter_seed: ctx.rng("chunk_jitter").random(),
        }
    }

    /// The timing of an answer that first reasons for `tokens` hidden tokens:
    /// they come before the first token, at the time per token.
    pub fn thinking(self, tokens: u32) -> Timing {
        Timing {
            first: self
                .first
                .saturating_add(self.per_token.saturating_mul(tokens)),
            ..self
        }
    }

    /// Before the server time scale: the delay of a step, under load (at most a
    /// day, however steep the profile's capacity slope).
    pub fn loaded(&self, d: Duration) -> Duration {
        delay::scale(d, self.factor)
    }

    /// Before the server time scale: how long a whole (not streamed) answer of
    /// `tokens` output tokens takes, from the request's arrival to the response.
    pub fn whole(&self, tokens: u32) -> Duration {
        self.loaded(
            self.first
                .saturating_add(self.per_token.saturating_mul(tokens)),
        )
    }

    /// The loaded waits between `n + 1` successive chunks: log-normal around the
    /// time per token, their mean exactly the loaded time per token (to the
    /// nanosecond's rounding).
    pub fn gaps(&self, n: usize) -> Vec<Duration> {
        let mean = self.loaded(self.per_token);
        let sigma = log_sigma(self.jitter);
        if n == 0 || mean.is_zero() || sigma <= 0.0 {
            return vec![mean; n];
        }
        let mut rng = MockRng::seed_from_u64(self.jitter_seed);
        let raw: Vec<f64> = (0..n)
            .map(|_| (sigma * standard_normal(&mut rng)).exp())
            .collect();
        let scale = mean.as_secs_f64() * n as f64 / raw.iter().sum::<f64>();
        raw.iter()
            .map(|r| Duration::try_from_secs_f64(r * scale).unwrap_or(mean))
            .collect()
    }
}

/// σ of the log-normal whose coefficient of variation is `cv` (0 for no spread, or
/// a value that is not a positive number).
fn log_sigma(cv: f64) -> f64 {
    if cv.is_finite() && cv > 0.0 {
        (1.0 + cv * cv).ln().sqrt()
    } else {
        0.0
    }
}

/// A standard normal draw (Box–Muller).
fn standard_normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    // 1 − u is in (0, 1], so its logarithm is finite.
    let u1 = 1.0 - rng.random::<f64>();
    let u2 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing(jitter: f64, seed: u64) -> Timing {
        Timing {
            first: Duration::from_millis(400),
            per_token: Duration::from_millis(20),
            factor: 1.5,
            jitter,
            jitter_seed: seed,
        }
    }

    fn mean(gaps: &[Duration]) -> f64 {
        gaps.iter().map(Duration::as_secs_f64).sum::<f64>() / gaps.len() as f64
    }

    #[test]
    fn a_stream_s_mean_gap_is_its_loaded_time_per_token() {
        for seed in 0..50 {
            for n in [1, 2, 7, 300] {
                let gaps = timing(0.3, seed).gaps(n);
                assert_eq!(gaps.len(), n);
                assert!((mean(&gaps) - 0.030).abs() < 1e-8, "{n}: {}", mean(&gaps));
            }
        }
        assert_eq!(timing(0.3, 1).gaps(0), []);
    }

    #[test]
    fn without_jitter_every_gap_is_the_mean() {
        assert_eq!(timing(0.0, 3).gaps(4), [Duration::from_millis(30); 4]);
    }

    #[test]
    fn gaps_spread_with_the_configured_coefficient_of_variation_and_repeat() {
        let gaps = timing(0.3, 11).gaps(20_000);
        let m = mean(&gaps);
        let var = gaps
            .iter()
            .map(|g| (g.as_secs_f64() - m).powi(2))
            .sum::<f64>()
            / gaps.len() as f64;
        let cv = var.sqrt() / m;
        assert!((cv - 0.3).abs() < 0.01, "{cv}");
        assert_eq!(gaps, timing(0.3, 11).gaps(20_000));
        assert_ne!(gaps, timing(0.3, 12).gaps(20_000));
    }

    /// A load factor too large for a `Duration` (a capacity slope of `1e300`)
    /// stretches every wait to the longest delay instead of panicking the request.
    #[test]
    fn a_huge_load_factor_waits_the_longest_delay() {
        let loaded = Timing {
            factor: 1e300,
            ..timing(0.3, 2)
        };
        assert_eq!(loaded.loaded(loaded.first), crate::delay::LONGEST);
        assert_eq!(loaded.whole(u32::MAX), crate::delay::LONGEST);
        let gaps = loaded.gaps(5);
        assert_eq!(gaps.len(), 5);
        assert!(gaps.iter().all(|g| !g.is_zero()), "{gaps:?}");
    }

    /// The pooled-gap figures `default.toml` gives for gpt-4o follow from its
    /// `per_token` and `chunk_jitter` by the formula written there.
    #[test]
    fn pooled_gaps_follow_the_documented_formula() {
        let model = &super::super::OpenAiProfile::default().chat_models["gpt-4o"];
        let mut rng = MockRng::seed_from_u64(5);
        let mut pooled = Vec::new();
        for seed in 0..4000 {
            let timing = Timing {
                per_token: model.per_token.sample(&mut rng),
                factor: 1.0,
                jitter: model.chunk_jitter,
                jitter_seed: seed,
                ..timing(0.0, 0)
            };
            pooled.extend(timing.gaps(200).iter().map(Duration::as_secs_f64));
        }
        pooled.sort_by(f64::total_cmp);
        let at = |q: f64| pooled[((pooled.len() - 1) as f64 * q).round() as usize] * 1000.0;
        let (p50, p99) = (at(0.50), at(0.99));
        assert!((p50 / 11.5 - 1.0).abs() < 0.03, "p50 {p50} ms");
        assert!((p99 / 40.9 - 1.0).abs() < 0.03, "p99 {p99} ms");
    }
}
