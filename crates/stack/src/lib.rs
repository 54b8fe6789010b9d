//! The embedded stack: the four mock providers and the gateway in front of them,
//! started in one process and wired together.
//!
//! `gatebench up` runs it on fixed ports (mocks on 8701–8704, gateway on 8700);
//! `gatebench run` and `gatebench suite` run it on free ports when no `--target` is
//! given; tests run it on free ports. The gateway's configuration names the mocks'
//! default addresses; [`Stack::start`] points every provider at the mock of its
//! kind wherever that mock actually listens.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use gatebench_gateway::{Gateway, GatewayConfig, ProviderKind, RunningGateway, StartError};
use gatebench_mock::{MockOptions, MockPorts, Profile, RunningMocks};
use gatebench_serve::admin::AdminToken;
use gatebench_serve::server::Limits;

/// How to start the stack.
#[derive(Clone, Debug)]
pub struct StackOptions {
    /// Address to bind.
    pub host: IpAddr,
    /// Gateway port (0 = any free port).
    pub gateway_port: u16,
    /// Mock ports.
    pub mock_ports: MockPorts,
    /// Mock profile.
    pub profile: Profile,
    /// Gateway configuration.
    pub gateway: GatewayConfig,
    /// Ledger file, or `:memory:`.
    pub ledger: String,
    /// Seed of every mock draw.
    pub seed: u64,
    /// Mock delays multiplied by this (0 = none).
    pub time_scale: f64,
    /// What each client connection of every server is allowed.
    pub limits: Limits,
    /// Who may call `/metrics` and the mocks' control API.
    pub admin: AdminToken,
}

impl StackOptions {
    /// Free ports, the default profile, the demo gateway, an in-memory ledger.
    pub fn ephemeral(seed: u64, time_scale: f64) -> StackOptions {
        StackOptions {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            gateway_port: 0,
            mock_ports: MockPorts::EPHEMERAL,
            profile: Profile::default(),
            gateway: GatewayConfig::demo(),
            ledger: ":memory:".to_owned(),
            seed,
            time_scale,
            limits: Limits::default(),
            admin: AdminToken::open(),
        }
    }
}

/// The stack could not start.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// A mock.
    #[error(transparent)]
    Mocks(#[from] gatebench_mock::StartError),
    /// The gateway.
    #[error(transparent)]
    Gateway(#[from] StartError),
}

/// The running stack.
#[derive(Debug)]
pub struct Stack {
    mocks: RunningMocks,
    gateway: RunningGateway,
}

impl Stack {
    /// Starts the mocks, then the gateway pointed at them.
    pub async fn start(options: StackOptions) -> Result<Stack, StackError> {
        let StackOptions {
            host,
            gateway_port,
            mock_ports,
            profile,
            mut gateway,
            ledger,
            seed,
            time_scale,
            limits,
            admin,
        } = options;
        let mocks = RunningMocks::start(MockOptions {
            host,
            ports: mock_ports,
            profile,
            seed,
            time_scale,
            limits,
            admin: admin.clone(),
            ..MockOptions::default()
        })
        .await?;
        for (kind, mock) in [
            (ProviderKind::Openai, "openai"),
            (ProviderKind::Elevenlabs, "elevenlabs"),
            (ProviderKind::Personality, "personality"),
            (ProviderKind::Webvtt, "webvtt"),
        ] {
            if let Some(url) = mocks.url(mock) {
                gateway.set_base_url(kind, &url);
            }
        }
        let state = match Gateway::new(gateway, &ledger) {
            Ok(state) => state,
            Err(error) => {
                mocks.shutdown().await;
                return Err(error.into());
            }
        };
        let addr = SocketAddr::new(host, gateway_port);
        let gateway = match RunningGateway::start_with(state, addr, limits, admin).await {
            Ok(g) => g,
            Err(error) => {
                mocks.shutdown().await;
                return Err(error.into());
            }
        };
        tracing::info!(gateway = %gateway.url(), "embedded stack up");
        Ok(Stack { mocks, gateway })
    }

    /// The gateway's base URL (`http://ADDR`, without `/v1`).
    pub fn gateway_url(&self) -> String {
        self.gateway.url()
    }

    /// A mock's base URL (`openai`, `elevenlabs`, `personality`, `webvtt`).
    pub fn mock_url(&self, mock: &str) -> Option<String> {
        self.mocks.url(mock)
    }

    /// Every mock's name and URL.
    pub fn mock_urls(&self) -> Vec<(&'static str, String)> {
        self.mocks.urls()
    }

    /// The running gateway (its ledger, caches and queues).
    pub fn gateway(&self) -> &RunningGateway {
        &self.gateway
    }

    /// Stops the gateway (flushing its ledger), then the mocks.
    pub async fn shutdown(self) {
        self.gateway.shutdown().await;
        self.mocks.shutdown().await;
    }
}
