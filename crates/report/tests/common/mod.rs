//! Realistic reports for the tests: a focused suite with driver results whose
//! histograms are serialised exactly as the driver does (HDR V2, 3 significant
//! digits, standard base64).

#![allow(dead_code)]

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use gatebench_analysis::{Criteria, Mode, ScaleReport, ScaleStep};
use gatebench_report::{
    Chart, ChartKind, CheckResult, Criterion, Environment, Evidence, Recommendation,
    SCHEMA_VERSION, Series, Severity, SuiteReport, TargetInfo,
};
use gatebench_results::{
    GatewayResults, HistogramBlob, KindResults, OutcomeResults, Point, RunResults, ScenarioResults,
    Summary, TimePoint, Totals,
};
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Serializer as _, V2Serializer};

/// Deterministic pseudo-random numbers in [0, 1).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    /// About standard normal (Irwin–Hall with 12 uniforms).
    pub fn normal(&mut self) -> f64 {
        (0..12).map(|_| self.next()).sum::<f64>() - 6.0
    }
}

/// `n` log-normal latencies in ms around `median_ms`.
pub fn latencies(n: usize, median_ms: f64, sigma: f64, seed: u64) -> Vec<f64> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| median_ms * (sigma * rng.normal()).exp())
        .collect()
}

/// An HDR histogram of ms values recorded in µs, as the driver records them.
pub fn histogram(values_ms: &[f64]) -> Histogram<u64> {
    let mut h = Histogram::<u64>::new(3).unwrap();
    h.auto(true);
    for v in values_ms {
        h.record((v * 1000.0).round().max(1.0) as u64).unwrap();
    }
    h
}

