//! Invariants of the pure queue under arbitrary operation sequences.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::{Enqueued, Outcome, Queue, STRICT_TURNS, WaiterId, Woken};
use crate::{Priority, QueueConfig, Ticket};

const AGING: Duration = Duration::from_millis(1000);
const TENANTS: usize = 4;

#[derive(Clone, Debug)]
enum Op {
    /// A new ticket; `register` says whether its waiter leaves a payload to wake.
    Enqueue {
        tenant: usize,
        class: usize,
        deadline_ms: Option<u64>,
        register: bool,
    },
    Advance {
        ms: u64,
    },
    /// Release the `pick`-th held permit.
    Release {
        pick: usize,
    },
    /// Drop the `pick`-th outstanding waiter.
    Cancel {
        pick: usize,
    },
    /// The `pick`-th outstanding waiter looks at its slot.
    Poll {
        pick: usize,
    },
    /// The deadline timer of the `pick`-th outstanding waiter fires, if its deadline passed.
    Timer {
        pick: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..TENANTS, 0..4usize, prop::option::weighted(0.3, 0..3000u64), prop::bool::weighted(0.9))
            .prop_map(|(tenant, class, deadline_ms, register)| Op::Enqueue { tenant, class, deadline_ms, register }),
        2 => (0..1500u64).prop_map(|ms| Op::Advance { ms }),
        3 => any::<usize>().prop_map(|pick| Op::Release { pick }),
        1 => any::<usize>().prop_map(|pick| Op::Cancel { pick }),
        1 => any::<usize>().prop_map(|pick| Op::Poll { pick }),
        1 => any::<usize>().prop_map(|pick| Op::Timer { pick }),
    ]
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    Admitted,
    Rejected,
    Expired,
    Cancelled,
}

/// Drives a queue the way the scheduler does and records how every ticket ended.
struct Model {
    queue: Queue<u64>,
    concurrency: usize,
    now: Instant,
    next_ticket: u64,
    /// Waiting tickets, in enqueue order: (ticket, id, deadline).
    outstanding: Vec<(u64, WaiterId, Option<Instant>)>,
    /// Tickets holding a permit, with the instant they got it.
    held: Vec<(u64, Instant)>,
    ends: BTreeMap<u64, End>,
    enqueued: BTreeSet<u64>,
}

impl Model {
    fn new(concurrency: usize, capacity: usize) -> Model {
        let config = QueueConfig {
            concurrency,
            capacity,
            aging: AGING,
            initial_service_time: Duration::from_millis(200),
        };
        Model {
            queue: Queue::new(&config),
            concurrency,
            now: Instant::now(),
            next_ticket: 0,
            outstanding: Vec::new(),
            held: Vec::new(),
            ends: BTreeMap::new(),
            enqueued: BTreeSet::new(),
        }
    }

    fn end(&mut self, ticket: u64, end: End) {
        let previous = self.ends.insert(ticket, end);
        assert_eq!(previous, None, "ticket {ticket} ended twice");
    }

    fn enqueue(
        &mut self,
        tenant: usize,
        class: usize,
        deadline: Option<Instant>,
        register: bool,
    ) -> u64 {
        let ticket_no = self.next_ticket;
        self.next_ticket += 1;
        self.enqueued.insert(ticket_no);
        let ticket = Ticket {
            tenant: Arc::from(format!("t{tenant}")),
            priority: Priority::ALL[class],
            deadline,
        };
        match self.queue.enqueue(&ticket, self.now) {
            Enqueued::Admitted => {
                self.held.push((ticket_no, self.now));
                self.end(ticket_no, End::Admitted);
            }
            Enqueued::Rejected(crate::Rejected::DeadlineExpired { .. }) => {
                self.end(ticket_no, End::Expired)
            }
            Enqueued::Rejected(_) => self.end(ticket_no, End::Rejected),
            Enqueued::Queued(id) => {
                if register {
                    assert_eq!(
                        self.queue
                            .poll(id, self.now, |slot| *slot = Some(ticket_no)),
                        Outcome::Pending
                    );
                }
                self.outstanding.push((ticket_no, id, deadline));
            }
        }
        ticket_no
    }

