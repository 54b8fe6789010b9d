//! `gatebench bench gateway`: the latency the gateway adds. The same open-loop
//! arrival rate of non-stream chat requests goes straight to the OpenAI mock,
//! through a bare proxy and through the gateway (cache off: `no-cache, no-store`),
//! in turn, in one run; the difference of the latency percentiles is what the
//! gateway costs a caller, and the bare proxy's is what the extra hop alone costs
//! on this machine. The gateway's own `server-timing` (total minus upstream) is
//! reported beside it.
//! Then, with wrk as an independent load generator, the most requests per second
//! the mock serves directly and through the gateway, interleaved, and their ratio.
//!
//! Without `--rate`, the rate is calibrated to the machine: the median of three
//! short closed-loop probes is the most the gateway serves here, and the benchmark
//! runs at half of it, so it measures latency rather than overload. A phase in
//! which more than 1 % of the requests failed or were dropped makes the
//! measurement invalid: the failures are listed by class and the command exits 1.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use gatebench_driver::{RunOptions, RunResults, ScenarioFile, Targets};
use hdrhistogram::Histogram;

use crate::bench::{
    Rounds, ServerChild, WrkLoad, cpu_ms, median, post_script, tool_version, wrk_rounds,
};
use crate::bench_threads::{self, Cpu};

/// Options of `gatebench bench gateway`.
#[derive(Debug, clap::Args)]
pub struct GatewayBenchArgs {
    /// Arrival rate, requests per second; default: half of what a short probe finds
    /// the gateway serves on this machine.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=i64::from(gatebench_driver::scenario::MAX_RATE)))]
    rate: Option<u32>,
    /// Length of each phase.
    #[arg(long, default_value = "10s", value_parser = crate::parse_seconds)]
    duration: Duration,
    /// Phases per target, alternating (mock, gateway, mock, gateway, ...).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..))]
    rounds: u32,
    /// Start of each phase left out of the latency figures (connections opening).
    #[arg(long, default_value = "1s", value_parser = crate::parse_duration)]
    warmup: Duration,
    /// Serve the mock and the gateway from this gatebench binary (another build),
    /// to compare builds under one load generator.
    #[arg(long, value_name = "BINARY")]
    servers: Option<PathBuf>,
    /// Connections wrk keeps open for the throughput ratio.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..))]
    connections: u32,
    /// Only the latency phases: no throughput ratio with wrk.
    #[arg(long)]
    no_throughput: bool,
}

/// The addresses the stack server prints.
#[derive(serde::Deserialize)]
struct Urls {
    gateway: String,
    openai: String,
    /// The bare proxy; an older build's servers (`--servers`) may have none.
    proxy: Option<String>,
}

/// The throughput measurement's request: the mock and the gateway get the same
/// POST, the gateway's cache told neither to answer nor to keep it.
const THROUGHPUT_BODY: &str = r#"{"model":"gpt-4o-mini","max_tokens":50,"messages":[{"role":"user","content":"How do I reset my password?"}]}"#;

