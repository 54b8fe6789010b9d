//! The OpenAI mock over a real socket, read by `async-openai`'s typed client (an
//! independent implementation of the API's shapes) and by reqwest for the raw
//! error shapes.

use std::time::Duration;

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{
    ChatCompletionMessageToolCalls, ChatCompletionNamedToolChoice, ChatCompletionTool,
    ChatCompletionToolChoiceOption, ChatCompletionTools, CompletionFinishReason,
    CreateChatCompletionResponse, FinishReason, FunctionCall, FunctionName, FunctionObjectArgs,
    Prompt, ToolChoiceOptions,
};
use async_openai::types::chat::{
    ChatCompletionRequestSystemMessageArgs, ChatCompletionRequestUserMessageArgs,
    CreateChatCompletionRequestArgs, ReasoningEffort, ResponseFormat, ResponseFormatJsonSchema,
    ServiceTier, StopConfiguration, Verbosity,
};
use async_openai::types::completions::CreateCompletionRequestArgs;
use async_openai::types::embeddings::CreateEmbeddingRequestArgs;
use async_openai::types::responses::{
    CreateResponseArgs, EasyInputMessageArgs, FunctionTool, InputItem, InputParam, OutputItem,
    OutputMessageContent, OutputStatus, ResponseStreamEvent, Role as ResponseRole, Status,
    Tool as ResponseTool, ToolChoiceOptions as ResponseToolChoice, ToolChoiceParam,
};
use futures::StreamExt as _;
use gatebench_mock::control::Control;
use gatebench_mock::openai::{Encoding, OpenAiProfile, router};
use gatebench_mock::server::{self, ServerHandle, ServerOptions};
use serde_json::{Value, json};

fn options() -> ServerOptions {
    ServerOptions {
        drain: Duration::from_secs(1),
        resettable: true,
        ..ServerOptions::default()
    }
}

async fn start(profile: OpenAiProfile) -> (ServerHandle, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let handle = server::spawn(
        listener,
        router(&profile, 42, 0.0, &Control::default()),
        options(),
    )
    .unwrap();
    let url = format!("http://{}", handle.addr());
    (handle, url)
}

fn client(url: &str) -> Client<OpenAIConfig> {
    Client::build(
        gatebench_tls::client(),
        OpenAIConfig::new()
            .with_api_base(format!("{url}/v1"))
            .with_api_key("sk-test"),
    )
}

async fn post(url: &str, path: &str, body: Value) -> (u16, Value) {
    let response = gatebench_tls::client()
        .post(format!("{url}{path}"))
        .bearer_auth("sk-test")
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn story() -> Value {
    json!({
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "Tell me a story about a brave rabbit."}]
    })
}

