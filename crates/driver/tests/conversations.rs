//! Conversations of several turns on the Responses API, against the real mock:
//! each turn continues the last answer, so its prompt holds every earlier turn,
//! whole or streamed, and a conversation that has run its turns starts over. (The
//! catalog has no system prompts: a continuation does not carry the earlier
//! turns' instructions, as OpenAI's does not.)

mod common;

use common::scenario;
use gatebench_driver::{RequestRecord, RunOptions, Targets, run};
use gatebench_mock::RunningMocks;
use gatebench_wire::books::CallRecord;

/// Runs `text` against a fresh OpenAI mock; returns the mocks, the OpenAI
/// mock's URL and the run's records.
async fn run_on_mock(text: &str) -> (RunningMocks, String, Vec<RequestRecord>) {
    let mocks = common::instant_mocks(4).await;
    let openai = mocks.url("openai").unwrap();
    let options = RunOptions {
        record_requests: true,
        ..common::quiet()
    };
    let results = run(&scenario(text), &Targets::new(&openai), options)
        .await
        .unwrap();
    (mocks, openai, results.requests.unwrap())
}

const CHAINED: &str = r#"
name = "chained"
seed = 9
[load]
executor = "per-vu-iterations"
vus = 1
iterations = 14
[[requests]]
name = "whole"
kind = "responses"
prompts = "prompts/stories.toml"
max_tokens = 24
turns = 3
[[requests]]
name = "streamed"
kind = "responses"
stream = true
prompts = "prompts/stories.toml"
max_tokens = 24
turns = 3
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_turn_continues_the_last_and_a_conversation_runs_its_turns() {
    let (mocks, openai, records) = run_on_mock(CHAINED).await;
    assert_eq!(records.len(), 14);
    // the books hold the calls in the order they arrived
    let page = common::books(&openai).await;
    let name_of = |call: &CallRecord| {
        let id = call.client_request_id.as_deref();
        let record = records
            .iter()
            .find(|r| r.client_request_id.as_deref() == id);
        record.map(|r| {
            assert_eq!(r.outcome, "ok");
            r.request.clone()
        })
    };
    for name in ["streamed", "whole"] {
        let turns: Vec<(u64, u64)> = page
            .data
            .iter()
            .filter(|c| name_of(c).as_deref() == Some(name))
            .map(|c| (c.usage.input_tokens, c.usage.output_tokens))
            .collect();
        assert!(turns.len() >= 4, "{name}: {turns:?}");
        for (i, pair) in turns.windows(2).enumerate() {
            let ((input, output), (next, _)) = (pair[0], pair[1]);
            if (i + 1) % 3 == 0 {
                // a new conversation: its prompt is its own question alone
                assert!(next < input, "{name} turn {}: {turns:?}", i + 2);
            } else {
                // the last turn's question and answer are in this prompt
                assert!(next > input + output, "{name} turn {}: {turns:?}", i + 2);
            }
        }
    }
    mocks.shutdown().await;
}

const AGENT: &str = r#"
name = "agent"
seed = 9
[load]
executor = "per-vu-iterations"
vus = 1
iterations = 24
[[requests]]
name = "whole"
kind = "responses"
prompts = "prompts/stories.toml"
tools = "fixtures/tools/support.json"
tool_outputs = "fixtures/tools/support-outputs.json"
max_tokens = 24
turns = 4
[[requests]]
name = "streamed"
kind = "responses"
stream = true
prompts = "prompts/stories.toml"
tools = "fixtures/tools/support.json"
tool_outputs = "fixtures/tools/support-outputs.json"
max_tokens = 24
turns = 4
"#;

/// A turn answered with function calls is followed by one that sends their
/// outputs (what the scenario's file says each tool returns), as an agent does,
/// whole or streamed: the mock accepts each (it refuses an output whose call the
/// conversation did not make, and a turn that leaves a call unanswered), and the
/// turn is still on the conversation's question, as the mock's books see it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn function_calls_are_answered_with_their_outputs_on_the_next_turn() {
    let (mocks, openai, records) = run_on_mock(AGENT).await;
    assert_eq!(records.len(), 24);
    let page = common::books(&openai).await;
    let http = gatebench_tls::client();
    let mut answered = std::collections::BTreeMap::<String, u32>::new();
    for record in &records {
        assert_eq!(record.outcome, "ok", "{record:?}");
        let call = page
            .data
            .iter()
            .find(|c| c.client_request_id == record.client_request_id)
            .unwrap();
        assert_eq!(call.prompt_digest, record.prompt_digest, "{record:?}");
        // what the turn sent, as the mock keeps it
        let id = record.response_id.as_deref().unwrap();
        let items: serde_json::Value = http
            .get(format!("{openai}/v1/responses/{id}/input_items"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for item in items["data"].as_array().unwrap() {
            if item["type"] == "function_call_output" {
                let output: serde_json::Value =
                    serde_json::from_str(item["output"].as_str().unwrap()).unwrap();
                assert!(
                    output.get("carrier").is_some()
                        || output.as_array().is_some_and(|a| a.len() == 3),
                    "{output}"
                );
                *answered.entry(record.request.clone()).or_default() += 1;
            }
        }
    }
    for name in ["streamed", "whole"] {
        assert!(answered.get(name) > Some(&0), "{name}: {answered:?}");
    }
    mocks.shutdown().await;
}
