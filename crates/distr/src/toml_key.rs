//! Where a key is in TOML text, so an error found after parsing (a route naming an
//! unknown provider, a rate of zero) can name the line of the key at fault, not only
//! the file.

use toml::de::{DeTable, DeValue};

/// The 1-based line of `path` in `text`: a dotted key path with array indices, as
/// `serde_path_to_error` and error messages write them (`providers[1].concurrency`,
/// `scenarios.main.load.rate`). A path that does not reach a key (a default never
/// written) gives the line of the deepest table or key it does reach; `None` when
/// the text is not TOML or nothing of the path is in it.
pub fn line_of(text: &str, path: &str) -> Option<usize> {
    let root = DeTable::parse(text).ok()?;
    let table: &DeTable<'_> = root.get_ref();
    let mut value: Option<&DeValue<'_>> = None;
    let mut offset = None;
    for segment in segments(path) {
        match segment {
            Segment::Key(key) => {
                let current = match value {
                    None => table,
                    Some(DeValue::Table(t)) => t,
                    Some(_) => break,
                };
                let Some((name, entry)) = current.iter().find(|(k, _)| k.get_ref().as_ref() == key)
                else {
                    break;
                };
                offset = Some(name.span().start);
                value = Some(entry.get_ref());
            }
            Segment::Index(i) => {
                let Some(DeValue::Array(items)) = value else {
                    break;
                };
                let Some(item) = items.get(i) else {
                    break;
                };
                offset = Some(item.span().start);
                value = Some(item.get_ref());
            }
        }
    }
    let offset = offset?;
    Some(text[..offset.min(text.len())].matches('\n').count() + 1)
}

enum Segment<'p> {
    Key(&'p str),
    Index(usize),
}

/// `a.b[2]."c.d"` → `a`, `b`, `2`, `c.d`; `?` and empty segments are skipped.
fn segments(path: &str) -> Vec<Segment<'_>> {
    let mut out = Vec::new();
    let mut rest = path;
    while let Some(c) = rest.chars().next() {
        match c {
            '.' => rest = &rest[1..],
            '"' => {
                let end = rest[1..].find('"').map_or(rest.len(), |i| i + 1);
                out.push(Segment::Key(&rest[1..end]));
                rest = rest.get(end + 1..).unwrap_or_default();
            }
            '[' => {
                let end = rest.find(']').unwrap_or(rest.len());
                if let Ok(i) = rest[1..end].parse() {
                    out.push(Segment::Index(i));
                }
                rest = rest.get(end + 1..).unwrap_or_default();
            }
            _ => {
                let end = rest.find(['.', '[']).unwrap_or(rest.len());
                let key = &rest[..end];
                if key != "?" {
                    out.push(Segment::Key(key));
                }
                rest = &rest[end..];
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::line_of;

    const TEXT: &str = r#"name = "x"

[[providers]]
name = "a"
concurrency = 4

[[providers]]
name = "b"
concurrency = 0

[scenarios.main.load]
executor = "constant-arrival-rate"
rate = 0
"#;

    #[test]
    fn keys_are_found_through_tables_and_arrays() {
        assert_eq!(line_of(TEXT, "name"), Some(1));
        assert_eq!(line_of(TEXT, "providers[1].concurrency"), Some(9));
        assert_eq!(line_of(TEXT, "providers[0]"), Some(3));
        assert_eq!(line_of(TEXT, "scenarios.main.load.rate"), Some(13));
        // a key never written: its table's line
        assert_eq!(line_of(TEXT, "scenarios.main.load.duration"), Some(11));
        assert_eq!(line_of(TEXT, "missing"), None);
        assert_eq!(line_of("not = [toml", "not"), None);
        let quoted = "[thresholds]\n\"latency{request:a.b}\" = \"p95 < 1s\"\n";
        assert_eq!(
            line_of(quoted, "thresholds.\"latency{request:a.b}\""),
            Some(2)
        );
    }
}
