//! The queue's logic without locks, clocks or futures.
//!
//! Every method takes the current instant as an argument, so tests drive time by
//! hand; the scheduler wraps one `Queue` in a mutex and passes `Instant::now()`.
//! Each waiter carries a payload `W` (the scheduler stores its task's waker there)
//! that is handed back in a [`Woken`] when the waiter must look at its slot again.
//!
//! Waiters live in a slab of slots that is reused; each (tenant, class) pair has a
//! FIFO of slot ids (see `tenants`), and each class an arrival list of them. A waiter
//! that leaves from the middle of one (cancelled, or its deadline timer fired) leaves a
//! stale id behind, dropped when it reaches the front or when stale ids outnumber live
//! ones: removal stays O(1) amortised and nothing is allocated per waiter once the
//! slab and lists have grown.

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod reference;
mod select;
mod tenants;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tenants::{Head, TenantQueue, Turns, compact};

use crate::{PerClass, Priority, QueueConfig, QueueSnapshot, Rejected, Ticket};

const CLASSES: usize = Priority::ALL.len();

/// Dispatches that follow native class order before one may go to a waiter promoted
/// by aging: promoted waiters get at most one dispatch in `STRICT_TURNS + 1`, so aging
/// ends starvation without letting long waits erase the classes.
pub(crate) const STRICT_TURNS: u32 = 3;

/// A new hold time weighs 1/8 in the service-time average (as TCP's smoothed RTT):
/// smooth enough to ignore one slow call, quick enough to follow a slower upstream.
const EWMA_SHIFT: u32 = 3;

/// Names one waiter; stale once the waiter is gone (the slot's generation moved on).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct WaiterId {
    index: u32,
    generation: u32,
}

/// What `enqueue` decided.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Enqueued {
    /// A slot was free and nobody waited: the ticket holds a permit now.
    Admitted,
    /// The ticket waits under this id.
    Queued(WaiterId),
    /// The ticket was turned away.
    Rejected(Rejected),
}

/// A permit handed to a waiter by a release, not yet picked up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Grant {
    priority: Priority,
    admitted_as: Priority,
    enqueued: Instant,
    dispatched_at: Instant,
}

/// A permit picked up by its waiter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Admission {
    /// Class the ticket asked for.
    pub(crate) priority: Priority,
    /// Class it had reached through aging when it was chosen.
    pub(crate) admitted_as: Priority,
    /// Time from enqueue to pick-up.
    pub(crate) waited: Duration,
    /// When the release that freed the slot handed it over.
    pub(crate) dispatched_at: Instant,
    /// When the waiter picked the permit up.
    pub(crate) admitted_at: Instant,
}

/// Where a waiter stands when it looks at its slot.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Still waiting.
    Pending,
    /// Holds a permit now.
    Admitted(Admission),
    /// Left because its deadline passed; the retry-after estimate.
    Expired(Duration),
}

/// Payloads of waiters to wake, kept inline for the usual single one.
#[derive(Debug)]
pub(crate) struct Woken<W> {
    first: Option<W>,
    rest: Vec<W>,
}

impl<W> Default for Woken<W> {
    fn default() -> Self {
        Woken {
            first: None,
            rest: Vec::new(),
        }
    }
}

impl<W> Woken<W> {
    fn push(&mut self, payload: W) {
        if self.first.is_none() {
            self.first = Some(payload);
        } else {
            self.rest.push(payload);
        }
    }

    /// Hands every payload to `f`, in the order they were woken.
    pub(crate) fn for_each(self, mut f: impl FnMut(W)) {
        self.first.into_iter().chain(self.rest).for_each(&mut f);
    }
}

struct Waiter<W> {
    tenant: u32,
    priority: Priority,
    enqueued: Instant,
    deadline: Option<Instant>,
    seq: u64,
    payload: Option<W>,
}

enum SlotState<W> {
    Free,
    Waiting(Waiter<W>),
    Granted(Grant),
    Expired(Duration),
}

