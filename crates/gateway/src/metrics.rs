//! Prometheus metrics, served as text on `GET /metrics`.
//!
//! Request counts by route and status, cache outcomes, upstream attempts by
//! provider and result, queue wait by provider and priority, request latency by
//! route, and money (a float view for dashboards; the ledger holds the exact figures).
//!
//! Each thread keeps handles to the series it has counted into, by label set: a
//! family looks a series up under its lock with SipHash, from labels it needs owned,
//! and a request counts into six of them. A handle shares its series' value, so
//! the exposition sees every count.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
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

type Fold = foldhash::fast::RandomState;

/// A float counter (money).
type Money = Counter<f64, AtomicU64>;

/// One thread's handles to the series of one [`Metrics`] (see the module docs).
#[derive(Default)]
struct Handles {
    /// The [`Metrics`] they are of: a thread that counts into another one (tests
    /// run several gateways) starts afresh.
    owner: u64,
    requests: HashMap<(&'static str, u16), Counter, Fold>,
    latency: HashMap<&'static str, Histogram, Fold>,
    cache: HashMap<(&'static str, &'static str), Counter, Fold>,
    attempts: HashMap<&'static str, Counter, Fold>,
    /// By provider, then priority.
    queue_wait: HashMap<String, Vec<(&'static str, Histogram)>, Fold>,
    /// Money spent, by tenant.
    spent: HashMap<String, Money, Fold>,
    /// Money saved, by tenant.
    saved: HashMap<String, Money, Fold>,
}

thread_local! {
    static HANDLES: RefCell<Handles> = RefCell::default();
}

/// Numbers each [`Metrics`], for [`Handles::owner`].
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// The handle under `key` in `map`, made by `make` the first time.
fn handle<K: Eq + Hash, M: Clone>(
    map: &mut HashMap<K, M, Fold>,
    key: K,
    make: impl FnOnce() -> M,
) -> M {
    map.entry(key).or_insert_with(make).clone()
}

/// [`handle`] for a key the caller has borrowed: copied only the first time.
fn named<M: Clone>(map: &mut HashMap<String, M, Fold>, key: &str, make: impl FnOnce() -> M) -> M {
    match map.get(key) {
        Some(m) => m.clone(),
        None => handle(map, key.to_owned(), make),
    }
}

/// The gateway's metrics.
#[derive(Debug)]
pub struct Metrics {
    /// Tells this thread's [`Handles`] whose they are.
    id: u64,
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
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
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
    /// `f` on this thread's handles to these metrics; `None` while the thread
    /// is being torn down (the caller then goes to the families).
    fn local<T>(&self, f: impl FnOnce(&mut Handles) -> T) -> Option<T> {
        HANDLES
            .try_with(|handles| {
                let mut handles = handles.try_borrow_mut().ok()?;
                if handles.owner != self.id {
                    *handles = Handles {
                        owner: self.id,
                        ..Handles::default()
                    };
                }
                Some(f(&mut handles))
            })
            .ok()
            .flatten()
    }

    /// Counts an answered request.
    pub fn request(&self, route: &'static str, status: u16, elapsed: Duration) {
        let count = || {
            self.requests
                .get_or_create(&RouteStatus { route, status })
                .clone()
        };
        let time = || self.latency.get_or_create(&Route { route }).clone();
        let (count, time) = self
            .local(|h| {
                (
                    handle(&mut h.requests, (route, status), count),
                    handle(&mut h.latency, route, time),
                )
            })
            .unwrap_or_else(|| (count(), time()));
        count.inc();
        time.observe(elapsed.as_secs_f64());
    }

    /// Counts a cache outcome.
    pub fn cache(&self, route: &'static str, outcome: &'static str) {
        let make = || {
            self.cache
                .get_or_create(&CacheLabels { route, outcome })
                .clone()
        };
        self.local(|h| handle(&mut h.cache, (route, outcome), make))
            .unwrap_or_else(make)
            .inc();
    }

    /// Records a queue wait.
    pub fn queue_wait(&self, provider: &str, priority: &'static str, waited: Duration) {
        let make = || {
            let labels = ProviderPriority {
                provider: provider.to_owned(),
                priority,
            };
            self.queue_wait.get_or_create(&labels).clone()
        };
        self.local(|h| {
            let by_priority = match h.queue_wait.get_mut(provider) {
                Some(by_priority) => by_priority,
                None => h.queue_wait.entry(provider.to_owned()).or_default(),
            };
            // a handful of priorities: a scan is cheaper than a hash
            match by_priority.iter().find(|(p, _)| *p == priority) {
                Some((_, histogram)) => histogram.clone(),
                None => {
                    let histogram = make();
                    by_priority.push((priority, histogram.clone()));
                    histogram
                }
            }
        })
        .unwrap_or_else(make)
        .observe(waited.as_secs_f64());
    }

    /// Counts upstream attempts.
    pub fn attempts(&self, route: &'static str, attempts: u32) {
        let make = || self.attempts.get_or_create(&Route { route }).clone();
        self.local(|h| handle(&mut h.attempts, route, make))
            .unwrap_or_else(make)
            .inc_by(u64::from(attempts));
    }

    /// Adds money spent and saved.
    pub fn money(&self, tenant: &str, cost: f64, saved: f64) {
        let labels = || TenantLabels {
            tenant: tenant.to_owned(),
        };
        if cost > 0.0 {
            let make = || self.cost.get_or_create(&labels()).clone();
            self.local(|h| named(&mut h.spent, tenant, make))
                .unwrap_or_else(make)
                .inc_by(cost);
        }
        if saved > 0.0 {
            let make = || self.saved.get_or_create(&labels()).clone();
            self.local(|h| named(&mut h.saved, tenant, make))
                .unwrap_or_else(make)
                .inc_by(saved);
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

    #[test]
    fn counts_from_several_threads_into_several_gateways_each_land_in_their_own() {
        let (one, two) = (Metrics::default(), Metrics::default());
        let count = |m: &Metrics| {
            m.request("chat", 200, Duration::from_millis(3));
            m.cache("chat", "miss");
            m.attempts("chat", 2);
            m.queue_wait("openai", "high", Duration::from_millis(1));
            m.money("alpha", 0.5, 0.0);
        };
        // one thread alternating between them, and another thread
        count(&one);
        count(&two);
        count(&one);
        std::thread::scope(|s| {
            s.spawn(|| count(&one));
        });
        let (one, two) = (one.render(), two.render());
        for (text, n) in [(&one, 3), (&two, 1)] {
            for series in [
                format!("gatebench_requests_total{{route=\"chat\",status=\"200\"}} {n}"),
                format!("gatebench_request_duration_seconds_count{{route=\"chat\"}} {n}"),
                format!("gatebench_cache_total{{route=\"chat\",outcome=\"miss\"}} {n}"),
                format!(
                    "gatebench_upstream_attempts_total{{route=\"chat\"}} {}",
                    2 * n
                ),
                format!(
                    "gatebench_queue_wait_seconds_count{{provider=\"openai\",priority=\"high\"}} {n}"
                ),
                format!(
                    "gatebench_cost_usd_total{{tenant=\"alpha\"}} {}",
                    0.5 * f64::from(n)
                ),
            ] {
                assert!(text.contains(&series), "{series} in\n{text}");
            }
            assert!(
                !text.contains("gatebench_saved_usd_total{"),
                "nothing was saved, so there is no series: {text}"
            );
        }
    }
}
