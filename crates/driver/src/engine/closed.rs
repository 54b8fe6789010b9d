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

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use gatebench_distr::Delay;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::sync::watch;
use xxhash_rust::xxh3::xxh3_64_with_seed;

use super::ScenarioCtx;
use crate::client::{Conns, execute};
use crate::metrics::aggregator::Msg;
use crate::payload::Drawn;
use crate::scenario::{Executor, Stage};

/// Think times from which a VU parks its connections while it thinks: keeps their
/// sockets, drops hyper's buffers and request channels (`client::conn`), about 16 KB
/// of the 19 KB an idle VU held. Dropping and rebuilding them costs about 4k
/// instructions a request (callgrind, VUs thinking 1 ms against a trivial server:
/// 24.4k instructions a request, 28.9k parking each time); from a second of thinking
/// that is at most 4k instructions a second per VU, while a VU thinking less is busy
/// enough for the CPU to matter more than its memory.
const PARK_FROM: Duration = Duration::from_secs(1);

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
    let busy = ctx.load.think_time == Delay::ZERO && ramp.is_none();
    let segment = ctx.segment;
    let mut handles = Vec::with_capacity(segment.share(u64::from(vus)) as usize);
    let owned = (0..vus).filter(|&vu| segment.owns(u64::from(vu)));
    for (local, vu) in owned.enumerate() {
        let ctx = ctx.clone();
        let stop = stop.clone();
        let target = target_rx.clone();
        let shared = shared.clone();
        let workers = ctx.workers.clone();
        let vu = Vu::new(ctx, (vu, local), budget, shared, target, stop, start);
        // VU i lives on worker i and counts on shard i: no counter crosses threads
        handles.push(if busy {
            workers.spawn_at(local, busy_vu_loop(vu))
        } else {
            workers.spawn_at(local, vu_loop(vu))
        });
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
    // shared iterations no VU started before the scenario's time ran out
    if let Budget::Shared(limit) = budget
        && timed_out(&ctx, start)
    {
        let claimed = shared.load(Ordering::Relaxed);
        let unstarted = (claimed..)
            .map(|local| segment.global(local))
            .take_while(|&n| n < limit);
        drop_unstarted(&ctx, unstarted);
    }
    ctx.live.scenarios[ctx.index]
        .vus
        .store(0, Ordering::Relaxed);
}

/// Whether the scenario ran out of time (its `max_duration`), rather than being
/// stopped early (a cancel or an abort cuts the rest of the load uncounted, as an
/// open-loop scenario's is).
fn timed_out(ctx: &ScenarioCtx, start: Instant) -> bool {
    start.elapsed() >= ctx.load.executor.duration()
}

