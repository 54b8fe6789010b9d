//! The aggregator task: owns every histogram, closes a time-series point each second,
//! watches thresholds that may abort the run, and feeds progress and events.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use gatebench_analysis::{DegradationConfig, Detector, Finding};
use tokio::sync::{mpsc, watch};

use super::record::record_of;
use super::sample::Sample;
use super::store::record;
use super::timeseries::Interval;
use super::{RequestRecord, RequestStats, Store, TimePoint};
use crate::progress::{Reporter, ScenarioLine, Snapshot};
use crate::scenario::Load;
use crate::threshold::{Threshold, ThresholdResult, evaluate};

/// How often queued samples are taken in.
const DRAIN_EVERY: Duration = Duration::from_millis(10);

/// Samples of finished requests, queued per VU thread until the aggregator takes
/// them in. A VU pushes under its own thread's lock, which only the aggregator's
/// swap of the whole queue ever contends for: cheaper than a channel send and
/// receive for each request.
#[derive(Debug)]
pub(crate) struct Samples {
    queues: Box<[Queue]>,
}

/// One thread's queue, alone on its cache line.
#[derive(Debug, Default)]
#[repr(align(64))]
struct Queue(Mutex<Vec<Sample>>);

impl Samples {
    /// Queues for `threads` VU threads.
    pub fn new(threads: usize) -> Samples {
        Samples {
            queues: (0..threads.max(1)).map(|_| Queue::default()).collect(),
        }
    }

    /// Where the samples of VU thread `thread` go.
    pub fn outbox(&self, thread: usize) -> Outbox<'_> {
        Outbox {
            queue: &self.queues[thread % self.queues.len()],
        }
    }

    /// How many queues there are.
    fn len(&self) -> usize {
        self.queues.len()
    }

    /// Swaps queue `i` with `batch` (empty): the queue keeps `batch`'s capacity.
    fn swap(&self, i: usize, batch: &mut Vec<Sample>) {
        std::mem::swap(
            &mut *self.queues[i]
                .0
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
            batch,
        );
    }
}

/// The queue of one VU thread.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Outbox<'a> {
    queue: &'a Queue,
}

impl Outbox<'_> {
    /// Queues the sample of a finished request.
    pub fn send(self, sample: Sample) {
        self.queue
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(sample);
    }
}

/// Request records, in chunks of a fixed size: a run keeps hundreds of thousands,
/// and one vector would copy them all at each doubling of its capacity, a stall
/// of tens of milliseconds on a thread that shares the cores with the VUs (seen as
/// latency spikes at 16,384, 32,768, 65,536 records).
#[derive(Default)]
struct Records {
    chunks: Vec<Vec<RequestRecord>>,
}

impl Records {
    /// Records per chunk.
    const CHUNK: usize = 4096;

    fn push(&mut self, record: RequestRecord) {
        match self.chunks.last_mut() {
            Some(chunk) if chunk.len() < Self::CHUNK => chunk.push(record),
            _ => {
                let mut chunk = Vec::with_capacity(Self::CHUNK);
                chunk.push(record);
                self.chunks.push(chunk);
            }
        }
    }

    /// All of them, in order (once the run is over).
    fn into_vec(self) -> Vec<RequestRecord> {
        let mut all = Vec::with_capacity(self.chunks.iter().map(Vec::len).sum());
        for chunk in self.chunks {
            all.extend(chunk);
        }
        all
    }
}

/// A message from the engine (besides samples).
#[derive(Debug)]
pub(crate) enum Msg {
    /// An iteration of this request was dropped for want of a VU.
    Dropped { request: u32, n: u64 },
    /// The resource monitor saw a threshold crossed.
    ResourceAlert(gatebench_analysis::ResourceAlert),
}

/// Static description of the run the aggregator reports on.
#[derive(Clone, Debug)]
pub(crate) struct Layout {
    pub scenarios: Vec<ScenarioInfo>,
    pub requests: Vec<RequestInfo>,
    pub time_scale: Option<f64>,
}

#[derive(Clone, Debug)]
pub(crate) struct ScenarioInfo {
    pub name: String,
    pub load: Load,
}

#[derive(Clone, Debug)]
pub(crate) struct RequestInfo {
    pub name: String,
    pub kind: &'static str,
    pub scenario: usize,
    pub priority: Option<String>,
}

/// Gauges the engine updates and the aggregator reads.
#[derive(Debug, Default)]
pub(crate) struct Live {
    pub scenarios: Vec<LiveScenario>,
}

#[derive(Debug, Default)]
pub(crate) struct LiveScenario {
    /// Requests sent so far, one counter per VU thread so that threads do not fight
    /// over one cache line on every request.
    started: Box<[Shard]>,
    /// VUs active now.
    pub vus: AtomicU64,
}

