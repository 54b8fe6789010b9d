//! What `gatebench mock`, `gateway` and `up` allow their clients: connection limits
//! and timeouts, and the admin token that guards operator routes.

use std::net::IpAddr;
use std::time::Duration;

use gatebench_serve::admin::AdminToken;
use gatebench_serve::server::Limits;

/// Serving limits and access (defaults documented in the README, "Serving limits").
#[derive(Debug, clap::Args)]
pub struct ServingArgs {
    /// Time a client has to send a request's headers; also how long an idle
    /// keep-alive connection stays open.
    #[arg(long, default_value = "30s", value_parser = crate::parse_duration)]
    header_timeout: Duration,
    /// Longest pause while a request body arrives (then 408).
    #[arg(long, default_value = "30s", value_parser = crate::parse_duration)]
    body_timeout: Duration,
    /// Connections each server serves at once; more wait in the listen backlog
    /// [default: (the open-file limit − 256) ÷ 4, within 64–16384].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: Option<u32>,
    /// Token required by /metrics and the mocks' control API (header
    /// x-gatebench-admin-token or Authorization: Bearer). Required when --host is
    /// not a loopback address; without it, on loopback, they are open.
    #[arg(long, env = gatebench_serve::admin::ENV, hide_env_values = true)]
    admin_token: Option<String>,
}

impl ServingArgs {
    /// The limits each client connection is held to.
    pub fn limits(&self) -> Limits {
        let mut limits = Limits {
            header_timeout: self.header_timeout,
            body_timeout: self.body_timeout,
            ..Limits::default()
        };
        if let Some(n) = self.max_connections {
            limits.max_connections = n as usize;
        }
        limits
    }

    /// The operator routes' guard for a server binding `host`.
    pub fn admin(&self, host: IpAddr) -> anyhow::Result<AdminToken> {
        AdminToken::for_host(host, self.admin_token.clone()).map_err(anyhow::Error::msg)
    }
}
