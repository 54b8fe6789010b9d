//! Every counter and histogram of a run, per request name × outcome.
//!
//! One store lives in the driver's aggregator during a run; results serialise it
//! and [`crate::merge()`] rebuilds and adds stores from several runs. Recording
//! requests into a store and answering thresholds from it are the driver's.

use std::collections::BTreeMap;
use std::time::Duration;

use rust_decimal::Decimal;

use crate::hist::Hist;
use crate::outcome::Outcome;

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

    /// Adds another's count and histograms; `None` if the count passes 2^64.
    #[must_use]
    pub fn merge(&mut self, other: &OutcomeStats) -> Option<()> {
        add(&mut self.count, other.count)?;
        for (name, h) in other.named() {
            if let Some(mine) = self.named_mut(name) {
                mine.merge(h);
            }
        }
        Some(())
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

    /// Adds another run's stats of the same request, or nothing at all: `None` if
    /// a count passes 2^64 or the costs pass what a `Decimal` holds (about 7.9e28
    /// USD); only a corrupt file has either.
    #[must_use]
    pub fn merge(&mut self, other: &RequestStats) -> Option<()> {
        let mut sum = self.clone();
        sum.add(other)?;
        *self = sum;
        Some(())
    }

    fn add(&mut self, other: &RequestStats) -> Option<()> {
        self.cost_usd = self.cost_usd.checked_add(other.cost_usd)?;
        for (outcome, stats) in &other.outcomes {
            self.outcomes.entry(*outcome).or_default().merge(stats)?;
        }
        for (outcome, message) in &other.error_messages {
            self.error_messages
                .entry(*outcome)
                .or_insert_with(|| message.clone());
        }
        for (into, n) in [
            (&mut self.dropped, other.dropped),
            (&mut self.prompt_tokens, other.prompt_tokens),
            (&mut self.completion_tokens, other.completion_tokens),
            (&mut self.cached_tokens, other.cached_tokens),
            (&mut self.usage_responses, other.usage_responses),
            (&mut self.tts_characters, other.tts_characters),
            (&mut self.cache.hit, other.cache.hit),
            (&mut self.cache.miss, other.cache.miss),
            (&mut self.cache.bypass, other.cache.bypass),
            (&mut self.cache.other, other.cache.other),
            (&mut self.cost_responses, other.cost_responses),
        ] {
            add(into, n)?;
        }
        self.similarity.merge(&other.similarity);
        self.cost_max = self.cost_max.max(other.cost_max);
        for (p, n) in &other.providers {
            add(self.providers.entry(p.clone()).or_default(), *n)?;
        }
        self.attempts.merge(&other.attempts);
        for (name, h) in &other.server_timing {
            self.server_timing.entry(name.clone()).or_default().merge(h);
        }
        Some(())
    }

    /// Every count of the request added up, `None` past 2^64: any sum a report
    /// makes of them (requests sent, cache decisions, tokens) then fits.
    pub fn all_counts(&self) -> Option<u64> {
        let cache = &self.cache;
        self.outcomes
            .values()
            .map(|o| o.count)
            .chain(self.providers.values().copied())
            .chain([
                self.dropped,
                self.prompt_tokens,
                self.completion_tokens,
                self.cached_tokens,
                self.usage_responses,
                self.tts_characters,
                cache.hit,
                cache.miss,
                cache.bypass,
                cache.other,
                self.cost_responses,
            ])
            .try_fold(0u64, u64::checked_add)
    }
}

/// `*into += n`, `None` past 2^64.
fn add(into: &mut u64, n: u64) -> Option<()> {
    *into = into.checked_add(n)?;
    Some(())
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
    /// Latency from the intended send time of every answered request (every
    /// outcome but those the run itself cut off), µs.
    pub fn answered_latency(&self) -> Hist {
        let mut latency = Hist::default();
        for request in &self.requests {
            for (outcome, stats) in &request.outcomes {
                if *outcome != Outcome::Interrupted {
                    latency.merge(&stats.latency);
                }
            }
        }
        latency
    }

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
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Costs that add past a `Decimal` (only a corrupt file has them) are refused
    /// before anything of the other run is added, instead of a panic.
    #[test]
    fn costs_that_add_past_a_decimal_are_refused_whole() {
        let stats = |cost: Decimal, dropped: u64| RequestStats {
            cost_usd: cost,
            dropped,
            ..RequestStats::default()
        };
        let mut sum = stats(Decimal::new(25, 2), 1);
        assert_eq!(sum.merge(&stats(Decimal::new(5, 2), 2)), Some(()));
        assert_eq!((sum.cost_usd, sum.dropped), (Decimal::new(30, 2), 3));
        let mut full = stats(Decimal::MAX, 1);
        assert_eq!(full.merge(&stats(Decimal::ONE, 2)), None);
        assert_eq!((full.cost_usd, full.dropped), (Decimal::MAX, 1));
    }

    /// So are counts that add past 2^64, with nothing added; and the sum of a
    /// request's counts says when a report's sums of them would not fit.
    #[test]
    fn counts_that_add_past_u64_are_refused_whole() {
        let stats = |ok: u64, dropped: u64, hits: u64| RequestStats {
            outcomes: BTreeMap::from([(
                Outcome::Ok,
                OutcomeStats {
                    count: ok,
                    ..OutcomeStats::default()
                },
            )]),
            dropped,
            cache: CacheCounts {
                hit: hits,
                ..CacheCounts::default()
            },
            ..RequestStats::default()
        };
        let mut near = stats(u64::MAX - 1, 1, 0);
        assert_eq!(near.all_counts(), Some(u64::MAX));
        assert_eq!(near.merge(&stats(2, 1, 0)), None);
        assert_eq!((near.ok(), near.dropped), (u64::MAX - 1, 1));
        near.dropped = 2;
        assert_eq!(near.all_counts(), None);
        let mut hits = stats(0, 0, u64::MAX);
        assert_eq!(hits.merge(&stats(0, 0, 1)), None);
        assert_eq!(hits.cache.hit, u64::MAX);
    }
}