struct Slot<W> {
    generation: u32,
    state: SlotState<W>,
}

#[derive(Clone, Copy, Debug, Default)]
struct Counters {
    submitted: u64,
    admitted: u64,
    admitted_after_wait: u64,
    rejected_full: u64,
    rejected_unmeetable: u64,
    expired: u64,
    cancelled: u64,
}

/// The admission queue of one upstream.
pub(crate) struct Queue<W> {
    concurrency: usize,
    capacity: usize,
    /// Origin of the nanosecond clock that heads use.
    epoch: Instant,
    /// Waits, in nanoseconds, after which a waiter has climbed 1, 2 and 3 ranks.
    promotion_after: [u64; CLASSES - 1],
    /// Dispatches since the last one that went to a promoted waiter.
    strict_run: u32,
    service_nanos: u64,
    service_observed: bool,
    in_flight: usize,
    in_handoff: usize,
    waiting: [usize; CLASSES],
    slots: Vec<Slot<W>>,
    free_slots: Vec<u32>,
    tenants: Vec<TenantQueue>,
    free_tenants: Vec<u32>,
    tenant_ids: HashMap<Arc<str>, u32>,
    /// Tenants with waiters, in the order they take turns.
    turns: Turns,
    /// Waiter ids of each class in arrival order (with stale ones): the live front is
    /// the oldest waiter of the class.
    arrivals: [VecDeque<WaiterId>; CLASSES],
    next_seq: u64,
    counters: Counters,
}

impl<W> Queue<W> {
    /// An empty queue; `config` must have passed [`QueueConfig::validate`].
    pub(crate) fn new(config: &QueueConfig) -> Queue<W> {
        Queue {
            concurrency: config.concurrency,
            capacity: config.capacity,
            epoch: Instant::now(),
            promotion_after: [1, 2, 3].map(|k| duration_nanos(config.aging.saturating_mul(k))),
            strict_run: STRICT_TURNS,
            service_nanos: duration_nanos(config.initial_service_time),
            service_observed: false,
            in_flight: 0,
            in_handoff: 0,
            waiting: [0; CLASSES],
            slots: Vec::new(),
            free_slots: Vec::new(),
            tenants: Vec::new(),
            free_tenants: Vec::new(),
            tenant_ids: HashMap::new(),
            turns: Turns::default(),
            arrivals: Default::default(),
            next_seq: 0,
            counters: Counters::default(),
        }
    }

    /// Admits, queues or refuses a ticket.
    pub(crate) fn enqueue(&mut self, ticket: &Ticket, now: Instant) -> Enqueued {
        self.counters.submitted += 1;
        if ticket.deadline.is_some_and(|deadline| deadline <= now) {
            self.counters.expired += 1;
            return Enqueued::Rejected(Rejected::DeadlineExpired {
                retry_after: Duration::ZERO,
            });
        }
        if self.live_waiters() == 0 && self.in_flight < self.concurrency {
            self.in_flight += 1;
            self.counters.admitted += 1;
            return Enqueued::Admitted;
        }
        let estimate = self.estimated_wait(ticket.priority);
        if self.live_waiters() >= self.capacity {
            self.counters.rejected_full += 1;
            return Enqueued::Rejected(Rejected::Full {
                retry_after: estimate,
            });
        }
        if ticket
            .deadline
            .is_some_and(|deadline| now + estimate > deadline)
        {
            self.counters.rejected_unmeetable += 1;
            return Enqueued::Rejected(Rejected::DeadlineUnmeetable {
                retry_after: estimate,
            });
        }
        let class = ticket.priority.index();
        let seq = self.next_seq;
        self.next_seq += 1;
        let enqueued = self.nanos(now);
        let deadline = ticket.deadline.map(|d| self.nanos(d));
        let tenant = self.tenant_for(&ticket.tenant);
        let id = self.alloc_slot(SlotState::Waiting(Waiter {
            tenant,
            priority: ticket.priority,
            enqueued: now,
            deadline: ticket.deadline,
            seq,
            payload: None,
        }));
        self.push_waiter(tenant, class, Head::new(id, seq, enqueued, deadline));
        self.waiting[class] += 1;
        self.arrivals[class].push_back(id);
        compact(&mut self.arrivals[class], self.waiting[class], &self.slots);
        Enqueued::Queued(id)
    }

