//! `gatebench mock`: the four mock providers in the foreground until Ctrl-C.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use gatebench_mock::{MockOptions, MockPorts, Profile, RunningMocks};

/// The mocks' ports (0 = any free port; the ports taken are printed at start).
#[derive(Debug, clap::Args)]
pub struct MockPortArgs {
    /// Port of the OpenAI-compatible mock.
    #[arg(long, default_value_t = MockPorts::DEFAULT.openai)]
    openai_port: u16,
    /// Port of the ElevenLabs-compatible mock.
    #[arg(long, default_value_t = MockPorts::DEFAULT.elevenlabs)]
    elevenlabs_port: u16,
    /// Port of the personality service.
    #[arg(long, default_value_t = MockPorts::DEFAULT.personality)]
    personality_port: u16,
    /// Port of the WebVTT service.
    #[arg(long, default_value_t = MockPorts::DEFAULT.webvtt)]
    webvtt_port: u16,
}

impl MockPortArgs {
    /// As the mocks take them.
    pub fn ports(&self) -> MockPorts {
        MockPorts {
            openai: self.openai_port,
            elevenlabs: self.elevenlabs_port,
            personality: self.personality_port,
            webvtt: self.webvtt_port,
        }
    }
}

/// Options of `gatebench mock`.
#[derive(Debug, clap::Args)]
pub struct MockArgs {
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    #[command(flatten)]
    ports: MockPortArgs,
    /// Mock profile (latency, capacity, rate limits, faults); default: the built-in one,
    /// documented in scenarios/profiles/default.toml.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Seed of every draw (content, latency, faults).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Multiply every delay by this (0 = no delays).
    #[arg(long, default_value_t = 1.0, value_parser = time_scale)]
    time_scale: f64,
    #[command(flatten)]
    serving: crate::serving::ServingArgs,
}

/// Parses `--time-scale`, a time scale the mocks run at.
pub(crate) fn time_scale(text: &str) -> Result<f64, String> {
    let scale = text
        .trim()
        .parse::<f64>()
        .map_err(|_| format!("`{text}` is not a number"))?;
    gatebench_mock::check_time_scale(scale)
}

pub async fn run(args: MockArgs) -> anyhow::Result<ExitCode> {
    let admin = args.serving.admin(args.host)?;
    let profile = match &args.config {
        Some(path) => Profile::load(path)?,
        None => Profile::default(),
    };
    let options = MockOptions {
        host: args.host,
        ports: args.ports.ports(),
        profile,
        seed: args.seed,
        time_scale: args.time_scale,
        limits: args.serving.limits(),
        admin,
        ..MockOptions::default()
    };
    let mocks = RunningMocks::start(options)
        .await
        .context("starting the mocks")?;
    for (name, url) in mocks.urls() {
        let base = if name == "openai" {
            format!("{url}/v1")
        } else {
            url
        };
        outln!("{name:<12} {base}");
    }
    outln!(
        "control API on each mock: GET/PUT /_mock/faults, GET /_mock/stats, GET /_mock/calls (the books), POST /_mock/reset; Ctrl-C (or SIGTERM) to stop"
    );
    let signal = crate::stop_signal()
        .await
        .context("waiting for a stop signal")?;
    eprintln!("{signal}: draining...");
    mocks.shutdown().await;
    Ok(ExitCode::SUCCESS)
}
