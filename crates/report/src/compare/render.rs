//! The comparison for a terminal: a one-line outcome, the checks whose outcome
//! changed, then the figures that moved most (regressions first) with their noise
//! interval and status — at most [`SHOWN`] of them, so the whole fits a screen; the
//! rest are counted, and every figure is in the comparison's JSON.

use super::{CheckStatus, Comparison, FigureChange, NoiseModel};
use crate::console::CONSOLE_WIDTH;
use crate::summary::{num, with_unit};
use crate::table::{self, Align, cell};

/// Figure rows the console shows at most.
pub const SHOWN: usize = 10;
/// Notes the console shows at most.
const NOTES_SHOWN: usize = 4;

/// The status of a clock figure a one-run baseline cannot judge.
const NOT_JUDGED: &str = "not judged";

fn status(f: &FigureChange) -> &'static str {
    match (f.regression, f.worse, f.beyond_tolerance, f.beyond_noise) {
        (true, ..) => "REGRESSION",
        (false, true, true, _) if !f.beyond_floor => "within floor",
        (false, true, true, false) if f.noise == NoiseModel::Unknown => NOT_JUDGED,
        (false, true, true, false) => "within noise",
        (false, true, false, _) => "within tolerance",
        _ if f.change == 0.0 => "same",
        _ if f.worse => "worse",
        _ => "better",
    }
}

fn interval(f: &FigureChange) -> String {
    match (f.noise, f.baseline_interval, f.current_interval) {
        (NoiseModel::Unknown, ..) => "unknown (one baseline run)".to_owned(),
        (NoiseModel::None, ..) | (_, None, _) | (_, _, None) => "tolerance only".to_owned(),
        (_, Some(b), Some(c)) => {
            format!("{}–{} → {}–{}", num(b.lo), num(b.hi), num(c.lo), num(c.hi))
        }
    }
}

fn change(f: &FigureChange) -> String {
    f.change_pct.map_or("new".to_owned(), |p| {
        format!("{}{}%", if p > 0.0 { "+" } else { "" }, num(p))
    })
}

pub(super) fn regression_lines(c: &Comparison) -> Vec<String> {
    let checks = c
        .checks
        .iter()
        .filter(|k| k.regression)
        .map(|k| format!("check `{}` passed in the baseline and fails now", k.name));
    let figures = c.figures.iter().filter(|f| f.regression).map(|f| {
        format!(
            "{} · {}: {} → {} ({}; noise {})",
            f.scope.label(),
            f.metric,
            with_unit(f.baseline, &f.unit),
            with_unit(f.current, &f.unit),
            change(f),
            interval(f)
        )
    });
    checks.chain(figures).collect()
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
    if c.baseline_runs > 1 {
        out.push_str(&format!(
            "the baseline holds {} runs: each figure is judged against their median and range\n",
            c.baseline_runs
        ));
    }
    let unjudged = c.figures.iter().filter(|f| status(f) == NOT_JUDGED).count();
    if unjudged > 0 {
        out.push_str(&format!(
            "{unjudged} figure{s} of the clock moved the wrong way beyond the tolerance, but a one-run baseline says nothing of {their} noise: not judged; save the baseline from several runs (`baseline save A B C`) to judge {them}\n",
            s = if unjudged == 1 { "" } else { "s" },
            their = if unjudged == 1 { "its" } else { "their" },
            them = if unjudged == 1 { "it" } else { "them" },
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
    let moved = shown.len();
    shown.truncate(SHOWN);
    if !shown.is_empty() {
        out.push_str("\nfigures that moved most (noise intervals in comparison.json)\n");
        let rows: Vec<_> = shown
            .iter()
            .map(|f| {
                vec![
                    cell(format!("{} · {}", f.scope.label(), f.metric)),
                    cell(with_unit(f.baseline, &f.unit)),
                    cell(with_unit(f.current, &f.unit)),
                    cell(change(f)),
                    cell(status(f)),
                ]
            })
            .collect();
        out.push_str(&table::render(
            &["figure", "baseline", "current", "change", "status"],
            &[
                Align::Left,
                Align::Right,
                Align::Right,
                Align::Right,
                Align::Left,
            ],
            &rows,
            CONSOLE_WIDTH,
        ));
    }
    let same = c.figures.len() - moved;
    let hidden = moved - shown.len();
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    match (hidden, same) {
        (0, 0) => {}
        (0, s) => out.push_str(&format!("{s} figure{} unchanged\n", plural(s))),
        (h, s) => out.push_str(&format!(
            "{h} more figure{} moved less (all in comparison.json), {s} unchanged\n",
            plural(h)
        )),
    }
    if !c.notes.is_empty() {
        out.push_str("\nnotes\n");
        for n in c.notes.iter().take(NOTES_SHOWN) {
            for (i, l) in table::wrap(n, CONSOLE_WIDTH - 2).iter().enumerate() {
                out.push_str(if i == 0 { "- " } else { "  " });
                out.push_str(l);
                out.push('\n');
            }
        }
        if c.notes.len() > NOTES_SHOWN {
            out.push_str(&format!(
                "- and {} more notes (all in comparison.json)\n",
                c.notes.len() - NOTES_SHOWN
            ));
        }
    }
    out
}
