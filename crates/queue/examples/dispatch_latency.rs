//! Prints the scheduler's dispatch latency percentiles (release → waiter's `acquire`
//! resolving) under two loads: permits held for a simulated upstream call (sleeps of
//! 1–5 ms), and permits released as fast as the runtime can (every task runnable).
//!
//! `cargo run --release -p gatebench-queue --example dispatch_latency`

#[path = "../benches/load/mod.rs"]
// Shared with the other target, which uses the parts this one does not.
#[allow(dead_code)]
mod load;

use std::time::Duration;

use load::{Hold, Load, Recorded};

const HANDOFFS: u64 = 200_000;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let loads = [
        (
            "upstream-like holds (sleep 1-5 ms)",
            Load {
                concurrency: 64,
                tasks: 320,
                tenants: 8,
                hold: Hold::Sleep {
                    min: Duration::from_millis(1),
                    max: Duration::from_millis(5),
                },
            },
        ),
        (
            "saturated (hold = one yield)",
            Load {
                concurrency: 64,
                tasks: 320,
                tenants: 8,
                hold: Hold::Yields(1),
            },
        ),
    ];
    println!(
        "64 permits, 320 tasks, 8 tenants x 4 classes, 2 runtime workers, {HANDOFFS} handoffs each"
    );
    for (name, load) in loads {
        // Warm up allocations and the runtime's threads first.
        load::run(&runtime, load, HANDOFFS / 10);
        report(name, &load::run(&runtime, load, HANDOFFS));
    }
}

fn report(name: &str, r: &Recorded) {
    let h = &r.histogram;
    let us = |ns: u64| ns as f64 / 1000.0;
    println!("\n{name}");
    println!(
        "  handoffs {}  wall {:.2?}  ({:.0}/s)",
        h.len(),
        r.elapsed,
        h.len() as f64 / r.elapsed.as_secs_f64()
    );
    println!(
        "  dispatch latency us: p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}  mean {:.2}",
        us(h.value_at_quantile(0.50)),
        us(h.value_at_quantile(0.90)),
        us(h.value_at_quantile(0.99)),
        us(h.value_at_quantile(0.999)),
        us(h.max()),
        h.mean() / 1000.0,
    );
    let s = &r.snapshot;
    println!(
        "  queue: submitted {} admitted {} (after wait {}) rejected {} cancelled {} in flight at end {}",
        s.submitted,
        s.admitted,
        s.admitted_after_wait,
        s.rejected_full + s.rejected_unmeetable + s.expired,
        s.cancelled,
        s.in_flight
    );
}