/// Most requests per second wrk gets from the mock directly, through a bare
/// proxy and through the gateway, in interleaved rounds, and their ratios: what
/// share of the provider's own throughput the gateway keeps on this machine, and
/// what share any proxy could keep (the bare one forwards bytes and does nothing
/// else).
fn throughput(args: &GatewayBenchArgs, server: u32, urls: &Urls) -> anyhow::Result<()> {
    let Some(version) = tool_version("wrk") else {
        outln!(
            "\n  throughput ratio: not measured, wrk is not on PATH (Debian: apt-get install wrk)"
        );
        return Ok(());
    };
    let script = post_script(
        THROUGHPUT_BODY,
        &[
            ("Authorization", "Bearer gb-alpha-dev"),
            ("x-gatebench-cache", "no-cache, no-store"),
        ],
    );
    let loads: Vec<WrkLoad<'_>> = [
        ("mock directly", Some(&urls.openai)),
        ("through a bare proxy", urls.proxy.as_ref()),
        ("through the gateway", Some(&urls.gateway)),
    ]
    .into_iter()
    .filter_map(|(name, url)| Some((name, url?)))
    .map(|(name, url)| {
        (
            name,
            format!("{url}/v1/chat/completions"),
            Some(script.clone()),
        )
    })
    .collect();
    eprintln!(
        "throughput: wrk {version}, {} connections, {} per load, {} round(s)",
        args.connections,
        gatebench_driver::format_duration(args.duration),
        args.rounds
    );
    let measured = wrk_rounds(&loads, args.connections, args.duration, args.rounds, server)?;
    outln!(
        "\n  {:<22} {:>12} {:>14}  each round (wrk, {} connections, cache off)",
        "target",
        "requests/s",
        "server CPU/req",
        args.connections
    );
    for ((name, ..), m) in loads.iter().zip(&measured) {
        let each: Vec<String> = m.rates.iter().map(|v| format!("{v:.0}")).collect();
        outln!(
            "  {name:<22} {:>12} {:>14}  {}",
            median(&m.rates).map_or("-".into(), |m| format!("{m:.0}")),
            median(&m.cpu_us).map_or("-".into(), |c| format!("{c:.1} µs")),
            each.join(" ")
        );
    }
    let rate = |m: &Rounds| median(&m.rates).filter(|r| *r > 0.0);
    let (Some(direct), Some(through)) = (measured.first(), measured.last()) else {
        anyhow::bail!("wrk measured nothing");
    };
    let proxy = (measured.len() == 3).then(|| &measured[1]);
    match (rate(direct), rate(through)) {
        (Some(d), Some(t)) => outln!(
            "  throughput ratio (gateway ÷ mock directly, medians): {:.2}",
            t / d
        ),
        _ => outln!("  throughput ratio: wrk reported no rate"),
    }
    if let (Some(d), Some(p)) = (rate(direct), proxy.and_then(rate)) {
        let kept = rate(through).map_or(String::new(), |t| {
            format!("; the gateway keeps {:.2} of the bare proxy's", t / p)
        });
        outln!(
            "  bare proxy's ratio (bare proxy ÷ mock directly, medians): {:.2}, the most any proxy keeps here{kept}",
            p / d
        );
    }
    bench_threads::print_wrk(&loads, &measured);
    let cpu = |m: &Rounds| median(&m.cpu_us);
    if let (Some(d), Some(t)) = (cpu(direct), cpu(through)) {
        let bare = proxy
            .and_then(cpu)
            .map_or(String::new(), |p| format!(", bare proxy {:.1} µs", p - d));
        outln!(
            "  own CPU per request (server CPU through it − directly, medians): gateway {:.1} µs{bare}",
            t - d
        );
    }
    Ok(())
}

/// The benchmark's scenario under `load` (a `[load]` table): one non-stream chat
/// request the cache may not answer.
fn scenario(name: &str, load: &str) -> anyhow::Result<ScenarioFile> {
    let text = format!(
        r#"name = "{name}"
[load]
{load}
[[requests]]
name = "chat"
kind = "chat"
model = "gpt-4o-mini"
max_tokens = 16
prompts = "fixtures/prompts/support.toml"
api_key = "gb-alpha-dev"
headers = {{ "x-gatebench-cache" = "no-cache, no-store" }}
"#
    );
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/bench-gateway.toml");
    Ok(ScenarioFile::parse(&base, &text)?)
}

/// An open-loop phase at `rate` for `duration`.
fn open_loop(rate: u32, duration: Duration) -> anyhow::Result<ScenarioFile> {
    let load = format!(
        "executor = \"constant-arrival-rate\"\nrate = {rate}\nduration = \"{}\"\nmax_vus = 4000",
        gatebench_driver::format_duration(duration)
    );
    scenario("bench-gateway", &load)
}

/// Most failed or dropped requests a phase may have and still measure latency.
const VALID_FAILURE_SHARE: f64 = 0.01;

