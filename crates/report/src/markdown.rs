//! `report.md`: the verdict, the checks table, a section per check with its
//! criteria and evidence, recommendations, per-run key figures, and the
//! environment.

use std::fmt::Write as _;

use crate::escape::{markdown as md, markdown_fence};
use crate::model::SuiteReport;
use crate::summary::{self, bytes, kind_figures, num, percentiles, status_word};

/// The Markdown report.
pub fn markdown(report: &SuiteReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# gatebench readiness report — {}\n", md(&report.suite));
    let _ = writeln!(s, "**{}**\n", md(&summary::verdict_line(report)));
    let _ = writeln!(s, "| | |\n|---|---|");
    let _ = writeln!(s, "| Suite | {} |", md(&report.suite));
    let _ = writeln!(s, "| Target | {} |", md(&report.target.describe()));
    let _ = writeln!(s, "| Seed | {} |", report.seed);
    let _ = writeln!(
        s,
        "| Time scale | {} |",
        md(&summary::time_scale_line(report))
    );
    let _ = writeln!(s, "| Started | {} |", md(&report.started_at));
    let _ = writeln!(s, "| Duration | {} s |\n", num(report.duration_s));

    checks_table(&mut s, report);
    baseline(&mut s, report);
    check_sections(&mut s, report);
    recommendations(&mut s, report);
    runs(&mut s, report);
    environment(&mut s, report);
    s
}

fn checks_table(s: &mut String, report: &SuiteReport) {
    let _ = writeln!(s, "## Checks\n");
    if report.checks.is_empty() {
        let _ = writeln!(s, "No checks ran.\n");
        return;
    }
    let _ = writeln!(s, "| Severity | Check | Target | Measured | Result |");
    let _ = writeln!(s, "|---|---|---|---|---|");
    for c in &report.checks {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} |",
            c.severity.as_str(),
            md(&c.title),
            md(&c.target),
            md(&c.measured),
            result_mark(status_word(c))
        );
    }
    s.push('\n');
}

fn baseline(s: &mut String, report: &SuiteReport) {
    let Some(line) = summary::baseline_line(report) else {
        return;
    };
    let _ = writeln!(s, "## Baseline\n\n{}\n", md(&line));
    for r in report.regressions() {
        let _ = writeln!(s, "- ❌ {}", md(r));
    }
    if !report.regressions().is_empty() {
        s.push('\n');
    }
}

fn result_mark(word: &str) -> &'static str {
    match word {
        "pass" => "✅ pass",
        "FAIL" => "❌ **FAIL**",
        _ => "⚠️ warn",
    }
}

fn check_sections(s: &mut String, report: &SuiteReport) {
    for c in &report.checks {
        let _ = writeln!(
            s,
            "### {} — {}\n\n{} · {} · {} · {} s\n",
            md(&c.title),
            result_mark(status_word(c)),
            code(&c.name),
            c.severity.as_str(),
            if c.severity.blocks() {
                "blocking"
            } else {
                "warning only"
            },
            num(c.duration_s)
        );
        if c.criteria.is_empty() {
            let _ = writeln!(s, "Nothing was measured, so the check fails.\n");
        } else {
            let _ = writeln!(
                s,
                "| Criterion | Target | Measured | Source | Met |\n|---|---|---|---|---|"
            );
            for k in &c.criteria {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} |",
                    md(&k.name),
                    md(&k.target),
                    md(&k.measured),
                    k.source.label(),
                    if k.passed { "yes" } else { "**no**" }
                );
            }
            s.push('\n');
        }
        if !c.evidence.summary.is_empty() {
            let _ = writeln!(s, "{}\n", md(&c.evidence.summary));
        }
        if !c.evidence.details.is_null() {
            let json = serde_json::to_string_pretty(&c.evidence.details).unwrap_or_default();
            let fence = markdown_fence(&json);
            let _ = writeln!(
                s,
                "<details><summary>Evidence details</summary>\n\n{fence}json\n{json}\n{fence}\n\n</details>\n"
            );
        }
    }
}

fn recommendations(s: &mut String, report: &SuiteReport) {
    let _ = writeln!(s, "## Recommendations\n");
    if report.recommendations.is_empty() {
        let _ = writeln!(s, "None: no rule fired.\n");
        return;
    }
    for (i, r) in report.recommendations.iter().enumerate() {
        let _ = writeln!(
            s,
            "{}. **{}** ({}): {} — figure: *{}*",
            i + 1,
            md(&r.rule),
            md(&r.check),
            md(&r.message),
            md(&r.figure)
        );
    }
    s.push('\n');
}

