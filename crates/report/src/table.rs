//! Plain-text tables for the terminal: columns shrink to a width budget and cells
//! wrap at word boundaries.
//!
//! A cell is a list of paragraphs; paragraph `j` of every cell of a row starts on
//! the same line, so a check's criteria line up across its target and measured
//! columns.

/// Column alignment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    /// Left.
    Left,
    /// Right (numbers).
    Right,
}

/// One cell: paragraphs.
pub type Cell = Vec<String>;

/// A cell of one paragraph.
pub fn cell(text: impl Into<String>) -> Cell {
    vec![text.into()]
}

const GAP: usize = 2;
/// Columns are never shrunk below this (or their header), so words stay legible.
const MIN_COLUMN: usize = 6;

fn width(s: &str) -> usize {
    s.chars().count()
}

/// Renders the table within `max_width` columns (when the headers allow it).
pub fn render(headers: &[&str], align: &[Align], rows: &[Vec<Cell>], max_width: usize) -> String {
    let n = headers.len();
    let mut widths: Vec<usize> = headers.iter().map(|h| width(h)).collect();
    for row in rows {
        for (i, c) in row.iter().enumerate().take(n) {
            for p in c {
                widths[i] = widths[i].max(width(p));
            }
        }
    }
    let mins: Vec<usize> = headers.iter().map(|h| width(h).max(MIN_COLUMN)).collect();
    let total = |w: &[usize]| w.iter().sum::<usize>() + GAP * n.saturating_sub(1);
    while total(&widths) > max_width {
        // shrink the widest column that may still shrink
        let Some((i, _)) = widths
            .iter()
            .enumerate()
            .filter(|(i, w)| **w > mins[*i])
            .max_by_key(|(_, w)| **w)
        else {
            break;
        };
        widths[i] -= 1;
    }
    let mut out = String::new();
    let line = |cells: &[String], out: &mut String| {
        let mut text = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i > 0 {
                text.push_str(&" ".repeat(GAP));
            }
            let pad = widths[i].saturating_sub(width(c));
            match align.get(i).copied().unwrap_or(Align::Left) {
                Align::Left => {
                    text.push_str(c);
                    text.push_str(&" ".repeat(pad));
                }
                Align::Right => {
                    text.push_str(&" ".repeat(pad));
                    text.push_str(c);
                }
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    let head: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    line(&head, &mut out);
    let rule: Vec<String> = widths.iter().map(|w| "─".repeat(*w)).collect();
    line(&rule, &mut out);
    let blocks: Vec<Vec<Vec<String>>> = rows.iter().map(|row| row_lines(row, &widths)).collect();
    // rows of several lines get a blank line between them, or they run together
    let tall = blocks.iter().any(|b| b.len() > 1);
    for (r, block) in blocks.iter().enumerate() {
        if tall && r > 0 {
            out.push('\n');
        }
        for l in block {
            line(l, &mut out);
        }
    }
    out
}

/// Wraps text at spaces to `columns` columns; words longer than that are cut.
pub fn wrap(text: &str, columns: usize) -> Vec<String> {
    let columns = columns.max(1);
    let mut lines = Vec::new();
    let mut current = String::new();
    for word in text.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let used = width(&current);
            let sep = usize::from(used > 0);
            if used + sep + word.len() <= columns {
                if sep == 1 {
                    current.push(' ');
                }
                current.extend(word.iter());
                break;
            }
            if used > 0 {
                lines.push(std::mem::take(&mut current));
                continue;
            }
            // a word wider than the column: cut it after a separator if one is
            // near the end of the line, else at the column's edge
            let cut = word[..columns]
                .iter()
                .rposition(|c| matches!(c, '/' | '_' | '-' | '.' | ','))
                .map(|i| i + 1)
                .filter(|i| *i * 2 >= columns)
                .unwrap_or(columns);
            let rest = word.split_off(cut);
            lines.push(word.iter().collect());
            word = rest;
            if word.is_empty() {
                break;
            }
        }
    }
    if !current.is_empty() || lines.is_empty() {
        lines.push(current);
    }
    lines
}

/// The lines of one row: paragraph `j` of every cell starts on the same line.
fn row_lines(row: &[Cell], widths: &[usize]) -> Vec<Vec<String>> {
    let paragraphs = row.iter().map(Vec::len).max().unwrap_or(0).max(1);
    let mut lines = Vec::new();
    for j in 0..paragraphs {
        let parts: Vec<Vec<String>> = widths
            .iter()
            .enumerate()
            .map(|(i, w)| {
                row.get(i)
                    .and_then(|c| c.get(j))
                    .map(|p| wrap(p, *w))
                    .unwrap_or_default()
            })
            .collect();
        let height = parts.iter().map(Vec::len).max().unwrap_or(0).max(1);
        for k in 0..height {
            lines.push(
                parts
                    .iter()
                    .map(|p| p.get(k).cloned().unwrap_or_default())
                    .collect(),
            );
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn wraps_at_words_and_cuts_long_ones() {
        assert_eq!(wrap("hit rate ≥ 30%", 8), vec!["hit rate", "≥ 30%"]);
        assert_eq!(wrap("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
        assert_eq!(
            wrap("concurrent_handling/burst", 22),
            vec!["concurrent_handling/", "burst"]
        );
        assert_eq!(wrap("", 4), vec![""]);
    }

    #[test]
    fn paragraphs_line_up_across_cells() {
        let rows = vec![vec![
            cell("a"),
            vec!["x".into(), "y".into()],
            vec!["1 2 3 4 5 6 7 8 9".into(), "z".into()],
        ]];
        let text = render(&["h1", "h2", "h3"], &[Align::Left; 3], &rows, 22);
        let lines: Vec<&str> = text.lines().collect();
        // the second paragraph of h2 (`y`) sits on the line of h3's second paragraph (`z`)
        let y = lines.iter().position(|l| l.contains('y')).unwrap();
        assert!(lines[y].ends_with('z'), "{text}");
    }

    proptest! {
        #[test]
        fn lines_fit_the_budget(words in proptest::collection::vec("[a-z≤%]{1,30}", 1..40), budget in 50usize..120) {
            let text = words.join(" ");
            let rows = vec![vec![cell("critical"), cell(text.clone()), cell(text.clone()), cell(text), cell("FAIL")]];
            let out = render(&["severity", "check", "target", "measured", "result"], &[Align::Left; 5], &rows, budget);
            for l in out.lines() {
                prop_assert!(l.chars().count() <= budget, "{} > {}: {}", l.chars().count(), budget, l);
            }
        }
    }
}
