//! `gatebench scale` from the command line: bad steps and files it cannot step are
//! usage errors that say what is wrong; a short step test against the embedded
//! stack writes `scale.json`, `scale.md` and `scale.html`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::{temp_dir, text};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn gatebench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gatebench"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("the binary starts")
}

#[test]
fn bad_steps_are_usage_errors_that_name_the_flag() {
    for (steps, says) in [
        ("10,x", "`x` is not a number"),
        ("50,25", "must rise: 25 comes after 50"),
        ("0,10", "0 is not a load above 0"),
        ("2.5", "not a whole number of VUs"),
    ] {
        let o = gatebench(&[
            "scale",
            "scenarios/scale-personality.toml",
            "--mode",
            "concurrency",
            "--steps",
            steps,
        ]);
        assert_eq!(o.status.code(), Some(2), "{steps}: {}", text(&o));
        let t = text(&o);
        assert!(t.contains("--steps") && t.contains(says), "{steps}: {t}");
        assert!(!t.contains("panicked"), "{t}");
    }
    let o = gatebench(&[
        "scale",
        "scenarios/scale-personality.toml",
        "--mode",
        "sideways",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("unknown mode `sideways`"), "{}", text(&o));
}

/// Loads no driver runs, steps too short to measure and a `--max-load` with no
/// room above the steps are refused before any step runs.
#[test]
fn loads_beyond_the_driver_and_steps_too_short_to_measure_are_usage_errors() {
    for (extra, says) in [
        (
            &["--mode", "concurrency", "--steps", "4294967296"][..],
            "--steps: 4294967296 is more than one driver runs (at most 1000000 VUs)",
        ),
        (
            &["--mode", "rate", "--steps", "1e308"][..],
            "--steps: 1e308 is more than one driver runs (at most 10000000 requests a second)",
        ),
        (
            &["--mode", "rate", "--steps", "5", "--step-duration", "1ms"][..],
            "--step-duration must be at least 1s",
        ),
        (
            &[
                "--mode",
                "rate",
                "--steps",
                "5,10",
                "--until-break",
                "--max-load",
                "0",
            ][..],
            "--max-load must be above the last step (10)",
        ),
        (
            &["--mode", "rate", "--steps", "5", "--slo-p95", "0s"][..],
            "must be above zero",
        ),
    ] {
        let mut args = vec!["scale", "scenarios/scale-personality.toml"];
        args.extend(extra);
        let o = gatebench(&args);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {t}");
        assert!(t.contains(says), "{extra:?}: {t}");
        assert!(
            !t.contains("calibrat") && !t.contains("step 1"),
            "nothing ran: {t}"
        );
    }
}

#[test]
fn a_file_of_several_scenarios_is_refused_by_name() {
    let dir = temp_dir("multi");
    let profiles = repo().join("fixtures/personality/profiles.toml");
    let file = dir.join("two.toml");
    let request = |name: &str| {
        format!(
            "[scenarios.{name}.load]\nexecutor = \"constant-vus\"\nvus = 1\nduration = \"1s\"\n[[scenarios.{name}.requests]]\nname = \"{name}\"\nkind = \"personality\"\nprofiles = \"{}\"\n",
            profiles.display()
        )
    };
    std::fs::write(&file, format!("{}{}", request("a"), request("b"))).unwrap();
    let o = gatebench(&["scale", file.to_str().unwrap(), "--steps", "1,2"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("this file has 2"), "{}", text(&o));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_short_step_test_writes_its_findings() {
    let dir = temp_dir("embedded");
    let o = gatebench(&[
        "scale",
        "scenarios/scale-personality.toml",
        "--mode",
        "concurrency",
        "--steps",
        "1,2",
        "--step-duration",
        "1s",
        "--time-scale",
        "0.1",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("scale.json")).unwrap()).unwrap();
    let steps = json["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2, "{json}");
    assert_eq!(steps[0]["load"], 1.0);
    assert!(steps[0]["throughput"].as_f64().unwrap() > 0.0, "{json}");
    assert_eq!(json["mode"], "concurrency");
    assert_eq!(json["time_scale"], 0.1);
    for key in ["linear_until", "breaking_point", "reason"] {
        assert!(json.get(key).is_some(), "{key}: {json}");
    }
    let html = std::fs::read_to_string(dir.join("scale.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("Successful throughput per step"));
    assert!(dir.join("scale.md").exists());
    assert!(text(&o).contains("linear until"), "{}", text(&o));
    let _ = std::fs::remove_dir_all(&dir);
}
