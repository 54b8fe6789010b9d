//! The ordering rule written the slow, obvious way, and a property test that the
//! queue's choices match it for any sequence of arrivals, cancellations, releases and
//! clock moves.
//!
//! Deadlines are left out here: when an expired waiter is swept out is an
//! implementation detail that shifts tenant turns; other tests cover deadlines.

use std::sync::Arc;
use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::{Enqueued, Outcome, Queue, STRICT_TURNS, WaiterId, Woken};
use crate::{Priority, QueueConfig, Ticket};

const AGING: Duration = Duration::from_millis(100);

struct Waiting {
    ticket: u64,
    tenant: usize,
    class: usize,
    enqueued: Instant,
}

/// Every waiter in a list, tenants in the order of their turns.
struct Reference {
    /// In arrival order.
    waiters: Vec<Waiting>,
    /// Tenants with waiters; the front has the oldest turn.
    turns: Vec<usize>,
    /// Choices since one went to a promoted waiter.
    strict_run: u32,
}

impl Default for Reference {
    fn default() -> Self {
        Reference {
            waiters: Vec::new(),
            turns: Vec::new(),
            strict_run: STRICT_TURNS,
        }
    }
}

impl Reference {
    fn enqueue(&mut self, waiting: Waiting) {
        if !self.waiters.iter().any(|w| w.tenant == waiting.tenant) {
            self.turns.push(waiting.tenant);
        }
        self.waiters.push(waiting);
    }

    fn remove(&mut self, ticket: u64) -> Waiting {
        let pos = self
            .waiters
            .iter()
            .position(|w| w.ticket == ticket)
            .expect("known ticket");
        let waiting = self.waiters.remove(pos);
        if !self.waiters.iter().any(|w| w.tenant == waiting.tenant) {
            self.turns.retain(|&t| t != waiting.tenant);
        }
        waiting
    }

    /// Class after the promotions earned by waiting.
    fn promoted(w: &Waiting, now: Instant) -> usize {
        let steps = now.saturating_duration_since(w.enqueued).as_nanos() / AGING.as_nanos();
        w.class - w.class.min(usize::try_from(steps).unwrap_or(usize::MAX))
    }

    /// The rule: after three choices none of which went to a promoted waiter, the
    /// waiter that arrived first among those of the best promoted class, if it is
    /// promoted. Otherwise the best class asked for, the tenant with the oldest turn
    /// among those with such a waiter, and its waiter of that class that arrived
    /// first.
    fn choose(&mut self, now: Instant) -> Option<u64> {
        let best = self.waiters.iter().map(|w| Self::promoted(w, now)).min()?;
        let oldest = self
            .waiters
            .iter()
            .find(|w| Self::promoted(w, now) == best)
            .expect("some waiter has the best class");
        let (ticket, tenant) = if self.strict_run >= STRICT_TURNS && best < oldest.class {
            self.strict_run = 0;
            (oldest.ticket, oldest.tenant)
        } else {
            self.strict_run += 1;
            let best = self.waiters.iter().map(|w| w.class).min()?;
            let tenant = *self
                .turns
                .iter()
                .find(|&&t| {
                    self.waiters
                        .iter()
                        .any(|w| w.tenant == t && w.class == best)
                })
                .expect("some tenant has a waiter of the best class");
            let ticket = self
                .waiters
                .iter()
                .find(|w| w.tenant == tenant && w.class == best)
                .map(|w| w.ticket)
                .expect("the tenant has one");
            (ticket, tenant)
        };
        self.remove(ticket);
        if let Some(pos) = self.turns.iter().position(|&t| t == tenant) {
            let t = self.turns.remove(pos);
            self.turns.push(t);
        }
        Some(ticket)
    }
}

#[derive(Clone, Debug)]
enum Op {
    Enqueue { tenant: usize, class: usize },
    Advance { ms: u64 },
    Release,
    Cancel { pick: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (0..5usize, 0..4usize).prop_map(|(tenant, class)| Op::Enqueue { tenant, class }),
        2 => (0..250u64).prop_map(|ms| Op::Advance { ms }),
        3 => Just(Op::Release),
        1 => any::<usize>().prop_map(|pick| Op::Cancel { pick }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn choices_match_the_reference_rule(
        concurrency in 1..4usize,
        ops in prop::collection::vec(op(), 1..400),
    ) {
        let config = QueueConfig {
            concurrency,
            capacity: 1000,
            aging: AGING,
            initial_service_time: Duration::from_millis(10),
        };
        let mut queue: Queue<u64> = Queue::new(&config);
        let mut reference = Reference::default();
        let mut now = Instant::now();
        let mut held = 0usize;
        let mut ids: Vec<(u64, WaiterId)> = Vec::new();
        for (n, op) in ops.iter().enumerate() {
            let n = n as u64;
            match *op {
                Op::Enqueue { tenant, class } => {
                    let ticket = Ticket::new(Arc::from(format!("t{tenant}")), Priority::ALL[class]);
                    match queue.enqueue(&ticket, now) {
                        Enqueued::Admitted => held += 1,
                        Enqueued::Queued(id) => {
                            queue.poll(id, now, |slot| *slot = Some(n));
                            ids.push((n, id));
                            reference.enqueue(Waiting { ticket: n, tenant, class, enqueued: now });
                        }
                        Enqueued::Rejected(r) => prop_assert!(false, "unexpected {r:?}"),
                    }
                }
                Op::Advance { ms } => now += Duration::from_millis(ms),
                Op::Release if held > 0 => {
                    held -= 1;
                    let mut woken = Woken::default();
                    queue.release(Duration::ZERO, now, &mut woken);
                    let mut granted = Vec::new();
                    woken.for_each(|t| granted.push(t));
                    prop_assert!(granted.len() <= 1);
                    prop_assert_eq!(granted.first().copied(), reference.choose(now));
                    for ticket in granted {
                        let pos = ids.iter().position(|(t, _)| *t == ticket).expect("known");
                        let (_, id) = ids.remove(pos);
                        let outcome = queue.poll(id, now, |_| {});
                        prop_assert!(matches!(outcome, Outcome::Admitted(_)));
                        held += 1;
                    }
                }
                Op::Cancel { pick } if !ids.is_empty() => {
                    let (ticket, id) = ids.remove(pick % ids.len());
                    let mut woken = Woken::default();
                    queue.cancel(id, now, &mut woken);
                    prop_assert!(woken.first.is_none());
                    reference.remove(ticket);
                }
                Op::Release | Op::Cancel { .. } => {}
            }
        }
    }
}
