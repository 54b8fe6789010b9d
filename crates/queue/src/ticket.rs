//! What a request brings to the queue, and why it can be turned away.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::Priority;

/// One request asking for an upstream slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ticket {
    /// Tenant the request belongs to; tenants take turns within a class.
    pub tenant: Arc<str>,
    /// Class asked for.
    pub priority: Priority,
    /// Latest instant at which the request may still be admitted (start its upstream
    /// call). A caller with an end-to-end deadline can subtract the expected upstream
    /// time, for example [`QueueSnapshot::service_time`](crate::QueueSnapshot::service_time).
    pub deadline: Option<Instant>,
}

impl Ticket {
    /// A ticket without a deadline.
    pub fn new(tenant: impl Into<Arc<str>>, priority: Priority) -> Ticket {
        Ticket {
            tenant: tenant.into(),
            priority,
            deadline: None,
        }
    }

    /// The same ticket with a deadline.
    #[must_use]
    pub fn with_deadline(mut self, deadline: Instant) -> Ticket {
        self.deadline = Some(deadline);
        self
    }
}

/// Why a ticket was not admitted. Each carries an estimate of when trying again
/// makes sense, for a `retry-after` header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    /// The queue already holds `capacity` waiters.
    #[error("queue is full, retry after {retry_after:?}")]
    Full {
        /// Estimated time for the waiters of this class and above to be served.
        retry_after: Duration,
    },
    /// The estimated wait already exceeds the ticket's deadline.
    #[error("deadline cannot be met, estimated wait {retry_after:?}")]
    DeadlineUnmeetable {
        /// The estimated wait.
        retry_after: Duration,
    },
    /// The deadline passed before a slot was free (or had passed on arrival).
    #[error("deadline passed while waiting, retry after {retry_after:?}")]
    DeadlineExpired {
        /// Estimated wait of a new request of the same class at that moment (zero
        /// when the deadline had already passed on arrival).
        retry_after: Duration,
    },
}

impl Rejected {
    /// The retry-after estimate, whatever the reason.
    pub fn retry_after(&self) -> Duration {
        match *self {
            Rejected::Full { retry_after }
            | Rejected::DeadlineUnmeetable { retry_after }
            | Rejected::DeadlineExpired { retry_after } => retry_after,
        }
    }

    /// Short lowercase reason, for logs and metric labels.
    pub fn reason(&self) -> &'static str {
        match self {
            Rejected::Full { .. } => "full",
            Rejected::DeadlineUnmeetable { .. } => "deadline_unmeetable",
            Rejected::DeadlineExpired { .. } => "deadline_expired",
        }
    }
}
