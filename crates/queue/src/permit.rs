//! A held upstream slot.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::state::Admission;
use crate::{Priority, Scheduler};

/// One upstream slot, held until dropped. Dropping it returns the slot, feeds its hold
/// time into the service-time estimate and hands the slot to the next waiter.
#[must_use = "the slot is released as soon as the permit is dropped"]
pub struct Permit {
    scheduler: Arc<Scheduler>,
    priority: Priority,
    admitted_as: Priority,
    waited: Duration,
    dispatched_at: Option<Instant>,
    acquired_at: Instant,
}

impl Permit {
    pub(crate) fn immediate(
        scheduler: Arc<Scheduler>,
        priority: Priority,
        acquired_at: Instant,
    ) -> Permit {
        Permit {
            scheduler,
            priority,
            admitted_as: priority,
            waited: Duration::ZERO,
            dispatched_at: None,
            acquired_at,
        }
    }

    pub(crate) fn after_wait(scheduler: Arc<Scheduler>, admission: Admission) -> Permit {
        Permit {
            scheduler,
            priority: admission.priority,
            admitted_as: admission.admitted_as,
            waited: admission.waited,
            dispatched_at: Some(admission.dispatched_at),
            acquired_at: admission.admitted_at,
        }
    }

    /// Time spent in the queue (zero when a slot was free on arrival).
    pub fn waited(&self) -> Duration {
        self.waited
    }

    /// Class the ticket asked for.
    pub fn priority(&self) -> Priority {
        self.priority
    }

    /// Class the ticket had reached through aging when it was chosen (the asked-for
    /// class when it did not wait long enough to climb).
    pub fn admitted_as(&self) -> Priority {
        self.admitted_as
    }

    /// When the release that freed this slot handed it over; `None` when the slot was
    /// free on arrival. The time from this instant to the `acquire` future resolving is
    /// the queue's dispatch latency.
    pub fn dispatched_at(&self) -> Option<Instant> {
        self.dispatched_at
    }
}

impl fmt::Debug for Permit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("priority", &self.priority)
            .field("admitted_as", &self.admitted_as)
            .field("waited", &self.waited)
            .finish_non_exhaustive()
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.scheduler.release(self.acquired_at);
    }
}
