//! The `gatebench` command line: one subcommand per job.

/// `println!` that does not panic when stdout is gone (`gatebench run | head`):
/// what a command did, its reports and its exit code do not depend on whether
/// anything still reads its summary.
macro_rules! outln {
    () => {
        $crate::out(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` as [`outln!`] is `println!`.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::out(format_args!($($arg)*))
    };
}

mod bench;
mod bench_gateway;
mod bench_mock;
mod bench_monitor;
mod bench_stack;
mod bench_threads;
mod gateway;
mod k8s;
mod merge;
mod mock;
mod run;
mod scale;
mod serving;
mod suite;
mod suite_segment;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Offline AI-gateway simulator and load-test bench.
#[derive(Debug, Parser)]
#[command(name = "gatebench", version, about, long_about = None)]
pub struct Cli {
    /// Log filter (also `RUST_LOG`), e.g. `info` or `gatebench_gateway=debug`.
    #[arg(long, global = true, env = "GATEBENCH_LOG", default_value = "warn")]
    pub log: String,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the four mock providers (OpenAI, ElevenLabs, personality, WebVTT).
    Mock(mock::MockArgs),
    /// Start the gateway in front of the upstreams its configuration names.
    Gateway(gateway::GatewayArgs),
    /// Start the mocks (8701–8704) and the gateway (8700), wired together.
    Up(gateway::UpArgs),
    /// Run a scenario file against a target (default: the embedded stack).
    Run(run::RunArgs),
    /// Step a scenario's load up (`--steps`) to find its linear range and breaking point.
    Scale(scale::ScaleArgs),
    /// Merge the results of a load's execution segments (`run --segment I/N`).
    Merge(merge::MergeArgs),
    /// Print Kubernetes manifests that run a scenario (or a suite check) as N segments in an Indexed Job.
    K8s(k8s::K8sArgs),
    /// Run a readiness suite (`focused`, `comprehensive`, `conformance`, `agents` or a file): READY or NOT READY.
    Suite(suite::SuiteArgs),
    /// Save, list or delete baselines of suite reports.
    Baseline(suite::BaselineArgs),
    /// Compare a suite report with a baseline; exit 1 on a regression.
    Compare(suite::CompareArgs),
    /// Benchmarks of gatebench itself (`bench driver`, `mock`, `gateway`, `monitor`).
    Bench(bench::BenchArgs),
}

/// An error and its causes in one line, each said once: many errors already name
/// their cause (`report.json: No such file or directory`), and the chain would say it
/// again.
pub fn error_text(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM, the signal Kubernetes, systemd and
/// `docker stop` send: servers then stop accepting, finish what is in flight, and
/// exit 0.
pub(crate) async fn stop_signal() -> anyhow::Result<&'static str> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.map(|()| "SIGINT").map_err(Into::into),
            _ = term.recv() => Ok("SIGTERM"),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await?;
        Ok("Ctrl-C")
    }
}

/// Cancels what is under way on the first Ctrl-C or SIGTERM, saying `stopping`
/// (k6 stops gracefully on either; Kubernetes stops a pod with SIGTERM); a second
/// one quits at once (exit 130). Abort the task when the work is done.
pub(crate) fn cancel_on_stop_signal(
    stopping: &'static str,
) -> (
    tokio::task::JoinHandle<()>,
    tokio::sync::watch::Receiver<bool>,
) {
    let (cancel, cancelled) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(async move {
        if stop_signal().await.is_ok() {
            eprintln!("{stopping}");
            let _ = cancel.send(true);
            if stop_signal().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
    (task, cancelled)
}

/// Sets up logging to stderr.
pub fn init_tracing(cli: &Cli) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&cli.log));
    // colour codes only where a terminal shows them, not in logs and pipes
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// Parses a duration option: `30s`, `500ms`, `2m`.
pub(crate) fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    gatebench_driver::parse_duration(text).map_err(|e| e.to_string())
}

/// Parses a duration option that means nothing at zero (how long a run lasts).
pub(crate) fn parse_positive_duration(text: &str) -> Result<std::time::Duration, String> {
    match parse_duration(text)? {
        d if d.is_zero() => Err("must be above zero".to_owned()),
        d => Ok(d),
    }
}

/// Parses how long a benchmark's load runs: whole seconds, at least one, as wrk
/// and oha count them.
pub(crate) fn parse_seconds(text: &str) -> Result<std::time::Duration, String> {
    match parse_duration(text)? {
        d if d.subsec_nanos() == 0 && d.as_secs() >= 1 => Ok(d),
        _ => Err(
            "must be a whole number of seconds, at least 1 (wrk and oha count in seconds)"
                .to_owned(),
        ),
    }
}

/// Runs a parsed command line; the exit code follows the README: 0 success or READY,
/// 1 a failed threshold or NOT READY, 2 bad usage or configuration.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // Servers size their connection limit from it, and a load test opens many
    // sockets: take every descriptor the hard limit allows, as Go and nginx do.
    if let Err(error) = gatebench_serve::server::raise_descriptor_limit() {
        tracing::debug!(%error, "could not raise the open-file limit");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match cli.command {
            Command::Mock(args) => mock::run(args).await,
            Command::Gateway(args) => gateway::gateway(args).await,
            Command::Up(args) => gateway::up(args).await,
            Command::Run(args) => run::run(args).await,
            Command::Scale(args) => scale::scale_cmd(args).await,
            Command::Merge(args) => merge::merge_cmd(args),
            Command::K8s(args) => k8s::k8s(args),
            Command::Suite(args) => suite::suite(args).await,
            Command::Baseline(args) => suite::baseline(args).await,
            Command::Compare(args) => suite::compare_cmd(args).await,
            Command::Bench(args) => bench::run(args).await,
        }
    })
}

/// Writes on stdout; a reader that has gone (a closed pipe) is not an error of
/// the command.
pub(crate) fn out(args: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let _ = std::io::stdout().lock().write_fmt(args);
}

#[cfg(test)]
mod tests {
    use super::error_text;
    use anyhow::Context as _;

    #[test]
    fn causes_already_named_are_not_repeated() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory");
        let named = anyhow::Error::from(io).context("reading a.toml: No such file or directory");
        assert_eq!(
            error_text(&named),
            "reading a.toml: No such file or directory"
        );
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory");
        let chained = Err::<(), _>(io).context("reading a.toml").unwrap_err();
        assert_eq!(
            error_text(&chained),
            "reading a.toml: No such file or directory"
        );
    }
}