/// A counter alone on its cache line.
#[derive(Debug, Default)]
#[repr(align(64))]
struct Shard(AtomicU64);

impl LiveScenario {
    pub fn new(shards: usize) -> LiveScenario {
        LiveScenario {
            started: (0..shards.max(1)).map(|_| Shard::default()).collect(),
            vus: AtomicU64::new(0),
        }
    }

    /// Counts a request sent from shard `shard` (a VU thread's index).
    pub fn start(&self, shard: usize) {
        self.started[shard % self.started.len()]
            .0
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Requests sent so far.
    pub fn started(&self) -> u64 {
        self.started
            .iter()
            .map(|s| s.0.load(Ordering::Relaxed))
            .sum()
    }
}

/// What the aggregator hands back at the end.
pub(crate) struct Output {
    pub store: Store,
    pub timeseries: Vec<TimePoint>,
    pub records: Option<Vec<RequestRecord>>,
    /// Index of the threshold that aborted the run.
    pub aborted_by: Option<(usize, ThresholdResult)>,
    /// The reporter, for the end event.
    pub reporter: Reporter,
    /// What the degradation detector found, in order.
    pub findings: Vec<Finding>,
}

pub(crate) struct Aggregator {
    layout: Layout,
    /// The queue last swapped out, emptied: the next swap hands it in.
    batch: Vec<Sample>,
    live: Arc<Live>,
    store: Store,
    start: Instant,
    total: Interval,
    per_scenario: Vec<Interval>,
    completed: Vec<u64>,
    errors: Vec<u64>,
    timeseries: Vec<TimePoint>,
    records: Option<Records>,
    thresholds: Vec<Threshold>,
    failing: Vec<bool>,
    aborted_by: Option<(usize, ThresholdResult)>,
    abort: watch::Sender<bool>,
    reporter: Reporter,
    stages: Vec<Option<String>>,
    last_tick: Instant,
    /// Seconds the last point of the series covers.
    last_span: f64,
    detector: Detector,
    /// Seconds after the start when the last scenario's load ends: the detector
    /// judges the load, not the drain after it.
    load_end: f64,
    findings: Vec<Finding>,
}

impl Aggregator {
    pub fn new(
        layout: Layout,
        live: Arc<Live>,
        start: Instant,
        thresholds: Vec<Threshold>,
        record_requests: bool,
        abort: watch::Sender<bool>,
        reporter: Reporter,
    ) -> Aggregator {
        let store = Store {
            requests: layout
                .requests
                .iter()
                .map(|r| RequestStats {
                    name: r.name.clone(),
                    scenario: layout.scenarios[r.scenario].name.clone(),
                    kind: r.kind.to_owned(),
                    ..RequestStats::default()
                })
                .collect(),
            elapsed: Duration::ZERO,
            time_scale: layout.time_scale,
        };
        let n = layout.scenarios.len();
        let load_end = layout
            .scenarios
            .iter()
            .map(|s| (s.load.start_time + s.load.executor.duration()).as_secs_f64())
            .fold(0.0, f64::max);
        Aggregator {
            detector: Detector::new(DegradationConfig::default()),
            load_end,
            findings: Vec::new(),
            failing: vec![false; thresholds.len()],
            thresholds,
            store,
            start,
            total: Interval::default(),
            per_scenario: (0..n).map(|_| Interval::default()).collect(),
            completed: vec![0; n],
            errors: vec![0; n],
            timeseries: Vec::new(),
            records: record_requests.then(Records::default),
            aborted_by: None,
            abort,
            reporter,
            stages: vec![None; n],
            last_tick: start,
            last_span: 0.0,
            layout,
            batch: Vec::new(),
            live,
        }
    }

    /// The degradation detector to feed each second (default: its defaults).
    pub fn with_detector(mut self, detector: Detector) -> Aggregator {
        self.detector = detector;
        self
    }

    /// Takes in `rx`'s messages and `samples` until every sender is gone.
    pub async fn run(
        mut self,
        mut rx: mpsc::UnboundedReceiver<Msg>,
        samples: Arc<Samples>,
    ) -> Output {
        let mut ticker = tokio::time::interval_at(
            tokio::time::Instant::from_std(self.start + Duration::from_secs(1)),
            Duration::from_secs(1),
        );
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // draining on a short timer instead of waiting on the channel means a send does
        // not wake this task: VUs pay one lock-free push per request, nothing more
        let mut drain = tokio::time::interval(DRAIN_EVERY);
        drain.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        self.stage_events(Duration::ZERO);
        loop {
            let open = tokio::select! {
                biased;
                _ = ticker.tick() => {
                    let open = self.drain(&mut rx, &samples);
                    self.tick(Instant::now());
                    open
                }
                _ = drain.tick() => self.drain(&mut rx, &samples),
            };
            if !open {
                break;
            }
        }
        self.tick(Instant::now());
        self.store.elapsed = self.last_tick.saturating_duration_since(self.start);
        Output {
            store: self.store,
            timeseries: self.timeseries,
            records: self.records.map(Records::into_vec),
            aborted_by: self.aborted_by,
            reporter: self.reporter,
            findings: self.findings,
        }
    }

