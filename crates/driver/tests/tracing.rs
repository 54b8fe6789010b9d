//! Traced runs against the real mocks: every request the driver records can be found
//! in the mocks' books by the `x-request-id` it sent, with the same prompt, content
//! and answer id the driver saw, streamed or not; captured headers become claims.

mod common;

use std::collections::HashMap;

use common::scenario;
use gatebench_driver::{RunOptions, Targets, run};
use gatebench_wire::books::CallRecord;

const TRACED: &str = r#"
name = "traced"
seed = 5
[load]
executor = "per-vu-iterations"
vus = 3
iterations = 8
[[requests]]
name = "whole"
kind = "chat"
model = "gpt-4o-mini"
prompts = "prompts/mini.toml"
api_key = "sk-scenario"
[[requests]]
name = "streamed"
kind = "chat"
stream = true
prompts = "prompts/mini.toml"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_traced_request_is_found_in_the_books() {
    let mocks = common::instant_mocks(3).await;
    let openai = mocks.url("openai").unwrap();
    let options = RunOptions {
        record_requests: true,
        capture_headers: vec!["X-Request-Id".into(), "openai-version".into()],
        keys: [("sk-scenario".to_owned(), "sk-swapped".to_owned())].into(),
        models: [("gpt-4o-mini".to_owned(), "gpt-4o".to_owned())].into(),
        ..common::quiet()
    };
    let results = run(&scenario(TRACED), &Targets::new(&openai), options)
        .await
        .unwrap();
    let records = results.requests.unwrap();
    assert_eq!(records.len(), 24);

    let page = common::books(&openai).await;
    let calls: HashMap<&str, &CallRecord> = page
        .data
        .iter()
        .filter_map(|c| c.client_request_id.as_deref().map(|id| (id, c)))
        .collect();
    assert_eq!(calls.len(), 24, "one call per request, each with its id");
    let swapped = gatebench_wire::books::key_id("sk-swapped");
    for r in &records {
        assert_eq!(r.outcome, "ok");
        let id = r.client_request_id.as_deref().expect("a correlation id");
        let call = calls[id];
        assert_eq!(r.prompt_digest, call.prompt_digest, "{id}");
        assert_eq!(r.content_digest, call.content_digest, "{id}");
        assert_eq!(r.response_id, call.response_id, "{id}");
        assert!(
            matches!(r.finish_reason.as_deref(), Some("stop" | "length")),
            "{id}"
        );
        assert_eq!(call.stream, r.request == "streamed");
        if r.request == "streamed" {
            assert!(r.chunks.is_some_and(|n| n > 0));
        } else {
            assert_eq!(call.api_key_id.as_deref(), Some(swapped.as_str()));
            // the scenario's model, sent under the name the target serves it as
            assert_eq!(call.model.as_deref(), Some("gpt-4o"));
        }
        // The mock echoes its own request id; the driver kept it as a claim.
        assert!(
            r.claims
                .get("x-request-id")
                .is_some_and(|v| v.starts_with("req_"))
        );
        assert_eq!(r.claims["openai-version"], "2020-10-01");
    }
    mocks.shutdown().await;
}
