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

/// Starts `gatebench up` on free ports; returns it and the URLs it printed.
fn up() -> (Running, Vec<(String, String)>) {
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
        .args(["--ledger", ":memory:", "--time-scale", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
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
    let (_first, a) = up();
    let (_second, b) = up();
    assert_eq!(a.len(), 5, "{a:?}");
    assert_eq!(b.len(), 5, "{b:?}");
    for (name, url) in a.iter().chain(&b) {
        assert!(!url.ends_with(":0"), "{name} {url}");
        assert!(healthz(url).starts_with("HTTP/1.1 200"), "{name} {url}");
    }
    assert!(a.iter().zip(&b).all(|(x, y)| x.1 != y.1));
}
