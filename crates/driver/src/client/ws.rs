//! The ElevenLabs `stream-input` WebSocket: send text in chunks, read audio until the
//! final message.
//!
//! Protocol: an init message `{"text": " "}`, text messages, then `{"text": ""}` to
//! finish; the server answers with `{"audio": base64, "isFinal": ..., ...}` messages
//! and ends with `isFinal: true` (or closes normally after its last audio). A
//! connection that closes before any final marker and without audio is a stream cut.

use std::time::Instant;

use futures::{SinkExt as _, StreamExt as _};
use serde::Deserialize;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

use super::tls::Stream;
use super::{Exchange, Prepared};
use crate::Outcome;
use crate::payload::Payload;
use crate::targets::Endpoint;

#[derive(Deserialize)]
struct Reply {
    #[serde(default)]
    audio: Option<String>,
    #[serde(default, rename = "isFinal")]
    is_final: Option<bool>,
    #[serde(default)]
    error: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    message: Option<serde::de::IgnoredAny>,
}

pub(super) async fn exchange(
    endpoint: &Endpoint,
    prepared: &Prepared,
    payload: Payload,
) -> Exchange {
    let scheme = if endpoint.tls.is_some() { "wss" } else { "ws" };
    let url = format!("{scheme}://{}{}", endpoint.host, prepared.path);
    let mut request = match url.as_str().into_client_request() {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, url, "cannot build a websocket request");
            return Exchange::failed(Outcome::ValidationFailure);
        }
    };
    for (name, value) in &prepared.headers {
        if name != http::header::CONTENT_TYPE {
            request.headers_mut().insert(name.clone(), value.clone());
        }
    }
    let stream = match Stream::open(endpoint.addr, endpoint.tls.as_deref()).await {
        Ok(s) => s,
        Err(failure) => return Exchange::failed(failure.outcome()),
    };
    let (mut socket, response) = match tokio_tungstenite::client_async(request, stream).await {
        Ok(pair) => pair,
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            let mut ex = Exchange::failed(Outcome::Http(resp.status().as_u16()));
            ex.status = resp.status().as_u16();
            return ex;
        }
        Err(_) => return Exchange::failed(Outcome::Reset),
    };
    let mut ex = Exchange::failed(Outcome::Ok);
    ex.status = response.status().as_u16();
    ex.gateway = super::gateway::read(response.headers());
    // A server that refuses the stream says why and closes, which can fail a send
    // still to come: what it said is read before the failure is called a reset.
    let mut refused = false;
    for text in payload.ws_messages {
        if socket.send(Message::Text(text.into())).await.is_err() {
            refused = true;
            break;
        }
    }
    let mut audio_bytes = 0u64;
    let mut finished = false;
    while let Some(message) = socket.next().await {
        let data = match message {
            Ok(Message::Text(t)) => t.as_bytes().to_vec(),
            Ok(Message::Binary(b)) => b.to_vec(),
            Ok(Message::Close(_)) => break,
            Ok(_) => continue,
            Err(_) => {
                ex.outcome = if refused {
                    Outcome::Reset
                } else {
                    Outcome::StreamCut
                };
                ex.bytes = audio_bytes;
                return ex;
            }
        };
        ex.bytes += data.len() as u64;
        let reply: Reply = match serde_json::from_slice(&data) {
            Ok(r) => r,
            Err(_) => {
                ex.outcome = Outcome::MalformedBody;
                return ex;
            }
        };
        // the API's own error message (`{"message", "error", "code"}`), then the close
        if reply.error.is_some()
            || (reply.message.is_some() && reply.audio.is_none() && reply.is_final.is_none())
        {
            ex.outcome = Outcome::StreamError;
            ex.error = super::error_message(&data);
            return ex;
        }
        if let Some(a) = reply.audio.filter(|a| !a.is_empty()) {
            if ex.ttfb.is_none() {
                ex.ttfb = Some(Instant::now());
            }
            audio_bytes += (a.len() as u64 / 4) * 3;
        }
        if reply.is_final == Some(true) {
            finished = true;
            break;
        }
    }
    let _ = socket.close(None).await;
    ex.outcome = if refused {
        Outcome::Reset
    } else if audio_bytes == 0 && finished {
        Outcome::ValidationFailure
    } else if audio_bytes == 0 {
        Outcome::StreamCut
    } else {
        Outcome::Ok
    };
    ex
}
