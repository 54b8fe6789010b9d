//! Exit codes and messages a user acts on: a run where nothing succeeded fails and
//! names its most common error with a hint; a suite whose files cannot be found is
//! a usage error naming the path tried; a baseline of another suite is refused
//! before anything runs.

use std::path::Path;
use std::process::Command;

mod common;
use common::{gatebench, temp_dir, text};

/// Runs `ws.toml` on the embedded stack without delays, into `out`.
const WS_RUN: &[&str] = &[
    "run",
    "ws.toml",
    "--time-scale",
    "0",
    "--quiet",
    "--out",
    "out",
];

/// Writes `ws.toml` in `dir`: `iterations` requests of speech over the
/// stream-input WebSocket.
fn speech_over_a_websocket(dir: &Path, iterations: u32) {
    let texts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/tts/texts.toml");
    std::fs::write(
        dir.join("ws.toml"),
        format!(
            "name = \"ws\"\n[load]\nexecutor = \"shared-iterations\"\nvus = 1\niterations = {iterations}\n[[requests]]\nname = \"ws\"\nkind = \"tts_ws\"\ntexts = \"{}\"\n",
            texts.display()
        ),
    )
    .unwrap();
}

/// Text-to-speech over the stream-input WebSocket has no route through the
/// gateway: on the embedded stack it goes to the ElevenLabs mock, and succeeds.
#[test]
fn speech_over_a_websocket_succeeds_on_the_embedded_stack() {
    let dir = temp_dir("tts-ws");
    speech_over_a_websocket(&dir, 3);
    let o = gatebench(WS_RUN, &dir);
    let all = text(&o);
    assert_eq!(o.status.code(), Some(0), "{all}");
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("out/results.json")).unwrap())
            .unwrap();
    assert_eq!(results["totals"]["ok"], 3, "{all}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_run_where_nothing_succeeded_fails_and_says_why() {
    let dir = temp_dir("nokey");
    // no api_key: the embedded gateway refuses every request
    let prompts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/prompts/stories.toml");
    std::fs::write(
        dir.join("nokey.toml"),
        format!(
            r#"name = "nokey"
[load]
executor = "shared-iterations"
vus = 2
iterations = 6
[[requests]]
name = "chat"
kind = "chat"
model = "gpt-4o-mini"
max_tokens = 5
prompts = "{}"
"#,
            prompts.display()
        ),
    )
    .unwrap();
    let o = gatebench(
        &[
            "run",
            "nokey.toml",
            "--time-scale",
            "0",
            "--quiet",
            "--out",
            "out",
        ],
        &dir,
    );
    let all = text(&o);
    assert_eq!(o.status.code(), Some(1), "{all}");
    assert!(all.contains("most common error http_401"), "{all}");
    assert!(all.contains("set `api_key` on the request"), "{all}");
    // what the gateway's 401 said, in its words
    assert!(all.contains("http_401 said: \""), "{all}");
    assert!(all.contains("no request succeeded"), "{all}");
    assert!(all.contains("time scale 0"), "{all}");
    // a run writes the suites' reports too, with the same verdict as its exit code
    let out = dir.join("out");
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    assert!(junit.contains("failures=\"1\""), "{junit}");
    assert!(junit.contains("name=\"requests_succeeded\""), "{junit}");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("NOT READY") && html.contains("http_401"));
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("0 of 6 sent"), "{md}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_suite_whose_scenario_is_missing_is_a_usage_error_naming_the_path() {
    let dir = temp_dir("suite");
    std::fs::create_dir_all(dir.join("mine")).unwrap();
    std::fs::write(
        dir.join("mine/suite.toml"),
        r#"name = "mine"
[[check]]
name = "burst"
severity = "major"
kind = "concurrency"
scenario = "burst.toml"
"#,
    )
    .unwrap();
    let o = gatebench(&["suite", "mine/suite.toml", "--quiet"], &dir);
    let all = text(&o);
    assert_eq!(o.status.code(), Some(2), "{all}");
    assert!(all.contains("scenario `burst.toml` not found"), "{all}");
    assert!(
        all.contains(&format!("mine{}burst.toml", std::path::MAIN_SEPARATOR)),
        "{all}"
    );
    assert!(!all.contains("make sure the target is up"), "{all}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_missing_baseline_is_refused_before_the_suite_runs() {
    let dir = temp_dir("baseline");
    let missing = gatebench(
        &[
            "suite",
            "focused",
            "--baseline",
            "main",
            "--db",
            "b.db",
            "--quiet",
        ],
        &dir,
    );
    let all = text(&missing);
    assert_eq!(missing.status.code(), Some(2), "{all}");
    assert!(all.contains("no baseline named `main`"), "{all}");
    assert!(!dir.join("reports").exists(), "nothing ran");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The `n` lines after the first that holds `heading`; fails, printing `all`,
/// if there are fewer.
fn lines_after<'a>(all: &'a str, heading: &str, n: usize) -> Vec<&'a str> {
    let lines: Vec<&str> = all
        .lines()
        .skip_while(|l| !l.contains(heading))
        .skip(1)
        .take(n)
        .collect();
    assert_eq!(lines.len(), n, "{n} lines after `{heading}`: {all}");
    lines
}

