//! The end-of-run summary, in the spirit of k6's: scenarios, thresholds with ✓/✗,
//! a table per request name, totals and errors by class.

use std::fmt::Write as _;

use crate::fmt_ms;
use crate::results::RunResults;
use gatebench_results::threshold_value_at;

/// The summary as text.
pub fn summary_text(r: &RunResults) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\n  {} · seed {} · ran {:.1}s of {:.1}s planned{}",
        r.name,
        r.seed,
        r.duration_s,
        r.planned_duration_s,
        if r.aborted {
            format!(
                " · STOPPED EARLY: {}",
                r.abort_reason.as_deref().unwrap_or("aborted")
            )
        } else {
            String::new()
        }
    );
    match r.time_scale {
        Some(1.0) => {
            let _ = writeln!(s, "  time scale 1: mock delays in real time");
        }
        Some(0.0) => {
            let _ = writeln!(
                s,
                "  time scale 0: the mocks do not wait; latencies are the stack's own, not an API's"
            );
        }
        Some(t) => {
            let _ = writeln!(
                s,
                "  time scale {t}: mock delays ×{t}; latencies below are as measured (compressed), thresholds judge real-time equivalents (÷{t})"
            );
        }
        None => {
            let _ = writeln!(
                s,
                "  time scale: the target's own (gatebench did not start the mocks behind it)"
            );
        }
    }
    let _ = writeln!(s, "\n  scenarios");
    for (name, sc) in &r.scenarios {
        let _ = writeln!(
            s,
            "    {name:<22} {:<22} sent {:>8}  ok {:>8}  failed {:>6}  dropped {:>6}",
            sc.executor, sc.sent, sc.ok, sc.failed, sc.dropped
        );
    }
    if !r.thresholds.is_empty() {
        let _ = writeln!(s, "\n  thresholds");
        for t in &r.thresholds {
            let mark = if t.passed { "✓" } else { "✗" };
            let label = format!("{} {}", t.key, t.expression);
            let dots = ".".repeat(56usize.saturating_sub(label.chars().count()).max(2));
            let abort = if t.aborted { "  (aborted the run)" } else { "" };
            let _ = writeln!(
                s,
                "    {mark} {label} {dots} {}{abort}",
                threshold_value_at(t, r.time_scale)
            );
        }
    }
    if !r.findings.is_empty() {
        let _ = writeln!(s, "\n  findings (degradation detector)");
        for f in &r.findings {
            let kind = match f {
                crate::analysis::Finding::Degradation { .. } => "degradation",
                crate::analysis::Finding::Anomaly { .. } => "anomaly",
                crate::analysis::Finding::PredictiveAlert { .. } => "predictive alert",
            };
            let _ = writeln!(s, "    {kind}: {}", f.describe());
        }
    }
    if let Some(res) = &r.resources {
        resources(&mut s, res);
    }
    if let Some(b) = &r.bottleneck {
        let share = b.share.map_or_else(String::new, |v| {
            format!(", {:.0} % of mean latency", v * 100.0)
        });
        let _ = writeln!(
            s,
            "\n  bottleneck: {} ({}{share})\n    {}",
            b.component.name(),
            b.source,
            b.recommendation
        );
        for p in &b.problems {
            let _ = writeln!(s, "    note: {p}");
        }
    }
    let _ = writeln!(
        s,
        "\n  {:<24} {:>8} {:>8} {:>6} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "request", "sent", "ok", "fail", "drop", "p50", "p90", "p95", "p99", "max"
    );
    let row = |s: &mut String, label: &str, sum: &crate::metrics::Summary| {
        let _ = writeln!(
            s,
            "  {label:<24} {:>8} {:>8} {:>6} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "",
            "",
            "",
            "",
            fmt_ms(sum.p50),
            fmt_ms(sum.p90),
            fmt_ms(sum.p95),
            fmt_ms(sum.p99),
            fmt_ms(sum.max)
        );
    };
    for (name, k) in &r.kinds {
        // a request with no latency samples (none answered) has no percentiles
        let [p50, p90, p95, p99, max] = k.latency_ms.as_ref().map_or_else(
            || std::array::from_fn(|_| "-".to_owned()),
            |l| [l.p50, l.p90, l.p95, l.p99, l.max].map(fmt_ms),
        );
        let _ = writeln!(
            s,
            "  {:<24} {:>8} {:>8} {:>6} {:>6} {p50:>9} {p90:>9} {p95:>9} {p99:>9} {max:>9}",
            truncate(name, 24),
            k.sent,
            k.ok,
            k.failed,
            k.dropped,
        );
        if let (Some(c), Some(u)) = (&k.latency_ms, &k.latency_uncorrected_ms)
            && (c.p99 - u.p99).abs() > 0.05 * u.p99.max(1.0)
        {
            row(&mut s, "  uncorrected", u);
        }
        if let Some(t) = &k.ttft_ms {
            row(&mut s, "  ttft", t);
        }
        if let Some(t) = &k.itl_ms {
            row(&mut s, "  inter-token", t);
        }
        if let Some(t) = &k.tokens_per_s {
            let _ = writeln!(
                s,
                "    output tokens/s per generation (cache hits excluded): p50 {:.1}  p95 {:.1}  mean {:.1}",
                t.p50, t.p95, t.mean
            );
        }
        if let Some(g) = &k.gateway {
            let mut parts = Vec::new();
            if let Some(rate) = g.cache_hit_rate {
                parts.push(format!("cache hit {:.1}%", rate * 100.0));
            }
            let streamed = k.ttft_ms.is_some();
            if g.cost_responses > 0 && g.cost_responses < k.ok {
                parts.push(format!(
                    "cost ${} on the {} of {} answers that carried one",
                    g.cost_usd, g.cost_responses, k.ok
                ));
            } else if g.cost_responses > 0 {
                parts.push(format!("cost ${}", g.cost_usd));
            } else if streamed && k.ok > 0 {
                parts.push("cost: the target stated none on these streams".into());
            }
            if !g.server_timing_ms.is_empty() {
                // the gateway's clock stops when it sends the response head
                let timing: Vec<String> = g
                    .server_timing_ms
                    .iter()
                    .map(|(part, sum)| format!("{part} p95 {}", fmt_ms(sum.p95)))
                    .collect();
                let until = if streamed {
                    "server-timing, to the response head (before the stream)"
                } else {
                    "server-timing"
                };
                parts.push(format!("{until}: {}", timing.join(", ")));
            }
            if !parts.is_empty() {
                let _ = writeln!(s, "    gateway: {}", parts.join(" · "));
            }
        }
    }
    let t = &r.totals;
    let _ = writeln!(
        s,
        "\n  totals: sent {}  ok {}  failed {}  dropped {}  rps {:.1}",
        t.sent, t.ok, t.failed, t.dropped, t.rps
    );
    if t.interrupted > 0 {
        let _ = writeln!(
            s,
            "  interrupted: {} still in flight when the grace period ran out (cut off by the run, not counted as errors)",
            t.interrupted
        );
    }
    if !t.errors.is_empty() {
        let mut list: Vec<(&String, &u64)> = t.errors.iter().collect();
        list.sort_by(|a, b| b.1.cmp(a.1));
        let text: Vec<String> = list.iter().map(|(c, n)| format!("{c} × {n}")).collect();
        let _ = writeln!(s, "  errors: {}", text.join(" · "));
        let top = list[0].0;
        if let Some(said) = r.kinds.values().find_map(|k| k.error_messages.get(top)) {
            let _ = writeln!(s, "  {top} said: \"{said}\"");
        }
        if let Some(hint) = hint(top) {
            let _ = writeln!(s, "  most common error {top}: {hint}");
        }
    }
    if t.sent > 0 && t.ok == 0 && t.failed > 0 {
        let _ = writeln!(s, "  NOTHING SUCCEEDED: every request failed");
    }
    if !r.thresholds.is_empty() {
        let failed = r.thresholds.iter().filter(|t| !t.passed).count();
        let _ = writeln!(
            s,
            "  thresholds: {} of {} held",
            r.thresholds.len() - failed,
            r.thresholds.len()
        );
    }
    s
}

