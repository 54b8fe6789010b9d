//! Degradation over a run's per-second time series, found as it happens.
//!
//! A [`Detector`] is fed one [`Second`] at a time. After a warm-up it takes the
//! run's early steady window as the baseline (medians of p95 latency, throughput
//! and VUs, and the window's error rate), then compares a short rolling window with
//! it each second:
//!
//! - **latency rising**: the window's median p95 is `factor` × the baseline's or more;
//! - **throughput falling**: the window's median throughput is the baseline's ÷
//!   `factor` or less while the VUs working have not fallen as much (a planned
//!   ramp-down lowers both and is no degradation);
//! - **errors rising**: the window's error rate is `factor` × the baseline's and at
//!   least `min_error_rate`.
//!
//! Each is reported once when it starts (and again only after it has cleared).
//! Medians over windows keep a single noisy second from firing anything.
//!
//! Besides, a second whose p95 lies far from the rolling median of the seconds
//! before it (a robust z-score, `|x − median| ÷ (1.4826 × MAD)`, at least
//! `anomaly_score`) is an **anomaly**; and when p95 climbs steadily (a least-squares
//! line over the last seconds that fits well), the detector predicts when it would
//! cross `latency_threshold_ms` if the trend went on: a **predictive alert**.

use serde::{Deserialize, Serialize};

/// Settings of the detector.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DegradationConfig {
    /// Seconds at the start that are not part of the baseline (connections, caches
    /// and VUs warming up).
    pub warmup_s: usize,
    /// Seconds after the warm-up that make the baseline.
    pub baseline_s: usize,
    /// Seconds of the rolling window compared with the baseline.
    pub window_s: usize,
    /// How many times worse than the baseline counts as degraded.
    pub factor: f64,
    /// Error rate below which rising errors are not reported.
    pub min_error_rate: f64,
    /// Seconds with fewer requests than this are left out (their p95 says little).
    pub min_requests: u64,
    /// Robust z-score from which a second is an anomaly.
    pub anomaly_score: f64,
    /// Seconds before a point whose median and MAD it is judged against.
    pub anomaly_window_s: usize,
    /// p95 latency (ms, as measured) whose crossing is predicted; none: no
    /// predictions.
    pub latency_threshold_ms: Option<f64>,
    /// Seconds of the trend a prediction is fitted on.
    pub trend_window_s: usize,
    /// How far ahead (seconds) a crossing is worth an alert.
    pub horizon_s: f64,
}

impl Default for DegradationConfig {
    fn default() -> Self {
        DegradationConfig {
            warmup_s: 2,
            baseline_s: 5,
            window_s: 3,
            factor: 2.0,
            min_error_rate: 0.05,
            min_requests: 5,
            anomaly_score: 6.0,
            anomaly_window_s: 10,
            latency_threshold_ms: None,
            trend_window_s: 10,
            horizon_s: 60.0,
        }
    }
}

/// One closed second of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Second {
    /// End of the second, seconds since the run started.
    pub t: f64,
    /// Requests finished in it.
    pub requests: u64,
    /// Of them, failed.
    pub errors: u64,
    /// Requests finished per second.
    pub rps: f64,
    /// p95 latency of its requests, ms.
    pub p95_ms: Option<f64>,
    /// VUs working at its end.
    pub vus: u64,
}

/// Which figure degraded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// p95 latency rose.
    LatencyP95,
    /// Throughput fell.
    Throughput,
    /// Error rate rose.
    ErrorRate,
}

/// What the detector found; also the JSON-lines event (`type` tag).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Finding {
    /// A figure is `factor` times worse than in the baseline window.
    Degradation {
        /// When it was found, seconds since the run started.
        t: f64,
        /// Which figure.
        metric: Metric,
        /// Window value ÷ baseline value (throughput: baseline ÷ window); `null`
        /// for errors rising from a baseline of none.
        factor: Option<f64>,
        /// The baseline's value (ms, requests/s or a rate).
        baseline: f64,
        /// The window's value.
        value: f64,
        /// Seconds the window spans.
        window_s: usize,
    },
    /// A second's p95 far from the rolling median before it.
    Anomaly {
        /// The second.
        t: f64,
        /// Always `latency_p95`.
        metric: Metric,
        /// Its p95, ms.
        value: f64,
        /// Median p95 of the seconds before, ms.
        median: f64,
        /// Robust z-score: distance ÷ (1.4826 × MAD).
        score: f64,
    },
    /// p95 climbs and, on its trend, crosses the threshold soon.
    PredictiveAlert {
        /// When predicted.
        t: f64,
        /// Always `latency_p95`.
        metric: Metric,
        /// The threshold, ms.
        threshold_ms: f64,
        /// When the trend crosses it, seconds since the run started.
        predicted_t: f64,
        /// The trend's slope, ms per second.
        slope_ms_per_s: f64,
        /// p95 on the trend line now, ms.
        current_ms: f64,
    },
}

