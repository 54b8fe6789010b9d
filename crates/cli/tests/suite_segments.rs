//! A suite check run as execution segments end to end: N `gatebench suite FILE
//! --check NAME --segment I/N` processes, merged by `gatebench suite FILE --check
//! NAME --merge`, give the verdict and the request counts of one `gatebench suite
//! FILE --check NAME` process — each segment on its own embedded stack, and all of
//! them against one shared gateway and mock fleet (the truth's windows overlap and
//! each call counts once). A missing segment fails the merge; checks that cannot
//! be split are refused, naming the check and why.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

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

/// A suite of a burst (concurrency), a load check of two patterns, and a usage
/// check judged by the mocks' books, at time scale 0.05; every answer fresh from
/// upstream (`no-cache`), so that two runs against one gateway see the same.
fn suite(dir: &Path) -> PathBuf {
    let scenario = |name: &str, load: &str| {
        std::fs::write(
            dir.join(format!("{name}.toml")),
            format!(
                r#"name = "{name}"
seed = 7
[load]
{load}
[[requests]]
name = "story"
kind = "chat"
model = "gpt-4o-mini"
max_tokens = 24
api_key = "gb-alpha-dev"
prompts = "{stories}"
headers = {{ "x-gatebench-cache" = "no-cache" }}
weight = 3
[[requests]]
name = "story_stream"
kind = "chat"
stream = true
include_usage = true
model = "gpt-4o-mini"
max_tokens = 24
api_key = "gb-alpha-dev"
prompts = "{support}"
headers = {{ "x-gatebench-cache" = "no-cache" }}
weight = 2
[[requests]]
name = "embed"
kind = "embeddings"
model = "text-embedding-3-small"
api_key = "gb-alpha-dev"
prompts = "{support}"
headers = {{ "x-gatebench-cache" = "no-cache" }}
weight = 1
"#,
                stories = catalog("prompts/stories.toml"),
                support = catalog("prompts/support.toml"),
            ),
        )
        .unwrap();
    };
    scenario(
        "burst",
        "executor = \"shared-iterations\"\nvus = 12\niterations = 36\nmax_duration = \"1m\"",
    );
    scenario(
        "steady",
        "executor = \"constant-arrival-rate\"\nrate = 40\nduration = \"1s\"\nmax_vus = 40",
    );
    scenario(
        "usage",
        "executor = \"shared-iterations\"\nvus = 6\niterations = 30\nmax_duration = \"1m\"",
    );
    let path = dir.join("suite.toml");
    std::fs::write(
        &path,
        r#"name = "segmented"
seed = 7
time_scale = 0.05

[[check]]
name = "burst"
severity = "major"
kind = "concurrency"
scenario = "burst.toml"
[check.targets]
success_rate_min = 99.0
p95_ms_max = 60000.0
lost_max = 0

[[check]]
name = "patterns"
severity = "major"
kind = "load"
[[check.pattern]]
name = "steady"
scenario = "steady.toml"
p95_ms_max = 60000.0
error_rate_max = 1.0
[[check.pattern]]
name = "burst"
scenario = "burst.toml"
p95_ms_max = 60000.0
error_rate_max = 1.0

[[check]]
name = "usage"
severity = "critical"
kind = "usage"
scenario = "usage.toml"

[[check]]
name = "queue"
severity = "major"
kind = "queue"
scenario = "burst.toml"
"#,
    )
    .unwrap();
    path
}

fn report(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("report.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Requests sent, succeeded, failed and dropped by each of the report's runs, by
/// run name.
fn sent(report: &Value) -> Vec<(String, [u64; 4])> {
    report["runs"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, run)| {
            let n = |k: &str| run["totals"][k].as_u64().unwrap();
            (
                name.clone(),
                [n("sent"), n("ok"), n("failed"), n("dropped")],
            )
        })
        .collect()
}

fn verdict(report: &Value) -> (String, Vec<(String, bool)>) {
    (
        report["verdict"].as_str().unwrap().to_owned(),
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().unwrap().to_owned(),
                    c["passed"].as_bool().unwrap(),
                )
            })
            .collect(),
    )
}

