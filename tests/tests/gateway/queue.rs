//! The priority queue seen from clients: order under saturation, a full queue,
//! and a client that gives up leaving the queue without an upstream call.

use std::time::Duration;

use gatebench_distr::Delay;
use gatebench_e2e::{ALPHA, BETA, chat_body, client, eventually, get_json, mock_stats};
use gatebench_stack::{Stack, StackOptions};
use gatebench_wire::books::{CallPage, digest};
use serde_json::Value;

/// One upstream slot; every chat model instant except gpt-4o, which takes 1.5 s
/// to its first token, so a gpt-4o request holds the slot while others queue.
async fn one_slot_stack(queue_capacity: usize) -> Stack {
    gatebench_e2e::stack(|o: &mut StackOptions| {
        o.time_scale = 1.0;
        for (name, model) in o.profile.openai.chat_models.iter_mut() {
            model.first_token = if name == "gpt-4o" {
                Delay::Fixed(Duration::from_millis(1500))
            } else {
                Delay::ZERO
            };
            model.per_token = Delay::ZERO;
        }
        for provider in o
            .gateway
            .providers
            .iter_mut()
            .filter(|p| p.name == "openai")
        {
            provider.concurrency = 1;
            provider.queue_capacity = queue_capacity;
        }
        o.gateway.queue.aging = Duration::from_secs(600);
    })
    .await
}

async fn openai_queue(http: &reqwest::Client, url: &str) -> (u64, u64) {
    let ready: Value = http
        .get(format!("{url}/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let openai = ready["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "openai")
        .unwrap()
        .clone();
    (
        openai["in_flight"].as_u64().unwrap(),
        openai["waiting"].as_u64().unwrap(),
    )
}

fn no_cache(
    http: &reqwest::Client,
    url: &str,
    key: &str,
    model: &str,
    prompt: &str,
) -> reqwest::RequestBuilder {
    http.post(format!("{url}/v1/chat/completions"))
        .bearer_auth(key)
        .header("x-gatebench-cache", "no-cache, no-store")
        .json(&chat_body(model, prompt))
}

#[tokio::test]
async fn under_saturation_higher_classes_go_first_and_low_is_still_served() {
    let stack = one_slot_stack(64).await;
    let http = client();
    let url = stack.gateway_url();
    let blocker = tokio::spawn(no_cache(&http, &url, ALPHA, "gpt-4o", "hold the slot").send());
    eventually(
        "the blocker holds the slot",
        Duration::from_secs(10),
        || async { openai_queue(&http, &url).await.0 == 1 },
    )
    .await;

    let mut tasks = Vec::new();
    // Lows arrive first, then highs; each waits until the previous one is queued.
    for (i, priority) in ["low", "low", "low", "high", "high", "high"]
        .into_iter()
        .enumerate()
    {
        let prompt = format!("q{i}");
        let request = no_cache(
            &http,
            &url,
            if i % 2 == 0 { ALPHA } else { BETA },
            "gpt-4o-mini",
            &prompt,
        )
        .header("x-gatebench-priority", priority);
        tasks.push(tokio::spawn(async move {
            let response = request.send().await.unwrap();
            let timing = response.headers()["server-timing"]
                .to_str()
                .unwrap()
                .to_owned();
            (
                priority,
                response.status().as_u16(),
                digest(prompt.as_bytes()),
                queue_ms(&timing),
            )
        }));
        eventually("the request is queued", Duration::from_secs(10), || async {
            openai_queue(&http, &url).await.1 == i as u64 + 1
        })
        .await;
    }
    assert_eq!(blocker.await.unwrap().unwrap().status(), 200);
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }
    assert!(
        results.iter().all(|(_, status, _, _)| *status == 200),
        "{results:?}"
    );
    // The provider's books say in which order the calls reached it: with one slot,
    // the order the queue let them go. (Their answers reach the clients in
    // parallel, so the order the clients finish in says less.)
    let openai = stack.mock_url("openai").unwrap();
    let page: CallPage = get_json(&format!("{openai}/_mock/calls?after=0&limit=100")).await;
    let served = |class: &str| -> Vec<u64> {
        results
            .iter()
            .filter(|r| r.0 == class)
            .map(|r| {
                page.data
                    .iter()
                    .find(|call| call.prompt_digest.as_deref() == Some(r.2.as_str()))
                    .map(|call| call.id)
                    .unwrap_or_else(|| panic!("no call in the books for {r:?}"))
            })
            .collect()
    };
    let (highs, lows) = (served("high"), served("low"));
    assert!(
        highs.iter().max() < lows.iter().min(),
        "every high reached the provider before any low: highs {highs:?}, lows {lows:?}"
    );
    let max_high_wait = results
        .iter()
        .filter(|r| r.0 == "high")
        .map(|r| r.3)
        .fold(0.0, f64::max);
    let min_low_wait = results
        .iter()
        .filter(|r| r.0 == "low")
        .map(|r| r.3)
        .fold(f64::MAX, f64::min);
    assert!(
        max_high_wait <= min_low_wait,
        "server-timing agrees: {results:?}"
    );
    stack.shutdown().await;
}