/// V2 + standard base64, as `gatebench_results::Hist::to_base64`.
pub fn encode(h: &Histogram<u64>) -> String {
    let mut buf = Vec::new();
    V2Serializer::new().serialize(h, &mut buf).unwrap();
    STANDARD.encode(buf)
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// A summary in ms of a µs histogram, as `gatebench_results::Hist::summary(0.001)`.
pub fn summary(h: &Histogram<u64>) -> Option<Summary> {
    if h.is_empty() {
        return None;
    }
    let v = |x: u64| round3(x as f64 * 0.001);
    Some(Summary {
        count: h.len(),
        min: v(h.min()),
        mean: round3(h.mean() * 0.001),
        p50: v(h.value_at_quantile(0.5)),
        p90: v(h.value_at_quantile(0.9)),
        p95: v(h.value_at_quantile(0.95)),
        p99: v(h.value_at_quantile(0.99)),
        p999: v(h.value_at_quantile(0.999)),
        max: v(h.max()),
    })
}

/// One request name of a run.
pub struct KindSpec {
    pub name: &'static str,
    pub kind: &'static str,
    /// Latencies of the successful requests, ms.
    pub ok_ms: Vec<f64>,
    /// Latencies of failed requests by class, ms.
    pub failed: Vec<(&'static str, Vec<f64>)>,
    /// TTFT of streams, ms.
    pub ttft_ms: Vec<f64>,
    /// Cache hits and misses.
    pub cache: Option<(u64, u64)>,
}

impl KindSpec {
    pub fn new(name: &'static str, kind: &'static str, ok_ms: Vec<f64>) -> KindSpec {
        KindSpec {
            name,
            kind,
            ok_ms,
            failed: Vec::new(),
            ttft_ms: Vec::new(),
            cache: None,
        }
    }
}

/// A run's results with histograms, summaries and a time series.
pub fn run(name: &str, duration_s: f64, specs: Vec<KindSpec>) -> RunResults {
    let mut kinds = BTreeMap::new();
    let mut histograms = Vec::new();
    let mut totals = Totals::default();
    for spec in specs {
        let mut all = histogram(&[]);
        let mut outcomes = BTreeMap::new();
        let mut errors = BTreeMap::new();
        let mut classes = vec![("ok", spec.ok_ms.clone())];
        classes.extend(spec.failed.iter().map(|(c, v)| (*c, v.clone())));
        for (class, values) in &classes {
            if values.is_empty() {
                continue;
            }
            let h = histogram(values);
            all.add(&h).unwrap();
            histograms.push(HistogramBlob {
                request: spec.name.to_owned(),
                outcome: Some((*class).to_owned()),
                metric: "latency".to_owned(),
                unit: "us".to_owned(),
                hdr: encode(&h),
            });
            if *class != "ok" {
                errors.insert((*class).to_owned(), values.len() as u64);
            }
            outcomes.insert(
                (*class).to_owned(),
                OutcomeResults {
                    count: values.len() as u64,
                    latency_ms: summary(&h),
                },
            );
        }
        let ttft = (!spec.ttft_ms.is_empty()).then(|| {
            let h = histogram(&spec.ttft_ms);
            histograms.push(HistogramBlob {
                request: spec.name.to_owned(),
                outcome: Some("ok".to_owned()),
                metric: "ttft".to_owned(),
                unit: "us".to_owned(),
                hdr: encode(&h),
            });
            summary(&h)
        });
        let sent = all.len();
        let ok = spec.ok_ms.len() as u64;
        totals.sent += sent;
        totals.ok += ok;
        totals.failed += sent - ok;
        for (c, n) in &errors {
            *totals.errors.entry(c.clone()).or_default() += n;
        }
        let gateway = spec.cache.map(|(hit, miss)| GatewayResults {
            cache: [("hit".to_owned(), hit), ("miss".to_owned(), miss)]
                .into_iter()
                .collect(),
            cache_hit_rate: Some(round3(hit as f64 / (hit + miss) as f64)),
            providers: [("openai".to_owned(), miss)].into_iter().collect(),
            ..GatewayResults::default()
        });
        kinds.insert(
            spec.name.to_owned(),
            KindResults {
                scenario: "default".to_owned(),
                kind: spec.kind.to_owned(),
                sent,
                ok,
                failed: sent - ok,
                interrupted: 0,
                dropped: 0,
                errors,
                error_messages: BTreeMap::new(),
                latency_ms: summary(&all),
                latency_uncorrected_ms: summary(&all),
                ttfb_ms: None,
                ttft_ms: ttft.flatten(),
                itl_ms: None,
                tokens_per_s: None,
                response_bytes: None,
                outcomes,
                usage: Default::default(),
                tts_characters: 0,
                gateway,
            },
        );
    }
    totals.rps = round3(totals.sent as f64 / duration_s);
    let mut rng = Rng::new(name.len() as u64 + 7);
    let timeseries = (1..=duration_s as usize)
        .map(|t| {
            let ramp = (t as f64 / 3.0).min(1.0);
            let rps = totals.rps * ramp * (0.92 + 0.16 * rng.next());
            let p50 = 80.0 + 10.0 * rng.next() + if t > 6 && t < 9 { 60.0 } else { 0.0 };
            TimePoint {
                t: t as f64,
                total: Point {
                    requests: rps as u64,
                    errors: if t == 7 {
                        3
                    } else {
                        u64::from(rng.next() < 0.2)
                    },
                    dropped: 0,
                    rps: round3(rps),
                    in_flight: 8,
                    vus: 10,
                    p50_ms: Some(round3(p50)),
                    p95_ms: Some(round3(p50 * 1.8)),
                    p99_ms: Some(round3(p50 * 2.6)),
                },
                scenarios: BTreeMap::new(),
            }
        })
        .collect();
    RunResults {
        schema_version: 1,
        name: name.to_owned(),
        scenario_file: Some(format!("scenarios/{name}.toml")),
        seed: 42,
        started_at: "2025-06-01T10:00:00.000Z".to_owned(),
        duration_s,
        planned_duration_s: duration_s,
        time_scale: Some(0.1),
        segment: None,
        aborted: false,
        abort_reason: None,
        totals: totals.clone(),
        scenarios: [(
            "default".to_owned(),
            ScenarioResults {
                executor: "constant-arrival-rate".to_owned(),
                sent: totals.sent,
                ok: totals.ok,
                failed: totals.failed,
                interrupted: 0,
                dropped: 0,
            },
        )]
        .into_iter()
        .collect(),
        kinds,
        thresholds: Vec::new(),
        timeseries,
        histograms,
        findings: Vec::new(),
        bottleneck: None,
        resources: None,
        requests: None,
    }
}

pub fn criterion(
    name: &str,
    target: &str,
    measured: &str,
    passed: bool,
    value: f64,
    unit: &str,
    higher_is_better: bool,
) -> Criterion {
    Criterion {
        name: name.to_owned(),
        target: target.to_owned(),
        measured: measured.to_owned(),
        passed,
        value: Some(value),
        unit: unit.to_owned(),
        higher_is_better,
        source: gatebench_report::Source::Truth,
    }
}

/// The focused suite: queue performance (critical) and error resilience (major)
/// fail, endpoint coverage (minor) fails as a warning, the rest pass.
pub fn focused_report() -> SuiteReport {
    let checks = vec![
        CheckResult::from_criteria(
            "queue_performance",
            "Queue performance",
            Severity::Critical,
            vec![
                criterion("queue overhead p99", "< 50 ms", "212 ms", false, 212.0, "ms", false),
                criterion("high waits less than low at p95", "yes", "yes (38 ms < 410 ms)", true, 1.0, "count", true),
                criterion("requests lost", "= 0", "0", true, 0.0, "count", false),
            ],
            Evidence {
                summary: "Under 1.6× upstream capacity the queue overhead p99 was 212 ms, mostly waiting for a free upstream slot.".to_owned(),
                details: serde_json::json!({"wait_p95_ms": {"high": 38.0, "normal": 160.0, "low": 410.0}, "served": {"low": 412}}),
            },
            31.2,
        ),
        CheckResult::from_criteria(
            "cache_efficiency",
            "Cache efficiency",
            Severity::Critical,
            vec![
                criterion("hit rate", "≥ 30%", "41.2% (206 of 500)", true, 41.2, "%", true),
                criterion("false-hit rate", "≤ 1%", "0.5% (1 of 206 hits)", true, 0.5, "%", false),
            ],
            Evidence {
                summary: "Configured threshold 0.92 sits at F1 0.88 in the sweep.".to_owned(),
                details: serde_json::json!({"sweep": [{"threshold": 0.88, "precision": 0.97, "recall": 0.81}, {"threshold": 0.92, "precision": 0.995, "recall": 0.79}]}),
            },
            22.4,
        ),
        CheckResult::from_criteria(
            "cost_tracking",
            "Cost tracking accuracy",
            Severity::Critical,
            vec![criterion("exact entries", "100%", "100% (1 204 of 1 204)", true, 100.0, "%", true)],
            Evidence {
                summary: "Every ledger entry equals the recomputation from pricing/.".to_owned(),
                details: serde_json::Value::Null,
            },
            18.0,
        ),
        CheckResult::from_criteria(
            "concurrent_handling",
            "Concurrent handling",
            Severity::Major,
            vec![
                criterion("success rate", "≥ 99%", "99.5% (199 of 200)", true, 99.5, "%", true),
                criterion("p95", "< 2 s", "1.21 s", true, 1210.0, "ms", false),
            ],
            Evidence {
                summary: "A burst of 200 concurrent requests; one 429 after the queue filled.".to_owned(),
                details: serde_json::json!({"burst": 200}),
            },
            9.8,
        ),
        CheckResult::from_criteria(
            "error_resilience",
            "Error resilience",
            Severity::Major,
            vec![
                criterion("client success rate", "≥ 95%", "91.8%", false, 91.8, "%", true),
                criterion("ready after outage", "< 5 s", "2.1 s", true, 2.1, "s", false),
            ],
            Evidence {
                summary: "Retries recovered most 429s, but stream cuts are not retried.".to_owned(),
                details: serde_json::json!({"unclassified_failures": 0}),
            },
            40.5,
        ),
        CheckResult::from_criteria(
            "endpoint_coverage",
            "Endpoint coverage <b>beta</b>",
            Severity::Minor,
            vec![criterion("routes answering", "100%", "95% (19 of 20)", false, 95.0, "%", true)],
            Evidence {
                summary: "`/v1/audio/speech` with an unknown voice answered 500 instead of 400 & <script>alert(1)</script>.".to_owned(),
                details: serde_json::json!({"failing": ["/v1/audio/speech"]}),
            },
            3.0,
        ),
    ];
    let verdict = SuiteReport::verdict_of(&checks);
    let mut runs = BTreeMap::new();
    let mut chat = KindSpec::new("chat", "chat", latencies(1800, 90.0, 0.35, 1));
    chat.failed = vec![
        ("http_429", latencies(40, 30.0, 0.3, 2)),
        ("stream_cut", latencies(12, 400.0, 0.2, 3)),
    ];
    chat.ttft_ms = latencies(1800, 35.0, 0.3, 4);
    chat.cache = Some((206, 294));
    runs.insert(
        "queue_performance/queue-mix".to_owned(),
        run(
            "queue-mix",
            12.0,
            vec![
                chat,
                KindSpec::new("embeddings", "embeddings", latencies(600, 12.0, 0.25, 5)),
            ],
        ),
    );
    runs.insert(
        "concurrent_handling/burst".to_owned(),
        run(
            "burst",
            10.0,
            vec![KindSpec::new(
                "story",
                "chat",
                latencies(200, 600.0, 0.4, 6),
            )],
        ),
    );
    SuiteReport {
        schema_version: SCHEMA_VERSION,
        suite: "focused".to_owned(),
        verdict,
        started_at: "2025-06-01T10:00:00Z".to_owned(),
        duration_s: 125.3,
        seed: 42,
        target: TargetInfo {
            mode: "embedded".to_owned(),
            url: "http://127.0.0.1:41234".to_owned(),
            profile: "gatebench".to_owned(),
            mocks: Some("http://127.0.0.1:41235".to_owned()),
        },
        environment: Environment {
            os: "Linux 6.1 (Debian 12)".to_owned(),
            arch: "x86_64".to_owned(),
            cpus: 2,
            memory_bytes: 24 * (1 << 30),
            hostname: "ci-runner".to_owned(),
        },
        versions: [("gatebench".to_owned(), "0.1.0".to_owned()), ("rustc".to_owned(), "1.90.0".to_owned())].into_iter().collect(),
        checks,
        recommendations: vec![
            Recommendation {
                rule: "queue-dominates".to_owned(),
                check: "queue_performance".to_owned(),
                message: "Queue wait is 78% of total latency at p95: raise the upstream concurrency limit for gpt-4o-mini from 8 to about 14.".to_owned(),
                figure: "queue p95 160 ms of 205 ms total (78%)".to_owned(),
            },
            Recommendation {
                rule: "retry-stream-cuts".to_owned(),
                check: "error_resilience".to_owned(),
                message: "Retry streams cut before the first token; 61% of client-visible failures were such cuts.".to_owned(),
                figure: "client success rate 91.8% (target ≥ 95%)".to_owned(),
            },
        ],
        runs,
        charts: vec![
            Chart {
                id: "queue-wait-by-priority".to_owned(),
                title: "Queue wait by priority".to_owned(),
                kind: ChartKind::Bar,
                x_label: "priority".to_owned(),
                y_unit: "ms".to_owned(),
                categories: vec!["high".to_owned(), "normal".to_owned(), "low".to_owned()],
                series: vec![
                    Series {
                        name: "p50".to_owned(),
                        points: vec![[0.0, 12.0], [1.0, 55.0], [2.0, 140.0]],
                    },
                    Series {
                        name: "p95".to_owned(),
                        points: vec![[0.0, 38.0], [1.0, 160.0], [2.0, 410.0]],
                    },
                ],
                load: None,
            },
            Chart {
                id: "cache-hit-rate".to_owned(),
                title: "Cache hit rate over time".to_owned(),
                kind: ChartKind::Line,
                x_label: "s".to_owned(),
                y_unit: "%".to_owned(),
                categories: Vec::new(),
                series: vec![Series {
                    name: "hit rate".to_owned(),
                    points: (1..=20).map(|t| [t as f64, round3(45.0 * (1.0 - (-(t as f64) / 5.0).exp()))]).collect(),
                }],
                load: None,
            },
            Chart {
                id: "cost-by-model".to_owned(),
                title: "Cost by provider and model".to_owned(),
                kind: ChartKind::Bar,
                x_label: "model".to_owned(),
                y_unit: "USD".to_owned(),
                categories: vec!["openai/gpt-4o-mini".to_owned(), "deepseek/deepseek-chat".to_owned(), "elevenlabs/eleven_turbo_v2".to_owned()],
                series: vec![
                    Series {
                        name: "billed".to_owned(),
                        points: vec![[0.0, 0.0421], [1.0, 0.0133], [2.0, 0.187]],
                    },
                    Series {
                        name: "saved by cache".to_owned(),
                        points: vec![[0.0, 0.0188], [1.0, 0.0041], [2.0, 0.0]],
                    },
                ],
                load: None,
            },
        ],
        baseline: None,
    }
}

/// A report whose every check passed.
pub fn ready_report() -> SuiteReport {
    let mut r = focused_report();
    for c in &mut r.checks {
        for k in &mut c.criteria {
            k.passed = true;
        }
        c.passed = true;
    }
    r.verdict = SuiteReport::verdict_of(&r.checks);
    r
}

/// A step test of three steps, linear until 40 rps and broken at 60 (errors),
/// with no bottleneck findings.
pub fn scale_report() -> ScaleReport {
    let step = |load: f64, throughput: f64, error_rate: f64| ScaleStep {
        load,
        throughput,
        p50_ms: Some(100.0),
        p95_ms: Some(110.0 + load),
        p99_ms: Some(120.0 + load),
        error_rate,
        efficiency: Some(1.0),
        sent: 100,
        ok: 100,
        failed: 0,
        dropped: 0,
        duration_s: 5.0,
        bottleneck: None,
    };
    ScaleReport {
        scenario: "<mix>".to_owned(),
        target: "http://127.0.0.1:1".to_owned(),
        mode: Mode::Rate,
        unit: "rps".to_owned(),
        step_duration_s: 5.0,
        time_scale: Some(0.1),
        criteria: Criteria::default(),
        steps: vec![
            step(20.0, 20.0, 0.0),
            step(40.0, 40.0, 0.0),
            step(60.0, 47.0, 0.2),
        ],
        linear_until: Some(40.0),
        breaking_point: Some(60.0),
        reason: "errors".to_owned(),
        stopped_early: None,
    }
}

/// An external target on a port nothing listens on, as a run's report names it.
pub fn external_target() -> TargetInfo {
    TargetInfo {
        mode: "external".to_owned(),
        url: "http://127.0.0.1:9999".to_owned(),
        profile: String::new(),
        mocks: None,
    }
}
