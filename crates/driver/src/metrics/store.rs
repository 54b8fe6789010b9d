//! What the driver does with a run's [`Store`]: records each finished request into
//! it, and answers thresholds from it (live during a run, or rebuilt from results).

use std::time::Duration;

use hdrhistogram::Histogram;

use super::sample::Sample;
use super::{Hist, OutcomeStats, RequestStats, SIMILARITY_SCALE, Store, TOKENS_SCALE, US_TO_MS};
use crate::Outcome;
use crate::threshold::{Counts, Metric, MetricSource, Selector, StatusFilter};

/// Records one finished request.
pub(crate) fn record(r: &mut RequestStats, s: &Sample) {
    if let Some(message) = &s.error
        && !r.error_messages.contains_key(&s.outcome)
    {
        r.error_messages.insert(s.outcome, message.0.clone());
    }
    let o = r.outcomes.entry(s.outcome).or_default();
    o.count += 1;
    o.latency.record(s.latency_us());
    o.latency_uncorrected.record(s.latency_uncorrected_us());
    if let Some(t) = s.ttfb_us {
        o.ttfb.record(t);
    }
    if let Some(t) = s.ttft_us {
        o.ttft.record(t);
    }
    // a cache hit generates nothing: its speed is not a generation speed
    let hit = s
        .gateway
        .as_ref()
        .is_some_and(|g| g.cache.as_deref() == Some("hit"));
    if !hit {
        if let Some(t) = s.itl_us {
            o.itl.record(t);
        }
        if let Some(tps) = s.tokens_per_s {
            o.tokens_per_s.record((tps / TOKENS_SCALE).round() as u64);
        }
    }
    if s.status != 0 {
        o.bytes.record(s.bytes);
    }
    if let Some(u) = s.usage {
        r.prompt_tokens += u.prompt_tokens;
        r.completion_tokens += u.completion_tokens;
        r.cached_tokens += u.cached_tokens;
        r.usage_responses += 1;
    }
    if let Some(c) = s.tts_characters {
        r.tts_characters += c;
    }
    if let Some(g) = &s.gateway {
        match g.cache.as_deref() {
            Some("hit") => r.cache.hit += 1,
            Some("miss") => r.cache.miss += 1,
            Some("bypass") => r.cache.bypass += 1,
            Some(_) => r.cache.other += 1,
            None => {}
        }
        if let Some(sim) = g.similarity {
            r.similarity
                .record((sim.clamp(0.0, 1.0) / SIMILARITY_SCALE).round() as u64);
        }
        if let Some(cost) = g.cost_usd {
            r.cost_usd += cost;
            r.cost_max = r.cost_max.max(cost);
            r.cost_responses += 1;
        }
        if let Some(p) = &g.provider {
            *r.providers.entry(p.clone()).or_default() += 1;
        }
        if let Some(a) = g.attempts {
            r.attempts.record(u64::from(a));
        }
        for (name, ms) in &g.server_timing {
            let us = (ms.max(0.0) * 1000.0).round() as u64;
            r.server_timing.entry(name.clone()).or_default().record(us);
        }
    }
}

/// The histogram behind a metric (time metrics and tokens/s).
fn histogram_of(stats: &OutcomeStats, metric: Metric) -> Option<&Hist> {
    Some(match metric {
        Metric::Latency => &stats.latency,
        Metric::LatencyUncorrected => &stats.latency_uncorrected,
        Metric::Ttfb => &stats.ttfb,
        Metric::Ttft => &stats.ttft,
        Metric::Itl => &stats.itl,
        Metric::TokensPerS => &stats.tokens_per_s,
        _ => return None,
    })
}

fn matches(r: &RequestStats, sel: &Selector) -> bool {
    sel.request.as_ref().is_none_or(|name| *name == r.name)
        && sel.scenario.as_ref().is_none_or(|s| *s == r.scenario)
}

/// Whether an outcome passes a status filter.
pub fn status_matches(filter: Option<&StatusFilter>, outcome: Outcome) -> bool {
    match filter {
        None => true,
        Some(StatusFilter::Ok) => outcome.is_ok(),
        Some(StatusFilter::Failed) => !outcome.is_ok(),
        Some(StatusFilter::Class(c)) => match outcome {
            Outcome::Http(code) => code / 100 == *c,
            // an `ok` response had a 2xx status; validation failures did too
            Outcome::Ok
            | Outcome::ValidationFailure
            | Outcome::MalformedBody
            | Outcome::StreamCut
            | Outcome::StreamError => *c == 2,
            _ => false,
        },
        Some(StatusFilter::Code(code)) => outcome == Outcome::Http(*code),
        Some(StatusFilter::Outcome(name)) => outcome.class() == name.as_str(),
    }
}

/// Merges one metric over the requests and outcomes a selector picks. Requests
/// the run cut off at its end count only where the selector asks for them
/// (`status:interrupted`): the moment they were cut is no response time.
fn merged(store: &Store, metric: Metric, sel: &Selector) -> Hist {
    let mut out = Hist::default();
    for r in store.requests.iter().filter(|r| matches(r, sel)) {
        for (outcome, stats) in &r.outcomes {
            let asked = matches!(&sel.status, Some(StatusFilter::Outcome(o)) if o == "interrupted");
            let cut_off = *outcome == Outcome::Interrupted && !asked;
            if !cut_off
                && status_matches(sel.status.as_ref(), *outcome)
                && let Some(h) = histogram_of(stats, metric)
            {
                out.merge(h);
            }
        }
    }
    out
}

/// The factor between compressed and real time: a time scale in (0, 1], else 1
/// (at time scale 0 nothing waits, and there is no real-time equivalent).
fn real_time(time_scale: Option<f64>) -> f64 {
    match time_scale {
        Some(s) if s > 0.0 && s.is_finite() => s,
        _ => 1.0,
    }
}

impl MetricSource for Store {
    fn histogram(&self, metric: Metric, sel: &Selector) -> Option<(Histogram<u64>, f64)> {
        let real = real_time(self.time_scale);
        let scale = if metric == Metric::TokensPerS {
            TOKENS_SCALE * real
        } else {
            US_TO_MS / real
        };
        let h = merged(self, metric, sel);
        h.get().cloned().map(|h| (h, scale))
    }

    fn counts(&self, sel: &Selector) -> Counts {
        let mut c = Counts {
            // saturates where a tiny scale would overflow a Duration
            elapsed: Duration::try_from_secs_f64(
                self.elapsed.as_secs_f64() / real_time(self.time_scale),
            )
            .unwrap_or(Duration::MAX),
            ..Counts::default()
        };
        for r in self.requests.iter().filter(|r| matches(r, sel)) {
            for (outcome, stats) in &r.outcomes {
                // a request the run cut off at its end has no verdict on the target
                if *outcome != Outcome::Interrupted {
                    c.sent_any_status += stats.count;
                }
                if status_matches(sel.status.as_ref(), *outcome) {
                    c.sent += stats.count;
                    if outcome.is_error() {
                        c.failed += stats.count;
                    }
                }
            }
            c.dropped += r.dropped;
            c.cache_hits += r.cache.hit;
            c.cache_misses += r.cache.miss;
            c.cost_usd += r.cost_usd;
            c.cost_max = c.cost_max.max(r.cost_max);
            c.cost_responses += r.cost_responses;
        }
        c
    }
}
