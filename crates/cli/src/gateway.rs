//! `gatebench gateway` (the gateway alone, in front of the upstreams its config
//! names) and `gatebench up` (the four mocks and the gateway, wired together).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use gatebench_gateway::{Gateway, GatewayConfig, RunningGateway};
use gatebench_mock::Profile;
use gatebench_stack::{Stack, StackOptions};

use crate::mock::MockPortArgs;
use crate::serving::ServingArgs;

/// Default ledger file, in the working directory.
pub const DEFAULT_LEDGER: &str = "gatebench-ledger.db";

/// Options of `gatebench gateway`.
#[derive(Debug, clap::Args)]
pub struct GatewayArgs {
    /// Gateway configuration (tenants, providers, routes, cache, retries, pricing).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port (0 = any free port; the port taken is printed at start).
    #[arg(long, default_value_t = 8700)]
    port: u16,
    /// SQLite file of the cost ledger (`:memory:` keeps nothing).
    #[arg(long, default_value = DEFAULT_LEDGER)]
    ledger: String,
    #[command(flatten)]
    serving: ServingArgs,
}

/// Options of `gatebench up`.
#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// Gateway configuration; default: the demo tenants `alpha` and `beta`.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Mock profile; default: the built-in one (scenarios/profiles/default.toml).
    #[arg(long, value_name = "FILE")]
    mock_config: Option<PathBuf>,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port of the gateway (0 = any free port; the ports taken are printed at start).
    #[arg(long, default_value_t = 8700)]
    port: u16,
    #[command(flatten)]
    mock_ports: MockPortArgs,
    /// SQLite file of the cost ledger (`:memory:` keeps nothing).
    #[arg(long, default_value = DEFAULT_LEDGER)]
    ledger: String,
    /// Seed of every mock draw.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Multiply every mock delay by this (0 = no delays).
    #[arg(long, default_value_t = 1.0, value_parser = crate::mock::time_scale)]
    time_scale: f64,
    #[command(flatten)]
    serving: ServingArgs,
}

pub async fn gateway(args: GatewayArgs) -> anyhow::Result<ExitCode> {
    let admin = args.serving.admin(args.host)?;
    let config = GatewayConfig::load(&args.config)?;
    warn_demo_keys(&config);
    let state = Gateway::new(config, &args.ledger)?;
    let addr = SocketAddr::new(args.host, args.port);
    let running = RunningGateway::start_with(state, addr, args.serving.limits(), admin).await?;
    outln!("gateway      {}/v1", running.url());
    outln!("ledger       {}", args.ledger);
    outln!("Ctrl-C (or SIGTERM) to stop");
    let signal = crate::stop_signal()
        .await
        .context("waiting for a stop signal")?;
    eprintln!("{signal}: draining...");
    running.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

pub async fn up(args: UpArgs) -> anyhow::Result<ExitCode> {
    let admin = args.serving.admin(args.host)?;
    let gateway = match &args.config {
        Some(path) => GatewayConfig::load(path)?,
        None => GatewayConfig::demo(),
    };
    warn_demo_keys(&gateway);
    let profile = match &args.mock_config {
        Some(path) => Profile::load(path)?,
        None => Profile::default(),
    };
    let stack = Stack::start(StackOptions {
        host: args.host,
        gateway_port: args.port,
        mock_ports: args.mock_ports.ports(),
        profile,
        gateway,
        ledger: args.ledger.clone(),
        seed: args.seed,
        time_scale: args.time_scale,
        limits: args.serving.limits(),
        admin,
    })
    .await?;
    outln!("gateway      {}/v1", stack.gateway_url());
    for (name, url) in stack.mock_urls() {
        outln!("{name:<12} {url}");
    }
    outln!("ledger       {}", args.ledger);
    outln!("Ctrl-C (or SIGTERM) to stop");
    let signal = crate::stop_signal()
        .await
        .context("waiting for a stop signal")?;
    eprintln!("{signal}: draining...");
    stack.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

fn warn_demo_keys(config: &GatewayConfig) {
    if config.uses_demo_keys() {
        eprintln!(
            "warning: demo API keys are in use (gb-alpha-dev, gb-beta-dev); anyone who can reach this port can spend their budgets"
        );
    }
}
