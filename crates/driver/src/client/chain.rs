//! Conversations of several turns on the Responses API (`turns` of a `responses`
//! request): each request continues an open conversation, sending the last
//! answer's id as `previous_response_id`, or starts one. A conversation stays open
//! until it has run its turns or a turn fails; VUs and arrivals share the open
//! ones, so a conversation's turns need not come from one VU.

use std::collections::VecDeque;
use std::sync::Mutex;

use bytes::Bytes;

/// Most conversations kept open: past this, the oldest is dropped (a target far
/// slower than the load has more in flight than any client would keep).
const MAX_OPEN: usize = 100_000;

/// An open conversation: its last answer and how many turns it has run.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Link {
    id: String,
    turns: u32,
}

/// The open conversations of one request.
#[derive(Debug)]
pub(crate) struct Chains {
    turns: u32,
    open: Mutex<VecDeque<Link>>,
}

impl Chains {
    /// Conversations of `turns` turns each.
    pub fn new(turns: u32) -> Chains {
        Chains {
            turns,
            open: Mutex::new(VecDeque::new()),
        }
    }

    fn open(&self) -> std::sync::MutexGuard<'_, VecDeque<Link>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The conversation the next request continues, if one is open.
    pub fn take(&self) -> Option<Link> {
        self.open().pop_front()
    }

    /// A turn answered with response `id`, continuing `link` (`None`: the first
    /// turn of a conversation); the conversation stays open if turns remain.
    pub fn answered(&self, id: String, link: Option<&Link>) {
        let turns = link.map_or(1, |l| l.turns + 1);
        if turns >= self.turns {
            return;
        }
        let mut open = self.open();
        if open.len() >= MAX_OPEN {
            open.pop_front();
        }
        open.push_back(Link { id, turns });
    }
}

/// `body` (a JSON object) with `"previous_response_id": link's id` first.
pub(crate) fn continuing(body: &[u8], link: &Link) -> Bytes {
    let id = serde_json::to_vec(&link.id).unwrap_or_else(|_| b"\"\"".to_vec());
    let rest = body.strip_prefix(b"{").unwrap_or(body);
    let mut out = Vec::with_capacity(body.len() + id.len() + 26);
    out.extend_from_slice(b"{\"previous_response_id\":");
    out.extend_from_slice(&id);
    if !rest.trim_ascii_start().starts_with(b"}") {
        out.push(b',');
    }
    out.extend_from_slice(rest);
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conversation_runs_its_turns_then_closes() {
        let chains = Chains::new(3);
        assert_eq!(chains.take(), None);
        chains.answered("resp_1".into(), None);
        let first = chains.take().unwrap();
        assert_eq!(chains.take(), None, "one request continues it at a time");
        chains.answered("resp_2".into(), Some(&first));
        let second = chains.take().unwrap();
        assert_eq!(second.id, "resp_2");
        chains.answered("resp_3".into(), Some(&second));
        assert_eq!(chains.take(), None, "three turns run, it is closed");
        // a single turn never opens one
        let single = Chains::new(1);
        single.answered("resp_9".into(), None);
        assert_eq!(single.take(), None);
    }

    #[test]
    fn the_previous_id_is_put_first_in_the_body_as_json() {
        let link = Link {
            id: "resp_\"x\"".into(),
            turns: 1,
        };
        let body = continuing(br#"{"model":"m","input":"hi"}"#, &link);
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["previous_response_id"], "resp_\"x\"");
        assert_eq!(value["input"], "hi");
        let empty = continuing(b"{}", &link);
        assert!(serde_json::from_slice::<serde_json::Value>(&empty).is_ok());
    }
}