impl Metric {
    /// What the figure is, with its unit.
    pub fn label(self) -> &'static str {
        match self {
            Metric::LatencyP95 => "p95 latency (ms)",
            Metric::Throughput => "throughput (requests/s)",
            Metric::ErrorRate => "error rate",
        }
    }
}

impl Finding {
    /// The finding in one line, for summaries and reports.
    pub fn describe(&self) -> String {
        match self {
            Finding::Degradation {
                t,
                metric,
                factor,
                baseline,
                value,
                window_s,
            } => {
                let verb = match metric {
                    Metric::Throughput => "fell",
                    _ => "rose",
                };
                let times = factor.map_or_else(String::new, |f| format!(" (×{f})"));
                format!(
                    "at {t} s {} {verb} to {value}{times} over the last {window_s} s, from {baseline} in the run's early steady window",
                    metric.label()
                )
            }
            Finding::Anomaly {
                t,
                value,
                median,
                score,
                ..
            } => format!(
                "at {t} s p95 latency was {value} ms against a rolling median of {median} ms (robust z-score {score})"
            ),
            Finding::PredictiveAlert {
                t,
                threshold_ms,
                predicted_t,
                slope_ms_per_s,
                current_ms,
                ..
            } => format!(
                "at {t} s p95 latency ({current_ms} ms) was climbing {slope_ms_per_s} ms/s: on that trend it crosses {threshold_ms} ms at {predicted_t} s"
            ),
        }
    }
}

/// The baseline window's figures.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Baseline {
    p95_ms: Option<f64>,
    rps: f64,
    vus: f64,
    error_rate: f64,
}

/// Finds degradation, anomalies and trends one second at a time.
#[derive(Clone, Debug)]
pub struct Detector {
    config: DegradationConfig,
    seconds: Vec<Second>,
    baseline: Option<Baseline>,
    active: [bool; 3],
    predicted: bool,
}

fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    Some(if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    })
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

impl Detector {
    /// A detector with these settings.
    pub fn new(config: DegradationConfig) -> Detector {
        Detector {
            config,
            seconds: Vec::new(),
            baseline: None,
            active: [false; 3],
            predicted: false,
        }
    }

    /// The settings.
    pub fn config(&self) -> &DegradationConfig {
        &self.config
    }

    /// Takes the next second; returns what it revealed.
    pub fn push(&mut self, second: Second) -> Vec<Finding> {
        let mut found = Vec::new();
        if let Some(a) = self.anomaly(&second) {
            found.push(a);
        }
        self.seconds.push(second);
        let c = &self.config;
        let ready = c.warmup_s + c.baseline_s;
        if self.baseline.is_none() && self.seconds.len() >= ready {
            self.baseline = Some(self.baseline_of(c.warmup_s, ready));
        }
        if let Some(baseline) = self.baseline
            && self.seconds.len() > ready
        {
            self.compare(&baseline, second.t, &mut found);
        }
        if let Some(p) = self.prediction(second.t) {
            found.push(p);
        }
        found
    }

    fn baseline_of(&self, from: usize, to: usize) -> Baseline {
        let window = &self.seconds[from..to];
        let (rps, vus, p95, error_rate) = self.figures(window);
        Baseline {
            p95_ms: p95,
            rps: rps.unwrap_or(0.0),
            vus: vus.unwrap_or(0.0),
            error_rate: error_rate.unwrap_or(0.0),
        }
    }

    /// Median throughput, VUs and p95 of a window's busy seconds, and its error rate.
    fn figures(&self, window: &[Second]) -> (Option<f64>, Option<f64>, Option<f64>, Option<f64>) {
        let busy: Vec<&Second> = window
            .iter()
            .filter(|s| s.requests >= self.config.min_requests)
            .collect();
        let mut rps: Vec<f64> = window.iter().map(|s| s.rps).collect();
        let mut vus: Vec<f64> = window.iter().map(|s| s.vus as f64).collect();
        let mut p95: Vec<f64> = busy.iter().filter_map(|s| s.p95_ms).collect();
        let requests: u64 = window.iter().map(|s| s.requests).sum();
        let errors: u64 = window.iter().map(|s| s.errors).sum();
        let error_rate = (requests > 0).then(|| errors as f64 / requests as f64);
        (
            median(&mut rps),
            median(&mut vus),
            // most seconds of the window must be busy, or a quiet second's p95 speaks for it
            (p95.len() * 2 > window.len())
                .then(|| median(&mut p95))
                .flatten(),
            error_rate,
        )
    }