struct Phase {
    latency: Histogram<u64>,
    /// The p99 of each run, ms, in round order.
    p99s: Vec<f64>,
    overhead: Histogram<u64>,
    /// How late the driver sent each request after its intended time, µs.
    late: Histogram<u64>,
    /// CPU the driver and the servers used over each run, % of all the cores.
    busy: Vec<f64>,
    /// The same by the servers' thread groups and the driver (its whole process),
    /// µs per request sent, one map per run (Linux; empty elsewhere).
    threads: Vec<BTreeMap<String, Cpu>>,
    sent: u64,
    failed: u64,
    dropped: u64,
    errors: BTreeMap<String, u64>,
}

impl Phase {
    fn new() -> Phase {
        let h =
            || Histogram::new(3).unwrap_or_else(|_| unreachable!("3 significant digits is valid"));
        Phase {
            latency: h(),
            p99s: Vec::new(),
            overhead: h(),
            late: h(),
            busy: Vec::new(),
            threads: Vec::new(),
            sent: 0,
            failed: 0,
            dropped: 0,
            errors: BTreeMap::new(),
        }
    }

    /// Why the phase cannot stand for the target's latency, if it cannot.
    fn invalid(&self, name: &str) -> Option<String> {
        let planned = (self.sent + self.dropped).max(1) as f64;
        let bad = (self.failed + self.dropped) as f64 / planned;
        (bad > VALID_FAILURE_SHARE).then(|| {
            let classes: Vec<String> = self
                .errors
                .iter()
                .map(|(c, n)| format!("{c} × {n}"))
                .chain((self.dropped > 0).then(|| format!("dropped × {}", self.dropped)))
                .collect();
            format!(
                "{name}: {:.1}% of the requests failed or were dropped ({})",
                100.0 * bad,
                classes.join(", ")
            )
        })
    }

    /// Adds a phase's results; requests meant to start before `warmup` count as
    /// sent, failed or dropped, but not in the latency figures.
    fn add(&mut self, results: &RunResults, warmup: Duration) {
        let warmup_ms = warmup.as_secs_f64() * 1000.0;
        self.sent += results.totals.sent;
        self.failed += results.totals.failed;
        self.dropped += results.totals.dropped;
        for (class, n) in &results.totals.errors {
            *self.errors.entry(class.clone()).or_default() += n;
        }
        let mut run = Histogram::<u64>::new_from(&self.latency);
        for r in results
            .requests
            .iter()
            .flatten()
            .filter(|r| r.outcome == "ok" && r.intended_ms >= warmup_ms)
        {
            let _ = self.latency.record((r.latency_ms * 1000.0) as u64);
            let _ = run.record((r.latency_ms * 1000.0) as u64);
            let _ = self
                .late
                .record(((r.sent_ms - r.intended_ms).max(0.0) * 1000.0) as u64);
            if let (Some(total), Some(upstream)) = (
                r.server_timing.get("total"),
                r.server_timing.get("upstream"),
            ) {
                let _ = self
                    .overhead
                    .record(((total - upstream).max(0.0) * 1000.0) as u64);
            }
        }
        if !run.is_empty() {
            self.p99s.push(Phase::ms(&run, 0.99));
        }
    }

    /// How much higher this phase's `q` percentile is than `direct`'s, ms.
    fn added(&self, direct: &Phase, q: f64) -> f64 {
        Phase::ms(&self.latency, q) - Phase::ms(&direct.latency, q)
    }

    /// That difference at p99 in each round (a round's runs are back to back).
    fn added_p99_each(&self, direct: &Phase) -> String {
        let each: Vec<String> = self
            .p99s
            .iter()
            .zip(&direct.p99s)
            .map(|(t, d)| format!("{:.3}", t - d))
            .collect();
        each.join(", ")
    }

    fn ms(h: &Histogram<u64>, q: f64) -> f64 {
        h.value_at_quantile(q) as f64 / 1000.0
    }
}

