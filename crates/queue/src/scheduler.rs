//! The scheduler in front of one upstream: a [`Queue`] behind a mutex, and the
//! futures that wait on it.

#[cfg(test)]
mod tests;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use crate::permit::Permit;
use crate::state::{Enqueued, Outcome, Queue, WaiterId, Woken};
use crate::{QueueConfig, QueueConfigError, QueueSnapshot, Rejected, Ticket};

/// Admission control for one upstream: at most `concurrency` permits out, waiters
/// ordered by class, aging, tenant turns and age (see the crate docs for the rule).
///
/// Shared as `Arc<Scheduler>`; every method takes a short lock on one mutex and never
/// holds it across an `.await` or while waking another task.
pub struct Scheduler {
    config: QueueConfig,
    state: Mutex<Queue<Waker>>,
}

impl fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scheduler")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Scheduler {
    /// A scheduler with no permit out and nobody waiting.
    pub fn new(config: QueueConfig) -> Result<Arc<Scheduler>, QueueConfigError> {
        config.validate()?;
        let state = Mutex::new(Queue::new(&config));
        Ok(Arc::new(Scheduler { config, state }))
    }

    /// The settings this scheduler was built with.
    pub fn config(&self) -> &QueueConfig {
        &self.config
    }

    /// Waits for a permit.
    ///
    /// Returns at once when a permit is free and nobody waits, or when the ticket is
    /// refused (queue full, deadline unmeetable or already past). Otherwise the ticket
    /// waits its turn; if its deadline passes first it gets
    /// [`Rejected::DeadlineExpired`]. Dropping the returned future leaves the queue, and
    /// a permit that reached the ticket at that instant goes to the next waiter.
    ///
    /// A ticket with a deadline needs a Tokio runtime with the time driver enabled.
    pub async fn acquire(self: &Arc<Self>, ticket: Ticket) -> Result<Permit, Rejected> {
        let (queued, now) = {
            let mut state = self.lock();
            // Read under the lock so that arrival times follow arrival order.
            let now = Instant::now();
            (state.enqueue(&ticket, now), now)
        };
        let id = match queued {
            Enqueued::Admitted => {
                return Ok(Permit::immediate(Arc::clone(self), ticket.priority, now));
            }
            Enqueued::Rejected(rejected) => {
                tracing::debug!(
                    tenant = %ticket.tenant,
                    priority = %ticket.priority,
                    reason = rejected.reason(),
                    retry_after_ms = rejected.retry_after().as_millis(),
                    "queue refused ticket"
                );
                return Err(rejected);
            }
            Enqueued::Queued(id) => id,
        };
        let mut wait = Wait {
            scheduler: self,
            id,
            finished: false,
        };
        let Some(deadline) = ticket.deadline else {
            return wait.await;
        };
        tokio::select! {
            biased;
            outcome = &mut wait => outcome,
            () = tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)) => wait.expire(),
        }
    }

    /// Current state and counters.
    pub fn snapshot(&self) -> QueueSnapshot {
        self.lock().snapshot()
    }

    /// Returns a permit's slot and hands it to the next waiter.
    pub(crate) fn release(&self, permit_acquired: Instant) {
        let now = Instant::now();
        let mut woken = Woken::default();
        self.lock().release(
            now.saturating_duration_since(permit_acquired),
            now,
            &mut woken,
        );
        woken.for_each(Waker::wake);
    }

    fn lock(&self) -> MutexGuard<'_, Queue<Waker>> {
        // The queue's methods do not panic halfway through a change, so a poisoned
        // lock still guards consistent state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A queued ticket waiting for its permit. Dropping it before it finishes leaves the
/// queue.
struct Wait<'a> {
    scheduler: &'a Arc<Scheduler>,
    id: WaiterId,
    finished: bool,
}

impl Wait<'_> {
    fn outcome(&mut self, outcome: Outcome) -> Poll<Result<Permit, Rejected>> {
        match outcome {
            Outcome::Pending => Poll::Pending,
            Outcome::Admitted(admission) => {
                self.finished = true;
                Poll::Ready(Ok(Permit::after_wait(
                    Arc::clone(self.scheduler),
                    admission,
                )))
            }
            Outcome::Expired(retry_after) => {
                self.finished = true;
                Poll::Ready(Err(Rejected::DeadlineExpired { retry_after }))
            }
        }
    }

    /// The deadline timer fired.
    fn expire(&mut self) -> Result<Permit, Rejected> {
        let outcome = {
            let mut state = self.scheduler.lock();
            state.expire(self.id, Instant::now())
        };
        match self.outcome(outcome) {
            Poll::Ready(result) => result,
            Poll::Pending => unreachable!("expire always ends the wait"),
        }
    }
}

impl Future for Wait<'_> {
    type Output = Result<Permit, Rejected>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let outcome = {
            let mut state = self.scheduler.lock();
            state.poll(self.id, Instant::now(), |slot| match slot {
                Some(waker) if waker.will_wake(cx.waker()) => {}
                _ => *slot = Some(cx.waker().clone()),
            })
        };
        self.outcome(outcome)
    }
}

impl Drop for Wait<'_> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let mut woken = Woken::default();
        self.scheduler
            .lock()
            .cancel(self.id, Instant::now(), &mut woken);
        woken.for_each(Waker::wake);
    }
}
