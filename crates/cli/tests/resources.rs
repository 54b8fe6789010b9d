//! `gatebench run` watches resources end to end: a local process named with
//! `--watch-process`, a threshold that must be crossed, the `resource_alert` events,
//! and the resources section of results.json and of both reports; a process id
//! that does not exist is a usage error.

use std::path::Path;
use std::process::Command;

mod common;
use common::{gatebench, temp_dir};

fn scenario(dir: &Path) {
    let profiles =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/personality/profiles.toml");
    std::fs::write(
        dir.join("watched.toml"),
        format!(
            r#"name = "watched"
[load]
executor = "constant-arrival-rate"
rate = 10
duration = "2s"
max_vus = 10
[[requests]]
name = "personality"
kind = "personality"
profiles = "{}"
api_key = "gb-alpha-dev"
[resources]
interval = "250ms"
[resources.thresholds]
process_rss_bytes = {{ warn = 1_000_000 }}
"#,
            profiles.display()
        ),
    )
    .unwrap();
}

#[test]
fn a_watched_process_crossing_its_threshold_is_in_events_results_and_reports() {
    let dir = temp_dir("run");
    scenario(&dir);
    // a process of a name no other test starts, to find by name
    let exe = dir.join("gb-watched-sleeper");
    // copied by a child process: a file this process held open for writing could be
    // inherited by another test's fork and make the spawn below fail with ETXTBSY
    let copied = Command::new("cp")
        .arg("/bin/sleep")
        .arg(&exe)
        .status()
        .unwrap();
    assert!(copied.success());
    let mut child = Command::new(&exe).arg("60").spawn().unwrap();
    let o = gatebench(
        &[
            "run",
            "watched.toml",
            "--time-scale",
            "0.01",
            "--quiet",
            "--out",
            "out",
            "--events",
            "events.jsonl",
            "--watch-process",
            "gb-watched-sleeper",
        ],
        &dir,
    );
    let _ = child.kill();
    let _ = child.wait();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(o.status.code(), Some(0), "{said}");
    assert!(said.contains("resources (every 0.25 s)"), "{said}");
    let events = std::fs::read_to_string(dir.join("events.jsonl")).unwrap();
    let alerts: Vec<serde_json::Value> = events
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["type"] == "resource_alert")
        .collect();
    for target in ["gatebench", "gb-watched-sleeper"] {
        let found: Vec<_> = alerts.iter().filter(|a| a["target"] == target).collect();
        assert_eq!(found.len(), 1, "{target}: {alerts:?}");
        assert_eq!(found[0]["metric"], "rss_bytes");
        assert_eq!(found[0]["level"], "warn");
    }
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("out/results.json")).unwrap()).unwrap();
    let resources = &results["resources"];
    assert_eq!(resources["alerts"].as_array().unwrap().len(), alerts.len());
    assert!(
        resources["targets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "gb-watched-sleeper" && t["pid"] == child.id())
    );
    assert!(resources["overhead"]["samples"].as_u64().unwrap() >= 2);
    let md = std::fs::read_to_string(dir.join("out/report.md")).unwrap();
    assert!(md.contains("Resources: "), "{md}");
    assert!(md.contains("gb-watched-sleeper"), "{md}");
    assert!(md.contains("**resource-rss"), "a recommendation: {md}");
    let html = std::fs::read_to_string(dir.join("out/report.html")).unwrap();
    assert!(html.contains("<h4>Resources</h4>"));
    assert!(html.contains("watched: resident memory"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_process_id_that_does_not_exist_is_a_usage_error() {
    let dir = temp_dir("nopid");
    scenario(&dir);
    let o = gatebench(
        &[
            "run",
            "watched.toml",
            "--quiet",
            "--out",
            "out",
            "--watch-pid",
            "4194321",
        ],
        &dir,
    );
    let said = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{said}");
    assert!(said.contains("no process has id 4194321"), "{said}");
    let _ = std::fs::remove_dir_all(&dir);
}
