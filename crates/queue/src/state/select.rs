//! Which waiter a free permit goes to.
//!
//! The rule, at instant `now`:
//!
//! 1. **Effective class.** A waiter that asked for class `c` and has waited `w` has
//!    effective class `c` promoted by `floor(w / aging)` ranks, stopping at
//!    `critical` (a `low` waiter is `normal` after one period, `critical` after three).
//! 2. **Best class first.** Only waiters whose effective class is the best present
//!    are candidates.
//! 3. **Tenants take turns.** Among the tenants that have a candidate, the one served
//!    least recently goes first. Tenants with waiters stand in a turn order: a tenant
//!    joins at the back with its first waiter (while it had none) and goes to the back
//!    each time one of its waiters is chosen. So a burst from one tenant alternates
//!    with every other tenant of the same class instead of running ahead of them, and a
//!    tenant that left and came back waits for those already in line.
//! 4. **Oldest first within the tenant.** Among the chosen tenant's candidates, the
//!    one that has waited longest (earliest enqueue). Within one class this is plain
//!    FIFO; across classes it puts a promoted waiter ahead of younger native ones.
//!
//! A waiter whose deadline has passed is never chosen: it is taken out of the queue
//! (and woken to learn it expired) when choosing meets it.
//!
//! Cost: the best class comes from the oldest waiter of each class (the front of a
//! per-class arrival list: four looks); then tenants are visited in turn order until
//! one has a candidate of that class, usually the first one visited. Only the head of
//! each (tenant, class) FIFO can be a candidate: being the oldest, its effective class
//! is at least as good as that of any waiter behind it.

use std::time::Instant;

use super::tenants::is_live;
use super::{CLASSES, Queue, SlotState, WaiterId, Woken, nanos_since};
use crate::Priority;

impl<W> Queue<W> {
    /// Takes the next waiter out of the queue and returns it with its effective class.
    /// Expired waiters met on the way leave the queue and go to `woken`.
    pub(super) fn select(
        &mut self,
        now: Instant,
        woken: &mut Woken<W>,
    ) -> Option<(WaiterId, Priority)> {
        let now = nanos_since(self.epoch, now);
        let best = self.best_class(now, woken)?;
        let mut cursor = self.turns.first;
        while let Some(tenant) = cursor {
            let queue = &self.tenants[tenant as usize];
            let next = queue.next;
            let mut pick: Option<(u64, usize, WaiterId)> = None;
            let mut expired = None;
            for class in best..CLASSES {
                let Some(head) = queue.heads[class] else {
                    continue;
                };
                if head.deadline <= now {
                    expired = Some((class, head.id));
                    break;
                }
                let effective = self.effective(class, head.enqueued, now);
                if effective == best && pick.is_none_or(|(seq, ..)| head.seq < seq) {
                    pick = Some((head.seq, class, head.id));
                }
            }
            if let Some((class, id)) = expired {
                self.expire_head(tenant, class, id, woken);
                // Look at the same tenant again unless that was its last waiter.
                if self.tenants[tenant as usize].live == 0 {
                    cursor = next;
                }
                continue;
            }
            if let Some((_, class, id)) = pick {
                self.served(tenant);
                self.waiting[class] -= 1;
                self.unlink(tenant, class, id);
                return Some((id, Priority::ALL[best]));
            }
            cursor = next;
        }
        debug_assert!(
            false,
            "the oldest waiter of the best class is always a candidate"
        );
        None
    }

    /// The best effective class among waiters, from the oldest waiter of each class.
    fn best_class(&mut self, now: u64, woken: &mut Woken<W>) -> Option<usize> {
        let mut best = None;
        for class in 0..CLASSES {
            if best == Some(0) {
                break;
            }
            while self.waiting[class] > 0 {
                let Some(&id) = self.arrivals[class].front() else {
                    break;
                };
                if !is_live(&self.slots, id) {
                    self.arrivals[class].pop_front();
                    continue;
                }
                let SlotState::Waiting(waiter) = &self.slots[id.index as usize].state else {
                    unreachable!("is_live checked the state");
                };
                let tenant = waiter.tenant;
                let enqueued = nanos_since(self.epoch, waiter.enqueued);
                if waiter
                    .deadline
                    .is_some_and(|d| nanos_since(self.epoch, d) <= now)
                {
                    // The oldest of its class is the head of its tenant's FIFO too.
                    self.expire_head(tenant, class, id, woken);
                    self.arrivals[class].pop_front();
                    continue;
                }
                let effective = self.effective(class, enqueued, now);
                best = Some(best.map_or(effective, |b: usize| b.min(effective)));
                break;
            }
        }
        best
    }

    /// A class after the promotions earned by waiting since `enqueued`.
    fn effective(&self, class: usize, enqueued: u64, now: u64) -> usize {
        let waited = now.saturating_sub(enqueued);
        let [one, two, three] = self.promotion_after;
        let steps =
            usize::from(waited >= one) + usize::from(waited >= two) + usize::from(waited >= three);
        class.saturating_sub(steps)
    }

    /// Takes a head whose deadline has passed out of the queue, waking its waiter to
    /// learn it.
    fn expire_head(&mut self, tenant: u32, class: usize, id: WaiterId, woken: &mut Woken<W>) {
        let SlotState::Waiting(waiter) = &mut self.slots[id.index as usize].state else {
            unreachable!("heads are live waiters");
        };
        let payload = waiter.payload.take();
        self.waiting[class] -= 1;
        self.unlink(tenant, class, id);
        self.counters.expired += 1;
        let retry_after = self.estimated_wait(Priority::ALL[class]);
        self.slots[id.index as usize].state = SlotState::Expired(retry_after);
        if let Some(payload) = payload {
            woken.push(payload);
        }
    }
}
