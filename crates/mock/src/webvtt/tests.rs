//! Tests of the WebVTT service: timestamps, escaping, cue breaking, validation, and
//! property tests that every document follows the WebVTT rules and keeps the words.

use gatebench_wire::webvtt::{Alignment, WebVttRequest};
use http::{HeaderMap, HeaderValue, header};
use proptest::prelude::*;

use super::*;

fn by_duration(text: &str, seconds: f64) -> WebVttRequest {
    WebVttRequest {
        text: text.to_owned(),
        alignment: None,
        duration_seconds: Some(seconds),
        max_chars_per_cue: None,
        max_cue_seconds: None,
    }
}

/// An alignment of `text` where every character takes `step` seconds.
fn even_alignment(text: &str, step: f64) -> Alignment {
    let n = text.chars().count();
    Alignment {
        characters: text.chars().map(String::from).collect(),
        character_start_times_seconds: (0..n).map(|i| i as f64 * step).collect(),
        character_end_times_seconds: (0..n).map(|i| (i + 1) as f64 * step).collect(),
    }
}

fn by_alignment(text: &str, alignment: Alignment) -> WebVttRequest {
    WebVttRequest {
        alignment: Some(alignment),
        duration_seconds: None,
        ..by_duration(text, 1.0)
    }
}

fn vtt(request: &WebVttRequest) -> String {
    let (cues, _) = subtitles(request).unwrap();
    document(&cues)
}

fn errors(request: &WebVttRequest) -> Vec<WebVttError> {
    subtitles(request).unwrap_err()
}

/// A cue as read back from a document: times and unescaped payload lines.
type ReadCue = (u64, u64, Vec<String>);

fn read_timestamp(text: &str) -> Result<u64, String> {
    let (clock, millis) = text.split_once('.').ok_or(format!("no '.' in {text}"))?;
    let parts: Vec<&str> = clock.split(':').collect();
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if millis.len() != 3 || !digits(millis) || !parts.iter().all(|p| digits(p)) {
        return Err(format!("bad timestamp {text}"));
    }
    let n = |s: &str| s.parse::<u64>().map_err(|e| e.to_string());
    let (h, m, s) = match parts.as_slice() {
        [m, s] => (0, *m, *s),
        [h, m, s] if h.len() >= 2 && n(h)? > 0 => (n(h)?, *m, *s),
        _ => return Err(format!("bad timestamp {text}")),
    };
    if m.len() != 2 || s.len() != 2 || n(m)? > 59 || n(s)? > 59 {
        return Err(format!("bad minutes or seconds in {text}"));
    }
    Ok(h * 3_600_000 + n(m)? * 60_000 + n(s)? * 1000 + n(millis)?)
}