fn runs(s: &mut String, report: &SuiteReport) {
    let _ = writeln!(s, "## Runs\n");
    if report.runs.is_empty() {
        let _ = writeln!(s, "No scenario ran.\n");
        return;
    }
    for (key, run) in &report.runs {
        let t = &run.totals;
        let _ = writeln!(
            s,
            "### {}\n\nScenario {} · {} s · sent {} · ok {} · failed {} · dropped {} · {} req/s{}\n",
            md(key),
            code(&run.name),
            num(run.duration_s),
            t.sent,
            t.ok,
            t.failed,
            t.dropped,
            num(t.rps),
            if run.aborted {
                format!(
                    " · **stopped early**: {}",
                    md(run.abort_reason.as_deref().unwrap_or("aborted"))
                )
            } else {
                String::new()
            }
        );
        let kinds = kind_figures(run);
        if kinds.is_empty() {
            continue;
        }
        let _ = writeln!(
            s,
            "| Request | Kind | Sent | Failed | Error rate | req/s | p50 ms | p95 ms | p99 ms | TTFT p95 ms |"
        );
        let _ = writeln!(s, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|");
        for k in kinds {
            let [p50, p95, p99] = percentiles(k.latency.as_ref());
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {p50} | {p95} | {p99} | {} |",
                md(&k.request),
                md(&k.kind),
                k.sent,
                k.failed,
                k.error_rate_pct
                    .map_or("–".to_owned(), |r| format!("{}%", num(r))),
                num(k.rps),
                k.ttft.as_ref().map_or("–".to_owned(), |t| num(t.p95)),
            );
        }
        if !run.findings.is_empty() {
            let _ = writeln!(
                s,
                "\nDegradation detector (live, against the run's early steady window):\n"
            );
            for f in &run.findings {
                let _ = writeln!(s, "- {}: {}", finding_kind(f), md(&f.describe()));
            }
        }
        crate::resources::markdown(s, run);
        if let Some(b) = &run.bottleneck {
            crate::bottleneck::markdown(s, b);
        }
        if !t.errors.is_empty() {
            let list: Vec<String> = t
                .errors
                .iter()
                .map(|(class, n)| format!("{} {n}", md(class)))
                .collect();
            let _ = writeln!(s, "\nErrors by class: {}", list.join(", "));
        }
        s.push('\n');
    }
}

/// What kind of finding the degradation detector made, in words.
pub(crate) fn finding_kind(f: &gatebench_analysis::Finding) -> &'static str {
    match f {
        gatebench_analysis::Finding::Degradation { .. } => "degradation",
        gatebench_analysis::Finding::Anomaly { .. } => "anomaly",
        gatebench_analysis::Finding::PredictiveAlert { .. } => "predictive alert",
    }
}

fn environment(s: &mut String, report: &SuiteReport) {
    let e = &report.environment;
    let _ = writeln!(s, "## Environment\n\n| | |\n|---|---|");
    let _ = writeln!(s, "| OS | {} |", md(&e.os));
    let _ = writeln!(s, "| Architecture | {} |", md(&e.arch));
    let _ = writeln!(s, "| CPUs | {} |", e.cpus);
    let _ = writeln!(s, "| Memory | {} |", bytes(e.memory_bytes));
    let _ = writeln!(s, "| Host | {} |", md(&e.hostname));
    let _ = writeln!(s, "| Seed | {} |\n", report.seed);
    if !report.versions.is_empty() {
        let _ = writeln!(s, "### Versions\n\n| Component | Version |\n|---|---|");
        for (k, v) in &report.versions {
            let _ = writeln!(s, "| {} | {} |", md(k), md(v));
        }
        s.push('\n');
    }
}

/// A code span: its content is literal in Markdown (no escapes, no HTML), so only
/// backticks and line breaks need care.
pub(crate) fn code(text: &str) -> String {
    let clean: String = text
        .chars()
        .map(|c| {
            if c == '`' {
                '\''
            } else if c.is_control() {
                ' '
            } else {
                c
            }
        })
        .collect();
    format!("`{clean}`")
}
