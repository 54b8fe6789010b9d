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
}

impl Watched {
    pub fn new(name: String, pid: u32) -> Watched {
        Watched {
            name,
            pid,
            gone: false,
            samples: 0,
            sockets_every: 1,
        }
    }
}

/// The machine and processes' counters, and what they were at the last sample.
pub(crate) struct Sampler {
    system: System,
    networks: Networks,
    disk: Option<(u64, u64)>,
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
        system.refresh_cpu_specifics(CpuRefreshKind::nothing().with_cpu_usage());
        let mut sampler = Sampler {
            system,
            networks: Networks::new_with_refreshed_list(),
            disk: procfs::disk_bytes(),
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
        sampler
    }

    /// The machine's logical CPUs, as the system's CPU % averages them.
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
        self.system
            .refresh_cpu_specifics(CpuRefreshKind::nothing().with_cpu_usage());
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
            (
                "cpu_percent",
                "percent",
                f64::from(self.system.global_cpu_usage()),
            ),
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
            let values = [
                ("cpu_percent", "percent", Some(f64::from(p.cpu_usage()))),
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
