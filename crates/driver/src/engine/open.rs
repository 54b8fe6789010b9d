//! Open loop: iterations start on schedule whatever the target does.
//!
//! A dispatcher walks the schedule. At each intended time it needs a free VU (at most
//! `max_vus` run at once); if none is free it waits until `intended + max_lateness`
//! and otherwise drops the iteration and counts it, like k6. Latency is measured from
//! the intended time, so a wait for a VU, or a dispatcher that fell behind, shows in
//! the corrected latency instead of hiding (no coordinated omission).
//!
//! An execution segment walks the same schedule and sends only the arrivals it owns,
//! each with the payload of its place in the whole schedule, with its share of
//! `max_vus`.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, watch};

use super::ScenarioCtx;
use super::schedule::Schedule;
use crate::client::{Conns, execute};
use crate::metrics::aggregator::Msg;

pub(super) async fn run(
    ctx: Arc<ScenarioCtx>,
    schedule: Schedule,
    max_vus: u32,
    max_lateness: Duration,
    start: Instant,
    mut stop: watch::Receiver<bool>,
) {
    // the segment's share of the VUs, and at least one to send its arrivals with
    let max_vus = ctx.segment.share(u64::from(max_vus)).max(1) as usize;
    let permits = Arc::new(Semaphore::new(max_vus));
    // idle VUs keep their connections for the next iteration
    let idle: Arc<Mutex<Vec<Conns>>> = Arc::new(Mutex::new(Vec::new()));
    let live = &ctx.live.scenarios[ctx.index];
    let mut tasks = tokio::task::JoinSet::new();
    // arrival k is the segment's when k mod N = I; its payload is drawn from k, as in
    // the whole run
    let arrivals = schedule
        .iter()
        .enumerate()
        .filter(|(k, _)| ctx.segment.owns(*k as u64));
    let end = start + ctx.load.executor.duration();
    for (k, offset) in arrivals {
        // At the scenario's end every arrival left was due already, and a dispatcher
        // running late (a busy machine) sends them late, measured from their intended
        // times, rather than losing them: a schedule of n arrivals is n sent or
        // dropped. A stop before the end (cancel, abort) cuts the rest.
        if *stop.borrow() && Instant::now() < end {
            break;
        }
        let intended = start + offset;
        let due = tokio::time::Instant::from_std(intended);
        if intended > Instant::now() {
            tokio::select! {
                () = tokio::time::sleep_until(due) => {}
                _ = stop.wait_for(|&s| s) => if Instant::now() < end { break },
            }
        }
        let drawn = ctx.mix.draw(k as u64);
        let prepared_index = ctx.prepared[drawn.request].index;
        let permit = match permits.clone().try_acquire_owned() {
            Ok(p) => Some(p),
            Err(_) if max_lateness.is_zero() => None,
            Err(_) => {
                let deadline = due + max_lateness;
                tokio::select! {
                    p = tokio::time::timeout_at(deadline, permits.clone().acquire_owned()) => p.ok().and_then(Result::ok),
                    _ = stop.wait_for(|&s| s) => None,
                }
            }
        };
        let Some(permit) = permit else {
            let _ = ctx.tx.send(Msg::Dropped {
                request: prepared_index,
            });
            continue;
        };
        live.vus.store(
            (max_vus - permits.available_permits()) as u64,
            Ordering::Relaxed,
        );
        let mut conns = idle
            .lock()
            .ok()
            .and_then(|mut v| v.pop())
            .unwrap_or_else(|| Conns::new(ctx.endpoints.len()));
        live.start(0);
        let ctx2 = ctx.clone();
        let idle2 = idle.clone();
        let permits2 = permits.clone();
        while tasks.try_join_next().is_some() {}
        let (thread, worker) = ctx.workers.next();
        let worker = worker.clone();
        tasks.spawn_on(
            async move {
                let prepared = &ctx2.prepared[drawn.request];
                execute(
                    &mut conns,
                    &ctx2.endpoints,
                    prepared,
                    drawn.payload,
                    &ctx2.clock,
                    Some(intended),
                    ctx2.samples.outbox(thread),
                )
                .await;
                if let Ok(mut v) = idle2.lock() {
                    v.push(conns);
                }
                drop(permit);
                ctx2.live.scenarios[ctx2.index].vus.store(
                    (max_vus - permits2.available_permits()) as u64,
                    Ordering::Relaxed,
                );
            },
            &worker,
        );
    }
    // past the grace period, abort what is left: a request cut short reports itself
    // as `interrupted` when its future is dropped
    let mut hard = ctx.hard_stop.clone();
    loop {
        tokio::select! {
            joined = tasks.join_next() => if joined.is_none() { break },
            _ = hard.wait_for(|&h| h) => {
                tasks.abort_all();
                break;
            }
        }
    }
    while tasks.join_next().await.is_some() {}
    live.vus.store(0, Ordering::Relaxed);
}
