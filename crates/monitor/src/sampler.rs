//! One sample of everything watched: the machine (sysinfo and `/proc`), each
//! watched process, and the Prometheus series.
//!
//! Only the watched processes are refreshed each sample (a full process scan costs
//! milliseconds on a busy machine), and processes named rather than numbered are
//! found once, when the monitor starts.

use std::time::Instant;

use gatebench_analysis::ResourceThresholds;
use gatebench_results::ResourceTarget;
use sysinfo::{
    CpuRefreshKind, MemoryRefreshKind, Networks, Pid, ProcessRefreshKind, ProcessesToUpdate, System,
};

use crate::procfs;
use crate::record::{Recorder, Value};

/// Descriptors whose kind (socket or not) one sample may read: a process holding
/// more has its sockets counted every few samples instead, so that the monitor's
/// cost stays small whatever the load (reading one costs a `readlink`).
const SOCKET_BUDGET: u64 = 200;

/// A process being watched.
#[derive(Clone, Debug)]
pub(crate) struct Watched {
    pub name: String,
    pub pid: u32,
    gone: bool,
    /// Samples taken of it.
    samples: u64,
    /// Its sockets are counted every this many samples.
    sockets_every: u64,
    /// Its CPU time at the last sample, ms.
    cpu_ms: Option<u64>,
}

impl Watched {
    pub fn new(name: String, pid: u32) -> Watched {
        Watched {
            name,
            pid,
            gone: false,
            samples: 0,
            sockets_every: 1,
            cpu_ms: None,
        }
    }
}

/// The machine and processes' counters, and what they were at the last sample.
pub(crate) struct Sampler {
    system: System,
    networks: Networks,
    disk: Option<(u64, u64)>,
    /// The machine's idle time at the last sample (Linux only).
    idle: Option<procfs::Idle>,
    last: Instant,
    pub processes: Vec<Watched>,
    thresholds: ResourceThresholds,
}

/// Every process named `name` (sysinfo's name or the file name of its executable).
pub(crate) fn find_by_name(name: &str) -> Vec<u32> {
    // a System of its own, dropped at once: sysinfo keeps each scanned process's
    // stat file open while the System lives
    let mut system = System::new();
    system.refresh_processes_specifics(
        ProcessesToUpdate::All,
        true,
        ProcessRefreshKind::nothing().with_exe(sysinfo::UpdateKind::OnlyIfNotSet),
    );
    let mut pids: Vec<u32> = system
        .processes()
        .values()
        .filter(|p| {
            // threads are listed as processes too on Linux
            p.thread_kind().is_none()
                && (p.name() == name
                    || p.exe()
                        .and_then(|e| e.file_name())
                        .is_some_and(|f| f == name))
        })
        .map(|p| p.pid().as_u32())
        .collect();
    pids.sort_unstable();
    pids
}

/// Whether a process with this id runs now.
pub(crate) fn exists(pid: u32) -> bool {
    let mut system = System::new();
    system.refresh_processes_specifics(
        ProcessesToUpdate::Some(&[Pid::from_u32(pid)]),
        true,
        ProcessRefreshKind::nothing(),
    ) > 0
}

fn process_kind() -> ProcessRefreshKind {
    ProcessRefreshKind::nothing().with_cpu().with_memory()
}

impl Sampler {
    /// Takes the first readings that the first sample's rates are measured from.
    pub fn new(processes: Vec<Watched>, thresholds: ResourceThresholds) -> Sampler {
        let mut system = System::new();
        // the CPUs' list, and what sysinfo's CPU % is measured from where /proc is not read
        system.refresh_cpu_specifics(CpuRefreshKind::nothing().with_cpu_usage());
        let mut sampler = Sampler {
            system,
            networks: Networks::new_with_refreshed_list(),
            disk: procfs::disk_bytes(),
            idle: procfs::idle(),
            last: Instant::now(),
            processes,
            thresholds,
        };
        let pids = sampler.pids();
        sampler.system.refresh_processes_specifics(
            ProcessesToUpdate::Some(&pids),
            true,
            process_kind(),
        );
        for w in &mut sampler.processes {
            w.cpu_ms = sampler
                .system
                .process(Pid::from_u32(w.pid))
                .map(sysinfo::Process::accumulated_cpu_time);
        }
        sampler
    }

