//! Every counter and histogram of a run, per request name × outcome.
//!
//! One store lives in the aggregator during a run; results serialise it and
//! [`crate::results::merge`] rebuilds and adds stores from several runs.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use rust_decimal::Decimal;

use super::hist::Hist;
use super::sample::Sample;
use crate::outcome::Outcome;
use crate::threshold::{Counts, Metric, MetricSource, Selector, StatusFilter};

/// Raw time values are µs; results show ms.
pub const US_TO_MS: f64 = 0.001;
/// Tokens/s are recorded ×100 to keep two decimals in an integer histogram.
pub const TOKENS_SCALE: f64 = 0.01;
/// Similarities are recorded ×1000.
pub const SIMILARITY_SCALE: f64 = 0.001;

/// Histograms of one request name × outcome.
#[derive(Clone, Debug, Default)]
pub struct OutcomeStats {
    /// Requests with this outcome.
    pub count: u64,
    /// Latency from the intended send time, µs.
    pub latency: Hist,
    /// Latency from the actual send time, µs.
    pub latency_uncorrected: Hist,
    /// Time to response headers, µs.
    pub ttfb: Hist,
    /// Time to first token, µs.
    pub ttft: Hist,
    /// Inter-token latency, µs.
    pub itl: Hist,
    /// Tokens per second ×100.
    pub tokens_per_s: Hist,
    /// Response body bytes.
    pub bytes: Hist,
}

impl OutcomeStats {
    /// The histogram behind a metric (time metrics and tokens/s).
    pub fn metric(&self, metric: Metric) -> Option<&Hist> {
        Some(match metric {
            Metric::Latency => &self.latency,
            Metric::LatencyUncorrected => &self.latency_uncorrected,
            Metric::Ttfb => &self.ttfb,
            Metric::Ttft => &self.ttft,
            Metric::Itl => &self.itl,
            Metric::TokensPerS => &self.tokens_per_s,
            _ => return None,
        })
    }

    /// Named histograms, for serialisation.
    pub fn named(&self) -> [(&'static str, &Hist); 7] {
        [
            ("latency", &self.latency),
            ("latency_uncorrected", &self.latency_uncorrected),
            ("ttfb", &self.ttfb),
            ("ttft", &self.ttft),
            ("itl", &self.itl),
            ("tokens_per_s", &self.tokens_per_s),
            ("bytes", &self.bytes),
        ]
    }

    /// Mutable access by serialised name.
    pub fn named_mut(&mut self, name: &str) -> Option<&mut Hist> {
        Some(match name {
            "latency" => &mut self.latency,
            "latency_uncorrected" => &mut self.latency_uncorrected,
            "ttfb" => &mut self.ttfb,
            "ttft" => &mut self.ttft,
            "itl" => &mut self.itl,
            "tokens_per_s" => &mut self.tokens_per_s,
            "bytes" => &mut self.bytes,
            _ => return None,
        })
    }

    /// Adds another's counts and histograms.
    pub fn merge(&mut self, other: &OutcomeStats) {
        self.count += other.count;
        for (name, h) in other.named() {
            if let Some(mine) = self.named_mut(name) {
                mine.merge(h);
            }
        }
    }
}

/// Cache outcomes the gateway reported.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheCounts {
    /// `hit`.
    pub hit: u64,
    /// `miss`.
    pub miss: u64,
    /// `bypass`.
    pub bypass: u64,
    /// Any other value.
    pub other: u64,
}

/// Everything about one request name.
#[derive(Clone, Debug, Default)]
pub struct RequestStats {
    /// Request name.
    pub name: String,
    /// Scenario it belongs to.
    pub scenario: String,
    /// Kind name.
    pub kind: String,
    /// Per outcome.
    pub outcomes: BTreeMap<Outcome, OutcomeStats>,
    /// Iterations of this request dropped for want of a VU.
    pub dropped: u64,
    /// Sums of the usage responses carried.
    pub prompt_tokens: u64,
    /// Sum of completion tokens.
    pub completion_tokens: u64,
    /// Sum of cached prompt tokens.
    pub cached_tokens: u64,
    /// Responses that carried usage.
    pub usage_responses: u64,
    /// Sum of TTS `character-cost`.
    pub tts_characters: u64,
    /// Cache outcomes.
    pub cache: CacheCounts,
    /// Cache similarity ×1000.
    pub similarity: Hist,
    /// Sum of `x-gatebench-cost-usd`.
    pub cost_usd: Decimal,
    /// Largest cost of one response.
    pub cost_max: Decimal,
    /// Responses that carried a cost.
    pub cost_responses: u64,
    /// Responses by `x-gatebench-provider`.
    pub providers: BTreeMap<String, u64>,
    /// `x-gatebench-attempts`.
    pub attempts: Hist,
    /// `server-timing` parts, µs.
    pub server_timing: BTreeMap<String, Hist>,
    /// The first message an error answer of each class said.
    pub error_messages: BTreeMap<Outcome, String>,
}

impl RequestStats {
    /// Requests sent.
    pub fn sent(&self) -> u64 {
        self.outcomes.values().map(|o| o.count).sum()
    }

    /// Requests that succeeded.
    pub fn ok(&self) -> u64 {
        self.outcomes.get(&Outcome::Ok).map_or(0, |o| o.count)
    }