    /// Handles every queued message and sample; `false` once every sender is gone.
    fn drain(&mut self, rx: &mut mpsc::UnboundedReceiver<Msg>, samples: &Samples) -> bool {
        let open = loop {
            match rx.try_recv() {
                Ok(msg) => self.handle(msg),
                Err(mpsc::error::TryRecvError::Empty) => break true,
                Err(mpsc::error::TryRecvError::Disconnected) => break false,
            }
        };
        // taken after the channel: once it has closed, every VU has ended, so every
        // sample is queued
        let mut batch = std::mem::take(&mut self.batch);
        for i in 0..samples.len() {
            samples.swap(i, &mut batch);
            for sample in batch.drain(..) {
                self.done(&sample);
            }
        }
        self.batch = batch;
        open
    }

    fn done(&mut self, sample: &Sample) {
        let Some(info) = self.layout.requests.get(sample.request as usize) else {
            return;
        };
        let scenario = info.scenario;
        let failed = sample.outcome.is_error();
        let latency = sample.latency_us();
        record(&mut self.store.requests[sample.request as usize], sample);
        for iv in [&mut self.total, &mut self.per_scenario[scenario]] {
            iv.requests += 1;
            iv.errors += u64::from(failed);
            iv.latency.record(latency);
        }
        self.completed[scenario] += 1;
        self.errors[scenario] += u64::from(failed);
        if let Some(records) = &mut self.records {
            records.push(record_of(
                sample,
                &self.layout.scenarios[scenario].name,
                &info.name,
                info.kind,
                info.priority.as_deref(),
            ));
        }
    }

    fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Dropped { request, n } => {
                let Some(info) = self.layout.requests.get(request as usize) else {
                    return;
                };
                self.store.requests[request as usize].dropped += n;
                self.total.dropped += n;
                self.per_scenario[info.scenario].dropped += n;
            }
            Msg::ResourceAlert(alert) => self.reporter.resource_alert(&alert),
        }
    }

    /// Closes the interval that ends `now` into a point.
    fn tick(&mut self, now: Instant) {
        let seconds = now.saturating_duration_since(self.last_tick).as_secs_f64();
        // an interval under a millisecond (the end of the run, just after a tick) is
        // no second of its own: it joins the last point, so every request is in one
        let last = self.timeseries.pop_if(|_| seconds < 0.001);
        let span = seconds + last.as_ref().map_or(0.0, |_| self.last_span);
        self.last_tick = now;
        self.last_span = span;
        let elapsed = now.saturating_duration_since(self.start);
        self.store.elapsed = elapsed;
        let mut point = TimePoint {
            t: super::round3(elapsed.as_secs_f64()),
            ..TimePoint::default()
        };
        let mut lines = Vec::with_capacity(self.layout.scenarios.len());
        let (mut all_in_flight, mut all_vus) = (0, 0);
        for (i, s) in self.layout.scenarios.iter().enumerate() {
            let live = &self.live.scenarios[i];
            let in_flight = live.started().saturating_sub(self.completed[i]);
            let vus = live.vus.load(Ordering::Relaxed);
            all_in_flight += in_flight;
            all_vus += vus;
            let iv = &mut self.per_scenario[i];
            let p = match last.as_ref().and_then(|l| l.scenarios.get(&s.name)) {
                Some(l) => iv.fold(l, span, in_flight, vus),
                None => iv.close(span, in_flight, vus),
            };
            lines.push(ScenarioLine {
                vus,
                rps: p.rps,
                p95_ms: p.p95_ms,
                sent: live.started(),
                errors: self.errors[i],
                dropped: self
                    .store
                    .requests
                    .iter()
                    .filter(|r| r.scenario == s.name)
                    .map(|r| r.dropped)
                    .sum(),
                start: s.load.start_time,
                duration: s.load.executor.duration(),
            });
            point.scenarios.insert(s.name.clone(), p);
        }
        point.total = match &last {
            Some(l) => self.total.fold(&l.total, span, all_in_flight, all_vus),
            None => self.total.close(span, all_in_flight, all_vus),
        };
        // a partial second (the last tick) says little, nor does one the detector has
        // seen; the drain after the load is no degradation
        if last.is_none() && seconds >= 0.5 && point.t <= self.load_end + 0.5 {
            for finding in self.detector.push(point.second()) {
                self.reporter.finding(&finding);
                self.findings.push(finding);
            }
        }
        self.stage_events(elapsed);
        self.check_thresholds(elapsed);
        // the events already hold the point folded into: a second snapshot of it
        // would count its requests twice (the end event has the totals)
        if last.is_none() {
            self.reporter.snapshot(&Snapshot {
                elapsed,
                point: &point,
                scenarios: &lines,
            });
        }
        self.timeseries.push(point);
    }

    fn stage_events(&mut self, elapsed: Duration) {
        for (i, s) in self.layout.scenarios.iter().enumerate() {
            let phase = phase(&s.load, elapsed);
            if self.stages[i].as_deref() != Some(phase.0.as_str()) {
                self.reporter.stage(&s.name, &phase.0, phase.1, elapsed);
                self.stages[i] = Some(phase.0);
            }
        }
    }

    fn check_thresholds(&mut self, elapsed: Duration) {
        for (i, t) in self.thresholds.iter().enumerate() {
            let result = evaluate(t, &self.store);
            let failing = result.value.is_some() && !result.passed;
            if failing && !self.failing[i] {
                self.reporter.breach(&result, elapsed);
            }
            self.failing[i] = failing;
            if failing
                && t.abort_on_fail
                && elapsed >= t.delay_abort_eval
                && self.aborted_by.is_none()
            {
                tracing::warn!(threshold = %t.key, expression = %t.expression, "threshold failed: aborting the run");
                let mut result = result;
                result.aborted = true;
                self.aborted_by = Some((i, result));
                let _ = self.abort.send(true);
            }
        }
    }
}

