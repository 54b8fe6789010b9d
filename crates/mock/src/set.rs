//! Starting all four mocks in one process, each on its own listener.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use gatebench_serve::admin::AdminToken;
use gatebench_wire::books::MockSet;

use crate::config::Profile;
use crate::control::{Control, MockApp, SharedSet};
use crate::server::{self, Limits, ServerHandle, ServerOptions};
use crate::{elevenlabs, openai, personality, webvtt};

/// How a mock serves, and so what a benchmark serves beside the mocks to compare
/// them with: each connection on one of a thread per core, named `{threads}-{i}`
/// (see `gatebench_serve::cores`; on a work-stealing runtime the cross-thread
/// wake-ups of a half-loaded server cost about a tenth of a mock's CPU), and
/// resettable, for the faults that reset a connection.
pub fn serving(drain: Duration, limits: Limits, threads: &'static str) -> ServerOptions {
    ServerOptions {
        drain,
        limits,
        resettable: true,
        cores: gatebench_serve::cores::available(),
        thread_name: threads,
    }
}

/// Ports of the four mocks (0 = any free port).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MockPorts {
    /// OpenAI-compatible.
    pub openai: u16,
    /// ElevenLabs-compatible.
    pub elevenlabs: u16,
    /// Personality.
    pub personality: u16,
    /// WebVTT.
    pub webvtt: u16,
}

impl MockPorts {
    /// 8701–8704.
    pub const DEFAULT: MockPorts = MockPorts {
        openai: 8701,
        elevenlabs: 8702,
        personality: 8703,
        webvtt: 8704,
    };
    /// Free ports chosen by the OS (tests).
    pub const EPHEMERAL: MockPorts = MockPorts {
        openai: 0,
        elevenlabs: 0,
        personality: 0,
        webvtt: 0,
    };
}

/// The slowest time scale: a thousand times slower than real is a hang, not a
/// load test.
pub const MAX_TIME_SCALE: f64 = 1000.0;
/// The fastest time scale above zero: a thousand times faster than real. Below it
/// the real-time equivalents thresholds judge (a measured time divided by the
/// scale) stop meaning anything; 0 is no delays at all.
pub const MIN_TIME_SCALE: f64 = 0.001;

/// `scale` if it is a time scale the mocks run at: 0 (no delays), or from
/// [`MIN_TIME_SCALE`] to [`MAX_TIME_SCALE`] (1 = real time).
pub fn check_time_scale(scale: f64) -> Result<f64, String> {
    if scale == 0.0 || (MIN_TIME_SCALE..=MAX_TIME_SCALE).contains(&scale) {
        Ok(scale)
    } else {
        Err(format!(
            "{scale:?} is not a time scale: 0 (no delays) or a number from {MIN_TIME_SCALE} to {MAX_TIME_SCALE} (1 = real time)"
        ))
    }
}

/// How to start the mocks.
#[derive(Clone, Debug)]
pub struct MockOptions {
    /// Address to bind.
    pub host: IpAddr,
    /// Ports.
    pub ports: MockPorts,
    /// Latency, capacity, limits and faults.
    pub profile: Profile,
    /// Seed of every draw.
    pub seed: u64,
    /// Every delay is multiplied by this (0 = no delays).
    pub time_scale: f64,
    /// How long shutdown waits for open requests.
    pub drain: Duration,
    /// What each client connection is allowed (timeouts, connection limit).
    pub limits: Limits,
    /// Who may call the control API (`/_mock/...`).
    pub admin: AdminToken,
}

impl Default for MockOptions {
    fn default() -> Self {
        MockOptions {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            ports: MockPorts::DEFAULT,
            profile: Profile::default(),
            seed: 0,
            time_scale: 1.0,
            drain: server::DEFAULT_DRAIN,
            limits: Limits::default(),
            admin: AdminToken::open(),
        }
    }
}

/// A mock could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot start the {mock} mock on {addr}: {source}")]
pub struct StartError {
    mock: &'static str,
    addr: SocketAddr,
    source: std::io::Error,
}

