//! `gatebench bench mock`: the OpenAI mock's throughput with delays and rate limits
//! off — non-stream chat (the same prompt, which the mock's memo answers, and a new
//! prompt every request), streamed chat, embeddings — beside a trivial handler on
//! the same server stack as the ceiling, all loaded by wrk at the same concurrency.
//! The handler is loaded twice: with a bare GET, and with chat's POST (which it
//! reads and answers `ok`), so the mock's share of it leaves out what sending and
//! reading the request costs wrk and the server whatever answers it.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;

use crate::bench::{ServerChild, WrkLoad, median, post_script, tool_version, wrk_rounds};

/// Options of `gatebench bench mock`.
#[derive(Debug, clap::Args)]
pub struct MockBenchArgs {
    /// How long each load runs.
    #[arg(long, default_value = "10s", value_parser = crate::parse_seconds)]
    duration: Duration,
    /// Concurrent connections.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..))]
    connections: u32,
    /// Runs of each load, interleaved; the median is reported.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    rounds: u32,
}

const CHAT: &str = r#"{"model":"gpt-4o-mini","max_tokens":64,"messages":[{"role":"user","content":"Tell me a short story about a lighthouse."}]}"#;
const STREAM: &str = r#"{"model":"gpt-4o-mini","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"Tell me a short story about a lighthouse."}]}"#;
const EMBED: &str = r#"{"model":"text-embedding-3-small","input":"How do I reduce my company's scope 2 emissions?"}"#;

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
    let chat = format!("{openai}/v1/chat/completions");
    let loads: Vec<WrkLoad<'_>> = vec![
        ("trivial handler (ceiling)", format!("{trivial}/"), None),
        (
            "trivial handler, chat's POST",
            format!("{trivial}/"),
            Some(post_script(CHAT, &[])),
        ),
        (
            "chat, same prompt",
            chat.clone(),
            Some(post_script(CHAT, &[])),
        ),
        (
            "chat, new prompt each",
            chat.clone(),
            Some(VARIED.to_owned()),
        ),
        ("chat, stream", chat, Some(post_script(STREAM, &[]))),
        (
            "embeddings",
            format!("{openai}/v1/embeddings"),
            Some(post_script(EMBED, &[])),
        ),
    ];
    eprintln!(
        "wrk {version}; {} connections, {} per load; OpenAI mock {openai} (child process)",
        args.connections,
        gatebench_driver::format_duration(args.duration)
    );
    let measured = wrk_rounds(
        &loads,
        args.connections,
        args.duration,
        args.rounds,
        servers.pid(),
    )?;
    let ceiling = median(&measured[0].rates);
    let post_ceiling = median(&measured[1].rates);
    let share = |m: Option<f64>, c: Option<f64>| match (m, c) {
        (Some(m), Some(c)) if c > 0.0 => format!("{:.0}%", 100.0 * m / c),
        _ => "-".into(),
    };
    outln!(
        "\n  {:<28} {:>12} {:>10} {:>10} {:>14}",
        "load",
        "requests/s",
        "of GET",
        "of POST",
        "server CPU/req"
    );
    for (i, ((name, ..), r)) in loads.iter().zip(&measured).enumerate() {
        let m = median(&r.rates);
        let of_post = if i == 0 {
            "-".into()
        } else {
            share(m, post_ceiling)
        };
        outln!(
            "  {name:<28} {:>12} {:>10} {of_post:>10} {:>14}",
            m.map_or("-".into(), |m| format!("{m:.0}")),
            share(m, ceiling),
            median(&r.cpu_us).map_or("-".into(), |c| format!("{c:.1} µs"))
        );
    }
    outln!();
    crate::bench_threads::print_wrk(&loads, &measured);
    outln!(
        "\n  median of {} round(s); mock and handler in a child process, wrk on the same machine;\n  \
         of GET: share of the trivial handler's rate for a bare GET, of POST: for chat's POST",
        args.rounds
    );
    Ok(ExitCode::SUCCESS)
}
