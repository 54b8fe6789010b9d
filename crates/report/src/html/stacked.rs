//! Stacked bar charts in inline SVG: one horizontal bar split into its parts (what
//! a whole is made of), or one vertical bar per category with its parts stacked.
//! Each part brings its own colour, so one thing keeps one colour in every chart of
//! a page. Labels are escaped; hovering a part shows its value.

use std::fmt::Write as _;

use super::svg::{
    BOTTOM, Frame, H, LEFT, RIGHT, W, category_label, legend, ticks, x_axis_label, y_axis,
};
use crate::escape::html as esc;
use crate::summary::num;

/// Height of a horizontal bar's chart: a legend, the bar, its axis.
const BAR_CHART_H: f64 = 120.0;
/// Top and height of the horizontal bar.
const BAR_TOP: f64 = 40.0;
const BAR_H: f64 = 30.0;
/// A part narrower than this (px) shows its value only on hover.
const MIN_LABELLED_W: f64 = 44.0;

/// One part of a bar.
pub(crate) struct Segment {
    pub(crate) name: String,
    pub(crate) colour: &'static str,
    pub(crate) value: f64,
}

impl Segment {
    fn drawn(&self) -> bool {
        self.value.is_finite() && self.value > 0.0
    }
}

/// One vertical bar: its category and its parts, bottom first.
pub(crate) struct Bar {
    pub(crate) label: String,
    pub(crate) segments: Vec<Segment>,
}

fn open(s: &mut String, title: &str, height: f64) {
    let _ = write!(
        s,
        "<svg class=\"chart\" viewBox=\"0 0 {W} {height}\" role=\"img\" aria-label=\"{}\">",
        esc(title)
    );
}

fn no_data(mut s: String, height: f64) -> String {
    let _ = write!(
        s,
        "<text x=\"{}\" y=\"{}\" class=\"empty\" text-anchor=\"middle\">no data</text></svg>",
        W / 2.0,
        height / 2.0
    );
    s
}

/// Each name drawn once, in the order first met.
fn legend_of<'a>(s: &mut String, segments: impl Iterator<Item = &'a Segment>) {
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for seg in segments.filter(|x| x.drawn()) {
        if !seen.iter().any(|(n, _)| *n == seg.name) {
            seen.push((&seg.name, seg.colour));
        }
    }
    legend(s, seen.into_iter());
}

/// One horizontal bar of `segments`, left to right, on an axis in `unit`.
pub(crate) fn horizontal(title: &str, unit: &str, segments: &[Segment]) -> String {
    let mut s = String::new();
    open(&mut s, title, BAR_CHART_H);
    let total: f64 = segments.iter().filter(|x| x.drawn()).map(|x| x.value).sum();
    if total <= 0.0 {
        return no_data(s, BAR_CHART_H);
    }
    legend_of(&mut s, segments.iter());
    let xt = ticks(0.0, total, 5);
    let f = Frame {
        x0: 0.0,
        x1: xt[xt.len() - 1],
        y0: 0.0,
        y1: 1.0,
        bottom: BOTTOM,
    };
    let below = BAR_TOP + BAR_H;
    for t in &xt {
        let x = f.px(*t);
        let _ = write!(
            s,
            "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{below:.1}\" y2=\"{:.1}\" class=\"axis\"/><text x=\"{x:.1}\" y=\"{:.1}\" class=\"tick\" text-anchor=\"middle\">{}</text>",
            below + 4.0,
            below + 16.0,
            esc(&num(*t))
        );
    }
    let mut at = 0.0;
    for seg in segments.iter().filter(|x| x.drawn()) {
        let (x, w) = (f.px(at), f.px(at + seg.value) - f.px(at));
        let _ = write!(
            s,
            "<rect x=\"{x:.1}\" y=\"{BAR_TOP:.1}\" width=\"{:.1}\" height=\"{BAR_H:.1}\" fill=\"{}\" class=\"bar\"><title>{}: {} {} ({:.0} %)</title></rect>",
            w.max(0.5),
            seg.colour,
            esc(&seg.name),
            esc(&num(seg.value)),
            esc(unit),
            seg.value / total * 100.0
        );
        if w >= MIN_LABELLED_W {
            let _ = write!(
                s,
                "<text x=\"{:.1}\" y=\"{:.1}\" class=\"on-bar\" text-anchor=\"middle\" dominant-baseline=\"middle\">{}</text>",
                x + w / 2.0,
                BAR_TOP + BAR_H / 2.0,
                esc(&num(seg.value))
            );
        }
        at += seg.value;
    }
    x_axis_label(&mut s, unit, BAR_CHART_H - 8.0);
    s.push_str("</svg>");
    s
}

