//! The shape validators on good samples, and on each way a sample can be wrong.

use serde_json::{Value, json};

use super::*;

fn chat() -> Value {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1_700_000_000u64, "model": "gpt-4o-mini",
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": "Hello." }, "finish_reason": "stop" }],
        "usage": { "prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12,
                   "prompt_tokens_details": { "cached_tokens": 0 } }
    })
}

fn broken(mut value: Value, path: &str, replacement: Value) -> Value {
    let mut here = &mut value;
    let parts: Vec<&str> = path.split('.').collect();
    for part in &parts[..parts.len() - 1] {
        here = match part.parse::<usize>() {
            Ok(i) => &mut here[i],
            Err(_) => &mut here[*part],
        };
    }
    let last = parts[parts.len() - 1];
    match (here, last.parse::<usize>()) {
        (Value::Object(map), _) if last.starts_with('-') => {
            map.remove(&last[1..]);
        }
        (here, Ok(i)) => here[i] = replacement,
        (here, Err(_)) => here[last] = replacement,
    }
    value
}

#[test]
fn a_chat_completion_is_judged_field_by_field() {
    assert!(chat_completion(&chat()).is_ok());
    let cases = [
        ("object", json!("chat.completion.chunk"), "`object`"),
        (
            "choices.0.message.-content",
            Value::Null,
            "choices.0.message.content",
        ),
        ("choices.0.finish_reason", json!("tired"), "finish_reason"),
        ("usage.total_tokens", json!(13), "total_tokens"),
        ("usage.-prompt_tokens_details", Value::Null, "cached_tokens"),
        (
            "usage.prompt_tokens_details.cached_tokens",
            json!(10),
            "cached tokens",
        ),
        ("created", json!("yesterday"), "created"),
    ];
    for (path, value, said) in cases {
        let error = chat_completion(&broken(chat(), path, value)).unwrap_err();
        assert!(error.contains(said), "{path}: {error}");
    }
}

fn sse(events: &[Value], done: bool) -> String {
    let mut body: String = events.iter().map(|e| format!("data: {e}\n\n")).collect();
    if done {
        body.push_str("data: [DONE]\n\n");
    }
    body
}

fn chunk(content: Option<&str>, finish: Option<&str>) -> Value {
    json!({ "id": "c1", "object": "chat.completion.chunk", "created": 1u64, "model": "m",
            "choices": [{ "index": 0, "delta": { "content": content }, "finish_reason": finish }] })
}