#[test]
fn bench_gateway_piped_has_no_colour_and_an_honest_exit_code() {
    let dir = temp_dir("bench");
    let o = gatebench(
        &[
            "bench",
            "gateway",
            "--duration",
            "1s",
            "--warmup",
            "200ms",
            "--rounds",
            "1",
        ],
        &dir,
    );
    let all = text(&o);
    assert!(!all.contains('\u{1b}'), "ANSI codes in piped output: {all}");
    assert!(all.contains("calibrated: the gateway served"), "{all}");
    assert!(all.contains("added by the gateway"), "{all}");
    // the throughput ratio wants wrk, and says so when it is missing
    let wrk = Command::new("wrk").arg("-v").output().is_ok();
    let said = if wrk {
        "throughput ratio (gateway ÷ mock directly, medians): "
    } else {
        "throughput ratio: not measured, wrk is not on PATH"
    };
    assert!(all.contains(said), "{all}");
    if wrk {
        assert!(all.contains("through a bare proxy"), "{all}");
        assert!(all.contains("bare proxy's ratio"), "{all}");
        assert!(
            all.contains("the gateway keeps") || all.contains("Non-2xx"),
            "{all}"
        );
    }
    if cfg!(target_os = "linux") {
        // at the latency phases' rate: the driver and each phase's servers
        let split = lines_after(&all, "by the servers' threads and the driver", 3);
        assert!(
            split
                .iter()
                .all(|l| l.contains("driver ") && l.contains("mock-openai ")),
            "{all}"
        );
        assert!(split[2].contains("gateway "), "{all}");
    }
    if wrk && cfg!(target_os = "linux") {
        // the server's CPU split by its threads: each load's mock, and the proxies'
        let split = lines_after(&all, "CPU per request by the server's threads", 3);
        assert!(split.iter().all(|l| l.contains("mock-openai ")), "{all}");
        assert!(split[1].contains("proxy "), "{all}");
        assert!(split[2].contains("gateway "), "{all}");
    }
    // a loaded machine may make the phase invalid: then it must say so and fail
    match o.status.code() {
        Some(0) => assert!(!all.contains("INVALID MEASUREMENT"), "{all}"),
        Some(1) => assert!(all.contains("INVALID MEASUREMENT"), "{all}"),
        other => panic!("exit {other:?}: {all}"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bench_mock_gives_each_load_its_rate_share_and_cpu_by_thread() {
    let dir = temp_dir("bench-mock");
    let o = gatebench(&["bench", "mock", "--duration", "1s"], &dir);
    let all = text(&o);
    if Command::new("wrk").arg("-v").output().is_err() {
        assert_eq!(o.status.code(), Some(2), "{all}");
        assert!(all.contains("wrk is not on PATH"), "{all}");
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }
    assert_eq!(o.status.code(), Some(0), "{all}");
    let table = lines_after(&all, "server CPU/req", 6);
    assert!(table[0].starts_with("  trivial handler (ceiling)"), "{all}");
    assert!(table[2].starts_with("  chat, same prompt"), "{all}");
    assert!(table[5].starts_with("  embeddings"), "{all}");
    assert!(table.iter().all(|l| l.contains(" µs")), "{all}");
    if cfg!(target_os = "linux") {
        // the trivial handler's threads serve the first two loads, the mock's the rest
        let split = lines_after(&all, "CPU per request by the server's threads", 6);
        assert!(split[..2].iter().all(|l| l.contains("trivial ")), "{all}");
        assert!(
            split[2..].iter().all(|l| l.contains("mock-openai ")),
            "{all}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_bench_warmup_as_long_as_its_phases_is_a_usage_error() {
    let dir = temp_dir("warmup");
    let o = gatebench(
        &["bench", "gateway", "--duration", "1s", "--warmup", "1s"],
        &dir,
    );
    let all = text(&o);
    assert_eq!(o.status.code(), Some(2), "{all}");
    assert!(
        all.contains("--warmup must be shorter than --duration"),
        "{all}"
    );
    assert!(
        !all.contains("calibrated"),
        "refused before any load: {all}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A flag whose value would measure nothing (no rounds, no connections, a run of
/// no time, a benchmark load shorter than a second or than one sample) or could
/// not end on time is refused before anything runs, naming the flag.
#[test]
fn a_flag_that_would_measure_nothing_is_a_usage_error() {
    let dir = temp_dir("bench-flags");
    for (args, flag) in [
        (&["bench", "gateway", "--rounds", "0"][..], "--rounds"),
        (&["bench", "gateway", "--rate", "0"][..], "--rate"),
        (&["bench", "gateway", "--rate", "4294967295"][..], "--rate"),
        (
            &["bench", "gateway", "--connections", "0"][..],
            "--connections",
        ),
        (
            &["bench", "gateway", "--duration", "1500ms"][..],
            "--duration",
        ),
        (&["bench", "mock", "--rounds", "0"][..], "--rounds"),
        (
            &["bench", "mock", "--connections", "0"][..],
            "--connections",
        ),
        (&["bench", "mock", "--duration", "0s"][..], "--duration"),
        (&["bench", "driver", "--rounds", "0"][..], "--rounds"),
        (
            &["bench", "driver", "--connections", "0"][..],
            "--connections",
        ),
        (
            &["bench", "driver", "--duration", "500ms"][..],
            "--duration",
        ),
        (&["bench", "driver", "--vus", "0"][..], "--vus"),
        (&["bench", "monitor", "--duration", "0s"][..], "--duration"),
        (&["run", "x.toml", "--duration", "0s"][..], "--duration"),
    ] {
        let o = gatebench(args, &dir);
        let all = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {all}");
        assert!(all.contains(flag), "{args:?}: {all}");
        assert!(!all.contains("panicked"), "{args:?}: {all}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_time_scale_that_would_overflow_a_delay_or_a_threshold_is_a_usage_error() {
    let dir = temp_dir("scale");
    for args in [
        &["mock", "--time-scale", "1e300"][..],
        &["up", "--time-scale", "inf"][..],
        &["run", "x.toml", "--time-scale=-1"][..],
        // so fast that a threshold's real-time equivalent overflows
        &["run", "x.toml", "--time-scale", "1e-20"][..],
        &["scale", "x.toml", "--time-scale", "0.0001"][..],
    ] {
        let o = gatebench(args, &dir);
        let all = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {all}");
        assert!(
            all.contains("is not a time scale: 0 (no delays) or a number from 0.001 to 1000"),
            "{all}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Output piped into a reader that stops early (`| head`): the run still ends
/// with its verdict's exit code and writes its reports, not a panic (101).
#[test]
fn a_closed_stdout_does_not_change_the_exit_code() {
    let dir = temp_dir("closed-stdout");
    speech_over_a_websocket(&dir, 2);
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatebench"))
        .args(WS_RUN)
        .current_dir(&dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // the reader goes before anything is written
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(dir.join("out/results.json").exists());
    let _ = std::fs::remove_dir_all(&dir);
}
