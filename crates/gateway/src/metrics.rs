//! Prometheus metrics, served as text on `GET /metrics`.
//!
//! Request counts by route and status, cache outcomes, upstream attempts by
//! provider and result, queue wait by provider and priority, request latency by
//! route, and money (a float view for dashboards; the ledger holds the exact figures).

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteStatus {
    route: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Route {
    route: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    route: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProviderPriority {
    provider: String,
    priority: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TenantLabels {
    tenant: String,
}

/// The gateway's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RouteStatus, Counter>,
    latency: Family<Route, Histogram, fn() -> Histogram>,
    cache: Family<CacheLabels, Counter>,
    queue_wait: Family<ProviderPriority, Histogram, fn() -> Histogram>,
    attempts: Family<Route, Counter>,
    cost: Family<TenantLabels, Counter<f64, std::sync::atomic::AtomicU64>>,
    saved: Family<TenantLabels, Counter<f64, std::sync::atomic::AtomicU64>>,
    in_flight: Gauge,
    resident: Gauge,
}

fn latency_histogram() -> Histogram {
    // 0.5 ms .. ~65 s
    Histogram::new(exponential_buckets(0.0005, 2.0, 18))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("gatebench");
        let requests = Family::<RouteStatus, Counter>::default();
        let latency =
            Family::<Route, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        let cache = Family::<CacheLabels, Counter>::default();
        let queue_wait =
            Family::<ProviderPriority, Histogram, fn() -> Histogram>::new_with_constructor(
                latency_histogram,
            );
        let attempts = Family::<Route, Counter>::default();
        let cost = Family::<TenantLabels, Counter<f64, std::sync::atomic::AtomicU64>>::default();
        let saved = Family::<TenantLabels, Counter<f64, std::sync::atomic::AtomicU64>>::default();
        let in_flight = Gauge::default();
        let resident = Gauge::default();
        registry.register(
            "requests",
            "Requests answered, by route and HTTP status",
            requests.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time to the response head, by route",
            latency.clone(),
        );
        registry.register(
            "cache",
            "Cache outcomes (hit, miss, bypass), by route",
            cache.clone(),
        );
        registry.register(
            "queue_wait_seconds",
            "Time waited for an upstream slot",
            queue_wait.clone(),
        );
        registry.register(
            "upstream_attempts",
            "Upstream attempts, retries included, by route",
            attempts.clone(),
        );
        registry.register(
            "cost_usd",
            "Money spent upstream, by tenant (exact figures: the ledger)",
            cost.clone(),
        );
        registry.register(
            "saved_usd",
            "Money the cache saved, by tenant",
            saved.clone(),
        );
        registry.register(
            "in_flight_requests",
            "Requests being served",
            in_flight.clone(),
        );
        registry.register(
            "process_resident_memory_bytes",
            "Resident memory of this process",
            resident.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            cache,
            queue_wait,
            attempts,
            cost,
            saved,
            in_flight,
            resident,
        }
    }
}

impl Metrics {
    /// Counts an answered request.
    pub fn request(&self, route: &'static str, status: u16, elapsed: Duration) {
        self.requests
            .get_or_create(&RouteStatus { route, status })
            .inc();
        self.latency
            .get_or_create(&Route { route })
            .observe(elapsed.as_secs_f64());
    }

    /// Counts a cache outcome.
    pub fn cache(&self, route: &'static str, outcome: &'static str) {
        self.cache
            .get_or_create(&CacheLabels { route, outcome })
            .inc();
    }

    /// Records a queue wait.
    pub fn queue_wait(&self, provider: &str, priority: &'static str, waited: Duration) {
        let labels = ProviderPriority {
            provider: provider.to_owned(),
            priority,
        };
        self.queue_wait
            .get_or_create(&labels)
            .observe(waited.as_secs_f64());
    }

    /// Counts upstream attempts.
    pub fn attempts(&self, route: &'static str, attempts: u32) {
        self.attempts
            .get_or_create(&Route { route })
            .inc_by(u64::from(attempts));
    }

    /// Adds money spent and saved.
    pub fn money(&self, tenant: &str, cost: f64, saved: f64) {
        let labels = TenantLabels {
            tenant: tenant.to_owned(),
        };
        if cost > 0.0 {
            self.cost.get_or_create(&labels).inc_by(cost);
        }
        if saved > 0.0 {
            self.saved.get_or_create(&labels).inc_by(saved);
        }
    }

    /// The in-flight gauge.
    pub fn in_flight(&self) -> &Gauge {
        &self.in_flight
    }

    /// Prometheus text exposition (resident memory read now).
    pub fn render(&self) -> String {
        if let Some(bytes) = resident_bytes() {
            self.resident.set(i64::try_from(bytes).unwrap_or(i64::MAX));
        }
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// Resident memory of this process, bytes.
fn resident_bytes() -> Option<u64> {
    let pid = sysinfo::get_current_pid().ok()?;
    let mut system = sysinfo::System::new();
    system.refresh_processes_specifics(
        sysinfo::ProcessesToUpdate::Some(&[pid]),
        false,
        sysinfo::ProcessRefreshKind::nothing().with_memory(),
    );
    system.process(pid).map(sysinfo::Process::memory)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_has_the_registered_metrics() {
        let m = Metrics::default();
        m.request("chat", 200, Duration::from_millis(3));
        m.cache("chat", "hit");
        m.money("alpha", 0.25, 0.0);
        let text = m.render();
        assert!(
            text.contains("gatebench_requests_total{route=\"chat\",status=\"200\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("gatebench_cache_total{route=\"chat\",outcome=\"hit\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("gatebench_cost_usd_total{tenant=\"alpha\"} 0.25"),
            "{text}"
        );
        assert!(
            text.contains("gatebench_request_duration_seconds_bucket"),
            "{text}"
        );
    }
}