/// One vertical bar per category with its parts stacked, bottom first, on a y
/// axis in `y_unit`; each bar's total above it when there are few.
pub(crate) fn vertical(title: &str, x_label: &str, y_unit: &str, bars: &[Bar]) -> String {
    let mut s = String::new();
    open(&mut s, title, H);
    let totals: Vec<f64> = bars
        .iter()
        .map(|b| {
            b.segments
                .iter()
                .filter(|x| x.drawn())
                .map(|x| x.value)
                .sum()
        })
        .collect();
    if !totals.iter().any(|t| *t > 0.0) {
        return no_data(s, H);
    }
    legend_of(&mut s, bars.iter().flat_map(|b| &b.segments));
    let group_w = (W - LEFT - RIGHT) / bars.len() as f64;
    let longest = bars
        .iter()
        .map(|b| b.label.chars().count())
        .max()
        .unwrap_or(2);
    let slant = longest as f64 * 7.0 > group_w - 4.0;
    let bottom = if slant { 78.0 } else { BOTTOM };
    let tops: Vec<[f64; 2]> = totals.iter().map(|t| [0.0, *t]).collect();
    let f = y_axis(&mut s, y_unit, &tops, bottom);
    let bar_w = (group_w * 0.6).max(1.0);
    for (g, (bar, total)) in bars.iter().zip(&totals).enumerate() {
        let cx = LEFT + (g as f64 + 0.5) * group_w;
        category_label(&mut s, &bar.label, cx, H - bottom + 14.0, slant);
        let mut at = 0.0;
        for seg in bar.segments.iter().filter(|x| x.drawn()) {
            let (top, base) = (f.py(at + seg.value), f.py(at));
            let _ = write!(
                s,
                "<rect x=\"{:.1}\" y=\"{top:.1}\" width=\"{bar_w:.1}\" height=\"{:.1}\" fill=\"{}\" class=\"bar\"><title>{} · {}: {} {}</title></rect>",
                cx - bar_w / 2.0,
                (base - top).max(0.5),
                seg.colour,
                esc(&bar.label),
                esc(&seg.name),
                esc(&num(seg.value)),
                esc(y_unit)
            );
            at += seg.value;
        }
        if bars.len() <= 16 && *total > 0.0 {
            let _ = write!(
                s,
                "<text x=\"{cx:.1}\" y=\"{:.1}\" class=\"value\" text-anchor=\"middle\">{}</text>",
                f.py(*total) - 4.0,
                esc(&num(*total))
            );
        }
    }
    x_axis_label(&mut s, x_label, H - 8.0);
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(name: &str, colour: &'static str, value: f64) -> Segment {
        Segment {
            name: name.to_owned(),
            colour,
            value,
        }
    }

    #[test]
    fn a_horizontal_bar_draws_each_part_once_in_its_colour() {
        let svg = horizontal(
            "<parts>",
            "ms as measured",
            &[
                seg("queue", "#e08a1e", 80.0),
                seg("upstream & co", "#3b6fb6", 20.0),
            ],
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(
            svg.matches("<rect x=").count(),
            4,
            "two swatches, two parts"
        );
        assert!(
            svg.contains("fill=\"#e08a1e\" class=\"bar\"><title>queue: 80 ms as measured (80 %)")
        );
        assert!(svg.contains("upstream &amp; co") && svg.contains("&lt;parts&gt;"));
        assert!(horizontal("t", "ms", &[seg("q", "#000", 0.0)]).contains("no data"));
    }

    #[test]
    fn vertical_bars_stack_their_parts_and_show_the_total() {
        let bars = vec![
            Bar {
                label: "20".to_owned(),
                segments: vec![
                    seg("upstream", "#3b6fb6", 30.0),
                    seg("queue", "#e08a1e", 10.0),
                ],
            },
            Bar {
                label: "40".to_owned(),
                segments: vec![
                    seg("upstream", "#3b6fb6", 30.0),
                    seg("queue", "#e08a1e", 70.0),
                ],
            },
        ];
        let svg = vertical("t", "load (rps)", "ms", &bars);
        assert_eq!(svg.matches("class=\"bar\"").count(), 4);
        assert_eq!(
            svg.matches("class=\"legend\"").count(),
            2,
            "one entry per part"
        );
        assert!(
            svg.contains(">100</text>") && svg.contains(">40</text>"),
            "{svg}"
        );
        assert!(vertical("t", "x", "ms", &[]).contains("no data"));
    }
}