fn unescape(line: &str) -> Result<String, String> {
    if line.contains('<') || line.contains("-->") {
        return Err(format!("payload line {line:?} holds a tag or an arrow"));
    }
    let mut out = String::new();
    let mut rest = line;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let (entity, c) = [("&amp;", '&'), ("&lt;", '<'), ("&gt;", '>')]
            .into_iter()
            .find(|(e, _)| tail.starts_with(e))
            .ok_or(format!("bare & in {line:?}"))?;
        out.push(c);
        rest = &tail[entity.len()..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Reads a document back, checking the rules the service promises.
fn read_document(doc: &str) -> Result<Vec<ReadCue>, String> {
    let body = doc
        .strip_prefix("WEBVTT\n")
        .ok_or("no WEBVTT header line")?;
    if body.is_empty() {
        return Ok(Vec::new());
    }
    let body = body
        .strip_prefix('\n')
        .ok_or("no blank line after the header")?;
    let body = body.strip_suffix('\n').ok_or("no final line feed")?;
    let mut cues: Vec<ReadCue> = Vec::new();
    for block in body.split("\n\n") {
        let mut lines = block.split('\n');
        let timing = lines.next().ok_or("empty block")?;
        let (start, end) = timing
            .split_once(" --> ")
            .ok_or(format!("bad timing line {timing:?}"))?;
        let (start, end) = (read_timestamp(start)?, read_timestamp(end)?);
        if end <= start {
            return Err(format!("cue ends at {end} before it starts at {start}"));
        }
        if cues.last().is_some_and(|c| c.0 > start) {
            return Err(format!("cue at {start} starts before the one before it"));
        }
        let payload: Vec<String> = lines.map(unescape).collect::<Result<_, _>>()?;
        if payload.is_empty() || payload.iter().any(|l| l.trim().is_empty()) {
            return Err(format!("empty payload line in {block:?}"));
        }
        if payload.iter().any(|l| l.chars().any(|c| c.is_control())) {
            return Err(format!("control character in {block:?}"));
        }
        cues.push((start, end, payload));
    }
    Ok(cues)
}

fn words_of(cues: &[ReadCue]) -> Vec<String> {
    cues.iter()
        .flat_map(|(_, _, lines)| lines.iter())
        .flat_map(|l| l.split(' ').map(str::to_owned))
        .collect()
}

#[test]
fn timestamps_have_hours_only_from_one_hour_on() {
    assert_eq!(timestamp(0), "00:00.000");
    assert_eq!(timestamp(61_001), "01:01.001");
    assert_eq!(timestamp(3_599_999), "59:59.999");
    assert_eq!(timestamp(3_600_000), "01:00:00.000");
    assert_eq!(timestamp(36_000_000 + 83_456), "10:01:23.456");
    assert_eq!(timestamp(360_000_000), "100:00:00.000");
}

#[test]
fn markup_characters_are_escaped() {
    assert_eq!(escape("a<b>&c -->"), "a&lt;b&gt;&amp;c --&gt;");
    let doc = vtt(&by_duration("x --> y <b>bold</b> & more", 3.0));
    assert!(
        !doc.contains("-->\n") && doc.matches("-->").count() == 1,
        "{doc}"
    );
    assert!(
        doc.contains("x --&gt; y &lt;b&gt;bold&lt;/b&gt; &amp; more"),
        "{doc}"
    );
}

#[test]
fn a_short_text_makes_the_expected_document() {
    let doc = vtt(&by_duration("Hello there. How are you?", 2.0));
    // 21 characters: "Hello" 5, "there." 6, "How" 3, "are" 3, "you?" 4; 11/21 of 2 s.
    let expected = "WEBVTT\n\n00:00.000 --> 00:01.047\nHello there.\n\n00:01.047 --> 00:02.000\nHow are you?\n";
    assert_eq!(doc, expected);
}

#[test]
fn blank_lines_and_control_characters_never_reach_a_payload() {
    let doc = vtt(&by_duration(
        "one\n\ntwo\r\n\r\nthree\u{0}four\u{7}\u{2028}five",
        5.0,
    ));
    let cues = read_document(&doc).unwrap();
    assert_eq!(words_of(&cues), ["one", "two", "three", "four", "five"]);
}

#[test]
fn cues_break_at_sentences_but_not_after_titles() {
    let request = by_duration("Dr. Who is here. Yes! Mr. Smith? No.", 6.0);
    let (cues, _) = subtitles(&request).unwrap();
    let texts: Vec<String> = cues.iter().map(CueWords::text).collect();
    assert_eq!(texts, ["Dr. Who is here.", "Yes!", "Mr. Smith?", "No."]);
}

#[test]
fn cues_keep_to_the_character_and_time_limits() {
    let text = "the quick brown fox jumps over the lazy dog and runs far away into the woods";
    let mut request = by_duration(text, 60.0);
    request.max_chars_per_cue = Some(20);
    let (cues, _) = subtitles(&request).unwrap();
    assert!(
        cues.iter().all(|c| c.text().chars().count() <= 20),
        "{cues:?}"
    );
    request.max_chars_per_cue = None;
    request.max_cue_seconds = Some(5.0);
    let (cues, _) = subtitles(&request).unwrap();
    assert!(
        cues.iter().all(|c| c.end_ms - c.start_ms <= 5000),
        "{cues:?}"
    );
    assert!(
        cues.len() >= 12,
        "60 s in cues of at most 5 s: {}",
        cues.len()
    );
}

#[test]
fn a_word_longer_than_the_limit_gets_its_own_cue() {
    let long = "Supercalifragilisticexpialidocious-and-then-some";
    let mut request = by_duration(&format!("a {long} b"), 3.0);
    request.max_chars_per_cue = Some(10);
    let (cues, _) = subtitles(&request).unwrap();
    let texts: Vec<String> = cues.iter().map(CueWords::text).collect();
    assert_eq!(texts, ["a", long, "b"]);
}

#[test]
fn long_cues_wrap_over_lines_of_at_most_42_characters() {
    let text = "one two three four five six seven eight nine ten eleven twelve thirteen";
    let mut request = by_duration(text, 5.0);
    request.max_chars_per_cue = Some(100);
    let cues = read_document(&vtt(&request)).unwrap();
    assert_eq!(cues.len(), 1);
    assert!(cues[0].2.len() == 2 && cues[0].2.iter().all(|l| l.chars().count() <= LINE_CHARS));
}

#[test]
fn alignment_times_the_words_from_their_characters() {
    let text = "Hi there. Bye.";
    let request = by_alignment(text, even_alignment(text, 0.1));
    let (cues, duration) = subtitles(&request).unwrap();
    assert_eq!(duration, 1400);
    let times: Vec<(u64, u64)> = cues.iter().map(|c| (c.start_ms, c.end_ms)).collect();
    // "Hi" starts at char 0, "there." ends at char 8 (end 0.9 s); "Bye." is chars 10..14.
    assert_eq!(times, [(0, 900), (1000, 1400)]);
}

#[test]
fn alignment_may_space_the_words_differently() {
    let spoken = "Hi  there.\nBye.";
    let request = by_alignment("Hi there. Bye.", even_alignment(spoken, 0.05));
    assert_eq!(subtitles(&request).unwrap().0.len(), 2);
}

#[test]
fn json_holds_the_same_cues_as_the_document() {
    let request = by_duration("A <tag> & stuff. Then more words here, and more.", 4.2);
    let (cues, duration) = subtitles(&request).unwrap();
    let answer = json(&cues, duration);
    let read = read_document(&document(&cues)).unwrap();
    assert_eq!(answer.cues.len(), read.len());
    for (cue, (start, end, lines)) in answer.cues.iter().zip(&read) {
        assert_eq!(cue.text, lines.join(" "));
        assert_eq!((cue.start * 1000.0).round() as u64, *start);
        assert_eq!((cue.end * 1000.0).round() as u64, *end);
    }
    assert_eq!(answer.duration_seconds, 4.2);
}

#[test]
fn bad_requests_say_what_is_wrong() {
    let e = errors(&by_duration("  \n ", 1.0));
    assert_eq!(e, [WebVttError::EmptyText]);
    assert_eq!(
        e[0].loc(),
        [serde_json::json!("body"), serde_json::json!("text")]
    );

    let e = errors(&by_duration("hi", 0.0));
    assert!(matches!(
        e[..],
        [WebVttError::OutOfRange {
            field: "duration_seconds",
            ..
        }]
    ));
    assert!(e[0].to_string().contains("greater than 0"), "{}", e[0]);
    assert!(matches!(
        errors(&by_duration("hi", -2.0))[..],
        [WebVttError::OutOfRange { .. }]
    ));

    let mut request = by_duration("hi", 1.0);
    request.max_chars_per_cue = Some(9);
    request.max_cue_seconds = Some(0.0);
    let e = errors(&request);
    assert_eq!(e.len(), 2, "{e:?}");
    assert_eq!(
        e[0].to_string(),
        "max_chars_per_cue must be at least 10 (got 9)"
    );

    let mut request = by_duration("hi", 1.0);
    request.alignment = Some(even_alignment("hi", 0.1));
    assert_eq!(errors(&request), [WebVttError::BothTimings]);
    request.alignment = None;
    request.duration_seconds = None;
    assert_eq!(errors(&request), [WebVttError::NoTiming]);
}

#[test]
fn bad_alignments_say_what_is_wrong() {
    let mut a = even_alignment("hello", 0.1);
    a.character_end_times_seconds.pop();
    let e = errors(&by_alignment("hello", a));
    assert_eq!(
        e[0].to_string(),
        "alignment arrays must have the same length: characters has 5, character_start_times_seconds has 5, character_end_times_seconds has 4"
    );

    let mut a = even_alignment("hello", 0.1);
    a.character_start_times_seconds[3] = 0.05;
    let e = errors(&by_alignment("hello", a));
    assert!(
        matches!(e[..], [WebVttError::TimesDecrease { index: 3, .. }]),
        "{e:?}"
    );
    assert_eq!(e[0].loc()[3], serde_json::json!(3));

    let mut a = even_alignment("hello", 0.1);
    a.character_end_times_seconds[0] = 0.0;
    a.character_start_times_seconds[0] = 0.0;
    a.character_end_times_seconds = vec![0.0; 5];
    let e = errors(&by_alignment("hello", a));
    assert!(
        matches!(e[..], [WebVttError::EndBeforeStart { index: 1, .. }]),
        "{e:?}"
    );

    let mut a = even_alignment("hello", 0.1);
    a.character_start_times_seconds[0] = -1.0;
    assert!(matches!(
        errors(&by_alignment("hello", a))[..],
        [WebVttError::TimeOutOfRange { index: 0, .. }]
    ));

    let e = errors(&by_alignment(
        "hello world",
        even_alignment("hello wordl", 0.1),
    ));
    assert_eq!(
        e[0].to_string(),
        "alignment characters do not spell the text: word 2 is \"world\" in the text but \"wordl\" in the alignment"
    );
    let e = errors(&by_alignment("hello world", even_alignment("hello", 0.1)));
    assert!(e[0].to_string().contains("ends before word 2"), "{}", e[0]);
}

#[test]
fn zero_length_words_still_make_cues_that_end_after_they_start() {
    let a = Alignment {
        characters: vec!["a".into(), " ".into(), "b".into()],
        character_start_times_seconds: vec![0.0; 3],
        character_end_times_seconds: vec![0.0; 3],
    };
    let read = read_document(&vtt(&by_alignment("a b", a))).unwrap();
    assert_eq!(read, [(0, 1, vec!["a b".to_owned()])]);
}

#[test]
fn accept_chooses_json_only_when_preferred() {
    let accept = |value: &'static str| {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_static(value));
        wants_json(&h)
    };
    assert!(!wants_json(&HeaderMap::new()));
    assert!(accept("application/json"));
    assert!(accept("application/json, text/plain, */*"));
    assert!(!accept("*/*"));
    assert!(!accept("text/vtt"));
    assert!(!accept("text/vtt, application/json"));
    assert!(accept("text/vtt;q=0.5, application/json"));
    assert!(!accept("application/json;q=0.2, */*"));
}

fn any_text() -> impl Strategy<Value = String> {
    let word = prop_oneof![
        "[a-zA-Z']{1,12}[.,!?]?",
        "[&<>\\-]{1,5}",
        "-->",
        "\\PC{1,6}",
        "[a-z]{30,60}",
    ];
    let gap = prop_oneof![
        Just(" ".to_owned()),
        Just("\n\n".to_owned()),
        Just("\r\n".to_owned()),
        Just("\t \u{0}".to_owned()),
    ];
    proptest::collection::vec((word, gap), 1..60)
        .prop_map(|parts| parts.into_iter().map(|(w, g)| w + &g).collect())
}

proptest! {
    #[test]
    fn every_document_is_valid_and_keeps_every_word_in_order(
        text in any_text(),
        seconds in 0.001f64..360_000.0,
        max_chars in 10u32..80,
        max_seconds in 0.1f64..20.0,
    ) {
        let mut request = by_duration(&text, seconds);
        request.max_chars_per_cue = Some(max_chars);
        request.max_cue_seconds = Some(max_seconds);
        let Ok((cues, duration)) = subtitles(&request) else {
            // Only a text without words is refused.
            prop_assert!(words(&text).next().is_none());
            return Ok(());
        };
        let read = read_document(&document(&cues)).map_err(TestCaseError::fail)?;
        let expected: Vec<&str> = words(&text).collect();
        prop_assert_eq!(words_of(&read), expected);
        for cue in &cues {
            let len = cue.text().chars().count();
            prop_assert!(len <= max_chars as usize || cue.words.len() == 1);
        }
        prop_assert!(cues.iter().all(|c| c.end_ms <= duration));
    }

    #[test]
    fn alignments_make_valid_documents_too(
        text in any_text(),
        steps in proptest::collection::vec((0u32..400, 0u32..400), 0..2000),
    ) {
        let chars: Vec<char> = text.chars().collect();
        let (mut at, mut starts, mut ends) = (0u32, Vec::new(), Vec::new());
        for i in 0..chars.len() {
            let (gap, length) = steps.get(i).copied().unwrap_or((0, 50));
            at += gap;
            starts.push(f64::from(at) / 1000.0);
            at += length;
            ends.push(f64::from(at) / 1000.0);
        }
        let alignment = Alignment {
            characters: chars.iter().map(|c| c.to_string()).collect(),
            character_start_times_seconds: starts,
            character_end_times_seconds: ends,
        };
        let request = by_alignment(&text, alignment);
        let Ok((cues, _)) = subtitles(&request) else {
            prop_assert!(words(&text).next().is_none());
            return Ok(());
        };
        let read = read_document(&document(&cues)).map_err(TestCaseError::fail)?;
        let expected: Vec<&str> = words(&text).collect();
        prop_assert_eq!(words_of(&read), expected);
    }
}

/// A capacity slope too steep for a `Duration` stretches the wait to the longest
/// delay: the request past the soft limit is answered, not dropped by a panicking
/// handler.
#[tokio::test]
async fn a_steep_capacity_slope_slows_a_request_without_panicking_it() {
    use tower::ServiceExt as _;

    let (profile, core) = crate::config::steep_service("webvtt");
    let app = app(Arc::clone(&core), &profile, &Control::default());
    let _in_flight = core.enter(CAPACITY_KEY).unwrap();
    let request = http::Request::post(ROUTE)
        .header("content-type", "application/json")
        .body(axum::body::Body::from(
            r#"{"text": "Hello there. How are you?", "duration_seconds": 2.0}"#,
        ))
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
}
