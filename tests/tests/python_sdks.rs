//! The official Python SDKs, `openai` and `elevenlabs`, against the mocks and the
//! gateway with nothing changed but the base URL. The checks themselves are a
//! Python script, `python_sdks/check.py`: chat (plain, streamed, the stream
//! helper, async, tool calls, structured output), embeddings, models, errors,
//! the gateway's headers, cache and keys, and text to speech in every form.
//!
//! Ignored by default: it needs a Python 3 with both packages. The test runs
//! `python3` from PATH, or the interpreter named by `GATEBENCH_PYTHON`:
//!
//! ```sh
//! python3 -m venv /tmp/sdkvenv && /tmp/sdkvenv/bin/pip install openai elevenlabs
//! GATEBENCH_PYTHON=/tmp/sdkvenv/bin/python \
//!     cargo test -p gatebench-e2e --test python_sdks -- --ignored --nocapture
//! ```
//!
//! The script prints `ok NAME`, or `FAIL NAME` with the exception and, for an HTTP
//! error, the status and body the server sent; it carries on after a failure, so
//! one run lists every incompatibility.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gatebench_e2e::{ALPHA, stack};
use tokio::sync::oneshot;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python_sdks/check.py");

/// Long enough for a slow machine to import both SDKs and make some hundred
/// calls at time scale 0; short enough that a hanging call fails the test.
const LIMIT: Duration = Duration::from_secs(120);

/// The checks the script must report as passed, by SDK, where they run (both
/// the mock and the gateway, or one of them) and name.
const EXPECTED: &[(&str, &[&str], &[&str])] = &[
    (
        "openai",
        &["mock", "gateway"],
        &[
            "chat",
            "chat-stream",
            "chat-stream-helper",
            "async-chat-stream",
            "tool-call",
            "structured-output",
            "embeddings",
            "embeddings-dimensions",
            "models",
            "bad-request",
            "unknown-model",
            "responses",
            "responses-stream",
            "completions",
            "completions-stream",
            "models-retrieve",
        ],
    ),
    ("openai", &["mock"], &["request-id"]),
    (
        "openai",
        &["gateway"],
        &[
            "cached-chat",
            "cached-chat-stream",
            "cached-completions",
            "cached-tool-call",
            "cached-tool-call-stream",
            "cached-embeddings",
            "bad-key",
        ],
    ),
    (
        "elevenlabs",
        &["mock", "gateway"],
        &[
            "convert",
            "convert-pcm",
            "stream",
            "with-timestamps",
            "stream-with-timestamps",
            "unknown-voice",
            "empty-text",
        ],
    ),
    ("elevenlabs", &["mock"], &["voices", "models"]),
    (
        "elevenlabs",
        &["gateway"],
        &["cached-convert", "cached-with-timestamps", "bad-key"],
    ),
];

/// Kills the script when the test ends, however it ends (a timeout included).
struct Script(Child);

impl Drop for Script {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What a pipe carries, read line by line on a thread of its own until the pipe
/// closes (the script exits or is killed); what has come so far can be read at
/// any time, so a script that hangs still shows how far it got. The receiver
/// resolves when the pipe has closed.
fn drain(pipe: Option<impl Read + Send + 'static>) -> (Arc<Mutex<String>>, oneshot::Receiver<()>) {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&text);
    let (closed, on_close) = oneshot::channel();
    // A plain thread, not the runtime's blocking pool: should the read never end,
    // the runtime does not wait for it when the test ends.
    std::thread::spawn(move || {
        let _closed = closed;
        let Some(pipe) = pipe else { return };
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            let mut text = sink.lock().unwrap();
            text.push_str(&line);
            text.push('\n');
        }
    });
    (text, on_close)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the Python packages openai and elevenlabs (pip install openai elevenlabs)"]
async fn the_official_python_sdks_work_against_the_mocks_and_the_gateway() {
    let stack = stack(|_| {}).await;
    let python = std::env::var("GATEBENCH_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let child = Command::new(&python)
        .arg(SCRIPT)
        .env("GATEBENCH_OPENAI_URL", stack.mock_url("openai").unwrap())
        .env(
            "GATEBENCH_ELEVENLABS_URL",
            stack.mock_url("elevenlabs").unwrap(),
        )
        .env("GATEBENCH_GATEWAY_URL", stack.gateway_url())
        .env("GATEBENCH_KEY", ALPHA)
        // The servers are on loopback: a proxy from the caller's environment
        // must not see the calls.
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .env("PYTHONUNBUFFERED", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run `{python}` (set GATEBENCH_PYTHON): {e}"));
    let mut script = Script(child);
    let (stdout, stdout_done) = drain(script.0.stdout.take());
    let (stderr, stderr_done) = drain(script.0.stderr.take());
    let finished = tokio::time::timeout(LIMIT, async {
        let _ = tokio::join!(stdout_done, stderr_done);
    })
    .await
    .is_ok();
    if !finished {
        let _ = script.0.kill();
    }
    // Both pipes are closed, or the script is killed: this returns at once.
    let status = script.0.wait().unwrap();
    stack.shutdown().await;
    let stdout = stdout.lock().unwrap().clone();
    let stderr = stderr.lock().unwrap().clone();

    println!("{stdout}");
    if !stderr.is_empty() {
        println!("stderr:\n{stderr}");
    }
    assert!(finished, "the SDK checks ran past {LIMIT:?}");
    let passed: Vec<&str> = stdout
        .lines()
        .filter_map(|line| line.strip_prefix("ok "))
        .collect();
    let failed: Vec<&str> = stdout
        .lines()
        .filter_map(|line| line.strip_prefix("FAIL "))
        .collect();
    let missing: Vec<String> = EXPECTED
        .iter()
        .flat_map(|(sdk, places, names)| {
            places.iter().flat_map(move |place| {
                names
                    .iter()
                    .map(move |name| format!("{sdk}/{place}/{name}"))
            })
        })
        .filter(|name| !passed.contains(&name.as_str()) && !failed.contains(&name.as_str()))
        .collect();
    assert!(
        status.success() && failed.is_empty() && missing.is_empty(),
        "the SDK checks failed ({status}): failed {failed:?}, did not run {missing:?} \
         (the script's output is above)"
    );
    assert!(stdout.contains("all checks passed"), "{stdout}");
}
