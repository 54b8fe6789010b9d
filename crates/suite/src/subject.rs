//! What a check runs against: the embedded stack (started for the check, with the
//! check's adjustments and a fresh ledger) or an external gateway. Everything a
//! check learns about the gateway comes through HTTP: responses, the tenant's
//! ledger and usage, `/readyz` and `/metrics`; faults go to the mocks' control API.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use gatebench_driver::Trust;
use gatebench_mock::openai::ChatModel;
use gatebench_stack::{Stack, StackOptions};
use serde_json::Value;

use crate::file::{CheckSpec, SuiteFile};

/// A check's system under test.
#[derive(Debug)]
pub struct Subject {
    /// The gateway's base URL (without `/v1`).
    pub gateway: String,
    /// Mock base URLs by name (embedded stack only).
    pub mocks: BTreeMap<String, String>,
    /// The tenant key the suite reads the ledger with.
    pub key: String,
    /// The embedded stack's gateway configuration (for the fallback prices).
    pub embedded_config: Option<gatebench_gateway::GatewayConfig>,
    /// Certificates an `https://` gateway may present.
    pub trust: Trust,
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
    /// Faults cannot be injected into an external target.
    #[error("faults cannot be injected: the target is external and its mocks are unknown")]
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
        let mut options =
            StackOptions::ephemeral(seed, check.stack.time_scale.unwrap_or(suite.time_scale));
        options.ledger = ledger.display().to_string();
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
        let config = options.gateway.clone();
        let stack = Stack::start(options).await?;
        let mocks = stack
            .mock_urls()
            .into_iter()
            .map(|(name, url)| (name.to_owned(), url))
            .collect();
        Ok(Subject {
            gateway: stack.gateway_url(),
            mocks,
            key: "gb-alpha-dev".to_owned(),
            embedded_config: Some(config),
            trust: Trust::Platform,
            stack: Some(stack),
            http: client(),
        })
    }

    /// An external gateway.
    pub fn external(url: &str, key: &str) -> Subject {
        Subject {
            gateway: url.trim_end_matches('/').trim_end_matches("/v1").to_owned(),
            mocks: BTreeMap::new(),
            key: key.to_owned(),
            embedded_config: None,
            trust: Trust::Platform,
            stack: None,
            http: client(),
        }
    }

    /// The same gateway, reached with `trust` for its certificate (by the suite's own
    /// calls and by the load it drives).
    pub fn with_trust(mut self, trust: Trust) -> Result<Subject, SubjectError> {
        if trust != Trust::Platform {
            let config = trust
                .client_config()
                .map_err(|e| http_error("TLS settings", e))?;
            self.http = reqwest::Client::builder()
                .timeout(CALL_TIMEOUT)
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
        for (mock, spec) in faults {
            let url = self.mocks.get(mock).ok_or(SubjectError::NoFaultControl)?;
            let body = serde_json::to_value(spec).map_err(|e| http_error("fault spec", e))?;
            self.put_faults(url, &body).await?;
        }
        Ok(())
    }

    /// Replaces one mock's faults with a JSON spec.
    pub async fn put_faults(&self, mock_url: &str, spec: &Value) -> Result<(), SubjectError> {
        let response = self
            .http
            .put(format!("{mock_url}/_mock/faults"))
            .json(spec)
            .send()
            .await
            .map_err(|e| http_error("applying faults", e))?;
        if !response.status().is_success() {
            let text = response.text().await.unwrap_or_default();
            return Err(http_error("applying faults", text));
        }
        Ok(())
    }

    /// Every ledger entry of the subject's tenant, oldest first.
    pub async fn ledger(&self) -> Result<Vec<Value>, SubjectError> {
        let mut entries = Vec::new();
        let mut after = 0u64;
        loop {
            let page: Value = self
                .get_json(&format!("/v1/gatebench/ledger?after={after}&limit=1000"))
                .await?;
            let data = page["data"].as_array().cloned().unwrap_or_default();
            entries.extend(data);
            match (page["has_more"].as_bool(), page["next_after"].as_u64()) {
                (Some(true), Some(next)) => after = next,
                _ => break,
            }
        }
        Ok(entries)
    }

    /// The tenant's usage totals.
    pub async fn usage(&self) -> Result<Value, SubjectError> {
        self.get_json("/v1/gatebench/usage").await
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
            .bearer_auth(&self.key)
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

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(CALL_TIMEOUT)
        .build()
        .unwrap_or_default()
}
