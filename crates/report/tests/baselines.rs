//! Baselines in SQLite: save, list, load, overwrite, delete, and bad inputs.

mod common;

use gatebench_report::{BaselineError, BaselineStore, Verdict, write_all};

#[test]
fn save_list_load_overwrite_delete_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("reports/nested/baselines.db");
    let store = BaselineStore::open(&db).unwrap();
    assert!(store.list().unwrap().is_empty());

    let failing = common::focused_report();
    let info = store.save("main", &failing).unwrap();
    assert_eq!((info.checks_passed, info.checks_total), (3, 6));
    assert_eq!(info.verdict, "NOT READY");
    let mut big_seed = common::ready_report();
    big_seed.seed = u64::MAX;
    store.save("release-1.2", &big_seed).unwrap();

    let list = store.list().unwrap();
    let names: Vec<&str> = list.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["main", "release-1.2"]);
    assert_eq!(list[1].seed, u64::MAX);
    assert_eq!(list[1].suite, "focused");
    assert!(list[0].saved_at.ends_with('Z'), "{}", list[0].saved_at);
    assert_eq!(store.load("main").unwrap(), failing);
    assert_eq!(store.load("release-1.2").unwrap(), big_seed);

    // same name again: replaced, not duplicated
    let ready = common::ready_report();
    store.save("main", &ready).unwrap();
    let list = store.list().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].verdict, "READY");
    assert_eq!(store.load("main").unwrap().verdict, Verdict::Ready);

    // survives reopening
    drop(store);
    let store = BaselineStore::open(&db).unwrap();
    assert_eq!(store.load("main").unwrap(), ready);
    store.delete("main").unwrap();
    assert!(matches!(
        store.load("main"),
        Err(BaselineError::NotFound { .. })
    ));
    assert!(matches!(
        store.delete("main"),
        Err(BaselineError::NotFound { .. })
    ));
    assert_eq!(store.list().unwrap().len(), 1);
}

#[test]
fn save_dir_reads_the_report_folder() {
    let dir = tempfile::tempdir().unwrap();
    let report = common::focused_report();
    let out = dir.path().join("run-1");
    write_all(&report, &out).unwrap();
    let store = BaselineStore::open(&dir.path().join("b.db")).unwrap();
    store.save_dir("nightly", &out).unwrap();
    assert_eq!(store.load("nightly").unwrap(), report);

    let err = store
        .save_dir("nightly", &dir.path().join("nope"))
        .unwrap_err();
    assert!(err.to_string().contains("report.json"), "{err}");
    std::fs::write(out.join("report.json"), "{]").unwrap();
    let err = store.save_dir("nightly", &out).unwrap_err();
    assert!(
        err.to_string().contains("report.json")
            && err.to_string().contains("not a gatebench report"),
        "{err}"
    );
}

#[test]
fn unknown_names_and_foreign_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baselines.db");
    let store = BaselineStore::open(&db).unwrap();
    let err = store.load("nope").unwrap_err();
    assert!(
        err.to_string().contains("no baseline named `nope`")
            && err.to_string().contains("baselines.db"),
        "{err}"
    );
    assert!(matches!(
        store.save("  ", &common::focused_report()),
        Err(BaselineError::EmptyName)
    ));

    let text = dir.path().join("notes.db");
    std::fs::write(
        &text,
        "these are notes, not a database, and they are long enough to have a header".repeat(20),
    )
    .unwrap();
    let err = BaselineStore::open(&text).unwrap_err();
    assert!(matches!(err, BaselineError::NotADatabase { .. }), "{err:?}");
    assert!(err.to_string().contains("notes.db"), "{err}");
}

#[test]
fn a_baseline_holds_several_runs_of_one_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store = BaselineStore::open(&dir.path().join("b.db")).unwrap();
    let a = common::ready_report();
    let mut b = a.clone();
    b.seed = 7;
    let mut c = a.clone();
    c.seed = 8;
    let info = store
        .save_runs("main", &[a.clone(), b.clone(), c.clone()])
        .unwrap();
    assert_eq!(info.runs, 3);
    assert_eq!(store.list().unwrap()[0].runs, 3);
    assert_eq!(store.load_runs("main").unwrap(), vec![a.clone(), b, c]);
    assert_eq!(store.load("main").unwrap(), a);

    let mut other = a.clone();
    other.suite = "comprehensive".to_owned();
    assert!(matches!(
        store.save_runs("mixed", &[a, other]),
        Err(BaselineError::MixedSuites { .. })
    ));
    assert!(matches!(
        store.save_runs("none", &[]),
        Err(BaselineError::NoRuns)
    ));
}

#[test]
fn a_database_from_before_several_runs_still_opens() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("old.db");
    let report = common::ready_report();
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(
            "CREATE TABLE baselines (name TEXT PRIMARY KEY NOT NULL, saved_at TEXT NOT NULL,
             suite TEXT NOT NULL, verdict TEXT NOT NULL, seed TEXT NOT NULL,
             checks_passed INTEGER NOT NULL, checks_total INTEGER NOT NULL,
             report_schema INTEGER NOT NULL, report TEXT NOT NULL)",
        )
        .unwrap();
        conn.execute(
            "INSERT INTO baselines VALUES ('old', '2025-01-01T00:00:00Z', 'focused', 'READY', '42', 5, 5, 1, ?1)",
            [serde_json::to_string(&report).unwrap()],
        )
        .unwrap();
    }
    let store = BaselineStore::open(&db).unwrap();
    assert_eq!(store.load_runs("old").unwrap(), vec![report]);
    assert_eq!(store.list().unwrap()[0].runs, 1);
}