#[tokio::test]
async fn unknown_arguments_are_refused_in_openai_s_exact_shape() {
    let (_server, url) = start(OpenAiProfile::default()).await;
    let mut body = story();
    body["top_k"] = json!(40);
    let (status, error) = post(&url, "/v1/chat/completions", body.clone()).await;
    assert_eq!(status, 400);
    assert_eq!(
        error,
        json!({"error": {
            "message": "Unrecognized request argument supplied: top_k",
            "type": "invalid_request_error",
            "param": null,
            "code": null
        }})
    );
    let (status, error) = post(
        &url,
        "/v1/embeddings",
        json!({"model": "text-embedding-3-small", "input": "hi", "truncate": true, "x": 1}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        error["error"]["message"],
        "Unrecognized request arguments supplied: truncate, x"
    );

    let (status, error) = post(
        &url,
        "/v1/completions",
        json!({"model": "gpt-4o", "prompt": "hi", "echo": false, "best_of": 1, "guided_json": {}}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        error["error"]["message"],
        "Unrecognized request argument supplied: guided_json"
    );
    for (prompt, param) in [(json!([]), "prompt"), (json!({"text": "hi"}), "prompt")] {
        let (status, error) = post(
            &url,
            "/v1/completions",
            json!({"model": "gpt-4o", "prompt": prompt}),
        )
        .await;
        assert_eq!(status, 400, "{error}");
        assert_eq!(error["error"]["type"], "invalid_request_error");
        assert_eq!(error["error"]["param"], param);
    }

    // A lenient profile ignores them.
    let (_lenient, lenient_url) = start(OpenAiProfile {
        strict_arguments: false,
        ..OpenAiProfile::default()
    })
    .await;
    let (status, completion) = post(&lenient_url, "/v1/chat/completions", body).await;
    assert_eq!(status, 200, "{completion}");
}

#[tokio::test]
async fn every_argument_the_sdk_sends_passes_the_strict_check() {
    let (_server, url) = start(OpenAiProfile::default()).await;
    let request = CreateChatCompletionRequestArgs::default()
        .model("gpt-4o")
        .messages(vec![
            ChatCompletionRequestSystemMessageArgs::default()
                .content("You answer briefly.")
                .build()
                .unwrap()
                .into(),
            ChatCompletionRequestUserMessageArgs::default()
                .content("Tell me about rabbits.")
                .build()
                .unwrap()
                .into(),
        ])
        .max_completion_tokens(20u32)
        .temperature(0.5)
        .top_p(0.9)
        .n(2)
        .seed(7)
        .stop(StopConfiguration::StringArray(vec!["\n\n\n".into()]))
        .presence_penalty(0.1)
        .frequency_penalty(0.1)
        .user("user-1")
        .safety_identifier("safe-1")
        .prompt_cache_key("cache-1")
        .store(false)
        .metadata(json!({"run": "test"}))
        .service_tier(ServiceTier::Auto)
        .verbosity(Verbosity::Low)
        .parallel_tool_calls(true)
        .logprobs(false)
        .build()
        .unwrap();
    let response = client(&url).chat().create(request).await.unwrap();
    assert_eq!(response.choices.len(), 2);
    let usage = response.usage.unwrap();
    assert!(usage.completion_tokens <= 40);

    let request = CreateEmbeddingRequestArgs::default()
        .model("text-embedding-3-small")
        .input("a red apple")
        .dimensions(64u32)
        .user("user-1")
        .build()
        .unwrap();
    let response = client(&url).embeddings().create(request).await.unwrap();
    assert_eq!(response.data[0].embedding.len(), 64);
}

/// A chat request to the reasoning model of the default profile about `prompt`.
fn reasoning_request(
    prompt: &str,
    effort: Option<ReasoningEffort>,
    cap: Option<u32>,
) -> async_openai::types::chat::CreateChatCompletionRequest {
    let mut request = CreateChatCompletionRequestArgs::default();
    request.model("gpt-5-mini").messages(vec![
        ChatCompletionRequestUserMessageArgs::default()
            .content(prompt)
            .build()
            .unwrap()
            .into(),
    ]);
    if let Some(effort) = effort {
        request.reasoning_effort(effort);
    }
    if let Some(cap) = cap {
        request.max_completion_tokens(cap);
    }
    request.build().unwrap()
}

/// A reasoning model spends hidden reasoning tokens, as many as its effort asks,
/// billed as output: usage counts them in completion_tokens and says how many,
/// the books bill them, and the token cap covers them with the answer.
#[tokio::test]
async fn a_reasoning_model_bills_its_hidden_reasoning_tokens_as_output() {
    let (_server, url) = start(OpenAiProfile::default()).await;
    let mut by_effort = Vec::new();
    for effort in [ReasoningEffort::Low, ReasoningEffort::High] {
        let mut reasoning = 0;
        for i in 0..8 {
            let prompt = format!("Plan a three-day trip to city number {i}.");
            let request = reasoning_request(&prompt, Some(effort.clone()), None);
            let response = client(&url).chat().create(request).await.unwrap();
            let usage = response.usage.unwrap();
            let thought = usage
                .completion_tokens_details
                .unwrap()
                .reasoning_tokens
                .unwrap();
            let text = response.choices[0].message.content.clone().unwrap();
            assert!(thought > 0, "{effort:?}");
            assert_eq!(
                usage.completion_tokens as usize,
                Encoding::O200kBase.count(&text) + thought as usize,
                "the answer's tokens and the reasoning's"
            );
            reasoning += thought;
        }
        by_effort.push(reasoning);
    }
    assert!(
        by_effort[1] > 3 * by_effort[0],
        "high reasons longer: {by_effort:?}"
    );
    // the books bill what usage said
    let calls = calls_on(&url, "/v1/chat/completions", 16).await;
    let billed: u64 = calls
        .iter()
        .map(|c| c["usage"]["output_tokens"].as_u64().unwrap())
        .sum();
    assert!(billed > u64::from(by_effort[0] + by_effort[1]), "{billed}");

    // a cap the reasoning uses up leaves an empty answer cut at `length`
    let request = reasoning_request("Plan a trip.", Some(ReasoningEffort::High), Some(16));
    let response = client(&url).chat().create(request).await.unwrap();
    let usage = response.usage.unwrap();
    assert_eq!(usage.completion_tokens, 16);
    assert_eq!(response.choices[0].message.content.as_deref(), Some(""));
    assert_eq!(
        response.choices[0].finish_reason,
        Some(FinishReason::Length)
    );

    // the Responses API says the same in its own words
    let (status, response) = post(
        &url,
        "/v1/responses",
        json!({"model": "gpt-5-mini", "input": "Plan a trip.", "reasoning": {"summary": "auto"}}),
    )
    .await;
    assert_eq!(status, 200, "{response}");
    // no effort asked: the model states the one it reasoned at
    assert_eq!(response["reasoning"]["effort"], "medium");
    let usage = &response["usage"];
    let thought = usage["output_tokens_details"]["reasoning_tokens"]
        .as_u64()
        .unwrap();
    let text = response["output"][0]["content"][0]["text"]
        .as_str()
        .unwrap();
    assert!(thought > 0);
    assert_eq!(
        usage["output_tokens"].as_u64().unwrap(),
        Encoding::O200kBase.count(text) as u64 + thought
    );
}

/// What the API refuses around reasoning, in its words: a reasoning effort on a
/// model that does not reason, an effort it does not have, and on a reasoning
/// model `max_tokens` and a temperature other than 1; legacy completions do not
/// serve a reasoning model.
#[tokio::test]
async fn reasoning_parameters_are_refused_where_the_api_refuses_them() {
    let (_server, url) = start(OpenAiProfile::default()).await;
    let user = json!([{"role": "user", "content": "hi"}]);
    for (body, param, code) in [
        (
            json!({"model": "gpt-4o", "messages": user, "reasoning_effort": "low"}),
            "reasoning_effort",
            "unsupported_parameter",
        ),
        (
            json!({"model": "gpt-5-mini", "messages": user, "reasoning_effort": "extreme"}),
            "reasoning_effort",
            "invalid_value",
        ),
        (
            json!({"model": "gpt-5-mini", "messages": user, "max_tokens": 50}),
            "max_tokens",
            "unsupported_parameter",
        ),
        (
            json!({"model": "gpt-5-mini", "messages": user, "temperature": 0.2}),
            "temperature",
            "unsupported_value",
        ),
    ] {
        let (status, error) = post(&url, "/v1/chat/completions", body.clone()).await;
        assert_eq!(status, 400, "{body}: {error}");
        assert_eq!(error["error"]["param"], param, "{body}: {error}");
        assert_eq!(error["error"]["code"], code, "{body}: {error}");
    }
    let (status, error) = post(
        &url,
        "/v1/responses",
        json!({"model": "gpt-4o", "input": "hi", "reasoning": {"effort": "low"}}),
    )
    .await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["error"]["param"], "reasoning.effort");
    let (status, error) = post(
        &url,
        "/v1/completions",
        json!({"model": "gpt-5-mini", "prompt": "hi"}),
    )
    .await;
    assert_eq!(status, 404, "{error}");
    // temperature 1 is the default, and taken
    let (status, _) = post(
        &url,
        "/v1/chat/completions",
        json!({"model": "gpt-5-mini", "messages": user, "temperature": 1, "reasoning_effort": "minimal"}),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn ignore_eos_fills_the_cap_and_min_tokens_sets_a_floor() {
    let (_server, url) = start(OpenAiProfile::default()).await;
    for (cap, field) in [(333, "max_tokens"), (1500, "max_completion_tokens")] {
        let mut body = story();
        body[field] = json!(cap);
        body["ignore_eos"] = json!(true);
        let (status, completion) = post(&url, "/v1/chat/completions", body).await;
        assert_eq!(status, 200, "{completion}");
        assert_eq!(completion["usage"]["completion_tokens"], cap);
        assert_eq!(completion["choices"][0]["finish_reason"], "length");
    }
    let mut body = story();
    body["min_tokens"] = json!(2000);
    let (status, completion) = post(&url, "/v1/chat/completions", body).await;
    assert_eq!(status, 200, "{completion}");
    assert!(completion["usage"]["completion_tokens"].as_u64().unwrap() >= 2000);
    assert_eq!(completion["choices"][0]["finish_reason"], "stop");

    let mut body = story();
    body["min_tokens"] = json!(50);
    body["max_tokens"] = json!(10);
    let (status, error) = post(&url, "/v1/chat/completions", body).await;
    assert_eq!(status, 400);
    assert_eq!(error["error"]["param"], "min_tokens");

    // the Responses API too, as guidellm sends it there: the answer fills
    // max_output_tokens and stops at it
    let prompt = story()["messages"][0]["content"].clone();
    let body = json!({"model": "gpt-4o-mini", "input": prompt, "max_output_tokens": 333, "ignore_eos": true});
    let (status, response) = post(&url, "/v1/responses", body).await;
    assert_eq!(status, 200, "{response}");
    assert_eq!(response["usage"]["output_tokens"], 333, "{response}");
    assert_eq!(response["status"], "incomplete");
    let body = json!({"model": "gpt-4o-mini", "input": prompt, "min_tokens": 1200});
    let (status, response) = post(&url, "/v1/responses", body).await;
    assert_eq!(status, 200, "{response}");
    assert!(
        response["usage"]["output_tokens"].as_u64().unwrap() >= 1200,
        "{response}"
    );
}

async fn get(url: &str, path: &str) -> Value {
    gatebench_tls::client()
        .get(format!("{url}{path}"))
        .bearer_auth("sk-test")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The books' entries for `route`, oldest first, once there are `n` of them (an
/// entry is written when its answer's body has gone out, just after the client
/// has it).
async fn calls_on(url: &str, route: &str, n: usize) -> Vec<Value> {
    for _ in 0..500 {
        let page = get(url, "/_mock/calls?after=0&limit=1000").await;
        let calls: Vec<Value> = page["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["route"] == route)
            .cloned()
            .collect();
        if calls.len() >= n {
            return calls;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the books never held {n} calls on {route}");
}

/// Billed (input, cached, output) tokens of the Usage API's completions report
/// for the last hour.
async fn usage_report(url: &str) -> (u64, u64, u64) {
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 3600;
    let report = get(
        url,
        &format!("/v1/organization/usage/completions?start_time={start}&bucket_width=1d"),
    )
    .await;
    let mut sums = (0, 0, 0);
    for bucket in report["data"].as_array().unwrap() {
        for r in bucket["results"].as_array().unwrap() {
            sums.0 += r["input_tokens"].as_u64().unwrap();
            sums.1 += r["input_cached_tokens"].as_u64().unwrap();
            sums.2 += r["output_tokens"].as_u64().unwrap();
        }
    }
    sums
}

#[tokio::test]
async fn legacy_completions_answer_each_prompt_n_times_and_are_booked() {
    let (_server, url) = start(OpenAiProfile::default()).await;
    let prompts = vec![
        "Once upon a time, a little dragon".to_owned(),
        "The recipe for bread starts with".to_owned(),
    ];
    let request = CreateCompletionRequestArgs::default()
        .model("gpt-4o-mini")
        .prompt(Prompt::StringArray(prompts.clone()))
        .n(2)
        .max_tokens(12u32)
        .seed(3)
        .build()
        .unwrap();
    let response = client(&url).completions().create(request).await.unwrap();
    assert_eq!(response.object, "text_completion");
    assert!(response.id.starts_with("cmpl-"));
    assert_eq!(response.choices.len(), 4);
    let encoding = Encoding::O200kBase;
    let mut output = 0;
    for (i, choice) in response.choices.iter().enumerate() {
        assert_eq!(choice.index as usize, i);
        assert!(!choice.text.is_empty());
        let tokens = encoding.count(&choice.text);
        assert!(tokens <= 12);
        output += tokens;
        let expected = if tokens == 12 {
            CompletionFinishReason::Length
        } else {
            CompletionFinishReason::Stop
        };
        assert_eq!(choice.finish_reason, Some(expected));
    }
    let usage = response.usage.unwrap();
    let input: usize = prompts.iter().map(|p| encoding.count(p)).sum();
    assert_eq!(usage.prompt_tokens as usize, input, "no chat framing");
    assert_eq!(usage.completion_tokens as usize, output);
    assert_eq!(
        usage.total_tokens,
        usage.prompt_tokens + usage.completion_tokens
    );

    // The books and the Usage API hold the call as the client saw it.
    let calls = calls_on(&url, "/v1/completions", 1).await;
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["billed"], true);
    assert_eq!(calls[0]["response_id"], response.id);
    assert_eq!(calls[0]["usage"]["input_tokens"], usage.prompt_tokens);
    assert_eq!(calls[0]["usage"]["output_tokens"], usage.completion_tokens);
    assert_eq!(
        usage_report(&url).await,
        (
            u64::from(usage.prompt_tokens),
            0,
            u64::from(usage.completion_tokens)
        )
    );
}

#[tokio::test]
async fn a_streamed_legacy_completion_is_the_whole_one_in_chunks_with_usage_last() {
    let (_server, url) = start(OpenAiProfile::default()).await;
    let args = |stream: bool| {
        let mut args = CreateCompletionRequestArgs::default();
        args.model("gpt-4o")
            .prompt("Write about the sea at night")
            .max_tokens(40u32);
        if stream {
            args.stream(true).stream_options(
                async_openai::types::chat::ChatCompletionStreamOptions {
                    include_usage: Some(true),
                    include_obfuscation: None,
                },
            );
        }
        args.build().unwrap()
    };
    let whole = client(&url)
        .completions()
        .create(args(false))
        .await
        .unwrap();
    let mut stream = client(&url)
        .completions()
        .create_stream(args(true))
        .await
        .unwrap();
    let mut text = String::new();
    let mut chunks = 0;
    let mut finish = None;
    let mut usage = None;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        assert_eq!(chunk.object, "text_completion");
        chunks += 1;
        for choice in &chunk.choices {
            text.push_str(&choice.text);
            if choice.finish_reason.is_some() {
                finish = choice.finish_reason;
            }
        }
        if let Some(u) = chunk.usage {
            assert!(chunk.choices.is_empty(), "usage comes on its own chunk");
            usage = Some(u);
        }
    }
    assert_eq!(text, whole.choices[0].text);
    assert_eq!(finish, whole.choices[0].finish_reason);
    let usage = usage.expect("a usage chunk");
    assert_eq!(
        usage.completion_tokens,
        whole.usage.unwrap().completion_tokens
    );
    assert!(
        chunks > usage.completion_tokens as usize,
        "a chunk per token"
    );

    // Token prompts count their tokens; vLLM's ignore_eos fills max_tokens.
    let tokens = Encoding::O200kBase.encode("Write about the sea at night");
    let (status, completion) = post(
        &url,
        "/v1/completions",
        json!({"model": "gpt-4o", "prompt": [tokens.clone(), tokens.clone()], "max_tokens": 50, "ignore_eos": true}),
    )
    .await;
    assert_eq!(status, 200, "{completion}");
    assert_eq!(completion["usage"]["prompt_tokens"], 2 * tokens.len());
    assert_eq!(completion["usage"]["completion_tokens"], 100);
    assert_eq!(completion["choices"][1]["finish_reason"], "length");
    let (status, error) = post(
        &url,
        "/v1/completions",
        json!({"model": "gpt-4o", "prompt": [u32::MAX - 1]}),
    )
    .await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["error"]["param"], "prompt");

    // Without max_tokens the API's default of 16 applies.
    let request = CreateCompletionRequestArgs::default()
        .model("gpt-4o")
        .prompt("Write about the sea at night")
        .build()
        .unwrap();
    let response = client(&url).completions().create(request).await.unwrap();
    assert_eq!(response.usage.unwrap().completion_tokens, 16);
    assert_eq!(
        response.choices[0].finish_reason,
        Some(CompletionFinishReason::Length)
    );
}

fn conversation() -> InputParam {
    let message = |role, text: &str| {
        InputItem::EasyMessage(
            EasyInputMessageArgs::default()
                .role(role)
                .content(text)
                .build()
                .unwrap(),
        )
    };
    InputParam::Items(vec![
        message(ResponseRole::User, "Tell me about rabbits."),
        message(ResponseRole::Assistant, "Rabbits are small mammals."),
        message(ResponseRole::User, "Tell me a story about a brave rabbit."),
    ])
}

#[tokio::test]
async fn a_response_has_the_api_s_shape_and_is_booked() {
    let (_server, url) = start(OpenAiProfile::default()).await;
    let request = CreateResponseArgs::default()
        .model("gpt-4o-mini")
        .instructions("You tell gentle stories.")
        .input(conversation())
        .prompt_cache_key("stories")
        .build()
        .unwrap();
    let response = client(&url).responses().create(request).await.unwrap();
    assert_eq!(response.object, "response");
    assert!(response.id.starts_with("resp_"));
    assert_eq!(response.prompt_cache_key.as_deref(), Some("stories"));
    assert_eq!(response.background, Some(false));
    assert_eq!(response.status, Status::Completed);
    assert_eq!(response.output.len(), 1);
    let OutputItem::Message(message) = &response.output[0] else {
        panic!("a message item: {:?}", response.output[0]);
    };
    assert!(message.id.starts_with("msg_"));
    assert_eq!(message.status, OutputStatus::Completed);
    let OutputMessageContent::OutputText(text) = &message.content[0] else {
        panic!("output_text content");
    };
    assert!(!text.text.is_empty());
    assert_eq!(response.output_text().as_deref(), Some(text.text.as_str()));
    let usage = response.usage.clone().unwrap();
    assert_eq!(
        usage.output_tokens as usize,
        Encoding::O200kBase.count(&text.text)
    );
    assert_eq!(usage.total_tokens, usage.input_tokens + usage.output_tokens);
    assert_eq!(usage.output_tokens_details.reasoning_tokens, 0);

    // The prompt is counted like the same conversation sent to chat.
    let chat = json!({
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "You tell gentle stories."},
            {"role": "user", "content": "Tell me about rabbits."},
            {"role": "assistant", "content": "Rabbits are small mammals."},
            {"role": "user", "content": "Tell me a story about a brave rabbit."}
        ]
    });
    let (_, completion) = post(&url, "/v1/chat/completions", chat).await;
    assert_eq!(completion["usage"]["prompt_tokens"], usage.input_tokens);

    let calls = calls_on(&url, "/v1/responses", 1).await;
    assert_eq!(calls[0]["response_id"], response.id);
    assert_eq!(calls[0]["billed"], true);
    assert_eq!(calls[0]["usage"]["input_tokens"], usage.input_tokens);
    assert_eq!(calls[0]["usage"]["output_tokens"], usage.output_tokens);
    // Both calls are in the Usage API's completions report.
    calls_on(&url, "/v1/chat/completions", 1).await;
    let (input, _, output) = usage_report(&url).await;
    let chat_output = completion["usage"]["completion_tokens"].as_u64().unwrap();
    assert_eq!(input, 2 * u64::from(usage.input_tokens));
    assert_eq!(output, u64::from(usage.output_tokens) + chat_output);
}

#[tokio::test]
async fn a_long_repeated_response_prompt_bills_cached_tokens() {
    let (_server, url) = start(OpenAiProfile::default()).await;
    let background = "The customer wrote about a parcel that did not arrive. ".repeat(160);
    let request = || {
        CreateResponseArgs::default()
            .model("gpt-4o")
            .instructions(background.clone())
            .input("Where is my order?")
            .max_output_tokens(16u32)
            .build()
            .unwrap()
    };
    let first = client(&url).responses().create(request()).await.unwrap();
    // Cut by max_output_tokens: incomplete, as the API reports it.
    assert_eq!(first.status, Status::Incomplete);
    let first = first.usage.unwrap();
    assert_eq!(first.input_tokens_details.cached_tokens, 0);
    assert_eq!(first.output_tokens, 16);
    let second = client(&url).responses().create(request()).await.unwrap();
    let cached = second.usage.unwrap().input_tokens_details.cached_tokens;
    assert!(cached >= 1024, "{cached}");
    let calls = calls_on(&url, "/v1/responses", 2).await;
    assert_eq!(calls[1]["usage"]["cached_tokens"], cached);
}

#[tokio::test]
async fn a_streamed_response_sends_the_documented_events_in_order() {
    let (_server, url) = start(OpenAiProfile::default()).await;
    let request = CreateResponseArgs::default()
        .model("gpt-4o")
        .input("Tell me a story about a brave rabbit.")
        .build()
        .unwrap();
    let whole = client(&url)
        .responses()
        .create(request.clone())
        .await
        .unwrap();
    let mut stream = client(&url)
        .responses()
        .create_stream(request)
        .await
        .unwrap();
    let mut kinds = Vec::new();
    let mut sequence = Vec::new();
    let mut deltas = String::new();
    let mut done_text = None;
    let mut completed = None;
    while let Some(event) = stream.next().await {
        let event = event.unwrap();
        let (kind, n) = match &event {
            ResponseStreamEvent::ResponseCreated(e) => {
                assert_eq!(e.response.status, Status::InProgress);
                assert!(e.response.usage.is_none());
                ("created", e.sequence_number)
            }
            ResponseStreamEvent::ResponseInProgress(e) => ("in_progress", e.sequence_number),
            ResponseStreamEvent::ResponseOutputItemAdded(e) => ("item_added", e.sequence_number),
            ResponseStreamEvent::ResponseContentPartAdded(e) => ("part_added", e.sequence_number),
            ResponseStreamEvent::ResponseOutputTextDelta(e) => {
                deltas.push_str(&e.delta);
                ("delta", e.sequence_number)
            }
            ResponseStreamEvent::ResponseOutputTextDone(e) => {
                done_text = Some(e.text.clone());
                ("text_done", e.sequence_number)
            }
            ResponseStreamEvent::ResponseContentPartDone(e) => ("part_done", e.sequence_number),
            ResponseStreamEvent::ResponseOutputItemDone(e) => ("item_done", e.sequence_number),
            ResponseStreamEvent::ResponseCompleted(e) => {
                completed = Some(e.response.clone());
                ("completed", e.sequence_number)
            }
            other => panic!("unexpected event {other:?}"),
        };
        if kinds.last() != Some(&kind) {
            kinds.push(kind);
        }
        sequence.push(n);
    }
    assert_eq!(
        kinds,
        [
            "created",
            "in_progress",
            "item_added",
            "part_added",
            "delta",
            "text_done",
            "part_done",
            "item_done",
            "completed"
        ]
    );
    assert_eq!(sequence, (0..sequence.len() as u64).collect::<Vec<_>>());
    let text = whole.output_text().unwrap();
    assert_eq!(deltas, text);
    assert_eq!(done_text.as_deref(), Some(text.as_str()));
    let completed = completed.unwrap();
    assert_eq!(completed.status, Status::Completed);
    assert_eq!(completed.output_text().as_deref(), Some(text.as_str()));
    let usage = completed.usage.unwrap();
    assert_eq!(usage.output_tokens, whole.usage.unwrap().output_tokens);
    let delta_events = sequence.len() - 8;
    assert_eq!(
        delta_events, usage.output_tokens as usize,
        "a delta per token"
    );
}

#[tokio::test]
async fn bad_response_requests_get_openai_s_errors() {
    let (_server, url) = start(OpenAiProfile::default()).await;
    for (body, param) in [
        (json!({"model": "gpt-4o", "input": []}), "input"),
        (
            json!({"model": "gpt-4o", "input": "hi", "max_output_tokens": 5}),
            "max_output_tokens",
        ),
        (
            json!({"model": "gpt-4o", "input": [{"role": "robot", "content": "hi"}]}),
            "input[0].role",
        ),
        (json!({"model": "gpt-4o", "input": 42}), "input"),
    ] {
        let (status, error) = post(&url, "/v1/responses", body).await;
        assert_eq!(status, 400, "{error}");
        assert_eq!(error["error"]["type"], "invalid_request_error");
        assert_eq!(error["error"]["param"], param, "{error}");
    }
    let (status, error) = post(
        &url,
        "/v1/responses",
        json!({"model": "gpt-4o", "input": "hi", "messages": []}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        error["error"]["message"],
        "Unrecognized request argument supplied: messages"
    );
}

fn weather_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "city": {"type": "string", "maxLength": 60},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "days": {"type": "integer", "minimum": 1, "maximum": 100},
            "hourly": {"type": "boolean"},
            "places": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"], "additionalProperties": false}}
        },
        "required": ["city", "unit", "days", "hourly", "places"],
        "additionalProperties": false
    })
}

