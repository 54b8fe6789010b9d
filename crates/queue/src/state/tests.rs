//! Order, deadlines, capacity and cancellation of the pure queue, with a hand-driven
//! clock.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Enqueued, Outcome, Queue, WaiterId, Woken};
use crate::{Priority, QueueConfig, Rejected, Ticket};

const AGING: Duration = Duration::from_secs(1);
const SERVICE: Duration = Duration::from_millis(100);

/// A queue whose waiters carry a label, with a clock moved by hand.
struct Harness {
    queue: Queue<&'static str>,
    now: Instant,
    ids: Vec<(&'static str, WaiterId)>,
}

impl Harness {
    fn new(concurrency: usize, capacity: usize) -> Harness {
        let config = QueueConfig {
            concurrency,
            capacity,
            aging: AGING,
            initial_service_time: SERVICE,
        };
        Harness {
            queue: Queue::new(&config),
            now: Instant::now(),
            ids: Vec::new(),
        }
    }

    fn ticket(tenant: &str, priority: Priority) -> Ticket {
        Ticket {
            tenant: Arc::from(tenant),
            priority,
            deadline: None,
        }
    }

    /// Fills every slot so that what follows waits.
    fn saturate(&mut self) {
        for _ in 0..self.queue.concurrency {
            assert_eq!(
                self.queue
                    .enqueue(&Self::ticket("filler", Priority::Normal), self.now),
                Enqueued::Admitted
            );
        }
    }

    /// Queues a ticket labelled `label`, registering the label as its payload.
    fn wait(&mut self, label: &'static str, tenant: &str, priority: Priority) -> WaiterId {
        self.wait_ticket(label, Self::ticket(tenant, priority))
    }

    fn wait_ticket(&mut self, label: &'static str, ticket: Ticket) -> WaiterId {
        let Enqueued::Queued(id) = self.queue.enqueue(&ticket, self.now) else {
            panic!("{label} should queue")
        };
        assert_eq!(
            self.queue.poll(id, self.now, |slot| *slot = Some(label)),
            Outcome::Pending
        );
        self.ids.push((label, id));
        id
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
    }

    /// Releases one permit; returns the labels woken and picks up the granted ones.
    fn release(&mut self) -> Vec<&'static str> {
        let mut woken = Woken::default();
        self.queue.release(SERVICE, self.now, &mut woken);
        self.collect(woken)
    }

    fn collect(&mut self, woken: Woken<&'static str>) -> Vec<&'static str> {
        let mut labels = Vec::new();
        woken.for_each(|label| labels.push(label));
        for label in &labels {
            let id = self.id(label);
            let outcome = self.queue.poll(id, self.now, |_| {
                panic!("{label} was woken, so not waiting")
            });
            assert_ne!(outcome, Outcome::Pending);
        }
        labels
    }

    fn id(&self, label: &str) -> WaiterId {
        self.ids
            .iter()
            .find(|(l, _)| *l == label)
            .map(|(_, id)| *id)
            .expect("known label")
    }

    /// Releases until nobody waits; the order in which waiters were admitted.
    fn drain(&mut self) -> Vec<&'static str> {
        let mut order = Vec::new();
        while self.queue.live_waiters() > 0 {
            order.extend(self.release());
        }
        order
    }
}

#[test]
fn free_slot_admits_at_once_and_full_slots_queue() {
    let mut h = Harness::new(2, 10);
    let t = Harness::ticket("a", Priority::Low);
    assert_eq!(h.queue.enqueue(&t, h.now), Enqueued::Admitted);
    assert_eq!(h.queue.enqueue(&t, h.now), Enqueued::Admitted);
    assert!(matches!(h.queue.enqueue(&t, h.now), Enqueued::Queued(_)));
    let s = h.queue.snapshot();
    assert_eq!((s.in_flight, s.waiting.low, s.admitted), (2, 1, 2));
}

#[test]
fn higher_classes_are_served_first() {
    let mut h = Harness::new(1, 10);
    h.saturate();
    h.wait("low", "a", Priority::Low);
    h.wait("normal", "a", Priority::Normal);
    h.wait("high", "a", Priority::High);
    h.wait("critical", "a", Priority::Critical);
    assert_eq!(h.drain(), ["critical", "high", "normal", "low"]);
}

#[test]
fn one_tenant_is_fifo_within_a_class() {
    let mut h = Harness::new(1, 10);
    h.saturate();
    for label in ["n1", "n2", "n3", "n4"] {
        h.wait(label, "a", Priority::Normal);
    }
    assert_eq!(h.drain(), ["n1", "n2", "n3", "n4"]);
}

