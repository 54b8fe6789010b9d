//! Figures sysinfo does not give cheaply, read from Linux's `/proc` (elsewhere:
//! none, and the series are left out): a process's threads, open descriptors and
//! sockets, the machine's disk bytes and idle time, and the CPU time of the
//! calling thread.

use std::time::Instant;

/// Threads, open descriptors and sockets of a process.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Handles {
    pub threads: Option<u64>,
    pub open_files: Option<u64>,
    pub sockets: Option<u64>,
}

/// The handles of process `pid`; sockets only when `sockets` (telling a socket
/// from a file takes a `readlink` per descriptor, the costly part).
#[cfg(target_os = "linux")]
pub(crate) fn handles(pid: u32, sockets: bool) -> Handles {
    let threads = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            // the command name (2nd field) may hold spaces; fields after `)` are fixed
            let after = &s[s.rfind(')')? + 1..];
            // state is field 3; num_threads is field 20
            after.split_whitespace().nth(17)?.parse().ok()
        });
    let (mut files, mut sockets_seen) = (0u64, 0u64);
    let listed = std::fs::read_dir(format!("/proc/{pid}/fd")).map(|dir| {
        for entry in dir.flatten() {
            files += 1;
            if sockets
                && std::fs::read_link(entry.path()).is_ok_and(|target| {
                    target
                        .as_os_str()
                        .as_encoded_bytes()
                        .starts_with(b"socket:")
                })
            {
                sockets_seen += 1;
            }
        }
    });
    Handles {
        threads,
        open_files: listed.is_ok().then_some(files),
        sockets: (listed.is_ok() && sockets).then_some(sockets_seen),
    }
}

/// The handles of process `pid` (not read on this platform).
#[cfg(not(target_os = "linux"))]
pub(crate) fn handles(_pid: u32, _sockets: bool) -> Handles {
    Handles::default()
}

/// Bytes read and written by every whole disk since boot (`/proc/diskstats`,
/// sectors of 512 bytes; partitions and virtual devices left out so nothing
/// counts twice).
#[cfg(target_os = "linux")]
pub(crate) fn disk_bytes() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/diskstats").ok()?;
    let (mut read, mut written) = (0u64, 0u64);
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 10 {
            continue;
        }
        let name = f[2];
        if name.starts_with("loop") || name.starts_with("ram") || name.starts_with("zram") {
            continue;
        }
        // whole disks have a /sys/block entry; partitions do not
        if !std::path::Path::new("/sys/block").join(name).exists() {
            continue;
        }
        read += f[5].parse::<u64>().unwrap_or(0) * 512;
        written += f[9].parse::<u64>().unwrap_or(0) * 512;
    }
    Some((read, written))
}

/// Disk bytes (not read on this platform).
#[cfg(not(target_os = "linux"))]
pub(crate) fn disk_bytes() -> Option<(u64, u64)> {
    None
}

/// How long the machine's CPUs together have been idle since boot, and when that
/// was read.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Idle {
    /// Seconds, summed over the CPUs.
    pub cpu_s: f64,
    pub at: Instant,
}

/// The machine's idle time: `idle` plus `iowait` of `/proc/stat`'s `cpu` line.
///
/// On a tickless kernel these two are exact (taken from the idle clock) while the
/// busy fields are sampled on timer ticks and miss short bursts of work, so the
/// machine's CPU use is measured as the time not idle.
#[cfg(target_os = "linux")]
pub(crate) fn idle() -> Option<Idle> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let at = Instant::now();
    let ticks_per_s = rustix::param::clock_ticks_per_second();
    if ticks_per_s == 0 {
        return None;
    }
    Some(Idle {
        cpu_s: idle_ticks(&text)? as f64 / ticks_per_s as f64,
        at,
    })
}

/// The idle time (not read on this platform).
#[cfg(not(target_os = "linux"))]
pub(crate) fn idle() -> Option<Idle> {
    None
}

/// `idle` plus `iowait` of the `cpu` line, the first of `/proc/stat`.
#[cfg(target_os = "linux")]
fn idle_ticks(stat: &str) -> Option<u64> {
    let mut fields = stat.lines().next()?.split_whitespace();
    if fields.next()? != "cpu" {
        return None;
    }
    // user nice system idle iowait irq softirq steal ...
    let mut fields = fields.skip(3);
    let idle: u64 = fields.next()?.parse().ok()?;
    let iowait: u64 = fields.next()?.parse().ok()?;
    idle.checked_add(iowait)
}

