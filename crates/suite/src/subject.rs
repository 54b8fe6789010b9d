//! What a check runs against: the embedded stack (started for the check, with the
//! check's adjustments and a fresh ledger) or an external target, and the mocks its
//! upstreams point at. Everything a check learns comes through HTTP: the target's
//! responses and whatever its profile says it claims (headers, a ledger, a config
//! endpoint), and the truth from the mocks' books; faults go to the mocks' control
//! API.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use gatebench_driver::Trust;
use gatebench_mock::openai::ChatModel;
use gatebench_stack::{Stack, StackOptions};
use serde_json::Value;

use crate::file::{CheckSpec, SuiteFile};
use crate::profile::TargetProfile;
use crate::truth::Books;

/// The embedded stack's demo tenants' keys, which the shipped scenarios use; against
/// another target they are swapped for the `--key`s given.
pub const DEMO_KEYS: [&str; 2] = ["gb-alpha-dev", "gb-beta-dev"];

/// A check's system under test.
#[derive(Debug)]
pub struct Subject {
    /// The target's base URL (without `/v1`).
    pub gateway: String,
    /// The books of the mocks the target's upstreams point at, when known (always
    /// on the embedded stack; with `--mocks` for an external target).
    pub books: Option<Books>,
    /// Tenant keys: the first is the suite's own; more are more tenants.
    pub keys: Vec<String>,
    /// Where the target reports what it did.
    pub profile: TargetProfile,
    /// Certificates an `https://` gateway may present.
    pub trust: Trust,
    /// The embedded mocks' time scale (their delays ×this); `None` for an external
    /// target, whose mocks keep their own.
    pub time_scale: Option<f64>,
    stack: Option<Stack>,
    http: reqwest::Client,
}

/// Something the subject could not do.
#[derive(Debug, thiserror::Error)]
pub enum SubjectError {
    /// The embedded stack did not start.
    #[error("the embedded stack did not start: {0}")]
    Start(#[from] gatebench_stack::StackError),
    /// An HTTP call failed.
    #[error("{what}: {detail}")]
    Http {
        /// What was asked.
        what: String,
        /// Why it failed.
        detail: String,
    },
    /// Faults cannot be injected without the mocks.
    #[error(
        "faults cannot be injected: the mocks behind the target are unknown (name them with --mocks URL)"
    )]
    NoFaultControl,
}

fn http_error(what: &str, detail: impl std::fmt::Display) -> SubjectError {
    SubjectError::Http {
        what: what.to_owned(),
        detail: detail.to_string(),
    }
}

