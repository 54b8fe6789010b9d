//! Capacity: past a soft limit of concurrent requests latency grows with load; past
//! a hard limit requests are refused. Counted per model (or per route for the
//! services), so a stress test finds a breaking point the way it would upstream.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

/// Steepest `slope` a profile may set. At 1000 the first request past a soft limit
/// of one already waits a thousand times its draw; a steeper slope is a typo, and
/// every wait it stretched would stop at the longest delay anyway.
pub const MAX_SLOPE: f64 = 1000.0;

/// A capacity whose first request past the one in flight would wait longer than a
/// `Duration` holds: what every mock's steep-slope test loads.
#[cfg(test)]
pub(crate) const STEEP: CapacityConfig = CapacityConfig {
    soft_limit: 1,
    hard_limit: 0,
    slope: 1e300,
};
/// The time scale those tests run at: a day's wait takes well under a millisecond.
#[cfg(test)]
pub(crate) const STEEP_TIME_SCALE: f64 = 1e-9;

/// Capacity of one model. Zero means no limit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CapacityConfig {
    /// Concurrent requests served at full speed.
    pub soft_limit: u32,
    /// Concurrent requests beyond which new ones are refused.
    pub hard_limit: u32,
    /// How fast latency grows past the soft limit: the delay multiplier is
    /// `1 + slope × (in_flight − soft_limit) / soft_limit`. From 0 to [`MAX_SLOPE`].
    pub slope: f64,
}

impl Default for CapacityConfig {
    fn default() -> Self {
        CapacityConfig {
            soft_limit: 0,
            hard_limit: 0,
            slope: 1.0,
        }
    }
}

/// Concurrency counters per model.
#[derive(Debug)]
pub struct Capacity {
    config: CapacityConfig,
    counters: Mutex<HashMap<String, Arc<AtomicU32>, foldhash::fast::RandomState>>,
}

/// A request holding a slot; its delays are multiplied by [`LoadPermit::factor`].
#[derive(Debug)]
pub struct LoadPermit {
    counter: Arc<AtomicU32>,
    factor: f64,
}

impl LoadPermit {
    /// Delay multiplier for this request, fixed at admission.
    pub fn factor(&self) -> f64 {
        self.factor
    }
}

impl Drop for LoadPermit {
    fn drop(&mut self) {
        self.counter.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Refused: the hard limit was reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Overloaded {
    /// Requests in flight when refused.
    pub in_flight: u32,
}

impl Capacity {
    /// Capacity from `config`.
    pub fn new(config: CapacityConfig) -> Self {
        Capacity {
            config,
            counters: Mutex::default(),
        }
    }

    /// Takes a slot for one request on `model`.
    pub fn enter(&self, model: &str) -> Result<LoadPermit, Overloaded> {
        let counter = {
            let mut counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
            match counters.get(model) {
                Some(c) => Arc::clone(c),
                None => Arc::clone(counters.entry(model.to_owned()).or_default()),
            }
        };
        let in_flight = counter.fetch_add(1, Ordering::AcqRel) + 1;
        let mut permit = LoadPermit {
            counter,
            factor: 1.0,
        };
        let CapacityConfig {
            soft_limit,
            hard_limit,
            slope,
        } = self.config;
        if hard_limit > 0 && in_flight > hard_limit {
            return Err(Overloaded {
                in_flight: in_flight - 1,
            });
        }
        if soft_limit > 0 && in_flight > soft_limit {
            permit.factor =
                1.0 + slope.max(0.0) * f64::from(in_flight - soft_limit) / f64::from(soft_limit);
        }
        Ok(permit)
    }

    /// Requests in flight on `model`.
    pub fn in_flight(&self, model: &str) -> u32 {
        let counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        counters.get(model).map_or(0, |c| c.load(Ordering::Acquire))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_grows_past_the_soft_limit_and_requests_fail_past_the_hard_one() {
        let capacity = Capacity::new(CapacityConfig {
            soft_limit: 2,
            hard_limit: 4,
            slope: 1.0,
        });
        let permits: Vec<_> = (0..4).map(|_| capacity.enter("m").unwrap()).collect();
        let factors: Vec<f64> = permits.iter().map(LoadPermit::factor).collect();
        assert_eq!(factors, [1.0, 1.0, 1.5, 2.0]);
        assert_eq!(
            capacity.enter("m").unwrap_err(),
            Overloaded { in_flight: 4 }
        );
        assert_eq!(
            capacity.in_flight("m"),
            4,
            "a refused request gives its slot back"
        );
        assert_eq!(capacity.enter("other").unwrap().factor(), 1.0);
        drop(permits);
        assert_eq!(capacity.in_flight("m"), 0);
    }
}
