//! A mock's books: every call it served, kept the way a provider keeps them.
//!
//! Two views of the same calls. Exact totals (overall, by model, by API key, by
//! outcome, and per minute for the usage reports) are kept for as long as the mock
//! runs: they are small and never drop anything. The raw call log, which the suites
//! read to attribute calls to requests, is capped ([`DEFAULT_CAPACITY`] calls by
//! default); the oldest calls go first and the log says how many went.
//!
//! Billing policy (what `billed` and `usage` mean): an answer delivered whole is
//! billed in full; a chat stream cut by a fault or left by its client is billed its
//! prompt and the completion tokens delivered before the end; a non-streamed answer
//! whose client left before it was sent is billed in full (the provider did the
//! work); an answer the provider failed (an injected error, a body cut by a fault,
//! a malformed body) and every refusal is not billed.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use gatebench_wire::books::{BooksSummary, CallPage, CallRecord, Tally};

/// Calls the raw log keeps by default.
pub const DEFAULT_CAPACITY: usize = 100_000;

/// Distinct (minute, route, model, key) groups kept for the usage reports; past
/// this, new models and keys are counted under `(other)` so totals stay exact.
const MAX_GROUPS: usize = 200_000;

/// Longest page of the call log.
pub const MAX_PAGE: usize = 10_000;

/// What the usage reports can group and filter by. Empty strings stand for "none".
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Group {
    /// The route.
    pub route: String,
    /// The model.
    pub model: String,
    /// The voice.
    pub voice: String,
    /// The API key id.
    pub key: String,
}

/// Per-minute totals: minute (Unix seconds / 60) → group → totals.
pub type Minutes = BTreeMap<u64, HashMap<Group, Tally>>;

/// One mock's books.
#[derive(Debug)]
pub struct Books {
    mock: &'static str,
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    log: VecDeque<CallRecord>,
    last_id: u64,
    dropped: u64,
    total: Tally,
    by_model: BTreeMap<String, Tally>,
    by_key: BTreeMap<String, Tally>,
    by_outcome: BTreeMap<String, u64>,
    minutes: Minutes,
    groups: usize,
    since_ms: u64,
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn tally<'a>(map: &'a mut BTreeMap<String, Tally>, key: &str) -> &'a mut Tally {
    if !map.contains_key(key) {
        map.insert(key.to_owned(), Tally::default());
    }
    map.get_mut(key).expect("inserted above")
}

