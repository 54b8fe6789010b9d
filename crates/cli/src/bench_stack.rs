//! The servers the mock and gateway benchmarks load, in a child process: the
//! embedded stack with delays and rate limits off, and a trivial handler served by
//! the same accept loop as the mocks (the ceiling). Prints one JSON line of
//! addresses; stops when stdin closes.

use std::io::{BufRead as _, Write as _};
use std::process::ExitCode;
use std::time::Duration;

use axum::Router;
use axum::routing::any;
use gatebench_mock::ratelimit::RateLimitConfig;
use gatebench_mock::server::ServerOptions;
use gatebench_stack::{Stack, StackOptions};
use serde_json::json;

pub async fn serve() -> anyhow::Result<ExitCode> {
    let mut options = StackOptions::ephemeral(0, 0.0);
    let profile = &mut options.profile;
    for limits in [
        &mut profile.openai.rate_limits,
        &mut profile.elevenlabs.rate_limits,
        &mut profile.personality.rate_limits,
        &mut profile.webvtt.rate_limits,
    ] {
        *limits = RateLimitConfig::default();
    }
    let stack = Stack::start(options).await?;
    // it reads the body it is sent, so a POST leaves the connection open
    let trivial = Router::new().route("/", any(|_: axum::body::Bytes| async { "ok" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let trivial = {
        // served like a mock, so the two compare
        let options = ServerOptions {
            drain: Duration::from_secs(1),
            resettable: true,
            ..ServerOptions::default()
        };
        gatebench_mock::server::spawn(listener, trivial, options)?
    };
    let line = json!({
        "gateway": stack.gateway_url(),
        "openai": stack.mock_url("openai"),
        "trivial": format!("http://{}", trivial.addr()),
    });
    println!("{line}");
    std::io::stdout().flush()?;
    tokio::task::spawn_blocking(|| {
        let mut sink = String::new();
        while std::io::stdin()
            .lock()
            .read_line(&mut sink)
            .is_ok_and(|n| n > 0)
        {
            sink.clear();
        }
    })
    .await?;
    trivial.shutdown(Duration::ZERO).await;
    stack.shutdown().await;
    Ok(ExitCode::SUCCESS)
}
