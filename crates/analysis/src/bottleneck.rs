//! Which component holds a load level's latency, with the evidence and what to do.
//!
//! Three sources, each used where it exists:
//!
//! - the gateway's `server-timing` parts (`queue`, `cache`, `upstream`, `total`):
//!   the latency split inside the target, plus what lies outside its own total
//!   (network, connection set-up, the client);
//! - the mocks' books, for any target: the time the mocks spent serving the calls
//!   of the level, per request, against the time clients waited — the provider's
//!   share versus the target's own;
//! - the resource samples: a process within 10 points of a whole number of cores
//!   (a single-threaded server at 97 % of one core, a two-thread one at 193 %), or
//!   the machine at 90 % or more, is CPU-bound.
//!
//! Shares are of the mean latency (means add up; percentiles do not), with the
//! percentiles beside them in the evidence. The largest part is the bottleneck,
//! except that time in the target's own code (`gateway`, `target`, `network`) is
//! laid at the CPU's door when a watched process is saturated.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

/// A process this close to a whole number of cores (in points of one core) is
/// saturated.
pub const SATURATED_WITHIN_POINTS: f64 = 10.0;
/// The machine at this CPU % (of all cores) or more is saturated.
pub const SYSTEM_SATURATED_PERCENT: f64 = 90.0;

/// One `server-timing` part over a load level, ms as measured.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PartTiming {
    /// Mean.
    pub mean_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
}

/// The mocks' books over a load level.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UpstreamTruth {
    /// Calls the mocks served in the level's window.
    pub calls: u64,
    /// Time they spent serving them, summed, ms.
    pub busy_ms: f64,
    /// `busy_ms ÷` requests answered: the provider's time per client request (a
    /// retry adds to it, a cache hit takes from it).
    pub per_request_ms: f64,
}

impl UpstreamTruth {
    /// From the calls' durations (ms), shared over `requests` answered requests.
    pub fn from_calls(durations: impl IntoIterator<Item = f64>, requests: u64) -> UpstreamTruth {
        let (mut calls, mut busy) = (0, 0.0);
        for duration in durations {
            calls += 1;
            busy += duration;
        }
        UpstreamTruth {
            calls,
            busy_ms: round3(busy),
            per_request_ms: if requests > 0 {
                round3(busy / requests as f64)
            } else {
                0.0
            },
        }
    }
}

/// CPU of one watched target over a load level.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CpuUse {
    /// `system` (or, in merged results, a segment's system) or the process's name.
    pub target: String,
    /// Whether this is the machine as a whole (its % is of all cores).
    #[serde(default)]
    pub system: bool,
    /// The process id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// Mean of the samples: % of one core for a process, % of all cores for the
    /// system.
    pub mean_percent: f64,
    /// Largest sample, same unit.
    pub max_percent: f64,
}

/// What one load level measured about where its time went.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// The level: a step's load, or a run's throughput.
    pub load: f64,
    /// Unit of `load`: `VUs` or `rps`.
    pub unit: String,
    /// Requests answered (ok or failed by the target).
    pub requests: u64,
    /// Mean latency of the answered requests, ms as measured.
    pub latency_mean_ms: Option<f64>,
    /// Their 95th percentile, ms as measured.
    pub latency_p95_ms: Option<f64>,
    /// `server-timing` parts by name, where the target sent them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub server_timing: BTreeMap<String, PartTiming>,
    /// The mocks' books, where they were read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_truth: Option<UpstreamTruth>,
    /// CPU of the watched targets, where the monitor sampled them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cpu: Vec<CpuUse>,
    /// Cores of the machine, where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cores: Option<usize>,
    /// Requests in flight, mean over the level's seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_flight_mean: Option<f64>,
    /// The upstream concurrency of the provider most requests went to, where the
    /// target tells it (`GET /v1/gatebench/config`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_concurrency: Option<u64>,
}

