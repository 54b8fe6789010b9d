//! The resource monitor: samples, every interval (1 s by default), the machine
//! (CPU %: the share of all cores' time not idle; memory, network and disk bytes
//! per second), gatebench's own process (which holds the embedded stack when it
//! runs) and any local process a user names (CPU %, resident memory, threads, open
//! descriptors and sockets), and named series of a Prometheus endpoint. Each value
//! is judged against its warning and critical thresholds; a crossing is a
//! [`ResourceAlert`], handed over as it happens and kept for the results.
//!
//! The monitor runs on a thread of its own, away from the load's runtime, and
//! measures the CPU time of that thread: its cost is part of its results.

mod config;
mod procfs;
pub mod prometheus;
mod record;
mod sampler;
mod scrape;

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use config::{DEFAULT_INTERVAL, MAX_INTERVAL, MIN_INTERVAL, PrometheusConfig, ResourcesConfig};
use gatebench_analysis::ResourceAlert;
use gatebench_results::{MonitorOverhead, ResourceResults, ResourceTarget};

use record::Recorder;
use sampler::{Sampler, Watched};
use scrape::Scraper;

/// The name gatebench's own process is reported under.
pub const SELF_NAME: &str = "gatebench";

/// The monitor cannot start.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    /// A process id to watch does not exist.
    #[error("no process has id {0} (--watch-pid or resources.watch_pids)")]
    NoSuchPid(u32),
    /// A process name to watch matches no process.
    #[error("no running process is named `{0}` (--watch-process or resources.watch_processes)")]
    NoSuchProcess(String),
    /// The Prometheus URL is not usable.
    #[error("prometheus url `{url}`: {reason}")]
    Prometheus {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The monitor's thread cannot start.
    #[error("cannot start the resource monitor: {0}")]
    Thread(std::io::Error),
}

/// What the monitor is started with.
#[derive(Clone, Debug)]
pub struct MonitorPlan {
    /// What to watch and judge.
    pub config: ResourcesConfig,
    /// Where a Prometheus URL given as a path (`/metrics`) is taken: the run's
    /// target base URL.
    pub target_base: Option<String>,
    /// When the run started: sample times are seconds since then.
    pub start: Instant,
}

/// A running monitor; [`Monitor::stop`] ends it and returns what it sampled.
pub struct Monitor {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<ResourceResults>,
}

impl Monitor {
    /// Finds the processes to watch, then samples on a thread of its own until
    /// stopped, calling `on_alert` for each crossing as it happens.
    pub fn start(
        plan: MonitorPlan,
        mut on_alert: impl FnMut(&ResourceAlert) + Send + 'static,
    ) -> Result<Monitor, MonitorError> {
        let config = plan.config;
        let own = std::process::id();
        let mut processes = vec![Watched::new(SELF_NAME.to_owned(), own)];
        for &pid in &config.watch_pids {
            if !sampler::exists(pid) {
                return Err(MonitorError::NoSuchPid(pid));
            }
            if processes.iter().all(|p| p.pid != pid) {
                processes.push(Watched::new(format!("pid {pid}"), pid));
            }
        }
        for name in &config.watch_processes {
            let pids = sampler::find_by_name(name);
            if pids.is_empty() {
                return Err(MonitorError::NoSuchProcess(name.clone()));
            }
            for pid in pids {
                if let Some(p) = processes.iter_mut().find(|p| p.pid == pid) {
                    if p.pid != own {
                        p.name.clone_from(name);
                    }
                } else {
                    processes.push(Watched::new(name.clone(), pid));
                }
            }
        }
        let scraper = match &config.prometheus {
            Some(p) => Some(Scraper::new(
                p,
                plan.target_base.as_deref(),
                config.interval,
            )?),
            None => None,
        };
        let (stop, stopped) = mpsc::channel();
        // a config that skipped its check still samples at a workable pace
        let interval = config.interval.clamp(MIN_INTERVAL, MAX_INTERVAL);
        let thresholds = config.thresholds.clone();
        let start = plan.start;
        let thread = std::thread::Builder::new()
            .name("gatebench-monitor".into())
            .spawn(move || {
                // the first readings count in the monitor's cost too
                let cpu0 = procfs::thread_cpu_s();
                let began = Instant::now();
                run(
                    (cpu0, began),
                    Sampler::new(processes, thresholds),
                    scraper,
                    interval,
                    start,
                    &stopped,
                    &mut on_alert,
                )
            })
            .map_err(MonitorError::Thread)?;
        Ok(Monitor { stop, thread })
    }

    /// Stops sampling and returns what was sampled.
    pub fn stop(self) -> ResourceResults {
        let _ = self.stop.send(());
        match self.thread.join() {
            Ok(results) => results,
            Err(_) => unreachable!("the monitor thread does not panic"),
        }
    }
}

fn run(
    (cpu0, began): (Option<f64>, Instant),
    mut sampler: Sampler,
    mut scraper: Option<Scraper>,
    interval: Duration,
    start: Instant,
    stopped: &mpsc::Receiver<()>,
    on_alert: &mut dyn FnMut(&ResourceAlert),
) -> ResourceResults {
    let mut rec = Recorder::default();
    let mut samples = 0u64;
    // sample times stay on the interval's grid, however long a sample took
    let mut next = began + interval;
    let mut last = began;
    loop {
        let wait = next.saturating_duration_since(Instant::now());
        let stop = match stopped.recv_timeout(wait) {
            Err(mpsc::RecvTimeoutError::Timeout) => false,
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => true,
        };
        // a last sample at the end, unless one was just taken, so that a run
        // shorter than the interval is sampled too
        if stop && samples > 0 && last.elapsed() < interval / 2 {
            break;
        }
        let now = Instant::now();
        let t = (now.saturating_duration_since(start).as_secs_f64() * 1000.0).round() / 1000.0;
        sampler.sample(t, &mut rec, on_alert);
        if let Some(s) = &mut scraper {
            s.sample(t, &mut rec, on_alert);
        }
        samples += 1;
        last = now;
        if stop {
            break;
        }
        next += interval;
        let now = Instant::now();
        if next < now {
            // a sample slower than the interval: skip the missed ticks
            let behind = now.duration_since(next).as_nanos() / interval.as_nanos().max(1);
            next += interval * (behind as u32 + 1);
        }
    }
    let wall_s = began.elapsed().as_secs_f64();
    let cpu_s = cpu0.and_then(|c0| procfs::thread_cpu_s().map(|c1| (c1 - c0).max(0.0)));
    let mut targets = sampler.targets();
    if let Some(s) = &scraper {
        targets.push(ResourceTarget {
            name: "prometheus".into(),
            kind: "prometheus".into(),
            pid: None,
            url: Some(s.url().to_owned()),
        });
    }
    ResourceResults {
        cores: sampler.cores(),
        interval_s: interval.as_secs_f64(),
        targets,
        series: rec.series,
        alerts: rec.alerts,
        overhead: MonitorOverhead {
            samples,
            wall_s: round6(wall_s),
            cpu_s: cpu_s.map(round6),
            cpu_percent_of_core: cpu_s
                .filter(|_| wall_s > 0.0)
                .map(|c| round6(c / wall_s * 100.0)),
        },
        problems: rec.problems,
    }
}

fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}