#[test]
fn tenants_take_turns_within_a_class() {
    let mut h = Harness::new(1, 20);
    h.saturate();
    for label in ["a1", "a2", "a3", "a4", "a5"] {
        h.wait(label, "a", Priority::Normal);
    }
    h.wait("b1", "b", Priority::Normal);
    h.wait("b2", "b", Priority::Normal);
    h.wait("c1", "c", Priority::Normal);
    assert_eq!(h.drain(), ["a1", "b1", "c1", "a2", "b2", "a3", "a4", "a5"]);
}

#[test]
fn a_tenant_that_comes_back_joins_the_back_of_the_rotation() {
    let mut h = Harness::new(1, 20);
    h.saturate();
    h.wait("a1", "a", Priority::Normal);
    h.wait("b1", "b", Priority::Normal);
    h.wait("b2", "b", Priority::Normal);
    assert_eq!(h.release(), ["a1"]);
    // `a` had no waiter left; coming back it follows `b`, which has waited since.
    h.wait("a2", "a", Priority::Normal);
    assert_eq!(h.drain(), ["b1", "a2", "b2"]);
}

#[test]
fn being_served_in_a_higher_class_uses_up_a_turn() {
    let mut h = Harness::new(1, 20);
    h.saturate();
    h.wait("a-normal", "a", Priority::Normal);
    h.wait("b-normal", "b", Priority::Normal);
    h.wait("b-high", "b", Priority::High);
    // `b` is served for its high waiter first, so `a` has the older turn in normal.
    assert_eq!(h.drain(), ["b-high", "a-normal", "b-normal"]);
}

#[test]
fn aging_promotes_one_class_per_period() {
    let mut h = Harness::new(1, 20);
    h.saturate();
    h.wait("low", "a", Priority::Low);
    h.advance(AGING - Duration::from_nanos(1));
    h.wait("normal", "a", Priority::Normal);
    // Not yet a full period: `low` is still low.
    assert_eq!(h.release(), ["normal"]);

    h.wait("normal2", "a", Priority::Normal);
    h.advance(Duration::from_nanos(1));
    // One period: `low` is effectively normal and older than `normal2`.
    assert_eq!(h.release(), ["low"]);
    assert_eq!(h.release(), ["normal2"]);
}

#[test]
fn low_reaches_critical_after_three_periods() {
    let mut h = Harness::new(1, 20);
    h.saturate();
    h.wait("low", "a", Priority::Low);
    h.advance(AGING * 3);
    h.wait("critical", "b", Priority::Critical);
    // Same effective class; `a` joined the rotation first.
    assert_eq!(h.drain(), ["low", "critical"]);
}

#[test]
fn long_waits_keep_three_dispatches_in_four_in_class_order() {
    let mut h = Harness::new(1, 20);
    h.saturate();
    for label in ["low1", "low2", "low3", "low4"] {
        h.wait(label, "a", Priority::Low);
    }
    for label in ["high1", "high2", "high3", "high4"] {
        h.wait(label, "b", Priority::High);
    }
    // Everybody is `critical` by aging now, which alone would serve in arrival order.
    h.advance(AGING * 10);
    assert_eq!(
        h.drain(),
        [
            "low1", "high1", "high2", "high3", "low2", "high4", "low3", "low4"
        ]
    );
}

#[test]
fn promoted_waiter_reports_the_class_it_reached() {
    let mut h = Harness::new(1, 20);
    h.saturate();
    let id = h.wait("low", "a", Priority::Low);
    h.advance(AGING * 2);
    let mut woken = Woken::default();
    h.queue.release(SERVICE, h.now, &mut woken);
    let Outcome::Admitted(admission) = h.queue.poll(id, h.now, |_| {}) else {
        panic!("admitted")
    };
    assert_eq!(admission.priority, Priority::Low);
    assert_eq!(admission.admitted_as, Priority::High);
    assert_eq!(admission.waited, AGING * 2);
    assert_eq!(admission.dispatched_at, h.now);
}

