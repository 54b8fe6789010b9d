//! Running a scenario file: scenarios start at their offsets, each runs its executor,
//! stops when its time is up (or a threshold aborts the run), lets in-flight requests
//! finish for its grace period, then interrupts what is left. Every request sent ends
//! in exactly one outcome: `sent = ok + failed + interrupted`.

mod closed;
mod open;
mod schedule;
mod timer;
mod workers;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use gatebench_analysis::{DegradationConfig, Detector, UpstreamTruth};
use http::{HeaderMap, HeaderName, HeaderValue};
use tokio::sync::{mpsc, watch};

pub use schedule::Schedule;

use crate::client::trace::Tracer;
use crate::client::{Clock, Prepared};
use crate::metrics::aggregator::{
    Aggregator, Layout, Live, LiveScenario, Msg, RequestInfo, Samples, ScenarioInfo,
};
use crate::payload::Mix;
use crate::progress::Reporter;
use crate::results::{self, RunMeta, RunResults};
use crate::scenario::{Kind, Load, Scenario, ScenarioFile};
use crate::segment::Segment;
use crate::targets::{Endpoint, TargetError, Targets, resolve};
use crate::threshold::evaluate_all;

/// The header priorities are sent in unless a run names another.
pub const DEFAULT_PRIORITY_HEADER: &str = "x-gatebench-priority";

/// Options of one run (what the CLI's flags set).
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Overrides the file's seed.
    pub seed: Option<u64>,
    /// Squeezes (or stretches) the whole file to this length.
    pub duration: Option<Duration>,
    /// No live progress bars (they are drawn only on a terminal anyway).
    pub quiet: bool,
    /// Writes JSON-lines events to this file.
    pub events: Option<PathBuf>,
    /// Keeps one [`crate::RequestRecord`] per request in the results, and traces
    /// each request: an `x-request-id` sent with it, digests of the prompt sent and
    /// the content received.
    pub record_requests: bool,
    /// Response headers to keep in each request record (`claims`), e.g. a target's
    /// cost or cache header (with `record_requests`).
    pub capture_headers: Vec<String>,
    /// API keys to send instead of the scenario's: scenario key → key sent.
    pub keys: BTreeMap<String, String>,
    /// Model names to send instead of the scenario's: scenario model → name the
    /// target serves it under (a proxy's aliases).
    pub models: BTreeMap<String, String>,
    /// The header a request's `priority` is sent in (default
    /// `x-gatebench-priority`; empty: not sent).
    pub priority_header: Option<String>,
    /// The mocks' time scale behind the target, when known (the embedded stack's):
    /// recorded in the results, and thresholds judge real-time equivalents.
    pub time_scale: Option<f64>,
    /// Stops the run early (graceful stop) when it turns `true` (e.g. on Ctrl-C).
    pub cancel: Option<watch::Receiver<bool>>,
    /// Settings of the degradation detector, as the detector sees them (latency in
    /// measured ms); default: the file's `[degradation]` or the defaults, predicting
    /// the crossing of the file's `latency` p95 threshold (if it has one).
    pub degradation: Option<DegradationConfig>,
    /// The execution segment to run (default: the whole load): its share of the
    /// arrivals, VUs and iterations, with the payloads the whole run would send them.
    pub segment: Segment,
    /// What the resource monitor watches and judges, instead of the file's
    /// `[resources]` (a suite file's own table).
    pub resources: Option<gatebench_monitor::ResourcesConfig>,
    /// Prometheus series to scrape when the `[resources]` in force names none (a
    /// target profile's).
    pub prometheus: Option<gatebench_monitor::PrometheusConfig>,
    /// Local processes to watch by id, besides those of the file's `[resources]`.
    pub watch_pids: Vec<u32>,
    /// Local processes to watch by name, besides those of the file's `[resources]`.
    pub watch_processes: Vec<String>,
    /// The mocks behind the target: their books are marked before the load and
    /// read after it, and the bottleneck finding weighs the time they spent serving
    /// against the time clients waited. Not read for a segment of a load (the
    /// other segments' calls are in the same books).
    pub books: Option<crate::books::Books>,
    /// Upstream concurrency by provider name, where the caller knows the target's
    /// (the embedded gateway's), for the bottleneck's recommendation.
    pub upstream_concurrency: BTreeMap<String, u64>,
}

