//! Conversations of several turns on the Responses API (`turns` of a `responses`
//! request): each request continues an open conversation, sending the last
//! answer's id as `previous_response_id`, or starts one. A conversation stays open
//! until it has run its turns or a turn fails; VUs and arrivals share the open
//! ones, so a conversation's turns need not come from one VU.
//!
//! An answer that calls functions (the request offered `tools`) is followed as an
//! agent follows it: the conversation's next turn sends each call's output (the
//! request's `tool_outputs` for the tool, else [`TOOL_OUTPUT`]) instead of a new
//! question.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::payload::Payload;

/// Most conversations kept open: past this, the oldest is dropped (a target far
/// slower than the load has more in flight than any client would keep).
const MAX_OPEN: usize = 100_000;

/// What a function call is answered with when the request names no output for
/// its tool.
pub const TOOL_OUTPUT: &str = r#"{"result":"ok"}"#;

/// An open conversation: its last answer and how many turns it has run.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Link {
    id: String,
    turns: u32,
    /// The function calls of the last answer.
    calls: Vec<Call>,
    /// The conversation's last question.
    asked: Asked,
}

/// A question as the payload drew it: its wording and its intent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Asked {
    pub text: Option<Arc<str>>,
    pub intent: Option<Arc<str>>,
}

/// What a conversation needs of an answer: its id and the function calls it
/// made.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Answer {
    pub id: String,
    pub calls: Vec<Call>,
}

/// A function call: its `call_id` and the tool's name.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Call {
    pub id: String,
    pub name: String,
}

