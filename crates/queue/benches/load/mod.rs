//! Many tasks contending for one scheduler's permits, recording the dispatch latency
//! of every handoff: the time from the release that freed a slot to the waiter's
//! `acquire` future resolving. Shared by the criterion bench and the
//! `dispatch_latency` example.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use gatebench_queue::{Priority, QueueConfig, QueueSnapshot, Scheduler, Ticket};
use hdrhistogram::Histogram;
use tokio::runtime::Runtime;

/// How a task holds its permit, standing in for the upstream call.
#[derive(Clone, Copy, Debug)]
pub enum Hold {
    /// Yield to the runtime this many times: the most releases per second the
    /// runtime can sustain, every task runnable.
    Yields(u32),
    /// Sleep a duration drawn uniformly from the range, as an upstream call would.
    Sleep { min: Duration, max: Duration },
}

/// The shape of the load.
#[derive(Clone, Copy, Debug)]
pub struct Load {
    /// Permits.
    pub concurrency: usize,
    /// Tasks looping acquire, hold, release; those beyond `concurrency` wait.
    pub tasks: usize,
    /// Task `i` belongs to tenant `i % tenants` and class `(i / tenants) % 4`.
    pub tenants: usize,
    /// How permits are held.
    pub hold: Hold,
}

/// What one run measured.
pub struct Recorded {
    /// Dispatch latencies in nanoseconds.
    pub histogram: Histogram<u64>,
    /// Sum of the recorded latencies.
    pub total: Duration,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// The scheduler's counters at the end.
    pub snapshot: QueueSnapshot,
}

/// Runs the load until `handoffs` dispatch latencies have been recorded.
pub fn run(runtime: &Runtime, load: Load, handoffs: u64) -> Recorded {
    runtime.block_on(async move {
        let config = QueueConfig {
            concurrency: load.concurrency,
            capacity: load.tasks * 2,
            aging: Duration::from_millis(50),
            initial_service_time: Duration::from_millis(1),
        };
        let scheduler = Scheduler::new(config).expect("valid config");
        let remaining = Arc::new(AtomicI64::new(
            i64::try_from(handoffs).expect("handoffs fit in i64"),
        ));
        let tenants: Vec<Arc<str>> = (0..load.tenants)
            .map(|t| Arc::from(format!("tenant-{t}")))
            .collect();
        let start = Instant::now();
        let workers: Vec<_> = (0..load.tasks)
            .map(|i| {
                let ticket = Ticket::new(
                    Arc::clone(&tenants[i % load.tenants]),
                    Priority::ALL[(i / load.tenants) % 4],
                );
                tokio::spawn(worker(
                    Arc::clone(&scheduler),
                    ticket,
                    load.hold,
                    Arc::clone(&remaining),
                    i as u64,
                ))
            })
            .collect();
        let mut histogram = new_histogram();
        let mut total = Duration::ZERO;
        for worker in workers {
            let (h, t) = worker.await.expect("worker does not panic");
            histogram.add(h).expect("same bounds");
            total += t;
        }
        Recorded {
            histogram,
            total,
            elapsed: start.elapsed(),
            snapshot: scheduler.snapshot(),
        }
    })
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("valid bounds")
}

async fn worker(
    scheduler: Arc<Scheduler>,
    ticket: Ticket,
    hold: Hold,
    remaining: Arc<AtomicI64>,
    seed: u64,
) -> (Histogram<u64>, Duration) {
    let mut histogram = new_histogram();
    let mut total = Duration::ZERO;
    let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    while remaining.load(Ordering::Relaxed) > 0 {
        let Ok(permit) = scheduler.acquire(ticket.clone()).await else {
            tokio::task::yield_now().await;
            continue;
        };
        if let Some(dispatched_at) = permit.dispatched_at() {
            let latency = dispatched_at.elapsed();
            if remaining.fetch_sub(1, Ordering::Relaxed) > 0 {
                histogram
                    .record(u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX).max(1))
                    .expect("in bounds");
                total += latency;
            }
        }
        match hold {
            Hold::Yields(n) => {
                for _ in 0..n {
                    tokio::task::yield_now().await;
                }
            }
            Hold::Sleep { min, max } => {
                // xorshift: enough spread for hold times, no dependency.
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let span = u64::try_from((max - min).as_nanos()).unwrap_or(0).max(1);
                tokio::time::sleep(min + Duration::from_nanos(rng % span)).await;
            }
        }
        drop(permit);
    }
    (histogram, total)
}
