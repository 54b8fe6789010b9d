//! Open loop: iterations start on schedule whatever the target does.
//!
//! The schedule is split into lanes, as few as its peak rate needs (a streamed
//! answer weighing as several whole ones) and at most one per worker thread. Each
//! lane walks its share (every n-th arrival of n lanes) on its own worker and waits
//! for each arrival's intended time on a timer of microsecond resolution. At that
//! time it needs a free VU (at most `max_vus` run at once, across the lanes); if
//! none is free it waits until `intended + max_lateness` and otherwise drops the
//! iteration and counts it, like k6. Latency is measured from the intended time, so
//! a wait for a VU, or a lane that fell behind, shows in the corrected latency
//! instead of hiding (no coordinated omission).
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
use super::timer::Timer;
use crate::client::{Conns, execute};
use crate::metrics::aggregator::Msg;
use crate::scenario::Kind;

/// The least time between the planned wake-ups of a lane for its arrivals. Each
/// costs the worker a sleep and a wake-up (tens of µs of CPU on a virtual machine);
/// at rates whose arrivals come closer than this on one lane, those due within it
/// leave together, up to this late, rather than waking the worker for each.
const WAKE_GAP: Duration = Duration::from_micros(100);

/// The arrivals a second one lane is given at most, of requests whose answer comes
/// whole. A lane whose worker sleeps between arrivals pays for waking for each,
/// and for each answer: two lanes at 5,000 a second cost about a fifth more CPU a
/// request than one lane at 10,000, which wakes less often because it finds more
/// work waiting each time. One lane sent 20,000 a second on time beside the mock on
/// two cores, at about 37 µs of CPU each (three quarters of a core); this leaves it
/// room.
const LANE_RATE: f64 = 15_000.0;

/// How many whole answers' worth of a lane's time a streamed one takes: it is read
/// chunk by chunk. A chat stream of 200 chunks cost the driver four to six times a
/// whole answer, and one lane at 3,000 such streams a second added to their p99;
/// longer streams cost more.
const STREAM_WEIGHT: f64 = 10.0;

/// The lane time an average arrival of the scenario's mix takes, in whole answers.
fn arrival_weight(ctx: &ScenarioCtx) -> f64 {
    weigh(
        ctx.mix
            .shares()
            .zip(&ctx.prepared)
            .map(|(share, request)| (share, request.stream || request.kind == Kind::TtsWs)),
    )
}

/// The average weight of a mix of (share, streamed) requests, at least one.
fn weigh(mix: impl Iterator<Item = (f64, bool)>) -> f64 {
    mix.map(|(share, streamed)| share * if streamed { STREAM_WEIGHT } else { 1.0 })
        .sum::<f64>()
        .max(1.0)
}

/// Lanes for a schedule whose busiest moment is `peak` arrivals a second (weighed
/// as whole answers), on `workers` worker threads.
fn lanes(peak: f64, workers: usize) -> usize {
    let needed = (peak / LANE_RATE).ceil();
    // false for NaN; an infinite rate converts to the most lanes there are
    if needed >= 1.0 {
        (needed as usize).clamp(1, workers.max(1))
    } else {
        1
    }
}

pub(super) async fn run(
    ctx: Arc<ScenarioCtx>,
    schedule: Schedule,
    max_vus: u32,
    max_lateness: Duration,
    start: Instant,
    stop: watch::Receiver<bool>,
) {
    // the segment's share of the VUs, and at least one to send its arrivals with
    let max_vus = ctx.segment.share(u64::from(max_vus)).max(1) as usize;
    let workers = ctx.workers.len();
    let count = lanes(
        schedule.peak_rate() * arrival_weight(&ctx) / f64::from(ctx.segment.count()),
        workers,
    );
    let lane = Lane {
        ctx: ctx.clone(),
        schedule: Arc::new(schedule),
        permits: Arc::new(Semaphore::new(max_vus)),
        max_vus,
        max_lateness,
        start,
        stop,
        index: 0,
        count,
        worker: 0,
    };
    // scenarios that run at once start their lanes on different workers
    let tasks: Vec<_> = (0..count)
        .map(|index| {
            let worker = (ctx.index + index) % workers;
            ctx.workers.spawn_at(
                worker,
                Lane {
                    index,
                    worker,
                    ..lane.clone()
                }
                .run(),
            )
        })
        .collect();
    for lane in tasks {
        let _ = lane.await;
    }
    ctx.live.scenarios[ctx.index]
        .vus
        .store(0, Ordering::Relaxed);
}

/// One lane's share of the schedule: every `count`-th arrival the segment owns, from
/// the `index`-th. It waits for each on its worker's own timer and runs it on that
/// worker, with connections opened there, so neither the arrival nor its
/// connection's events wake another thread.
#[derive(Clone)]
struct Lane {
    ctx: Arc<ScenarioCtx>,
    schedule: Arc<Schedule>,
    /// The VUs all lanes share.
    permits: Arc<Semaphore>,
    max_vus: usize,
    max_lateness: Duration,
    start: Instant,
    stop: watch::Receiver<bool>,
    index: usize,
    count: usize,
    /// The worker thread the lane runs on.
    worker: usize,
}

