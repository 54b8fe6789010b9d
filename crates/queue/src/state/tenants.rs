//! Per-tenant FIFOs, one per class, the cached head of each, and the order in which
//! tenants take turns.
//!
//! Each tenant record keeps a copy of what choosing needs from the head of each of its
//! FIFOs (arrival, sequence, deadline, as plain nanoseconds), so that a choice reads
//! tenant records instead of one slab slot per FIFO. The copy is kept exact: a head
//! that leaves is replaced at once by the next live waiter behind it.
//!
//! Tenants with waiters form a list in turn order (intrusive, by index): a tenant joins
//! at the back and goes to the back each time it is served, so the front is the tenant
//! served least recently.

use std::collections::VecDeque;
use std::sync::Arc;

use super::{CLASSES, Queue, Slot, SlotState, WaiterId, nanos_since};

/// A FIFO is compacted once it holds this many more stale ids than twice its live ones.
const COMPACT_SLACK: usize = 32;

/// The first live waiter of one FIFO, as choosing needs it. Times are nanoseconds
/// since the queue's epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Head {
    pub(super) id: WaiterId,
    pub(super) seq: u64,
    pub(super) enqueued: u64,
    /// `u64::MAX` without a deadline.
    pub(super) deadline: u64,
}

impl Head {
    pub(super) fn new(id: WaiterId, seq: u64, enqueued: u64, deadline: Option<u64>) -> Head {
        Head {
            id,
            seq,
            enqueued,
            deadline: deadline.unwrap_or(u64::MAX),
        }
    }
}

/// One tenant's waiters. Kept only while it has waiters, so that a tenant that comes
/// back joins the turn order at the back.
pub(super) struct TenantQueue {
    name: Arc<str>,
    /// Waiter ids in arrival order; may hold stale ids behind the front.
    fifo: [VecDeque<WaiterId>; CLASSES],
    /// The live front of each FIFO, `None` when the class has no live waiter.
    pub(super) heads: [Option<Head>; CLASSES],
    live_in: [usize; CLASSES],
    pub(super) live: usize,
    /// Neighbours in turn order.
    prev: Option<u32>,
    pub(super) next: Option<u32>,
}

/// Both ends of the turn order.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Turns {
    pub(super) first: Option<u32>,
    last: Option<u32>,
}

/// True when `id` names a waiter that is still waiting.
pub(super) fn is_live<W>(slots: &[Slot<W>], id: WaiterId) -> bool {
    slots.get(id.index as usize).is_some_and(|slot| {
        slot.generation == id.generation && matches!(slot.state, SlotState::Waiting(_))
    })
}

/// Drops stale ids from a FIFO once they outnumber the live ones by far, so that
/// waiters leaving from the middle cannot grow it without bound.
pub(super) fn compact<W>(fifo: &mut VecDeque<WaiterId>, live: usize, slots: &[Slot<W>]) {
    if fifo.len() > 2 * live + COMPACT_SLACK {
        fifo.retain(|&id| is_live(slots, id));
    }
}

#[cfg(test)]
impl TenantQueue {
    pub(super) fn fifo_len(&self, class: usize) -> usize {
        self.fifo[class].len()
    }
}

impl<W> Queue<W> {
    /// Appends a new waiter (its slot already waiting) to its tenant's FIFO.
    pub(super) fn push_waiter(&mut self, tenant: u32, class: usize, head: Head) {
        let queue = &mut self.tenants[tenant as usize];
        queue.fifo[class].push_back(head.id);
        if queue.heads[class].is_none() {
            queue.heads[class] = Some(head);
        }
        queue.live_in[class] += 1;
        queue.live += 1;
        compact(&mut queue.fifo[class], queue.live_in[class], &self.slots);
    }

    /// The record of tenant `name`, which joins the turn order at the back if it had no
    /// waiter.
    pub(super) fn tenant_for(&mut self, name: &Arc<str>) -> u32 {
        if let Some(&index) = self.tenant_ids.get(name) {
            return index;
        }
        let index = if let Some(index) = self.free_tenants.pop() {
            self.tenants[index as usize].name = Arc::clone(name);
            index
        } else {
            let index = u32::try_from(self.tenants.len()).expect("fewer than 2^32 tenants");
            self.tenants.push(TenantQueue {
                name: Arc::clone(name),
                fifo: Default::default(),
                heads: [None; CLASSES],
                live_in: [0; CLASSES],
                live: 0,
                prev: None,
                next: None,
            });
            index
        };
        self.tenant_ids.insert(Arc::clone(name), index);
        self.push_turn(index);
        index
    }

    /// Takes live waiter `id` out of its tenant's FIFO `class` (called while its slot
    /// still says waiting). A waiter behind the front stays as a stale id.
    pub(super) fn unlink(&mut self, tenant: u32, class: usize, id: WaiterId) {
        let queue = &mut self.tenants[tenant as usize];
        queue.live_in[class] -= 1;
        queue.live -= 1;
        if queue.live == 0 {
            self.retire_tenant(tenant);
        } else if queue.heads[class].is_some_and(|head| head.id == id) {
            queue.fifo[class].pop_front();
            self.refresh_head(tenant, class);
        }
    }

    /// Sends a tenant that was just served to the back of the turn order.
    pub(super) fn served(&mut self, tenant: u32) {
        if self.turns.last != Some(tenant) {
            self.remove_turn(tenant);
            self.push_turn(tenant);
        }
    }

    /// Drops stale ids from the front of a FIFO and caches its new live front.
    fn refresh_head(&mut self, tenant: u32, class: usize) {
        let queue = &mut self.tenants[tenant as usize];
        while let Some(&id) = queue.fifo[class].front() {
            let slot = &self.slots[id.index as usize];
            if slot.generation == id.generation
                && let SlotState::Waiting(waiter) = &slot.state
            {
                let enqueued = nanos_since(self.epoch, waiter.enqueued);
                let deadline = waiter.deadline.map(|d| nanos_since(self.epoch, d));
                queue.heads[class] = Some(Head::new(id, waiter.seq, enqueued, deadline));
                return;
            }
            queue.fifo[class].pop_front();
        }
        queue.heads[class] = None;
    }

    /// Forgets a tenant without waiters; its FIFOs keep their memory for the next one.
    fn retire_tenant(&mut self, index: u32) {
        let queue = &mut self.tenants[index as usize];
        debug_assert_eq!(queue.live, 0);
        queue.fifo.iter_mut().for_each(VecDeque::clear);
        queue.heads = [None; CLASSES];
        queue.live_in = [0; CLASSES];
        self.tenant_ids.remove(&queue.name);
        self.remove_turn(index);
        self.free_tenants.push(index);
    }

    fn push_turn(&mut self, index: u32) {
        let last = self.turns.last;
        let queue = &mut self.tenants[index as usize];
        queue.prev = last;
        queue.next = None;
        match last {
            Some(last) => self.tenants[last as usize].next = Some(index),
            None => self.turns.first = Some(index),
        }
        self.turns.last = Some(index);
    }

    fn remove_turn(&mut self, index: u32) {
        let queue = &mut self.tenants[index as usize];
        let (prev, next) = (queue.prev.take(), queue.next.take());
        match prev {
            Some(prev) => self.tenants[prev as usize].next = next,
            None => self.turns.first = next,
        }
        match next {
            Some(next) => self.tenants[next as usize].prev = prev,
            None => self.turns.last = prev,
        }
    }
}
