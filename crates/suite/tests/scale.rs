//! The `scale` check kind on the embedded stack: a target with room passes with its
//! linear range reaching the last step; a target whose upstream fails most calls
//! breaks at the first step, fails the check and gets a recommendation.

use std::path::{Path, PathBuf};

use gatebench_report::SuiteReport;
use gatebench_suite::{SuiteFile, SuiteOptions, run_suite};

fn suite(extra: &str) -> SuiteFile {
    let text = format!(
        r#"name = "scale-test"
seed = 3
time_scale = 0.0
[[check]]
name = "scalability"
severity = "major"
kind = "scale"
scenario = "services.toml"
[check.scale]
mode = "rate"
steps = [5, 10]
step_duration = "1500ms"
[check.targets]
linear_until_min = 10.0
{extra}"#
    );
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    SuiteFile::parse(&text, "scale suite", &fixtures).unwrap()
}

async fn run(file: &SuiteFile, name: &str) -> (SuiteReport, PathBuf) {
    let out = std::env::temp_dir().join(format!(
        "gatebench-suite-scale-{name}-{}",
        std::process::id()
    ));
    let options = SuiteOptions {
        target: None,
        mocks: None,
        keys: vec!["gb-alpha-dev".into()],
        profile: gatebench_suite::TargetProfile::load("gatebench").unwrap(),
        seed: None,
        out: out.clone(),
        quiet: true,
        trust: gatebench_driver::Trust::Platform,
    };
    (run_suite(file, &options).await, out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_with_room_scales_linearly_through_the_steps() {
    let (report, out) = run(&suite(""), "room").await;
    let check = &report.checks[0];
    assert!(check.passed, "{check:#?}");
    let names: Vec<&str> = check.criteria.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["linear range", "breaking point"]);
    assert!(
        report
            .charts
            .iter()
            .any(|c| c.id == "scalability-scale-throughput"),
        "{:?}",
        report.charts.iter().map(|c| &c.id).collect::<Vec<_>>()
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("scale-scalability/scale.json")).unwrap())
            .unwrap();
    assert_eq!(json["linear_until"], 10.0, "{json}");
    assert_eq!(json["breaking_point"], serde_json::Value::Null, "{json}");
    let _ = std::fs::remove_dir_all(&out);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_failing_most_calls_breaks_at_the_first_step() {
    let (report, out) = run(
        &suite("[check.faults.personality]\nunavailable = 0.9\n"),
        "failing",
    )
    .await;
    let check = &report.checks[0];
    assert!(!check.passed, "{check:#?}");
    let breaking = check
        .criteria
        .iter()
        .find(|c| c.name == "breaking point")
        .unwrap();
    assert_eq!(breaking.value, Some(5.0), "{breaking:?}");
    assert!(
        breaking.measured.contains("breaks at 5 rps"),
        "{breaking:?}"
    );
    assert!(
        report
            .recommendations
            .iter()
            .any(|r| r.rule == "scale-breaking-point" && r.message.contains("error rate")),
        "{:?}",
        report.recommendations
    );
    let _ = std::fs::remove_dir_all(&out);
}
