//! The bottleneck finder against real servers: it names the gateway's queue when
//! the upstream concurrency is tiny, the provider when the mock is slow (from the
//! gateway's `server-timing` and from the mocks' books alone), and the CPU when
//! the target saturates the machine's cores.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::routing::post;
use gatebench_distr::Delay;
use gatebench_driver::analysis::{Bottleneck, Component};
use gatebench_driver::books::Books;
use gatebench_driver::{RunOptions, RunResults, ScenarioFile, Targets};
use gatebench_e2e::ALPHA;
use gatebench_stack::{Stack, StackOptions};

/// A stack in real time whose gpt-4o-mini answers after `latency`, with
/// `concurrency` upstream slots for the OpenAI provider.
async fn stack(latency: Duration, concurrency: usize) -> Stack {
    gatebench_e2e::stack(|o: &mut StackOptions| {
        o.time_scale = 1.0;
        let model = o
            .profile
            .openai
            .chat_models
            .get_mut("gpt-4o-mini")
            .expect("gpt-4o-mini in the default profile");
        model.first_token = Delay::Fixed(latency);
        model.per_token = Delay::ZERO;
        for p in o
            .gateway
            .providers
            .iter_mut()
            .filter(|p| p.name == "openai")
        {
            p.concurrency = concurrency;
            p.queue_capacity = 10_000;
        }
    })
    .await
}

fn books_of(stack: &Stack) -> Books {
    Books::at(
        stack
            .mock_urls()
            .into_iter()
            .map(|(name, url)| (name.to_owned(), url))
            .collect(),
    )
}

/// An open-loop chat load of `rate` per second for `seconds`, cache off, CPU
/// sampled every 250 ms.
fn scenario(rate: u32, seconds: u32, key: &str) -> ScenarioFile {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    let text = format!(
        r#"name = "bottleneck"
[load]
executor = "constant-arrival-rate"
rate = {rate}
duration = "{seconds}s"
max_vus = 400
[[requests]]
name = "chat"
kind = "chat"
model = "gpt-4o-mini"
max_tokens = 8
prompts = "{}"
api_key = "{key}"
headers = {{ "x-gatebench-cache" = "no-cache, no-store" }}
[resources]
interval = "250ms"
"#,
        fixtures.join("prompts/stories.toml").display()
    );
    ScenarioFile::parse(&fixtures.join("inline.toml"), &text).unwrap()
}

async fn run(file: &ScenarioFile, url: &str, options: RunOptions) -> RunResults {
    let options = RunOptions {
        quiet: true,
        ..options
    };
    gatebench_driver::run(file, &Targets::new(url), options)
        .await
        .unwrap()
}

fn found(r: &RunResults) -> &Bottleneck {
    assert_eq!(r.totals.failed, 0, "{:?}", r.totals.errors);
    r.bottleneck.as_ref().expect("a bottleneck finding")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_upstream_slot_makes_the_queue_the_bottleneck() {
    // 60 calls/s against one slot of 20 ms (50/s at best): the queue grows
    let stack = stack(Duration::from_millis(20), 1).await;
    let options = RunOptions {
        books: Some(books_of(&stack)),
        upstream_concurrency: BTreeMap::from([("openai".to_owned(), 1)]),
        ..RunOptions::default()
    };
    let r = run(&scenario(60, 2, ALPHA), &stack.gateway_url(), options).await;
    let b = found(&r);
    assert_eq!(b.component, Component::Queue, "{b:#?}");
    assert_eq!(b.source, "server-timing and books");
    assert!(b.share.unwrap() > 0.5, "{b:#?}");
    assert!(
        b.recommendation
            .contains("upstream concurrency 1 is the limit"),
        "{}",
        b.recommendation
    );
    let truth = b
        .measured
        .upstream_truth
        .as_ref()
        .expect("the books were read");
    assert_eq!(truth.calls, r.totals.ok, "one call per request, no retries");
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_provider_is_the_bottleneck_seen_by_the_gateway_and_by_the_books() {
    let stack = stack(Duration::from_millis(500), 8).await;
    let file = scenario(10, 2, ALPHA);
    let options = || RunOptions {
        books: Some(books_of(&stack)),
        ..RunOptions::default()
    };
    let r = run(&file, &stack.gateway_url(), options()).await;
    let b = found(&r);
    assert_eq!(b.component, Component::Upstream, "{b:#?}");
    assert_eq!(b.source, "server-timing and books");
    // most of the latency, even with the gateway short of CPU on a busy machine
    assert!(b.share.unwrap() > 0.5, "{b:#?}");

    // the mock itself as the target: no server-timing, the books alone
    let openai = stack.mock_url("openai").unwrap();
    let r = run(&file, &openai, options()).await;
    let b = found(&r);
    assert_eq!(b.component, Component::Upstream, "{b:#?}");
    assert_eq!(b.source, "books");
    stack.shutdown().await;
}

/// A user's app: spins `cpu` of CPU per request, then asks the OpenAI mock.
async fn busy_app(State((mock, cpu)): State<(String, Duration)>, body: String) -> String {
    let start = Instant::now();
    let mut x = 0u64;
    while start.elapsed() < cpu {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
    gatebench_tls::client()
        .post(format!("{mock}/v1/chat/completions"))
        .bearer_auth("sk-app")
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_that_saturates_the_cores_is_cpu_bound() {
    // instant mocks; the app spins 15 ms per request on as many threads as there
    // are cores, and is asked for more than they can give
    let stack = gatebench_e2e::stack(|_| {}).await;
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    let state = (stack.mock_url("openai").unwrap(), Duration::from_millis(15));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let app = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(cores)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let app = axum::Router::new()
                .route("/v1/chat/completions", post(busy_app))
                .with_state(state);
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stop_rx.await;
                })
                .await
                .unwrap();
        });
    });
    let rate = (cores as u32) * 1000 / 15 * 3 / 2;
    let options = RunOptions {
        books: Some(books_of(&stack)),
        ..RunOptions::default()
    };
    let r = run(&scenario(rate, 2, "sk-user"), &url, options).await;
    let _ = stop_tx.send(());
    app.join().unwrap();
    let b = found(&r);
    assert_eq!(b.component, Component::Cpu, "{b:#?}");
    assert_eq!(b.source, "books");
    assert_eq!(b.breakdown[0].component, Component::Target, "{b:#?}");
    assert!(
        b.recommendation.contains("CPU-bound"),
        "{}",
        b.recommendation
    );
    stack.shutdown().await;
}