/// The share of all `cores`' time that was not idle between two readings of the
/// idle time `wall_s` seconds apart, %; none when no time passed.
pub(crate) fn busy_percent(
    idle_before_s: f64,
    idle_after_s: f64,
    wall_s: f64,
    cores: usize,
) -> Option<f64> {
    let capacity_s = wall_s * cores as f64;
    if !(capacity_s > 0.0 && capacity_s.is_finite()) {
        return None;
    }
    // the readings are whole ticks, so a figure may stray a little out of range
    let busy = 100.0 * (1.0 - (idle_after_s - idle_before_s) / capacity_s);
    busy.is_finite().then(|| busy.clamp(0.0, 100.0))
}

/// CPU time the calling thread has used, seconds.
#[cfg(target_os = "linux")]
pub(crate) fn thread_cpu_s() -> Option<f64> {
    // schedstat: nanoseconds on the CPU, exact; stat: clock ticks (usually 1/100 s)
    if let Ok(text) = std::fs::read_to_string("/proc/thread-self/schedstat")
        && let Some(ns) = text
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<u64>().ok())
    {
        return Some(ns as f64 / 1e9);
    }
    let s = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    let after = &s[s.rfind(')')? + 1..];
    let mut f = after.split_whitespace().skip(11);
    let utime: u64 = f.next()?.parse().ok()?;
    let stime: u64 = f.next()?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

/// CPU time of the calling thread (not read on this platform).
#[cfg(not(target_os = "linux"))]
pub(crate) fn thread_cpu_s() -> Option<f64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn idle_ticks_are_idle_plus_iowait_of_the_cpu_line() {
        let stat = "cpu  6011190 65878 830134 4545666 17398 0 297769 6546 0 0\n\
                    cpu0 3006060 33497 404329 2286542 4141 0 148022 3270 0 0\n";
        assert_eq!(idle_ticks(stat), Some(4_545_666 + 17_398));
        // older kernels print fewer fields; idle and iowait are enough
        assert_eq!(idle_ticks("cpu 1 2 3 4 5"), Some(9));
        assert_eq!(idle_ticks("cpu 1 2 3 4"), None);
        assert_eq!(idle_ticks("cpu"), None);
        assert_eq!(idle_ticks(""), None);
        assert_eq!(idle_ticks("\ncpu 1 2 3 4 5"), None);
        assert_eq!(idle_ticks("cpu0 1 2 3 4 5"), None);
        assert_eq!(idle_ticks("intr 1 2 3 4 5"), None);
        assert_eq!(idle_ticks("cpu 1 2 3 x 5"), None);
        assert_eq!(idle_ticks("cpu 1 2 3 -4 5"), None);
        assert_eq!(idle_ticks("cpu 1 2 3 18446744073709551615 1"), None);
        assert_eq!(idle_ticks("cpu 1 2 3 99999999999999999999 1"), None);
    }

    #[test]
    fn busy_percent_is_the_share_not_idle_clamped() {
        let close = |a: Option<f64>, b: f64| a.is_some_and(|a| (a - b).abs() < 1e-9);
        // 2 cores for 1 s: 2 s of capacity, 1.5 s idle
        assert!(close(busy_percent(100.0, 101.5, 1.0, 2), 25.0));
        assert!(close(busy_percent(100.0, 100.0, 0.5, 4), 100.0));
        assert!(close(busy_percent(100.0, 102.0, 1.0, 2), 0.0));
        // more idle than capacity (whole ticks) and idle going back: clamped
        assert!(close(busy_percent(100.0, 102.01, 1.0, 2), 0.0));
        assert!(close(busy_percent(100.0, 99.0, 1.0, 2), 100.0));
        assert_eq!(busy_percent(100.0, 100.0, 0.0, 2), None);
        assert_eq!(busy_percent(100.0, 100.0, 1.0, 0), None);
        assert_eq!(busy_percent(100.0, 100.0, -1.0, 2), None);
        assert_eq!(busy_percent(100.0, 100.0, f64::NAN, 2), None);
        assert_eq!(busy_percent(100.0, f64::NAN, 1.0, 2), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn own_process_has_threads_files_and_cpu_time() {
        let h = handles(std::process::id(), true);
        assert_eq!(handles(std::process::id(), false).sockets, None);
        assert!(h.threads.is_some_and(|t| t >= 1));
        assert!(h.open_files.is_some_and(|f| f >= 1));
        assert!(h.sockets.is_some());
        let a = thread_cpu_s().unwrap();
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert!(thread_cpu_s().unwrap() >= a);
        assert!(disk_bytes().is_some());
        assert!(idle().is_some());
    }
}