    fn settle(&mut self, pos: usize, outcome: Outcome) {
        let (ticket, _, _) = self.outstanding.remove(pos);
        match outcome {
            Outcome::Pending => unreachable!("settle is given final outcomes"),
            Outcome::Admitted(_) => {
                self.held.push((ticket, self.now));
                self.end(ticket, End::Admitted);
            }
            Outcome::Expired(_) => self.end(ticket, End::Expired),
        }
    }

    /// Woken waiters look at their slot, as their tasks would.
    fn wake(&mut self, woken: Woken<u64>) {
        let mut tickets = Vec::new();
        woken.for_each(|t| tickets.push(t));
        for ticket in tickets {
            let pos = self
                .outstanding
                .iter()
                .position(|(t, _, _)| *t == ticket)
                .expect("woken ticket is outstanding");
            let id = self.outstanding[pos].1;
            let outcome = self.queue.poll(id, self.now, |_| {});
            assert_ne!(
                outcome,
                Outcome::Pending,
                "ticket {ticket} woken for nothing"
            );
            self.settle(pos, outcome);
        }
    }

    fn poll(&mut self, pos: usize) {
        let (ticket, id, _) = self.outstanding[pos];
        match self.queue.poll(id, self.now, |slot| *slot = Some(ticket)) {
            Outcome::Pending => {}
            outcome => self.settle(pos, outcome),
        }
    }

    fn release(&mut self, pick: usize) {
        if self.held.is_empty() {
            return;
        }
        let (_, since) = self.held.remove(pick % self.held.len());
        let mut woken = Woken::default();
        self.queue.release(
            self.now.saturating_duration_since(since),
            self.now,
            &mut woken,
        );
        self.wake(woken);
    }

    fn apply(&mut self, op: &Op) {
        match *op {
            Op::Enqueue {
                tenant,
                class,
                deadline_ms,
                register,
            } => {
                let deadline = deadline_ms.map(|ms| self.now + Duration::from_millis(ms));
                self.enqueue(tenant, class, deadline, register);
            }
            Op::Advance { ms } => self.now += Duration::from_millis(ms),
            Op::Release { pick } => self.release(pick),
            Op::Cancel { pick } if !self.outstanding.is_empty() => {
                let (ticket, id, _) = self.outstanding.remove(pick % self.outstanding.len());
                let mut woken = Woken::default();
                // A waiter whose permit was not picked up yet counts as cancelled; one
                // already expired by a dispatch stays expired.
                let before = self.queue.snapshot().cancelled;
                self.queue.cancel(id, self.now, &mut woken);
                let end = if self.queue.snapshot().cancelled > before {
                    End::Cancelled
                } else {
                    End::Expired
                };
                self.end(ticket, end);
                self.wake(woken);
            }
            Op::Poll { pick } if !self.outstanding.is_empty() => {
                self.poll(pick % self.outstanding.len())
            }
            Op::Timer { pick } if !self.outstanding.is_empty() => {
                let pos = pick % self.outstanding.len();
                let (_, id, deadline) = self.outstanding[pos];
                if deadline.is_some_and(|d| d <= self.now) {
                    let outcome = self.queue.expire(id, self.now);
                    self.settle(pos, outcome);
                }
            }
            Op::Cancel { .. } | Op::Poll { .. } | Op::Timer { .. } => {}
        }
    }

