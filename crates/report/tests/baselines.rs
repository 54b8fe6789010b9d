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