fn queue_ms(server_timing: &str) -> f64 {
    server_timing
        .split(',')
        .find_map(|part| part.trim().strip_prefix("queue;dur="))
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

#[tokio::test]
async fn a_full_queue_answers_429_with_retry_after() {
    let stack = one_slot_stack(1).await;
    let http = client();
    let url = stack.gateway_url();
    let blocker = tokio::spawn(no_cache(&http, &url, ALPHA, "gpt-4o", "hold").send());
    eventually(
        "the blocker holds the slot",
        Duration::from_secs(10),
        || async { openai_queue(&http, &url).await.0 == 1 },
    )
    .await;
    let waiter = tokio::spawn(no_cache(&http, &url, ALPHA, "gpt-4o-mini", "wait").send());
    eventually("one request waits", Duration::from_secs(10), || async {
        openai_queue(&http, &url).await.1 == 1
    })
    .await;
    // gpt-4 has no fallback: a full queue is a 429.
    let refused = no_cache(&http, &url, ALPHA, "gpt-4", "no room")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "queue_full");
    // gpt-4o-mini has one: it overflows to DeepSeek instead.
    let overflow = no_cache(&http, &url, ALPHA, "gpt-4o-mini", "no room")
        .send()
        .await
        .unwrap();
    assert_eq!(overflow.status(), 200);
    assert_eq!(overflow.headers()["x-gatebench-provider"], "deepseek");
    assert_eq!(blocker.await.unwrap().unwrap().status(), 200);
    assert_eq!(waiter.await.unwrap().unwrap().status(), 200);
    stack.shutdown().await;
}

#[tokio::test]
async fn a_deadline_that_cannot_be_met_is_refused() {
    let stack = one_slot_stack(16).await;
    let http = client();
    let url = stack.gateway_url();
    let blocker = tokio::spawn(no_cache(&http, &url, ALPHA, "gpt-4o", "hold").send());
    eventually(
        "the blocker holds the slot",
        Duration::from_secs(10),
        || async { openai_queue(&http, &url).await.0 == 1 },
    )
    .await;
    let refused = no_cache(&http, &url, ALPHA, "gpt-4o-mini", "hurry")
        .header("x-gatebench-deadline-ms", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 429);
    assert_eq!(
        refused.json::<Value>().await.unwrap()["error"]["code"],
        "deadline_exceeded"
    );
    assert_eq!(blocker.await.unwrap().unwrap().status(), 200);
    stack.shutdown().await;
}

#[tokio::test]
async fn a_client_that_gives_up_leaves_the_queue_and_no_upstream_call_is_made() {
    let stack = one_slot_stack(16).await;
    let http = client();
    let url = stack.gateway_url();
    let mock = stack.mock_url("openai").unwrap();
    let blocker = tokio::spawn(no_cache(&http, &url, ALPHA, "gpt-4o", "hold").send());
    eventually(
        "the blocker holds the slot",
        Duration::from_secs(10),
        || async { openai_queue(&http, &url).await.0 == 1 },
    )
    .await;

    let impatient = gatebench_tls::http_client()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let gave_up = no_cache(&impatient, &url, ALPHA, "gpt-4o-mini", "never mind")
        .send()
        .await;
    assert!(gave_up.unwrap_err().is_timeout());
    eventually(
        "the abandoned request left the queue",
        Duration::from_secs(10),
        || async { openai_queue(&http, &url).await.1 == 0 },
    )
    .await;
    assert_eq!(blocker.await.unwrap().unwrap().status(), 200);
    let stats = mock_stats(&http, &mock).await;
    let chat = &stats["by_route"]["/v1/chat/completions"];
    assert_eq!(
        chat["ok"], 1,
        "only the blocker reached the provider: {stats}"
    );
    stack.shutdown().await;
}
