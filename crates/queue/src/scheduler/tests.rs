//! The scheduler with real futures: wake-ups, cancellation and deadlines.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use super::Scheduler;
use crate::{Priority, QueueConfig, QueueConfigError, QueueSnapshot, Rejected, Ticket};

fn scheduler(concurrency: usize, capacity: usize) -> Arc<Scheduler> {
    scheduler_with(concurrency, capacity, Duration::from_millis(10))
}

fn scheduler_with(concurrency: usize, capacity: usize, service: Duration) -> Arc<Scheduler> {
    let config = QueueConfig {
        concurrency,
        capacity,
        aging: Duration::from_secs(60),
        initial_service_time: service,
    };
    Scheduler::new(config).expect("valid config")
}

fn ticket(tenant: &str, priority: Priority) -> Ticket {
    Ticket::new(tenant, priority)
}

/// Polls a future once with a waker that does nothing.
fn poll_once<F: Future>(future: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(Waker::noop()))
}

fn accounted(s: &QueueSnapshot) -> u64 {
    s.admitted
        + s.rejected_full
        + s.rejected_unmeetable
        + s.expired
        + s.cancelled
        + s.waiting.total() as u64
        + s.in_handoff as u64
}

/// Yields until `cond` holds on the scheduler's snapshot.
/// Polls until `cond` holds; a condition that never comes fails the test instead of
/// hanging it.
async fn until(scheduler: &Scheduler, cond: impl Fn(&QueueSnapshot) -> bool) {
    let polled = async {
        while !cond(&scheduler.snapshot()) {
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(30), polled)
        .await
        .expect("the scheduler reaches the awaited state");
}

#[test]
fn invalid_config_is_an_error() {
    let config = QueueConfig {
        concurrency: 0,
        ..QueueConfig::default()
    };
    assert_eq!(
        Scheduler::new(config).unwrap_err(),
        QueueConfigError::ZeroConcurrency
    );
}

#[tokio::test]
async fn free_slot_is_granted_at_once_and_returned_on_drop() {
    let s = scheduler(2, 10);
    let permit = s
        .acquire(ticket("a", Priority::High))
        .await
        .expect("admitted");
    assert_eq!(permit.waited(), Duration::ZERO);
    assert_eq!(permit.priority(), Priority::High);
    assert_eq!(permit.dispatched_at(), None);
    assert_eq!(s.snapshot().in_flight, 1);
    drop(permit);
    let snap = s.snapshot();
    assert_eq!((snap.in_flight, snap.admitted), (0, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiters_are_served_by_class_then_tenant_turns() {
    let s = scheduler(1, 100);
    let gate = s
        .acquire(ticket("gate", Priority::Normal))
        .await
        .expect("admitted");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let plan = [
        ("a", Priority::Low, "a-low"),
        ("a", Priority::Normal, "a-n1"),
        ("a", Priority::Normal, "a-n2"),
        ("b", Priority::Normal, "b-n1"),
        ("a", Priority::Critical, "a-crit"),
    ];
    for (n, (tenant, priority, label)) in plan.into_iter().enumerate() {
        let (shared, tx) = (Arc::clone(&s), tx.clone());
        tokio::spawn(async move {
            let permit = shared
                .acquire(ticket(tenant, priority))
                .await
                .expect("admitted");
            tx.send(label).expect("receiver alive");
            drop(permit);
        });
        // Enqueue in plan order.
        until(&s, |snap| snap.waiting.total() == n + 1).await;
    }
    drop(gate);
    let mut order = Vec::new();
    for _ in 0..plan.len() {
        order.push(rx.recv().await.expect("all tasks report"));
    }
    // `a` was served in critical, so `b` has the older turn in normal.
    assert_eq!(order, ["a-crit", "b-n1", "a-n1", "a-n2", "a-low"]);
    // each task reports before it drops its permit: wait for the last drop
    until(&s, |snap| snap.in_flight == 0).await;
    let snap = s.snapshot();
    assert_eq!(
        (snap.admitted, snap.admitted_after_wait, snap.in_flight),
        (6, 5, 0)
    );
}

#[tokio::test]
async fn dropping_a_waiting_future_leaves_the_queue() {
    let s = scheduler(1, 10);
    let gate = s
        .acquire(ticket("a", Priority::Normal))
        .await
        .expect("admitted");
    {
        let mut waiting = pin!(s.acquire(ticket("b", Priority::Normal)));
        assert!(poll_once(waiting.as_mut()).is_pending());
        assert_eq!(s.snapshot().waiting.normal, 1);
    }
    let snap = s.snapshot();
    assert_eq!(
        (snap.waiting.total(), snap.cancelled, snap.in_flight),
        (0, 1, 1)
    );
    drop(gate);
    assert_eq!(s.snapshot().in_flight, 0);
}

#[tokio::test]
async fn a_permit_handed_to_a_dropped_waiter_goes_to_the_next() {
    let s = scheduler(1, 10);
    let gate = s
        .acquire(ticket("a", Priority::Normal))
        .await
        .expect("admitted");
    let mut first = Box::pin(s.acquire(ticket("a", Priority::High)));
    let mut second = pin!(s.acquire(ticket("b", Priority::Low)));
    assert!(poll_once(first.as_mut()).is_pending());
    assert!(poll_once(second.as_mut()).is_pending());

    drop(gate);
    // The slot now belongs to `first`, which never wakes up to take it.
    assert_eq!(s.snapshot().in_handoff, 1);
    drop(first);

    let Poll::Ready(Ok(permit)) = poll_once(second.as_mut()) else {
        panic!("second should hold the slot")
    };
    assert_eq!(permit.priority(), Priority::Low);
    assert!(permit.dispatched_at().is_some());
    let snap = s.snapshot();
    assert_eq!(
        (
            snap.cancelled,
            snap.admitted_after_wait,
            snap.in_flight,
            snap.in_handoff
        ),
        (1, 1, 1, 0)
    );
    drop(permit);
    assert_eq!(s.snapshot().in_flight, 0);
}

#[tokio::test]
async fn full_queue_and_unmeetable_deadline_are_refused() {
    let s = scheduler(1, 1);
    let _gate = s
        .acquire(ticket("a", Priority::Normal))
        .await
        .expect("admitted");
    let mut waiting = pin!(s.acquire(ticket("a", Priority::Normal)));
    assert!(poll_once(waiting.as_mut()).is_pending());

    let full = s
        .acquire(ticket("b", Priority::Critical))
        .await
        .unwrap_err();
    assert!(matches!(full, Rejected::Full { .. }), "{full:?}");
    assert!(full.retry_after() > Duration::ZERO);

    let s = scheduler_with(1, 10, Duration::from_secs(60));
    let _gate = s
        .acquire(ticket("a", Priority::Normal))
        .await
        .expect("admitted");
    // One permit out, held a minute on average: a 30 s deadline cannot be met.
    let hurried =
        ticket("b", Priority::Normal).with_deadline(Instant::now() + Duration::from_secs(30));
    let refused = s.acquire(hurried).await.unwrap_err();
    assert_eq!(
        refused,
        Rejected::DeadlineUnmeetable {
            retry_after: Duration::from_secs(60)
        }
    );
}

#[tokio::test]
async fn deadline_passing_while_waiting_expires_the_waiter() {
    // A tiny service-time estimate, so that the deadline is judged meetable on arrival.
    let s = scheduler_with(1, 10, Duration::from_micros(1));
    let gate = s
        .acquire(ticket("a", Priority::Normal))
        .await
        .expect("admitted");
    let deadline = Instant::now() + Duration::from_millis(50);
    let outcome = s
        .acquire(ticket("b", Priority::High).with_deadline(deadline))
        .await;
    assert!(
        matches!(outcome, Err(Rejected::DeadlineExpired { .. })),
        "{outcome:?}"
    );
    let snap = s.snapshot();
    assert_eq!(
        (snap.expired, snap.waiting.total(), snap.in_flight),
        (1, 0, 1)
    );
    drop(gate);
    assert_eq!(s.snapshot().in_flight, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_add_up_after_a_storm() {
    let s = scheduler(4, 40);
    let mut tasks = Vec::new();
    for n in 0..400u32 {
        let s = Arc::clone(&s);
        tasks.push(tokio::spawn(async move {
            let mut t = ticket(
                ["a", "b", "c"][n as usize % 3],
                Priority::ALL[n as usize % 4],
            );
            if n % 5 == 0 {
                t = t.with_deadline(Instant::now() + Duration::from_millis(u64::from(n % 7)));
            }
            let acquire = s.acquire(t);
            // Some callers give up early, like clients that disconnect.
            let outcome = if n % 3 == 0 {
                tokio::time::timeout(Duration::from_micros(u64::from(n % 50) * 20), acquire)
                    .await
                    .ok()
            } else {
                Some(acquire.await)
            };
            if let Some(Ok(permit)) = outcome {
                for _ in 0..n % 4 {
                    tokio::task::yield_now().await;
                }
                drop(permit);
            }
        }));
    }
    for task in tasks {
        task.await.expect("task does not panic");
    }
    let snap = s.snapshot();
    assert_eq!(snap.submitted, 400);
    assert_eq!(accounted(&snap), 400, "{snap:?}");
    assert_eq!(
        (snap.in_flight, snap.in_handoff, snap.waiting.total()),
        (0, 0, 0)
    );
    assert!(snap.admitted > 0);
}

#[test]
fn acquire_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let s = scheduler(1, 1);
    let future = s.acquire(ticket("a", Priority::Low));
    assert_send(&future);
}
