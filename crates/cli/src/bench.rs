//! `gatebench bench driver`: how fast and how light the load driver is (`bench mock`,
//! `bench gateway` and `bench monitor` live in their own files).
//!
//! Throughput: a trivial HTTP/1.1 server answers `ok` on loopback; the driver, then
//! `oha` and `wrk` (when on PATH) load it with the same number of connections for the
//! same time, one after the other, and the three rates are printed side by side.
//!
//! The server runs as a child process (this binary's hidden `bench server`), not in
//! the driver's runtime: a server sharing the driver's threads would steal them from
//! the driver alone, making the comparison with oha and wrk (which always load a
//! separate process) unfair, and its memory would count in the driver's RSS.
//!
//! Memory (`--vus N`): N closed-loop VUs with a long think time each open a connection,
//! send one request and wait; the peak resident memory of this process is reported,
//! and the memory at the end of the run: with a think time longer than the run (the
//! default), every VU has long been idle by then, while the peak comes from the
//! first requests, all in flight at once.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use gatebench_driver::{RunOptions, ScenarioFile, Targets};
use http_body_util::Full;
use hyper::Response;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

use crate::bench_threads::{self, Cpu};

/// Options of `gatebench bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    what: BenchWhat,
}

#[derive(Debug, clap::Subcommand)]
enum BenchWhat {
    /// Driver requests/s against a trivial loopback server, beside oha and wrk; with
    /// --vus, the memory of that many idle closed-loop VUs.
    Driver(DriverArgs),
    /// The OpenAI mock's requests/s (delays and rate limits off) beside a trivial
    /// handler on the same server stack, with wrk at the same concurrency.
    Mock(crate::bench_mock::MockBenchArgs),
    /// Latency the gateway adds: the same open-loop rate straight to the mock and
    /// through the gateway, alternately, in one run.
    Gateway(crate::bench_gateway::GatewayBenchArgs),
    /// What the resource monitor costs: CPU time of its thread per second, sampling
    /// the machine and this process (and any named) with no load.
    Monitor(crate::bench_monitor::MonitorBenchArgs),
    /// The trivial server the benchmark loads (run as a child process).
    #[command(hide = true)]
    Server(ServerArgs),
    /// Mocks, gateway and a trivial handler for the benchmarks (run as a child process).
    #[command(hide = true)]
    StackServer,
}

#[derive(Debug, clap::Args)]
struct DriverArgs {
    /// How long each tool runs.
    #[arg(long, default_value = "10s", value_parser = crate::parse_seconds)]
    duration: Duration,
    /// Concurrent connections (VUs) of every tool.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    connections: u32,
    /// Memory mode: run this many closed-loop VUs with --think between requests.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    vus: Option<u32>,
    /// Memory mode: think time of each VU.
    #[arg(long, default_value = "30s", value_parser = crate::parse_duration)]
    think: Duration,
    /// Do not run oha and wrk.
    #[arg(long)]
    no_tools: bool,
    /// Runs of each tool, interleaved; the median is reported.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    rounds: u32,
}

#[derive(Debug, clap::Args)]
struct ServerArgs {
    /// Port to bind on 127.0.0.1 (0 = any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
}

pub async fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    match args.what {
        BenchWhat::Server(a) => serve(a).await,
        BenchWhat::StackServer => crate::bench_stack::serve().await,
        BenchWhat::Mock(a) => crate::bench_mock::run(a).await,
        BenchWhat::Gateway(a) => crate::bench_gateway::run(a).await,
        BenchWhat::Monitor(a) => crate::bench_monitor::run(a).await,
        BenchWhat::Driver(a) => match a.vus {
            Some(vus) => memory(&a, vus).await,
            None => throughput(&a).await,
        },
    }
}

