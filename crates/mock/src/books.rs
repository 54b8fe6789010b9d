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
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use gatebench_wire::books::{BooksSummary, CallPage, CallRecord, CallUsage, Tally, hex, key_id_of};
use xxhash_rust::xxh3::xxh3_64_with_seed;

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

/// One call as the books keep it: compact (hashes, static labels), turned into a
/// [`CallRecord`] only when read.
#[derive(Clone, Debug)]
pub struct Entry {
    /// When the request arrived, Unix milliseconds.
    pub at_ms: u64,
    /// Arrival to end, ms.
    pub duration_ms: f64,
    /// The route.
    pub route: String,
    /// Hash of the API key.
    pub api_key: Option<u64>,
    /// Model served.
    pub model: Option<Arc<str>>,
    /// Voice served.
    pub voice: Option<String>,
    /// Outcome label.
    pub outcome: &'static str,
    /// Status sent.
    pub status: u16,
    /// Streamed.
    pub stream: bool,
    /// Delivered whole.
    pub complete: bool,
    /// On the bill.
    pub billed: bool,
    /// Billed units.
    pub usage: CallUsage,
    /// Hash of the content delivered.
    pub content: Option<u64>,
    /// Hash of the prompt.
    pub prompt: Option<u64>,
    /// The answer's id.
    pub response_id: Option<String>,
    /// The mock's request id.
    pub request_id: String,
    /// `traceparent` received.
    pub traceparent: Option<String>,
    /// `x-request-id` received.
    pub client_request_id: Option<String>,
}

/// One mock's books.
#[derive(Debug)]
pub struct Books {
    mock: &'static str,
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    log: Log,
    last_id: u64,
    dropped: u64,
    total: Tally,
    by_outcome: BTreeMap<&'static str, u64>,
    /// Minute → hash of the group → the group and its totals.
    minutes: BTreeMap<u64, HashMap<u64, (Group, Tally), foldhash::fast::RandomState>>,
    groups: usize,
    since_ms: u64,
}

/// Calls in one chunk of the log.
const LOG_CHUNK: usize = 4096;

/// The raw call log, oldest first, in chunks of [`LOG_CHUNK`] calls. One deque
/// would copy every call it holds each time its capacity doubled, under the
/// books' lock, so that every call the mock served meanwhile waited on it (tens
/// of milliseconds at 65,536 calls).
#[derive(Debug, Default)]
struct Log {
    chunks: VecDeque<VecDeque<(u64, Entry)>>,
    len: usize,
}

impl Log {
    fn len(&self) -> usize {
        self.len
    }

    fn push_back(&mut self, call: (u64, Entry)) {
        match self.chunks.back_mut() {
            Some(chunk) if chunk.len() < LOG_CHUNK => chunk.push_back(call),
            _ => {
                let mut chunk = VecDeque::with_capacity(LOG_CHUNK);
                chunk.push_back(call);
                self.chunks.push_back(chunk);
            }
        }
        self.len += 1;
    }

    fn pop_front(&mut self) {
        let Some(chunk) = self.chunks.front_mut() else {
            return;
        };
        if chunk.pop_front().is_some() {
            self.len -= 1;
        }
        if chunk.is_empty() {
            self.chunks.pop_front();
        }
    }

    fn front(&self) -> Option<&(u64, Entry)> {
        self.chunks.front().and_then(VecDeque::front)
    }

