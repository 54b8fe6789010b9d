//! gatebench's own services: the personality answer, and WebVTT as a document or
//! as JSON cues.

use serde_json::Value;

use super::{Wrong, clip, filled, items, number, text, whole};

/// The personality service's answer; its age band.
pub fn personality(value: &Value) -> Result<String, Wrong> {
    let band = text(value, "age_band")?;
    if !["3-5", "6-8", "9-12"].contains(&band) {
        return Err(format!("`age_band` is `{band}`"));
    }
    let traits = items(value, "traits")?;
    let mut previous = f64::INFINITY;
    for i in 0..traits.len() {
        filled(value, &format!("traits.{i}.name"))?;
        filled(value, &format!("traits.{i}.description"))?;
        let score = number(value, &format!("traits.{i}.score"))?;
        if !(0.0..=1.0).contains(&score) || score > previous {
            return Err(format!(
                "`traits.{i}.score` {score} is outside [0, 1] or above the one before"
            ));
        }
        previous = score;
    }
    filled(value, "tone")?;
    for field in ["grade", "lexile", "description"] {
        filled(value, &format!("reading_level.{field}"))?;
    }
    whole(value, "reading_level.words_per_sentence")?;
    let guidelines = items(value, "guidelines")?;
    for i in 0..guidelines.len() {
        filled(value, &format!("guidelines.{i}"))?;
    }
    Ok(format!(
        "band {band}, {} traits, {} guidelines",
        traits.len(),
        guidelines.len()
    ))
}

/// `mm:ss.ttt` or `hh:mm:ss.ttt`, in milliseconds.
fn vtt_time(s: &str) -> Option<u64> {
    let (clock, millis) = s.split_once('.')?;
    if millis.len() != 3 {
        return None;
    }
    let parts: Vec<&str> = clock.split(':').collect();
    let number = |p: &str| {
        p.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| p.parse::<u64>().ok())
            .flatten()
    };
    let (h, m, sec) = match parts.as_slice() {
        [m, s] if m.len() == 2 => (0, number(m)?, number(s)?),
        [h, m, s] if h.len() >= 2 && m.len() == 2 => (number(h)?, number(m)?, number(s)?),
        _ => return None,
    };
    if m > 59 || sec > 59 {
        return None;
    }
    Some(((h * 60 + m) * 60 + sec) * 1000 + number(millis)?)
}

/// A WebVTT document: the `WEBVTT` header and cues whose timings end after they
/// start, in order; the number of cues.
pub fn webvtt_document(body: &str) -> Result<usize, Wrong> {
    let body = body.strip_prefix('\u{feff}').unwrap_or(body);
    let header = body.lines().next().unwrap_or_default();
    if !(header == "WEBVTT" || header.starts_with("WEBVTT ") || header.starts_with("WEBVTT\t")) {
        return Err(format!(
            "the first line is `{}`, not `WEBVTT`",
            clip(header, 40)
        ));
    }
    let mut cues = 0;
    let mut previous = 0;
    for line in body.lines().filter(|l| l.contains("-->")) {
        let mut parts = line.split_whitespace();
        let (start, arrow, end) = (parts.next(), parts.next(), parts.next());
        let times = (start.and_then(vtt_time), arrow, end.and_then(vtt_time));
        let (Some(start), Some("-->"), Some(end)) = times else {
            return Err(format!("bad cue timing `{}`", clip(line, 60)));
        };
        if end <= start || start < previous {
            return Err(format!("cue timing `{line}` out of order"));
        }
        previous = start;
        cues += 1;
    }
    if cues == 0 {
        return Err("no cues".into());
    }
    Ok(cues)
}

/// The WebVTT service's JSON: cues `{start, end, text}` in order, within the
/// timeline; the number of cues.
pub fn webvtt_json(value: &Value) -> Result<usize, Wrong> {
    let cues = items(value, "cues")?;
    let mut previous = 0.0;
    for i in 0..cues.len() {
        let start = number(value, &format!("cues.{i}.start"))?;
        let end = number(value, &format!("cues.{i}.end"))?;
        filled(value, &format!("cues.{i}.text"))?;
        if start < previous || end <= start {
            return Err(format!(
                "cue {i} runs {start}..{end} after a start at {previous}"
            ));
        }
        previous = start;
    }
    let duration = number(value, "duration_seconds")?;
    let last_end = number(value, &format!("cues.{}.end", cues.len() - 1))?;
    if duration + 1e-9 < last_end {
        return Err(format!(
            "`duration_seconds` {duration} ends before the last cue ({last_end})"
        ));
    }
    Ok(cues.len())
}
