//! A small inline-SVG chart renderer: line charts over a numeric x axis and grouped
//! bar charts, with axes, ticks, grid lines and a legend. Every label is escaped;
//! hovering a point or bar shows its value through an SVG `<title>`.

use std::fmt::Write as _;

use crate::escape::html as esc;
use crate::model::{Chart, ChartKind, Load};
use crate::summary::num;

pub(super) const W: f64 = 640.0;
pub(super) const H: f64 = 300.0;
pub(super) const LEFT: f64 = 64.0;
pub(super) const RIGHT: f64 = 18.0;
pub(super) const TOP: f64 = 40.0;
pub(super) const BOTTOM: f64 = 46.0;
/// Points are drawn as dots up to this many per series; beyond, only the line.
const MAX_DOTS: usize = 40;

/// Series colours, distinguishable for the common colour-vision deficiencies.
pub const PALETTE: [&str; 8] = [
    "#3b6fb6", "#e08a1e", "#2a9d8f", "#c8414b", "#7b5ea7", "#8c6d46", "#d16ba5", "#6b7b8c",
];

fn colour(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// Round tick positions covering `[lo, hi]`: about `target` steps of 1, 2, 2.5 or 5
/// times a power of ten.
pub fn ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    let (lo, hi) = if hi > lo {
        (lo, hi)
    } else {
        (lo - 0.5, lo + 0.5)
    };
    let raw = (hi - lo) / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).floor();
    let last = (hi / step).ceil();
    let n = (last - first).max(1.0) as usize;
    // rebuilt from integers so labels do not collect float noise
    (0..=n.min(50))
        .map(|i| ((first + i as f64) * step * 1e9).round() / 1e9)
        .collect()
}

/// The chart as an `<svg>` element.
pub fn chart_svg(chart: &Chart) -> String {
    let finite = |p: &&[f64; 2]| p[0].is_finite() && p[1].is_finite();
    let points: Vec<[f64; 2]> = chart
        .series
        .iter()
        .flat_map(|s| s.points.iter().filter(finite).copied())
        .collect();
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg class=\"chart\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{}\">",
        esc(&chart.title)
    );
    if points.is_empty() {
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" class=\"empty\" text-anchor=\"middle\">no data</text></svg>",
            W / 2.0,
            H / 2.0
        );
        return s;
    }
    legend(
        &mut s,
        chart
            .series
            .iter()
            .enumerate()
            .map(|(i, series)| (series.name.as_str(), colour(i))),
    );
    match chart.kind {
        ChartKind::Line => line_chart(&mut s, chart, &points),
        ChartKind::Bar => bar_chart(&mut s, chart, &points),
    }
    s.push_str("</svg>");
    s
}

/// A row of colour swatches with their names across the top, wrapping as needed.
pub(super) fn legend<'a>(s: &mut String, items: impl Iterator<Item = (&'a str, &'a str)>) {
    let (mut x, mut y) = (LEFT, 16.0);
    for (name, fill) in items {
        let label: String = name.chars().take(28).collect();
        let w = 22.0 + 7.2 * label.chars().count() as f64;
        if x + w > W - RIGHT && x > LEFT {
            x = LEFT;
            y += 14.0;
        }
        let _ = write!(
            s,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"10\" height=\"10\" rx=\"2\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{y:.1}\" class=\"legend\" dominant-baseline=\"middle\">{}</text>",
            y - 5.0,
            fill,
            x + 14.0,
            esc(&label)
        );
        x += w + 10.0;
    }
}

/// Maps data to the plot area.
pub(super) struct Frame {
    pub(super) x0: f64,
    pub(super) x1: f64,
    pub(super) y0: f64,
    pub(super) y1: f64,
    pub(super) bottom: f64,
}

impl Frame {
    pub(super) fn px(&self, x: f64) -> f64 {
        LEFT + (x - self.x0) / (self.x1 - self.x0) * (W - LEFT - RIGHT)
    }
    pub(super) fn py(&self, y: f64) -> f64 {
        let plot = H - TOP - self.bottom;
        TOP + plot - (y - self.y0) / (self.y1 - self.y0) * plot
    }
}

