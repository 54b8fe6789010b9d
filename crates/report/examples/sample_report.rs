//! Writes a realistic sample report (the one the tests use) into a folder, prints its
//! console rendering and a comparison with a slower copy of itself: a quick way to
//! look at every output format.
//!
//! `cargo run -p gatebench-report --example sample_report -- OUT_DIR [ready]`

#[path = "../tests/common/mod.rs"]
mod common;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "reports/sample".to_owned());
    let report = match std::env::args().nth(2).as_deref() {
        Some("ready") => common::ready_report(),
        _ => common::focused_report(),
    };
    let written = gatebench_report::write_all(&report, dir.as_ref())?;
    print!("{}", gatebench_report::console(&report));
    println!("\nwrote {}", written.html.display());

    let mut slower = report.clone();
    for run in slower.runs.values_mut() {
        for kind in run.kinds.values_mut() {
            if let Some(l) = &mut kind.latency_ms {
                l.p95 *= 1.3;
            }
        }
    }
    if let Some(run) = slower.runs.get_mut("concurrent_handling/burst") {
        *run = common::run(
            "burst",
            10.0,
            vec![common::KindSpec::new(
                "story",
                "chat",
                common::latencies(200, 900.0, 0.4, 9),
            )],
        );
    }
    println!();
    print!(
        "{}",
        gatebench_report::compare(&slower, &report, 0.10).console()
    );
    Ok(())
}
