//! A stop signal ends a `run` or a `suite` gracefully, SIGTERM (what Kubernetes
//! sends a pod) as Ctrl-C: what was measured is written, and the report says the
//! work was stopped.

#![cfg(unix)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::temp_dir;

/// Kills the process when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the binary in the repository's root with `args`, stderr piped.
fn start(args: &[&str]) -> Running {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    Running(
        Command::new(env!("CARGO_BIN_EXE_gatebench"))
            .args(args)
            .current_dir(root)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts"),
    )
}

/// Reads stderr until a line holding `marker`, sends `signal`, then reads the rest;
/// returns all of stderr and the exit code.
fn signal_after(running: &mut Running, marker: &str, signal: &str) -> (String, Option<i32>) {
    let child = &mut running.0;
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut err = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        err.push_str(&line);
        err.push('\n');
        if line.contains(marker) {
            break;
        }
    }
    let sent = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    for line in lines {
        err.push_str(&line.unwrap());
        err.push('\n');
    }
    (err, child.wait().unwrap().code())
}

#[test]
fn sigterm_stops_a_run_gracefully_its_results_are_written_and_it_is_not_ready() {
    let out = temp_dir("run-term");
    let out_arg = out.display().to_string();
    // events on stderr: the first says the load has started
    let mut running = start(&[
        "run",
        "scenarios/sustained.toml",
        "--time-scale",
        "0",
        "--duration",
        "60s",
        "--events",
        "/dev/stderr",
        "--out",
        &out_arg,
    ]);
    let (err, code) = signal_after(&mut running, "\"type\":\"start\"", "-TERM");
    assert!(err.contains("stopping: in-flight requests"), "{err}");
    // it judged only the part of its scenario it ran: never READY
    assert_eq!(code, Some(1), "{err}");
    assert!(out.join("results.json").is_file(), "{err}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["verdict"], "NOT READY", "{err}");
    let stopped = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "ran_to_the_end")
        .unwrap_or_else(|| panic!("no ran_to_the_end check: {report}"));
    let measured = stopped["criteria"][0]["measured"].as_str().unwrap();
    assert!(measured.contains("stopped early: cancelled"), "{measured}");
    assert!(out.join("junit.xml").is_file(), "{err}");
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    assert!(junit.contains("stopped early"), "{junit}");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn ctrl_c_stops_a_suite_after_its_check_and_reports_the_rest_as_not_run() {
    let out = temp_dir("suite-int");
    let out_arg = out.display().to_string();
    let mut running = start(&["suite", "focused", "--out", &out_arg]);
    // the first check's line ends as the second begins: the signal comes in it
    let (err, code) = signal_after(&mut running, "[1/5]", "-INT");
    assert!(err.contains("stopping after the current check"), "{err}");
    assert_eq!(code, Some(1), "{err}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["verdict"], "NOT READY", "{err}");
    let checks = report["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 5);
    let not_run: Vec<&str> = checks
        .iter()
        .filter(|c| c["criteria"][0]["name"] == "not run")
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(not_run.len(), 3, "{err}");
    // the checks not run say so, and neither ask for a reachable target nor
    // stand for an external target's time scale
    let recommendations = report["recommendations"].as_array().unwrap();
    for check in &not_run {
        let rules: Vec<&str> = recommendations
            .iter()
            .filter(|r| r["check"] == *check)
            .map(|r| r["rule"].as_str().unwrap())
            .collect();
        assert_eq!(rules, ["not-run"], "{check}: {recommendations:?}");
    }
    let markdown = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(!markdown.contains("external"), "{markdown}");
    let _ = std::fs::remove_dir_all(&out);
}
