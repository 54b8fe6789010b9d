//! Percentiles of values the suite derives from request records (queue waits by
//! priority, similarities), read from HDR histograms like the driver's own.

use hdrhistogram::Histogram;

/// Values in milliseconds, kept at microsecond resolution with 3 significant digits.
#[derive(Debug)]
pub struct Millis {
    hist: Histogram<u64>,
}

impl Default for Millis {
    fn default() -> Self {
        Millis {
            hist: Histogram::new(3)
                .unwrap_or_else(|_| unreachable!("3 significant digits is valid")),
        }
    }
}

impl Millis {
    /// Records one value (negative or non-finite values are ignored).
    pub fn record(&mut self, ms: f64) {
        if ms.is_finite() && ms >= 0.0 {
            let _ = self.hist.record((ms * 1000.0).round() as u64);
        }
    }

    /// Number of values.
    pub fn count(&self) -> u64 {
        self.hist.len()
    }

    /// The value at quantile `q` (0..=1), ms; `None` without values.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        (!self.hist.is_empty()).then(|| self.hist.value_at_quantile(q) as f64 / 1000.0)
    }
}

impl FromIterator<f64> for Millis {
    fn from_iter<I: IntoIterator<Item = f64>>(iter: I) -> Self {
        let mut m = Millis::default();
        iter.into_iter().for_each(|v| m.record(v));
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_come_from_the_histogram() {
        let m: Millis = (1..=1000).map(f64::from).collect();
        assert_eq!(m.count(), 1000);
        let p95 = m.quantile(0.95).unwrap();
        assert!((p95 - 950.0).abs() <= 1.0, "{p95}");
        assert_eq!(Millis::default().quantile(0.5), None);
    }
}
