//! An HDR histogram that costs nothing until it records, serialises as HDR V2 in
//! base64, and summarises into the percentiles results show.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer as _, V2Serializer};
use serde::{Deserialize, Serialize};

/// Significant digits of every histogram.
pub const SIGFIG: u8 = 3;

/// A histogram is not a valid base64 HDR V2 blob.
#[derive(Debug, thiserror::Error)]
#[error("invalid histogram: {0}")]
pub struct HistDecodeError(String);

/// A lazily allocated, auto-resizing HDR histogram (3 significant digits).
#[derive(Clone, Debug, Default)]
pub struct Hist(Option<Box<Histogram<u64>>>);

/// Percentiles and extremes of a histogram in display units.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Values recorded.
    pub count: u64,
    /// Smallest.
    pub min: f64,
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest.
    pub max: f64,
}

fn new_histogram() -> Histogram<u64> {
    // auto-resizing from a small range keeps memory to what the values need
    match Histogram::new(SIGFIG) {
        Ok(h) => h,
        Err(e) => unreachable!("3 significant digits is a valid histogram: {e:?}"),
    }
}

impl Hist {
    /// Records one value.
    pub fn record(&mut self, value: u64) {
        let h = self.0.get_or_insert_with(|| Box::new(new_histogram()));
        // `saturating_record` would clamp instead of growing: only clamp what cannot fit
        if h.record(value).is_err() {
            h.saturating_record(value);
        }
    }

    /// Adds every value of `other`.
    pub fn merge(&mut self, other: &Hist) {
        if let Some(o) = &other.0 {
            self.merge_histogram(o);
        }
    }

    /// Adds every value of a plain histogram.
    pub fn merge_histogram(&mut self, other: &Histogram<u64>) {
        if other.is_empty() {
            return;
        }
        let h = self.0.get_or_insert_with(|| Box::new(new_histogram()));
        if h.add(other).is_err() {
            // an auto-resizing histogram only refuses values of an incompatible
            // precision; re-record them one by one then
            for v in other.iter_recorded() {
                let (value, count) = (v.value_iterated_to(), v.count_at_value());
                if h.record_n(value, count).is_err() {
                    h.saturating_record_n(value, count);
                }
            }
        }
    }

    /// The histogram, if anything was recorded.
    pub fn get(&self) -> Option<&Histogram<u64>> {
        self.0.as_deref().filter(|h| !h.is_empty())
    }

    /// Values recorded.
    pub fn len(&self) -> u64 {
        self.get().map_or(0, |h| h.len())
    }

    /// Nothing recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every value but keeps the allocation.
    pub fn reset(&mut self) {
        if let Some(h) = &mut self.0 {
            h.reset();
        }
    }

    /// Summary with raw values multiplied by `scale` (e.g. 0.001 for µs → ms).
    pub fn summary(&self, scale: f64) -> Option<Summary> {
        let h = self.get()?;
        let v = |x: u64| round3(x as f64 * scale);
        Some(Summary {
            count: h.len(),
            min: v(h.min()),
            mean: round3(h.mean() * scale),
            p50: v(h.value_at_quantile(0.5)),
            p90: v(h.value_at_quantile(0.9)),
            p95: v(h.value_at_quantile(0.95)),
            p99: v(h.value_at_quantile(0.99)),
            p999: v(h.value_at_quantile(0.999)),
            max: v(h.max()),
        })
    }

    /// HDR V2 (uncompressed) in standard base64; `None` when empty.
    pub fn to_base64(&self) -> Option<String> {
        let h = self.get()?;
        let mut buf = Vec::new();
        match V2Serializer::new().serialize(h, &mut buf) {
            Ok(_) => Some(STANDARD.encode(buf)),
            Err(e) => {
                tracing::warn!(error = ?e, "cannot serialise a histogram");
                None
            }
        }
    }

    /// Reads what [`Hist::to_base64`] wrote.
    pub fn from_base64(text: &str) -> Result<Hist, HistDecodeError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|e| HistDecodeError(e.to_string()))?;
        let mut h: Histogram<u64> = Deserializer::new()
            .deserialize(&mut bytes.as_slice())
            .map_err(|e| HistDecodeError(format!("{e:?}")))?;
        h.auto(true);
        Ok(Hist(Some(Box::new(h))))
    }
}

/// Rounds to three decimals so JSON shows `12.345`, not `12.345000000000001`.
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip_keeps_every_count() {
        let mut h = Hist::default();
        for v in [1, 10, 100, 1000, 10_000, 100_000, 1_000_000] {
            h.record(v);
        }
        // values far above the initial range are kept, not clamped
        let s = h.summary(1.0).unwrap();
        assert!((999_000.0..=1_001_000.0).contains(&s.max), "{s:?}");
        let text = h.to_base64().unwrap();
        let back = Hist::from_base64(&text).unwrap();
        assert_eq!(back.len(), 7);
        assert_eq!(back.summary(1.0), h.summary(1.0));
    }

    #[test]
    fn merge_adds_counts_and_keeps_extremes() {
        let mut a = Hist::default();
        let mut b = Hist::default();
        (1..=100).for_each(|v| a.record(v));
        (1000..=1100).for_each(|v| b.record(v));
        let mut decoded = Hist::from_base64(&a.to_base64().unwrap()).unwrap();
        decoded.merge(&b);
        assert_eq!(decoded.len(), 201);
        let s = decoded.summary(1.0).unwrap();
        assert_eq!(s.min, 1.0);
        assert!((1100.0..=1101.0).contains(&s.max));
    }

    #[test]
    fn empty_histograms_have_no_summary_or_blob() {
        let h = Hist::default();
        assert!(h.summary(1.0).is_none());
        assert!(h.to_base64().is_none());
        assert!(Hist::from_base64("not base64!").is_err());
    }
}
