//! Bad input to `gatebench suite`, `baseline` and `compare` is a usage error (exit 2)
//! found before anything runs or is written: a suite value the embedded stack could
//! not run with names the file, line and key; a run folder given twice is not saved
//! as two runs; a baseline database that does not exist is not created by reading.

use std::path::{Path, PathBuf};

mod common;
use common::{gatebench, temp_dir, text};

/// A suite file in `dir` with `top` among the suite's keys and `stack` as its one
/// check's `[check.stack]` table (starting on line 10).
fn write_suite(dir: &Path, top: &str, stack: &str) {
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios/suites/focused/cost.toml")
        .canonicalize()
        .unwrap();
    std::fs::write(
        dir.join("mine.toml"),
        format!(
            "name = \"mine\"\n{top}\n\n[[check]]\nname = \"cost\"\nseverity = \"major\"\nkind = \"cost\"\nscenario = {:?}\n\n[check.stack]\n{stack}\n",
            scenario.display().to_string()
        ),
    )
    .unwrap();
}

#[test]
fn values_the_stack_cannot_run_with_are_refused_before_anything_runs() {
    let dir = temp_dir("values");
    for (top, stack, line, key) in [
        ("time_scale = 1e-300", "", "line 2", "time_scale: "),
        ("", "time_scale = -5", "line 11", "stack.time_scale: "),
        (
            "",
            "cache_threshold = nan",
            "line 11",
            "stack.cache_threshold: ",
        ),
        (
            "",
            "concurrency = { openai = 0 }",
            "line 11",
            "stack.concurrency.openai: ",
        ),
    ] {
        write_suite(&dir, top, stack);
        let o = gatebench(&["suite", "mine.toml", "--quiet", "--out", "out"], &dir);
        let all = text(&o);
        assert_eq!(o.status.code(), Some(2), "{top}{stack}: {all}");
        assert!(
            all.contains("mine.toml") && all.contains(line) && all.contains(key),
            "{top}{stack}: {all}"
        );
        assert!(!all.contains("did not start"), "{all}");
        assert!(!dir.join("out").exists(), "{top}{stack}: nothing ran");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A report folder `name` in `dir` holding a report of a suite without checks.
fn write_report(dir: &Path, name: &str) -> PathBuf {
    let run = dir.join(name);
    std::fs::create_dir_all(&run).unwrap();
    std::fs::write(
        run.join("report.json"),
        format!(
            r#"{{"schema_version": {}, "suite": "mine", "verdict": "READY",
"started_at": "2026-01-01T00:00:00Z", "duration_s": 1.0, "seed": 42,
"target": {{"mode": "embedded", "url": "the embedded stack"}},
"environment": {{"os": "Linux", "arch": "x86_64", "cpus": 2, "memory_bytes": 1, "hostname": "h"}},
"versions": {{}}, "checks": [], "recommendations": [], "runs": {{}}, "charts": []}}"#,
            gatebench_report::SCHEMA_VERSION
        ),
    )
    .unwrap();
    run
}

#[test]
fn a_run_folder_given_twice_is_not_saved_as_two_runs() {
    let dir = temp_dir("twice");
    write_report(&dir, "run");
    write_report(&dir, "other");
    for second in ["run", "./run", "other/../run"] {
        let o = gatebench(
            &[
                "baseline", "save", "--db", "b.db", "--name", "b4", "run", second,
            ],
            &dir,
        );
        let all = text(&o);
        assert_eq!(o.status.code(), Some(2), "{second}: {all}");
        assert!(all.contains("given twice"), "{second}: {all}");
        assert!(!dir.join("b.db").exists(), "{second}: nothing saved");
    }
    let o = gatebench(
        &[
            "baseline", "save", "--db", "b.db", "--name", "b4", "run", "other",
        ],
        &dir,
    );
    let all = text(&o);
    assert_eq!(o.status.code(), Some(0), "{all}");
    assert!(all.contains("2 runs"), "{all}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn reading_a_missing_baseline_database_creates_nothing() {
    let dir = temp_dir("nodb");
    write_report(&dir, "run");
    let db = "nowhere/x.db";
    for args in [
        &["compare", "--db", db, "--baseline", "b1", "run"][..],
        &[
            "suite",
            "focused",
            "--db",
            db,
            "--baseline",
            "b1",
            "--quiet",
        ],
        &["baseline", "delete", "b1", "--db", db],
    ] {
        let o = gatebench(args, &dir);
        let all = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {all}");
        assert!(
            all.contains("no baseline database at nowhere"),
            "{args:?}: {all}"
        );
        assert!(
            !dir.join("nowhere").exists(),
            "{args:?}: created the database"
        );
        assert!(!dir.join("reports").exists(), "{args:?}: ran the suite");
    }
    // listing a database that is not there lists nothing, and creates nothing
    let list = gatebench(&["baseline", "list", "--db", db], &dir);
    assert_eq!(list.status.code(), Some(0), "{}", text(&list));
    assert!(
        !dir.join("nowhere").exists(),
        "listing created the database"
    );
    // saving creates it, and then it reads
    let save = gatebench(
        &["baseline", "save", "--db", db, "--name", "b1", "run"],
        &dir,
    );
    assert_eq!(save.status.code(), Some(0), "{}", text(&save));
    let compare = gatebench(&["compare", "--db", db, "--baseline", "b1", "run"], &dir);
    let all = text(&compare);
    assert!(!all.contains("no baseline database"), "{all}");
    assert!(!all.contains("no baseline named"), "{all}");
    let _ = std::fs::remove_dir_all(&dir);
}