/// A run could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A target URL is invalid or does not resolve.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// The events file cannot be created.
    #[error("cannot create the events file {}: {source}", path.display())]
    Events {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The resource monitor cannot start (a process to watch does not exist).
    #[error(transparent)]
    Monitor(#[from] gatebench_monitor::MonitorError),
    /// The VU threads cannot start.
    #[error("cannot start the VU threads: {0}")]
    Workers(std::io::Error),
    /// A header of a request cannot be sent.
    #[error("request `{request}`: invalid header `{header}`")]
    Header {
        /// Request name.
        request: String,
        /// Header name.
        header: String,
    },
    /// A request's path, behind the target's prefix, is not a valid URL path.
    #[error("request `{request}`: `{path}` is not a valid URL path")]
    Path {
        /// Request name.
        request: String,
        /// The prefix and the path.
        path: String,
    },
}

/// Everything a scenario's executor needs.
pub(crate) struct ScenarioCtx {
    pub index: usize,
    pub seed: u64,
    pub load: Load,
    pub mix: Mix,
    /// The scenario's requests, in order.
    pub prepared: Vec<Prepared>,
    pub endpoints: Arc<Vec<Endpoint>>,
    pub clock: Clock,
    pub tx: mpsc::UnboundedSender<Msg>,
    /// Where finished requests' samples go, a queue per VU thread.
    pub samples: Arc<Samples>,
    pub live: Arc<Live>,
    pub hard_stop: watch::Receiver<bool>,
    /// The part of the load this run sends.
    pub segment: Segment,
    /// Where VUs run.
    pub workers: Arc<workers::Workers>,
}

/// Runs a scenario file against the targets and returns its results.
#[tracing::instrument(skip_all, fields(scenario = %file.name))]
pub async fn run(
    file: &ScenarioFile,
    targets: &Targets,
    options: RunOptions,
) -> Result<RunResults, RunError> {
    let mut file = match options.duration {
        Some(d) => file.with_duration(d),
        None => file.clone(),
    };
    for request in file
        .scenarios
        .iter_mut()
        .flat_map(|s| s.requests.iter_mut())
    {
        if let Some(alias) = request
            .spec
            .model
            .as_ref()
            .and_then(|m| options.models.get(m))
        {
            request.spec.model = Some(alias.clone());
        }
    }
    let seed = options.seed.unwrap_or(file.seed);
    let (endpoints, endpoint_of) = resolve_endpoints(&file, targets).await?;
    let endpoints = Arc::new(endpoints);
    let layout = layout(&file, options.time_scale);
    let workers = Arc::new(
        // one VU thread per core
        workers::Workers::start(workers::Workers::default_count()).map_err(RunError::Workers)?,
    );
    let live = Arc::new(Live {
        scenarios: file
            .scenarios
            .iter()
            .map(|_| LiveScenario::new(workers.len()))
            .collect(),
    });
    let show_bars = !options.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let bar_list: Vec<(String, Duration)> = file
        .scenarios
        .iter()
        .map(|s| (s.name.clone(), s.load.executor.duration()))
        .collect();
    let mut reporter = Reporter::new(
        show_bars.then_some(bar_list.as_slice()),
        options.events.as_deref(),
    )
    .map_err(|source| RunError::Events {
        path: options.events.clone().unwrap_or_default(),
        source,
    })?;
    let planned = file.planned_duration();
    let executors: Vec<(String, String)> = file
        .scenarios
        .iter()
        .map(|s| (s.name.clone(), s.load.executor.name().to_owned()))
        .collect();
    let books = options
        .books
        .as_ref()
        .filter(|_| options.segment.is_whole());
    let mark = match books {
        Some(b) => Some(b.mark().await),
        None => None,
    };
    reporter.start(&file.name, seed, planned, &executors);
    let started_at = SystemTime::now();
    let start = Instant::now();
    let clock = Clock { start };
    let (tx, rx) = mpsc::unbounded_channel();
    let monitor = start_monitor(&file, targets, &options, start, tx.clone())?;
    let (abort_tx, abort_rx) = watch::channel(false);
    let samples = Arc::new(Samples::new(workers.len()));
    let aggregator = Aggregator::new(
        layout,
        live.clone(),
        start,
        file.thresholds.clone(),
        options.record_requests,
        abort_tx,
        reporter,
    )
    .with_detector(Detector::new(
        options
            .degradation
            .clone()
            .unwrap_or_else(|| detector_config(&file, options.time_scale)),
    ));
    let aggregator = tokio::spawn(aggregator.run(rx, samples.clone()));

    // one stop signal for the whole run: a threshold abort or the caller's cancel
    let (stop_all_tx, stop_all_rx) = watch::channel(false);
    let watcher = {
        let mut abort_rx = abort_rx.clone();
        let mut cancel = options.cancel.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = abort_rx.wait_for(|&a| a) => {}
                _ = async {
                    match &mut cancel {
                        Some(c) => { let _ = c.wait_for(|&c| c).await; }
                        None => std::future::pending::<()>().await,
                    }
                } => {}
            }
            let _ = stop_all_tx.send(true);
        })
    };

    let tracer = if options.record_requests {
        let capture = options
            .capture_headers
            .iter()
            .map(|h| {
                HeaderName::from_bytes(h.to_ascii_lowercase().as_bytes()).map_err(|_| {
                    RunError::Header {
                        request: "(captured headers)".into(),
                        header: h.clone(),
                    }
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let nanos = started_at
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let tag = format!("{:08x}", (nanos ^ seed.rotate_left(17)) as u32);
        Some(Arc::new(Tracer::new(tag, capture)))
    } else {
        None
    };
    let mut runners = Vec::new();
    let mut global_index = 0u32;
    for (i, scenario) in file.scenarios.iter().enumerate() {
        let prepared = scenario
            .requests
            .iter()
            .map(|r| {
                let e = endpoint_of[global_index as usize];
                let p = prepare(
                    r,
                    global_index,
                    (e, &endpoints[e]),
                    &scenario.load,
                    &options.keys,
                    options.priority_header.as_deref(),
                )
                .map(|mut p| {
                    p.tracer.clone_from(&tracer);
                    p
                });
                global_index += 1;
                p
            })
            .collect::<Result<Vec<_>, _>>()?;
        let (hard_tx, hard_rx) = watch::channel(false);
        let ctx = Arc::new(ScenarioCtx {
            index: i,
            seed,
            load: scenario.load.clone(),
            mix: Mix::new(scenario, i, seed),
            prepared,
            endpoints: endpoints.clone(),
            clock,
            tx: tx.clone(),
            samples: samples.clone(),
            live: live.clone(),
            hard_stop: hard_rx,
            segment: options.segment,
            workers: workers.clone(),
        });
        runners.push(tokio::spawn(run_scenario(
            ctx,
            start,
            stop_all_rx.clone(),
            hard_tx,
        )));
    }
    drop(tx);
    for r in runners {
        if let Err(e) = r.await {
            tracing::error!(error = %e, "a scenario task failed");
        }
    }
    watcher.abort();
    // the monitor holds a sender: the aggregator ends once it has stopped
    let resources = match monitor {
        Some(m) => tokio::task::spawn_blocking(move || m.stop()).await.ok(),
        None => None,
    };
    let output = match aggregator.await {
        Ok(o) => o,
        Err(e) => unreachable!("the aggregator task never panics: {e}"),
    };
    let mut thresholds = evaluate_all(&file.thresholds, &output.store);
    let abort_reason = output.aborted_by.as_ref().map(|(i, r)| {
        thresholds[*i].aborted = true;
        format!(
            "threshold {} {} failed (value {})",
            r.key,
            r.expression,
            crate::threshold_value(r)
        )
    });
    let cancelled = options.cancel.as_ref().is_some_and(|c| *c.borrow());
    let meta = RunMeta {
        name: file.name.clone(),
        scenario_file: Some(file.path.display().to_string()),
        seed,
        started_at,
        planned,
        aborted: abort_reason.is_some() || cancelled,
        abort_reason: abort_reason.or_else(|| cancelled.then(|| "cancelled".to_owned())),
        executors: executors.into_iter().collect::<BTreeMap<_, _>>(),
        time_scale: options.time_scale,
    };
    let mut results = results::build(
        meta,
        &output.store,
        output.timeseries,
        output.records,
        thresholds,
    );
    results.findings = output.findings;
    results.resources = resources;
    let truth = match (books, mark) {
        (Some(books), Some(mark)) => Some(read_truth(books, mark, &results).await),
        _ => None,
    };
    results.bottleneck = bottleneck(
        &results,
        &output.store,
        truth,
        &options.upstream_concurrency,
    );
    let mut reporter = output.reporter;
    if let Some(b) = &results.bottleneck {
        reporter.bottleneck(b, results.duration_s);
    }
    reporter.end(results.end_event());
    Ok(results)
}

/// The mocks' time per request over the run, from the calls since `mark`.
async fn read_truth(
    books: &crate::books::Books,
    mark: Result<crate::books::Mark, String>,
    results: &RunResults,
) -> Result<UpstreamTruth, String> {
    let mark = mark?;
    books.settle().await;
    let window = books.since(&mark).await?;
    if !window.lost.is_empty() {
        // a partial sum would understate the provider's share
        return Err(window.lost.join("; "));
    }
    Ok(UpstreamTruth::from_calls(
        window.calls.iter().map(|c| c.duration_ms),
        results.totals.ok + results.totals.failed,
    ))
}

/// The run as one load level (its throughput), with the books' truth where it was
/// read and the concurrency of the provider most responses came from.
fn bottleneck(
    results: &RunResults,
    store: &crate::metrics::Store,
    truth: Option<Result<UpstreamTruth, String>>,
    concurrency: &BTreeMap<String, u64>,
) -> Option<gatebench_analysis::Bottleneck> {
    let mut evidence = results.evidence(store, results.totals.rps, "rps");
    if evidence.requests == 0 {
        return None;
    }
    let mut providers: BTreeMap<&str, u64> = BTreeMap::new();
    for kind in results.kinds.values() {
        for (name, n) in kind.gateway.iter().flat_map(|g| &g.providers) {
            *providers.entry(name).or_default() += n;
        }
    }
    evidence.upstream_concurrency = providers
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .and_then(|(name, _)| concurrency.get(name).copied());
    let mut problem = None;
    match truth {
        Some(Ok(t)) => evidence.upstream_truth = Some(t),
        Some(Err(e)) => problem = Some(format!("the mocks' books could not be read: {e}")),
        None => {}
    }
    let mut found = gatebench_analysis::bottleneck::find(&evidence);
    found.problems.extend(problem);
    Some(found)
}

/// Starts the resource monitor with the run's or the file's `[resources]` (or the
/// defaults) and the run's extra processes; its alerts go to the aggregator as
/// they happen.
fn start_monitor(
    file: &ScenarioFile,
    targets: &Targets,
    options: &RunOptions,
    start: Instant,
    tx: mpsc::UnboundedSender<Msg>,
) -> Result<Option<gatebench_monitor::Monitor>, RunError> {
    let mut config = options
        .resources
        .clone()
        .or_else(|| file.resources.clone())
        .unwrap_or_default();
    if !config.enabled {
        return Ok(None);
    }
    if config.prometheus.is_none() {
        config.prometheus.clone_from(&options.prometheus);
    }
    config.watch_pids.extend(&options.watch_pids);
    config
        .watch_processes
        .extend(options.watch_processes.iter().cloned());
    let plan = gatebench_monitor::MonitorPlan {
        config,
        target_base: Some(targets.base.clone()),
        start,
    };
    let monitor = gatebench_monitor::Monitor::start(plan, move |alert| {
        let _ = tx.send(Msg::ResourceAlert(alert.clone()));
    })?;
    Ok(Some(monitor))
}

/// The file's `[degradation]` settings (or the defaults), predicting when p95
/// latency crosses its `latency_threshold_ms` or else the file's own limit: a
/// threshold on every request's `latency` with `p95 <` (or `<=`). Limits are
/// real-time; the detector sees measurements, so they are scaled by the mocks'
/// time scale.
fn detector_config(file: &ScenarioFile, time_scale: Option<f64>) -> DegradationConfig {
    use crate::threshold::{Aggregation, Metric, Op};
    let config = file.degradation.clone().unwrap_or_default();
    let limit = config.latency_threshold_ms.or_else(|| {
        file.thresholds
            .iter()
            .filter(|t| {
                t.metric == Metric::Latency
                    && t.selector == crate::threshold::Selector::default()
                    && t.aggregation == Aggregation::Percentile(0.95)
                    && matches!(t.op, Op::Lt | Op::Le)
            })
            .map(|t| t.value)
            .reduce(f64::min)
    });
    DegradationConfig {
        latency_threshold_ms: limit.map(|ms| ms * time_scale.filter(|s| *s > 0.0).unwrap_or(1.0)),
        ..config
    }
}

async fn run_scenario(
    ctx: Arc<ScenarioCtx>,
    run_start: Instant,
    mut stop_all: watch::Receiver<bool>,
    hard_tx: watch::Sender<bool>,
) {
    let load = ctx.load.clone();
    let start = run_start + load.start_time;
    tokio::select! {
        () = tokio::time::sleep_until(tokio::time::Instant::from_std(start)) => {}
        _ = stop_all.wait_for(|&s| s) => return,
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    let work = async {
        match Schedule::for_executor(&load.executor) {
            Some(schedule) => {
                let max_vus = load.executor.max_vus();
                open::run(
                    ctx.clone(),
                    schedule,
                    max_vus,
                    load.max_lateness,
                    start,
                    stop_rx,
                )
                .await;
            }
            None => closed::run(ctx.clone(), start, stop_rx).await,
        }
    };
    tokio::pin!(work);
    let end = tokio::time::Instant::from_std(start + load.executor.duration());
    tokio::select! {
        () = &mut work => return,
        () = tokio::time::sleep_until(end) => {}
        _ = stop_all.wait_for(|&s| s) => {}
    }
    let _ = stop_tx.send(true);
    tokio::select! {
        () = &mut work => return,
        () = tokio::time::sleep(load.graceful_stop) => {}
    }
    tracing::debug!(
        scenario = ctx.index,
        "grace period over: interrupting in-flight requests"
    );
    let _ = hard_tx.send(true);
    work.await;
}

async fn resolve_endpoints(
    file: &ScenarioFile,
    targets: &Targets,
) -> Result<(Vec<Endpoint>, Vec<usize>), RunError> {
    let mut endpoints: Vec<Endpoint> = Vec::new();
    let mut of = Vec::new();
    for s in &file.scenarios {
        for r in &s.requests {
            let url = targets.url_for(r.spec.kind);
            let index = match endpoints.iter().position(|e| e.url == url) {
                Some(i) => i,
                None => {
                    endpoints.push(resolve(url, &targets.trust).await?);
                    endpoints.len() - 1
                }
            };
            of.push(index);
        }
    }
    Ok((endpoints, of))
}

fn layout(file: &ScenarioFile, time_scale: Option<f64>) -> Layout {
    Layout {
        time_scale,
        scenarios: file
            .scenarios
            .iter()
            .map(|s| ScenarioInfo {
                name: s.name.clone(),
                load: s.load.clone(),
            })
            .collect(),
        requests: file
            .scenarios
            .iter()
            .enumerate()
            .flat_map(|(i, s)| {
                s.requests.iter().map(move |r| RequestInfo {
                    name: r.spec.name.clone(),
                    kind: r.spec.kind.name(),
                    scenario: i,
                    priority: r.spec.priority.clone(),
                })
            })
            .collect(),
    }
}

fn prepare(
    request: &crate::scenario::Request,
    index: u32,
    endpoint: (usize, &Endpoint),
    load: &Load,
    keys: &BTreeMap<String, String>,
    priority_header: Option<&str>,
) -> Result<Prepared, RunError> {
    let spec = &request.spec;
    let bad = |header: &str| RunError::Header {
        request: spec.name.clone(),
        header: header.to_owned(),
    };
    let mut headers = HeaderMap::new();
    let value = |v: &str, name: &str| HeaderValue::from_str(v).map_err(|_| bad(name));
    headers.insert(http::header::HOST, value(&endpoint.1.host, "host")?);
    if spec.kind != Kind::Http || spec.body.is_some() {
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    if let Some(key) = &spec.api_key {
        let key = keys.get(key).unwrap_or(key);
        headers.insert(
            http::header::AUTHORIZATION,
            value(&format!("Bearer {key}"), "authorization")?,
        );
        if spec.kind.is_tts() {
            headers.insert("xi-api-key", value(key, "xi-api-key")?);
        }
    }
    let priority_header = priority_header.unwrap_or(DEFAULT_PRIORITY_HEADER);
    if let Some(p) = spec
        .priority
        .as_ref()
        .filter(|_| !priority_header.is_empty())
    {
        let name =
            HeaderName::from_bytes(priority_header.as_bytes()).map_err(|_| bad(priority_header))?;
        headers.insert(name, value(p, priority_header)?);
    }
    for (name, v) in &spec.headers {
        let name_h = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad(name))?;
        headers.insert(name_h, value(v, name)?);
    }
    let path = format!("{}{}", endpoint.1.prefix, crate::payload::path(spec));
    let uri = http::Uri::try_from(&path).map_err(|_| RunError::Path {
        request: spec.name.clone(),
        path: path.clone(),
    })?;
    Ok(Prepared {
        index,
        kind: spec.kind,
        stream: spec.stream,
        endpoint: endpoint.0,
        method: spec.method.clone(),
        path,
        uri,
        headers,
        timeout: spec.timeout.unwrap_or(load.timeout),
        tracer: None,
        chains: (spec.turns > 1).then(|| {
            Arc::new(crate::client::Chains::new(
                spec.turns,
                Arc::clone(&request.tool_outputs),
            ))
        }),
    })
}

/// A scenario's mix, for previewing payloads without running (suites, tests).
pub fn mix_of(scenario: &Scenario, scenario_index: usize, seed: u64) -> Mix {
    Mix::new(scenario, scenario_index, seed)
}
