//! A strict reading of the W3C WebVTT file syntax (https://www.w3.org/TR/webvtt1/),
//! limited to what a file without regions, styles or cue settings may hold. Written
//! from the specification, independently of the service's own code, to check the
//! documents it serves.

/// A cue read from a document.
#[derive(Debug, PartialEq)]
pub struct ParsedCue {
    /// Start, in milliseconds.
    pub start_ms: u64,
    /// End, in milliseconds.
    pub end_ms: u64,
    /// Payload lines with character references decoded.
    pub lines: Vec<String>,
}

/// `[hh:]mm:ss.ttt`: hours two or more digits, minutes and seconds two digits each
/// at most 59, milliseconds three digits.
fn w3c_timestamp(text: &str) -> Result<u64, String> {
    let fail = || format!("not a WebVTT timestamp: {text:?}");
    let (clock, frac) = text.rsplit_once('.').ok_or_else(fail)?;
    let all_digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    if frac.len() != 3 || !all_digits(frac) {
        return Err(fail());
    }
    let units: Vec<&str> = clock.split(':').collect();
    if !units.iter().all(|u| all_digits(u)) {
        return Err(fail());
    }
    let value = |s: &str| s.parse::<u64>().map_err(|_| fail());
    let (hours, minutes, seconds) = match units[..] {
        [m, s] => (0, m, s),
        [h, m, s] if h.len() >= 2 => (value(h)?, m, s),
        _ => return Err(fail()),
    };
    if minutes.len() != 2 || seconds.len() != 2 {
        return Err(fail());
    }
    let (minutes, seconds) = (value(minutes)?, value(seconds)?);
    if minutes > 59 || seconds > 59 {
        return Err(fail());
    }
    Ok(((hours * 60 + minutes) * 60 + seconds) * 1000 + value(frac)?)
}

/// Decodes the character references of a cue text line; refuses tags (this service
/// never writes any) and `&` that starts no reference.
fn w3c_cue_text(line: &str) -> Result<String, String> {
    if line.contains('<') {
        return Err(format!("cue text with a tag or a bare '<': {line:?}"));
    }
    let mut out = String::new();
    let mut rest = line;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let end = after
            .find(';')
            .ok_or_else(|| format!("'&' without a reference in {line:?}"))?;
        let decoded = match &after[..end] {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "nbsp" => '\u{a0}',
            "lrm" => '\u{200e}',
            "rlm" => '\u{200f}',
            other => return Err(format!("unknown reference &{other}; in {line:?}")),
        };
        out.push(decoded);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Parses a whole document, enforcing: the `WEBVTT` signature line, a blank line
/// after the header, blocks separated by blank lines, a timing line
/// `start --> end` in each cue (with an optional identifier before it), end after
/// start, starts in non-decreasing order, and payloads without `-->`, blank lines,
/// NUL or other control characters.
pub fn w3c_parse(doc: &str) -> Result<Vec<ParsedCue>, String> {
    let doc = doc.strip_prefix('\u{feff}').unwrap_or(doc);
    // Line terminators are CRLF, LF or CR.
    let normalised = doc.replace("\r\n", "\n").replace('\r', "\n");
    let mut lines = normalised.split('\n').peekable();
    let signature = lines.next().unwrap_or_default();
    let after = signature
        .strip_prefix("WEBVTT")
        .ok_or("no WEBVTT signature")?;
    if !(after.is_empty() || after.starts_with([' ', '\t'])) {
        return Err(format!("bad signature line {signature:?}"));
    }
    // The header ends at the first blank line.
    for line in lines.by_ref() {
        if line.is_empty() {
            break;
        }
        if line.contains("-->") {
            return Err("a cue before the blank line that ends the header".into());
        }
    }
    let mut cues: Vec<ParsedCue> = Vec::new();
    let mut block: Vec<&str> = Vec::new();
    let mut blocks: Vec<Vec<&str>> = Vec::new();
    for line in lines {
        if line.is_empty() {
            if !block.is_empty() {
                blocks.push(std::mem::take(&mut block));
            }
        } else {
            block.push(line);
        }
    }
    if !block.is_empty() {
        blocks.push(block);
    }
    for block in blocks {
        let timing_at = usize::from(!block[0].contains("-->"));
        let timing = block
            .get(timing_at)
            .filter(|l| l.contains("-->"))
            .ok_or_else(|| format!("a block without a timing line: {block:?}"))?;
        let (start, rest) = timing.split_once("-->").ok_or("no arrow")?;
        let start = start.trim_end_matches([' ', '\t']);
        if start.len() == timing.find("-->").unwrap_or(0) {
            return Err(format!("no whitespace before the arrow: {timing:?}"));
        }
        let rest = rest.trim_start_matches([' ', '\t']);
        let end = rest.split([' ', '\t']).next().unwrap_or_default();
        let (start_ms, end_ms) = (w3c_timestamp(start)?, w3c_timestamp(end)?);
        if end_ms <= start_ms {
            return Err(format!("cue end {end_ms} not after start {start_ms}"));
        }
        if cues.last().is_some_and(|c| c.start_ms > start_ms) {
            return Err(format!(
                "cue at {start_ms} ms starts before the cue before it"
            ));
        }
        let payload = &block[timing_at + 1..];
        if payload.is_empty() {
            return Err(format!("a cue without payload: {block:?}"));
        }
        let mut decoded = Vec::new();
        for line in payload {
            if line.contains("-->") {
                return Err(format!("'-->' in a payload: {line:?}"));
            }
            if line.chars().any(char::is_control) {
                return Err(format!("control character in a payload: {line:?}"));
            }
            decoded.push(w3c_cue_text(line)?);
        }
        cues.push(ParsedCue {
            start_ms,
            end_ms,
            lines: decoded,
        });
    }
    Ok(cues)
}