/// Counts the iterations of `keys` as dropped (never started), each under the
/// request it would have sent, as k6 counts `dropped_iterations` when an
/// iteration executor's time runs out.
fn drop_unstarted(ctx: &ScenarioCtx, keys: impl Iterator<Item = u64>) {
    let mut dropped = vec![0u64; ctx.prepared.len()];
    for key in keys {
        dropped[ctx.mix.draw(key).request] += 1;
    }
    for (prepared, n) in ctx.prepared.iter().zip(dropped) {
        if n > 0 {
            let _ = ctx.tx.send(Msg::Dropped {
                request: prepared.index,
                n,
            });
        }
    }
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

/// A VU between its requests: what it sends next, its think times, whether it
/// counts as active.
struct Vu {
    ctx: Arc<ScenarioCtx>,
    /// Its number in the whole load.
    vu: u32,
    /// The worker it runs on.
    shard: usize,
    budget: Budget,
    shared: Arc<AtomicU64>,
    target: watch::Receiver<u32>,
    stop: watch::Receiver<bool>,
    conns: Conns,
    think_rng: StdRng,
    done: u64,
    active: bool,
    current_target: u32,
    /// When its scenario started.
    start: Instant,
}

impl Vu {
    fn new(
        ctx: Arc<ScenarioCtx>,
        (vu, shard): (u32, usize),
        budget: Budget,
        shared: Arc<AtomicU64>,
        mut target: watch::Receiver<u32>,
        stop: watch::Receiver<bool>,
        start: Instant,
    ) -> Vu {
        let think_rng = StdRng::seed_from_u64(xxh3_64_with_seed(
            &[ctx.index as u64, u64::from(vu)]
                .map(u64::to_le_bytes)
                .concat(),
            ctx.seed,
        ));
        let current_target = *target.borrow_and_update();
        Vu {
            conns: Conns::new(ctx.endpoints.len()),
            ctx,
            vu,
            shard,
            budget,
            shared,
            current_target,
            target,
            stop,
            think_rng,
            done: 0,
            active: false,
            start,
        }
    }

    /// The next request to send, once the ramp lets this VU run; `None` when the
    /// run stops or the VU's iterations are done.
    async fn next(&mut self) -> Option<Drawn> {
        let live = &self.ctx.live.scenarios[self.ctx.index];
        loop {
            // `has_changed` only reads the channel's version, where `borrow` would
            // take its lock: every VU checks these on every iteration
            if !matches!(self.stop.has_changed(), Ok(false)) {
                return None;
            }
            if self.target.has_changed().unwrap_or(false) {
                self.current_target = *self.target.borrow_and_update();
            }
            if self.current_target <= self.vu {
                if self.active {
                    live.vus.fetch_sub(1, Ordering::Relaxed);
                    self.active = false;
                }
                // held back by the ramp, possibly for long: as idle as a thinking VU
                self.conns.park();
                let vu = self.vu;
                tokio::select! {
                    r = self.target.wait_for(|&t| t > vu) => if r.is_err() { return None },
                    _ = self.stop.wait_for(|&s| s) => return None,
                }
                self.current_target = *self.target.borrow_and_update();
                continue;
            }
            if !self.active {
                live.vus.fetch_add(1, Ordering::Relaxed);
                self.active = true;
            }
            let n = match self.budget {
                // a fixed payload needs no key
                Budget::Unlimited if self.ctx.mix.is_fixed() => 0,
                Budget::Unlimited => vu_key(self.vu, self.done),
                Budget::PerVu(limit) => {
                    if self.done >= limit {
                        return None;
                    }
                    vu_key(self.vu, self.done)
                }
                Budget::Shared(limit) => {
                    let n = self
                        .ctx
                        .segment
                        .global(self.shared.fetch_add(1, Ordering::Relaxed));
                    if n >= limit {
                        return None;
                    }
                    n
                }
            };
            self.done += 1;
            live.start(self.shard);
            return Some(self.ctx.mix.draw(n));
        }
    }

    /// Sends `drawn` and waits for its outcome.
    async fn send(&mut self, drawn: Drawn) {
        let prepared = &self.ctx.prepared[drawn.request];
        execute(
            &mut self.conns,
            &self.ctx.endpoints,
            prepared,
            drawn.payload,
            &self.ctx.clock,
            None,
            self.ctx.samples.outbox(self.shard),
        )
        .await;
    }

    /// Thinks before the next request; `false` if the run stops meanwhile.
    async fn think(&mut self) -> bool {
        let think = self.ctx.load.think_time.sample(&mut self.think_rng);
        if think.is_zero() {
            return true;
        }
        if think >= PARK_FROM {
            self.conns.park();
        }
        tokio::select! {
            () = tokio::time::sleep(think) => true,
            _ = self.stop.wait_for(|&s| s) => false,
        }
    }
}

impl Drop for Vu {
    fn drop(&mut self) {
        if self.active {
            self.ctx.live.scenarios[self.ctx.index]
                .vus
                .fetch_sub(1, Ordering::Relaxed);
        }
        // its own iterations it had no time to start
        if let Budget::PerVu(limit) = self.budget
            && self.done < limit
            && timed_out(&self.ctx, self.start)
        {
            let vu = self.vu;
            drop_unstarted(&self.ctx, (self.done..limit).map(|j| vu_key(vu, j)));
        }
    }
}

/// A VU's life: request, think, again.
///
/// An async block rather than an `async fn`: an `async fn` keeps its argument and
/// the local it moves it into side by side in its state, two copies of the `Vu` in
/// every VU's task.
#[expect(
    clippy::manual_async_fn,
    reason = "an async fn would store the Vu twice"
)]
fn vu_loop(mut vu: Vu) -> impl Future<Output = ()> {
    async move {
        while let Some(drawn) = vu.next().await {
            // boxed: a VU spends most of its life thinking, and the request's state (a
            // few KB) would otherwise stay allocated in every idle VU
            Box::pin(vu.send(drawn)).await;
            if !vu.think().await {
                break;
            }
        }
    }
}

/// The life of a VU that never thinks or parks, so is never idle: its request's
/// state lives in its own, saving an allocation and a copy of that state for each
/// request. (An async block for the reason given at [`vu_loop`].)
#[expect(
    clippy::manual_async_fn,
    reason = "an async fn would store the Vu twice"
)]
fn busy_vu_loop(mut vu: Vu) -> impl Future<Output = ()> {
    async move {
        while let Some(drawn) = vu.next().await {
            vu.send(drawn).await;
        }
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