impl Books {
    /// Empty books for `mock`, keeping at most `capacity` raw calls (at least 1).
    pub fn new(mock: &'static str, capacity: usize) -> Books {
        Books {
            mock,
            capacity: capacity.max(1),
            inner: Mutex::new(Inner {
                since_ms: unix_ms(),
                ..Inner::default()
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Enters one call; its `id` is assigned here. Usage of an unbilled call is
    /// dropped, so that the books never count units nobody pays for.
    pub fn record(&self, mut call: CallRecord) {
        if !call.billed {
            call.usage = Default::default();
        }
        let mut inner = self.lock();
        inner.last_id += 1;
        call.id = inner.last_id;
        inner.total.add(&call);
        let model = call.model.as_deref().unwrap_or("");
        let key = call.api_key_id.as_deref().unwrap_or("");
        tally(&mut inner.by_model, model).add(&call);
        tally(&mut inner.by_key, key).add(&call);
        match inner.by_outcome.get_mut(&call.outcome) {
            Some(n) => *n += 1,
            None => {
                inner.by_outcome.insert(call.outcome.clone(), 1);
            }
        }

        let group = Group {
            route: call.route.clone(),
            model: model.to_owned(),
            voice: call.voice.clone().unwrap_or_default(),
            key: key.to_owned(),
        };
        let full = inner.groups >= MAX_GROUPS;
        let Inner {
            minutes, groups, ..
        } = &mut *inner;
        let minute = minutes.entry(call.at_ms / 60_000).or_default();
        let group = if full && !minute.contains_key(&group) {
            Group {
                route: group.route,
                model: "(other)".to_owned(),
                ..Group::default()
            }
        } else {
            group
        };
        let tally = minute.entry(group).or_insert_with(|| {
            *groups += 1;
            Tally::default()
        });
        tally.add(&call);

        if inner.log.len() >= self.capacity {
            inner.log.pop_front();
            inner.dropped += 1;
        }
        inner.log.push_back(call);
    }

    /// Calls with ids after `after`, oldest first, at most `limit` (capped at
    /// [`MAX_PAGE`]).
    pub fn page(&self, after: u64, limit: usize) -> CallPage {
        let limit = limit.clamp(1, MAX_PAGE);
        let inner = self.lock();
        let first_id = inner.log.front().map_or(0, |c| c.id);
        // Ids in the log are consecutive, so the start is an offset.
        let start = if first_id == 0 || after < first_id {
            0
        } else {
            usize::try_from(after - first_id + 1).unwrap_or(usize::MAX)
        };
        let data: Vec<CallRecord> = inner.log.iter().skip(start).take(limit).cloned().collect();
        let next_after = data
            .last()
            .map_or(after.max(first_id.saturating_sub(1)), |c| c.id);
        CallPage {
            mock: self.mock.to_owned(),
            has_more: next_after < inner.last_id,
            next_after,
            first_id,
            last_id: inner.last_id,
            dropped: inner.dropped,
            capacity: self.capacity,
            data,
        }
    }

    /// Exact totals since start or the last reset.
    pub fn summary(&self) -> BooksSummary {
        let inner = self.lock();
        BooksSummary {
            mock: self.mock.to_owned(),
            total: inner.total,
            by_model: inner.by_model.clone(),
            by_key: inner.by_key.clone(),
            by_outcome: inner.by_outcome.clone(),
            last_id: inner.last_id,
            dropped: inner.dropped,
            capacity: self.capacity,
            since_ms: inner.since_ms,
        }
    }

    /// The per-minute totals from `start_minute` (inclusive) to `end_minute`
    /// (exclusive), for the usage reports.
    pub fn minutes(&self, start_minute: u64, end_minute: u64) -> Minutes {
        if start_minute >= end_minute {
            return Minutes::new();
        }
        let inner = self.lock();
        inner
            .minutes
            .range(start_minute..end_minute)
            .map(|(m, routes)| (*m, routes.clone()))
            .collect()
    }

    /// Totals in buckets of `width` seconds from `start` (Unix seconds, inclusive)
    /// to `end` (exclusive), of the groups `keep` accepts, keyed by `by`. Every
    /// bucket of the range is present, empty or not.
    pub fn buckets<K: Ord>(
        &self,
        start: u64,
        end: u64,
        width: u64,
        keep: impl Fn(&Group) -> bool,
        by: impl Fn(&Group) -> K,
    ) -> Vec<(u64, BTreeMap<K, Tally>)> {
        let width = width.max(60);
        let mut out: Vec<(u64, BTreeMap<K, Tally>)> = (0..)
            .map(|i| start.saturating_add(i * width))
            .take_while(|t| *t < end)
            .map(|t| (t, BTreeMap::new()))
            .collect();
        let minutes = self.minutes(start / 60, end.div_ceil(60));
        for (minute, groups) in minutes {
            let at = minute * 60;
            if at < start || at >= end {
                continue;
            }
            let slot = ((at - start) / width) as usize;
            let Some((_, totals)) = out.get_mut(slot) else {
                continue;
            };
            for (group, tally) in groups.iter().filter(|(g, _)| keep(g)) {
                let total = totals.entry(by(group)).or_default();
                total.calls += tally.calls;
                total.billed += tally.billed;
                total.usage.add(&tally.usage);
            }
        }
        out
    }

    /// Forgets every call. Ids start again from 1.
    pub fn clear(&self) {
        *self.lock() = Inner {
            since_ms: unix_ms(),
            ..Inner::default()
        };
    }
}

#[cfg(test)]
mod tests {
    use gatebench_wire::books::CallUsage;

    use super::*;

    fn call(model: &str, key: Option<&str>, billed: bool, tokens: u64) -> CallRecord {
        CallRecord {
            id: 0,
            mock: "openai".into(),
            at_ms: 120_000,
            duration_ms: 1.0,
            route: "/v1/chat/completions".into(),
            api_key_id: key.map(str::to_owned),
            model: Some(model.into()),
            voice: None,
            outcome: if billed { "ok" } else { "fault_unavailable" }.into(),
            status: if billed { 200 } else { 503 },
            stream: false,
            complete: billed,
            billed,
            usage: CallUsage {
                input_tokens: tokens,
                output_tokens: tokens,
                ..CallUsage::default()
            },
            content_digest: None,
            prompt_digest: None,
            response_id: None,
            request_id: "req".into(),
            traceparent: None,
            client_request_id: None,
        }
    }

    #[test]
    fn pages_walk_the_log_in_order_and_totals_stay_exact_past_the_cap() {
        let books = Books::new("openai", 3);
        for i in 0..5 {
            books.record(call("gpt-4o-mini", Some("key_a"), i % 2 == 0, 10));
        }
        let page = books.page(0, 100);
        assert_eq!(
            page.data.iter().map(|c| c.id).collect::<Vec<_>>(),
            [3, 4, 5]
        );
        assert_eq!((page.first_id, page.last_id, page.dropped), (3, 5, 2));
        assert!(!page.has_more);
        let page = books.page(3, 1);
        assert_eq!(page.data[0].id, 4);
        assert!(page.has_more && page.next_after == 4);
        assert!(books.page(5, 10).data.is_empty());
        // An unbilled call carries no units.
        assert!(books.page(3, 1).data[0].usage.is_zero());

        let summary = books.summary();
        assert_eq!((summary.total.calls, summary.total.billed), (5, 3));
        assert_eq!(summary.total.usage.input_tokens, 30);
        assert_eq!(summary.by_model["gpt-4o-mini"].billed, 3);
        assert_eq!(summary.by_outcome["fault_unavailable"], 2);
        let minutes = books.minutes(0, u64::MAX);
        let group = Group {
            route: "/v1/chat/completions".into(),
            model: "gpt-4o-mini".into(),
            voice: String::new(),
            key: "key_a".into(),
        };
        assert_eq!(minutes[&2][&group].usage.output_tokens, 30);

        books.clear();
        assert_eq!(books.summary().total.calls, 0);
        books.record(call("gpt-4o", None, true, 1));
        assert_eq!(books.page(0, 10).data[0].id, 1);
    }
}
