//! A suite says NOT READY when a check's cause is injected, READY when nothing is
//! wrong, and the same seed gives the same verdict. Small workloads, mock delays off.

use std::path::{Path, PathBuf};

use gatebench_report::{Source, SuiteReport, Verdict};
use gatebench_suite::{SuiteFile, SuiteOptions, run_suite};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn suite(checks: &str) -> SuiteFile {
    let text = format!("name = \"test\"\nseed = 7\ntime_scale = 0.0\n{checks}");
    SuiteFile::parse(&text, "test suite", &fixtures()).unwrap()
}

async fn run(file: &SuiteFile, target: Option<String>) -> SuiteReport {
    let out = std::env::temp_dir().join(format!(
        "gatebench-suite-test-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    let options = SuiteOptions {
        target,
        mocks: None,
        keys: vec!["gb-alpha-dev".into()],
        profile: gatebench_suite::TargetProfile::load("gatebench").unwrap(),
        seed: None,
        out: out.clone(),
        quiet: true,
        trust: gatebench_driver::Trust::Platform,
    };
    let report = run_suite(file, &options).await;
    let _ = std::fs::remove_dir_all(&out);
    report
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

fn failed<'a>(report: &'a SuiteReport, check: &str) -> &'a gatebench_report::CheckResult {
    let result = report.checks.iter().find(|c| c.name == check).unwrap();
    assert!(!result.passed, "{check} should fail: {}", result.measured);
    result
}

const HEALTHY: &str = r#"
[[check]]
name = "queue"
severity = "critical"
kind = "queue"
scenario = "queue.toml"
# two upstream slots and calls that take time: the room scenario fits, the saturated one really queues, so
# the order by class is measured, not the scheduling noise of a queue that never fills or of calls that
# take no time
[check.stack]
concurrency = { openai = 2 }
time_scale = 0.05

[[check]]
name = "cache"
severity = "major"
kind = "cache"
scenario = "chat.toml"
[check.targets]
hit_rate_min = 5.0
false_hit_rate_max = 5.0

[[check]]
name = "cost"
severity = "critical"
kind = "cost"
scenario = "mixed.toml"

[[check]]
name = "burst"
severity = "major"
kind = "concurrency"
scenario = "chat.toml"

[[check]]
name = "resilience"
severity = "critical"
kind = "resilience"
scenario = "chat.toml"

