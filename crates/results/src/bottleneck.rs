//! A run's evidence for the bottleneck finder: its latency, the `server-timing`
//! parts its target sent, the CPU the monitor sampled and the requests in flight.
//! The mocks' books are not in results: whoever read them adds them
//! ([`gatebench_analysis::UpstreamTruth`]).

use std::collections::BTreeMap;

use gatebench_analysis::{CpuUse, Evidence, PartTiming};

use crate::hist::Hist;
use crate::run::RunResults;
use crate::store::{Store, US_TO_MS};

impl RunResults {
    /// What this run measured about where its time went, as one load level of
    /// `load` `unit`; `store` holds its histograms (the one it was built from, or
    /// [`RunResults::store`]).
    pub fn evidence(&self, store: &Store, load: f64, unit: &str) -> Evidence {
        let latency = store.answered_latency().summary(US_TO_MS);
        let mut parts: BTreeMap<String, Hist> = BTreeMap::new();
        for request in &store.requests {
            for (name, h) in &request.server_timing {
                parts.entry(name.clone()).or_default().merge(h);
            }
        }
        let server_timing = parts
            .into_iter()
            .filter_map(|(name, h)| {
                let s = h.summary(US_TO_MS)?;
                Some((
                    name,
                    PartTiming {
                        mean_ms: s.mean,
                        p95_ms: s.p95,
                    },
                ))
            })
            .collect();
        let in_flight = &self.timeseries;
        Evidence {
            load,
            unit: unit.to_owned(),
            requests: self.totals.ok + self.totals.failed,
            latency_mean_ms: latency.as_ref().map(|s| s.mean),
            latency_p95_ms: latency.as_ref().map(|s| s.p95),
            server_timing,
            upstream_truth: None,
            cpu: self.cpu_use(),
            cores: self.resources.as_ref().and_then(|r| r.cores),
            in_flight_mean: (!in_flight.is_empty()).then(|| {
                let sum: u64 = in_flight.iter().map(|p| p.total.in_flight).sum();
                (sum as f64 / in_flight.len() as f64 * 10.0).round() / 10.0
            }),
            upstream_concurrency: None,
        }
    }

    /// Mean and peak CPU of every target the monitor sampled; the first sample,
    /// whose rates have no earlier reading, is left out when there are others.
    fn cpu_use(&self) -> Vec<CpuUse> {
        let Some(resources) = &self.resources else {
            return Vec::new();
        };
        resources
            .series
            .iter()
            .filter(|s| s.metric == "cpu_percent")
            .filter_map(|s| {
                let points = if s.points.len() > 1 {
                    &s.points[1..]
                } else {
                    &s.points[..]
                };
                let values = points.iter().map(|p| p[1]);
                let max = values.clone().reduce(f64::max)?;
                let mean = values.sum::<f64>() / points.len() as f64;
                let system = resources
                    .targets
                    .iter()
                    .any(|t| t.name == s.target && t.kind == "system");
                Some(CpuUse {
                    target: s.target.clone(),
                    system,
                    pid: s.pid,
                    mean_percent: (mean * 10.0).round() / 10.0,
                    max_percent: (max * 10.0).round() / 10.0,
                })
            })
            .collect()
    }
}
