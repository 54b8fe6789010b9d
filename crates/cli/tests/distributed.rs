//! Execution segments end to end: N `gatebench run --segment I/N` processes of one
//! scenario against real mocks on loopback, merged by `gatebench merge`, equal one
//! `gatebench run` of the whole scenario: the same requests (intended times,
//! payloads), the same counts, percentiles within HDR precision of the pooled
//! per-request records, thresholds judged again on the merged figures; a missing
//! segment fails the merge.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use gatebench_driver::RunResults;
use gatebench_mock::{MockOptions, MockPorts, RunningMocks};

mod common;
use common::{temp_dir, text};

fn gatebench() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gatebench"))
}

fn catalog(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(name)
        .display()
        .to_string()
}

/// A scenario of two weighted chat and embeddings requests drawn from a catalog.
fn scenario(dir: &Path, name: &str, load: &str, thresholds: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!(
            r#"name = "{name}"
seed = 7
[load]
{load}
[[requests]]
name = "story"
kind = "chat"
model = "gpt-4o-mini"
max_tokens = 16
api_key = "sk-test"
prompts = "{stories}"
weight = 3
[[requests]]
name = "embed"
kind = "embeddings"
model = "text-embedding-3-small"
api_key = "sk-test"
prompts = "{support}"
weight = 1
[thresholds]
{thresholds}
"#,
            stories = catalog("prompts/stories.toml"),
            support = catalog("prompts/support.toml"),
        ),
    )
    .unwrap();
    path
}

/// Runs the whole scenario, and its `n` segments side by side; returns the whole
/// run's folder, the segments' folders and the segments' stdout.
async fn run_all(
    dir: &Path,
    file: &Path,
    target: &str,
    n: u32,
) -> (PathBuf, Vec<PathBuf>, Vec<String>) {
    let common = |out: &Path| {
        let mut c = gatebench();
        c.arg("run")
            .arg(file)
            .args(["--target", target, "--quiet", "--record-requests", "--out"])
            .arg(out)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    };
    let whole = dir.join("whole");
    let single = common(&whole).spawn().unwrap();
    let segments: Vec<PathBuf> = (0..n).map(|i| dir.join(format!("seg{i}"))).collect();
    let children: Vec<_> = segments
        .iter()
        .enumerate()
        .map(|(i, out)| {
            common(out)
                .args(["--segment", &format!("{i}/{n}"), "--print-results"])
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs = tokio::task::spawn_blocking(move || {
        let single = single.wait_with_output().unwrap();
        let segs: Vec<Output> = children
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect();
        (single, segs)
    })
    .await
    .unwrap();
    let (single, segs) = outputs;
    assert!(single.status.code().is_some(), "{}", text(&single));
    let mut logs = Vec::new();
    for s in &segs {
        // a segment exits 0 once it ran: thresholds are the merge's to judge
        assert_eq!(s.status.code(), Some(0), "{}", text(s));
        logs.push(String::from_utf8_lossy(&s.stdout).into_owned());
    }
    (whole, segments, logs)
}

fn merge(args: &[&Path], out: &Path) -> Output {
    gatebench()
        .arg("merge")
        .args(args)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

/// The `requests` count threshold of a run.
fn count_threshold(r: &RunResults) -> &gatebench_driver::ThresholdResult {
    r.thresholds.iter().find(|t| t.key == "requests").unwrap()
}

fn read(dir: &Path) -> RunResults {
    RunResults::read_json(&dir.join("results.json")).unwrap()
}

/// The requests a run sent, as a sorted list of what identifies one: request name,
/// intent, prompt digest, and (open loop) intended time from the run's start.
fn sent(r: &RunResults, with_time: bool) -> Vec<(String, Option<String>, Option<String>, i64)> {
    let mut v: Vec<_> = r
        .requests
        .as_ref()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x.request.clone(),
                x.intent.clone(),
                x.prompt_digest.clone(),
                if with_time {
                    (x.intended_ms * 10.0).round() as i64
                } else {
                    0
                },
            )
        })
        .collect();
    v.sort();
    v
}