    /// A waiter looks at its slot: picks up its permit, learns it expired, or (still
    /// waiting) updates its payload through `register`.
    pub(crate) fn poll(
        &mut self,
        id: WaiterId,
        now: Instant,
        register: impl FnOnce(&mut Option<W>),
    ) -> Outcome {
        let Some(slot) = self.slot_mut(id) else {
            // Only a caller that polls again after the end gets here; say "expired"
            // rather than hand out a permit twice.
            return Outcome::Expired(Duration::ZERO);
        };
        match &mut slot.state {
            SlotState::Waiting(waiter) => {
                register(&mut waiter.payload);
                Outcome::Pending
            }
            SlotState::Granted(_) | SlotState::Expired(_) | SlotState::Free => self.finish(id, now),
        }
    }

    /// The waiter's deadline timer fired: it leaves unless a permit already reached it.
    pub(crate) fn expire(&mut self, id: WaiterId, now: Instant) -> Outcome {
        match self.slot_mut(id).map(|slot| &slot.state) {
            Some(SlotState::Waiting(_)) => {
                let priority = self.remove_waiting(id);
                self.counters.expired += 1;
                self.free_slot(id);
                Outcome::Expired(self.estimated_wait(priority))
            }
            _ => self.finish(id, now),
        }
    }

    /// The waiter is gone (its future was dropped). A permit already handed to it goes
    /// to the next waiter.
    pub(crate) fn cancel(&mut self, id: WaiterId, now: Instant, woken: &mut Woken<W>) {
        let Some(slot) = self.slot_mut(id) else {
            return;
        };
        match slot.state {
            SlotState::Waiting(_) => {
                self.remove_waiting(id);
                self.counters.cancelled += 1;
                self.free_slot(id);
            }
            SlotState::Granted(_) => {
                self.counters.cancelled += 1;
                self.in_handoff -= 1;
                self.in_flight -= 1;
                self.free_slot(id);
                self.dispatch(now, woken);
            }
            SlotState::Expired(_) => self.free_slot(id),
            SlotState::Free => {}
        }
    }

    /// A permit held for `held` is released; its slot goes to the next waiter.
    pub(crate) fn release(&mut self, held: Duration, now: Instant, woken: &mut Woken<W>) {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.observe_service_time(held);
        self.dispatch(now, woken);
    }

