//! Criterion benches of the scheduler: uncontended acquire and release, and the
//! dispatch latency of a handoff under contention (mean; the `dispatch_latency`
//! example prints the percentiles).

#![allow(missing_docs)]

// Shared with the other target, which uses the parts this one does not.
#[allow(dead_code)]
mod load;

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use gatebench_queue::{Priority, QueueConfig, Scheduler, Ticket};

use load::{Hold, Load};

/// A free slot is granted on the first poll, so no runtime is needed.
fn uncontended(c: &mut Criterion) {
    let scheduler = Scheduler::new(QueueConfig::default()).expect("valid config");
    let ticket = Ticket::new("tenant", Priority::Normal);
    let mut cx = Context::from_waker(Waker::noop());
    c.bench_function("uncontended acquire+release", |b| {
        b.iter(|| {
            let acquire = pin!(scheduler.acquire(ticket.clone()));
            let Poll::Ready(Ok(permit)) = acquire.poll(&mut cx) else {
                panic!("a slot is free")
            };
            drop(black_box(permit));
        });
    });
}

/// Mean time from a release to the next waiter's `acquire` resolving, with 64 permits
/// and 320 tasks (8 tenants × 4 classes) on a two-worker runtime.
fn contended(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("contended handoff");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(5));
    let load = Load {
        concurrency: 64,
        tasks: 320,
        tenants: 8,
        hold: Hold::Yields(1),
    };
    group.bench_function("dispatch latency, 64 permits, 320 tasks", |b| {
        b.iter_custom(|iters| load::run(&runtime, load, iters).total);
    });
    group.finish();
}

criterion_group!(benches, uncontended, contended);
criterion_main!(benches);