fn chat_tools() -> Vec<ChatCompletionTools> {
    let function = |name: &str, parameters: Value| {
        ChatCompletionTools::Function(ChatCompletionTool {
            function: FunctionObjectArgs::default()
                .name(name)
                .description("A tool")
                .parameters(parameters)
                .build()
                .unwrap(),
        })
    };
    vec![
        function("get_weather", weather_schema()),
        function("get_time", json!({"type": "object", "properties": {}})),
    ]
}

fn tool_request(
    prompt: &str,
    choice: ChatCompletionToolChoiceOption,
) -> async_openai::types::chat::CreateChatCompletionRequest {
    CreateChatCompletionRequestArgs::default()
        .model("gpt-4o")
        .messages(vec![
            ChatCompletionRequestUserMessageArgs::default()
                .content(prompt)
                .build()
                .unwrap()
                .into(),
        ])
        .tools(chat_tools())
        .tool_choice(choice)
        .build()
        .unwrap()
}

fn named(name: &str) -> ChatCompletionToolChoiceOption {
    ChatCompletionToolChoiceOption::Function(ChatCompletionNamedToolChoice {
        function: FunctionName { name: name.into() },
    })
}

#[tokio::test]
async fn a_required_or_named_tool_choice_calls_with_arguments_that_follow_the_schema() {
    let (_server, url) = start(OpenAiProfile::default()).await;
    let required = ChatCompletionToolChoiceOption::Mode(ToolChoiceOptions::Required);
    let validator = jsonschema::validator_for(&weather_schema()).unwrap();
    let mut names = std::collections::BTreeSet::new();
    for i in 0..12 {
        let prompt = format!("What is the weather in city number {i}?");
        let response = client(&url)
            .chat()
            .create(tool_request(&prompt, required.clone()))
            .await
            .unwrap();
        let choice = &response.choices[0];
        assert_eq!(choice.finish_reason, Some(FinishReason::ToolCalls));
        assert_eq!(choice.message.content, None);
        let mut tokens = 0;
        for call in choice.message.tool_calls.as_ref().unwrap() {
            let ChatCompletionMessageToolCalls::Function(call) = call else {
                panic!("a function call");
            };
            assert!(call.id.starts_with("call_"));
            names.insert(call.function.name.clone());
            let arguments: Value = serde_json::from_str(&call.function.arguments).unwrap();
            if call.function.name == "get_weather" {
                assert!(validator.is_valid(&arguments), "{arguments}");
            } else {
                assert_eq!(arguments, json!({}));
            }
            tokens += Encoding::O200kBase.count(&call.function.arguments);
        }
        // several calls are billed their arguments together
        assert_eq!(response.usage.unwrap().completion_tokens as usize, tokens);
    }
    assert_eq!(names.len(), 2, "required picks among the tools");

    // A named function: that one, and `stop`, as the API reports a forced call.
    let response = client(&url)
        .chat()
        .create(tool_request("Weather in Oslo?", named("get_weather")))
        .await
        .unwrap();
    let choice = &response.choices[0];
    assert_eq!(choice.finish_reason, Some(FinishReason::Stop));
    let ChatCompletionMessageToolCalls::Function(call) =
        &choice.message.tool_calls.as_ref().unwrap()[0]
    else {
        panic!("a function call");
    };
    assert_eq!(call.function.name, "get_weather");
    let arguments: Value = serde_json::from_str(&call.function.arguments).unwrap();
    assert!(validator.is_valid(&arguments), "{arguments}");
    // The same request calls the same way, under an id of its own.
    let again = client(&url)
        .chat()
        .create(tool_request("Weather in Oslo?", named("get_weather")))
        .await
        .unwrap();
    let ChatCompletionMessageToolCalls::Function(repeated) =
        &again.choices[0].message.tool_calls.as_ref().unwrap()[0]
    else {
        panic!("a function call");
    };
    assert_eq!(repeated.function, call.function);
    assert_ne!(repeated.id, call.id);

    // Booked like any answer: the arguments are the content delivered.
    let calls = calls_on(&url, "/v1/chat/completions", 14).await;
    assert!(
        calls
            .iter()
            .all(|c| c["billed"] == true && c["usage"]["output_tokens"].as_u64().unwrap() > 0)
    );

    let (status, error) = post(
        &url,
        "/v1/chat/completions",
        json!({
            "model": "gpt-4o",
            "messages": [{"role": "user", "content": "hi"}],
            "tools": [{"type": "function", "function": {"name": "get_time"}}],
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}}
        }),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(error["error"]["param"], "tool_choice");
}