    /// Estimated wait of a new ticket of this class: the waiters of its class and
    /// above, plus itself, served `concurrency` at a time, each taking the average
    /// service time.
    pub(crate) fn estimated_wait(&self, priority: Priority) -> Duration {
        let ahead: usize = self.waiting[..=priority.index()].iter().sum();
        let nanos = u128::from(self.service_nanos) * (ahead as u128 + 1) / self.concurrency as u128;
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// Current state and counters.
    pub(crate) fn snapshot(&self) -> QueueSnapshot {
        let c = self.counters;
        QueueSnapshot {
            concurrency: self.concurrency,
            capacity: self.capacity,
            in_flight: self.in_flight,
            in_handoff: self.in_handoff,
            waiting: PerClass::from_array(self.waiting),
            submitted: c.submitted,
            admitted: c.admitted,
            admitted_after_wait: c.admitted_after_wait,
            rejected_full: c.rejected_full,
            rejected_unmeetable: c.rejected_unmeetable,
            expired: c.expired,
            cancelled: c.cancelled,
            service_time: Duration::from_nanos(self.service_nanos),
        }
    }

    fn live_waiters(&self) -> usize {
        self.waiting.iter().sum()
    }

    /// Hands free permits to the best waiters.
    fn dispatch(&mut self, now: Instant, woken: &mut Woken<W>) {
        while self.in_flight < self.concurrency {
            let Some((id, admitted_as)) = self.select(now, woken) else {
                break;
            };
            let slot = &mut self.slots[id.index as usize];
            let SlotState::Waiting(waiter) = std::mem::replace(&mut slot.state, SlotState::Free)
            else {
                unreachable!("select returns live waiters only");
            };
            slot.state = SlotState::Granted(Grant {
                priority: waiter.priority,
                admitted_as,
                enqueued: waiter.enqueued,
                dispatched_at: now,
            });
            self.in_flight += 1;
            self.in_handoff += 1;
            if let Some(payload) = waiter.payload {
                woken.push(payload);
            }
        }
    }

    /// Ends a granted or expired slot as its waiter learns the outcome.
    fn finish(&mut self, id: WaiterId, now: Instant) -> Outcome {
        let outcome = match self.slot_mut(id).map(|slot| &slot.state) {
            Some(SlotState::Granted(grant)) => {
                let grant = *grant;
                self.in_handoff -= 1;
                self.counters.admitted += 1;
                self.counters.admitted_after_wait += 1;
                Outcome::Admitted(Admission {
                    priority: grant.priority,
                    admitted_as: grant.admitted_as,
                    waited: now.saturating_duration_since(grant.enqueued),
                    dispatched_at: grant.dispatched_at,
                    admitted_at: now,
                })
            }
            Some(SlotState::Expired(retry_after)) => Outcome::Expired(*retry_after),
            _ => return Outcome::Expired(Duration::ZERO),
        };
        self.free_slot(id);
        outcome
    }

    fn observe_service_time(&mut self, held: Duration) {
        let held = duration_nanos(held);
        if self.service_observed {
            let delta = (i128::from(held) - i128::from(self.service_nanos)) >> EWMA_SHIFT;
            let next = i128::from(self.service_nanos) + delta;
            self.service_nanos = u64::try_from(next.max(0)).unwrap_or(u64::MAX);
        } else {
            self.service_nanos = held;
            self.service_observed = true;
        }
    }

    fn slot_mut(&mut self, id: WaiterId) -> Option<&mut Slot<W>> {
        self.slots
            .get_mut(id.index as usize)
            .filter(|slot| slot.generation == id.generation)
    }

    /// An instant on the nanosecond clock of heads (instants before the epoch are 0).
    fn nanos(&self, t: Instant) -> u64 {
        nanos_since(self.epoch, t)
    }

    fn alloc_slot(&mut self, state: SlotState<W>) -> WaiterId {
        if let Some(index) = self.free_slots.pop() {
            let slot = &mut self.slots[index as usize];
            slot.state = state;
            WaiterId {
                index,
                generation: slot.generation,
            }
        } else {
            let index = u32::try_from(self.slots.len()).expect("fewer than 2^32 waiters at once");
            self.slots.push(Slot {
                generation: 0,
                state,
            });
            WaiterId {
                index,
                generation: 0,
            }
        }
    }

    fn free_slot(&mut self, id: WaiterId) {
        let slot = &mut self.slots[id.index as usize];
        slot.state = SlotState::Free;
        slot.generation = slot.generation.wrapping_add(1);
        self.free_slots.push(id.index);
    }

    /// Takes a live waiter out of its tenant's FIFO and the counts, before its slot
    /// changes state.
    fn remove_waiting(&mut self, id: WaiterId) -> Priority {
        let SlotState::Waiting(waiter) = &self.slots[id.index as usize].state else {
            unreachable!("remove_waiting is called on live waiters only");
        };
        let (tenant, priority) = (waiter.tenant, waiter.priority);
        self.waiting[priority.index()] -= 1;
        self.unlink(tenant, priority.index(), id);
        priority
    }
}

fn nanos_since(epoch: Instant, t: Instant) -> u64 {
    duration_nanos(t.saturating_duration_since(epoch))
}

fn duration_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
