//! `gatebench bench mock`: the OpenAI mock's throughput with delays and rate limits
//! off — non-stream chat (the same prompt, which the mock's memo answers, and a new
//! prompt every request), streamed chat, embeddings — beside a trivial handler on
//! the same server stack as the ceiling, all loaded by wrk at the same concurrency.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;

use crate::bench::{ServerChild, median, parse_wrk, run_tool, tool_version};

/// Options of `gatebench bench mock`.
#[derive(Debug, clap::Args)]
pub struct MockBenchArgs {
    /// How long each load runs.
    #[arg(long, default_value = "10s", value_parser = crate::parse_duration)]
    duration: Duration,
    /// Concurrent connections.
    #[arg(long, default_value_t = 32)]
    connections: u32,
    /// Runs of each load, interleaved; the median is reported.
    #[arg(long, default_value_t = 1)]
    rounds: u32,
}

const CHAT: &str = r#"{"model":"gpt-4o-mini","max_tokens":64,"messages":[{"role":"user","content":"Tell me a short story about a lighthouse."}]}"#;
const STREAM: &str = r#"{"model":"gpt-4o-mini","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"Tell me a short story about a lighthouse."}]}"#;
const EMBED: &str = r#"{"model":"text-embedding-3-small","input":"How do I reduce my company's scope 2 emissions?"}"#;

fn post_script(body: &str) -> String {
    format!(
        "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.body = [[{body}]]\n"
    )
}

const VARIED: &str = r#"wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, '{"model":"gpt-4o-mini","max_tokens":64,"messages":[{"role":"user","content":"Tell me story number ' .. n .. ' about a lighthouse keeper."}]}')
end
"#;

pub async fn run(args: MockBenchArgs) -> anyhow::Result<ExitCode> {
    let Some(version) = tool_version("wrk") else {
        anyhow::bail!("wrk is not on PATH (Debian: apt-get install wrk)");
    };
    let servers = ServerChild::spawn(None, &["--log", "error", "bench", "stack-server"])?;
    let urls: serde_json::Value =
        serde_json::from_str(servers.line()).context("reading the server addresses")?;
    let trivial = urls["trivial"]
        .as_str()
        .context("no trivial server")?
        .to_owned();
    let openai = urls["openai"]
        .as_str()
        .context("no OpenAI mock")?
        .to_owned();
    let dir = std::env::temp_dir().join(format!("gatebench-bench-mock-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let script = |name: &str, text: &str| -> anyhow::Result<String> {
        let path = dir.join(name);
        std::fs::write(&path, text)?;
        Ok(path.display().to_string())
    };
    let chat = format!("{openai}/v1/chat/completions");
    let loads: Vec<(&str, String, Option<String>)> = vec![
        ("trivial handler (ceiling)", format!("{trivial}/"), None),
        (
            "chat, same prompt",
            chat.clone(),
            Some(script("chat.lua", &post_script(CHAT))?),
        ),
        (
            "chat, new prompt each",
            chat.clone(),
            Some(script("varied.lua", VARIED)?),
        ),
        (
            "chat, stream",
            chat,
            Some(script("stream.lua", &post_script(STREAM))?),
        ),
        (
            "embeddings",
            format!("{openai}/v1/embeddings"),
            Some(script("embed.lua", &post_script(EMBED))?),
        ),
    ];
    let (c, secs) = (
        args.connections.max(1).to_string(),
        format!("{}s", args.duration.as_secs().max(1)),
    );
    eprintln!(
        "wrk {version}; {c} connections, {secs} per load; OpenAI mock {openai} (child process)"
    );
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); loads.len()];
    for _ in 0..args.rounds.max(1) {
        for (i, (_, url, script)) in loads.iter().enumerate() {
            let mut wrk = vec!["-t", "2", "-c", c.as_str(), "-d", secs.as_str()];
            if let Some(script) = script {
                wrk.extend(["-s", script.as_str()]);
            }
            wrk.push(url.as_str());
            rates[i].extend(run_tool("wrk", &wrk, parse_wrk));
        }
    }
    let ceiling = median(&rates[0]);
    println!(
        "\n  {:<28} {:>12} {:>10}",
        "load", "requests/s", "of ceiling"
    );
    for ((name, ..), r) in loads.iter().zip(&rates) {
        let m = median(r);
        let share = match (m, ceiling) {
            (Some(m), Some(c)) if c > 0.0 => format!("{:.0}%", 100.0 * m / c),
            _ => "-".into(),
        };
        println!(
            "  {name:<28} {:>12} {share:>10}",
            m.map_or("-".into(), |m| format!("{m:.0}"))
        );
    }
    println!(
        "\n  median of {} round(s); mock and handler in a child process, wrk on the same machine",
        args.rounds.max(1)
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(ExitCode::SUCCESS)
}
