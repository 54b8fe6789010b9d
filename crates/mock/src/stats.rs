//! Request counts by route and outcome, served by `GET /_mock/stats`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;

/// Counters of one mock.
#[derive(Debug)]
pub struct Stats {
    counts: Mutex<BTreeMap<String, BTreeMap<&'static str, u64>>>,
    in_flight: AtomicU64,
    since: Mutex<Instant>,
}

/// What `GET /_mock/stats` returns.
#[derive(Debug, Serialize)]
pub struct StatsSnapshot {
    /// Which mock.
    pub mock: &'static str,
    /// Requests ended (answered, cut, or left without an answer, as the books
    /// count them) since start or the last reset.
    pub requests: u64,
    /// Requests being served now.
    pub in_flight: u64,
    /// Seconds since start or the last reset.
    pub uptime_seconds: f64,
    /// Route → outcome → count.
    pub by_route: BTreeMap<String, BTreeMap<&'static str, u64>>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            counts: Mutex::default(),
            in_flight: AtomicU64::new(0),
            since: Mutex::new(Instant::now()),
        }
    }
}

impl Stats {
    /// Counts one ended request under the outcome its books entry has.
    pub fn record(&self, route: &str, outcome: &'static str) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        match counts.get_mut(route) {
            Some(by_outcome) => *by_outcome.entry(outcome).or_default() += 1,
            None => {
                counts.insert(route.to_owned(), BTreeMap::from([(outcome, 1)]));
            }
        }
    }

    /// Marks a request as started; the guard marks it finished when dropped, which for
    /// a streamed response is when its body ends.
    pub fn enter(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(Arc::clone(self))
    }

    /// Current counts.
    pub fn snapshot(&self, mock: &'static str) -> StatsSnapshot {
        let by_route = self
            .counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let requests = by_route.values().flat_map(|m| m.values()).sum();
        let since = *self.since.lock().unwrap_or_else(|e| e.into_inner());
        StatsSnapshot {
            mock,
            requests,
            in_flight: self.in_flight.load(Ordering::Relaxed),
            uptime_seconds: since.elapsed().as_secs_f64(),
            by_route,
        }
    }

    /// Forgets every count (requests in flight stay counted as in flight).
    pub fn clear(&self) {
        self.counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        *self.since.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
    }
}

/// A request in flight; see [`Stats::enter`].
#[derive(Debug)]
pub struct InFlight(Arc<Stats>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}
