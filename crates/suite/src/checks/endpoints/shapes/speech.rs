//! ElevenLabs' shapes: MP3 audio, character alignments, the with-timestamps
//! answer and its newline-delimited stream.

use serde_json::Value;

use super::{Wrong, array, decode_base64, filled, text};

/// MP3 audio: an ID3 tag or an MPEG frame sync first.
pub fn mp3(bytes: &[u8]) -> Result<(), Wrong> {
    let sync = bytes.len() >= 2 && bytes[0] == 0xFF && bytes[1] & 0xE0 == 0xE0;
    if bytes.starts_with(b"ID3") || sync {
        Ok(())
    } else if bytes.is_empty() {
        Err("no audio".into())
    } else {
        Err(format!(
            "not MP3 (starts {:02x?})",
            &bytes[..bytes.len().min(4)]
        ))
    }
}

/// An ElevenLabs alignment: one character per entry, times ≥ 0, each ending no
/// earlier than it starts, starts in order. The characters, joined.
pub fn alignment(value: &Value, path: &str) -> Result<String, Wrong> {
    let chars = array(value, &format!("{path}.characters"))?;
    let starts = array(value, &format!("{path}.character_start_times_seconds"))?;
    let ends = array(value, &format!("{path}.character_end_times_seconds"))?;
    if chars.len() != starts.len() || chars.len() != ends.len() {
        return Err(format!(
            "{path}: {} characters, {} starts, {} ends",
            chars.len(),
            starts.len(),
            ends.len()
        ));
    }
    let mut joined = String::new();
    let mut previous = 0.0;
    for i in 0..chars.len() {
        let c = chars[i].as_str().filter(|c| c.chars().count() == 1);
        let c = c.ok_or_else(|| format!("`{path}.characters.{i}` is not one character"))?;
        joined.push_str(c);
        let (start, end) = (starts[i].as_f64(), ends[i].as_f64());
        let (Some(start), Some(end)) = (start, end) else {
            return Err(format!("{path}: time {i} is not a number"));
        };
        if start < 0.0 || end < start || start < previous {
            return Err(format!(
                "{path}: character {i} runs {start}..{end} after a start at {previous}"
            ));
        }
        previous = start;
    }
    Ok(joined)
}

/// `{audio_base64, alignment, normalized_alignment}` with MP3 audio; the alignment's
/// characters, joined.
pub fn audio_with_timestamps(value: &Value) -> Result<String, Wrong> {
    let audio = decode_base64(filled(value, "audio_base64")?)
        .map_err(|e| format!("`audio_base64`: {e}"))?;
    mp3(&audio).map_err(|e| format!("`audio_base64`: {e}"))?;
    let spoken = alignment(value, "alignment")?;
    alignment(value, "normalized_alignment")?;
    Ok(spoken)
}

/// Newline-delimited `{audio_base64, alignment|null, normalized_alignment|null}`
/// chunks whose audio starts as MP3; the alignments' characters joined, and the count.
pub fn timestamp_lines(body: &str) -> Result<(String, usize), Wrong> {
    let mut spoken = String::new();
    let mut count = 0;
    for (i, line) in body.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        let value: Value =
            serde_json::from_str(line).map_err(|e| format!("line {i} is not JSON: {e}"))?;
        let audio = decode_base64(text(&value, "audio_base64")?)
            .map_err(|e| format!("line {i}: `audio_base64`: {e}"))?;
        if i == 0 {
            mp3(&audio).map_err(|e| format!("line 0: {e}"))?;
        }
        for key in ["alignment", "normalized_alignment"] {
            match value.get(key) {
                Some(Value::Null) => {}
                Some(_) => {
                    let chars = alignment(&value, key).map_err(|e| format!("line {i}: {e}"))?;
                    if key == "alignment" {
                        spoken.push_str(&chars);
                    }
                }
                None => return Err(format!("line {i}: `{key}` is missing")),
            }
        }
        count += 1;
    }
    if count == 0 {
        return Err("no lines".into());
    }
    Ok((spoken, count))
}