/// Grid lines, ticks, the unit and both axes for values `points[..][1]`; the frame
/// drawn, its x range `0..1` for the caller to set.
pub(super) fn y_axis(s: &mut String, y_unit: &str, points: &[[f64; 2]], bottom: f64) -> Frame {
    let lo = points
        .iter()
        .map(|p| p[1])
        .fold(f64::INFINITY, f64::min)
        .min(0.0);
    let hi = points
        .iter()
        .map(|p| p[1])
        .fold(f64::NEG_INFINITY, f64::max)
        .max(0.0);
    let yt = ticks(lo, if hi > lo { hi } else { lo + 1.0 }, 5);
    let (y0, y1) = (yt[0], yt[yt.len() - 1]);
    let f = Frame {
        x0: 0.0,
        x1: 1.0,
        y0,
        y1,
        bottom,
    };
    for t in &yt {
        let y = f.py(*t);
        let _ = write!(
            s,
            "<line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" class=\"grid\"/><text x=\"{:.1}\" y=\"{y:.1}\" class=\"tick\" text-anchor=\"end\" dominant-baseline=\"middle\">{}</text>",
            W - RIGHT,
            LEFT - 6.0,
            esc(&num(*t))
        );
    }
    let mid = TOP + (H - TOP - bottom) / 2.0;
    let _ = write!(
        s,
        "<text x=\"14\" y=\"{mid:.1}\" class=\"axis-label\" text-anchor=\"middle\" transform=\"rotate(-90 14 {mid:.1})\">{}</text>",
        esc(y_unit)
    );
    let _ = write!(
        s,
        "<line x1=\"{LEFT}\" x2=\"{LEFT}\" y1=\"{TOP}\" y2=\"{:.1}\" class=\"axis\"/>",
        H - bottom
    );
    let _ = write!(
        s,
        "<line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" class=\"axis\"/>",
        W - RIGHT,
        f.py(y0.max(0.0).min(y1)),
        f.py(y0.max(0.0).min(y1))
    );
    f
}

fn line_chart(s: &mut String, chart: &Chart, points: &[[f64; 2]]) {
    let frame = y_axis(s, &chart.y_unit, points, BOTTOM);
    let xmin = points.iter().map(|p| p[0]).fold(f64::INFINITY, f64::min);
    let xmax = points
        .iter()
        .map(|p| p[0])
        .fold(f64::NEG_INFINITY, f64::max);
    let xt = ticks(xmin, xmax, 6);
    let f = Frame {
        x0: xt[0],
        x1: xt[xt.len() - 1],
        ..frame
    };
    for t in &xt {
        let x = f.px(*t);
        let _ = write!(
            s,
            "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" class=\"axis\"/><text x=\"{x:.1}\" y=\"{:.1}\" class=\"tick\" text-anchor=\"middle\">{}</text>",
            H - BOTTOM,
            H - BOTTOM + 4.0,
            H - BOTTOM + 16.0,
            esc(&num(*t))
        );
    }
    x_axis_label(s, &chart.x_label, H - 8.0);
    if let Some(load) = &chart.load {
        load_area(s, load, &f);
    }
    for (i, series) in chart.series.iter().enumerate() {
        let mut pts: Vec<[f64; 2]> = series
            .points
            .iter()
            .filter(|p| p[0].is_finite() && p[1].is_finite())
            .copied()
            .collect();
        pts.sort_by(|a, b| a[0].total_cmp(&b[0]));
        if pts.is_empty() {
            continue;
        }
        let path: Vec<String> = pts
            .iter()
            .map(|p| format!("{:.1},{:.1}", f.px(p[0]), f.py(p[1])))
            .collect();
        let _ = write!(
            s,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" class=\"line\"/>",
            path.join(" "),
            colour(i)
        );
        if pts.len() <= MAX_DOTS {
            for p in &pts {
                let _ = write!(
                    s,
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.6\" fill=\"{}\"><title>{}: {} {} → {} {}</title></circle>",
                    f.px(p[0]),
                    f.py(p[1]),
                    colour(i),
                    esc(&series.name),
                    esc(&num(p[0])),
                    esc(&chart.x_label),
                    esc(&num(p[1])),
                    esc(&chart.y_unit)
                );
            }
        }
    }
}

/// The load behind the lines: a shaded area on its own scale (0 to its peak over
/// the plot's height), named with its peak at the top right.
fn load_area(s: &mut String, load: &Load, f: &Frame) {
    let mut pts: Vec<[f64; 2]> = load
        .points
        .iter()
        .filter(|p| p[0].is_finite() && p[1].is_finite() && p[0] >= f.x0 && p[0] <= f.x1)
        .copied()
        .collect();
    pts.sort_by(|a, b| a[0].total_cmp(&b[0]));
    let peak = pts.iter().map(|p| p[1]).fold(0.0, f64::max);
    let (Some(first), Some(last)) = (pts.first(), pts.last()) else {
        return;
    };
    if peak <= 0.0 {
        return;
    }
    let base = H - BOTTOM;
    let plot = H - TOP - BOTTOM;
    let mut path = format!("{:.1},{base:.1}", f.px(first[0]));
    for p in &pts {
        let _ = write!(path, " {:.1},{:.1}", f.px(p[0]), base - p[1] / peak * plot);
    }
    let _ = write!(path, " {:.1},{base:.1}", f.px(last[0]));
    let _ = write!(
        s,
        "<polygon points=\"{path}\" class=\"load\"><title>{}</title></polygon><text x=\"{:.1}\" y=\"{:.1}\" class=\"tick load-label\" text-anchor=\"end\">shaded: {}, peak {}</text>",
        esc(&load.name),
        W - RIGHT,
        TOP - 4.0,
        esc(&load.name),
        esc(&num(peak))
    );
}

