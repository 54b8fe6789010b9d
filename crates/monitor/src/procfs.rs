//! Figures sysinfo does not give cheaply, read from Linux's `/proc` (elsewhere:
//! none, and the series are left out): a process's threads, open descriptors and
//! sockets, the machine's disk bytes, and the CPU time of the calling thread.

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

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

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
    }
}
