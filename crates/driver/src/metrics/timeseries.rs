//! The interval in progress of the per-second time series; each closes into a
//! [`Point`].

use super::{Hist, Point, US_TO_MS, round3};

/// Counters of the interval in progress.
#[derive(Debug, Default)]
pub(crate) struct Interval {
    pub requests: u64,
    pub errors: u64,
    pub dropped: u64,
    pub latency: Hist,
    /// The latencies of the interval last closed, to fold a too-short one into.
    previous: Hist,
}

impl Interval {
    /// Closes the interval into a point and starts the next one.
    pub fn close(&mut self, seconds: f64, in_flight: u64, vus: u64) -> Point {
        let q = |p: f64| {
            self.latency
                .get()
                .map(|h| round3(h.value_at_quantile(p) as f64 * US_TO_MS))
        };
        let point = Point {
            requests: self.requests,
            errors: self.errors,
            dropped: self.dropped,
            rps: if seconds > 0.0 {
                round3(self.requests as f64 / seconds)
            } else {
                0.0
            },
            in_flight,
            vus,
            p50_ms: q(0.5),
            p95_ms: q(0.95),
            p99_ms: q(0.99),
        };
        self.requests = 0;
        self.errors = 0;
        self.dropped = 0;
        std::mem::swap(&mut self.latency, &mut self.previous);
        self.latency.reset();
        point
    }

    /// Closes the interval in progress together with the one closed into `last`:
    /// the point of both, over their `seconds` together.
    pub fn fold(&mut self, last: &Point, seconds: f64, in_flight: u64, vus: u64) -> Point {
        self.requests += last.requests;
        self.errors += last.errors;
        self.dropped += last.dropped;
        self.latency.merge(&self.previous);
        self.close(seconds, in_flight, vus)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A percentile in whole milliseconds (the histogram keeps 3 digits).
    fn ms(p: Option<f64>) -> Option<f64> {
        p.map(f64::round)
    }

    #[test]
    fn a_folded_interval_is_the_point_of_both() {
        let mut iv = Interval::default();
        for ms in 1..=99 {
            iv.requests += 1;
            iv.latency.record(ms * 1000);
        }
        let first = iv.close(0.99, 3, 5);
        assert_eq!(
            (first.requests, first.rps, ms(first.p99_ms)),
            (99, 100.0, Some(99.0))
        );
        iv.requests += 1;
        iv.errors += 1;
        iv.dropped += 2;
        iv.latency.record(500_000);
        let both = iv.fold(&first, 1.0, 0, 4);
        assert_eq!((both.requests, both.errors, both.dropped), (100, 1, 2));
        assert_eq!((both.rps, both.in_flight, both.vus), (100.0, 0, 4));
        assert_eq!((ms(both.p50_ms), ms(both.p99_ms)), (Some(50.0), Some(99.0)));
        // and folds again into what it closed
        iv.requests += 1;
        iv.latency.record(1_000_000);
        let all = iv.fold(&both, 1.01, 0, 0);
        assert_eq!((all.requests, all.rps), (101, 100.0));
        assert_eq!(ms(all.p99_ms), Some(500.0));
    }
}