#[test]
fn full_queue_rejects_with_an_estimate() {
    let mut h = Harness::new(2, 3);
    h.saturate();
    h.wait("n1", "a", Priority::Normal);
    h.wait("n2", "a", Priority::Normal);
    h.wait("l1", "a", Priority::Low);
    let refused = h
        .queue
        .enqueue(&Harness::ticket("b", Priority::Normal), h.now);
    // Two normal waiters ahead plus itself, two at a time, 100 ms each.
    assert_eq!(
        refused,
        Enqueued::Rejected(Rejected::Full {
            retry_after: Duration::from_millis(150)
        })
    );
    assert_eq!(h.queue.snapshot().rejected_full, 1);
}

#[test]
fn zero_capacity_admits_or_refuses() {
    let mut h = Harness::new(1, 0);
    h.saturate();
    let refused = h
        .queue
        .enqueue(&Harness::ticket("a", Priority::Critical), h.now);
    assert!(matches!(refused, Enqueued::Rejected(Rejected::Full { .. })));
}

#[test]
fn unmeetable_deadline_is_refused_at_enqueue() {
    let mut h = Harness::new(1, 10);
    h.saturate();
    h.wait("n1", "a", Priority::Normal);
    h.wait("n2", "a", Priority::Normal);
    let ticket =
        Harness::ticket("b", Priority::Normal).with_deadline(h.now + Duration::from_millis(250));
    let refused = h.queue.enqueue(&ticket, h.now);
    assert_eq!(
        refused,
        Enqueued::Rejected(Rejected::DeadlineUnmeetable {
            retry_after: Duration::from_millis(300)
        })
    );
    // A critical ticket has nobody ahead: 100 ms fits in 250 ms.
    let critical =
        Harness::ticket("b", Priority::Critical).with_deadline(h.now + Duration::from_millis(250));
    assert!(matches!(
        h.queue.enqueue(&critical, h.now),
        Enqueued::Queued(_)
    ));
    assert_eq!(h.queue.snapshot().rejected_unmeetable, 1);
}

#[test]
fn deadline_already_past_is_refused_even_with_a_free_slot() {
    let mut h = Harness::new(1, 10);
    let ticket = Harness::ticket("a", Priority::High).with_deadline(h.now);
    let refused = h.queue.enqueue(&ticket, h.now);
    assert_eq!(
        refused,
        Enqueued::Rejected(Rejected::DeadlineExpired {
            retry_after: Duration::ZERO
        })
    );
    assert_eq!(h.queue.snapshot().in_flight, 0);
}

#[test]
fn expired_head_is_skipped_and_woken_at_dispatch() {
    let mut h = Harness::new(1, 10);
    h.saturate();
    let deadline = h.now + Duration::from_millis(500);
    h.wait_ticket(
        "hurried",
        Harness::ticket("a", Priority::Critical).with_deadline(deadline),
    );
    h.wait("patient", "b", Priority::Low);
    h.advance(Duration::from_millis(500));
    // Both are woken: the expired one to learn it, the next one with the permit.
    assert_eq!(h.release(), ["hurried", "patient"]);
    let s = h.queue.snapshot();
    assert_eq!((s.expired, s.admitted_after_wait, s.in_flight), (1, 1, 1));
}

#[test]
fn deadline_timer_removes_a_waiter_from_the_middle() {
    let mut h = Harness::new(1, 10);
    h.saturate();
    h.wait("first", "a", Priority::Normal);
    let deadline = h.now + Duration::from_millis(500);
    let id = h.wait_ticket(
        "timed",
        Harness::ticket("a", Priority::Normal).with_deadline(deadline),
    );
    h.wait("last", "a", Priority::Normal);
    h.advance(Duration::from_millis(500));
    let Outcome::Expired(retry_after) = h.queue.expire(id, h.now) else {
        panic!("should expire")
    };
    // Two normal waiters remain ahead of a new one: (2 + 1) × 100 ms.
    assert_eq!(retry_after, Duration::from_millis(300));
    assert_eq!(h.drain(), ["first", "last"]);
    assert_eq!(h.queue.snapshot().expired, 1);
}

#[test]
fn timer_after_grant_keeps_the_permit() {
    let mut h = Harness::new(1, 10);
    h.saturate();
    let deadline = h.now + Duration::from_millis(200);
    let Enqueued::Queued(id) = h.queue.enqueue(
        &Harness::ticket("a", Priority::Low).with_deadline(deadline),
        h.now,
    ) else {
        panic!("queued")
    };
    let mut woken = Woken::default();
    h.queue.release(SERVICE, h.now, &mut woken);
    h.advance(Duration::from_millis(200));
    assert!(matches!(h.queue.expire(id, h.now), Outcome::Admitted(_)));
    let s = h.queue.snapshot();
    assert_eq!(
        (s.expired, s.admitted_after_wait, s.in_flight, s.in_handoff),
        (0, 1, 1, 0)
    );
}