/// `gatebench suite FILE --check CHECK` with `extra` arguments, to `out`.
fn check_cmd(suite: &Path, check: &str, out: &Path, extra: &[&str]) -> Command {
    let mut c = gatebench();
    c.arg("suite")
        .arg(suite)
        .args(["--check", check, "--quiet", "--out"])
        .arg(out)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Runs the whole check and its `n` segments side by side, then merges the
/// segments; returns the whole check's output, the merge's, and the folders.
async fn whole_and_merged(
    dir: &Path,
    suite: &Path,
    check: &str,
    n: u32,
    target: &[&str],
) -> (Output, Output, PathBuf, PathBuf, Vec<PathBuf>) {
    let whole = dir.join(format!("{check}-whole"));
    let single = check_cmd(suite, check, &whole, target).spawn().unwrap();
    let segments: Vec<PathBuf> = (0..n)
        .map(|i| dir.join(format!("{check}-seg{i}")))
        .collect();
    let children: Vec<_> = segments
        .iter()
        .enumerate()
        .map(|(i, out)| {
            let segment = format!("{i}/{n}");
            let mut args = vec!["--segment", segment.as_str()];
            args.extend_from_slice(target);
            check_cmd(suite, check, out, &args).spawn().unwrap()
        })
        .collect();
    let (single, segs) = tokio::task::spawn_blocking(move || {
        let single = single.wait_with_output().unwrap();
        let segs: Vec<Output> = children
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect();
        (single, segs)
    })
    .await
    .unwrap();
    for s in &segs {
        assert_eq!(s.status.code(), Some(0), "a segment ran: {}", text(s));
    }
    let merged = dir.join(format!("{check}-merged"));
    let mut merge = check_cmd(suite, check, &merged, &[]);
    merge.arg("--merge").args(&segments);
    let merge = merge.output().unwrap();
    (single, merge, whole, merged, segments)
}

fn assert_same_check(check: &str, single: &Output, merge: &Output, whole: &Path, merged: &Path) {
    assert!(
        matches!(single.status.code(), Some(0 | 1)),
        "{check} whole: {}",
        text(single)
    );
    assert_eq!(
        merge.status.code(),
        single.status.code(),
        "{check}: the merge's exit code is the whole check's\nwhole: {}\nmerge: {}",
        text(single),
        text(merge)
    );
    let (whole, merged) = (report(whole), report(merged));
    assert_eq!(verdict(&merged), verdict(&whole), "{check}: one verdict");
    assert_eq!(
        sent(&merged),
        sent(&whole),
        "{check}: the same requests in each run"
    );
    assert!(
        sent(&whole).iter().all(|(_, n)| n[0] > 0),
        "{check}: load sent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segments_on_their_own_stacks_merge_into_the_whole_check() {
    let dir = temp_dir("embedded");
    let suite = suite(&dir);
    for check in ["burst", "patterns", "usage"] {
        let (single, merge, whole, merged, segments) =
            whole_and_merged(&dir, &suite, check, 2, &[]).await;
        assert_same_check(check, &single, &merge, &whole, &merged);
        let verdict_of_usage = report(&merged);
        if check == "usage" {
            // judged by the truth: each segment's own mocks, their calls added
            let criteria = &verdict_of_usage["checks"][0]["criteria"][0];
            assert_eq!(criteria["passed"], true, "{criteria}");
        }

        if check == "burst" {
            // a missing segment fails the merge, naming it
            let partial = dir.join("partial");
            let mut c = check_cmd(&suite, check, &partial, &[]);
            let o = c.arg("--merge").arg(&segments[0]).output().unwrap();
            assert_eq!(o.status.code(), Some(1), "{}", text(&o));
            assert!(text(&o).contains("missing segment 1 of 2"), "{}", text(&o));
            assert!(!partial.join("report.json").exists());
            // a segment folder without its results: that segment failed
            let failed = dir.join("failed-seg");
            std::fs::create_dir_all(&failed).unwrap();
            let mut c = check_cmd(&suite, check, &partial, &[]);
            let o = c
                .arg("--merge")
                .arg(&segments[0])
                .arg(&failed)
                .output()
                .unwrap();
            assert_eq!(o.status.code(), Some(1), "{}", text(&o));
            assert!(text(&o).contains("did not finish"), "{}", text(&o));
            // `gatebench merge` points a suite check's segments to the suite's merge
            let o = gatebench()
                .arg("merge")
                .args(&segments)
                .arg("--out")
                .arg(&partial)
                .output()
                .unwrap();
            assert_eq!(o.status.code(), Some(2), "{}", text(&o));
            assert!(text(&o).contains("--check NAME --merge"), "{}", text(&o));
            // segments of another check are not this check's
            let mut c = check_cmd(&suite, "usage", &partial, &[]);
            let o = c.arg("--merge").args(&segments).output().unwrap();
            assert_eq!(o.status.code(), Some(2), "{}", text(&o));
            assert!(text(&o).contains("not `usage`"), "{}", text(&o));
            // the segments drew from their own seed: another cannot apply
            let mut c = check_cmd(&suite, check, &partial, &[]);
            let o = c
                .args(["--seed", "9", "--merge"])
                .args(&segments)
                .output()
                .unwrap();
            assert_eq!(o.status.code(), Some(2), "{}", text(&o));
            assert!(text(&o).contains("--seed"), "{}", text(&o));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segments_against_one_shared_fleet_count_each_call_once() {
    let dir = temp_dir("shared");
    let suite = suite(&dir);
    let mut options = gatebench_stack::StackOptions::ephemeral(7, 0.05);
    options.ledger = dir.join("ledger.db").display().to_string();
    let stack = gatebench_stack::Stack::start(options).await.unwrap();
    let gateway = stack.gateway_url();
    let mocks = stack
        .mock_urls()
        .into_iter()
        .find(|(name, _)| *name == "openai")
        .unwrap()
        .1;
    let target = ["--target", gateway.as_str(), "--mocks", mocks.as_str()];
    let (single, merge, whole, merged, segments) =
        whole_and_merged(&dir, &suite, "usage", 2, &target).await;
    assert_same_check("usage", &single, &merge, &whole, &merged);
    let merged = report(&merged);
    let criterion = &merged["checks"][0]["criteria"][0];
    assert_eq!(criterion["passed"], true, "{criterion}");
    // each segment's window holds its own calls and whatever else the fleet served
    // meanwhile (the other segment's, the whole check's): the union holds each call
    // once, and every merged request is tied to its own calls
    let mut windows = 0;
    let mut distinct = std::collections::BTreeSet::new();
    for s in &segments {
        let doc: Value =
            serde_json::from_slice(&std::fs::read(s.join("segment.json")).unwrap()).unwrap();
        for call in doc["truth"]["calls"].as_array().unwrap() {
            windows += 1;
            distinct.insert((
                call["mock"].as_str().unwrap().to_owned(),
                call["id"].as_u64().unwrap(),
            ));
        }
    }
    let check = &merged["checks"][0]["evidence"];
    let truth = &check["details"]["truth"];
    let sent = sent(&merged)[0].1[0];
    assert_eq!(
        truth["upstream_calls"],
        distinct.len(),
        "{truth} ({windows} in the windows)"
    );
    assert_eq!(truth["attributed_by_forwarded_id"], sent, "{truth}");
    let summary = check["summary"].as_str().unwrap();
    assert!(
        summary.contains(&format!("{sent} answers reported usage")),
        "{summary}"
    );
    stack.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn checks_that_cannot_be_split_are_refused() {
    let dir = temp_dir("refused");
    let suite = suite(&dir);
    let o = check_cmd(&suite, "queue", &dir.join("q"), &["--segment", "0/2"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let said = text(&o);
    assert!(
        said.contains("check `queue` (queue) cannot run as segments: it judges the order"),
        "{said}"
    );
    assert!(!dir.join("q").join("segment.json").exists());

    let o = check_cmd(&suite, "nope", &dir.join("n"), &["--segment", "0/2"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("no check `nope` (its checks: burst, patterns, usage, queue)"),
        "{}",
        text(&o)
    );

    let o = gatebench()
        .args(["k8s", "--suite", "focused", "--check", "cache_efficiency"])
        .args(["--parallelism", "4"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("check `cache_efficiency` cannot run as segments"),
        "{}",
        text(&o)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