/// Name of a scenario's phase at `elapsed`, and the stage target if in a stage.
fn phase(load: &Load, elapsed: Duration) -> (String, Option<f64>) {
    if elapsed < load.start_time {
        return ("waiting".into(), None);
    }
    let mut t = elapsed - load.start_time;
    let stages = load.executor.stages();
    if stages.is_empty() {
        return if t < load.executor.duration() {
            ("running".into(), None)
        } else {
            ("ending".into(), None)
        };
    }
    for (i, s) in stages.iter().enumerate() {
        if t < s.duration {
            return (format!("stage {}", i + 1), Some(s.target));
        }
        t -= s.duration;
    }
    ("ending".into(), None)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::Outcome;
    use crate::scenario::ScenarioFile;

    fn aggregator() -> Aggregator {
        let text = "name = \"t\"\n[load]\nexecutor = \"constant-vus\"\nvus = 1\n\
                    duration = \"1s\"\n[[requests]]\nname = \"h\"\nkind = \"http\"\npath = \"/\"";
        let file = match ScenarioFile::parse(Path::new("t.toml"), text) {
            Ok(f) => f,
            Err(e) => panic!("{e}"),
        };
        let layout = Layout {
            scenarios: vec![ScenarioInfo {
                name: "t".into(),
                load: file.scenarios[0].load.clone(),
            }],
            requests: vec![RequestInfo {
                name: "h".into(),
                kind: "http",
                scenario: 0,
                priority: None,
            }],
            time_scale: None,
        };
        let live = Arc::new(Live {
            scenarios: vec![LiveScenario::new(1)],
        });
        let reporter = Reporter::new(None, None).unwrap();
        Aggregator::new(
            layout,
            live,
            Instant::now(),
            Vec::new(),
            false,
            watch::channel(false).0,
            reporter,
        )
    }

    fn sample(end_us: u64) -> Sample {
        Sample {
            request: 0,
            outcome: Outcome::Ok,
            status: 200,
            intended_us: end_us - 1000,
            sent_us: end_us - 1000,
            end_us,
            ttfb_us: None,
            ttft_us: None,
            itl_us: None,
            tokens_per_s: None,
            bytes: 0,
            usage: None,
            tts_characters: None,
            gateway: None,
            error: None,
            intent: None,
            trace: None,
        }
    }

    /// The run's end right after a tick: the requests finished in between are
    /// in the series, in the last point.
    #[test]
    fn a_last_interval_under_a_millisecond_joins_the_last_point() {
        let mut a = aggregator();
        for _ in 0..3 {
            a.done(&sample(900_000));
        }
        let second = a.start + Duration::from_secs(1);
        a.tick(second);
        a.done(&sample(1_000_000));
        a.handle(Msg::Dropped { request: 0, n: 1 });
        a.tick(second + Duration::from_micros(400));
        assert_eq!(a.timeseries.len(), 1, "{:?}", a.timeseries);
        let p = &a.timeseries[0];
        assert_eq!((p.total.requests, p.total.dropped), (4, 1));
        assert_eq!(p.scenarios["t"].requests, 4);
        // the next second stands on its own
        a.done(&sample(1_400_000));
        a.tick(second + Duration::from_millis(500));
        assert_eq!(a.timeseries.len(), 2);
        assert_eq!(a.timeseries[1].total.requests, 1);
        assert_eq!(a.timeseries[1].total.rps.round(), 2.0);
    }
}