/// A response's output item, as far as a conversation reads it.
#[derive(Deserialize)]
pub(crate) struct OutputItem {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    call_id: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

/// The function call an output item of `kind` with `call_id` and `name` is, if
/// it is one.
pub(crate) fn call(kind: Option<&str>, call_id: Option<&str>, name: Option<&str>) -> Option<Call> {
    if kind != Some("function_call") {
        return None;
    }
    Some(Call {
        id: call_id?.to_owned(),
        name: name.unwrap_or_default().to_owned(),
    })
}

/// The function calls among `output`.
pub(crate) fn calls(output: &[OutputItem]) -> Vec<Call> {
    output
        .iter()
        .filter_map(|item| {
            call(
                item.kind.as_deref(),
                item.call_id.as_deref(),
                item.name.as_deref(),
            )
        })
        .collect()
}

/// The open conversations of one request.
#[derive(Debug)]
pub(crate) struct Chains {
    turns: u32,
    /// What each tool returns, by name.
    outputs: Arc<BTreeMap<String, String>>,
    open: Mutex<VecDeque<Link>>,
}

impl Chains {
    /// Conversations of `turns` turns each, whose function calls return
    /// `outputs` by tool.
    pub fn new(turns: u32, outputs: Arc<BTreeMap<String, String>>) -> Chains {
        Chains {
            turns,
            outputs,
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

    /// A turn that asked `asked` was answered, continuing `link` (`None`: the
    /// first turn of a conversation); the conversation stays open if turns remain.
    pub fn answered(&self, answer: Answer, asked: Asked, link: Option<&Link>) {
        let turns = link.map_or(1, |l| l.turns + 1);
        if turns >= self.turns {
            return;
        }
        let mut open = self.open();
        if open.len() >= MAX_OPEN {
            open.pop_front();
        }
        open.push_back(Link {
            id: answer.id,
            turns,
            calls: answer.calls,
            asked,
        });
    }
}

impl Link {
    /// What the turn after this link asked: its own question, or, when it sends
    /// function outputs, the question the conversation is still on.
    pub fn asked(&self, own: Asked) -> Asked {
        if self.calls.is_empty() {
            own
        } else {
            self.asked.clone()
        }
    }
}

impl Chains {
    /// `payload` as the turn that continues `link`: `previous_response_id` set,
    /// and the function calls' outputs as its input when the last answer made
    /// calls (its question then the conversation's last).
    pub fn continue_payload(&self, payload: &mut Payload, link: &Link) {
        if link.calls.is_empty() {
            payload.body = continuing(&payload.body, link);
            return;
        }
        let Ok(Value::Object(mut body)) = serde_json::from_slice::<Value>(&payload.body) else {
            payload.body = continuing(&payload.body, link);
            return;
        };
        let outputs: Vec<Value> = link
            .calls
            .iter()
            .map(|call| {
                let output = self
                    .outputs
                    .get(&call.name)
                    .map_or(TOOL_OUTPUT, String::as_str);
                json!({"type": "function_call_output", "call_id": call.id, "output": output})
            })
            .collect();
        body.insert("previous_response_id".into(), link.id.clone().into());
        body.insert("input".into(), outputs.into());
        payload.body = serde_json::to_vec(&body).map_or_else(|_| payload.body.clone(), Bytes::from);
        payload.text.clone_from(&link.asked.text);
        payload.intent.clone_from(&link.asked.intent);
    }
}

/// `body` (a JSON object) with `"previous_response_id": link's id` first.
fn continuing(body: &[u8], link: &Link) -> Bytes {
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

    fn said(id: &str) -> Answer {
        Answer {
            id: id.into(),
            calls: Vec::new(),
        }
    }

    fn asked(text: &str) -> Asked {
        Asked {
            text: Some(text.into()),
            intent: Some(format!("intent of {text}").into()),
        }
    }

    #[test]
    fn a_conversation_runs_its_turns_then_closes() {
        let chains = Chains::new(3, Arc::default());
        assert_eq!(chains.take(), None);
        chains.answered(said("resp_1"), asked("a"), None);
        let first = chains.take().unwrap();
        assert_eq!(chains.take(), None, "one request continues it at a time");
        chains.answered(said("resp_2"), asked("b"), Some(&first));
        let second = chains.take().unwrap();
        assert_eq!(second.id, "resp_2");
        chains.answered(said("resp_3"), asked("c"), Some(&second));
        assert_eq!(chains.take(), None, "three turns run, it is closed");
        // a single turn never opens one
        let single = Chains::new(1, Arc::default());
        single.answered(said("resp_9"), asked("d"), None);
        assert_eq!(single.take(), None);
    }

    #[test]
    fn the_previous_id_is_put_first_in_the_body_as_json() {
        let link = Link {
            id: "resp_\"x\"".into(),
            turns: 1,
            calls: Vec::new(),
            asked: Asked::default(),
        };
        let body = continuing(br#"{"model":"m","input":"hi"}"#, &link);
        assert!(body.starts_with(br#"{"previous_response_id":"#));
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["previous_response_id"], "resp_\"x\"");
        assert_eq!(value["input"], "hi");
        let empty = continuing(b"{}", &link);
        assert!(serde_json::from_slice::<serde_json::Value>(&empty).is_ok());
    }

    #[test]
    fn function_calls_are_answered_by_their_outputs_on_the_next_turn() {
        let body = br#"{"id":"resp_1","output":[
            {"type":"function_call","call_id":"call_a","name":"f","arguments":"{}"},
            {"type":"message","content":[{"type":"output_text","text":"x"}]},
            {"type":"function_call","call_id":"call_b","name":"g","arguments":"{}"}]}"#;
        let (outcome, _, answer) =
            super::super::check_body(crate::Kind::Responses, false, "", body, None);
        assert_eq!(outcome, crate::Outcome::Ok);
        let answer = answer.unwrap();
        assert_eq!(answer.id, "resp_1");
        let ids: Vec<&str> = answer.calls.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["call_a", "call_b"]);
        // g returns what the request names for it, f the default
        let outputs = BTreeMap::from([("g".to_owned(), "three orders".to_owned())]);
        let chains = Chains::new(3, Arc::new(outputs));
        chains.answered(answer, asked("where is my parcel"), None);
        let link = chains.take().unwrap();
        // the next turn drew a new question, but answers the calls instead
        let mut payload = Payload {
            body: Bytes::from_static(br#"{"model":"m","input":"new question","tools":[]}"#),
            intent: asked("new question").intent,
            text: asked("new question").text,
            ws_messages: Vec::new(),
        };
        chains.continue_payload(&mut payload, &link);
        let sent: Value = serde_json::from_slice(&payload.body).unwrap();
        assert_eq!(sent["previous_response_id"], "resp_1");
        assert_eq!(sent["model"], "m");
        assert_eq!(sent["tools"], json!([]));
        assert_eq!(
            sent["input"],
            json!([
                {"type": "function_call_output", "call_id": "call_a", "output": TOOL_OUTPUT},
                {"type": "function_call_output", "call_id": "call_b", "output": "three orders"},
            ])
        );
        // it is still on the conversation's question, and so is the turn after it
        assert_eq!(payload.text, asked("where is my parcel").text);
        assert_eq!(payload.intent, asked("where is my parcel").intent);
        assert_eq!(
            link.asked(asked("new question")),
            asked("where is my parcel")
        );
        // an answer without calls is followed by the next question
        chains.answered(
            said("resp_2"),
            link.asked(asked("new question")),
            Some(&link),
        );
        let plain = chains.take().unwrap();
        assert_eq!(plain.asked(asked("third")), asked("third"));
    }
}