/// The x axis's name, centred under the plot at height `y`.
pub(super) fn x_axis_label(s: &mut String, text: &str, y: f64) {
    let _ = write!(
        s,
        "<text x=\"{:.1}\" y=\"{y:.1}\" class=\"axis-label\" text-anchor=\"middle\">{}</text>",
        LEFT + (W - LEFT - RIGHT) / 2.0,
        esc(text)
    );
}

/// A bar group's name under the axis at `(cx, ly)`; slanted ones are cut short,
/// with the whole name on hover.
pub(super) fn category_label(s: &mut String, name: &str, cx: f64, ly: f64, slant: bool) {
    if slant {
        let short: String = name.chars().take(16).collect();
        let _ = write!(
            s,
            "<text x=\"{cx:.1}\" y=\"{ly:.1}\" class=\"tick\" text-anchor=\"end\" transform=\"rotate(-30 {cx:.1} {ly:.1})\"><title>{}</title>{}</text>",
            esc(name),
            esc(&short)
        );
    } else {
        let _ = write!(
            s,
            "<text x=\"{cx:.1}\" y=\"{ly:.1}\" class=\"tick\" text-anchor=\"middle\">{}</text>",
            esc(name)
        );
    }
}

fn bar_chart(s: &mut String, chart: &Chart, points: &[[f64; 2]]) {
    let max_index = points
        .iter()
        .map(|p| p[0].round().max(0.0) as usize)
        .max()
        .unwrap_or(0);
    let groups = chart.categories.len().max(max_index + 1).min(200);
    let plot_w = W - LEFT - RIGHT;
    let group_w = plot_w / groups as f64;
    // long or many labels are slanted and get a deeper margin
    let longest = chart
        .categories
        .iter()
        .map(|c| c.chars().count())
        .max()
        .unwrap_or(2);
    let slant = longest as f64 * 7.0 > group_w - 4.0;
    let bottom = if slant { 78.0 } else { BOTTOM };
    let f = y_axis(s, &chart.y_unit, points, bottom);
    let (y0, y1) = (f.y0, f.y1);
    let n = chart.series.len().max(1);
    let inner = group_w * 0.78;
    let bar_w = inner / n as f64;
    let base = f.py(y0.max(0.0).min(y1));
    let label_values = groups * n <= 16;
    for g in 0..groups {
        let gx = LEFT + g as f64 * group_w;
        let name = chart
            .categories
            .get(g)
            .cloned()
            .unwrap_or_else(|| g.to_string());
        let cx = gx + group_w / 2.0;
        let ly = H - bottom + 14.0;
        category_label(s, &name, cx, ly, slant);
        for (i, series) in chart.series.iter().enumerate() {
            let Some(p) = series
                .points
                .iter()
                .find(|p| p[1].is_finite() && p[0].round() as i64 == g as i64)
            else {
                continue;
            };
            let x = gx + (group_w - inner) / 2.0 + i as f64 * bar_w;
            let y = f.py(p[1]);
            let (top, height) = if y < base {
                (y, base - y)
            } else {
                (base, y - base)
            };
            let _ = write!(
                s,
                "<rect x=\"{:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\" class=\"bar\"><title>{} · {}: {} {}</title></rect>",
                x + 1.0,
                (bar_w - 2.0).max(1.0),
                height.max(0.5),
                colour(i),
                esc(&name),
                esc(&series.name),
                esc(&num(p[1])),
                esc(&chart.y_unit)
            );
            if label_values {
                let _ = write!(
                    s,
                    "<text x=\"{:.1}\" y=\"{:.1}\" class=\"value\" text-anchor=\"middle\">{}</text>",
                    x + bar_w / 2.0,
                    top - 4.0,
                    esc(&num(p[1]))
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Series;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(
            ticks(0.0, 97.0, 5),
            vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]
        );
        assert_eq!(ticks(0.0, 1.0, 5), vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
        let t = ticks(3.0, 3.0, 5);
        assert!(t[0] <= 3.0 && *t.last().unwrap() >= 3.0);
    }

    #[test]
    fn labels_are_escaped_and_empty_charts_say_so() {
        let chart = Chart {
            id: "c".into(),
            title: "<t>".into(),
            kind: ChartKind::Bar,
            x_label: String::new(),
            y_unit: "ms".into(),
            categories: vec!["<b>high</b>".into()],
            series: vec![Series {
                name: "p95 & more".into(),
                points: vec![[0.0, 12.0]],
            }],
            load: None,
        };
        let svg = chart_svg(&chart);
        assert!(
            !svg.contains("<b>") && svg.contains("&lt;b&gt;high") && svg.contains("p95 &amp; more")
        );
        let empty = Chart {
            series: vec![],
            ..chart
        };
        assert!(chart_svg(&empty).contains("no data"));
    }
}
