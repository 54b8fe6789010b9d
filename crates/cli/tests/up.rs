//! `gatebench up` takes its ports: two stacks side by side on free ports, each
//! printing where it listens and answering there.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

/// Stops the stack when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `gatebench up` on free ports at `time_scale` (stderr piped, so a test may
/// read it); returns it and the URLs it printed.
fn up(time_scale: &str) -> (Running, Vec<(String, String)>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatebench"))
        .args([
            "up",
            "--port",
            "0",
            "--openai-port",
            "0",
            "--elevenlabs-port",
            "0",
        ])
        .args(["--personality-port", "0", "--webvtt-port", "0"])
        .args(["--ledger", ":memory:", "--time-scale", time_scale])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().unwrap();
    let running = Running(child);
    let mut urls = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if line.starts_with("Ctrl-C") {
            break;
        }
        if let Some((name, url)) = line.split_once(char::is_whitespace)
            && url.trim().starts_with("http://")
        {
            urls.push((
                name.to_owned(),
                url.trim().trim_end_matches("/v1").to_owned(),
            ));
        }
    }
    (running, urls)
}

fn healthz(url: &str) -> String {
    let host = url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(host).unwrap();
    write!(
        stream,
        "GET /healthz HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn two_stacks_run_side_by_side_on_the_ports_they_are_given() {
    let (_first, a) = up("0");
    let (_second, b) = up("0");
    assert_eq!(a.len(), 5, "{a:?}");
    assert_eq!(b.len(), 5, "{b:?}");
    for (name, url) in a.iter().chain(&b) {
        assert!(!url.ends_with(":0"), "{name} {url}");
        assert!(healthz(url).starts_with("HTTP/1.1 200"), "{name} {url}");
    }
    assert!(a.iter().zip(&b).all(|(x, y)| x.1 != y.1));
}

/// SIGTERM (what Kubernetes, systemd and `docker stop` send) drains like Ctrl-C: a
/// stream in flight finishes, and the process exits 0.
#[cfg(unix)]
#[test]
fn sigterm_lets_a_stream_in_flight_finish_and_exits_zero() {
    let (mut running, urls) = up("1");
    let child = &mut running.0;
    let gateway = urls
        .iter()
        .find(|(name, _)| name == "gateway")
        .map(|(_, url)| url.trim_start_matches("http://").to_owned())
        .expect("the gateway's URL");
    let body = r#"{"model":"gpt-4o-mini","stream":true,"max_tokens":60,"messages":[{"role":"user","content":"Tell me a story about a lighthouse."}]}"#;
    let mut stream = TcpStream::connect(&gateway).unwrap();
    write!(
        stream,
        "POST /v1/chat/completions HTTP/1.1\r\nHost: {gateway}\r\nAuthorization: Bearer gb-alpha-dev\r\nContent-Type: application/json\r\nx-gatebench-cache: no-cache, no-store\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut reader = BufReader::new(stream);
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    // the answer has started: now the signal
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let mut rest = String::new();
    reader.read_to_string(&mut rest).unwrap();
    assert!(rest.contains("data: [DONE]"), "the stream was cut: {rest}");
    let exit = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(exit.code(), Some(0), "{err}");
    assert!(err.contains("SIGTERM: draining"), "{err}");
}

/// Beyond loopback, `/metrics` and the mocks' control API would be open to the
/// network: each server command refuses to start without an admin token, before it
/// binds anything.
#[test]
fn binding_beyond_loopback_needs_an_admin_token() {
    for command in [
        vec![
            "up", "--host", "0.0.0.0", "--port", "0", "--ledger", ":memory:",
        ],
        vec!["mock", "--host", "0.0.0.0"],
        vec!["gateway", "--host", "0.0.0.0", "--config", "missing.toml"],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_gatebench"))
            .args(&command)
            .env_remove("GATEBENCH_ADMIN_TOKEN")
            .output()
            .expect("the binary runs");
        let err = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{command:?}: {err}");
        assert!(err.contains("--admin-token"), "{command:?}: {err}");
    }
}

/// A run against `up --time-scale 0.05` told that scale states it and judges
/// its thresholds on real-time equivalents, as a run on the embedded stack does;
/// not told, it states none.
#[test]
fn a_run_against_a_scaled_stack_judges_real_time_when_told_its_scale() {
    let (_stack, urls) = up("0.05");
    let personality = &urls
        .iter()
        .find(|(n, _)| n.contains("personality"))
        .unwrap()
        .1;
    let dir = std::env::temp_dir().join(format!("gatebench-scaled-target-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let profiles = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/personality/profiles.toml");
    std::fs::write(
        dir.join("p.toml"),
        format!(
            "name = \"p\"\n[load]\nexecutor = \"shared-iterations\"\nvus = 1\niterations = 3\n[[requests]]\nname = \"p\"\nkind = \"personality\"\nprofiles = \"{}\"\n[thresholds]\n\"latency{{request:p}}\" = \"p95 < 30s\"\n",
            profiles.display()
        ),
    )
    .unwrap();
    let run = |out: &str, scale: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_gatebench"))
            .args([
                "run",
                "p.toml",
                "--target",
                personality,
                "--quiet",
                "--out",
                out,
            ])
            .args(scale)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let text = std::fs::read_to_string(dir.join(out).join("results.json")).unwrap();
        serde_json::from_str::<serde_json::Value>(&text).unwrap()
    };
    let told = run("told", &["--time-scale", "0.05"]);
    assert_eq!(told["time_scale"], 0.05);
    let measured = told["kinds"]["p"]["latency_ms"]["p95"].as_f64().unwrap();
    let judged = told["thresholds"][0]["value"].as_f64().unwrap();
    // the threshold judged the measured time ÷ 0.05 (within the histogram's rounding)
    assert!(
        (judged / measured - 20.0).abs() < 0.5,
        "{judged} vs {measured}"
    );
    let untold = run("untold", &[]);
    assert!(untold["time_scale"].is_null(), "{}", untold["time_scale"]);
    let _ = std::fs::remove_dir_all(&dir);
}