/// A component that can hold the latency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Component {
    /// Waiting in the gateway's queue for an upstream slot.
    Queue,
    /// The gateway's cache lookup.
    Cache,
    /// The provider (the mocks).
    Upstream,
    /// The gateway's own work: its total less queue, cache and upstream.
    Gateway,
    /// The target's own time: client time less the provider's, by the books.
    Target,
    /// Outside the target's own total: network, connection set-up, the client.
    Network,
    /// A saturated CPU.
    Cpu,
    /// Not enough evidence to say.
    Unknown,
}

impl Component {
    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Component::Queue => "queue",
            Component::Cache => "cache",
            Component::Upstream => "upstream",
            Component::Gateway => "gateway",
            Component::Target => "target",
            Component::Network => "network",
            Component::Cpu => "cpu",
            Component::Unknown => "unknown",
        }
    }
}

/// One part of a level's mean latency.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Part {
    /// What the time was spent on.
    pub component: Component,
    /// Mean time per request, ms as measured.
    pub mean_ms: f64,
    /// Share of the mean latency, 0..1.
    pub share: f64,
}

/// The finding for one load level.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bottleneck {
    /// The level, as in [`Evidence::load`].
    pub load: f64,
    /// Its unit.
    pub unit: String,
    /// What holds the latency.
    pub component: Component,
    /// Share of the mean latency the bottleneck's part holds (for `cpu`, the part
    /// of the target's own time it explains), 0..1; `null` when unknown.
    pub share: Option<f64>,
    /// Where the breakdown came from: `server-timing`, `server-timing and books`
    /// (the provider's time from the books), `books` or `none`.
    pub source: String,
    /// The mean latency split into parts, largest first.
    pub breakdown: Vec<Part>,
    /// The facts behind the finding, in words.
    pub evidence: Vec<String>,
    /// What to do about it.
    pub recommendation: String,
    /// The figures it was found from.
    pub measured: Evidence,
    /// Evidence that could not be gathered (the mocks' books unreadable, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

fn pct(share: f64) -> String {
    format!("{:.0} %", share * 100.0)
}

fn ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0} ms")
    } else if v >= 1.0 {
        format!("{v:.1} ms")
    } else {
        format!("{v:.3} ms")
    }
}

/// The mean latency split into parts, and where the split came from.
///
/// The provider's time is the books' where they were read (a stream's whole
/// length, retries included), else the `upstream` part; queue, cache and the
/// gateway's own work (its total less queue, cache and upstream, all timed to the
/// response head) come from `server-timing`; what is left of the client's time is
/// `network` beside a gateway's timing, the `target`'s own time beside the books
/// alone. Empty when neither source is there.
fn breakdown(e: &Evidence) -> (Vec<Part>, &'static str) {
    let Some(client) = e.latency_mean_ms.filter(|m| *m > 0.0) else {
        return (Vec::new(), "none");
    };
    let timed = |name: &str| e.server_timing.get(name).map(|p| p.mean_ms);
    let books = e.upstream_truth.as_ref().map(|t| t.per_request_ms);
    let mut parts: Vec<(Component, f64)> = Vec::new();
    let source = match (timed("total"), books) {
        (Some(total), _) => {
            let (queue, cache) = (timed("queue").unwrap_or(0.0), timed("cache").unwrap_or(0.0));
            let upstream = timed("upstream").unwrap_or(0.0);
            let gateway = (total - queue - cache - upstream).max(0.0);
            let provider = books.unwrap_or(upstream);
            parts.push((Component::Queue, queue));
            parts.push((Component::Cache, cache));
            parts.push((Component::Upstream, provider));
            parts.push((Component::Gateway, gateway));
            parts.push((
                Component::Network,
                (client - queue - cache - provider - gateway).max(0.0),
            ));
            if books.is_some() {
                "server-timing and books"
            } else {
                "server-timing"
            }
        }
        (None, Some(provider)) => {
            parts.push((Component::Upstream, provider));
            parts.push((Component::Target, (client - provider).max(0.0)));
            "books"
        }
        (None, None) => return (Vec::new(), "none"),
    };
    let sum: f64 = parts.iter().map(|(_, v)| v).sum::<f64>().max(client);
    let mut parts: Vec<Part> = parts
        .into_iter()
        .map(|(component, mean)| Part {
            component,
            mean_ms: round3(mean),
            share: round3(mean / sum),
        })
        .collect();
    parts.sort_by(|a, b| b.mean_ms.total_cmp(&a.mean_ms));
    (parts, source)
}

