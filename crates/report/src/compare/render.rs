//! The comparison for a terminal: a one-line outcome, the checks whose outcome
//! changed, then every figure that moved with its noise interval and status.

use super::{CheckStatus, Comparison, FigureChange, NoiseModel, Scope};
use crate::console::CONSOLE_WIDTH;
use crate::summary::{num, with_unit};
use crate::table::{self, Align, cell};

fn status(f: &FigureChange) -> &'static str {
    match (f.regression, f.worse, f.beyond_tolerance, f.beyond_noise) {
        (true, ..) => "REGRESSION",
        (false, true, true, false) => "within noise",
        (false, true, false, _) => "within tolerance",
        _ if f.change == 0.0 => "same",
        _ if f.worse => "worse",
        _ => "better",
    }
}

fn interval(f: &FigureChange) -> String {
    match (f.noise, f.baseline_interval, f.current_interval) {
        (NoiseModel::None, ..) | (_, None, _) | (_, _, None) => "tolerance only".to_owned(),
        (_, Some(b), Some(c)) => {
            format!("{}–{} → {}–{}", num(b.lo), num(b.hi), num(c.lo), num(c.hi))
        }
    }
}

pub(super) fn console(c: &Comparison) -> String {
    let mut out = String::new();
    let tol = format!("{}%", num(100.0 * c.tolerance));
    let moved = c.figures.iter().filter(|f| f.change != 0.0).count();
    if c.has_regressions() {
        out.push_str(&format!(
            "REGRESSION — {} regression{} against the baseline (tolerance {tol}, 95% noise intervals)\n",
            c.regressions,
            if c.regressions == 1 { "" } else { "s" }
        ));
    } else {
        out.push_str(&format!(
            "NO REGRESSION — {} figures compared, {moved} moved, none worse beyond tolerance {tol} and noise\n",
            c.figures.len()
        ));
    }
    out.push_str(&format!(
        "baseline: {} · seed {} · {} · {}\ncurrent:  {} · seed {} · {} · {}\n",
        c.baseline.suite,
        c.baseline.seed,
        c.baseline.started_at,
        c.baseline.verdict,
        c.current.suite,
        c.current.seed,
        c.current.started_at,
        c.current.verdict
    ));
    let changed: Vec<_> = c
        .checks
        .iter()
        .filter(|k| {
            !matches!(
                k.status,
                CheckStatus::StillPassing | CheckStatus::StillFailing
            )
        })
        .collect();
    if !changed.is_empty() {
        out.push_str("\nchecks\n");
        let word = |p: Option<bool>| match p {
            Some(true) => "pass",
            Some(false) => "fail",
            None => "absent",
        };
        let rows: Vec<_> = changed
            .iter()
            .map(|k| {
                vec![
                    cell(k.name.clone()),
                    cell(k.severity.as_str()),
                    cell(word(k.baseline_passed)),
                    cell(word(k.current_passed)),
                    cell(match k.status {
                        CheckStatus::NewlyFailing => "REGRESSION (newly failing)",
                        CheckStatus::NewlyPassing => "fixed",
                        CheckStatus::OnlyInBaseline => "not run now",
                        CheckStatus::OnlyInCurrent => "new check",
                        _ => "",
                    }),
                ]
            })
            .collect();
        out.push_str(&table::render(
            &["check", "severity", "baseline", "current", "status"],
            &[Align::Left; 5],
            &rows,
            CONSOLE_WIDTH,
        ));
    }
    let mut shown: Vec<&FigureChange> = c.figures.iter().filter(|f| f.change != 0.0).collect();
    // regressions first, then the largest moves
    shown.sort_by(|a, b| {
        b.regression
            .cmp(&a.regression)
            .then(b.worse.cmp(&a.worse))
            .then(
                b.change_pct
                    .unwrap_or(f64::INFINITY)
                    .abs()
                    .total_cmp(&a.change_pct.unwrap_or(f64::INFINITY).abs()),
            )
    });
    if !shown.is_empty() {
        out.push_str("\nfigures that moved (noise: 95% interval baseline → current)\n");
        let rows: Vec<_> = shown
            .iter()
            .map(|f| {
                let pct = f.change_pct.map_or("new".to_owned(), |p| {
                    format!("{}{}%", if p > 0.0 { "+" } else { "" }, num(p))
                });
                let figure = match &f.scope {
                    Scope::Check { check } => {
                        vec![format!("check {check}"), format!("· {}", f.metric)]
                    }
                    Scope::Request { run, request } => {
                        vec![run.clone(), format!("· {request} · {}", f.metric)]
                    }
                };
                vec![
                    figure,
                    cell(with_unit(f.baseline, &f.unit)),
                    cell(with_unit(f.current, &f.unit)),
                    cell(pct),
                    cell(interval(f)),
                    cell(status(f)),
                ]
            })
            .collect();
        out.push_str(&table::render(
            &["figure", "baseline", "current", "change", "noise", "status"],
            &[
                Align::Left,
                Align::Right,
                Align::Right,
                Align::Right,
                Align::Left,
                Align::Left,
            ],
            &rows,
            CONSOLE_WIDTH,
        ));
    }
    let same = c.figures.len() - shown.len();
    if same > 0 {
        out.push_str(&format!(
            "{same} figure{} unchanged\n",
            if same == 1 { "" } else { "s" }
        ));
    }
    if !c.notes.is_empty() {
        out.push_str("\nnotes\n");
        for n in &c.notes {
            for (i, l) in table::wrap(n, CONSOLE_WIDTH - 2).iter().enumerate() {
                out.push_str(if i == 0 { "- " } else { "  " });
                out.push_str(l);
                out.push('\n');
            }
        }
    }
    out
}
