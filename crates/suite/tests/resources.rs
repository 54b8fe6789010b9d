//! A suite file's `[resources]` table reaches every run of the suite, the target
//! profile's Prometheus series are scraped, and what the monitor saw cross a
//! threshold becomes a recommendation of the check.

use std::path::{Path, PathBuf};

use gatebench_suite::{SuiteFile, SuiteOptions, run_suite};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

const SUITE: &str = r#"
name = "watched"
seed = 7
time_scale = 0.0

[resources]
interval = "200ms"
[resources.thresholds]
process_rss_bytes = { warn = 1_000_000 }

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
async fn the_suites_resources_table_watches_every_run_and_advises() {
    let file = SuiteFile::parse(SUITE, "watched suite", &fixtures()).unwrap();
    let out =
        std::env::temp_dir().join(format!("gatebench-suite-resources-{}", std::process::id()));
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
    let report = run_suite(&file, &options).await;
    let _ = std::fs::remove_dir_all(&out);
    let run = &report.runs["load/services"];
    let resources = run.resources.as_ref().expect("the monitor ran");
    assert_eq!(
        resources.interval_s, 0.2,
        "the suite's interval, not the default"
    );
    assert!(
        resources
            .alerts
            .iter()
            .any(|a| a.target == "gatebench" && a.metric == "rss_bytes"),
        "{:?}",
        resources.alerts
    );
    // the gatebench profile names the gateway's own series: scraped from its /metrics
    let rss = resources
        .series_of("prometheus", "gatebench_process_resident_memory_bytes")
        .expect("the profile's series are scraped");
    assert!(rss.points.iter().all(|p| p[1] > 1e6), "{rss:?}");
    assert!(resources.problems.is_empty(), "{:?}", resources.problems);
    assert!(
        report
            .recommendations
            .iter()
            .any(|r| r.rule == "resource-rss_bytes" && r.check == "load"),
        "{:?}",
        report.recommendations
    );
}