    /// The machine's logical CPUs, whose time together the system's CPU % is a share of.
    pub fn cores(&self) -> Option<usize> {
        Some(self.system.cpus().len()).filter(|n| *n > 0)
    }

    /// What is watched, for the results.
    pub fn targets(&self) -> Vec<ResourceTarget> {
        let mut out = vec![ResourceTarget {
            name: "system".into(),
            kind: "system".into(),
            pid: None,
            url: None,
        }];
        out.extend(self.processes.iter().map(|p| ResourceTarget {
            name: p.name.clone(),
            kind: "process".into(),
            pid: Some(p.pid),
            url: None,
        }));
        out
    }

    fn pids(&self) -> Vec<Pid> {
        self.processes
            .iter()
            .filter(|p| !p.gone)
            .map(|p| Pid::from_u32(p.pid))
            .collect()
    }

    /// The share of all the cores' time since the last sample that was not idle, %:
    /// from `/proc/stat`'s idle time on Linux, else sysinfo's busy share.
    fn cpu_percent(&mut self) -> f64 {
        let idle = procfs::idle();
        let before = std::mem::replace(&mut self.idle, idle);
        let from_idle = match (before, idle, self.cores()) {
            (Some(a), Some(b), Some(cores)) => procfs::busy_percent(
                a.cpu_s,
                b.cpu_s,
                b.at.duration_since(a.at).as_secs_f64(),
                cores,
            ),
            _ => None,
        };
        from_idle.unwrap_or_else(|| {
            // busy over busy and idle: on a tickless kernel the busy part misses
            // short bursts of work, hence /proc where it can be read
            self.system
                .refresh_cpu_specifics(CpuRefreshKind::nothing().with_cpu_usage());
            f64::from(self.system.global_cpu_usage())
        })
    }

    /// Samples the machine and every process; `emit` gets each alert raised.
    pub fn sample(
        &mut self,
        t: f64,
        rec: &mut Recorder,
        emit: &mut dyn FnMut(&gatebench_analysis::ResourceAlert),
    ) {
        let now = Instant::now();
        let secs = now.duration_since(self.last).as_secs_f64().max(1e-3);
        self.last = now;
        let cpu_percent = self.cpu_percent();
        self.system
            .refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram());
        self.networks.refresh(true);
        let (mut rx, mut tx) = (0u64, 0u64);
        for (name, data) in self.networks.list() {
            if name == "lo" || name.starts_with("lo0") {
                continue;
            }
            rx += data.received();
            tx += data.transmitted();
        }
        let total = self.system.total_memory() as f64;
        let used = self.system.used_memory() as f64;
        let mut values: Vec<(&'static str, &'static str, f64)> = vec![
            ("cpu_percent", "percent", cpu_percent),
            ("memory_used_bytes", "bytes", used),
            (
                "memory_percent",
                "percent",
                if total > 0.0 {
                    used / total * 100.0
                } else {
                    0.0
                },
            ),
            ("net_rx_bytes_per_s", "bytes/s", rx as f64 / secs),
            ("net_tx_bytes_per_s", "bytes/s", tx as f64 / secs),
        ];
        let disk = procfs::disk_bytes();
        if let (Some((r0, w0)), Some((r1, w1))) = (self.disk, disk) {
            values.push((
                "disk_read_bytes_per_s",
                "bytes/s",
                r1.saturating_sub(r0) as f64 / secs,
            ));
            values.push((
                "disk_write_bytes_per_s",
                "bytes/s",
                w1.saturating_sub(w0) as f64 / secs,
            ));
        }
        self.disk = disk;
        for (metric, unit, value) in values {
            let level = self.thresholds.get("system", metric);
            if let Some(a) = rec.push(
                t,
                Value {
                    target: "system",
                    pid: None,
                    metric,
                    unit,
                    value,
                    level,
                },
            ) {
                emit(&a);
            }
        }