    /// The calls from the `start`-th on.
    fn iter_from(&self, mut start: usize) -> impl Iterator<Item = &(u64, Entry)> {
        let mut skipped = 0;
        for chunk in &self.chunks {
            if start < chunk.len() {
                break;
            }
            start -= chunk.len();
            skipped += 1;
        }
        let mut rest = self.chunks.iter().skip(skipped);
        let first = rest
            .next()
            .into_iter()
            .flat_map(move |chunk| chunk.iter().skip(start));
        first.chain(rest.flatten())
    }
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn count(tally: &mut Tally, entry: &Entry) {
    tally.calls += 1;
    if entry.billed {
        tally.billed += 1;
        tally.usage.add(&entry.usage);
    }
}

/// A group's identity without building it.
fn group_hash(entry: &Entry, model: &str) -> u64 {
    let h = xxh3_64_with_seed(entry.route.as_bytes(), 0);
    let h = xxh3_64_with_seed(model.as_bytes(), h);
    let h = xxh3_64_with_seed(entry.voice.as_deref().unwrap_or("").as_bytes(), h);
    match entry.api_key {
        Some(key) => xxh3_64_with_seed(&key.to_le_bytes(), h),
        None => h.rotate_left(1),
    }
}

impl Entry {
    fn record(&self, id: u64, mock: &str) -> CallRecord {
        CallRecord {
            id,
            mock: mock.to_owned(),
            at_ms: self.at_ms,
            duration_ms: self.duration_ms,
            route: self.route.clone(),
            api_key_id: self.api_key.map(key_id_of),
            model: self.model.as_deref().map(str::to_owned),
            voice: self.voice.clone(),
            outcome: self.outcome.to_owned(),
            status: self.status,
            stream: self.stream,
            complete: self.complete,
            billed: self.billed,
            usage: self.usage,
            content_digest: self.content.map(hex),
            prompt_digest: self.prompt.map(hex),
            response_id: self.response_id.clone(),
            request_id: self.request_id.clone(),
            traceparent: self.traceparent.clone(),
            client_request_id: self.client_request_id.clone(),
        }
    }
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

    /// Enters one call. Usage of an unbilled call is dropped, so that the books
    /// never count units nobody pays for.
    pub fn record(&self, mut entry: Entry) {
        if !entry.billed {
            entry.usage = CallUsage::default();
        }
        let mut inner = self.lock();
        let inner = &mut *inner;
        inner.last_id += 1;
        count(&mut inner.total, &entry);
        let model = entry.model.as_deref().unwrap_or("");
        *inner.by_outcome.entry(entry.outcome).or_default() += 1;

        let Inner {
            minutes, groups, ..
        } = &mut *inner;
        let minute = minutes.entry(entry.at_ms / 60_000).or_default();
        let mut hash = group_hash(&entry, model);
        if *groups >= MAX_GROUPS && !minute.contains_key(&hash) {
            // Past the cap new groups fold into one per route, so totals stay exact.
            hash = group_hash(
                &Entry {
                    api_key: None,
                    voice: None,
                    ..entry.clone()
                },
                "(other)",
            );
        }
        let (_, tally) = minute.entry(hash).or_insert_with(|| {
            *groups += 1;
            let folded = *groups > MAX_GROUPS;
            (
                Group {
                    route: entry.route.clone(),
                    model: if folded {
                        "(other)".into()
                    } else {
                        model.to_owned()
                    },
                    voice: if folded {
                        String::new()
                    } else {
                        entry.voice.clone().unwrap_or_default()
                    },
                    key: match entry.api_key {
                        Some(k) if !folded => key_id_of(k),
                        _ => String::new(),
                    },
                },
                Tally::default(),
            )
        });
        count(tally, &entry);

        if inner.log.len() >= self.capacity {
            inner.log.pop_front();
            inner.dropped += 1;
        }
        inner.log.push_back((inner.last_id, entry));
    }

    /// Calls with ids after `after`, oldest first, at most `limit` (capped at
    /// [`MAX_PAGE`]).
    pub fn page(&self, after: u64, limit: usize) -> CallPage {
        let limit = limit.clamp(1, MAX_PAGE);
        let inner = self.lock();
        let first_id = inner.log.front().map_or(0, |(id, _)| *id);
        // Ids in the log are consecutive, so the start is an offset.
        let start = if first_id == 0 || after < first_id {
            0
        } else {
            usize::try_from(after - first_id + 1).unwrap_or(usize::MAX)
        };
        let data: Vec<CallRecord> = inner
            .log
            .iter_from(start)
            .take(limit)
            .map(|(id, e)| e.record(*id, self.mock))
            .collect();
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
            concurrent_per_key: 0,
            data,
        }
    }

