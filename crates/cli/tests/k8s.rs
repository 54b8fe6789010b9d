//! `gatebench k8s`: the manifests parse as YAML, the Job runs one segment per
//! completion index, and the ConfigMap's files laid out as the pod mounts them make
//! a scenario that loads. `manifests_validate_against_the_kubernetes_schemas` checks
//! them with the PyPI package `kubernetes-validate` (ignored by default: a
//! third-party tool; `pip install kubernetes-validate`, then `cargo test -p gatebench
//! --test k8s -- --ignored`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde::Deserialize as _;
use serde_json::Value;

mod common;
use common::{temp_dir, text};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn k8s(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gatebench"))
        .arg("k8s")
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap()
}

fn documents(yaml: &str) -> Vec<Value> {
    serde_norway::Deserializer::from_str(yaml)
        .map(|d| Value::deserialize(d).unwrap())
        .collect()
}

#[test]
fn an_indexed_job_runs_one_segment_per_pod() {
    let o = k8s(&[
        "scenarios/light.toml",
        "--parallelism",
        "4",
        "--target",
        "http://gateway:8700",
        "--with-mocks",
        "2",
        "--mock-time-scale",
        "0.1",
        "--image",
        "registry.example.com/gatebench:1",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let yaml = String::from_utf8(o.stdout).unwrap();
    assert!(yaml.contains("gatebench merge --from-logs"), "{yaml}");
    let docs = documents(&yaml);
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["ConfigMap", "Deployment", "Service", "Job"]);

    let job = &docs[3]["spec"];
    assert_eq!(job["completionMode"], "Indexed");
    assert_eq!(job["completions"], 4);
    assert_eq!(job["parallelism"], 4);
    assert_eq!(job["backoffLimit"], 0);
    let pod = &job["template"]["spec"];
    let args: Vec<&str> = pod["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let after = |flag: &str| args[args.iter().position(|a| *a == flag).unwrap() + 1];
    assert_eq!(after("--segment"), "$(JOB_COMPLETION_INDEX)/4");
    assert_eq!(after("--target"), "http://gateway:8700");
    // the load meets the deployed mocks: the segments judge real time
    assert_eq!(after("--time-scale"), "0.1");
    assert!(args.contains(&"--print-results"));
    assert_eq!(docs[1]["spec"]["replicas"], 2);

    // the ConfigMap's files, where the pod mounts them, make a scenario that loads
    let dir = temp_dir("mount");
    let data = docs[0]["data"].as_object().unwrap();
    for item in pod["volumes"][0]["configMap"]["items"].as_array().unwrap() {
        let path = dir.join(item["path"].as_str().unwrap());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, data[item["key"].as_str().unwrap()].as_str().unwrap()).unwrap();
    }
    let mounted = gatebench_driver::ScenarioFile::load(dir.join("scenario.toml")).unwrap();
    let original =
        gatebench_driver::ScenarioFile::load(repo().join("scenarios/light.toml")).unwrap();
    assert_eq!(mounted.name, original.name);
    let entries = |f: &gatebench_driver::ScenarioFile| -> Vec<usize> {
        f.scenarios
            .iter()
            .flat_map(|s| &s.requests)
            .map(|r| r.catalog.as_ref().map_or(0, |c| c.entries.len()))
            .collect()
    };
    assert_eq!(entries(&mounted), entries(&original));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The strings of a pod's container's `args`.
fn pod_args(job: &Value) -> Vec<String> {
    job["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_suite_check_runs_as_segments_and_is_judged_on_the_merge() {
    let o = k8s(&[
        "--suite",
        "focused",
        "--check",
        "concurrent_handling",
        "--parallelism",
        "3",
        "--seed",
        "9",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let yaml = String::from_utf8(o.stdout).unwrap();
    assert!(
        yaml.contains("gatebench suite focused --check concurrent_handling --from-logs gatebench-focused-concurrent-handling.log"),
        "{yaml}"
    );
    let docs = documents(&yaml);
    // the pods read the suite in the image: nothing to ship
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["Job"]);
    assert_eq!(
        docs[0]["metadata"]["name"],
        "gatebench-focused-concurrent-handling"
    );
    assert_eq!(docs[0]["spec"]["backoffLimit"], 0);
    assert!(docs[0]["spec"]["template"]["spec"]["volumes"].is_null());
    let args = pod_args(&docs[0]);
    assert_eq!(
        args[..4],
        ["suite", "focused", "--check", "concurrent_handling"]
    );
    let after = |flag: &str| args[args.iter().position(|a| a == flag).unwrap() + 1].clone();
    assert_eq!(after("--segment"), "$(JOB_COMPLETION_INDEX)/3");
    assert_eq!(after("--seed"), "9");
    assert!(args.iter().any(|a| a == "--print-results"));
    assert!(!args.iter().any(|a| a == "--target"), "a stack per pod");

    // against a gateway that uses the deployed mocks: the pods read their books,
    // behind the token of the Secret the header creates
    let o = k8s(&[
        "--suite",
        "comprehensive",
        "--check",
        "usage_accuracy",
        "--parallelism",
        "2",
        "--target",
        "http://gateway:8700",
        "--with-mocks",
        "1",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let yaml = String::from_utf8(o.stdout).unwrap();
    let base = "gatebench-comprehensive-usage-accuracy";
    assert!(
        yaml.contains(&format!("kubectl create secret generic {base}-admin")),
        "{yaml}"
    );
    let docs = documents(&yaml);
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["Deployment", "Service", "Job"]);
    let args = pod_args(&docs[2]);
    let after = |flag: &str| args[args.iter().position(|a| a == flag).unwrap() + 1].clone();
    assert_eq!(after("--target"), "http://gateway:8700");
    assert_eq!(after("--mocks"), format!("http://{base}-mocks:8701"));
    for container in [
        &docs[0]["spec"]["template"]["spec"]["containers"][0],
        &docs[2]["spec"]["template"]["spec"]["containers"][0],
    ] {
        let token = container["env"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == "GATEBENCH_ADMIN_TOKEN")
            .unwrap_or_else(|| panic!("{container}"));
        assert_eq!(
            token["valueFrom"]["secretKeyRef"]["name"],
            format!("{base}-admin")
        );
    }
}

#[test]
fn suite_checks_that_cannot_be_split_or_judged_are_refused() {
    let refused = |args: &[&str], says: &str| {
        let o = k8s(args);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert!(text(&o).contains(says), "{}", text(&o));
    };
    let check = |name: &'static str| ["--suite", "focused", "--check", name, "--parallelism", "2"];
    refused(
        &check("queue_performance"),
        "check `queue_performance` cannot run as segments: it judges the order",
    );
    refused(&check("nope"), "has no check `nope`");
    let mut with = check("concurrent_handling").to_vec();
    with.extend(["--target", "http://gw:8700", "--with-mocks", "2"]);
    refused(&with, "each mock replica keeps its own");
    refused(&["--suite", "focused", "--parallelism", "2"], "--check");
}

#[test]
fn bad_requests_are_refused() {
    // the OpenAI mock alone cannot serve speech: a gateway must be named
    let o = k8s(&[
        "scenarios/light.toml",
        "--parallelism",
        "2",
        "--with-mocks",
        "1",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("name --target"), "{}", text(&o));
    let o = k8s(&["scenarios/light.toml", "--parallelism", "0"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = k8s(&["scenarios/nowhere.toml", "--parallelism", "2"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("nowhere.toml"), "{}", text(&o));
}

#[test]
fn flags_kubernetes_or_the_pods_would_reject_are_refused_before_any_yaml() {
    let long = "a".repeat(41);
    for (flag, value, says) in [
        (
            "--namespace",
            "a b",
            "--namespace `a b` is not a Kubernetes namespace name",
        ),
        ("--namespace", "Load", "--namespace `Load`"),
        ("--namespace", "load-", "--namespace `load-`"),
        (
            "--image",
            "",
            "--image `` is not a container image reference",
        ),
        ("--image", "gatebench 1", "--image `gatebench 1`"),
        ("--target", "", "--target: `` is not a valid base URL"),
        (
            "--target",
            "http://x:99999",
            "--target: `http://x:99999` is not a valid base URL: `99999` is not a port (1 to 65535)",
        ),
        (
            "--target",
            "gateway:8700",
            "--target: `gateway:8700` is not a valid base URL",
        ),
        ("--duration", "0s", "--duration 0s: must be above zero"),
        ("--name", "a b", "--name `a b` is not a name"),
        ("--name", "9lives", "--name `9lives`"),
        ("--name", &long, "at most 40"),
    ] {
        let o = k8s(&["scenarios/light.toml", "--parallelism", "2", flag, value]);
        assert_eq!(o.status.code(), Some(2), "{flag} {value:?}: {}", text(&o));
        assert!(o.stdout.is_empty(), "{flag} {value:?}: {}", text(&o));
        assert!(text(&o).contains(says), "{flag} {value:?}: {}", text(&o));
    }
    // a suite check's Job takes the same flags
    let o = k8s(&[
        "--suite",
        "focused",
        "--check",
        "concurrent_handling",
        "--parallelism",
        "2",
        "--namespace",
        "a b",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(o.stdout.is_empty(), "{}", text(&o));
    // names that are fine pass as they are
    let o = k8s(&[
        "scenarios/light.toml",
        "--parallelism",
        "2",
        "--namespace",
        "load-2",
        "--name",
        "story-mix-2",
        "--duration",
        "30s",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let docs = documents(&String::from_utf8(o.stdout).unwrap());
    let job = docs.last().unwrap();
    assert_eq!(job["metadata"]["name"], "story-mix-2");
    assert_eq!(job["metadata"]["namespace"], "load-2");
}

#[test]
#[ignore = "needs the PyPI package kubernetes-validate"]
fn manifests_validate_against_the_kubernetes_schemas() {
    let dir = temp_dir("validate");
    for (name, args) in [
        (
            "gateway",
            &[
                "scenarios/story-mix.toml",
                "--parallelism",
                "8",
                "--target",
                "http://gateway:8700",
                "--with-mocks",
                "3",
                "--namespace",
                "load",
            ][..],
        ),
        (
            "mocks",
            &[
                "scenarios/aiaas-api.toml",
                "--parallelism",
                "2",
                "--with-mocks",
                "1",
            ][..],
        ),
        (
            "embedded",
            &["scenarios/light.toml", "--parallelism", "1"][..],
        ),
        (
            "suite-check",
            &[
                "--suite",
                "comprehensive",
                "--check",
                "usage_accuracy",
                "--parallelism",
                "4",
                "--target",
                "http://gateway:8700",
                "--with-mocks",
                "1",
            ][..],
        ),
    ] {
        let o = k8s(args);
        assert_eq!(o.status.code(), Some(0), "{name}: {}", text(&o));
        let file = dir.join(format!("{name}.yaml"));
        std::fs::write(&file, &o.stdout).unwrap();
        let v = Command::new("kubernetes-validate")
            .arg("--strict")
            .arg(&file)
            .output()
            .expect("kubernetes-validate is installed (pip install kubernetes-validate)");
        assert!(v.status.success(), "{name}: {}", text(&v));
    }
    let _ = std::fs::remove_dir_all(&dir);
}
