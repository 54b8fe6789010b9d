//! The shipped scenarios: each parses into the workload it promises and runs briefly
//! (squeezed with a duration override) against the real mocks with delays off.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use gatebench_driver::scenario::Executor;
use gatebench_driver::{RunOptions, ScenarioFile, Schedule, Targets, run};

fn shipped(name: &str) -> ScenarioFile {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios")
        .join(name);
    ScenarioFile::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

const ALL: [&str; 13] = [
    "story-mix.toml",
    "sustained.toml",
    "spike.toml",
    "endurance.toml",
    "stress.toml",
    "aiaas-api.toml",
    "locust-1000.toml",
    "light.toml",
    "medium.toml",
    "heavy.toml",
    "burst.toml",
    "openai-apis.toml",
    "agent-conversations.toml",
];

#[test]
fn shipped_scenarios_describe_their_workloads() {
    let mix = shipped("story-mix.toml");
    let weights: Vec<(String, f64)> = mix.scenarios[0]
        .requests
        .iter()
        .map(|r| (r.spec.name.clone(), r.spec.weight))
        .collect();
    let total: f64 = weights.iter().map(|w| w.1).sum();
    let share = |name: &str| {
        weights
            .iter()
            .find(|w| w.0 == name)
            .map(|w| w.1 / total)
            .unwrap()
    };
    assert_eq!(
        [
            share("story_generation"),
            share("voice_synthesis"),
            share("personality"),
            share("webvtt"),
            share("health")
        ],
        [0.35, 0.25, 0.20, 0.15, 0.05]
    );
    let scheduled = |name: &str| {
        Schedule::for_executor(&shipped(name).scenarios[0].load.executor)
            .unwrap()
            .count()
    };
    assert_eq!(scheduled("sustained.toml"), 1000);
    assert_eq!(scheduled("endurance.toml"), 10_000);
    let sustained =
        Schedule::for_executor(&shipped("sustained.toml").scenarios[0].load.executor).unwrap();
    let times: Vec<Duration> = sustained.iter().take(2).collect();
    assert_eq!(times[1] - times[0], Duration::from_millis(100));
    assert!(matches!(
        shipped("spike.toml").scenarios[0].load.executor,
        Executor::SharedIterations {
            vus: 500,
            iterations: 500,
            ..
        }
    ));
    let stress = shipped("stress.toml");
    let stages = stress.scenarios[0].load.executor.stages().to_vec();
    let levels: Vec<f64> = stages.iter().map(|s| s.target).collect();
    assert_eq!(levels.first(), Some(&100.0));
    assert_eq!(levels.iter().cloned().fold(0.0, f64::max), 2000.0);
    assert!(
        levels
            .windows(2)
            .all(|w| w[1] == w[0] || w[1] == w[0] + 100.0)
    );
    assert!(stress.thresholds.iter().all(|t| t.abort_on_fail));
    let aiaas = shipped("aiaas-api.toml");
    let targets: Vec<f64> = aiaas.scenarios[0]
        .load
        .executor
        .stages()
        .iter()
        .map(|s| s.target)
        .collect();
    assert!(targets.contains(&20.0) && targets.contains(&100.0) && targets.contains(&200.0));
    assert!(aiaas.thresholds.iter().any(|t| t.expression == "p95 < 1s"));
    assert!(aiaas.thresholds.iter().any(|t| t.expression == "rate < 5%"));
    assert_eq!(
        shipped("locust-1000.toml").scenarios[0]
            .load
            .executor
            .max_vus(),
        1000
    );
    // each text API, streamed and whole
    let apis = shipped("openai-apis.toml");
    let mut forms: Vec<(&str, bool)> = apis.scenarios[0]
        .requests
        .iter()
        .map(|r| (r.spec.kind.name(), r.spec.stream))
        .collect();
    forms.sort();
    assert_eq!(
        forms,
        [
            ("chat", false),
            ("chat", true),
            ("completions", false),
            ("completions", true),
            ("responses", false),
            ("responses", true)
        ]
    );
    // an agent's conversations of several turns
    let agent = shipped("agent-conversations.toml");
    for r in &agent.scenarios[0].requests {
        assert_eq!((r.spec.kind.name(), r.spec.turns), ("responses", 6));
    }
    for (name, vus, iterations) in [
        ("light.toml", 10, 5),
        ("medium.toml", 50, 10),
        ("heavy.toml", 100, 15),
        ("burst.toml", 200, 5),
    ] {
        match shipped(name).scenarios[0].load.executor {
            Executor::PerVuIterations {
                vus: v,
                iterations: i,
                ..
            } => assert_eq!((v, i), (vus, iterations), "{name}"),
            ref other => panic!("{name}: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shipped_scenarios_run_briefly_against_the_mocks() {
    let mocks = common::instant_mocks(1).await;
    let url = |n: &str| mocks.url(n).unwrap();
    let targets = Targets::mocks(
        &url("openai"),
        &url("elevenlabs"),
        &url("personality"),
        &url("webvtt"),
    );
    for name in ALL {
        let file = shipped(name);
        let options = RunOptions {
            duration: Some(Duration::from_millis(400)),
            ..common::quiet()
        };
        let r = run(&file, &targets, options).await.unwrap();
        assert!(r.totals.sent > 0, "{name}: nothing sent");
        // a run cut short at 400 ms may interrupt requests in flight
        assert_eq!(
            r.totals.sent,
            r.totals.ok + r.totals.failed + r.totals.interrupted,
            "{name}"
        );
        for (request, k) in &r.kinds {
            if k.sent > 0 {
                assert!(k.ok > 0, "{name}: every `{request}` failed: {:?}", k.errors);
            }
        }
    }
    mocks.shutdown().await;
}