/// The saturated CPUs of the level, each described.
fn saturated(e: &Evidence) -> Vec<String> {
    let mut found = Vec::new();
    for c in &e.cpu {
        if c.system {
            if c.mean_percent >= SYSTEM_SATURATED_PERCENT {
                let cores = e
                    .cores
                    .map(|n| format!(" of {n} cores"))
                    .unwrap_or_default();
                found.push(format!(
                    "the machine's CPU was {:.0} % busy{cores} (mean; peak {:.0} %)",
                    c.mean_percent, c.max_percent
                ));
            }
            continue;
        }
        let whole = (c.mean_percent / 100.0).round();
        if whole >= 1.0 && (c.mean_percent - whole * 100.0).abs() <= SATURATED_WITHIN_POINTS {
            let pid = c.pid.map(|p| format!(" (pid {p})")).unwrap_or_default();
            let of = if whole == 1.0 {
                "one core".to_owned()
            } else {
                format!("{whole:.0} cores")
            };
            found.push(format!(
                "process {}{pid} used {:.0} % CPU, all of {of} (mean; peak {:.0} %)",
                c.target, c.mean_percent, c.max_percent
            ));
        }
    }
    found
}

fn at(e: &Evidence) -> String {
    format!("at {} {}", trim(e.load), e.unit)
}

