//! Stretching a delay by a factor: the load factor past a soft capacity limit, the
//! server time scale, a slow-down fault. Every such product goes through [`scale`],
//! which cannot panic.
//!
//! `Duration::mul_f64` panics when the product does not fit a `Duration`, and
//! the factors come from the profile and the command line: with a capacity slope
//! of `1e300` the second request past the soft limit would panic its handler. The
//! draws of `gatebench_distr` stop at a day for the same reason; so do the waits
//! here.

use std::time::Duration;

/// Longest wait a mock makes for one delay: a day, as long as the longest draw of a
/// latency distribution. To a load test a request that answers after a day never
/// answers; the bound only keeps the arithmetic in range.
pub(crate) const LONGEST: Duration = Duration::from_secs(24 * 3600);

/// `d` times `factor`, at most [`LONGEST`]. A factor that is zero, negative or not a
/// number gives no wait (as `Delay::scaled` reads it); an infinite one gives the
/// longest.
pub(crate) fn scale(d: Duration, factor: f64) -> Duration {
    if factor.is_nan() || factor <= 0.0 {
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(d.as_secs_f64() * factor).map_or(LONGEST, |d| d.min(LONGEST))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_factor_too_large_for_a_duration_waits_the_longest_delay() {
        let second = Duration::from_secs(1);
        assert_eq!(scale(second, 1e300), LONGEST);
        assert_eq!(scale(second, f64::INFINITY), LONGEST);
        assert_eq!(scale(Duration::MAX, 2.0), LONGEST);
        assert_eq!(scale(second, 1e5), LONGEST, "over a day is a day");
    }

    #[test]
    fn no_factor_means_no_wait() {
        let second = Duration::from_secs(1);
        for factor in [0.0, -0.0, -3.0, f64::NAN, f64::NEG_INFINITY] {
            assert_eq!(scale(second, factor), Duration::ZERO, "{factor}");
        }
        assert_eq!(scale(Duration::ZERO, 1e300), Duration::ZERO);
    }

    #[test]
    fn an_ordinary_factor_is_what_mul_f64_gives() {
        for (ms, factor) in [(400, 1.0), (400, 1.5), (12, 2.5), (1, 1e-3), (90_000, 0.5)] {
            let d = Duration::from_millis(ms);
            assert_eq!(scale(d, factor), d.mul_f64(factor), "{ms} ms × {factor}");
        }
    }
}
