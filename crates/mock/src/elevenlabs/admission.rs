//! Letting a request in, and how long it takes.
//!
//! A request first takes a slot of its key's concurrency limit
//! (`rate_limits.concurrent_requests`), then a capacity slot on its model; either
//! refusal is ElevenLabs' 429 `too_many_concurrent_requests`. It then spends its
//! characters from the key's per-minute budget for that model
//! (`rate_limits.tokens_per_minute` counts characters here), refused with a 429 and
//! `retry-after`. The slots are held until the response body ends.

use std::time::Duration;

use http::{HeaderMap, StatusCode};

use super::ModelLatency;
use crate::capacity::LoadPermit;
use crate::core::{MockCore, RequestCtx};
use crate::delay;
use crate::error::{ApiError, retry_after_headers};
use crate::ratelimit::{ConcurrencyPermit, Refused};

/// Slots held by a request in flight.
#[derive(Debug)]
pub struct Admission {
    _concurrency: ConcurrencyPermit,
    load: LoadPermit,
}

impl Admission {
    /// Delay multiplier from the model's load at admission.
    pub fn factor(&self) -> f64 {
        self.load.factor()
    }
}

/// The 429 for a key past its concurrency limit.
pub fn too_many_concurrent(refused: &Refused) -> ApiError {
    ApiError::status(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_concurrent_requests",
        format!(
            "Too many concurrent requests: your limit is {}. Please retry later or upgrade your plan for a higher limit.",
            refused.limit
        ),
    )
    .headers(retry_after_headers(refused.retry_after))
    .outcome("overloaded")
}

/// Takes the key's concurrency slot and the model's capacity slot.
pub fn admit(core: &MockCore, key: &str, model: &str) -> Result<Admission, ApiError> {
    let concurrency = core
        .limits
        .acquire(key)
        .map_err(|r| too_many_concurrent(&r))?;
    let load = core.enter(model)?;
    Ok(Admission {
        _concurrency: concurrency,
        load,
    })
}

/// Spends `characters` from the key's per-minute budget on `model`.
pub fn charge(core: &MockCore, key: &str, model: &str, characters: u64) -> Result<(), Refused> {
    core.limits
        .check(&format!("{key}:{model}"), characters)
        .map(|_| ())
}

/// The 429 for a refused [`charge`].
pub fn rate_limited(core: &MockCore, refused: &Refused) -> ApiError {
    let message = rate_limit_message(refused);
    core.style
        .rate_limited(refused.retry_after, &message, HeaderMap::new())
}

/// What a refused [`charge`] says.
pub fn rate_limit_message(refused: &Refused) -> String {
    if refused.which == "requests" {
        format!(
            "Rate limit reached: {} requests per minute. Please retry after {:.1} s.",
            refused.limit,
            refused.retry_after.as_secs_f64()
        )
    } else {
        format!(
            "Rate limit reached: {} characters per minute, {} used, {} requested. Please retry after {:.1} s.",
            refused.limit,
            refused.used,
            refused.requested,
            refused.retry_after.as_secs_f64()
        )
    }
}

/// Delays drawn for one request (or one WebSocket generation), already multiplied by
/// the load factor; the time scale applies when they are slept.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pace {
    /// Before the first byte.
    pub first_byte: Duration,
    /// Per character of normalised text generated.
    pub per_character: Duration,
}

impl Pace {
    /// Draws from `latency` with `rng`.
    pub fn draw<R: rand::Rng + ?Sized>(latency: &ModelLatency, rng: &mut R, factor: f64) -> Pace {
        Pace {
            first_byte: delay::scale(latency.first_byte.sample(rng), factor),
            per_character: delay::scale(latency.per_character.sample(rng), factor),
        }
    }

    /// Draws the delays of one HTTP request.
    pub fn for_request(latency: &ModelLatency, ctx: &RequestCtx, factor: f64) -> Pace {
        Pace::draw(latency, &mut ctx.rng("latency"), factor)
    }

    /// Time to generate `characters` characters.
    pub fn generation(&self, characters: usize) -> Duration {
        self.per_character
            .saturating_mul(u32::try_from(characters).unwrap_or(u32::MAX))
    }

    /// Time to the end of an answer of `characters` characters: the first byte,
    /// then their generation.
    pub fn whole(&self, characters: usize) -> Duration {
        self.first_byte.saturating_add(self.generation(characters))
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng as _;

    use super::*;
    use crate::delay::LONGEST;
    use crate::rng::MockRng;

    /// A load factor too large for a `Duration` (a capacity slope of `1e300`) makes
    /// the longest waits, not a panic.
    #[test]
    fn a_huge_load_factor_waits_the_longest_delay() {
        let latency = ModelLatency::default();
        let pace = Pace::draw(&latency, &mut MockRng::seed_from_u64(1), 1e300);
        assert_eq!((pace.first_byte, pace.per_character), (LONGEST, LONGEST));
        assert!(pace.whole(usize::MAX) >= LONGEST);
        let calm = Pace::draw(&latency, &mut MockRng::seed_from_u64(1), 1.0);
        assert!(calm.first_byte < LONGEST && calm.whole(10) > calm.first_byte);
    }
}