/// A load as reports write it: whole numbers bare, others to one decimal.
pub fn trim(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// The same finding with the level labelled `load` `unit` (a step test's load
/// rather than the run's throughput).
pub fn relabel(b: &Bottleneck, load: f64, unit: &str) -> Bottleneck {
    let mut again = find(&Evidence {
        load,
        unit: unit.to_owned(),
        ..b.measured.clone()
    });
    again.problems = b.problems.clone();
    again
}

/// Names the bottleneck of one load level.
pub fn find(e: &Evidence) -> Bottleneck {
    let (breakdown, source) = breakdown(e);
    let cpu = saturated(e);
    let mut evidence = Vec::new();
    if let (Some(mean), Some(p95)) = (e.latency_mean_ms, e.latency_p95_ms) {
        evidence.push(format!(
            "{} requests answered {}: latency mean {}, p95 {}",
            e.requests,
            at(e),
            ms(mean),
            ms(p95)
        ));
    }
    if source.starts_with("server-timing") {
        let mut line = "server-timing p95:".to_owned();
        for name in ["queue", "cache", "upstream", "total"] {
            if let Some(p) = e.server_timing.get(name) {
                let _ = write!(line, " {name} {}", ms(p.p95_ms));
            }
        }
        evidence.push(line);
    }
    if let Some(t) = &e.upstream_truth {
        evidence.push(format!(
            "the mocks' books: {} calls, {} at the provider per request answered",
            t.calls,
            ms(t.per_request_ms)
        ));
    }
    if !breakdown.is_empty() {
        let parts: Vec<String> = breakdown
            .iter()
            .filter(|p| p.mean_ms > 0.0)
            .map(|p| {
                format!(
                    "{} {} ({})",
                    p.component.name(),
                    ms(p.mean_ms),
                    pct(p.share)
                )
            })
            .collect();
        evidence.push(format!("mean latency by part: {}", parts.join(", ")));
    }
    evidence.extend(cpu.iter().cloned());
    if let Some(f) = e.in_flight_mean {
        evidence.push(format!("{f:.1} requests in flight on average"));
    }

    let top = breakdown.first().cloned();
    let own_time = matches!(
        top.as_ref().map(|p| p.component),
        Some(Component::Gateway | Component::Target | Component::Network)
    );
    let (component, share) = match &top {
        Some(p) if own_time && !cpu.is_empty() => (Component::Cpu, Some(p.share)),
        Some(p) => (p.component, Some(p.share)),
        None if !cpu.is_empty() => (Component::Cpu, None),
        None => (Component::Unknown, None),
    };
    let recommendation = recommend(e, component, share, top.as_ref(), &cpu);
    Bottleneck {
        load: e.load,
        unit: e.unit.clone(),
        component,
        share,
        source: source.to_owned(),
        breakdown,
        evidence,
        recommendation,
        measured: e.clone(),
        problems: Vec::new(),
    }
}

fn recommend(
    e: &Evidence,
    component: Component,
    share: Option<f64>,
    top: Option<&Part>,
    cpu: &[String],
) -> String {
    let share = share.map(pct).unwrap_or_default();
    let p95_of = |name: &str| {
        e.server_timing
            .get(name)
            .zip(e.latency_p95_ms)
            .map(|(p, total)| format!(" (p95 {} of {})", ms(p.p95_ms), ms(total)))
            .unwrap_or_default()
    };
    let at = at(e);
    match component {
        Component::Queue => {
            let limit = e
                .upstream_concurrency
                .map(|n| format!("upstream concurrency {n} is the limit"))
                .unwrap_or_else(|| "the upstream concurrency is the limit".to_owned());
            format!(
                "queue wait is {share} of latency{} {at}: {limit}; raise the provider's \
                 `concurrency` (as far as its rate limits allow), add a provider to spread \
                 over, or admit less load",
                p95_of("queue")
            )
        }
        Component::Upstream => format!(
            "the provider holds {share} of latency{} {at}: the target adds little; more \
             throughput or lower latency needs the provider's side (higher rate limits, \
             more deployments or keys, a faster model) or fewer calls (caching)",
            // server-timing's upstream ends at the response head: its p95 is the
            // provider's only when the books did not give the provider's time
            if e.upstream_truth.is_some() {
                String::new()
            } else {
                p95_of("upstream")
            }
        ),
        Component::Cache => format!(
            "cache lookups are {share} of latency{} {at}: a smaller index per partition, \
             fewer dimensions or a faster embedding model would cut it",
            p95_of("cache")
        ),
        Component::Gateway => format!(
            "the gateway's own work (its total less queue, cache and upstream) is {share} \
             of latency {at}: profile the gateway (locks, pools, the ledger, logging)"
        ),
        Component::Target => format!(
            "the target's own time (client latency less the provider's, by the mocks' \
             books) is {share} of latency {at}: the provider is not the limit; profile \
             the target (locks, connection pools, synchronous work)"
        ),
        Component::Network => format!(
            "time outside the target's own total (network, connection set-up, the load \
             generator) is {share} of latency {at}: check connection reuse and whether \
             the load generator itself is short of CPU"
        ),
        Component::Cpu => {
            let what = top
                .map(|p| {
                    format!(
                        "{} time is {share} of latency {at}, and ",
                        p.component.name()
                    )
                })
                .unwrap_or_else(|| format!("{at}, "));
            format!(
                "{what}{}: the work is CPU-bound; profile it (perf, a flamegraph) or give it \
                 more cores or replicas. If the saturated process is the load generator, \
                 figures beyond this load measure the driver: split the load into segments",
                cpu.join("; ")
            )
        }
        Component::Unknown => format!(
            "no breakdown {at}: the target sends no server-timing and no mocks' books were \
             read (name the mocks with --mocks), and no watched process was saturated"
        ),
    }
}

#[cfg(test)]
#[path = "bottleneck_tests.rs"]
mod tests;