/// The function calls of a whole chat answer's first choice.
fn function_calls(response: &CreateChatCompletionResponse) -> Vec<FunctionCall> {
    let calls = response.choices[0].message.tool_calls.iter().flatten();
    calls
        .map(|call| match call {
            ChatCompletionMessageToolCalls::Function(call) => call.function.clone(),
            ChatCompletionMessageToolCalls::Custom(_) => panic!("a function call"),
        })
        .collect()
}

#[tokio::test]
async fn streamed_tool_calls_arrive_in_fragments_like_the_api_s() {
    // every calling answer makes several calls
    let (_server, url) = start(OpenAiProfile {
        parallel_tool_call_share: 1.0,
        ..OpenAiProfile::default()
    })
    .await;
    let request = || {
        let mut request = tool_request(
            "Weather in Lisbon and Porto for a week?",
            ChatCompletionToolChoiceOption::Mode(ToolChoiceOptions::Required),
        );
        // Only the tool with arguments to stream.
        request.tools = Some(vec![chat_tools().remove(0)]);
        request
    };
    let whole = client(&url).chat().create(request()).await.unwrap();
    let expected = function_calls(&whole);
    assert!((2..=3).contains(&expected.len()), "{expected:?}");
    let whole_ids: Vec<String> = whole.choices[0]
        .message
        .tool_calls
        .iter()
        .flatten()
        .map(|c| match c {
            ChatCompletionMessageToolCalls::Function(c) => c.id.clone(),
            ChatCompletionMessageToolCalls::Custom(c) => c.id.clone(),
        })
        .collect();
    let mut stream = client(&url).chat().create_stream(request()).await.unwrap();
    let mut fragments = Vec::new();
    let mut finish = None;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        for choice in &chunk.choices {
            assert_eq!(choice.delta.content, None, "a call streams no text");
            if let Some(calls) = &choice.delta.tool_calls {
                fragments.extend(calls.iter().cloned());
            }
            if choice.finish_reason.is_some() {
                finish = choice.finish_reason;
            }
        }
    }
    assert_eq!(finish, Some(FinishReason::ToolCalls));
    assert!(
        fragments.len() > 2 * expected.len(),
        "arguments come in fragments"
    );
    // each call starts with its index, id, name and empty arguments, once, then
    // its fragments; the calls one after another, each with an id of this
    // request's own
    let mut streamed: Vec<FunctionCall> = Vec::new();
    let mut ids = Vec::new();
    for fragment in &fragments {
        let index = fragment.index as usize;
        let function = fragment.function.as_ref().unwrap();
        if let Some(id) = &fragment.id {
            assert_eq!(index, streamed.len(), "calls start in order");
            assert!(id.starts_with("call_") && !whole_ids.contains(id), "{id}");
            assert_eq!(function.arguments.as_deref(), Some(""));
            ids.push(id.clone());
            streamed.push(FunctionCall {
                name: function.name.clone().unwrap(),
                arguments: String::new(),
            });
            continue;
        }
        assert_eq!(index + 1, streamed.len(), "a fragment of the latest call");
        assert!(fragment.r#type.is_none() && function.name.is_none());
        streamed[index]
            .arguments
            .push_str(function.arguments.as_deref().unwrap());
    }
    assert_eq!(streamed, expected);
    ids.dedup();
    assert_eq!(ids.len(), expected.len());

    // `parallel_tool_calls: false`: one call
    let mut single = request();
    single.parallel_tool_calls = Some(false);
    let response = client(&url).chat().create(single).await.unwrap();
    assert_eq!(function_calls(&response).len(), 1);
}

