//! Which waiter a free permit goes to.
//!
//! The rule, at instant `now`:
//!
//! 1. **Strict turns and aging turns.** A dispatch that follows [`STRICT_TURNS`]
//!    dispatches in a row none of which went to a promoted waiter (see 2) is an
//!    **aging turn**; every other dispatch is a **strict turn**. So promoted waiters
//!    get at most one dispatch in four, and at least one in four while any waits.
//! 2. **Effective class.** In a strict turn, the class a waiter asked for. In an
//!    aging turn, a waiter that asked for class `c` and has waited `w` has effective
//!    class `c` promoted by `floor(w / aging)` ranks, stopping at `critical` (a `low`
//!    waiter is `normal` after one period, `critical` after three); it is *promoted*
//!    if that is better than `c`.
//! 3. **Best class first.** Only waiters whose effective class is the best present
//!    are candidates.
//! 4. In a strict turn, **tenants take turns**: among the tenants that have a
//!    candidate, the one served least recently goes first. Tenants with waiters stand
//!    in a turn order: a tenant joins at the back with its first waiter (while it had
//!    none) and goes to the back each time one of its waiters is chosen. So a burst
//!    from one tenant alternates with every other tenant of the same class instead of
//!    running ahead of them, and a tenant that left and came back waits for those
//!    already in line. Among the chosen tenant's candidates, the one that has waited
//!    longest (FIFO within a class).
//! 5. In an aging turn, **the candidate that has waited longest**, whatever its
//!    tenant (its tenant still goes to the back of the turn order), if it is
//!    promoted. If it is not, nobody needs aging: the dispatch is a strict turn.
//!
//! Aging ends starvation: a waiter is `critical` after three periods and then waits
//! for at most the waiters older than itself, one per aging turn. And however long
//! waits grow (seconds, behind a slow upstream), a higher class keeps at least three
//! dispatches in four, so aging cannot erase the classes.
//!
//! A waiter whose deadline has passed is never chosen: it is taken out of the queue
//! (and woken to learn it expired) when choosing meets it.
//!
//! Cost: the best class and the oldest candidate come from the oldest waiter of each
//! class (the front of a per-class arrival list: four looks); in a strict turn,
//! tenants are then visited in turn order until one has a candidate of that class,
//! usually the first one visited. Only the head of each (tenant, class) FIFO can be a
//! candidate: being the oldest, its effective class is at least as good as that of
//! any waiter behind it.

use std::time::Instant;

use super::tenants::is_live;
use super::{CLASSES, Queue, STRICT_TURNS, SlotState, WaiterId, Woken, nanos_since};
use crate::Priority;

/// The oldest waiter of a class.
#[derive(Clone, Copy)]
struct Front {
    seq: u64,
    tenant: u32,
    class: usize,
    id: WaiterId,
}

impl<W> Queue<W> {
    /// Takes the next waiter out of the queue and returns it with its effective class.
    /// Expired waiters met on the way leave the queue and go to `woken`.
    pub(super) fn select(
        &mut self,
        now: Instant,
        woken: &mut Woken<W>,
    ) -> Option<(WaiterId, Priority)> {
        let now = nanos_since(self.epoch, now);
        if self.strict_run >= STRICT_TURNS {
            let (best, oldest) = self.best_class(now, true, woken)?;
            if best < oldest.class {
                return Some(self.take(oldest.tenant, oldest.class, oldest.id, best));
            }
        }
        let (best, _) = self.best_class(now, false, woken)?;
        let mut cursor = self.turns.first;
        while let Some(tenant) = cursor {
            let queue = &self.tenants[tenant as usize];
            let next = queue.next;
            let Some(head) = queue.heads[best] else {
                cursor = next;
                continue;
            };
            if head.deadline > now {
                return Some(self.take(tenant, best, head.id, best));
            }
            self.expire_head(tenant, best, head.id, woken);
            // Look at the same tenant again unless that was its last waiter.
            if self.tenants[tenant as usize].live > 0 {
                continue;
            }
            cursor = next;
        }
        debug_assert!(
            false,
            "the oldest waiter of the best class is always a candidate"
        );
        None
    }

    /// Takes a chosen waiter out of the queue; `best` is the class it was chosen at.
    fn take(
        &mut self,
        tenant: u32,
        class: usize,
        id: WaiterId,
        best: usize,
    ) -> (WaiterId, Priority) {
        self.served(tenant);
        self.strict_run = if best < class {
            0
        } else {
            self.strict_run.saturating_add(1)
        };
        self.waiting[class] -= 1;
        self.unlink(tenant, class, id);
        (id, Priority::ALL[best])
    }

    /// The best effective class among waiters, and the oldest waiter of that class,
    /// from the oldest waiter of each class.
    fn best_class(
        &mut self,
        now: u64,
        aging: bool,
        woken: &mut Woken<W>,
    ) -> Option<(usize, Front)> {
        let mut best: Option<(usize, Front)> = None;
        for class in 0..CLASSES {
            if !aging && best.is_some() {
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
                let front = Front {
                    seq: waiter.seq,
                    tenant: waiter.tenant,
                    class,
                    id,
                };
                let enqueued = nanos_since(self.epoch, waiter.enqueued);
                if waiter
                    .deadline
                    .is_some_and(|d| nanos_since(self.epoch, d) <= now)
                {
                    // The oldest of its class is the head of its tenant's FIFO too.
                    self.expire_head(front.tenant, class, id, woken);
                    self.arrivals[class].pop_front();
                    continue;
                }
                let effective = self.effective(class, enqueued, now, aging);
                let better = best.is_none_or(|(b, oldest)| {
                    effective < b || (effective == b && front.seq < oldest.seq)
                });
                if better {
                    best = Some((effective, front));
                }
                break;
            }
        }
        best
    }

    /// A class after the promotions earned by waiting since `enqueued`, in an aging
    /// turn; the class itself otherwise.
    fn effective(&self, class: usize, enqueued: u64, now: u64, aging: bool) -> usize {
        if !aging {
            return class;
        }
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
