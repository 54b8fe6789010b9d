//! Run-to-run noise: how far a figure could move by chance alone.
//!
//! - A percentile read from an HDR histogram of `n` samples: the distribution-free
//!   confidence interval of the `q` quantile. The rank of the true quantile lies in
//!   `n·q ± 1.96·√(n·q·(1−q))` with about 95 % confidence; the interval is read back
//!   from the histogram as the values at quantiles `q ± 1.96·√(q(1−q)/n)`. It needs
//!   no assumption about the latency distribution and widens by itself for small
//!   samples and extreme quantiles. When `q + 1.96·√(q(1−q)/n)` passes 1 the upper
//!   rank lies beyond the largest sample, which therefore does not bound the
//!   quantile: the interval is open above (`hi` is infinite; `null` in JSON) rather
//!   than clamped to the maximum, which would claim a precision that eight samples
//!   cannot give a p99. Below 0 the low end is clamped to the smallest sample.
//! - A rate `p` of `n` trials (error rate, cache hit rate): `p ± 1.96·√(p(1−p)/n)`
//!   from the binomial standard error, clamped to `[0, 1]`. At `p = 0` (or 1) that
//!   error is zero, which would make any first failure "significant"; there the
//!   interval is `[0, 3/n]` (or `[1 − 3/n, 1]`), the rule of three.
//!
//! A change is beyond the noise only when the two runs' intervals do not overlap.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;
use serde::Serialize;

/// z for a two-sided 95 % interval.
pub const Z95: f64 = 1.96;

/// A closed interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Interval {
    /// Low end.
    pub lo: f64,
    /// High end; infinite (`null` in JSON) when the sample does not bound it.
    pub hi: f64,
}

impl Interval {
    /// Do the two intervals share a point?
    pub fn overlaps(&self, other: &Interval) -> bool {
        self.lo <= other.hi && other.lo <= self.hi
    }
}

/// A histogram blob does not decode.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DecodeError(String);

/// Decodes one base64 HDR V2 histogram (as the driver writes them).
pub fn decode(hdr: &str) -> Result<Histogram<u64>, DecodeError> {
    let bytes = STANDARD
        .decode(hdr.trim())
        .map_err(|e| DecodeError(format!("not base64: {e}")))?;
    let mut h: Histogram<u64> = Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| DecodeError(format!("not an HDR V2 histogram: {e:?}")))?;
    h.auto(true);
    Ok(h)
}

/// Adds `other` into `into`, re-recording values if the layouts differ.
pub fn add(into: &mut Histogram<u64>, other: &Histogram<u64>) {
    if into.add(other).is_err() {
        for v in other.iter_recorded() {
            into.saturating_record_n(v.value_iterated_to(), v.count_at_value());
        }
    }
}

/// The 95 % interval of quantile `q` of `h`, in raw histogram units.
pub fn quantile_interval(h: &Histogram<u64>, q: f64) -> Option<Interval> {
    let n = h.len();
    if n == 0 || !(0.0..=1.0).contains(&q) {
        return None;
    }
    let half = Z95 * (q * (1.0 - q) / n as f64).sqrt();
    let hi = if q + half > 1.0 && q < 1.0 {
        f64::INFINITY
    } else {
        h.value_at_quantile((q + half).min(1.0)) as f64
    };
    Some(Interval {
        lo: h.value_at_quantile((q - half).max(0.0)) as f64,
        hi,
    })
}

/// The 95 % interval of a rate `p` observed over `n` trials.
pub fn rate_interval(p: f64, n: u64) -> Option<Interval> {
    if n == 0 || !p.is_finite() {
        return None;
    }
    let n = n as f64;
    let three = (3.0 / n).min(1.0);
    if p <= 0.0 {
        return Some(Interval { lo: 0.0, hi: three });
    }
    if p >= 1.0 {
        return Some(Interval {
            lo: 1.0 - three,
            hi: 1.0,
        });
    }
    let half = Z95 * (p * (1.0 - p) / n).sqrt();
    Some(Interval {
        lo: (p - half).clamp(0.0, 1.0),
        hi: (p + half).clamp(0.0, 1.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hist(values: &[u64]) -> Histogram<u64> {
        let mut h = Histogram::new(3).unwrap();
        h.auto(true);
        for v in values {
            h.record(*v).unwrap();
        }
        h
    }

    #[test]
    fn quantile_interval_narrows_with_samples() {
        let few = hist(&(1..=20).map(|v| v * 10).collect::<Vec<_>>());
        let many = hist(&(1..=20_000).map(|v| v / 100 + 1).collect::<Vec<_>>());
        let a = quantile_interval(&few, 0.5).unwrap();
        let b = quantile_interval(&many, 0.5).unwrap();
        assert!(a.hi - a.lo >= 40.0, "{a:?}");
        assert!(b.hi - b.lo <= 4.0, "{b:?}");
    }

    #[test]
    fn rate_interval_is_the_binomial_one() {
        let i = rate_interval(0.1, 100).unwrap();
        assert!(
            (i.lo - (0.1 - 1.96 * 0.03)).abs() < 1e-9 && (i.hi - (0.1 + 1.96 * 0.03)).abs() < 1e-9
        );
        assert_eq!(
            rate_interval(0.0, 300).unwrap(),
            Interval { lo: 0.0, hi: 0.01 }
        );
        assert_eq!(
            rate_interval(1.0, 300).unwrap(),
            Interval { lo: 0.99, hi: 1.0 }
        );
        assert!(rate_interval(0.5, 0).is_none());
    }

    #[test]
    fn few_samples_do_not_bound_high_quantiles() {
        let h = hist(&[10, 20, 30, 40, 50, 60, 70, 400]);
        let p99 = quantile_interval(&h, 0.99).unwrap();
        assert!(p99.hi.is_infinite() && p99.lo <= 400.0, "{p99:?}");
        let p50 = quantile_interval(&h, 0.5).unwrap();
        assert!(
            p50.hi.is_finite() && p50.lo <= 40.0 && p50.hi >= 40.0,
            "{p50:?}"
        );
    }

    #[test]
    fn bad_blobs_are_errors() {
        assert!(decode("@@@").is_err());
        assert!(decode(&STANDARD.encode(b"not a histogram")).is_err());
    }

    proptest! {
        #[test]
        fn the_interval_holds_the_estimate(values in proptest::collection::vec(1u64..1_000_000, 1..300), q in 0.0f64..=1.0) {
            let h = hist(&values);
            let i = quantile_interval(&h, q).unwrap();
            let v = h.value_at_quantile(q) as f64;
            prop_assert!(i.lo <= v && v <= i.hi, "{:?} {}", i, v);
        }
    }
}