[[check]]
name = "load"
severity = "major"
kind = "load"
[[check.pattern]]
name = "services"
scenario = "services.toml"
p95_ms_max = 5000.0
error_rate_max = 1.0
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_stack_is_ready_and_the_same_seed_gives_the_same_verdict() {
    let file = suite(HEALTHY);
    let first = run(&file, None).await;
    for check in &first.checks {
        assert!(check.passed, "{}: {}", check.name, check.measured);
    }
    assert_eq!(first.verdict, Verdict::Ready);
    // each figure says where it comes from, and its value is what its name says
    let criterion = |name: &str| {
        first
            .checks
            .iter()
            .flat_map(|c| &c.criteria)
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no criterion {name}"))
    };
    assert_eq!(criterion("queue overhead p99").source, Source::Claim);
    let untraced = criterion("hits not traced to an upstream call");
    assert_eq!(
        (untraced.value, untraced.source),
        (Some(0.0), Source::Truth)
    );
    // a pattern named like its scenario is named once, not `services-services`
    assert!(
        first.runs.contains_key("load/services"),
        "{:?}",
        first.runs.keys().collect::<Vec<_>>()
    );
    let second = run(&file, None).await;
    for check in second.checks.iter().filter(|c| !c.passed) {
        eprintln!("second run: {} failed: {}", check.name, check.measured);
    }
    assert_eq!(second.verdict, first.verdict);
    let outcomes = |r: &SuiteReport| {
        r.checks
            .iter()
            .map(|c| (c.name.clone(), c.passed))
            .collect::<Vec<_>>()
    };
    assert_eq!(outcomes(&second), outcomes(&first));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_target_fails_every_check() {
    let report = run(&suite(HEALTHY), Some("http://127.0.0.1:9".into())).await;
    assert_eq!(report.verdict, Verdict::NotReady);
    for check in &report.checks {
        assert!(!check.passed, "{}", check.name);
        assert!(
            check.measured.contains("does not answer"),
            "{}",
            check.measured
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hanging_upstreams_lose_requests_in_the_queue_check() {
    let file = suite(
        r#"
[[check]]
name = "queue"
severity = "critical"
kind = "queue"
scenario = "queue.toml"
[check.faults.openai]
hang = 1.0
hang_for = "1h"
"#,
    );
    let report = run(&file, None).await;
    assert_eq!(report.verdict, Verdict::NotReady);
    let queue = failed(&report, "queue");
    let lost = queue
        .criteria
        .iter()
        .find(|c| c.name == "requests lost")
        .unwrap();
    assert!(!lost.passed, "{}", lost.measured);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_threshold_that_matches_anything_fails_the_cache_check_on_false_hits() {
    let file = suite(
        r#"
[[check]]
name = "cache"
severity = "major"
kind = "cache"
scenario = "chat.toml"
[check.targets]
hit_rate_min = 5.0
false_hit_rate_max = 5.0
[check.stack]
cache_threshold = 0.0
"#,
    );
    let report = run(&file, None).await;
    assert_eq!(report.verdict, Verdict::NotReady);
    let cache = failed(&report, "cache");
    let false_hits = cache
        .criteria
        .iter()
        .find(|c| c.name == "false-hit rate")
        .unwrap();
    assert!(!false_hits.passed, "{}", false_hits.measured);
    assert!(
        report
            .recommendations
            .iter()
            .any(|r| r.rule == "cache-threshold"),
        "{:?}",
        report.recommendations
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_price_file_that_disagrees_with_the_ledger_fails_the_cost_check() {
    let prices = std::env::temp_dir().join(format!("gatebench-prices-{}", std::process::id()));
    std::fs::create_dir_all(&prices).unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pricing");
    for entry in std::fs::read_dir(&shipped).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let text = std::fs::read_to_string(&path).unwrap();
            // One price nudged: gpt-4o-mini's input, 0.15 → 0.16 per million tokens.
            let text = text.replacen(
                "input_per_million = \"0.15\"",
                "input_per_million = \"0.16\"",
                1,
            );
            std::fs::write(prices.join(path.file_name().unwrap()), text).unwrap();
        }
    }
    let file = suite(&format!(
        "[[check]]\nname = \"cost\"\nseverity = \"critical\"\nkind = \"cost\"\nscenario = \"mixed.toml\"\npricing = \"{}\"\n",
        prices.display()
    ));
    let report = run(&file, None).await;
    let _ = std::fs::remove_dir_all(&prices);
    assert_eq!(report.verdict, Verdict::NotReady);
    let cost = failed(&report, "cost");
    assert!(
        cost.evidence.summary.contains("gpt-4o-mini"),
        "{}",
        cost.evidence.summary
    );
}

/// A burst of the chat workload on a stack adjusted by `stack` (`[check.stack]` lines).
async fn burst_on(stack: &str) -> SuiteReport {
    let file = suite(&format!(
        "[[check]]\nname = \"burst\"\nseverity = \"major\"\nkind = \"concurrency\"\nscenario = \"chat.toml\"\n[check.stack]\n{stack}"
    ));
    run(&file, None).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tiny_upstream_fails_the_burst() {
    let report = burst_on(
        "concurrency = { openai = 1, deepseek = 1 }\nqueue_capacity = { openai = 1, deepseek = 1 }\n",
    )
    .await;
    assert_eq!(report.verdict, Verdict::NotReady);
    let burst = failed(&report, "burst");
    assert!(!burst.criteria[0].passed, "{}", burst.criteria[0].measured);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_queued_behind_too_few_slots_of_the_targets_own_fails_on_added_latency() {
    // One OpenAI slot at the gateway and a queue that holds the whole burst: every
    // request is answered, but most wait in the gateway while OpenAI (no per-key
    // concurrency limit) had room for them.
    let report = burst_on("concurrency = { openai = 1, deepseek = 1 }\ntime_scale = 0.02\n").await;
    assert_eq!(report.verdict, Verdict::NotReady);
    let burst = failed(&report, "burst");
    let [success, added, unaccounted] = &burst.criteria[..] else {
        panic!("{:?}", burst.criteria);
    };
    assert!(success.passed, "{}", success.measured);
    assert!(unaccounted.passed, "{}", unaccounted.measured);
    assert_eq!(added.name, "p95 latency added by the target");
    assert!(!added.passed, "{}", added.measured);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_upstream_failing_fails_the_resilience_check() {
    let file = suite(
        r#"
[[check]]
name = "resilience"
severity = "critical"
kind = "resilience"
scenario = "chat.toml"
[check.faults.openai]
server_error = 1.0
"#,
    );
    let report = run(&file, None).await;
    assert_eq!(report.verdict, Verdict::NotReady);
    let resilience = failed(&report, "resilience");
    assert!(
        resilience.criteria[0].value.unwrap() < 50.0,
        "{}",
        resilience.criteria[0].measured
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_service_fails_its_load_pattern() {
    let file = suite(
        r#"
[[check]]
name = "load"
severity = "major"
kind = "load"
[[check.pattern]]
name = "services"
scenario = "services.toml"
p95_ms_max = 5000.0
error_rate_max = 1.0
[check.faults.personality]
server_error = 1.0
"#,
    );
    let report = run(&file, None).await;
    assert_eq!(report.verdict, Verdict::NotReady);
    failed(&report, "load");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_minor_failure_is_a_warning_not_a_block() {
    let file = suite(
        r#"
[[check]]
name = "load"
severity = "minor"
kind = "load"
[[check.pattern]]
name = "services"
scenario = "services.toml"
p95_ms_max = 5000.0
error_rate_max = 1.0
[check.faults.personality]
server_error = 1.0
"#,
    );
    let report = run(&file, None).await;
    failed(&report, "load");
    assert_eq!(report.verdict, Verdict::Ready);
    assert!(
        report
            .recommendations
            .iter()
            .any(|r| r.rule == "minor-failure")
    );
}

/// The embedded stack is judged exactly like an external target: the same checks,
/// started as `gatebench up` would start the stack (each check's own settings) and
/// named with `--target`, `--mocks` and the `gatebench` preset, give the same
/// outcomes for one seed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_as_an_external_target_gets_the_same_outcomes() {
    let file = suite(&format!(
        "{HEALTHY}\n[[check]]\nname = \"streams\"\nseverity = \"critical\"\nkind = \"streaming\"\nscenario = \"chat.toml\"\n\n[[check]]\nname = \"isolation\"\nseverity = \"critical\"\nkind = \"isolation\"\nscenario = \"chat.toml\"\n"
    ));
    let embedded = run(&file, None).await;
    for (i, check) in file.checks.iter().enumerate() {
        let options = gatebench_suite::subject::Subject::stack_options(&file, check, file.seed);
        let stack = gatebench_stack::Stack::start(options).await.unwrap();
        let mut one = file.clone();
        one.checks = vec![check.clone()];
        let out = std::env::temp_dir().join(format!(
            "gatebench-suite-external-{}-{}",
            std::process::id(),
            rand_suffix()
        ));
        let external = run_suite(
            &one,
            &SuiteOptions {
                target: Some(stack.gateway_url()),
                mocks: stack.mock_url("openai"),
                keys: vec!["gb-alpha-dev".into(), "gb-beta-dev".into()],
                profile: gatebench_suite::TargetProfile::load("gatebench").unwrap(),
                seed: None,
                out: out.clone(),
                quiet: true,
                trust: gatebench_driver::Trust::Platform,
            },
        )
        .await;
        stack.shutdown().await;
        let _ = std::fs::remove_dir_all(&out);
        let (inside, outside) = (&embedded.checks[i], &external.checks[0]);
        assert_eq!(
            inside.passed, outside.passed,
            "{}: embedded {} / external {}",
            check.name, inside.measured, outside.measured
        );
        assert_eq!(
            inside
                .criteria
                .iter()
                .map(|c| (&c.name, c.passed, c.source))
                .collect::<Vec<_>>(),
            outside
                .criteria
                .iter()
                .map(|c| (&c.name, c.passed, c.source))
                .collect::<Vec<_>>(),
            "{}",
            check.name
        );
    }
}

/// Text completions and responses are judged as chat is: every stream read to its
/// end is compared with the mock's content, every reported usage with the mock's,
/// every success checked against the faults, every answer traced for the cache and
/// across tenants; the gateway caches text completions and never responses, and
/// the cache check's truth says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_that_generates_text_is_judged_by_its_content() {
    let checks = std::fs::read_to_string(fixtures().join("generating-checks.toml")).unwrap();
    let file = suite(&format!(
        "{checks}{}",
        r#"
[[check]]
name = "cache"
severity = "major"
kind = "cache"
scenario = "generating.toml"
[check.targets]
hit_rate_min = 5.0

[[check]]
name = "isolation"
severity = "critical"
kind = "isolation"
scenario = "generating.toml"
"#
    ));
    let report = run(&file, None).await;
    for check in &report.checks {
        assert!(check.passed, "{}: {}", check.name, check.measured);
    }
    let check = |name: &str| report.checks.iter().find(|c| c.name == name).unwrap();
    // a run's records, by the start of its key (`check/scenario`, `-second`
    // for the isolation check's second tenant)
    let records = |run: &str| {
        let (check, suffix) = run.split_once('-').unwrap_or((run, ""));
        let (_, results) = report
            .runs
            .iter()
            .find(|(key, _)| key.starts_with(&format!("{check}/")) && key.ends_with(suffix))
            .unwrap();
        results.requests.clone().unwrap()
    };
    const KINDS: [&str; 3] = ["chat", "completions", "responses"];

    let streamed = records("streaming");
    let by_kind = &check("streaming").evidence.details["streams_by_kind"];
    for kind in KINDS {
        let read = streamed
            .iter()
            .filter(|r| r.kind == kind && r.outcome == "ok" && r.chunks.is_some())
            .count();
        assert!(read > 0, "no {kind} stream was read to its end");
        assert_eq!(by_kind[kind], read, "{kind}: {by_kind}");
    }

    // every answer that went upstream reports its usage: a response's last
    // event always, chat and text completion streams as they are asked to
    let answered = records("usage");
    for kind in KINDS {
        assert!(answered.iter().any(|r| r.kind == kind && r.usage.is_some()));
    }
    let usage = &check("usage").evidence.details;
    let upstream = answered.iter().filter(|r| r.outcome == "ok").count() as u64
        - usage["no_upstream_call"].as_u64().unwrap();
    assert_eq!(usage["compared"], upstream, "{usage}");

    let errors = records("errors");
    let successes = errors
        .iter()
        .filter(|r| r.outcome == "ok" && r.content_digest.is_some())
        .count();
    assert!(
        errors.iter().any(|r| r.outcome == "stream_cut"),
        "no stream was cut"
    );
    assert_eq!(
        check("errors").evidence.details["successes_judged"],
        successes
    );

    let second = records("isolation-second");
    let answered = second.iter().filter(|r| r.outcome == "ok").count();
    assert!(
        second.iter().any(|r| r.kind == "completions"),
        "{:?}",
        report.runs.keys()
    );
    assert_eq!(
        check("isolation").evidence.details["answers_judged"],
        answered
    );

    let cache = &check("cache").evidence.details["by_request"];
    assert!(cache["chat"]["hits"].as_u64().unwrap() > 0, "{cache}");
    assert!(cache["text"]["hits"].as_u64().unwrap() > 0, "{cache}");
    assert!(
        cache["response"]["answers"].as_u64().unwrap() > 0,
        "{cache}"
    );
    assert_eq!(cache["response"]["hits"], 0, "{cache}");
}

/// The built-in agents suite on the embedded stack: every check judged on
/// something, stored responses probed across the demo tenants, READY.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agents_suite_is_ready_on_the_embedded_stack() {
    let mut file = SuiteFile::load("agents").unwrap();
    file.time_scale = 0.0;
    let report = run(&file, None).await;
    for check in &report.checks {
        assert!(check.passed, "{}: {}", check.name, check.measured);
        for criterion in &check.criteria {
            assert!(
                !criterion.measured.starts_with("skipped"),
                "{}: {}",
                check.name,
                criterion.measured
            );
        }
    }
    assert_eq!(report.verdict, Verdict::Ready);
    let isolation = report
        .checks
        .iter()
        .find(|c| c.name == "conversation_isolation")
        .unwrap();
    assert!(
        isolation
            .measured
            .contains("stored responses reached by another tenant 0 of 3"),
        "{}",
        isolation.measured
    );
}