    fn check(&self) {
        let s = self.queue.snapshot();
        assert!(
            s.in_flight <= self.concurrency,
            "in flight {} > {}",
            s.in_flight,
            self.concurrency
        );
        assert!(s.waiting.total() <= s.capacity);
        if s.waiting.total() > 0 {
            assert_eq!(
                s.in_flight, self.concurrency,
                "a slot is idle while tickets wait"
            );
        }
        assert_eq!(
            s.in_flight,
            self.held.len() + s.in_handoff,
            "permits out of step"
        );
        let accounted = s.admitted
            + s.rejected_full
            + s.rejected_unmeetable
            + s.expired
            + s.cancelled
            + s.waiting.total() as u64
            + s.in_handoff as u64;
        assert_eq!(s.submitted, accounted, "{s:?}");
        assert_eq!(s.submitted, self.next_ticket);
        assert!(self.ends.keys().all(|t| self.enqueued.contains(t)));
    }

    /// Stops arrivals and runs until every ticket has ended.
    fn drain(&mut self) {
        for _ in 0..10_000 {
            if self.outstanding.is_empty() && self.held.is_empty() {
                return;
            }
            for pos in (0..self.outstanding.len()).rev() {
                self.poll(pos);
            }
            while !self.held.is_empty() {
                self.release(0);
                self.check();
            }
            self.now += AGING;
        }
        panic!("queue did not drain: {:?}", self.queue.snapshot());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// No ticket is lost or duplicated, every admitted ticket was enqueued, in-flight
    /// never exceeds concurrency, no slot idles while tickets wait, and once arrivals
    /// stop every waiter ends.
    #[test]
    fn every_ticket_ends_exactly_once(
        concurrency in 1..5usize,
        capacity in 0..12usize,
        ops in prop::collection::vec(op(), 1..300),
    ) {
        let mut model = Model::new(concurrency, capacity);
        for op in &ops {
            model.apply(op);
            model.check();
        }
        model.drain();
        model.check();
        prop_assert_eq!(model.ends.len() as u64, model.next_ticket);
        let s = model.queue.snapshot();
        let count = |end| model.ends.values().filter(|e| **e == end).count() as u64;
        prop_assert_eq!(count(End::Admitted), s.admitted);
        prop_assert_eq!(count(End::Expired), s.expired);
        prop_assert_eq!(count(End::Cancelled), s.cancelled);
        prop_assert_eq!(count(End::Rejected), s.rejected_full + s.rejected_unmeetable);
        prop_assert_eq!((s.in_flight, s.in_handoff, s.waiting.total()), (0, 0, 0));
    }

    /// Under a steady flood of every class from every tenant, a `low` waiter becomes
    /// `critical` after three aging periods and is then admitted within one aging
    /// turn (at least one dispatch in `STRICT_TURNS + 1`) per waiter older than
    /// itself.
    #[test]
    fn aging_admits_a_low_waiter_under_a_flood(
        backlog in prop::collection::vec((0..TENANTS, 0..4usize), 0..30),
        flood in prop::collection::vec(prop::collection::vec((0..TENANTS, 0..4usize), 0..3), 0..200),
        tenant in 0..TENANTS,
    ) {
        let mut model = Model::new(1, 10_000);
        model.enqueue(0, 2, None, true);
        for &(t, class) in &backlog {
            model.enqueue(t, class, None, true);
        }
        let tracked = model.enqueue(tenant, Priority::Low.index(), None, true);
        let older = backlog.len() + 1;
        // Steps of a quarter period: critical from step 12 on, then an aging turn at
        // least every `STRICT_TURNS + 1` steps.
        let turn = STRICT_TURNS as usize + 1;
        let bound = 12 + turn * (older + 1) + STRICT_TURNS as usize;
        let mut step = 0;
        while !model.ends.contains_key(&tracked) {
            step += 1;
            prop_assert!(step <= bound, "admitted only after step {}; bound {}", step, bound);
            for &(t, class) in flood.get(step - 1).map(Vec::as_slice).unwrap_or_default() {
                model.enqueue(t, class, None, true);
            }
            model.now += AGING / 4;
            model.release(0);
            model.check();
        }
        prop_assert_eq!(model.ends[&tracked], End::Admitted);
    }
}