fn usage_chunk() -> Value {
    json!({ "id": "c1", "object": "chat.completion.chunk", "created": 1u64, "model": "m", "choices": [],
            "usage": { "prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7 } })
}

#[test]
fn a_chat_stream_needs_done_one_finish_and_usage_only_when_asked() {
    let plain = [
        chunk(Some("Hel"), None),
        chunk(Some("lo"), None),
        chunk(None, Some("stop")),
    ];
    assert!(
        chat_stream(&sse(&plain, true), false)
            .unwrap()
            .contains("5 chars")
    );
    assert!(
        chat_stream(&sse(&plain, false), false)
            .unwrap_err()
            .contains("[DONE]")
    );
    let mut with_usage = plain.to_vec();
    with_usage.push(usage_chunk());
    assert!(
        chat_stream(&sse(&with_usage, true), true)
            .unwrap()
            .contains("5+2=7")
    );
    assert!(
        chat_stream(&sse(&with_usage, true), false)
            .unwrap_err()
            .contains("without include_usage")
    );
    assert!(
        chat_stream(&sse(&plain, true), true)
            .unwrap_err()
            .contains("usage expected")
    );
    let twice = [
        chunk(Some("a"), Some("stop")),
        chunk(Some("b"), Some("stop")),
    ];
    assert!(
        chat_stream(&sse(&twice, true), false)
            .unwrap_err()
            .contains("finish reason")
    );
    let mut other_id = chunk(Some("b"), Some("stop"));
    other_id["id"] = json!("c2");
    assert!(
        chat_stream(&sse(&[chunk(Some("a"), None), other_id], true), false)
            .unwrap_err()
            .contains("ids")
    );
    assert!(
        chat_stream("data: {not json\n\ndata: [DONE]\n\n", false)
            .unwrap_err()
            .contains("not JSON")
    );
    assert!(
        chat_stream("hello\n", false)
            .unwrap_err()
            .contains("not a server-sent event")
    );
}

#[test]
fn embeddings_are_judged_as_floats_or_base64() {
    let floats = json!({ "object": "list", "model": "e", "usage": { "prompt_tokens": 2, "total_tokens": 2 },
                         "data": [{ "object": "embedding", "index": 0, "embedding": [0.5, -0.25, 0.0] }] });
    assert!(embeddings(&floats, 3, false).is_ok());
    assert!(
        embeddings(&floats, 4, false)
            .unwrap_err()
            .contains("3 dimensions")
    );
    assert!(
        embeddings(
            &broken(floats.clone(), "data.0.embedding.1", json!("x")),
            3,
            false
        )
        .is_err()
    );
    assert!(
        embeddings(
            &broken(floats.clone(), "usage.total_tokens", json!(3)),
            3,
            false
        )
        .is_err()
    );
    // Three f32 are 12 bytes: 16 base64 characters.
    let b64 = broken(floats, "data.0.embedding", json!("AAAAPwAAgL4AAAAA"));
    assert!(embeddings(&b64, 3, true).is_ok());
    assert!(
        embeddings(
            &broken(b64.clone(), "data.0.embedding", json!("AAAA")),
            3,
            true
        )
        .is_err()
    );
    assert!(embeddings(&broken(b64, "data.0.embedding", json!("AA*A")), 1, true).is_err());
}

#[test]
fn base64_decodes_with_and_without_padding() {
    assert_eq!(decode_base64("aGVsbG8=").unwrap(), b"hello");
    assert_eq!(decode_base64("aGk=").unwrap(), b"hi");
    assert_eq!(decode_base64("aGV5").unwrap(), b"hey");
    assert_eq!(decode_base64("aA==").unwrap(), b"h");
    assert_eq!(decode_base64("").unwrap(), b"");
    assert!(decode_base64("aGk").is_err());
    assert!(decode_base64("a===").is_err());
    assert!(decode_base64("a-b_").is_err());
}

#[test]
fn error_bodies_follow_their_providers_shapes() {
    let openai = json!({ "error": { "message": "no", "type": "invalid_request_error", "param": "model", "code": null } });
    let info = openai_error(&openai).unwrap();
    assert_eq!((info.param.as_deref(), info.code), (Some("model"), None));
    assert!(
        openai_error(&broken(openai.clone(), "error.-code", Value::Null))
            .unwrap_err()
            .contains("code")
    );
    assert!(openai_error(&broken(openai.clone(), "error.code", json!(3))).is_err());
    assert!(openai_error(&broken(openai, "error.message", json!(""))).is_err());
    assert!(openai_error(&json!({ "detail": "x" })).is_err());

    let validation = json!({ "detail": [{ "loc": ["body", "age"], "msg": "too old", "type": "less_than_equal" }] });
    assert_eq!(validation_error(&validation).unwrap(), ["body.age"]);
    assert!(validation_error(&json!({ "detail": [] })).is_err());
    assert!(validation_error(&json!({ "detail": [{ "loc": ["body"], "msg": "m" }] })).is_err());
    let status = json!({ "detail": { "status": "voice_not_found", "message": "A voice..." } });
    assert_eq!(status_error(&status).unwrap(), "voice_not_found");
    assert!(status_error(&validation).is_err());
}

#[test]
fn money_is_a_decimal_string_never_a_float() {
    assert_eq!(decimal("0.000123").unwrap().to_string(), "0.000123");
    assert!(decimal("12").is_ok());
    assert!(decimal("-1.5").is_ok());
    for bad in ["1e-5", "", ".5", "5.", "0.1.2", "NaN", " 1"] {
        assert!(decimal(bad).is_err(), "{bad}");
    }
}

fn totals() -> Value {
    json!({ "tenant": "alpha", "cost_usd": "0.3", "saved_usd": "0.1", "requests": 3, "cache_hits": 1,
            "by_model": {
                "a": { "cost_usd": "0.1", "saved_usd": "0", "requests": 1, "units": {} },
                "b": { "cost_usd": "0.2", "saved_usd": "0.1", "requests": 2, "units": {} } } })
}

#[test]
fn usage_totals_add_up_to_their_models() {
    let parsed = usage(&totals()).unwrap();
    assert_eq!(
        (
            parsed.tenant.as_str(),
            parsed.requests,
            parsed.cost.to_string()
        ),
        ("alpha", 3, "0.3".into())
    );
    assert!(
        usage(&broken(totals(), "cost_usd", json!("0.31")))
            .unwrap_err()
            .contains("adds up")
    );
    assert!(usage(&broken(totals(), "cost_usd", json!(0.3))).is_err());
    assert!(usage(&broken(totals(), "cache_hits", json!(4))).is_err());
    assert!(usage(&broken(totals(), "by_model.a.-units", Value::Null)).is_err());
}

fn entry(id: u64) -> Value {
    json!({ "id": id, "request_id": format!("gb-{id}"), "tenant": "alpha", "cost_usd": "0.01", "saved_usd": "0",
            "model": "m", "cache": "miss", "usage": {}, "attempts": 1 })
}

#[test]
fn ledger_pages_are_ordered_and_point_to_their_end() {
    let page = json!({ "object": "list", "data": [entry(3), entry(7)], "has_more": true, "next_after": 7 });
    let parsed = ledger_page(&page, 5).unwrap();
    assert_eq!(
        (parsed.ids, parsed.has_more, parsed.next_after),
        (vec![3, 7], true, Some(7))
    );
    assert!(ledger_page(&page, 1).is_err());
    assert!(ledger_page(&broken(page.clone(), "next_after", json!(3)), 5).is_err());
    assert!(
        ledger_page(&broken(page.clone(), "data.1.id", json!(2)), 5)
            .unwrap_err()
            .contains("order")
    );
    assert!(ledger_page(&broken(page.clone(), "data.0.cost_usd", json!(0.01)), 5).is_err());
    assert!(ledger_page(&broken(page, "data.0.cache", json!("maybe")), 5).is_err());
    let empty = json!({ "object": "list", "data": [], "has_more": false, "next_after": null });
    assert!(ledger_page(&empty, 5).is_ok());
}

#[test]
fn server_timing_needs_every_stage() {
    let header = "queue;dur=0.2, cache;dur=0.05, upstream;dur=12.5, total;dur=13.1";
    let stages = ["queue", "cache", "upstream", "total"];
    assert_eq!(server_timing(header, &stages).unwrap()["upstream"], 12.5);
    assert!(
        server_timing("queue;dur=1, total;dur=2", &stages)
            .unwrap_err()
            .contains("cache")
    );
    assert!(server_timing("queue;dur=x", &["queue"]).is_err());
    assert!(server_timing("queue;desc=\"q\";dur=1", &["queue"]).is_ok());
}

#[test]
fn webvtt_documents_and_json_have_ordered_cues() {
    let doc =
        "WEBVTT\n\n00:00.000 --> 00:01.020\nHello there.\n\n00:01.020 --> 01:00:02.500\nBye.\n";
    assert_eq!(webvtt_document(doc).unwrap(), 2);
    assert!(webvtt_document("WEBVTTX\n\n00:00.000 --> 00:01.000\nx\n").is_err());
    assert!(webvtt_document("WEBVTT\n\n00:02.000 --> 00:01.000\nx\n").is_err());
    assert!(webvtt_document("WEBVTT\n\n0:00.000 --> 00:01.000\nx\n").is_err());
    assert!(webvtt_document("WEBVTT\n").unwrap_err().contains("no cues"));
    let cues = json!({ "cues": [{ "start": 0.0, "end": 1.02, "text": "Hi." }, { "start": 1.02, "end": 2.0, "text": "Bye." }],
                       "duration_seconds": 2.5 });
    assert_eq!(webvtt_json(&cues).unwrap(), 2);
    assert!(webvtt_json(&broken(cues.clone(), "duration_seconds", json!(1.5))).is_err());
    assert!(webvtt_json(&broken(cues.clone(), "cues.1.end", json!(1.0))).is_err());
    let early = broken(
        broken(cues.clone(), "cues.0.start", json!(1.5)),
        "cues.0.end",
        json!(1.6),
    );
    assert!(
        webvtt_json(&early)
            .unwrap_err()
            .contains("after a start at 1.5")
    );
    assert!(webvtt_json(&broken(cues, "cues.0.text", json!(""))).is_err());
}

fn timed(text: &str) -> Value {
    let chars: Vec<String> = text.chars().map(String::from).collect();
    let starts: Vec<f64> = (0..chars.len()).map(|i| i as f64 * 0.1).collect();
    let ends: Vec<f64> = starts.iter().map(|s| s + 0.1).collect();
    let alignment = json!({ "characters": chars, "character_start_times_seconds": starts, "character_end_times_seconds": ends });
    // An MPEG frame header, base64.
    json!({ "audio_base64": "//NExAA=", "alignment": alignment, "normalized_alignment": alignment })
}

#[test]
fn alignments_spell_their_text_in_time_order() {
    assert_eq!(
        audio_with_timestamps(&timed("Hi there")).unwrap(),
        "Hi there"
    );
    assert!(
        audio_with_timestamps(&broken(timed("Hi"), "audio_base64", json!("SUQ=")))
            .unwrap_err()
            .contains("MP3")
    );
    assert!(
        audio_with_timestamps(&broken(timed("Hi"), "alignment.characters.0", json!("ab"))).is_err()
    );
    let backwards = broken(
        timed("Hi"),
        "alignment.character_start_times_seconds.1",
        json!(0.0),
    );
    assert!(
        audio_with_timestamps(&broken(
            backwards,
            "alignment.character_end_times_seconds.0",
            json!(-1.0)
        ))
        .is_err()
    );
    let short = broken(
        timed("Hi"),
        "normalized_alignment.character_end_times_seconds",
        json!([0.1]),
    );
    assert!(audio_with_timestamps(&short).is_err());

    let mut second = timed("yo");
    second["normalized_alignment"] = Value::Null;
    let lines = format!("{}\n{}\n", timed("Hi "), second);
    assert_eq!(timestamp_lines(&lines).unwrap(), ("Hi yo".to_owned(), 2));
    assert!(timestamp_lines("\n").is_err());
    assert!(
        timestamp_lines("{\"audio_base64\": \"//NExAA=\"}\n")
            .unwrap_err()
            .contains("alignment")
    );
}

#[test]
fn personality_answers_have_ranked_traits() {
    let answer = json!({
        "age_band": "6-8", "tone": "upbeat",
        "traits": [{ "name": "inquisitive", "score": 0.81, "description": "Asks." },
                   { "name": "kind", "score": 0.5, "description": "Shares." }],
        "reading_level": { "grade": "Grade 2", "lexile": "420L-650L", "words_per_sentence": 10, "description": "Early." },
        "guidelines": ["Short sentences."] });
    assert!(personality(&answer).unwrap().contains("2 traits"));
    assert!(personality(&broken(answer.clone(), "age_band", json!("adult"))).is_err());
    assert!(personality(&broken(answer.clone(), "traits.1.score", json!(0.9))).is_err());
    assert!(personality(&broken(answer.clone(), "traits.0.score", json!(1.5))).is_err());
    assert!(
        personality(&broken(
            answer.clone(),
            "reading_level.-lexile",
            Value::Null
        ))
        .is_err()
    );
    assert!(personality(&broken(answer, "guidelines", json!([]))).is_err());
}

#[test]
fn models_are_listed_once_each() {
    let list = json!({ "object": "list", "data": [
        { "id": "a", "object": "model", "created": 1, "owned_by": "openai" },
        { "id": "b", "object": "model", "created": 1, "owned_by": "openai" } ] });
    assert!(model_list(&list, &["a", "b"]).is_ok());
    assert!(model_list(&list, &["c"]).unwrap_err().contains("`c`"));
    assert!(
        model_list(&broken(list.clone(), "data.1.id", json!("a")), &[])
            .unwrap_err()
            .contains("twice")
    );
    assert!(model_list(&broken(list, "data.0.object", json!("thing")), &[]).is_err());
}

#[test]
fn metrics_need_a_sample_of_the_metric() {
    let text = "# TYPE gatebench_requests counter\ngatebench_requests_total{route=\"chat\",status=\"200\"} 3\n# EOF\n";
    assert_eq!(prometheus(text, "gatebench_requests_total").unwrap(), 1);
    assert!(prometheus(text, "gatebench_cache_total").is_err());
    assert!(
        prometheus(
            "gatebench_requests_total{route=\"chat\"} many\n",
            "gatebench_requests_total"
        )
        .is_err()
    );
}

#[test]
fn mp3_audio_starts_with_a_tag_or_a_frame() {
    assert!(mp3(b"ID3\x04").is_ok());
    assert!(mp3(&[0xFF, 0xF3, 0x44]).is_ok());
    assert!(mp3(b"RIFF").is_err());
    assert!(mp3(b"").is_err());
}

fn text_completion_sample() -> Value {
    json!({
        "id": "cmpl-1", "object": "text_completion", "created": 1_700_000_000u64, "model": "gpt-4o-mini",
        "choices": [{ "text": " a lamp", "index": 0, "logprobs": null, "finish_reason": "length" },
                    { "text": " a bell", "index": 1, "logprobs": null, "finish_reason": "stop" }],
        "usage": { "prompt_tokens": 4, "completion_tokens": 5, "total_tokens": 9 }
    })
}

#[test]
fn a_text_completion_and_its_stream_are_judged() {
    assert!(text_completion(&text_completion_sample()).is_ok());
    let cases = [
        ("object", json!("chat.completion"), "`object`"),
        ("choices.1.index", json!(0), "choices.1.index"),
        ("choices.0.text", Value::Null, "choices.0.text"),
        ("usage.total_tokens", json!(8), "total_tokens"),
    ];
    for (path, value, said) in cases {
        let error = text_completion(&broken(text_completion_sample(), path, value)).unwrap_err();
        assert!(error.contains(said), "{path}: {error}");
    }
    let piece = |text: &str, finish: Option<&str>| {
        json!({ "id": "cmpl-1", "object": "text_completion", "created": 1u64, "model": "m",
                "choices": [{ "text": text, "index": 0, "logprobs": null, "finish_reason": finish }] })
    };
    let usage = json!({ "id": "cmpl-1", "object": "text_completion", "created": 1u64, "model": "m",
                        "choices": [], "usage": { "prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6 } });
    let plain = [piece(" a", None), piece(" lamp", Some("length"))];
    assert!(completion_stream(&sse(&plain, true), Completions::Text, false).is_ok());
    let with_usage = [plain[0].clone(), plain[1].clone(), usage];
    assert!(completion_stream(&sse(&with_usage, true), Completions::Text, true).is_ok());
    // a chat chunk is not a text completion's, nor the reverse
    let error = completion_stream(&sse(&plain, true), Completions::Chat, false).unwrap_err();
    assert!(error.contains("object"), "{error}");
    let chat = [chunk(Some("a"), Some("stop"))];
    assert!(completion_stream(&sse(&chat, true), Completions::Text, false).is_err());
    let error =
        completion_stream(&sse(&[piece(" a", None)], true), Completions::Text, false).unwrap_err();
    assert!(error.contains("finish reason"), "{error}");
}

fn response_sample(status: &str) -> Value {
    json!({
        "id": "resp_1", "object": "response", "status": status, "model": "gpt-4o-mini",
        "output": [{ "type": "message", "id": "msg_1", "status": status, "role": "assistant",
                     "content": [{ "type": "output_text", "text": "Tides rise.", "annotations": [] }] }],
        "usage": { "input_tokens": 10, "input_tokens_details": { "cached_tokens": 0 },
                   "output_tokens": 3, "output_tokens_details": { "reasoning_tokens": 0 }, "total_tokens": 13 }
    })
}

fn response_events(deltas: &[&str], last: &str) -> String {
    let mut events = vec![json!({ "type": "response.created", "response": { "id": "resp_1" } })];
    events.extend(
        deltas
            .iter()
            .map(|d| json!({ "type": "response.output_text.delta", "delta": d })),
    );
    let status = last.trim_start_matches("response.");
    events.push(json!({ "type": last, "response": response_sample(status) }));
    events
        .iter_mut()
        .enumerate()
        .map(|(i, e)| {
            e["sequence_number"] = json!(i);
            format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap())
        })
        .collect()
}

#[test]
fn a_response_and_its_event_stream_are_judged() {
    assert!(response(&response_sample("completed")).is_ok());
    assert!(response(&response_sample("incomplete")).is_ok());
    let cases = [
        ("id", json!("chatcmpl-1"), "resp_"),
        ("status", json!("failed"), "status"),
        ("output", json!([]), "output"),
        ("usage.total_tokens", json!(12), "total"),
        (
            "usage.input_tokens_details.cached_tokens",
            json!(11),
            "cached",
        ),
    ];
    for (path, value, said) in cases {
        let error = response(&broken(response_sample("completed"), path, value)).unwrap_err();
        assert!(error.contains(said), "{path}: {error}");
    }
    let good = response_events(&["Tides", " rise."], "response.completed");
    assert!(
        response_stream(&good).is_ok(),
        "{:?}",
        response_stream(&good)
    );
    assert!(response_stream(&response_events(&["Tides rise."], "response.incomplete")).is_ok());
    let cases = [
        (response_events(&["Tides"], "response.completed"), "deltas"),
        (
            response_events(&["Tides rise."], "response.failed"),
            "last event",
        ),
        (
            good.replace("\"sequence_number\":1", "\"sequence_number\":7"),
            "sequence_number",
        ),
        (
            good.replacen("response.created", "response.in_progress", 2),
            "first event",
        ),
        (format!("{good}data: [DONE]\n\n"), "not JSON"),
    ];
    for (body, said) in cases {
        let error = response_stream(&body).unwrap_err();
        assert!(error.contains(said), "{said}: {error}");
    }
}