    fn compare(&mut self, baseline: &Baseline, t: f64, found: &mut Vec<Finding>) {
        let c = &self.config;
        let n = self.seconds.len();
        let window = &self.seconds[n.saturating_sub(c.window_s.max(1))..];
        let (rps, vus, p95, error_rate) = self.figures(window);
        let factor = c.factor;
        let degradation = |metric, factor, baseline, value| Finding::Degradation {
            t,
            metric,
            factor,
            baseline: round3(baseline),
            value: round3(value),
            window_s: window.len(),
        };
        let mut checks: [(Metric, Option<Finding>); 3] = [
            (Metric::LatencyP95, None),
            (Metric::Throughput, None),
            (Metric::ErrorRate, None),
        ];
        if let (Some(base), Some(now)) = (baseline.p95_ms, p95)
            && base > 0.0
            && now >= factor * base
        {
            checks[0].1 = Some(degradation(
                Metric::LatencyP95,
                Some(round3(now / base)),
                base,
                now,
            ));
        }
        if let (Some(now), Some(vus)) = (rps, vus)
            && baseline.rps > 0.0
            && now <= baseline.rps / factor
            && vus * factor > baseline.vus
        {
            let f = if now > 0.0 {
                Some(round3(baseline.rps / now))
            } else {
                None
            };
            checks[1].1 = Some(degradation(Metric::Throughput, f, baseline.rps, now));
        }
        if let Some(now) = error_rate
            && now >= c.min_error_rate
            && now >= factor * baseline.error_rate
        {
            let f = (baseline.error_rate > 0.0).then(|| round3(now / baseline.error_rate));
            checks[2].1 = Some(degradation(Metric::ErrorRate, f, baseline.error_rate, now));
        }
        for (i, (_, finding)) in checks.into_iter().enumerate() {
            match finding {
                Some(f) if !self.active[i] => {
                    self.active[i] = true;
                    found.push(f);
                }
                Some(_) => {}
                None => self.active[i] = false,
            }
        }
    }

    fn anomaly(&self, second: &Second) -> Option<Finding> {
        let c = &self.config;
        let value = second
            .p95_ms
            .filter(|_| second.requests >= c.min_requests)?;
        if self.seconds.len() < c.anomaly_window_s {
            return None;
        }
        let before = &self.seconds[self.seconds.len() - c.anomaly_window_s..];
        let mut values: Vec<f64> = before
            .iter()
            .filter(|s| s.requests >= c.min_requests)
            .filter_map(|s| s.p95_ms)
            .collect();
        if values.len() * 2 < c.anomaly_window_s {
            return None;
        }
        let med = median(&mut values)?;
        let mut deviations: Vec<f64> = values.iter().map(|v| (v - med).abs()).collect();
        let mad = median(&mut deviations)?;
        // a floor of 5 % of the median: a run steady to the microsecond has a MAD near
        // zero, and a tiny wobble would be an "anomaly"
        let spread = (1.4826 * mad).max(0.05 * med).max(1e-9);
        let score = (value - med) / spread;
        (score.abs() >= c.anomaly_score).then(|| Finding::Anomaly {
            t: second.t,
            metric: Metric::LatencyP95,
            value: round3(value),
            median: round3(med),
            score: round3(score),
        })
    }

    fn prediction(&mut self, t: f64) -> Option<Finding> {
        let c = &self.config;
        let threshold = c.latency_threshold_ms?;
        let n = self.seconds.len();
        if n < c.trend_window_s.max(3) {
            return None;
        }
        let points: Vec<(f64, f64)> = self.seconds[n - c.trend_window_s.max(3)..]
            .iter()
            .filter(|s| s.requests >= c.min_requests)
            .filter_map(|s| s.p95_ms.map(|p| (s.t, p)))
            .collect();
        let alert = fit(&points).and_then(|(slope, intercept, r2)| {
            let current = intercept + slope * t;
            if slope <= 0.0 || r2 < 0.6 || current >= threshold {
                return None;
            }
            let crossing = t + (threshold - current) / slope;
            (crossing - t <= c.horizon_s).then(|| Finding::PredictiveAlert {
                t,
                metric: Metric::LatencyP95,
                threshold_ms: threshold,
                predicted_t: round3(crossing),
                slope_ms_per_s: round3(slope),
                current_ms: round3(current),
            })
        });
        match alert {
            Some(a) if !self.predicted => {
                self.predicted = true;
                Some(a)
            }
            Some(_) => None,
            None => {
                self.predicted = false;
                None
            }
        }
    }
}

/// Least-squares line through the points: slope, intercept and R².
fn fit(points: &[(f64, f64)]) -> Option<(f64, f64, f64)> {
    if points.len() < 3 {
        return None;
    }
    let n = points.len() as f64;
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let syy: f64 = points.iter().map(|p| (p.1 - my).powi(2)).sum();
    if sxx <= 0.0 || syy <= 0.0 {
        return None;
    }
    let slope = sxy / sxx;
    let r2 = sxy * sxy / (sxx * syy);
    Some((slope, my - slope * mx, r2))
}

#[cfg(test)]
#[path = "degradation_tests.rs"]
mod tests;