/// The four mocks, running.
#[derive(Debug)]
pub struct RunningMocks {
    servers: Vec<(&'static str, ServerHandle)>,
    drain: Duration,
}

impl RunningMocks {
    /// Starts the four mocks.
    pub async fn start(options: MockOptions) -> Result<RunningMocks, StartError> {
        let MockOptions {
            host,
            ports,
            profile,
            seed,
            time_scale,
            drain,
            limits,
            admin,
        } = options;
        let control = Control {
            set: SharedSet::default(),
            admin,
        };
        let apps: [(&'static str, &'static str, u16, MockApp); 4] = [
            (
                "openai",
                "mock-openai",
                ports.openai,
                openai::router(&profile.openai, seed, time_scale, &control),
            ),
            (
                "elevenlabs",
                "mock-eleven",
                ports.elevenlabs,
                elevenlabs::router(&profile.elevenlabs, seed, time_scale, &control),
            ),
            (
                "personality",
                "mock-persona",
                ports.personality,
                personality::router(&profile.personality, seed, time_scale, &control),
            ),
            (
                "webvtt",
                "mock-webvtt",
                ports.webvtt,
                webvtt::router(&profile.webvtt, seed, time_scale, &control),
            ),
        ];
        let mut servers = Vec::with_capacity(apps.len());
        for (mock, threads, port, app) in apps {
            let addr = SocketAddr::new(host, port);
            let started = async {
                let listener = server::bind(addr)?;
                server::spawn(listener, app, serving(drain, limits, threads))
            };
            match started.await {
                Ok(handle) => {
                    tracing::info!(mock, addr = %handle.addr(), "mock listening");
                    servers.push((mock, handle));
                }
                Err(source) => {
                    for (_, handle) in servers {
                        handle.shutdown(Duration::ZERO).await;
                    }
                    return Err(StartError { mock, addr, source });
                }
            }
        }
        let running = RunningMocks { servers, drain };
        let _ = control.set.set(MockSet {
            mocks: running
                .urls()
                .into_iter()
                .map(|(name, url)| (name.to_owned(), url))
                .collect(),
        });
        Ok(running)
    }

    /// Address of one mock (`openai`, `elevenlabs`, `personality`, `webvtt`).
    pub fn addr(&self, mock: &str) -> Option<SocketAddr> {
        self.servers
            .iter()
            .find(|(name, _)| *name == mock)
            .map(|(_, h)| h.addr())
    }

    /// `http://ADDR` of one mock.
    pub fn url(&self, mock: &str) -> Option<String> {
        self.addr(mock).map(|a| format!("http://{a}"))
    }

    /// Names and base URLs of the mocks, in start order.
    pub fn urls(&self) -> Vec<(&'static str, String)> {
        self.servers
            .iter()
            .map(|(name, h)| (*name, format!("http://{}", h.addr())))
            .collect()
    }

    /// Stops all mocks, letting open requests finish within the drain time.
    pub async fn shutdown(self) {
        let drain = self.drain;
        futures::future::join_all(self.servers.into_iter().map(|(_, h)| h.shutdown(drain))).await;
    }
}

#[cfg(test)]
mod tests {
    use gatebench_serve::admin::HEADER;
    use serde_json::{Value, json};

    use super::*;

    /// The set and the admin token reach the control routes of every mock, and only
    /// them: a provider route needs no admin token.
    #[tokio::test]
    async fn a_sets_control_api_is_behind_its_token_and_knows_the_set() {
        let mocks = RunningMocks::start(MockOptions {
            ports: MockPorts::EPHEMERAL,
            time_scale: 0.0,
            admin: AdminToken::new("s3cret"),
            ..Default::default()
        })
        .await
        .unwrap();
        let client = gatebench_tls::http_client().build().unwrap();
        let listed: Value = json!({
            "mocks": mocks.urls().into_iter().collect::<std::collections::BTreeMap<_, _>>()
        });
        for (mock, url) in mocks.urls() {
            let get = |path: &str| client.get(format!("{url}{path}"));
            let refused = get("/_mock/set").send().await.unwrap();
            assert_eq!(refused.status(), 401, "{mock}");
            let wrong = get("/_mock/stats").header(HEADER, "guess").send().await;
            assert_eq!(wrong.unwrap().status(), 401, "{mock}");
            let set = get("/_mock/set")
                .header(HEADER, "s3cret")
                .send()
                .await
                .unwrap();
            assert_eq!(set.status(), 200, "{mock}");
            assert_eq!(set.json::<Value>().await.unwrap(), listed, "{mock}");
            assert_eq!(get("/healthz").send().await.unwrap().status(), 200);
        }
        let url = mocks.url("openai").unwrap();
        let chat = client
            .post(format!("{url}/v1/chat/completions"))
            .bearer_auth("sk-any")
            .json(&json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(chat.status(), 200);
        mocks.shutdown().await;
    }
}
