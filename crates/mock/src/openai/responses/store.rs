//! Stored responses, as the API keeps them when `store` is true (its default):
//! what `GET /v1/responses/{id}` returns, what `GET .../input_items` lists, and
//! the conversation a request with `previous_response_id` continues.
//!
//! Each is kept under the API key that created it (another key is told it does not
//! exist), with its turn of the conversation (its input items and its output as an
//! input item) and a link to the response it continued, so that a long chain costs
//! each turn once. Its input items are listed with the whole chain's, as the API
//! lists them: every earlier turn's input and output, then its own input. The
//! store holds at most [`STORE_BYTES`] of responses, the least used going first; a
//! continuation of one that went is refused as the API refuses an unknown id.

use std::sync::Arc;

use bytes::Bytes;
use gatebench_wire::openai::{InputContent, InputItem, ResponseInput, Role};
use moka::sync::Cache;
use serde_json::{Value, json};
use xxhash_rust::xxh3::xxh3_64;

/// Most bytes of stored responses kept.
const STORE_BYTES: u64 = 64 << 20;

/// One stored response.
#[derive(Debug)]
pub(in crate::openai) struct Stored {
    /// The response as it ended, as `GET /v1/responses/{id}` returns it.
    pub body: Bytes,
    /// Its own input items, each with the id the API gave it, as listed.
    items: Vec<Value>,
    /// Its turn: the input items, then its output as input items.
    turn: Vec<InputItem>,
    /// The response it continued.
    previous: Option<Arc<Stored>>,
}

impl Stored {
    /// A response's record: `body` as it ended, its `input` (each item given an
    /// id by `id_of`), its `output` as input items and the response it
    /// continued.
    pub fn new(
        body: Bytes,
        input: &ResponseInput,
        mut id_of: impl FnMut(&InputItem) -> String,
        output: Vec<InputItem>,
        previous: Option<Arc<Stored>>,
    ) -> Stored {
        let mut turn = items_of(input);
        let items = turn.iter().map(|i| listed(i, id_of(i))).collect();
        turn.extend(output);
        Stored {
            body,
            items,
            turn,
            previous,
        }
    }

    /// The conversation up to and including this response: every turn of the
    /// chain, oldest first (instructions are not carried over, as in the API).
    pub fn conversation(&self) -> Vec<InputItem> {
        let mut chain = Vec::new();
        let mut at = Some(self);
        while let Some(stored) = at {
            chain.push(&stored.turn);
            at = stored.previous.as_deref();
        }
        chain.into_iter().rev().flatten().cloned().collect()
    }

    /// What `GET .../input_items` lists, oldest first: the input of every turn
    /// of the chain, each earlier turn's followed by its output items as that
    /// response gave them (the API carries them into the conversation).
    pub fn listed(&self) -> Vec<Value> {
        #[derive(serde::Deserialize)]
        struct Output {
            #[serde(default)]
            output: Vec<Value>,
        }
        let mut earlier = Vec::new();
        let mut at = self.previous.as_deref();
        while let Some(stored) = at {
            earlier.push(stored);
            at = stored.previous.as_deref();
        }
        let mut listed = Vec::new();
        for turn in earlier.into_iter().rev() {
            listed.extend(turn.items.iter().cloned());
            let output = serde_json::from_slice::<Output>(&turn.body);
            listed.extend(output.map(|o| o.output).unwrap_or_default());
        }
        listed.extend(self.items.iter().cloned());
        listed
    }

    /// Roughly the bytes it holds, for the store's bound.
    fn weight(&self) -> u32 {
        let text = |i: &InputItem| {
            i.content.as_ref().map_or(0, |c| c.text().len())
                + i.arguments.as_ref().map_or(0, String::len)
                + i.output.as_ref().map_or(0, |o| o.to_string().len())
                + 128
        };
        let items: usize = self.items.iter().map(|i| i.to_string().len()).sum();
        let turn: usize = self.turn.iter().map(text).sum();
        u32::try_from(self.body.len() + items + turn).unwrap_or(u32::MAX)
    }
}

/// A request's input as items: a string is one user message.
pub(super) fn items_of(input: &ResponseInput) -> Vec<InputItem> {
    match input {
        ResponseInput::Text(text) => vec![InputItem {
            kind: Some("message".to_owned()),
            role: Some(Role::User),
            content: Some(InputContent::Text(text.clone())),
            ..InputItem::default()
        }],
        ResponseInput::Items(items) => items.clone(),
    }
}

/// An input item as `GET /v1/responses/{id}/input_items` lists it: with its id,
/// a message's content as typed parts.
fn listed(item: &InputItem, id: String) -> Value {
    let mut value = serde_json::to_value(item).unwrap_or_else(|_| json!({}));
    let Some(object) = value.as_object_mut() else {
        return value;
    };
    object.insert("id".to_owned(), Value::String(id));
    let kind = item.kind.as_deref().unwrap_or("message");
    object.insert("type".to_owned(), Value::String(kind.to_owned()));
    if kind == "message" {
        object.insert("status".to_owned(), json!("completed"));
        if let Some(InputContent::Text(text)) = &item.content {
            let part = if item.role == Some(Role::Assistant) {
                "output_text"
            } else {
                "input_text"
            };
            object.insert("content".to_owned(), json!([{"type": part, "text": text}]));
        }
    }
    value
}

/// The stored responses of one mock.
#[derive(Clone)]
pub(in crate::openai) struct Store(Cache<(u64, String), Arc<Stored>>);

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("responses", &self.0.entry_count())
            .finish()
    }
}

impl Default for Store {
    fn default() -> Store {
        Store(
            Cache::builder()
                .weigher(|_, stored: &Arc<Stored>| stored.weight())
                .max_capacity(STORE_BYTES)
                .build(),
        )
    }
}

/// Whose responses: the API key's hash (no key is a key of its own).
fn owner(key: Option<&str>) -> u64 {
    key.map_or(0, |k| xxh3_64(k.as_bytes()) | 1)
}

impl Store {
    /// The response `id` created with `key`.
    pub fn get(&self, key: Option<&str>, id: &str) -> Option<Arc<Stored>> {
        self.0.get(&(owner(key), id.to_owned()))
    }

    /// Keeps a response created with `key`.
    pub fn insert(&self, key: Option<&str>, id: String, stored: Stored) {
        self.0.insert((owner(key), id), Arc::new(stored));
    }

    /// Forgets a response; whether it was there.
    pub fn remove(&self, key: Option<&str>, id: &str) -> bool {
        self.0.remove(&(owner(key), id.to_owned())).is_some()
    }

    /// Forgets every response (the mock's reset).
    pub fn clear(&self) {
        self.0.invalidate_all();
    }
}
