//! Closed loop: VUs that send a request, wait for it, think, and go again.
//!
//! `constant-vus` runs a fixed number of VUs; `ramping-vus` moves the number of active
//! VUs linearly through the stages (a VU above the target finishes its iteration and
//! parks); `per-vu-iterations` and `shared-iterations` stop after a number of
//! iterations. Think times are drawn from a per-VU generator seeded from the run's
//! seed, so they repeat run to run.
//!
//! Payloads are keyed by what a request is in the whole load, never by a counter
//! of this process: iteration `j` of VU `v` draws key `(v, j)`, and shared iteration
//! `n` draws `n`. A segment runs the VUs (or shared iterations) it owns under their
//! global numbers, so the segments of one load send what one run of it would.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::sync::watch;
use xxhash_rust::xxh3::xxh3_64_with_seed;

use super::ScenarioCtx;
use crate::client::{Conns, execute};
use crate::scenario::{Executor, Stage};

/// How many iterations a VU may run.
#[derive(Clone, Copy)]
enum Budget {
    Unlimited,
    PerVu(u64),
    Shared(u64),
}

pub(super) async fn run(ctx: Arc<ScenarioCtx>, start: Instant, stop: watch::Receiver<bool>) {
    let (vus, budget, ramp): (u32, Budget, Option<(u32, Vec<Stage>)>) = match &ctx.load.executor {
        Executor::ConstantVus { vus, .. } => (*vus, Budget::Unlimited, None),
        Executor::RampingVus { start_vus, stages } => (
            ctx.load.executor.max_vus(),
            Budget::Unlimited,
            Some((*start_vus, stages.clone())),
        ),
        Executor::PerVuIterations {
            vus, iterations, ..
        } => (*vus, Budget::PerVu(*iterations), None),
        Executor::SharedIterations {
            vus, iterations, ..
        } => (*vus, Budget::Shared(*iterations), None),
        _ => return,
    };
    let (target_tx, target_rx) = watch::channel(ramp.as_ref().map_or(vus, |(s, _)| *s));
    let shared = Arc::new(AtomicU64::new(0));
    let segment = ctx.segment;
    let mut handles = Vec::with_capacity(segment.share(u64::from(vus)) as usize);
    let owned = (0..vus).filter(|&vu| segment.owns(u64::from(vu)));
    for (local, vu) in owned.enumerate() {
        let ctx = ctx.clone();
        let stop = stop.clone();
        let target = target_rx.clone();
        let shared = shared.clone();
        let workers = ctx.workers.clone();
        // VU i lives on worker i and counts on shard i: no counter crosses threads
        handles.push(workers.spawn_at(
            local,
            vu_loop(ctx, (vu, local), budget, shared, target, stop),
        ));
    }
    if let Some((start_vus, stages)) = ramp {
        let mut stop = stop.clone();
        let controller = async move {
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            loop {
                tick.tick().await;
                let elapsed = start.elapsed();
                let _ = target_tx.send(vus_at(start_vus, &stages, elapsed));
                if elapsed > stages.iter().map(|s| s.duration).sum::<Duration>() {
                    break;
                }
            }
            // keep the sender alive: parked VUs wait on it until the stop
            let _ = stop.wait_for(|&s| s).await;
        };
        tokio::spawn(controller);
    }
    // past the grace period, abort the VUs: a request cut short reports itself as
    // `interrupted` when its future is dropped
    let aborts: Vec<_> = handles.iter().map(|h| h.abort_handle()).collect();
    let joined = async {
        for h in handles {
            let _ = h.await;
        }
    };
    tokio::pin!(joined);
    let mut hard = ctx.hard_stop.clone();
    let finished = tokio::select! {
        () = &mut joined => true,
        _ = hard.wait_for(|&h| h) => false,
    };
    if !finished {
        aborts.iter().for_each(tokio::task::AbortHandle::abort);
        joined.await;
    }
    ctx.live.scenarios[ctx.index]
        .vus
        .store(0, Ordering::Relaxed);
}

/// The payload key of iteration `j` of VU `vu`: unique in the load up to 2^24 VUs
/// and 2^40 iterations each; VU 0's keys are its iteration numbers.
fn vu_key(vu: u32, j: u64) -> u64 {
    (u64::from(vu) << 40) | (j & ((1 << 40) - 1))
}

