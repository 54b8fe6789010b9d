//! Reading named series from a Prometheus text exposition (format 0.0.4, which
//! OpenMetrics text also satisfies for the lines kept here).
//!
//! Only sample lines are read (`name{label="value",...} value [timestamp]`);
//! `# HELP`, `# TYPE` and other comments are skipped. The few crates that parse
//! this format pull in regex and chrono or are no longer kept, and the part needed
//! here is a line format of a few rules, so it is parsed here.

use std::collections::BTreeMap;

/// One sample line.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Metric name.
    pub name: String,
    /// Labels, sorted by name.
    pub labels: BTreeMap<String, String>,
    /// Value (`NaN`, `+Inf`, `-Inf` included).
    pub value: f64,
}

impl Sample {
    /// `name{a="x",b="y"}` (labels sorted), or the name alone.
    pub fn key(&self) -> String {
        if self.labels.is_empty() {
            return self.name.clone();
        }
        let labels: Vec<String> = self
            .labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
            .collect();
        format!("{}{{{}}}", self.name, labels.join(","))
    }
}

/// Which samples a configured series keeps: a name and labels that must match.
#[derive(Clone, Debug, PartialEq)]
pub struct Selector {
    name: String,
    labels: BTreeMap<String, String>,
}

impl Selector {
    /// `name` or `name{label="value",...}`.
    pub fn parse(text: &str) -> Result<Selector, String> {
        let (name, labels, rest) = name_and_labels(text.trim())?;
        if !rest.trim().is_empty() {
            return Err(format!("unexpected `{}` after the series", rest.trim()));
        }
        Ok(Selector { name, labels })
    }

    /// Whether `sample` is one of this series.
    pub fn matches(&self, sample: &Sample) -> bool {
        sample.name == self.name
            && self
                .labels
                .iter()
                .all(|(k, v)| sample.labels.get(k) == Some(v))
    }
}

/// The samples of an exposition; a line that cannot be read is an error naming it.
pub fn parse(text: &str) -> Result<Vec<Sample>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let sample = parse_line(line).map_err(|e| format!("line {}: {e}", i + 1))?;
        out.push(sample);
    }
    Ok(out)
}

fn parse_line(line: &str) -> Result<Sample, String> {
    let (name, labels, rest) = name_and_labels(line)?;
    let mut fields = rest.split_whitespace();
    let value = fields.next().ok_or("no value")?;
    let value = parse_value(value).ok_or_else(|| format!("`{value}` is not a number"))?;
    // an optional timestamp; anything more is wrong
    if let Some(ts) = fields.next()
        && ts.parse::<i64>().is_err()
    {
        return Err(format!("`{ts}` is not a timestamp"));
    }
    if fields.next().is_some() {
        return Err("too many fields".into());
    }
    Ok(Sample {
        name,
        labels,
        value,
    })
}

fn parse_value(text: &str) -> Option<f64> {
    match text {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ => text.parse().ok(),
    }
}

/// The metric name, its labels and what follows them.
fn name_and_labels(text: &str) -> Result<(String, BTreeMap<String, String>, &str), String> {
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(text.len());
    let name = &text[..end];
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!("`{text}` does not start with a metric name"));
    }
    let mut rest = &text[end..];
    let mut labels = BTreeMap::new();
    if let Some(after) = rest.strip_prefix('{') {
        rest = after;
        loop {
            rest = rest.trim_start_matches([' ', ',']);
            if let Some(after) = rest.strip_prefix('}') {
                rest = after;
                break;
            }
            let eq = rest.find('=').ok_or("a label without `=`")?;
            let key = rest[..eq].trim();
            if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!("`{key}` is not a label name"));
            }
            let after = rest[eq + 1..].trim_start();
            let after = after
                .strip_prefix('"')
                .ok_or_else(|| format!("the value of label `{key}` is not quoted"))?;
            let (value, used) =
                quoted(after).ok_or_else(|| format!("label `{key}` is not closed"))?;
            labels.insert(key.to_owned(), value);
            rest = &after[used..];
        }
    }
    Ok((name.to_owned(), labels, rest))
}

/// The text of a quoted label value (after its opening quote) and the bytes it
/// took, closing quote included.
fn quoted(text: &str) -> Option<(String, usize)> {
    let mut out = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, i + 1)),
            '\\' => match chars.next()?.1 {
                'n' => out.push('\n'),
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# HELP http_requests_total Requests.
# TYPE http_requests_total counter
http_requests_total{route="chat",code="200"} 1027 1395066363000
http_requests_total{route="tts",code="500"} 3
msg_total{text="a \"quoted\" \\ value\n"} 1.5e3
up 1
weird_inf +Inf

process_resident_memory_bytes 2.1e+07
"#;

    #[test]
    fn reads_samples_with_labels_escapes_and_timestamps() {
        let samples = parse(TEXT).unwrap();
        assert_eq!(samples.len(), 6);
        assert_eq!(samples[0].name, "http_requests_total");
        assert_eq!(samples[0].labels["route"], "chat");
        assert_eq!(samples[0].value, 1027.0);
        assert_eq!(
            samples[0].key(),
            r#"http_requests_total{code="200",route="chat"}"#
        );
        assert_eq!(samples[2].labels["text"], "a \"quoted\" \\ value\n");
        assert_eq!(samples[2].value, 1500.0);
        assert!(samples[4].value.is_infinite());
        assert_eq!(samples[5].value, 2.1e7);
    }

    #[test]
    fn selectors_match_by_name_and_labels() {
        let samples = parse(TEXT).unwrap();
        let all = Selector::parse("http_requests_total").unwrap();
        assert_eq!(samples.iter().filter(|s| all.matches(s)).count(), 2);
        let tts = Selector::parse(r#"http_requests_total{route="tts"}"#).unwrap();
        let hit: Vec<_> = samples.iter().filter(|s| tts.matches(s)).collect();
        assert_eq!(hit.len(), 1);
        assert_eq!(hit[0].value, 3.0);
        assert!(Selector::parse("up 1").is_err());
        assert!(Selector::parse("{a=\"b\"}").is_err());
    }

    #[test]
    fn broken_lines_are_errors_not_panics() {
        for bad in [
            "x{a=\"b\" 1",
            "x{a=b} 1",
            "x 1 2 3",
            "x abc",
            "x",
            "x{=\"1\"} 2",
            "9x 1",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
