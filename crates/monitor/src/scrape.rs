//! Scraping a Prometheus endpoint from the monitor's thread: a single-threaded
//! runtime of its own drives the request, so the scrape's cost is the monitor's
//! and never takes a thread from the load.

use std::time::Duration;

use crate::MonitorError;
use crate::config::PrometheusConfig;
use crate::prometheus::{self, Selector};
use crate::record::{Recorder, Value};

/// The longest a scrape may take, whatever the interval.
const MAX_SCRAPE: Duration = Duration::from_secs(5);

pub(crate) struct Scraper {
    url: String,
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
    series: Vec<(String, Selector, Option<gatebench_analysis::Level>)>,
}

impl Scraper {
    /// Checks the URL (a path is taken on `base`) and prepares the client.
    pub fn new(
        config: &PrometheusConfig,
        base: Option<&str>,
        interval: Duration,
    ) -> Result<Scraper, MonitorError> {
        let err = |reason: String| MonitorError::Prometheus {
            url: config.url.clone(),
            reason,
        };
        let url = if config.url.starts_with('/') {
            let base = base.ok_or_else(|| {
                err("a path needs a target to be taken on; give a full URL".into())
            })?;
            format!("{}{}", base.trim_end_matches('/'), config.url)
        } else {
            config.url.clone()
        };
        reqwest::Url::parse(&url).map_err(|e| err(e.to_string()))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| err(format!("cannot start its runtime: {e}")))?;
        let client = gatebench_tls::http_client()
            .timeout(interval.min(MAX_SCRAPE))
            .build()
            .map_err(|e| err(e.to_string()))?;
        let series = config
            .series
            .iter()
            .map(|s| {
                Selector::parse(s)
                    .map(|sel| (s.clone(), sel, config.thresholds.get(s).copied()))
                    .map_err(|e| err(format!("series `{s}`: {e}")))
            })
            .collect::<Result<_, _>>()?;
        Ok(Scraper {
            url,
            runtime,
            client,
            series,
        })
    }

    /// The URL scraped.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Scrapes once and records every sample of the configured series.
    pub fn sample(
        &mut self,
        t: f64,
        rec: &mut Recorder,
        emit: &mut dyn FnMut(&gatebench_analysis::ResourceAlert),
    ) {
        let text = self.runtime.block_on(async {
            let response = self.client.get(&self.url).send().await?;
            let response = response.error_for_status()?;
            response.text().await
        });
        let text = match text {
            Ok(t) => t,
            Err(e) => {
                rec.problem(format!("scrape of {} failed: {e}", self.url));
                return;
            }
        };
        let samples = match prometheus::parse(&text) {
            Ok(s) => s,
            Err(e) => {
                rec.problem(format!("scrape of {}: {e}", self.url));
                return;
            }
        };
        for (written, selector, level) in &self.series {
            let mut found = false;
            for s in samples.iter().filter(|s| selector.matches(s)) {
                found = true;
                let key = s.key();
                if let Some(a) = rec.push(
                    t,
                    Value {
                        target: "prometheus",
                        pid: None,
                        metric: &key,
                        unit: "value",
                        value: s.value,
                        level: *level,
                    },
                ) {
                    emit(&a);
                }
            }
            if !found {
                rec.problem(format!("{} has no series `{written}`", self.url));
            }
        }
    }
}