/// What to look at for the most common error class.
pub(crate) fn hint(class: &str) -> Option<&'static str> {
    Some(match class {
        "http_401" => "the target refused the credentials: set `api_key` on the request",
        "http_403" => "the key is not allowed to do this: check its tenant and the model",
        "http_404" => "no such route or model at the target: check `path`, `model` and --target",
        "http_400" | "http_422" => {
            "the target refused the request body: check the request's fields against its API"
        }
        "http_402" => "a budget ran out: raise the tenant's budget or lower the load",
        "http_429" => "rate limited: lower the load or raise the target's limits (see retry-after)",
        "http_500" | "http_502" | "http_503" | "http_504" => {
            "the target or its upstream failed: see its logs, and the mocks' faults"
        }
        "connect_error" => "nothing answered: make sure the target is up at --target",
        "tls_error" => "the certificate is not trusted: --cacert FILE, or --insecure",
        "timeout" => "no answer within the request's `timeout`: raise it or lower the load",
        "reset" => "the target closed connections: it may be overloaded or restarting",
        "malformed_body" | "validation_failure" => {
            "the answers are not in the API's shape: is --target the right service?"
        }
        "stream_cut" => "streams ended early: see the target's logs and the mocks' faults",
        "stream_error" => {
            "streams ended in the target's own error event: see its message, the target's logs and the mocks' faults"
        }
        _ => return None,
    })
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

/// Prints the summary to stdout.
pub fn print_summary(r: &RunResults) {
    // a reader that has gone (`gatebench run | head`) is no error of the run
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), summary_text(r).as_bytes());
}

/// The peaks of gatebench's own process and the machine, alerts, and what the
/// monitor cost.
fn resources(s: &mut String, res: &gatebench_results::ResourceResults) {
    let _ = writeln!(s, "\n  resources (every {} s)", res.interval_s);
    let peak = |target: &str, metric: &str| res.series_of(target, metric).and_then(|x| x.max());
    if let Some(cpu) = peak("system", "cpu_percent") {
        let _ = writeln!(s, "    system       cpu peak {cpu:.1}%");
    }
    for t in res.targets.iter().filter(|t| t.kind == "process") {
        let of = |metric: &str| {
            res.series
                .iter()
                .find(|x| x.target == t.name && x.pid == t.pid && x.metric == metric)
                .and_then(|x| x.max())
        };
        let _ = writeln!(
            s,
            "    {:<12} cpu peak {}  rss peak {}  threads peak {}",
            t.name,
            of("cpu_percent").map_or("-".to_owned(), |v| format!("{v:.1}%")),
            of("rss_bytes").map_or("-".to_owned(), |v| format!("{:.1} MB", v / 1e6)),
            of("threads").map_or("-".to_owned(), |v| format!("{v:.0}")),
        );
    }
    for a in &res.alerts {
        let _ = writeln!(s, "    alert: {}", a.describe());
    }
    for p in &res.problems {
        let _ = writeln!(s, "    problem ({}×): {}", p.count, p.message);
    }
    if let Some(pct) = res.overhead.cpu_percent_of_core {
        let _ = writeln!(
            s,
            "    monitor overhead {pct:.3}% of one core ({} samples)",
            res.overhead.samples
        );
    }
}
