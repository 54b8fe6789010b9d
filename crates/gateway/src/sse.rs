//! Server-sent events, read incrementally from an upstream body.
//!
//! The gateway relays OpenAI streams event by event: it must see each event whole to
//! strip the usage chunk, collect the text for the cache and read the final usage
//! for billing. Events end at a blank line; `data:` lines are joined with `\n`;
//! comments and other fields are kept in the raw text but carry no data.

use bytes::{Bytes, BytesMut};

/// One event: its raw bytes (to forward unchanged) and its joined `data`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// The event as received, including its terminating blank line.
    pub raw: Bytes,
    /// The `data` field (lines joined with `\n`), if any.
    pub data: Option<String>,
}

/// Splits a byte stream into events.
#[derive(Debug, Default)]
pub struct EventReader {
    buffer: BytesMut,
}

/// Longest event accepted; a stream that never ends an event is broken, not slow.
const MAX_EVENT: usize = 4 * 1024 * 1024;

/// The upstream sent an event larger than [`MAX_EVENT`].
#[derive(Debug, thiserror::Error)]
#[error("server-sent event larger than {MAX_EVENT} bytes")]
pub struct EventTooLarge;

impl EventReader {
    /// Adds bytes; returns the events they complete.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<Event>, EventTooLarge> {
        self.buffer.extend_from_slice(chunk);
        let mut events = Vec::new();
        while let Some(end) = event_end(&self.buffer) {
            let raw = self.buffer.split_to(end).freeze();
            events.push(Event {
                data: data_of(&raw),
                raw,
            });
        }
        if self.buffer.len() > MAX_EVENT {
            return Err(EventTooLarge);
        }
        Ok(events)
    }

    /// Bytes received after the last complete event (a stream cut mid-event).
    pub fn pending(&self) -> usize {
        self.buffer.len()
    }
}

/// Index just past the first blank line (`\n\n`, `\r\n\r\n` or `\r\r`).
fn event_end(buf: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i + 1 < buf.len() {
        match (buf[i], buf[i + 1]) {
            (b'\n', b'\n') | (b'\r', b'\r') => return Some(i + 2),
            (b'\r', b'\n') if buf.get(i + 2..i + 4) == Some(b"\r\n") => return Some(i + 4),
            _ => i += 1,
        }
    }
    None
}

fn data_of(raw: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    let mut data: Option<String> = None;
    for line in text.lines() {
        let Some(value) = line.strip_prefix("data:") else {
            continue;
        };
        let value = value.strip_prefix(' ').unwrap_or(value);
        match &mut data {
            Some(d) => {
                d.push('\n');
                d.push_str(value);
            }
            None => data = Some(value.to_owned()),
        }
    }
    data
}

/// One `data:` event, as the gateway writes it when it replays or rewrites a stream.
pub fn data_event(data: &str) -> Bytes {
    Bytes::from(format!("data: {data}\n\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_across_chunks_are_reassembled() {
        let mut reader = EventReader::default();
        assert!(reader.push(b"data: {\"a\"").unwrap().is_empty());
        let events = reader.push(b":1}\n\ndata: [DONE]\n\n").unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].data.as_deref(), Some("{\"a\":1}"));
        assert_eq!(&events[0].raw[..], b"data: {\"a\":1}\n\n");
        assert_eq!(events[1].data.as_deref(), Some("[DONE]"));
        assert_eq!(reader.pending(), 0);
    }

    #[test]
    fn crlf_comments_and_multiline_data() {
        let mut reader = EventReader::default();
        let events = reader
            .push(b": keep-alive\r\n\r\ndata: a\r\ndata: b\r\n\r\ndata: tail")
            .unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].data, None);
        assert_eq!(events[1].data.as_deref(), Some("a\nb"));
        assert_eq!(reader.pending(), 10);
    }

    #[test]
    fn an_endless_event_is_an_error() {
        let mut reader = EventReader::default();
        assert!(reader.push(&vec![b'x'; MAX_EVENT + 1]).is_err());
    }
}