/// The value at quantile `q` of sorted samples (nearest rank, as HDR reads it).
/// The resource samples the segments' monitors took, together.
fn seg_dirs_samples(segments: &[PathBuf]) -> u64 {
    segments
        .iter()
        .map(|s| read(s).resources.map_or(0, |r| r.overhead.samples))
        .sum()
}

fn nearest_rank(sorted: &[f64], q: f64) -> f64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn start_mocks() -> MockOptions {
    MockOptions {
        ports: MockPorts::EPHEMERAL,
        seed: 3,
        // real latency shapes, fifty times faster
        time_scale: 0.02,
        ..MockOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_segments_merge_into_the_whole_run() {
    let mocks = RunningMocks::start(start_mocks()).await.unwrap();
    let target = mocks.url("openai").unwrap();
    let dir = temp_dir("open");
    let file = scenario(
        &dir,
        "open",
        // a VU for every arrival: nothing is dropped, however slow the first calls
        "executor = \"constant-arrival-rate\"\nrate = 150\nduration = \"1s\"\nmax_vus = 150",
        "requests = \"count == 150\"\n\"latency{status:ok}\" = \"p99 < 60s\"",
    );
    let (whole, segments, logs) = run_all(&dir, &file, &target, 3).await;
    let single = read(&whole);
    assert_eq!(
        (single.totals.sent, single.totals.dropped),
        (150, 0),
        "{:?}",
        single.totals
    );

    // each segment: a third of the arrivals, within one, and its own view of the
    // count threshold fails where the merged one holds
    for (i, s) in segments.iter().enumerate() {
        let r = read(s);
        assert!(
            (49..=51).contains(&r.totals.sent),
            "segment {i}: {}",
            r.totals.sent
        );
        let seg = r.segment.as_ref().unwrap();
        assert_eq!((seg.index, seg.count), (i as u32, 3));
        assert!(!count_threshold(&r).passed);
    }

    let merged_dir = dir.join("merged");
    let seg_refs: Vec<&Path> = segments.iter().map(PathBuf::as_path).collect();
    let o = merge(&seg_refs, &merged_dir);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let merged = read(&merged_dir);
    assert!(merged.passed(), "{:#?}", merged.thresholds);
    assert_eq!(count_threshold(&merged).value, Some(150.0));

    // exactly the same requests: name, payload and intended time
    assert_eq!(sent(&merged, true), sent(&single, true));
    assert_eq!(merged.totals.sent, single.totals.sent);
    assert_eq!(merged.totals.dropped, single.totals.dropped);
    for (name, k) in &single.kinds {
        assert_eq!(merged.kinds[name].sent, k.sent, "{name}");
    }
    // the time series counts every finished request once
    let series: u64 = merged.timeseries.iter().map(|p| p.total.requests).sum();
    assert_eq!(series, merged.totals.sent - merged.totals.dropped);
    // every segment's resource samples, named after it, and a bottleneck of the
    // merged figures (a mock: no server-timing, no books, so unknown unless a
    // process was saturated)
    let resources = merged.resources.as_ref().expect("merged resources");
    for i in 0..3 {
        let name = format!("segment {i}: gatebench");
        assert!(
            resources.series_of(&name, "cpu_percent").is_some(),
            "{:?}",
            resources.targets
        );
    }
    let samples: u64 = seg_dirs_samples(&segments);
    assert_eq!(resources.overhead.samples, samples);
    let b = merged.bottleneck.as_ref().expect("a merged bottleneck");
    assert_eq!(b.measured.requests, merged.totals.ok + merged.totals.failed);

    // merged percentiles are the pooled records' within HDR precision (3 digits)
    for name in ["story", "embed"] {
        let mut pooled: Vec<f64> = merged
            .requests
            .as_ref()
            .unwrap()
            .iter()
            .filter(|x| x.request == name)
            .map(|x| x.latency_ms)
            .collect();
        pooled.sort_by(f64::total_cmp);
        let l = merged.kinds[name].latency_ms.as_ref().unwrap();
        for (q, got) in [(0.5, l.p50), (0.95, l.p95), (0.99, l.p99), (1.0, l.max)] {
            let want = nearest_rank(&pooled, q);
            assert!(
                (got - want).abs() <= want * 0.002 + 0.002,
                "{name} p{q}: merged {got} vs pooled {want}"
            );
        }
    }

    // the same from the segments' logs, as `kubectl logs --prefix` shows them
    let log_file = dir.join("pods.log");
    let prefixed: String = logs
        .iter()
        .enumerate()
        .flat_map(|(i, l)| {
            l.lines()
                .map(move |line| format!("[pod/load-{i}-x/gatebench] {line}\n"))
        })
        .collect();
    std::fs::write(&log_file, prefixed).unwrap();
    let from_logs = dir.join("from-logs");
    let o = gatebench()
        .args(["merge", "--from-logs"])
        .arg(&log_file)
        .arg("--out")
        .arg(&from_logs)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(read(&from_logs).kinds, merged.kinds);

    // a missing segment fails the merge and says which
    let o = merge(&[seg_refs[0], seg_refs[2]], &dir.join("partial"));
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("missing segment 1 of 3"), "{}", text(&o));
    assert!(!dir.join("partial/results.json").exists());
    // so does one given twice, and a folder without results
    let o = merge(&[seg_refs[0], seg_refs[0], seg_refs[1]], &dir.join("twice"));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("segment 0/3 is given twice"),
        "{}",
        text(&o)
    );
    let o = merge(&[&dir.join("nowhere")], &dir.join("none"));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("nowhere"), "{}", text(&o));
    mocks.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_loop_segments_share_vus_and_iterations() {
    let mocks = RunningMocks::start(start_mocks()).await.unwrap();
    let target = mocks.url("openai").unwrap();
    let dir = temp_dir("closed");
    for (name, load, total) in [
        (
            "pervu",
            "executor = \"per-vu-iterations\"\nvus = 5\niterations = 8",
            40,
        ),
        (
            "shared",
            "executor = \"shared-iterations\"\nvus = 4\niterations = 37",
            37,
        ),
    ] {
        let sub = dir.join(name);
        std::fs::create_dir_all(&sub).unwrap();
        // a threshold the whole load fails: the merge must say so with exit 1
        let file = scenario(&sub, name, load, "requests = \"count > 1000\"");
        let (whole, segments, _) = run_all(&sub, &file, &target, 2).await;
        let single = read(&whole);
        assert_eq!(single.totals.sent, total, "{name}");
        let seg_refs: Vec<&Path> = segments.iter().map(PathBuf::as_path).collect();
        let merged_dir = sub.join("merged");
        let o = merge(&seg_refs, &merged_dir);
        assert_eq!(o.status.code(), Some(1), "{name}: {}", text(&o));
        let merged = read(&merged_dir);
        assert_eq!(count_threshold(&merged).value, Some(total as f64), "{name}");
        assert!(!count_threshold(&merged).passed);
        // the union of the segments sent what the whole run sent
        assert_eq!(sent(&merged, false), sent(&single, false), "{name}");
    }
    // segments of different loads never merge
    let o = merge(
        &[&dir.join("pervu/seg0"), &dir.join("shared/seg1")],
        &dir.join("mixed"),
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("ran another load"), "{}", text(&o));
    mocks.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_segments_are_usage_errors() {
    let dir = temp_dir("badseg");
    let file = scenario(
        &dir,
        "bad",
        "executor = \"shared-iterations\"\nvus = 1\niterations = 1",
        "",
    );
    for (bad, says) in [
        ("3/2", "must be below 2"),
        ("0/0", "at least 1"),
        ("x", "is not INDEX/COUNT"),
    ] {
        let o = gatebench()
            .arg("run")
            .arg(&file)
            .args(["--segment", bad, "--target", "http://127.0.0.1:9"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{bad}: {}", text(&o));
        assert!(text(&o).contains(says), "{bad}: {}", text(&o));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn corrupt_segment_results_are_refused_by_file_and_field() {
    let dir = temp_dir("corrupt");
    let file = scenario(
        &dir,
        "corrupt",
        "executor = \"shared-iterations\"\nvus = 1\niterations = 2",
        "",
    );
    let sound: Vec<serde_json::Value> = (0..2)
        .map(|i| {
            let out = dir.join(format!("seg{i}"));
            let o = gatebench()
                .arg("run")
                .arg(&file)
                .args(["--segment", &format!("{i}/2"), "--time-scale", "0"])
                .args(["--quiet", "--out"])
                .arg(&out)
                .output()
                .unwrap();
            assert_eq!(o.status.code(), Some(0), "{}", text(&o));
            let text = std::fs::read_to_string(out.join("results.json")).unwrap();
            serde_json::from_str(&text).unwrap()
        })
        .collect();
    type Corrupt = fn(&mut serde_json::Value);
    let cases: [(&str, usize, Corrupt, &str); 6] = [
        (
            "counts",
            1,
            |r| {
                r["kinds"]["embed"]["dropped"] = 1.into();
                r["kinds"]["story"]["dropped"] = u64::MAX.into();
            },
            "the counts or costs of `story` add past what any run has (2^64 requests, 7.9e28 USD)",
        ),
        (
            "long",
            1,
            |r| r["duration_s"] = 1e308.into(),
            "`duration_s` is 1e308",
        ),
        (
            "planned",
            0,
            |r| r["planned_duration_s"] = 1e308.into(),
            "`planned_duration_s` is 1e308",
        ),
        (
            "negative",
            1,
            |r| r["duration_s"] = (-2.5).into(),
            "`duration_s` is -2.5",
        ),
        (
            "beyond",
            0,
            |r| r["segment"]["index"] = 7.into(),
            "segment 7/2 is not a segment: its index counts from 0 and must be below its count",
        ),
        (
            "zero",
            0,
            |r| {
                r["segment"]["index"] = 0.into();
                r["segment"]["count"] = 0.into();
            },
            "segment 0/0 is not a segment: its count must be at least 1",
        ),
    ];
    for (name, which, corrupt, says) in cases {
        let inputs: Vec<PathBuf> = sound
            .iter()
            .enumerate()
            .map(|(i, results)| {
                let mut results = results.clone();
                if i == which {
                    corrupt(&mut results);
                }
                let input = dir.join(format!("{name}{i}"));
                std::fs::create_dir_all(&input).unwrap();
                std::fs::write(input.join("results.json"), results.to_string()).unwrap();
                input
            })
            .collect();
        let refs: Vec<&Path> = inputs.iter().map(PathBuf::as_path).collect();
        let o = merge(&refs, &dir.join(format!("{name}-merged")));
        assert_eq!(o.status.code(), Some(2), "{name}: {}", text(&o));
        let file = inputs[which].join("results.json");
        assert!(
            text(&o).contains(&format!("{}: {says}", file.display())),
            "{name}: {}",
            text(&o)
        );
    }
    // both copies claiming the same impossible segment: that segment is named, not
    // a difference of splits
    let mut both = sound[0].clone();
    both["segment"]["index"] = 7.into();
    let inputs: Vec<PathBuf> = (0..2)
        .map(|i| {
            let input = dir.join(format!("twice{i}"));
            std::fs::create_dir_all(&input).unwrap();
            std::fs::write(input.join("results.json"), both.to_string()).unwrap();
            input
        })
        .collect();
    let refs: Vec<&Path> = inputs.iter().map(PathBuf::as_path).collect();
    let o = merge(&refs, &dir.join("twice-merged"));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("segment 7/2 is not a segment"),
        "{}",
        text(&o)
    );
    assert!(!text(&o).contains("different splits"), "{}", text(&o));
    let _ = std::fs::remove_dir_all(&dir);
}