/// Active VUs `elapsed` into a ramp.
pub(crate) fn vus_at(start: u32, stages: &[Stage], elapsed: Duration) -> u32 {
    let mut from = f64::from(start);
    let mut t = elapsed;
    for s in stages {
        if t < s.duration {
            let f = t.as_secs_f64() / s.duration.as_secs_f64();
            return (from + (s.target - from) * f).round().max(0.0) as u32;
        }
        t -= s.duration;
        from = s.target;
    }
    from.round().max(0.0) as u32
}

/// `vu` is the VU's number in the whole load, `shard` the worker it runs on.
async fn vu_loop(
    ctx: Arc<ScenarioCtx>,
    (vu, shard): (u32, usize),
    budget: Budget,
    shared: Arc<AtomicU64>,
    mut target: watch::Receiver<u32>,
    mut stop: watch::Receiver<bool>,
) {
    let live = &ctx.live.scenarios[ctx.index];
    let mut conns = Conns::new(ctx.endpoints.len());
    let mut think_rng = StdRng::seed_from_u64(xxh3_64_with_seed(
        &[ctx.index as u64, u64::from(vu)]
            .map(u64::to_le_bytes)
            .concat(),
        ctx.seed,
    ));
    let mut done = 0u64;
    let mut active = false;
    // `has_changed` only reads the channel's version, where `borrow` would take its
    // lock: every VU checks these on every iteration
    let mut current_target = *target.borrow_and_update();
    loop {
        if !matches!(stop.has_changed(), Ok(false)) {
            break;
        }
        if target.has_changed().unwrap_or(false) {
            current_target = *target.borrow_and_update();
        }
        if current_target <= vu {
            if active {
                live.vus.fetch_sub(1, Ordering::Relaxed);
                active = false;
            }
            tokio::select! {
                r = target.wait_for(|&t| t > vu) => if r.is_err() { break },
                _ = stop.wait_for(|&s| s) => break,
            }
            current_target = *target.borrow_and_update();
            continue;
        }
        if !active {
            live.vus.fetch_add(1, Ordering::Relaxed);
            active = true;
        }
        let n = match budget {
            // a fixed payload needs no key
            Budget::Unlimited if ctx.mix.is_fixed() => 0,
            Budget::Unlimited => vu_key(vu, done),
            Budget::PerVu(limit) => {
                if done >= limit {
                    break;
                }
                vu_key(vu, done)
            }
            Budget::Shared(limit) => {
                let n = ctx.segment.global(shared.fetch_add(1, Ordering::Relaxed));
                if n >= limit {
                    break;
                }
                n
            }
        };
        done += 1;
        let drawn = ctx.mix.draw(n);
        let prepared = &ctx.prepared[drawn.request];
        live.start(shard);
        // boxed: a VU spends most of its life thinking, and the request's state (a few
        // KB) would otherwise stay allocated in every idle VU
        Box::pin(execute(
            &mut conns,
            &ctx.endpoints,
            prepared,
            drawn.payload,
            &ctx.clock,
            None,
            &ctx.tx,
        ))
        .await;
        let think = ctx.load.think_time.sample(&mut think_rng);
        if !think.is_zero() {
            tokio::select! {
                () = tokio::time::sleep(think) => {}
                _ = stop.wait_for(|&s| s) => break,
            }
        }
    }
    if active {
        live.vus.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ramps_interpolate_between_stages() {
        let stages = [
            Stage {
                duration: Duration::from_secs(10),
                target: 100.0,
            },
            Stage {
                duration: Duration::from_secs(10),
                target: 100.0,
            },
            Stage {
                duration: Duration::from_secs(10),
                target: 0.0,
            },
        ];
        assert_eq!(vus_at(0, &stages, Duration::ZERO), 0);
        assert_eq!(vus_at(0, &stages, Duration::from_secs(5)), 50);
        assert_eq!(vus_at(0, &stages, Duration::from_secs(15)), 100);
        assert_eq!(vus_at(0, &stages, Duration::from_secs(25)), 50);
        assert_eq!(vus_at(0, &stages, Duration::from_secs(40)), 0);
        assert_eq!(vus_at(20, &stages[..1], Duration::from_secs(5)), 60);
    }
}
