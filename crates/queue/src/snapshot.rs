//! A point-in-time view of one scheduler, for metrics and tests.

use std::time::Duration;

use crate::Priority;

/// One value per priority class.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PerClass<T> {
    /// `critical`.
    pub critical: T,
    /// `high`.
    pub high: T,
    /// `normal`.
    pub normal: T,
    /// `low`.
    pub low: T,
}

impl<T: Copy> PerClass<T> {
    /// Builds from an array indexed by [`Priority::index`].
    pub fn from_array(values: [T; 4]) -> PerClass<T> {
        let [critical, high, normal, low] = values;
        PerClass {
            critical,
            high,
            normal,
            low,
        }
    }

    /// The value of one class.
    pub fn get(&self, priority: Priority) -> T {
        match priority {
            Priority::Critical => self.critical,
            Priority::High => self.high,
            Priority::Normal => self.normal,
            Priority::Low => self.low,
        }
    }
}

impl PerClass<usize> {
    /// Sum over the four classes.
    pub fn total(&self) -> usize {
        self.critical + self.high + self.normal + self.low
    }
}

/// State and lifetime counters of one scheduler.
///
/// Every ticket ever submitted is in exactly one place, so
/// `submitted == admitted + rejected_full + rejected_unmeetable + expired + cancelled
/// + waiting.total() + in_handoff` holds in every snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueSnapshot {
    /// Configured permits.
    pub concurrency: usize,
    /// Configured waiter capacity.
    pub capacity: usize,
    /// Permits held, including those handed to a waiter that has not woken yet.
    pub in_flight: usize,
    /// Permits handed to a waiter that has not woken yet.
    pub in_handoff: usize,
    /// Waiters by the class they asked for (before aging).
    pub waiting: PerClass<usize>,
    /// Tickets ever passed to `acquire`.
    pub submitted: u64,
    /// Tickets that obtained a permit (at once or after waiting).
    pub admitted: u64,
    /// Tickets that obtained a permit only after waiting.
    pub admitted_after_wait: u64,
    /// Refused because the queue was full.
    pub rejected_full: u64,
    /// Refused because the estimated wait exceeded the deadline.
    pub rejected_unmeetable: u64,
    /// Left because the deadline passed (or had passed on arrival).
    pub expired: u64,
    /// Left because the caller stopped waiting (the future was dropped).
    pub cancelled: u64,
    /// Current estimate of how long a permit is held (moving average).
    pub service_time: Duration,
}
