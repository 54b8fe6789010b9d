//! The `stream-input` WebSocket, driven with tokio-tungstenite.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use futures::{SinkExt as _, StreamExt as _};
use gatebench_mock::Profile;
use gatebench_wire::elevenlabs::StreamOutputMessage;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

use super::{RACHEL, TEXT, client, start, start_with};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(url: &str, query: &str) -> Socket {
    let ws = url.replacen("http://", "ws://", 1);
    let (socket, _) = tokio_tungstenite::connect_async(format!(
        "{ws}/v1/text-to-speech/{RACHEL}/stream-input?{query}"
    ))
    .await
    .unwrap();
    socket
}

async fn send(socket: &mut Socket, value: Value) {
    socket.send(Message::text(value.to_string())).await.unwrap();
}

/// Reads until the connection ends: (JSON messages, close code if a close frame came).
/// Reading on after the close frame lets the client answer it, as a real client does.
async fn read_all(socket: &mut Socket) -> (Vec<Value>, Option<u16>) {
    let mut messages = Vec::new();
    let mut code = None;
    loop {
        let next = tokio::time::timeout(Duration::from_secs(20), socket.next()).await;
        match next.unwrap() {
            Some(Ok(Message::Text(text))) => {
                messages.push(serde_json::from_str(text.as_str()).unwrap())
            }
            Some(Ok(Message::Close(frame))) => code = frame.map(|f| u16::from(f.code)),
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return (messages, code),
        }
    }
}

#[tokio::test]
async fn the_websocket_speaks_text_as_it_arrives() {
    let (mocks, url) = start().await;
    let mut socket = connect(&url, "model_id=eleven_flash_v2_5&output_format=pcm_16000").await;
    send(&mut socket, json!({ "text": " ", "voice_settings": { "stability": 0.5, "speed": 1.0 }, "generation_config": { "chunk_length_schedule": [50] } })).await;
    let first = "Once upon a time, in a quiet village by the sea, there lived ";
    let second = "a curious child ";
    let third = "who loved stories. ";
    send(&mut socket, json!({ "text": first })).await;
    send(&mut socket, json!({ "text": second })).await;
    send(&mut socket, json!({ "text": third, "flush": true })).await;
    send(&mut socket, json!({ "text": "" })).await;
    let (messages, code) = read_all(&mut socket).await;
    assert_eq!(code, Some(1000));
    let (last, audio) = messages.split_last().unwrap();
    assert_eq!(last["isFinal"], true);
    assert!(audio.len() >= 2, "{messages:?}");
    let mut spoken = String::new();
    for message in audio {
        assert!(message["isFinal"].is_null());
        let parsed: StreamOutputMessage = serde_json::from_value(message.clone()).unwrap();
        let bytes = STANDARD.decode(parsed.audio.unwrap()).unwrap();
        let alignment = parsed.alignment.unwrap();
        let normalized = parsed.normalized_alignment.unwrap();
        let total: u64 = normalized.chars_durations_ms.iter().sum();
        assert_eq!(alignment.chars_durations_ms.iter().sum::<u64>(), total);
        let mut at = 0;
        for (start, duration) in normalized
            .char_start_times_ms
            .iter()
            .zip(&normalized.chars_durations_ms)
        {
            assert_eq!(*start, at);
            at += duration;
        }
        let samples = (total as f64 * 16.0).round() as usize;
        assert_eq!(bytes.len(), samples * 2);
        spoken.push_str(&alignment.chars.concat());
    }
    assert_eq!(spoken, format!("{first}{second}{third}"));
    let stats: Value = client()
        .get(format!("{url}/_mock/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let route = "/v1/text-to-speech/{voice_id}/stream-input";
    assert_eq!(stats["by_route"][route]["ok"], 1, "{stats}");
    mocks.shutdown().await;
}

#[tokio::test]
async fn websocket_errors_are_reported_and_close_the_socket() {
    let mut profile = Profile::default();
    profile.elevenlabs.api_keys = vec!["sk-ws".into()];
    let (mocks, url) = start_with(profile, 0.0).await;

    // The key may come in the first message.
    let mut socket = connect(&url, "output_format=mp3_22050_32").await;
    send(&mut socket, json!({ "text": " ", "xi_api_key": "sk-ws" })).await;
    send(
        &mut socket,
        json!({ "text": "Short and sweet. ", "flush": true }),
    )
    .await;
    send(&mut socket, json!({ "text": "" })).await;
    let (messages, code) = read_all(&mut socket).await;
    assert_eq!(code, Some(1000));
    let audio = STANDARD
        .decode(messages[0]["audio"].as_str().unwrap())
        .unwrap();
    assert_eq!(&audio[..2], &[0xFF, 0xF3], "MPEG-2 Layer III frames");

    // No key at all.
    let mut socket = connect(&url, "").await;
    send(&mut socket, json!({ "text": " " })).await;
    let (messages, code) = read_all(&mut socket).await;
    assert_eq!(
        (messages[0]["error"].as_str(), code),
        (Some("needs_authorization"), Some(1008))
    );

    // Malformed JSON.
    let mut socket = connect(&url, "").await;
    socket.send(Message::text("{\"text\": ")).await.unwrap();
    let (messages, code) = read_all(&mut socket).await;
    assert_eq!(
        (messages[0]["error"].as_str(), code),
        (Some("invalid_message"), Some(1008))
    );

    // A binary frame.
    let mut socket = connect(&url, "").await;
    socket.send(Message::binary(vec![1, 2, 3])).await.unwrap();
    let (_, code) = read_all(&mut socket).await;
    assert_eq!(code, Some(1003));

    // A text frame that is not UTF-8: the server drops the connection, no panic.
    let mut socket = connect(&url, "").await;
    let frame = Frame::message(vec![0xC3, 0x28, 0xFF], OpCode::Data(Data::Text), true);
    let _ = socket.send(Message::Frame(frame)).await;
    let _ = read_all(&mut socket).await;

    // A bad query is refused before the upgrade.
    let ws = url.replacen("http://", "ws://", 1);
    let refused = tokio_tungstenite::connect_async(format!(
        "{ws}/v1/text-to-speech/{RACHEL}/stream-input?output_format=flac"
    ))
    .await;
    assert!(refused.is_err());

    assert_eq!(
        client()
            .get(format!("{url}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    mocks.shutdown().await;
}

#[tokio::test]
async fn a_websocket_stream_cut_drops_the_connection_without_is_final() {
    let (mocks, url) = start().await;
    client()
        .put(format!("{url}/_mock/faults"))
        .json(&json!({ "stream_cut": 1.0 }))
        .send()
        .await
        .unwrap();
    let mut socket = connect(&url, "").await;
    send(&mut socket, json!({ "text": " " })).await;
    send(&mut socket, json!({ "text": TEXT, "flush": true })).await;
    let _ = socket
        .send(Message::text(
            json!({ "text": TEXT, "flush": true }).to_string(),
        ))
        .await;
    let _ = socket
        .send(Message::text(json!({ "text": "" }).to_string()))
        .await;
    let (messages, code) = read_all(&mut socket).await;
    assert_eq!(code, None, "no close frame");
    assert!(!messages.is_empty());
    assert!(messages.iter().all(|m| m["isFinal"].is_null()));
    mocks.shutdown().await;
}