impl Lane {
    async fn run(mut self) {
        let ctx = &self.ctx;
        let live = &ctx.live.scenarios[ctx.index];
        // idle VUs keep their connections for the next iteration
        let idle: Arc<Mutex<Vec<Conns>>> = Arc::new(Mutex::new(Vec::new()));
        let mut timer = Timer::new();
        let mut tasks = tokio::task::JoinSet::new();
        // arrival k is the segment's when k mod N = I; its payload is drawn from k, as
        // in the whole run
        let arrivals = self
            .schedule
            .iter()
            .enumerate()
            .filter(|(k, _)| ctx.segment.owns(*k as u64))
            .skip(self.index)
            .step_by(self.count);
        let end = self.start + ctx.load.executor.duration();
        let mut woke = Instant::now();
        for (k, offset) in arrivals {
            // At the scenario's end every arrival left was due already, and a lane
            // running late (a busy machine) sends them late, measured from their
            // intended times, rather than losing them: a schedule of n arrivals is n
            // sent or dropped. A stop before the end (cancel, abort) cuts the rest.
            if *self.stop.borrow() && Instant::now() < end {
                break;
            }
            let intended = self.start + offset;
            if intended > Instant::now() {
                // the gap runs from the time the last sleep was for, not from when
                // it ended, so a late wake-up does not make the next one late too
                let at = intended.max(woke + WAKE_GAP);
                tokio::select! {
                    () = timer.sleep_until(at) => {}
                    _ = self.stop.wait_for(|&s| s) => if Instant::now() < end { break },
                }
                woke = at;
            }
            let drawn = ctx.mix.draw(k as u64);
            let prepared_index = ctx.prepared[drawn.request].index;
            let permit = match self.permits.clone().try_acquire_owned() {
                Ok(p) => Some(p),
                Err(_) if self.max_lateness.is_zero() => None,
                Err(_) => {
                    let deadline = tokio::time::Instant::from_std(intended + self.max_lateness);
                    tokio::select! {
                        p = tokio::time::timeout_at(deadline, self.permits.clone().acquire_owned()) => p.ok().and_then(Result::ok),
                        _ = self.stop.wait_for(|&s| s) => None,
                    }
                }
            };
            let Some(permit) = permit else {
                let _ = ctx.tx.send(Msg::Dropped {
                    request: prepared_index,
                    n: 1,
                });
                continue;
            };
            count_vus(ctx, &self.permits, self.max_vus);
            let mut conns = idle
                .lock()
                .ok()
                .and_then(|mut v| v.pop())
                .unwrap_or_else(|| Conns::new(ctx.endpoints.len()));
            live.start(0);
            // the task holds only what it uses: this runs for every arrival
            let (ctx, permits, idle) = (ctx.clone(), self.permits.clone(), idle.clone());
            let (thread, max_vus) = (self.worker, self.max_vus);
            while tasks.try_join_next().is_some() {}
            tasks.spawn(async move {
                execute(
                    &mut conns,
                    &ctx.endpoints,
                    &ctx.prepared[drawn.request],
                    drawn.payload,
                    &ctx.clock,
                    Some(intended),
                    ctx.samples.outbox(thread),
                )
                .await;
                if let Ok(mut v) = idle.lock() {
                    v.push(conns);
                }
                drop(permit);
                count_vus(&ctx, &permits, max_vus);
            });
        }
        // like k6's, the scenario lasts its duration even when its last arrival
        // came earlier (a low rate), so that its rates are over the time it ran
        if !*self.stop.borrow() {
            tokio::select! {
                () = tokio::time::sleep_until(end.into()) => {}
                _ = self.stop.wait_for(|&s| s) => {}
            }
        }
        // past the grace period, abort what is left: a request cut short reports
        // itself as `interrupted` when its future is dropped
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
    }
}

/// Publishes how many of the scenario's `max_vus` are busy, across all lanes.
fn count_vus(ctx: &ScenarioCtx, permits: &Semaphore, max_vus: usize) {
    ctx.live.scenarios[ctx.index].vus.store(
        (max_vus - permits.available_permits()) as u64,
        Ordering::Relaxed,
    );
}

#[cfg(test)]
mod tests {
    use super::{LANE_RATE, STREAM_WEIGHT, lanes, weigh};

    #[test]
    fn a_streamed_answer_weighs_as_several_whole_ones() {
        assert_eq!(weigh([(1.0, false)].into_iter()), 1.0);
        assert_eq!(weigh([(1.0, true)].into_iter()), STREAM_WEIGHT);
        let half = weigh([(0.5, false), (0.25, true), (0.25, true)].into_iter());
        assert!((half - (0.5 + STREAM_WEIGHT / 2.0)).abs() < 1e-12);
        // a mix with no weights still costs a lane something
        assert_eq!(weigh([(0.0, true), (0.0, false)].into_iter()), 1.0);
        assert_eq!(weigh(std::iter::empty()), 1.0);
    }

    #[test]
    fn a_schedule_gets_the_lanes_its_peak_rate_needs_and_no_more_than_the_workers() {
        assert_eq!(lanes(0.0, 2), 1, "an empty schedule still has a lane");
        assert_eq!(lanes(10_000.0, 2), 1);
        assert_eq!(lanes(LANE_RATE, 2), 1);
        assert_eq!(lanes(LANE_RATE + 1.0, 2), 2);
        assert_eq!(lanes(LANE_RATE * 3.5, 8), 4);
        assert_eq!(lanes(1e9, 2), 2, "never more lanes than workers");
        assert_eq!(lanes(LANE_RATE * 3.0, 0), 1);
        assert_eq!(lanes(f64::NAN, 2), 1);
        assert_eq!(lanes(f64::INFINITY, 2), 2);
        assert_eq!(lanes(-5.0, 2), 1);
    }
}