impl Subject {
    /// Starts the embedded stack for `check`: the suite's seed and time scale, the
    /// check's adjustments, a fresh ledger file under `out`.
    pub async fn embedded(
        suite: &SuiteFile,
        check: &CheckSpec,
        seed: u64,
        out: &Path,
    ) -> Result<Subject, SubjectError> {
        let ledger_dir = out.join("ledgers");
        std::fs::create_dir_all(&ledger_dir)
            .map_err(|e| http_error("creating the ledger folder", e))?;
        let ledger = ledger_dir.join(format!("{}.db", check.name));
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", ledger.display()));
        }
        let mut options = Self::stack_options(suite, check, seed);
        options.ledger = ledger.display().to_string();
        let time_scale = options.time_scale;
        let stack = Stack::start(options).await?;
        let mocks = stack
            .mock_urls()
            .into_iter()
            .map(|(name, url)| (name.to_owned(), url))
            .collect();
        let http = client();
        Ok(Subject {
            gateway: stack.gateway_url(),
            books: Some(Books::new(http.clone(), mocks)),
            keys: vec![DEMO_KEYS[0].to_owned(), DEMO_KEYS[1].to_owned()],
            profile: TargetProfile::load("gatebench")
                .map_err(|e| http_error("the gatebench profile", e))?,
            trust: Trust::Platform,
            time_scale: Some(time_scale),
            stack: Some(stack),
            http,
        })
    }

    /// How the embedded stack is started for `check`: the suite's seed and time
    /// scale, the check's adjustments (the same options start a stack outside the
    /// suite, as `gatebench up` does, to judge it as an external target).
    pub fn stack_options(suite: &SuiteFile, check: &CheckSpec, seed: u64) -> StackOptions {
        let mut options =
            StackOptions::ephemeral(seed, check.stack.time_scale.unwrap_or(suite.time_scale));
        let tweaks = &check.stack;
        for provider in options.gateway.providers.iter_mut() {
            if let Some(n) = tweaks.concurrency.get(&provider.name) {
                provider.concurrency = *n;
            }
            if let Some(n) = tweaks.queue_capacity.get(&provider.name) {
                provider.queue_capacity = *n;
            }
        }
        if let Some(threshold) = tweaks.cache_threshold {
            options.gateway.cache.threshold = threshold;
        }
        for model in &tweaks.extra_models {
            let base = options
                .profile
                .openai
                .chat_models
                .get("gpt-4o-mini")
                .cloned()
                .unwrap_or_else(ChatModel::default);
            options
                .profile
                .openai
                .chat_models
                .insert(model.clone(), base);
        }
        options
    }

    /// An external target, judged with `profile`, with the mocks' books if known.
    pub fn external(
        url: &str,
        keys: &[String],
        profile: TargetProfile,
        books: Option<Books>,
    ) -> Subject {
        Subject {
            gateway: url.trim_end_matches('/').trim_end_matches("/v1").to_owned(),
            books,
            keys: keys.to_vec(),
            profile,
            trust: Trust::Platform,
            time_scale: None,
            stack: None,
            http: client(),
        }
    }

    /// The suite's own tenant key.
    pub fn key(&self) -> &str {
        self.keys.first().map_or(DEMO_KEYS[0], String::as_str)
    }

    /// The scenarios' demo keys mapped to this subject's tenants: the first demo
    /// key to the first tenant, the second to the second (or the first again).
    pub fn key_map(&self) -> BTreeMap<String, String> {
        DEMO_KEYS
            .iter()
            .enumerate()
            .map(|(i, demo)| {
                let key = self.keys.get(i).or(self.keys.first());
                (
                    demo.to_string(),
                    key.map_or(demo.to_string(), String::clone),
                )
            })
            .collect()
    }

    /// The mocks' books, or why the check cannot have the truth.
    pub fn truth(&self) -> Result<&Books, String> {
        self.books.as_ref().ok_or_else(|| {
            "not measurable: the mocks behind the target are unknown (name them with --mocks URL)"
                .to_owned()
        })
    }

    /// The same gateway, reached with `trust` for its certificate (by the suite's own
    /// calls and by the load it drives).
    pub fn with_trust(mut self, trust: Trust) -> Result<Subject, SubjectError> {
        if trust != Trust::Platform {
            let config = trust
                .client_config()
                .map_err(|e| http_error("TLS settings", e))?;
            // the TLS configuration is given whole, its provider included
            #[allow(clippy::disallowed_methods)]
            let builder = reqwest::Client::builder();
            self.http = builder
                .timeout(CALL_TIMEOUT)
                .default_headers(operator_headers())
                .use_preconfigured_tls(config)
                .build()
                .map_err(|e| http_error("TLS settings", e))?;
        }
        self.trust = trust;
        Ok(self)
    }

    /// True when the suite started this subject itself.
    pub fn is_embedded(&self) -> bool {
        self.stack.is_some()
    }

    /// A shared HTTP client.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Replaces the faults of the named mocks.
    pub async fn apply_faults(
        &self,
        faults: &BTreeMap<String, toml::Value>,
    ) -> Result<(), SubjectError> {
        if faults.is_empty() {
            return Ok(());
        }
        let books = self.books.as_ref().ok_or(SubjectError::NoFaultControl)?;
        for (mock, spec) in faults {
            let body = serde_json::to_value(spec).map_err(|e| http_error("fault spec", e))?;
            books
                .put_faults(mock, &body)
                .await
                .map_err(|e| http_error("applying faults", e))?;
        }
        Ok(())
    }

    /// Puts every mock back to its profile's faults (the check is over).
    pub async fn clear_faults(&self, faults: &BTreeMap<String, toml::Value>) {
        if let Some(books) = &self.books {
            for mock in faults.keys() {
                let _ = books.put_faults(mock, &serde_json::json!({})).await;
            }
        }
    }

    /// The target's settings endpoint, if its profile names one.
    pub async fn config(&self) -> Option<Value> {
        let path = self.profile.config.as_ref()?.path.clone();
        self.get_json(&path).await.ok()
    }

    /// Every ledger entry of the subject's tenant, oldest first, if the profile
    /// names a ledger.
    pub async fn ledger(&self) -> Result<Option<Vec<Value>>, SubjectError> {
        let Some(path) = self.profile.ledger.as_ref().map(|l| l.path.clone()) else {
            return Ok(None);
        };
        let mut entries = Vec::new();
        let mut after = 0u64;
        loop {
            let page: Value = self
                .get_json(&format!("{path}?after={after}&limit=1000"))
                .await?;
            let data = page["data"].as_array().cloned().unwrap_or_default();
            entries.extend(data);
            match (page["has_more"].as_bool(), page["next_after"].as_u64()) {
                (Some(true), Some(next)) => after = next,
                _ => break,
            }
        }
        Ok(Some(entries))
    }

    /// `/readyz` answered 200.
    pub async fn ready(&self) -> bool {
        match self
            .http
            .get(format!("{}/readyz", self.gateway))
            .timeout(Duration::from_secs(2))
            .send()
            .await
        {
            Ok(r) => r.status().is_success(),
            Err(_) => false,
        }
    }

    /// Whether the target serves a readiness route at all (`/readyz` answers
    /// something other than 404 or 405).
    pub async fn ready_route(&self) -> bool {
        match self
            .http
            .get(format!("{}/readyz", self.gateway))
            .timeout(Duration::from_secs(2))
            .send()
            .await
        {
            Ok(r) => !matches!(r.status().as_u16(), 404 | 405),
            Err(_) => false,
        }
    }

    /// `/healthz` answered at all.
    pub async fn reachable(&self) -> bool {
        self.http
            .get(format!("{}/healthz", self.gateway))
            .timeout(Duration::from_secs(3))
            .send()
            .await
            .is_ok()
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics(&self) -> Result<String, SubjectError> {
        let response = self
            .http
            .get(format!("{}/metrics", self.gateway))
            .send()
            .await
            .map_err(|e| http_error("reading /metrics", e))?;
        response
            .text()
            .await
            .map_err(|e| http_error("reading /metrics", e))
    }

    async fn get_json(&self, path: &str) -> Result<Value, SubjectError> {
        let response = self
            .http
            .get(format!("{}{path}", self.gateway))
            .bearer_auth(self.key())
            .send()
            .await
            .map_err(|e| http_error(path, e))?;
        let status = response.status();
        let body: Value = response.json().await.map_err(|e| http_error(path, e))?;
        if !status.is_success() {
            return Err(http_error(path, format!("{status}: {body}")));
        }
        Ok(body)
    }

    /// Stops the embedded stack, if any.
    pub async fn shutdown(self) {
        if let Some(stack) = self.stack {
            stack.shutdown().await;
        }
    }
}

/// How long one of the suite's own calls may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// The suite's HTTP client for its own calls.
pub fn client() -> reqwest::Client {
    gatebench_tls::http_client()
        .timeout(CALL_TIMEOUT)
        .default_headers(operator_headers())
        .build()
        .unwrap_or_else(|_| gatebench_tls::client())
}

/// The admin token of servers bound beyond loopback (`GATEBENCH_ADMIN_TOKEN`), sent
/// with the suite's own calls: the mocks' books and `/metrics` need it there.
fn operator_headers() -> reqwest::header::HeaderMap {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(value) = std::env::var("GATEBENCH_ADMIN_TOKEN")
        .ok()
        .and_then(|token| reqwest::header::HeaderValue::from_str(token.trim()).ok())
    {
        headers.insert("x-gatebench-admin-token", value);
    }
    headers
}