#[tokio::test]
async fn auto_calls_a_share_of_requests_none_never_and_a_tool_result_gets_text() {
    let auto = ChatCompletionToolChoiceOption::Mode(ToolChoiceOptions::Auto);
    let none = ChatCompletionToolChoiceOption::Mode(ToolChoiceOptions::None);
    let (_half, url) = start(OpenAiProfile::default()).await;
    let mut called = 0;
    for i in 0..40 {
        let prompt = format!("Question {i}: what is the weather like?");
        let response = client(&url)
            .chat()
            .create(tool_request(&prompt, auto.clone()))
            .await
            .unwrap();
        let message = &response.choices[0].message;
        if message.tool_calls.is_some() {
            called += 1;
            assert_eq!(
                response.choices[0].finish_reason,
                Some(FinishReason::ToolCalls)
            );
        } else {
            assert!(message.content.as_deref().is_some_and(|t| !t.is_empty()));
            assert_eq!(response.choices[0].finish_reason, Some(FinishReason::Stop));
        }
    }
    assert!(
        (8..=32).contains(&called),
        "about half of 40 call: {called}"
    );

    let (_always, url) = start(OpenAiProfile {
        tool_call_share: 1.0,
        ..OpenAiProfile::default()
    })
    .await;
    let response = client(&url)
        .chat()
        .create(tool_request("Weather?", auto.clone()))
        .await
        .unwrap();
    assert!(response.choices[0].message.tool_calls.is_some());
    let response = client(&url)
        .chat()
        .create(tool_request("Weather?", none))
        .await
        .unwrap();
    assert!(response.choices[0].message.tool_calls.is_none());
    // After the tool's result, the model answers.
    let (status, answer) = post(
        &url,
        "/v1/chat/completions",
        json!({
            "model": "gpt-4o",
            "messages": [
                {"role": "user", "content": "Weather?"},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": "It is noon."}
            ],
            "tools": [{"type": "function", "function": {"name": "get_time"}}],
            "tool_choice": "auto"
        }),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer["choices"][0]["message"]["content"].is_string());
    assert!(answer["choices"][0]["message"].get("tool_calls").is_none());
}

