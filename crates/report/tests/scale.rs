//! The step test's report: its charts and its renderings.

mod common;

use gatebench_analysis::ScaleReport;
use gatebench_report::{scale_charts, scale_console, write_scale};

#[test]
fn charts_mark_the_knee_and_the_breaking_point() {
    let charts = scale_charts(&common::scale_report());
    assert_eq!(charts.len(), 2);
    for chart in &charts {
        let names: Vec<&str> = chart.series.iter().map(|s| s.name.as_str()).collect();
        assert!(names.contains(&"knee: linear until 40 rps"), "{names:?}");
        assert!(names.contains(&"breaking point: 60 rps"), "{names:?}");
        let knee = chart
            .series
            .iter()
            .find(|s| s.name.starts_with("knee"))
            .unwrap();
        assert!(
            knee.points.iter().all(|p| p[0] == 40.0),
            "a vertical line at the knee"
        );
    }
    let throughput = &charts[0].series[0];
    assert_eq!(
        throughput.points,
        vec![[20.0, 20.0], [40.0, 40.0], [60.0, 47.0]]
    );
    let p95 = &charts[1].series[0];
    assert_eq!(p95.points[2], [60.0, 170.0]);
}

#[test]
fn every_rendering_says_what_was_found() {
    let dir = std::env::temp_dir().join(format!("gatebench-scale-report-{}", std::process::id()));
    let written = write_scale(&common::scale_report(), &dir).unwrap();
    let json: ScaleReport = serde_json::from_slice(&std::fs::read(&written.json).unwrap()).unwrap();
    assert_eq!(json, common::scale_report());
    let md = std::fs::read_to_string(&written.markdown).unwrap();
    assert!(
        md.contains("**Breaking point:** 60 rps") && md.contains("| 40 (knee) |"),
        "{md}"
    );
    let html = std::fs::read_to_string(&written.html).unwrap();
    assert!(
        html.contains("&lt;mix&gt;") && !html.contains("<mix>"),
        "escaped"
    );
    assert!(
        html.contains("mock delays ×0.1"),
        "the time scale is stated"
    );
    let console = scale_console(&common::scale_report());
    assert!(console.contains("60 (break)") && console.contains("breaking point: 60 rps"));
    let _ = std::fs::remove_dir_all(&dir);
}
