//! Priority admission queue in front of an upstream.
//!
//! The gateway keeps one [`Scheduler`] per upstream provider. A request calls
//! [`Scheduler::acquire`] with a [`Ticket`] (tenant, [`Priority`], optional deadline)
//! and gets a [`Permit`] (one of the upstream's `concurrency` slots, released when
//! dropped) or a [`Rejected`] with a retry-after estimate.
//!
//! ```
//! use gatebench_queue::{Priority, QueueConfig, Rejected, Scheduler, Ticket};
//!
//! # async fn call_upstream() {}
//! async fn handle(scheduler: &std::sync::Arc<Scheduler>) -> Result<(), Rejected> {
//!     let permit = scheduler.acquire(Ticket::new("alpha", Priority::High)).await?;
//!     call_upstream().await;
//!     drop(permit); // the slot goes to the next waiter
//!     Ok(())
//! }
//! # let _ = Scheduler::new(QueueConfig::default()).map(|_| ());
//! ```
//!
//! # Admission
//!
//! - A free slot with nobody waiting: admitted at once.
//! - A deadline already past: [`Rejected::DeadlineExpired`] with a zero retry-after.
//! - `capacity` waiters already: [`Rejected::Full`].
//! - Estimated wait beyond the deadline: [`Rejected::DeadlineUnmeetable`].
//! - Otherwise the ticket waits. It leaves with [`Rejected::DeadlineExpired`] if its
//!   deadline passes first, or when its future is dropped (the client went away).
//!
//! The estimated wait of a ticket of class `c` is
//! `service_time × (waiters of class c and above + 1) / concurrency`, where
//! `service_time` is a moving average (weight 1/8) of how long permits are held,
//! starting from [`QueueConfig::initial_service_time`]. Every retry-after is such an
//! estimate.
//!
//! # Order
//!
//! When a slot frees, it goes to the waiter chosen by this rule:
//!
//! 1. **Class first.** The best class present wins ([`Priority`] order).
//! 2. Within it, **tenants take turns**: the tenant served least recently (or that
//!    joined the queue earliest since) goes first.
//! 3. Within that tenant, the waiter that **waited longest** goes first (FIFO).
//! 4. **Aging, in a bounded share.** A waiter climbs one class per
//!    [`QueueConfig::aging`] waited, up to `critical`. After three dispatches in a
//!    row by rules 1–3 alone, the next one goes to the longest-waiting waiter of the
//!    best class counting those climbs, if climbing is what put it there.
//!
//! So a burst from one tenant cannot starve another tenant of the same class; a
//! `low` waiter is `critical` by aging after three periods and then waits at most
//! one aging turn per older waiter; and however long waits grow behind a slow
//! upstream, at least three dispatches in four follow class order, so aging never
//! erases priority.
//!
//! # Accounting
//!
//! Every ticket ends in exactly one of: admitted, rejected (full, unmeetable,
//! expired) or cancelled; [`QueueSnapshot`] counts each.

mod config;
mod permit;
mod priority;
mod scheduler;
mod snapshot;
mod state;
mod ticket;

pub use config::{QueueConfig, QueueConfigError};
pub use permit::Permit;
pub use priority::{ParsePriorityError, Priority};
pub use scheduler::Scheduler;
pub use snapshot::{PerClass, QueueSnapshot};
pub use ticket::{Rejected, Ticket};