/// A response request about `input` that must call the weather function.
fn weather_response(input: &str) -> async_openai::types::responses::CreateResponse {
    CreateResponseArgs::default()
        .model("gpt-4o-mini")
        .input(input)
        .tools(vec![ResponseTool::Function(FunctionTool {
            name: "get_weather".into(),
            parameters: Some(weather_schema()),
            strict: Some(true),
            ..FunctionTool::default()
        })])
        .tool_choice(ToolChoiceParam::Option(ResponseToolChoice::Required))
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_responses_api_calls_functions_as_function_call_items() {
    let (_server, url) = start(OpenAiProfile::default()).await;
    let request = || weather_response("Weather in Rome?");
    let response = client(&url).responses().create(request()).await.unwrap();
    assert_eq!(response.status, Status::Completed);
    let OutputItem::FunctionCall(call) = &response.output[0] else {
        panic!("a function call item: {:?}", response.output);
    };
    assert_eq!(call.name, "get_weather");
    assert!(call.call_id.starts_with("call_"));
    let arguments: Value = serde_json::from_str(&call.arguments).unwrap();
    let validator = jsonschema::validator_for(&weather_schema()).unwrap();
    assert!(validator.is_valid(&arguments), "{arguments}");

    let mut stream = client(&url)
        .responses()
        .create_stream(request())
        .await
        .unwrap();
    let mut deltas = String::new();
    let mut done = None;
    while let Some(event) = stream.next().await {
        match event.unwrap() {
            ResponseStreamEvent::ResponseFunctionCallArgumentsDelta(e) => deltas.push_str(&e.delta),
            ResponseStreamEvent::ResponseFunctionCallArgumentsDone(e) => done = Some(e.arguments),
            ResponseStreamEvent::ResponseOutputTextDelta(_) => panic!("a call streams no text"),
            _ => {}
        }
    }
    assert_eq!(deltas, call.arguments);
    assert_eq!(done.as_deref(), Some(call.arguments.as_str()));
}

/// Parallel calls on the Responses API: one `function_call` item each, streamed
/// one after another under their `output_index`; the next turn answers them all.
#[tokio::test]
async fn parallel_calls_are_items_of_their_own_and_the_next_turn_answers_them_all() {
    let (_server, url) = start(OpenAiProfile {
        parallel_tool_call_share: 1.0,
        ..OpenAiProfile::default()
    })
    .await;
    let request = || weather_response("Weather in Rome and in Milan?");
    let response = client(&url).responses().create(request()).await.unwrap();
    let calls: Vec<_> = response
        .output
        .iter()
        .map(|item| match item {
            OutputItem::FunctionCall(call) => call.clone(),
            other => panic!("a function call item: {other:?}"),
        })
        .collect();
    assert!((2..=3).contains(&calls.len()), "{calls:?}");
    let mut ids: Vec<&str> = calls.iter().flat_map(|c| [c.call_id.as_str()]).collect();
    ids.extend(calls.iter().filter_map(|c| c.id.as_deref()));
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(
        ids.len(),
        2 * calls.len(),
        "every call and item has its own id"
    );

    let mut stream = client(&url)
        .responses()
        .create_stream(request())
        .await
        .unwrap();
    let mut added = Vec::new();
    let mut arguments: Vec<String> = Vec::new();
    let mut completed = None;
    while let Some(event) = stream.next().await {
        match event.unwrap() {
            ResponseStreamEvent::ResponseOutputItemAdded(e) => {
                added.push(e.output_index);
                arguments.push(String::new());
            }
            ResponseStreamEvent::ResponseFunctionCallArgumentsDelta(e) => {
                assert_eq!(
                    e.output_index as usize + 1,
                    arguments.len(),
                    "the latest item"
                );
                arguments[e.output_index as usize].push_str(&e.delta);
            }
            ResponseStreamEvent::ResponseCompleted(e) => completed = Some(e.response),
            _ => {}
        }
    }
    assert_eq!(added, (0..calls.len() as u32).collect::<Vec<_>>());
    let expected: Vec<&str> = calls.iter().map(|c| c.arguments.as_str()).collect();
    assert_eq!(arguments, expected);
    assert_eq!(completed.unwrap().output.len(), calls.len());

    // the next turn sends every call's output and gets an answer in text
    let outputs: Vec<Value> = calls
        .iter()
        .map(|c| json!({"type": "function_call_output", "call_id": c.call_id, "output": "18 C"}))
        .collect();
    let (status, next) = post(
        &url,
        "/v1/responses",
        json!({"model": "gpt-4o-mini", "previous_response_id": response.id, "input": outputs}),
    )
    .await;
    assert_eq!(status, 200, "{next}");
    assert_eq!(next["output"][0]["type"], "message");
    // leaving one unanswered is refused, as the API refuses it
    let (status, error) = post(
        &url,
        "/v1/responses",
        json!({"model": "gpt-4o-mini", "previous_response_id": response.id, "input": outputs[1..]}),
    )
    .await;
    assert_eq!(status, 400, "{error}");
    let message = error["error"]["message"].as_str().unwrap();
    assert!(message.contains(&calls[0].call_id), "{message}");
}

/// Structured outputs: with a strict `json_schema` of nested objects and arrays of
/// objects, every answer parses and validates against the schema.
#[tokio::test]
async fn structured_outputs_follow_a_nested_schema() {
    let (handle, url) = start(OpenAiProfile::default()).await;
    let schema = json!({
        "type": "object",
        "properties": {
            "order_id": {"type": "string"},
            "customer": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "tier": {"type": "string", "enum": ["free", "pro", "enterprise"]},
                    "address": {
                        "type": "object",
                        "properties": {"city": {"type": "string"}, "zip": {"type": "string"}},
                        "required": ["city", "zip"],
                        "additionalProperties": false
                    }
                },
                "required": ["name", "tier", "address"],
                "additionalProperties": false
            },
            "items": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "sku": {"type": "string"},
                        "quantity": {"type": "integer"},
                        "price": {"type": "number"},
                        "tags": {"type": "array", "items": {"type": "string"}}
                    },
                    "required": ["sku", "quantity", "price", "tags"],
                    "additionalProperties": false
                }
            },
            "gift": {"type": "boolean"}
        },
        "required": ["order_id", "customer", "items", "gift"],
        "additionalProperties": false
    });
    let validator = jsonschema::validator_for(&schema).unwrap();
    let client = client(&url);
    for prompt in [
        "Extract the order: two mugs for Ana in Lisbon.",
        "Extract the order: a pro customer buying three lamps.",
        "Extract the order from this email about a gift box.",
    ] {
        let request = CreateChatCompletionRequestArgs::default()
            .model("gpt-4o-mini")
            .messages([ChatCompletionRequestUserMessageArgs::default()
                .content(prompt)
                .build()
                .unwrap()
                .into()])
            .response_format(ResponseFormat::JsonSchema {
                json_schema: ResponseFormatJsonSchema {
                    description: None,
                    name: "order".into(),
                    schema: schema.clone(),
                    strict: Some(true),
                },
            })
            .build()
            .unwrap();
        let response = client.chat().create(request).await.unwrap();
        let text = response.choices[0].message.content.clone().unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        assert!(validator.is_valid(&value), "{prompt}: {value}");
        assert!(
            value["items"].as_array().is_some_and(|i| !i.is_empty()),
            "{value}"
        );
    }
    handle.stop().await;
}

