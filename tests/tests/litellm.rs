//! The conformance suite against a real LiteLLM proxy in front of the mocks, with the
//! `litellm` preset, then the checks that judge text on chat completions, text
//! completions and responses together, then the agents suite. Two tenants without
//! a database: a custom auth hook gives each of two keys a user of its own, as
//! virtual keys would. Ignored by default: it needs `litellm` on PATH (`pip
//! install 'litellm[proxy]'`) and about half a minute for the proxy to start.
//!
//! ```sh
//! cargo test -p gatebench-e2e --test litellm -- --ignored --nocapture
//! ```

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use gatebench_mock::{MockOptions, MockPorts, RunningMocks};
use gatebench_report::SuiteReport;
use gatebench_suite::{SuiteFile, SuiteOptions, TargetProfile, run_suite};

const MASTER_KEY: &str = "sk-gatebench-master-key";

/// The tenants' keys, and the custom auth hook that tells them apart.
const TENANTS: [&str; 2] = ["sk-tenant-a", "sk-tenant-b"];
const CUSTOM_AUTH: &str = include_str!("../../scenarios/targets/litellm_tenants.py");

/// Kills the proxy when the test ends, however it ends.
struct Proxy(Child);

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn config(openai: &str, cache: bool) -> String {
    let model = |name: &str| {
        format!(
            "  - model_name: {name}\n    litellm_params:\n      model: openai/{name}\n      api_base: {openai}/v1\n      api_key: sk-upstream-mock\n"
        )
    };
    let cache = if cache {
        "  cache: true\n  cache_params:\n    type: local\n"
    } else {
        ""
    };
    format!(
        "model_list:\n{}{}{}litellm_settings:\n{cache}  telemetry: false\ngeneral_settings:\n  master_key: {MASTER_KEY}\n  custom_auth: litellm_tenants.user_api_key_auth\n",
        model("gpt-4o-mini"),
        model("gpt-4o"),
        model("text-embedding-3-small")
    )
}

/// Starts a proxy in front of the `openai` mock, with its exact cache when
/// `cache`, and waits until it is live; returns it and its base URL.
async fn start(dir: &Path, openai: &str, cache: bool) -> (Proxy, String) {
    let file = dir.join(format!("litellm-cache-{cache}.yaml"));
    std::fs::write(&file, config(openai, cache)).unwrap();
    std::fs::write(dir.join("litellm_tenants.py"), CUSTOM_AUTH).unwrap();
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let child = Command::new("litellm")
        .args(["--config", file.to_str().unwrap()])
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--num_workers", "1"])
        // where the custom auth hook is imported from
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("litellm is on PATH");
    let proxy = Proxy(child);
    let target = format!("http://127.0.0.1:{port}");
    let http = gatebench_tls::client();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let ready = http
            .get(format!("{target}/health/liveliness"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ready {
            return (proxy, target);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "litellm did not start within 120 s"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The truth is measurable through LiteLLM: every criterion of `name` was judged
/// on something (whatever the verdict).
fn measured(report: &SuiteReport, name: &str) {
    let check = report.checks.iter().find(|c| c.name == name).unwrap();
    assert!(
        check.criteria.iter().all(
            |c| !c.measured.starts_with("not measurable") && !c.measured.starts_with("no data")
        ),
        "{name}: {}",
        check.measured
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs `litellm` on PATH (pip install 'litellm[proxy]')"]
async fn the_conformance_suite_judges_a_litellm_proxy() {
    let mocks = RunningMocks::start(MockOptions {
        ports: MockPorts::EPHEMERAL,
        time_scale: 0.0,
        seed: 42,
        ..MockOptions::default()
    })
    .await
    .expect("mocks start");
    let openai = mocks.url("openai").unwrap();
    let dir = std::env::temp_dir().join(format!("gatebench-litellm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let options = |target: &str, out: &str| SuiteOptions {
        target: Some(target.to_owned()),
        mocks: Some(openai.clone()),
        keys: TENANTS.map(String::from).to_vec(),
        profile: TargetProfile::load("litellm").unwrap(),
        seed: None,
        out: dir.join(out),
        quiet: true,
        trust: gatebench_driver::Trust::Platform,
    };

    let (proxy, target) = start(&dir, &openai, true).await;
    let suite = SuiteFile::load("conformance").unwrap();
    let report = run_suite(&suite, &options(&target, "conformance")).await;
    drop(proxy);
    println!("{}", gatebench_report::console(&report));
    for check in &report.checks {
        println!("{}: {}", check.name, check.evidence.summary);
        let details = &check.evidence.details;
        for key in [
            "wrong",
            "float_rounding",
            "claims_wrong",
            "truncated_as_success",
        ] {
            if let Some(items) = details.get(key).and_then(|v| v.as_array()) {
                for item in items.iter().take(8) {
                    println!("  {key}: {item}");
                }
            }
        }
        println!();
    }
    for name in [
        "streaming_fidelity",
        "usage_accuracy",
        "cost_accuracy",
        "tenant_isolation",
    ] {
        measured(&report, name);
    }

    // The three APIs that generate text, through a proxy without a cache: each
    // check asks the same questions, and every answer should be an upstream call.
    let (proxy, target) = start(&dir, &openai, false).await;
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/suite/tests/fixtures");
    let checks = std::fs::read_to_string(fixtures.join("generating-checks.toml")).unwrap();
    let apis = format!("name = \"apis\"\nseed = 42\n{checks}");
    let apis = SuiteFile::parse(&apis, "the text APIs", &fixtures).unwrap();
    let report = run_suite(&apis, &options(&target, "apis")).await;
    println!("{}", gatebench_report::console(&report));
    for check in &report.checks {
        println!("{}: {}\n", check.name, check.evidence.summary);
        measured(&report, &check.name);
    }
    let streams = &report.checks[0].evidence;
    for kind in ["chat", "completions", "responses"] {
        assert!(
            streams.details["streams_by_kind"][kind].as_u64() > Some(0),
            "no {kind} stream judged: {}",
            streams.summary
        );
    }

    // Conversations: LiteLLM carries previous_response_id to the provider, and
    // keeps each response to the user that made it.
    let agents = SuiteFile::load("agents").unwrap();
    let report = run_suite(&agents, &options(&target, "agents")).await;
    drop(proxy);
    println!("{}", gatebench_report::console(&report));
    for name in [
        "conversation_streaming",
        "conversation_usage",
        "conversation_cost",
        "error_propagation",
        "conversation_resilience",
        "conversation_isolation",
    ] {
        measured(&report, name);
    }
    let isolation = report
        .checks
        .iter()
        .find(|c| c.name == "conversation_isolation")
        .unwrap();
    assert!(
        isolation
            .measured
            .contains("stored responses reached by another tenant 0 of 3"),
        "{}",
        isolation.measured
    );
    mocks.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