/// The trivial server: `ok` to every request, keep-alive, TCP_NODELAY. Prints its URL
/// on the first line of stdout and stops when stdin closes (its parent is gone).
async fn serve(args: ServerArgs) -> anyhow::Result<ExitCode> {
    let listener = gatebench_serve::server::bind(SocketAddr::from(([127, 0, 0, 1], args.port)))?;
    outln!("http://{}", listener.local_addr()?);
    std::io::stdout().flush()?;
    let stdin_closed = tokio::task::spawn_blocking(|| {
        let mut sink = String::new();
        while std::io::stdin().read_line(&mut sink).is_ok_and(|n| n > 0) {
            sink.clear();
        }
    });
    let accept = async {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let service = service_fn(|_req| async {
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    };
    tokio::select! {
        _ = stdin_closed => {}
        () = accept => {}
    }
    Ok(ExitCode::SUCCESS)
}

/// The server child and its URL.
pub(crate) struct ServerChild {
    child: Child,
    url: String,
}

impl ServerChild {
    fn start() -> anyhow::Result<ServerChild> {
        let child = ServerChild::spawn(None, &["bench", "server"])?;
        anyhow::ensure!(
            child.url.starts_with("http://"),
            "the benchmark server said `{}`",
            child.url
        );
        Ok(child)
    }

    /// Runs `exe` (default: this binary) with `args` as a child and reads the first
    /// line it prints (its address, or a JSON line of addresses). The child stops
    /// when its stdin closes, i.e. when this handle is dropped.
    pub(crate) fn spawn(exe: Option<&Path>, args: &[&str]) -> anyhow::Result<ServerChild> {
        let exe = match exe {
            Some(exe) => exe.to_owned(),
            None => std::env::current_exe().context("finding the gatebench binary")?,
        };
        let mut child = Command::new(exe)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting the benchmark server")?;
        let stdout = child
            .stdout
            .take()
            .context("no stdout from the benchmark server")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        Ok(ServerChild {
            child,
            url: line.trim().to_owned(),
        })
    }

    /// The child's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The first line the child printed.
    pub(crate) fn line(&self) -> &str {
        &self.url
    }
}

impl Drop for ServerChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn bench_scenario(
    vus: u32,
    duration: Duration,
    think: Option<Duration>,
) -> anyhow::Result<ScenarioFile> {
    let think = think.map_or_else(String::new, |t| {
        format!(
            "think_time = \"{}\"\n",
            gatebench_driver::format_duration(t)
        )
    });
    let text = format!(
        "name = \"bench-driver\"\n[load]\nexecutor = \"constant-vus\"\nvus = {vus}\nduration = \"{}\"\ngraceful_stop = \"1s\"\n{think}[[requests]]\nname = \"get\"\nkind = \"http\"\npath = \"/\"\n",
        gatebench_driver::format_duration(duration)
    );
    Ok(ScenarioFile::parse(Path::new("bench-driver.toml"), &text)?)
}

async fn throughput(args: &DriverArgs) -> anyhow::Result<ExitCode> {
    let server = ServerChild::start()?;
    let secs = args.duration.as_secs();
    let (c, rounds) = (args.connections, args.rounds);
    eprintln!(
        "server: {} (child process); {c} connections, {secs}s per tool, {rounds} round(s)",
        server.url
    );
    let quiet = || RunOptions {
        quiet: true,
        ..RunOptions::default()
    };
    // a short warm-up so every tool meets a server with its threads awake
    let warm = bench_scenario(c, Duration::from_secs(1), None)?;
    gatebench_driver::run(&warm, &Targets::new(&server.url), quiet()).await?;
    let file = bench_scenario(c, Duration::from_secs(secs), None)?;
    let url = server.url.clone();
    let (c_s, d_s) = (c.to_string(), format!("{secs}s"));
    let threads = c.min(2).to_string();
    let oha_args = [
        "-z",
        &d_s,
        "-c",
        &c_s,
        "--no-tui",
        "--output-format",
        "json",
        &url,
    ];
    let wrk_args = ["-t", &threads, "-c", &c_s, "-d", &d_s, &url];
    let tools: Vec<(&str, Option<String>)> = if args.no_tools {
        Vec::new()
    } else {
        vec![("oha", tool_version("oha")), ("wrk", tool_version("wrk"))]
    };
    let mut driver_rates = Vec::new();
    let mut tool_rates: Vec<Vec<f64>> = vec![Vec::new(); tools.len()];
    let mut failed = 0;
    // rounds interleave the tools so that noise from other work on the machine hits
    // them alike
    for _ in 0..rounds {
        let results = gatebench_driver::run(&file, &Targets::new(&server.url), quiet()).await?;
        failed += results.totals.failed;
        driver_rates.push(results.totals.ok as f64 / results.duration_s.max(1e-9));
        for (i, (tool, version)) in tools.iter().enumerate() {
            if version.is_none() {
                continue;
            }
            let rate = if *tool == "oha" {
                run_tool(tool, &oha_args, parse_oha)
            } else {
                run_tool(tool, &wrk_args, parse_wrk)
            };
            tool_rates[i].extend(rate);
        }
    }
    let mut rows = vec![(
        "gatebench",
        Some(env!("CARGO_PKG_VERSION").to_owned()),
        driver_rates,
    )];
    for ((tool, version), rates) in tools.into_iter().zip(tool_rates) {
        rows.push((tool, version, rates));
    }
    // the ratio is to oha's rate, or to wrk's where oha is not on PATH
    let (reference, against) = ["oha", "wrk"]
        .iter()
        .find_map(|name| {
            let rate = rows
                .iter()
                .find(|r| r.0 == *name)
                .and_then(|r| median(&r.2))?;
            Some((Some(rate), *name))
        })
        .unwrap_or((None, "oha"));
    outln!(
        "\n  {:<10} {:<22} {:>12} {:>8}  each round",
        "tool",
        "version",
        "requests/s",
        format!("vs {against}")
    );
    for (tool, version, rates) in &rows {
        let m = median(rates);
        let rate = m.map_or_else(|| "-".to_owned(), |r| format!("{r:.0}"));
        let ratio = match (m, reference) {
            (Some(r), Some(o)) if o > 0.0 => format!("{:.2}×", r / o),
            _ => "-".to_owned(),
        };
        let each: Vec<String> = rates.iter().map(|r| format!("{r:.0}")).collect();
        let version = version.as_deref().unwrap_or("not on PATH");
        outln!(
            "  {tool:<10} {version:<22} {rate:>12} {ratio:>8}  {}",
            each.join(" ")
        );
    }
    outln!(
        "\n  median of {rounds} round(s); {c} connections, {secs}s per run, HTTP/1.1 keep-alive, trivial server in a child process on 127.0.0.1; driver failures: {failed}"
    );
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn median(values: &[f64]) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => None,
        n if n % 2 == 1 => Some(v[n / 2]),
        n => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

/// A tool's version, `None` when it is not on PATH.
pub(crate) fn tool_version(tool: &str) -> Option<String> {
    let out = Command::new(tool)
        .arg(if tool == "wrk" { "-v" } else { "--version" })
        .output()
        .ok()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(
        text.lines()
            .next()
            .unwrap_or("")
            .split_whitespace()
            .nth(1)
            .unwrap_or("?")
            .to_owned(),
    )
}

/// Loads for wrk: a name, a URL and the Lua script's text (none: plain GET).
pub(crate) type WrkLoad<'a> = (&'a str, String, Option<String>);

/// What the rounds of one load measured.
#[derive(Default)]
pub(crate) struct Rounds {
    /// Requests per second, one per round that wrk reported.
    pub rates: Vec<f64>,
    /// CPU time the server process spent per request in the same rounds, µs (user
    /// and system together): steadier than a rate on a machine whose cores are
    /// shared, since time the server did not get is not counted.
    pub cpu_us: Vec<f64>,
    /// The same, by the server's thread groups, user and kernel apart, µs per
    /// request (Linux; empty elsewhere).
    pub threads: Vec<BTreeMap<String, Cpu>>,
}

/// CPU time the processes `pids` have used so far together, ms.
pub(crate) fn cpu_ms(system: &mut sysinfo::System, pids: &[sysinfo::Pid]) -> Option<u64> {
    system.refresh_processes(sysinfo::ProcessesToUpdate::Some(pids), true);
    pids.iter()
        .map(|pid| {
            system
                .process(*pid)
                .map(sysinfo::Process::accumulated_cpu_time)
        })
        .sum()
}

/// Runs each load with wrk (2 threads, `connections`, `duration`) against the
/// servers of process `server`, the loads interleaved round after round so that
/// noise on the machine hits them alike.
pub(crate) fn wrk_rounds(
    loads: &[WrkLoad<'_>],
    connections: u32,
    duration: Duration,
    rounds: u32,
    server: u32,
) -> anyhow::Result<Vec<Rounds>> {
    // removed when dropped, on every way out
    let dir = tempfile::Builder::new()
        .prefix("gatebench-wrk-")
        .tempdir()?;
    let mut scripts = Vec::new();
    for (i, (_, _, text)) in loads.iter().enumerate() {
        scripts.push(match text {
            Some(text) => {
                let path = dir.path().join(format!("load-{i}.lua"));
                std::fs::write(&path, text)?;
                Some(path.display().to_string())
            }
            None => None,
        });
    }
    let (c, secs) = (connections.to_string(), format!("{}s", duration.as_secs()));
    let (pid, mut system) = (sysinfo::Pid::from_u32(server), sysinfo::System::new());
    let mut measured: Vec<Rounds> = loads.iter().map(|_| Rounds::default()).collect();
    for _ in 0..rounds {
        for (i, (_, url, _)) in loads.iter().enumerate() {
            let mut wrk = vec!["-t", "2", "-c", c.as_str(), "-d", secs.as_str()];
            if let Some(script) = &scripts[i] {
                wrk.extend(["-s", script.as_str()]);
            }
            wrk.push(url.as_str());
            let before = cpu_ms(&mut system, &[pid]);
            let threads_before = bench_threads::by_group(server);
            let Some(rate) = run_tool("wrk", &wrk, parse_wrk) else {
                continue;
            };
            measured[i].rates.push(rate);
            // wrk's rate is over its run: rate × duration is the requests it counted
            let requests = rate * duration.as_secs() as f64;
            if let (Some(before), Some(after)) = (threads_before, bench_threads::by_group(server)) {
                let used = bench_threads::per_request(&before, &after, requests);
                measured[i].threads.push(used);
            }
            if let (Some(before), Some(after)) = (before, cpu_ms(&mut system, &[pid]))
                && requests > 0.0
            {
                measured[i]
                    .cpu_us
                    .push(after.saturating_sub(before) as f64 * 1000.0 / requests);
            }
        }
    }
    Ok(measured)
}

/// A wrk script that POSTs `body` as JSON with `headers`.
pub(crate) fn post_script(body: &str, headers: &[(&str, &str)]) -> String {
    let mut text =
        "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\n".to_owned();
    for (name, value) in headers {
        text.push_str(&format!("wrk.headers[\"{name}\"] = \"{value}\"\n"));
    }
    text.push_str(&format!("wrk.body = [[{body}]]\n"));
    text
}

/// Runs a load tool and reads its rate.
pub(crate) fn run_tool(tool: &str, args: &[&str], parse: fn(&str) -> Option<f64>) -> Option<f64> {
    eprintln!("running {tool} {}", args.join(" "));
    let out = Command::new(tool).args(args).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    // a rate of error answers is no throughput: wrk counts them as requests
    if let Some(line) = text
        .lines()
        .find(|l| l.contains("Non-2xx or 3xx responses"))
    {
        eprintln!(
            "{tool} got error answers ({}): its rate is left out",
            line.trim()
        );
        return None;
    }
    let rate = parse(&text);
    if rate.is_none() {
        eprintln!("could not read the output of {tool}");
    }
    rate
}

fn parse_oha(text: &str) -> Option<f64> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    v["summary"]["requestsPerSec"].as_f64()
}

pub(crate) fn parse_wrk(text: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
}

/// Resident memory of this process, bytes.
fn rss(system: &mut sysinfo::System, pid: sysinfo::Pid) -> u64 {
    system.refresh_processes(sysinfo::ProcessesToUpdate::Some(&[pid]), true);
    system.process(pid).map_or(0, |p| p.memory())
}

async fn memory(args: &DriverArgs, vus: u32) -> anyhow::Result<ExitCode> {
    let server = ServerChild::start()?;
    let pid = sysinfo::get_current_pid().map_err(|e| anyhow::anyhow!(e))?;
    let mut system = sysinfo::System::new();
    let before = rss(&mut system, pid);
    eprintln!(
        "server: {} (child process); {vus} VUs thinking {} between requests for {}",
        server.url,
        gatebench_driver::format_duration(args.think),
        gatebench_driver::format_duration(args.duration)
    );
    let file = bench_scenario(vus, args.duration, Some(args.think))?;
    let (done_tx, mut done_rx) = tokio::sync::watch::channel(false);
    // the peak, and the last sample while the VUs were still running
    let sampler = tokio::spawn(async move {
        let (mut peak, mut last) = (0, 0);
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    last = rss(&mut system, pid);
                    peak = peak.max(last);
                }
                _ = done_rx.wait_for(|&d| d) => break,
            }
        }
        (peak.max(rss(&mut system, pid)), last)
    });
    let options = RunOptions {
        quiet: true,
        ..RunOptions::default()
    };
    let results = gatebench_driver::run(&file, &Targets::new(&server.url), options).await?;
    let _ = done_tx.send(true);
    let (peak, idle) = sampler.await.unwrap_or((0, 0));
    let vus_seen = results
        .timeseries
        .iter()
        .map(|p| p.total.vus)
        .max()
        .unwrap_or(0);
    let mb = |b: u64| b as f64 / (1024.0 * 1024.0);
    outln!("\n  closed-loop VUs        {vus} (most active at once: {vus_seen})");
    outln!(
        "  requests sent          {} ({} failed)",
        results.totals.sent,
        results.totals.failed
    );
    let per_vu = |b: u64| b.saturating_sub(before) as f64 / 1024.0 / f64::from(vus.max(1));
    outln!("  RSS before the run     {:.1} MB", mb(before));
    outln!(
        "  peak RSS during it     {:.1} MB ({:.1} KB per VU over before)",
        mb(peak),
        per_vu(peak)
    );
    outln!(
        "  RSS at its end         {:.1} MB ({:.1} KB per VU over before)",
        mb(idle),
        per_vu(idle)
    );
    outln!("  target                 peak < 200 MB for 10 000 VUs");
    Ok(ExitCode::SUCCESS)
}