    /// Requests still in flight when the run's grace period ran out.
    pub fn interrupted(&self) -> u64 {
        self.outcomes
            .get(&Outcome::Interrupted)
            .map_or(0, |o| o.count)
    }

    /// Records one finished request.
    pub(crate) fn record(&mut self, s: &Sample) {
        if let Some(message) = &s.error
            && !self.error_messages.contains_key(&s.outcome)
        {
            self.error_messages.insert(s.outcome, message.0.clone());
        }
        let o = self.outcomes.entry(s.outcome).or_default();
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
            self.prompt_tokens += u.prompt_tokens;
            self.completion_tokens += u.completion_tokens;
            self.cached_tokens += u.cached_tokens;
            self.usage_responses += 1;
        }
        if let Some(c) = s.tts_characters {
            self.tts_characters += c;
        }
        if let Some(g) = &s.gateway {
            match g.cache.as_deref() {
                Some("hit") => self.cache.hit += 1,
                Some("miss") => self.cache.miss += 1,
                Some("bypass") => self.cache.bypass += 1,
                Some(_) => self.cache.other += 1,
                None => {}
            }
            if let Some(sim) = g.similarity {
                self.similarity
                    .record((sim.clamp(0.0, 1.0) / SIMILARITY_SCALE).round() as u64);
            }
            if let Some(cost) = g.cost_usd {
                self.cost_usd += cost;
                self.cost_max = self.cost_max.max(cost);
                self.cost_responses += 1;
            }
            if let Some(p) = &g.provider {
                *self.providers.entry(p.clone()).or_default() += 1;
            }
            if let Some(a) = g.attempts {
                self.attempts.record(u64::from(a));
            }
            for (name, ms) in &g.server_timing {
                let us = (ms.max(0.0) * 1000.0).round() as u64;
                self.server_timing
                    .entry(name.clone())
                    .or_default()
                    .record(us);
            }
        }
    }

    /// Adds another run's stats of the same request.
    pub fn merge(&mut self, other: &RequestStats) {
        for (outcome, stats) in &other.outcomes {
            self.outcomes.entry(*outcome).or_default().merge(stats);
        }
        for (outcome, message) in &other.error_messages {
            self.error_messages
                .entry(*outcome)
                .or_insert_with(|| message.clone());
        }
        self.dropped += other.dropped;
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
        self.cached_tokens += other.cached_tokens;
        self.usage_responses += other.usage_responses;
        self.tts_characters += other.tts_characters;
        self.cache.hit += other.cache.hit;
        self.cache.miss += other.cache.miss;
        self.cache.bypass += other.cache.bypass;
        self.cache.other += other.cache.other;
        self.similarity.merge(&other.similarity);
        self.cost_usd += other.cost_usd;
        self.cost_max = self.cost_max.max(other.cost_max);
        self.cost_responses += other.cost_responses;
        for (p, n) in &other.providers {
            *self.providers.entry(p.clone()).or_default() += n;
        }
        self.attempts.merge(&other.attempts);
        for (name, h) in &other.server_timing {
            self.server_timing.entry(name.clone()).or_default().merge(h);
        }
    }

    fn matches(&self, sel: &Selector) -> bool {
        sel.request.as_ref().is_none_or(|r| *r == self.name)
            && sel.scenario.as_ref().is_none_or(|s| *s == self.scenario)
    }
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
            | Outcome::StreamCut => *c == 2,
            _ => false,
        },
        Some(StatusFilter::Code(code)) => outcome == Outcome::Http(*code),
        Some(StatusFilter::Outcome(name)) => outcome.class() == name.as_str(),
    }
}

/// All stats of a run.
#[derive(Clone, Debug, Default)]
pub struct Store {
    /// Per request, in file order.
    pub requests: Vec<RequestStats>,
    /// How long the run lasted.
    pub elapsed: Duration,
    /// The mocks' time scale, when the run knows it: thresholds then judge
    /// real-time equivalents (times ÷ it, rates × it).
    pub time_scale: Option<f64>,
}

impl Store {
    /// Requests sent over the whole run.
    pub fn sent(&self) -> u64 {
        self.requests.iter().map(RequestStats::sent).sum()
    }

    /// Successful requests over the whole run.
    pub fn ok(&self) -> u64 {
        self.requests.iter().map(RequestStats::ok).sum()
    }

    /// Dropped iterations over the whole run.
    pub fn dropped(&self) -> u64 {
        self.requests.iter().map(|r| r.dropped).sum()
    }

    /// A request's stats by name.
    pub fn request(&self, name: &str) -> Option<&RequestStats> {
        self.requests.iter().find(|r| r.name == name)
    }

    /// Merges one metric over the requests and outcomes a selector picks.
    pub fn merged(&self, metric: Metric, sel: &Selector) -> Hist {
        let mut out = Hist::default();
        for r in self.requests.iter().filter(|r| r.matches(sel)) {
            for (outcome, stats) in &r.outcomes {
                if status_matches(sel.status.as_ref(), *outcome)
                    && let Some(h) = stats.metric(metric)
                {
                    out.merge(h);
                }
            }
        }
        out
    }
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
        let h = self.merged(metric, sel);
        h.get().cloned().map(|h| (h, scale))
    }

    fn counts(&self, sel: &Selector) -> Counts {
        let mut c = Counts {
            elapsed: self.elapsed.div_f64(real_time(self.time_scale)),
            ..Counts::default()
        };
        for r in self.requests.iter().filter(|r| r.matches(sel)) {
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