pub async fn run(args: GatewayBenchArgs) -> anyhow::Result<ExitCode> {
    if args.warmup >= args.duration {
        anyhow::bail!("--warmup must be shorter than --duration");
    }
    let servers = ServerChild::spawn(
        args.servers.as_deref(),
        &["--log", "error", "bench", "stack-server"],
    )?;
    let urls: Urls =
        serde_json::from_str(servers.line()).context("reading the server addresses")?;
    let Urls {
        gateway, openai, ..
    } = &urls;
    let options = || RunOptions {
        quiet: true,
        record_requests: true,
        ..RunOptions::default()
    };
    let rate = match args.rate {
        Some(rate) => rate,
        None => {
            let probe = calibration()?;
            let mut probes = Vec::with_capacity(PROBES);
            for _ in 0..PROBES {
                let results =
                    gatebench_driver::run(&probe, &Targets::new(gateway.clone()), options())
                        .await?;
                probes.push(results.totals.rps);
            }
            let most = median(&probes).unwrap_or_default();
            let rate = ((most / 2.0) as u32).max(10);
            let each: Vec<String> = probes.iter().map(|r| format!("{r:.0}")).collect();
            eprintln!(
                "calibrated: the gateway served {most:.0} req/s here (median of {PROBES} probes: {}) with 16 clients in a closed loop; benchmarking at half, {rate} req/s (--rate to choose)",
                each.join(", ")
            );
            rate
        }
    };
    let file = open_loop(rate, args.duration)?;
    let warm = open_loop(rate.min(500), Duration::from_secs(2))?;
    eprintln!(
        "{rate} req/s for {} per phase, the first {} of each left out of the figures, {} round(s); servers in a child process",
        gatebench_driver::format_duration(args.duration),
        gatebench_driver::format_duration(args.warmup),
        args.rounds
    );
    let mut phases: Vec<(&str, &String, Phase)> = [
        ("mock directly", Some(openai)),
        ("through a bare proxy", urls.proxy.as_ref()),
        ("through the gateway", Some(gateway)),
    ]
    .into_iter()
    .filter_map(|(name, url)| Some((name, url?, Phase::new())))
    .collect();
    for (_, url, _) in &phases {
        gatebench_driver::run(&warm, &Targets::new((*url).clone()), options()).await?;
    }
    let pids = [
        sysinfo::get_current_pid().map_err(|e| anyhow::anyhow!(e))?,
        sysinfo::Pid::from_u32(servers.pid()),
    ];
    let (mut system, cores) = (
        sysinfo::System::new(),
        std::thread::available_parallelism().map_or(1, usize::from),
    );
    for _ in 0..args.rounds {
        for (_, url, phase) in &mut phases {
            let (t0, cpu0) = (Instant::now(), cpu_ms(&mut system, &pids));
            let threads0 = threads(servers.pid());
            let results =
                gatebench_driver::run(&file, &Targets::new((*url).clone()), options()).await?;
            if let (Some(cpu0), Some(cpu1)) = (cpu0, cpu_ms(&mut system, &pids)) {
                let wall_ms = t0.elapsed().as_secs_f64() * 1000.0 * cores as f64;
                phase
                    .busy
                    .push(100.0 * cpu1.saturating_sub(cpu0) as f64 / wall_ms);
            }
            if let (Some(before), Some(after)) = (threads0, threads(servers.pid())) {
                let sent = results.totals.sent as f64;
                phase
                    .threads
                    .push(bench_threads::per_request(&before, &after, sent));
            }
            phase.add(&results, args.warmup);
        }
    }
    outln!(
        "\n  {:<22} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8} {:>8} {:>12} {:>9}",
        "target",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "p999 ms",
        "sent",
        "failed",
        "dropped",
        "late p99 ms",
        "CPU used"
    );
    for (name, _, p) in &phases {
        outln!(
            "  {name:<22} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>8} {:>8} {:>8} {:>12.3} {:>9}",
            Phase::ms(&p.latency, 0.5),
            Phase::ms(&p.latency, 0.9),
            Phase::ms(&p.latency, 0.99),
            Phase::ms(&p.latency, 0.999),
            p.sent,
            p.failed,
            p.dropped,
            Phase::ms(&p.late, 0.99),
            median(&p.busy).map_or("-".into(), |b| format!("{b:.0}%"))
        );
    }
    let (direct, through) = (&phases[0].2, &phases[phases.len() - 1].2);
    let added = |phase: &Phase, who: &str| {
        outln!(
            "  added by {who}: p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms (p99 in each round: {})",
            phase.added(direct, 0.5),
            phase.added(direct, 0.9),
            phase.added(direct, 0.99),
            phase.added_p99_each(direct)
        );
    };
    outln!();
    added(through, "the gateway");
    if phases.len() == 3 {
        added(&phases[1].2, "a bare proxy");
        outln!(
            "  (the bare proxy forwards and does nothing else: what the extra hop costs a caller here, the least any proxy adds)"
        );
    }
    if !through.overhead.is_empty() {
        outln!(
            "  gateway's own time (server-timing total − upstream): p50 {:.3} ms, p99 {:.3} ms",
            Phase::ms(&through.overhead, 0.5),
            Phase::ms(&through.overhead, 0.99)
        );
    }
    outln!(
        "  latency from the intended send time (open loop); late p99: how late the driver sent them; CPU used: by the driver and the servers together, % of all the machine's cores, median of the runs; they share those cores"
    );
    let rows: Vec<(&str, &[BTreeMap<String, Cpu>])> = phases
        .iter()
        .map(|(name, _, p)| (*name, p.threads.as_slice()))
        .collect();
    bench_threads::print(
        &format!("CPU per request at {rate} req/s by the servers' threads and the driver"),
        &rows,
    );
    if !args.no_throughput {
        throughput(&args, servers.pid(), &urls)?;
    }
    let invalid: Vec<String> = phases
        .iter()
        .filter_map(|(name, _, p)| p.invalid(name))
        .collect();
    if invalid.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    for why in &invalid {
        outln!("  INVALID MEASUREMENT — {why}");
    }
    outln!("  the rate overloads this machine: run again with a lower --rate");
    Ok(ExitCode::from(1))
}

