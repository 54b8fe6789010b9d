//! `report.json` against its published schema.

mod common;

use gatebench_report::{REPORT_SCHEMA, to_json};
use serde_json::Value;

fn violations(instance: &Value) -> Vec<String> {
    let schema: Value = serde_json::from_str(REPORT_SCHEMA).unwrap();
    let validator = jsonschema::draft202012::new(&schema).unwrap();
    validator
        .iter_errors(instance)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

fn report_value() -> Value {
    serde_json::from_str(&to_json(&common::focused_report()).unwrap()).unwrap()
}

#[test]
fn a_realistic_report_validates() {
    let errors = violations(&report_value());
    assert!(errors.is_empty(), "schema violations: {errors:#?}");
    let ready: Value = serde_json::to_value(common::ready_report()).unwrap();
    assert!(violations(&ready).is_empty());
}

#[test]
fn reports_missing_a_required_field_are_rejected() {
    for field in [
        "verdict",
        "checks",
        "recommendations",
        "runs",
        "environment",
        "seed",
        "versions",
    ] {
        let mut v = report_value();
        v.as_object_mut().unwrap().remove(field);
        assert!(
            !violations(&v).is_empty(),
            "a report without `{field}` validated"
        );
    }
    for field in [
        "name", "severity", "target", "measured", "passed", "evidence",
    ] {
        let mut v = report_value();
        v["checks"][0].as_object_mut().unwrap().remove(field);
        assert!(
            !violations(&v).is_empty(),
            "a check without `{field}` validated"
        );
    }
    for field in ["totals", "kinds"] {
        let mut v = report_value();
        let run = v["runs"]
            .as_object_mut()
            .unwrap()
            .values_mut()
            .next()
            .unwrap();
        run.as_object_mut().unwrap().remove(field);
        assert!(
            !violations(&v).is_empty(),
            "a run without `{field}` validated"
        );
    }
}

#[test]
fn wrong_values_are_rejected() {
    let mut v = report_value();
    v["verdict"] = "MAYBE".into();
    assert!(!violations(&v).is_empty());
    let mut v = report_value();
    v["checks"][0]["severity"] = "blocker".into();
    assert!(!violations(&v).is_empty());
    // READY with a failed critical check contradicts the verdict rule
    let mut v = report_value();
    v["verdict"] = "READY".into();
    let errors = violations(&v);
    assert!(
        !errors.is_empty(),
        "a READY report with failed critical checks validated"
    );
    // an unknown top-level field means the schema and the model drifted apart
    let mut v = report_value();
    v["extra"] = 1.into();
    assert!(!violations(&v).is_empty());
}