#[test]
fn cancelled_waiter_leaves_the_queue() {
    let mut h = Harness::new(1, 10);
    h.saturate();
    h.wait("a1", "a", Priority::Normal);
    let gone = h.wait("a2", "a", Priority::Normal);
    h.wait("a3", "a", Priority::Normal);
    let mut woken = Woken::default();
    h.queue.cancel(gone, h.now, &mut woken);
    assert!(h.collect(woken).is_empty());
    assert_eq!(h.drain(), ["a1", "a3"]);
    let s = h.queue.snapshot();
    assert_eq!((s.cancelled, s.admitted_after_wait), (1, 2));
}

#[test]
fn cancelling_a_granted_waiter_passes_the_slot_on() {
    let mut h = Harness::new(1, 10);
    h.saturate();
    let first = h.wait("first", "a", Priority::High);
    h.wait("second", "b", Priority::Low);
    let mut woken = Woken::default();
    h.queue.release(SERVICE, h.now, &mut woken);
    let mut labels = Vec::new();
    woken.for_each(|l| labels.push(l));
    assert_eq!(labels, ["first"]);
    assert_eq!(h.queue.snapshot().in_handoff, 1);
    // `first` went away before picking its permit up.
    let mut woken = Woken::default();
    h.queue.cancel(first, h.now, &mut woken);
    assert_eq!(h.collect(woken), ["second"]);
    let s = h.queue.snapshot();
    assert_eq!(
        (
            s.cancelled,
            s.admitted_after_wait,
            s.in_flight,
            s.in_handoff
        ),
        (1, 1, 1, 0)
    );
}

#[test]
fn stale_ids_do_nothing() {
    let mut h = Harness::new(1, 10);
    h.saturate();
    let id = h.wait("a", "a", Priority::Normal);
    let mut woken = Woken::default();
    h.queue.cancel(id, h.now, &mut woken);
    h.queue.cancel(id, h.now, &mut woken);
    assert_eq!(
        h.queue.poll(id, h.now, |_| panic!("not waiting")),
        Outcome::Expired(Duration::ZERO)
    );
    let s = h.queue.snapshot();
    assert_eq!((s.cancelled, s.expired), (1, 0));
}

#[test]
fn service_time_follows_hold_times() {
    let mut h = Harness::new(1, 10);
    assert_eq!(h.queue.snapshot().service_time, SERVICE);
    h.saturate();
    let mut woken = Woken::default();
    h.queue
        .release(Duration::from_millis(800), h.now, &mut woken);
    // The first observation replaces the initial guess.
    assert_eq!(h.queue.snapshot().service_time, Duration::from_millis(800));
    h.saturate();
    h.queue.release(Duration::ZERO, h.now, &mut woken);
    assert_eq!(h.queue.snapshot().service_time, Duration::from_millis(700));
}

#[test]
fn slots_and_tenants_are_reused() {
    let mut h = Harness::new(1, 10);
    h.saturate();
    for round in 0..1000 {
        let tenant = if round % 2 == 0 { "a" } else { "b" };
        let id = h.wait("w", tenant, Priority::ALL[round % 4]);
        h.ids.clear();
        let mut woken = Woken::default();
        h.queue.cancel(id, h.now, &mut woken);
    }
    assert_eq!(h.queue.slots.len(), 1);
    assert_eq!(h.queue.tenants.len(), 1);
    assert!(h.queue.turns.first.is_none() && h.queue.tenant_ids.is_empty());
}

#[test]
fn stale_ids_behind_a_waiting_head_are_compacted() {
    let mut h = Harness::new(1, 10);
    h.saturate();
    h.wait("oldest", "a", Priority::Normal);
    for _ in 0..1000 {
        let id = h.wait("passing", "a", Priority::Normal);
        h.ids.pop();
        let mut woken = Woken::default();
        h.queue.cancel(id, h.now, &mut woken);
    }
    let tenant = h.queue.tenant_ids[&Arc::<str>::from("a")] as usize;
    let normal = Priority::Normal.index();
    assert!(h.queue.tenants[tenant].fifo_len(normal) <= 2 + 32 + 1);
    assert!(h.queue.arrivals[normal].len() <= 2 + 32 + 1);
    assert_eq!(h.drain(), ["oldest"]);
}