    /// Exact totals since start or the last reset.
    pub fn summary(&self) -> BooksSummary {
        let inner = self.lock();
        // By model and by key, summed from the per-minute groups (which fold new
        // models and keys into `(other)` past their cap).
        let mut by_model: BTreeMap<String, Tally> = BTreeMap::new();
        let mut by_key: BTreeMap<String, Tally> = BTreeMap::new();
        for (group, tally) in inner.minutes.values().flat_map(HashMap::values) {
            for (map, name) in [(&mut by_model, &group.model), (&mut by_key, &group.key)] {
                let sum = map.entry(name.clone()).or_default();
                sum.calls += tally.calls;
                sum.billed += tally.billed;
                sum.usage.add(&tally.usage);
            }
        }
        BooksSummary {
            mock: self.mock.to_owned(),
            total: inner.total,
            by_model,
            by_key,
            by_outcome: inner
                .by_outcome
                .iter()
                .map(|(k, n)| ((*k).to_owned(), *n))
                .collect(),
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
            .map(|(m, groups)| (*m, groups.values().cloned().collect()))
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
    use super::*;

    fn call(model: &str, key: Option<u64>, billed: bool, tokens: u64) -> Entry {
        Entry {
            at_ms: 120_000,
            duration_ms: 1.0,
            route: "/v1/chat/completions".into(),
            api_key: key,
            model: Some(Arc::from(model)),
            voice: None,
            outcome: if billed { "ok" } else { "fault_unavailable" },
            status: if billed { 200 } else { 503 },
            stream: false,
            complete: billed,
            billed,
            usage: CallUsage {
                input_tokens: tokens,
                output_tokens: tokens,
                ..CallUsage::default()
            },
            content: None,
            prompt: None,
            response_id: None,
            request_id: "req".into(),
            traceparent: None,
            client_request_id: None,
        }
    }

    #[test]
    fn pages_read_across_the_logs_chunks_past_the_cap() {
        let capacity = 2 * LOG_CHUNK + 10;
        let books = Books::new("openai", capacity);
        let total = 3 * LOG_CHUNK as u64 + 7;
        for _ in 0..total {
            books.record(call("gpt-4o-mini", Some(7), true, 1));
        }
        let first = total - capacity as u64 + 1;
        let mut ids = Vec::new();
        let mut after = 0;
        loop {
            let page = books.page(after, 1000);
            assert_eq!((page.first_id, page.last_id), (first, total));
            ids.extend(page.data.iter().map(|c| c.id));
            if !page.has_more {
                break;
            }
            after = page.next_after;
        }
        assert_eq!(ids, (first..=total).collect::<Vec<_>>());
        // a page that starts in the middle of a chunk
        let page = books.page(first + LOG_CHUNK as u64 + 5, 3);
        let expected = first + LOG_CHUNK as u64 + 6;
        assert_eq!(
            page.data.iter().map(|c| c.id).collect::<Vec<_>>(),
            [expected, expected + 1, expected + 2]
        );
        assert_eq!(books.summary().total.calls, total);
    }

    #[test]
    fn pages_walk_the_log_in_order_and_totals_stay_exact_past_the_cap() {
        let books = Books::new("openai", 3);
        for i in 0..5 {
            books.record(call("gpt-4o-mini", Some(7), i % 2 == 0, 10));
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
            key: key_id_of(7),
        };
        assert_eq!(minutes[&2][&group].usage.output_tokens, 30);

        books.clear();
        assert_eq!(books.summary().total.calls, 0);
        books.record(call("gpt-4o", None, true, 1));
        assert_eq!(books.page(0, 10).data[0].id, 1);
    }
}