        let pids = self.pids();
        if pids.is_empty() {
            return;
        }
        self.system.refresh_processes_specifics(
            ProcessesToUpdate::Some(&pids),
            true,
            process_kind(),
        );
        for i in 0..self.processes.len() {
            if self.processes[i].gone {
                continue;
            }
            let (name, pid) = (self.processes[i].name.clone(), self.processes[i].pid);
            let Some(p) = self.system.process(Pid::from_u32(pid)) else {
                self.processes[i].gone = true;
                rec.problem(format!(
                    "process {name} (pid {pid}) ended; no more samples of it"
                ));
                continue;
            };
            let w = &mut self.processes[i];
            let h = procfs::handles(pid, w.samples.is_multiple_of(w.sockets_every));
            w.samples += 1;
            if let Some(files) = h.open_files {
                w.sockets_every = (files / SOCKET_BUDGET).max(1);
            }
            // its CPU time over the sample's wall time: sysinfo's own figure divides
            // by the machine's busy and idle ticks, which miss short bursts of work
            let cpu_ms = p.accumulated_cpu_time();
            let cpu_percent = w
                .cpu_ms
                .replace(cpu_ms)
                .map(|before| cpu_ms.saturating_sub(before) as f64 / (secs * 1000.0) * 100.0);
            let values = [
                ("cpu_percent", "percent", cpu_percent),
                ("rss_bytes", "bytes", Some(p.memory() as f64)),
                ("threads", "count", h.threads.map(|v| v as f64)),
                ("open_files", "count", h.open_files.map(|v| v as f64)),
                ("sockets", "count", h.sockets.map(|v| v as f64)),
            ];
            for (metric, unit, value) in values {
                let Some(value) = value else { continue };
                let level = self.thresholds.get("process", metric);
                if let Some(a) = rec.push(
                    t,
                    Value {
                        target: &name,
                        pid: Some(pid),
                        metric,
                        unit,
                        value,
                        level,
                    },
                ) {
                    emit(&a);
                }
            }
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Keeps this thread on a CPU until `end`.
    fn spin_until(end: Instant) {
        let mut spins = 0u64;
        while Instant::now() < end {
            spins = std::hint::black_box(spins + 1);
        }
    }

    /// The first CPU % recorded for `target`.
    fn first_cpu_percent(rec: &Recorder, target: &str) -> f64 {
        rec.series
            .iter()
            .find(|s| s.target == target && s.metric == "cpu_percent")
            .map(|s| s.points[0][1])
            .expect("a CPU figure")
    }

    #[test]
    fn a_spinning_thread_shows_in_the_machine_cpu() {
        let mut sampler = Sampler::new(Vec::new(), ResourceThresholds::default());
        let cores = sampler.cores().expect("the machine has CPUs");
        spin_until(Instant::now() + Duration::from_millis(300));
        let mut rec = Recorder::default();
        sampler.sample(0.3, &mut rec, &mut |_| {});
        let cpu = first_cpu_percent(&rec, "system");
        // while this thread is runnable some core is not idle, so one core's worth
        // of the 300 ms at least was busy, whatever else runs; half of that leaves
        // room for the readings before and after and their whole ticks
        let floor = 100.0 / cores as f64 * 0.5;
        assert!(cpu >= floor, "{cpu}% of {cores} cores, below {floor}%");
    }

    #[test]
    fn a_process_cpu_figure_is_its_cpu_time_over_the_sample() {
        let me = Watched::new("self".into(), std::process::id());
        let mut sampler = Sampler::new(vec![me], ResourceThresholds::default());
        let (start, thread_s) = (
            Instant::now(),
            procfs::thread_cpu_s().expect("own CPU time"),
        );
        spin_until(start + Duration::from_millis(300));
        let spun = procfs::thread_cpu_s().expect("own CPU time") - thread_s;
        let mut rec = Recorder::default();
        sampler.sample(0.3, &mut rec, &mut |_| {});
        let cpu = first_cpu_percent(&rec, "self");
        // the process ran this thread's CPU time at least, over about the sample's
        // wall time; its CPU time is read in whole ticks (10 ms)
        let floor = spun / start.elapsed().as_secs_f64() * 100.0 - 10.0;
        assert!(cpu >= floor, "{cpu}% of a core, below {floor}%");
    }
}