/// CPU time so far of the servers' threads by group, and of the driver as one
/// group: its VUs' threads end with each run, and what they used is left only
/// in its process's figure.
fn threads(servers: u32) -> Option<BTreeMap<String, Cpu>> {
    let mut groups = bench_threads::by_group(servers)?;
    groups.insert(
        "driver".to_owned(),
        bench_threads::process(std::process::id())?,
    );
    Some(groups)
}

/// Closed-loop probes the default rate is calibrated by; their median is the
/// gateway's most here. One 3 s probe varies by a fifth from run to run on a
/// shared machine, and half of a high one overloads it.
const PROBES: usize = 3;

/// A closed-loop probe of the most the gateway serves: 16 clients, 3 s.
fn calibration() -> anyhow::Result<ScenarioFile> {
    scenario(
        "bench-gateway-calibration",
        "executor = \"constant-vus\"\nvus = 16\nduration = \"3s\"",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phase_with_failures_is_invalid_and_says_which() {
        let mut p = Phase::new();
        p.sent = 1000;
        assert!(p.invalid("through the gateway").is_none());
        p.failed = 30;
        p.errors.insert("http_429".into(), 20);
        p.errors.insert("timeout".into(), 10);
        p.dropped = 5;
        let why = p.invalid("through the gateway").unwrap();
        assert!(why.starts_with("through the gateway: 3.5% "), "{why}");
        assert!(
            why.contains("http_429 × 20, timeout × 10, dropped × 5"),
            "{why}"
        );
        p.failed = 5;
        p.dropped = 0;
        assert!(p.invalid("x").is_none(), "0.5% is within the 1% allowed");
    }

    #[test]
    fn each_round_is_set_against_the_direct_run_of_the_same_round() {
        let (mut direct, mut through) = (Phase::new(), Phase::new());
        direct.p99s = vec![0.25, 0.5];
        through.p99s = vec![1.0, 0.75];
        assert_eq!(through.added_p99_each(&direct), "0.750, 0.250");
        through.p99s.push(2.0);
        assert_eq!(
            through.added_p99_each(&direct),
            "0.750, 0.250",
            "a round without a direct run has nothing to be set against"
        );
    }
}
