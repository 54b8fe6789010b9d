//! `gatebench bench monitor`: what the resource monitor costs. It samples the
//! machine and this process (and any process or Prometheus endpoint named) for a
//! while, with no load, and reports the CPU time of its thread per second of wall
//! time, the same figure every run's results carry as `resources.overhead`.
//!
//! `--open-sockets N` holds N loopback connections open first (2 N descriptors),
//! since counting a process's sockets reads each of its descriptors: the cost of a
//! driver or gateway process under load.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use gatebench_driver::monitor::{Monitor, MonitorPlan, PrometheusConfig, ResourcesConfig};

/// Options of `gatebench bench monitor`.
#[derive(Debug, clap::Args)]
pub struct MonitorBenchArgs {
    /// How long to sample.
    #[arg(long, default_value = "30s", value_parser = crate::parse_duration)]
    duration: Duration,
    /// Time between samples.
    #[arg(long, default_value = "1s", value_parser = crate::parse_duration)]
    interval: Duration,
    /// Watch this process too; repeatable.
    #[arg(long = "watch-pid", value_name = "PID")]
    watch_pids: Vec<u32>,
    /// Watch every process of this name too; repeatable.
    #[arg(long = "watch-process", value_name = "NAME")]
    watch_processes: Vec<String>,
    /// Scrape this Prometheus URL too, keeping the series named by --series.
    #[arg(long, value_name = "URL", requires = "series")]
    prometheus: Option<String>,
    /// A series to keep from --prometheus; repeatable.
    #[arg(long, value_name = "NAME")]
    series: Vec<String>,
    /// Hold this many loopback TCP connections open while sampling.
    #[arg(long, default_value_t = 0)]
    open_sockets: usize,
}

pub async fn run(args: MonitorBenchArgs) -> anyhow::Result<ExitCode> {
    let config = ResourcesConfig {
        interval: args.interval,
        watch_pids: args.watch_pids,
        watch_processes: args.watch_processes,
        prometheus: args.prometheus.map(|url| PrometheusConfig {
            url,
            series: args.series,
            thresholds: Default::default(),
        }),
        ..ResourcesConfig::default()
    };
    if let Err((key, message)) = config.check() {
        eprintln!("error: {key}: {message}");
        return Ok(ExitCode::from(2));
    }
    if args.duration < args.interval {
        eprintln!("error: --duration must be at least --interval: a shorter run takes one sample");
        return Ok(ExitCode::from(2));
    }
    let sockets = open_sockets(args.open_sockets)?;
    let plan = MonitorPlan {
        config,
        target_base: None,
        start: Instant::now(),
    };
    let monitor = match Monitor::start(plan, |_| {}) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    outln!(
        "sampling every {} for {} ({} loopback connections open)...",
        gatebench_driver::format_duration(args.interval),
        gatebench_driver::format_duration(args.duration),
        sockets.len() / 2
    );
    tokio::time::sleep(args.duration).await;
    let results = tokio::task::spawn_blocking(move || monitor.stop()).await?;
    drop(sockets);
    let o = &results.overhead;
    outln!(
        "samples {}  series {}  wall {:.2} s",
        o.samples,
        results.series.len(),
        o.wall_s
    );
    match (o.cpu_s, o.cpu_percent_of_core) {
        (Some(cpu), Some(pct)) => {
            outln!(
                "monitor CPU {:.2} ms per sample, {pct:.3} % of one core",
                cpu * 1000.0 / o.samples.max(1) as f64
            );
        }
        _ => outln!("this platform does not tell a thread's CPU time"),
    }
    for p in &results.problems {
        outln!("problem ({}×): {}", p.count, p.message);
    }
    Ok(ExitCode::SUCCESS)
}

/// Both ends of `n` loopback connections.
fn open_sockets(n: usize) -> anyhow::Result<Vec<std::net::TcpStream>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let mut out = Vec::with_capacity(2 * n);
    for _ in 0..n {
        out.push(std::net::TcpStream::connect(addr)?);
        out.push(listener.accept()?.0);
    }
    Ok(out)
}
