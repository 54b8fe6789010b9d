//! The truth of a run, from the mocks' books ([`Books`], read over HTTP by the
//! driver's reader): every upstream call the target made, with its exact usage,
//! content digest, outcome and the correlation id it carried.
//!
//! A check marks the books before it drives load, waits for the mocks to finish
//! what they were serving, then reads every call since the mark and attributes
//! calls to the requests the driver sent ([`attribute`]). Nothing here asks the
//! target anything: truth needs no cooperation.

mod attribute;

pub use attribute::{Attribution, CLOCK_SLACK_MS, attribute};
pub use gatebench_driver::books::{Books, Mark, Window};

use gatebench_driver::{Kind, RequestRecord};

/// Whether `record` asked for generated text (chat, text completions, responses):
/// an answer whose text the driver digests as the mocks' books do, so that it is
/// judged by its content.
pub fn generates_text(record: &RequestRecord) -> bool {
    Kind::parse(&record.kind).is_some_and(Kind::generates)
}

/// A chat completion call in the books, for tests: `complete` ones are served
/// and billed with `content`, the rest a 503 fault.
#[cfg(test)]
pub(crate) fn chat_call(
    id: Option<&str>,
    prompt: &str,
    content: &str,
    complete: bool,
) -> gatebench_wire::books::CallRecord {
    gatebench_wire::books::CallRecord {
        id: 0,
        mock: "openai".into(),
        at_ms: 0,
        duration_ms: 1.0,
        route: "/v1/chat/completions".into(),
        api_key_id: None,
        model: Some("gpt-4o-mini".into()),
        voice: None,
        outcome: if complete { "ok" } else { "fault_unavailable" }.into(),
        status: if complete { 200 } else { 503 },
        stream: false,
        complete,
        billed: complete,
        usage: gatebench_wire::books::CallUsage::default(),
        content_digest: complete.then(|| content.to_owned()),
        prompt_digest: Some(prompt.into()),
        response_id: None,
        request_id: "req".into(),
        traceparent: None,
        client_request_id: id.map(str::to_owned),
    }
}
