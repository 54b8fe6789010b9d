//! The conformance suite against a real LiteLLM proxy in front of the mocks, with the
//! `litellm` preset. Ignored by default: it needs `litellm` on PATH
//! (`pip install 'litellm[proxy]'`) and about half a minute for the proxy to start.
//!
//! ```sh
//! cargo test -p gatebench-e2e --test litellm -- --ignored --nocapture
//! ```

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use gatebench_mock::{MockOptions, MockPorts, RunningMocks};
use gatebench_suite::{SuiteFile, SuiteOptions, TargetProfile, run_suite};

const MASTER_KEY: &str = "sk-gatebench-master-key";

/// Kills the proxy when the test ends, however it ends.
struct Proxy(Child);

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn config(openai: &str) -> String {
    let model = |name: &str| {
        format!(
            "  - model_name: {name}\n    litellm_params:\n      model: openai/{name}\n      api_base: {openai}/v1\n      api_key: sk-upstream-mock\n"
        )
    };
    format!(
        "model_list:\n{}{}{}litellm_settings:\n  cache: true\n  cache_params:\n    type: local\n  telemetry: false\ngeneral_settings:\n  master_key: {MASTER_KEY}\n",
        model("gpt-4o-mini"),
        model("gpt-4o"),
        model("text-embedding-3-small")
    )
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
    std::fs::write(dir.join("litellm.yaml"), config(&openai)).unwrap();
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let child = Command::new("litellm")
        .args(["--config", dir.join("litellm.yaml").to_str().unwrap()])
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--num_workers", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("litellm is on PATH");
    let _proxy = Proxy(child);
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
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "litellm did not start within 120 s"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    let suite = SuiteFile::load("conformance").unwrap();
    let out = dir.join("report");
    let report = run_suite(
        &suite,
        &SuiteOptions {
            target: Some(target),
            mocks: Some(openai),
            keys: vec![MASTER_KEY.into()],
            profile: TargetProfile::load("litellm").unwrap(),
            seed: None,
            out: out.clone(),
            quiet: true,
            trust: gatebench_driver::Trust::Platform,
        },
    )
    .await;
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
    mocks.shutdown().await;
    // The truth is measurable through LiteLLM: streams, usage and cost claims were
    // compared call by call (whatever the verdict on each).
    for name in ["streaming_fidelity", "usage_accuracy", "cost_accuracy"] {
        let check = report.checks.iter().find(|c| c.name == name).unwrap();
        assert!(
            check
                .criteria
                .iter()
                .all(|c| !c.measured.starts_with("not measurable")),
            "{name}: {}",
            check.measured
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