/// A response that continues `previous` with `input`.
async fn continued(
    client: &Client<OpenAIConfig>,
    previous: &str,
    input: &str,
) -> async_openai::types::responses::Response {
    let request = CreateResponseArgs::default()
        .model("gpt-4o-mini")
        .previous_response_id(previous)
        .input(input)
        .build()
        .unwrap();
    client.responses().create(request).await.unwrap()
}

/// The SDK's error for a call the API refused, and the status it came with.
fn api_error(
    result: Result<impl std::fmt::Debug, async_openai::error::OpenAIError>,
    status: u16,
) -> Value {
    match result {
        Err(async_openai::error::OpenAIError::ApiError(e)) => {
            assert_eq!(e.status_code.as_u16(), status, "{e}");
            serde_json::to_value(&e.api_error).unwrap()
        }
        other => panic!("an API error: {other:?}"),
    }
}

#[tokio::test]
async fn a_stored_response_is_retrieved_listed_continued_and_deleted() {
    let (_server, url) = start(OpenAiProfile::default()).await;
    let responses = client(&url);
    let first = responses
        .responses()
        .create(
            CreateResponseArgs::default()
                .model("gpt-4o-mini")
                .instructions("You tell gentle stories.")
                .input("Tell me about rabbits.")
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    let said = first.output_text().unwrap();

    // Retrieved as it ended, and its input listed with ids.
    let fetched = responses.responses().retrieve(&first.id).await.unwrap();
    assert_eq!(fetched.id, first.id);
    assert_eq!(fetched.status, Status::Completed);
    assert_eq!(fetched.output_text().as_deref(), Some(said.as_str()));
    assert_eq!(fetched.usage, first.usage);
    let items = responses
        .responses()
        .list_input_items(&first.id)
        .await
        .unwrap();
    assert_eq!(items.data.len(), 1);
    assert!(!items.has_more);
    // the SDK reads any item with an id as a reference: the raw page for the rest
    let page = get(&url, &format!("/v1/responses/{}/input_items", first.id)).await;
    let item = &page["data"][0];
    assert_eq!(item["type"], "message");
    assert_eq!(item["role"], "user");
    assert_eq!(item["content"][0]["type"], "input_text");
    assert_eq!(item["content"][0]["text"], "Tell me about rabbits.");
    assert_eq!(items.first_id.as_deref(), item["id"].as_str());
    assert!(items.first_id.unwrap().starts_with("msg_"));

    // A continuation's prompt is the earlier turn (without its instructions) and
    // its own input, counted as chat counts that conversation.
    let second = continued(&responses, &first.id, "And about foxes?").await;
    assert_eq!(
        second.previous_response_id.as_deref(),
        Some(first.id.as_str())
    );
    let (status, chat) = post(
        &url,
        "/v1/chat/completions",
        json!({"model": "gpt-4o-mini", "messages": [
            {"role": "user", "content": "Tell me about rabbits."},
            {"role": "assistant", "content": said},
            {"role": "user", "content": "And about foxes?"},
        ]}),
    )
    .await;
    assert_eq!(status, 200);
    let input_tokens = second.usage.clone().unwrap().input_tokens;
    assert_eq!(u64::from(input_tokens), chat["usage"]["prompt_tokens"]);
    let calls = calls_on(&url, "/v1/responses", 2).await;
    assert_eq!(calls[1]["usage"]["input_tokens"], input_tokens);
    // Its input items are the conversation's: the earlier turn's input and
    // output (with the ids they were given), then its own, the latest first.
    let page = get(&url, &format!("/v1/responses/{}/input_items", second.id)).await;
    let earlier = get(&url, &format!("/v1/responses/{}", first.id)).await;
    let listed: Vec<(&str, &str)> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["role"].as_str().unwrap(),
                i["content"][0]["text"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("user", "And about foxes?"),
            ("assistant", said.as_str()),
            ("user", "Tell me about rabbits."),
        ]
    );
    assert_eq!(page["data"][1], earlier["output"][0]);
    assert_eq!(page["data"][2], *item);
    let oldest = get(
        &url,
        &format!("/v1/responses/{}/input_items?order=asc&limit=1", second.id),
    )
    .await;
    assert_eq!(oldest["data"][0], *item);
    assert_eq!(oldest["has_more"], true);

    // An id it does not hold, for this key or at all, is refused as the API does.
    let unknown = api_error(
        responses
            .responses()
            .create(
                CreateResponseArgs::default()
                    .model("gpt-4o-mini")
                    .previous_response_id("resp_nothing")
                    .input("Hello?")
                    .build()
                    .unwrap(),
            )
            .await,
        400,
    );
    assert_eq!(unknown["code"], "previous_response_not_found");
    assert_eq!(unknown["param"], "previous_response_id");
    assert_eq!(
        unknown["message"],
        "Previous response with id 'resp_nothing' not found."
    );
    let stranger = Client::build(
        gatebench_tls::client(),
        OpenAIConfig::new()
            .with_api_base(format!("{url}/v1"))
            .with_api_key("sk-someone-else"),
    );
    let hidden = api_error(stranger.responses().retrieve(&first.id).await, 404);
    assert_eq!(
        hidden["message"],
        format!("Response with id '{}' not found.", first.id)
    );

    // Not stored when asked not to be.
    let unstored = responses
        .responses()
        .create(
            CreateResponseArgs::default()
                .model("gpt-4o-mini")
                .input("Forget this.")
                .store(false)
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    api_error(responses.responses().retrieve(&unstored.id).await, 404);

    // Deleted, it is gone; the conversation that continued it is not.
    let deleted = responses.responses().delete(&first.id).await.unwrap();
    assert!(deleted.deleted);
    assert_eq!(deleted.id, first.id);
    api_error(responses.responses().retrieve(&first.id).await, 404);
    api_error(responses.responses().delete(&first.id).await, 404);
    let third = continued(&responses, &second.id, "Which is faster?").await;
    assert!(third.usage.unwrap().input_tokens > input_tokens);
}
