//! The machine a suite ran on, for the report.

use gatebench_report::Environment;

/// Reads OS, architecture, CPUs, memory and host name.
pub fn environment() -> Environment {
    let mut system = sysinfo::System::new();
    system.refresh_memory();
    Environment {
        os: sysinfo::System::long_os_version().unwrap_or_else(|| std::env::consts::OS.to_owned()),
        arch: std::env::consts::ARCH.to_owned(),
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        memory_bytes: system.total_memory(),
        hostname: sysinfo::System::host_name().unwrap_or_default(),
    }
}
