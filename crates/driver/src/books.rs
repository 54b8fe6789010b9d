//! The mocks' books read over HTTP: every upstream call a target made, with its
//! exact usage, content digest, outcome, duration and the correlation id it carried.
//!
//! Mark the books before a load, wait for the mocks to finish what they were
//! serving, then read every call since the mark. A run given the books
//! (`RunOptions::books`) does this itself, and its bottleneck finding weighs the
//! time the mocks spent against the time its clients waited; suites attribute the
//! calls to the requests the driver sent. Nothing here asks the target anything:
//! truth needs no cooperation.

use std::collections::BTreeMap;
use std::time::Duration;

use gatebench_wire::books::{CallPage, CallRecord, MockSet};
use serde_json::Value;

/// Longest wait for the mocks to finish the calls in flight when a run ends.
const SETTLE: Duration = Duration::from_secs(10);

/// The books of one set of mocks, read over HTTP.
#[derive(Clone, Debug)]
pub struct Books {
    http: reqwest::Client,
    mocks: BTreeMap<String, String>,
}

/// The last call id of each mock at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Mark(BTreeMap<String, u64>);

/// The calls the mocks served between a mark and now.
#[derive(Clone, Debug, Default)]
pub struct Window {
    /// Every call, by mock then id.
    pub calls: Vec<CallRecord>,
    /// Mocks whose log dropped calls of the window before they were read, and how
    /// many: per-call truth is then incomplete (totals still hold).
    pub lost: Vec<String>,
    /// Each mock's limit of requests in flight per API key, where it has one.
    pub concurrent_per_key: BTreeMap<String, u32>,
}

fn fail(what: &str, error: impl std::fmt::Display) -> String {
    format!("{what}: {error}")
}

impl Books {
    /// The mocks named, by name (`openai`, `elevenlabs`, ...) and base URL.
    pub fn new(http: reqwest::Client, mocks: BTreeMap<String, String>) -> Books {
        Books { http, mocks }
    }

    /// The whole set of mocks one mock belongs to, found from its URL.
    pub async fn discover(http: reqwest::Client, url: &str) -> Result<Books, String> {
        let url = url.trim_end_matches('/').trim_end_matches("/v1").to_owned();
        let what = format!("reading the mock set from {url}/_mock/set");
        let response = http
            .get(format!("{url}/_mock/set"))
            .send()
            .await
            .map_err(|e| fail(&what, e))?;
        if !response.status().is_success() {
            return Err(format!(
                "{what}: {} (is {url} a gatebench mock?)",
                response.status()
            ));
        }
        let set: MockSet = response.json().await.map_err(|e| fail(&what, e))?;
        let mut mocks = set.mocks;
        if mocks.is_empty() {
            // A mock started on its own: its name is in /healthz.
            let health: Value = http
                .get(format!("{url}/healthz"))
                .send()
                .await
                .map_err(|e| fail(&what, e))?
                .json()
                .await
                .map_err(|e| fail(&what, e))?;
            let name = health["mock"].as_str().unwrap_or("openai").to_owned();
            mocks.insert(name, url);
        }
        Ok(Books { http, mocks })
    }

    /// [`Books::new`] with a client of its own.
    pub fn at(mocks: BTreeMap<String, String>) -> Books {
        Books::new(gatebench_tls::client(), mocks)
    }

    /// [`Books::discover`] with a client of its own.
    pub async fn discover_at(url: &str) -> Result<Books, String> {
        Books::discover(gatebench_tls::client(), url).await
    }

    /// Base URL by mock name.
    pub fn urls(&self) -> &BTreeMap<String, String> {
        &self.mocks
    }

    async fn page(&self, url: &str, after: u64, limit: usize) -> Result<CallPage, String> {
        let what = format!("reading the books at {url}");
        let response = self
            .http
            .get(format!("{url}/_mock/calls?after={after}&limit={limit}"))
            .send()
            .await
            .map_err(|e| fail(&what, e))?;
        if !response.status().is_success() {
            return Err(format!("{what}: {}", response.status()));
        }
        response.json().await.map_err(|e| fail(&what, e))
    }

    /// Where the books stand now.
    pub async fn mark(&self) -> Result<Mark, String> {
        let mut mark = BTreeMap::new();
        for (name, url) in &self.mocks {
            let page = self.page(url, u64::MAX, 1).await?;
            mark.insert(name.clone(), page.last_id);
        }
        Ok(Mark(mark))
    }

    /// Waits (bounded) until no mock is serving a call, so that every call of a run
    /// that just ended is in the books.
    pub async fn settle(&self) {
        let deadline = tokio::time::Instant::now() + SETTLE;
        for url in self.mocks.values() {
            loop {
                let in_flight = async {
                    let stats: Value = self
                        .http
                        .get(format!("{url}/_mock/stats"))
                        .send()
                        .await
                        .ok()?
                        .json()
                        .await
                        .ok()?;
                    stats["in_flight"].as_u64()
                };
                match in_flight.await {
                    Some(0) | None => break,
                    Some(_) if tokio::time::Instant::now() >= deadline => break,
                    Some(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        }
    }

    /// Every call since `mark`, oldest first per mock.
    pub async fn since(&self, mark: &Mark) -> Result<Window, String> {
        let mut window = Window::default();
        for (name, url) in &self.mocks {
            let start = mark.0.get(name).copied().unwrap_or(0);
            let mut after = start;
            let mut first = true;
            loop {
                let page = self.page(url, after, 10_000).await?;
                if first && page.first_id > start + 1 {
                    window.lost.push(format!(
                        "{name}: {} calls dropped from the log before they were read (capacity {})",
                        page.first_id - start - 1,
                        page.capacity
                    ));
                }
                first = false;
                if page.concurrent_per_key > 0 {
                    window
                        .concurrent_per_key
                        .insert(name.clone(), page.concurrent_per_key);
                }
                window.calls.extend(page.data);
                if !page.has_more || page.next_after <= after {
                    break;
                }
                after = page.next_after;
            }
        }
        Ok(window)
    }

    /// Replaces one mock's faults (the control API's JSON spec).
    pub async fn put_faults(&self, mock: &str, spec: &Value) -> Result<(), String> {
        let url = self
            .mocks
            .get(mock)
            .ok_or_else(|| format!("no `{mock}` mock in the set ({:?})", self.mocks.keys()))?;
        let what = format!("applying faults to {mock}");
        let response = self
            .http
            .put(format!("{url}/_mock/faults"))
            .json(spec)
            .send()
            .await
            .map_err(|e| fail(&what, e))?;
        if !response.status().is_success() {
            let text = response.text().await.unwrap_or_default();
            return Err(format!("{what}: {text}"));
        }
        Ok(())
    }
}
