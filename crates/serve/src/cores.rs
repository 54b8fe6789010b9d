//! Threads that each run a single-threaded runtime: a server started with
//! [`crate::server::ServerOptions::cores`] hands each connection it accepts to one
//! of them, round-robin, and everything the connection does (its requests, their
//! upstream calls, their timers) runs there.
//!
//! On a work-stealing runtime a request's task wakes on whichever thread saw its
//! socket become ready and moves between threads with its data, and every wake-up
//! from another thread costs an inter-processor interrupt and a context switch;
//! for a proxy, whose every request waits on two sockets, that is a large part of
//! its CPU. Per-core event loops are how nginx and Envoy serve: a connection's work
//! stays on one core.

use std::cell::Cell;
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::oneshot;
use tokio::time::MissedTickBehavior;

/// How often each core thread's timer fires on its own. Tokio wakes a runtime's
/// I/O driver (an eventfd write, then an `epoll_wait` that returns at once)
/// whenever a timer is armed to fire before every timer armed when the driver last
/// parked. Hyper arms a connection's header-read timer at the start of each
/// request; with no other timer armed, each request paid for that wake-up. This
/// beat keeps an earlier timer armed, so arming one for seconds ahead costs none.
const HEARTBEAT: Duration = Duration::from_secs(1);

thread_local! {
    static CORE: Cell<Option<usize>> = const { Cell::new(None) };
}

/// How many core threads a server started with one per core gets: the cores this
/// process may run on, at least one.
pub fn available() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// The index of the core thread this code runs on; `None` off them. What a
/// connection pool shards its idle connections by, so that a connection is only
/// ever driven by the runtime its socket is registered with.
pub fn current() -> Option<usize> {
    CORE.with(Cell::get)
}

/// The threads, stopped when dropped: each then gives the tasks it still has (a
/// call whose client left goes on to its end, see the gateway's `to_the_end`) up to
/// its grace period, and drops those that have not finished.
pub struct Cores {
    handles: Vec<Handle>,
    stops: Vec<oneshot::Sender<()>>,
    next: usize,
}

impl Cores {
    /// Starts `n` threads (at least one), named `{name}-{i}`, each given `grace` to
    /// finish its tasks once stopped.
    pub fn start(n: usize, name: &str, grace: Duration) -> std::io::Result<Cores> {
        let mut cores = Cores {
            handles: Vec::new(),
            stops: Vec::new(),
            next: 0,
        };
        for i in 0..n.max(1) {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let (stop, stopped) = oneshot::channel::<()>();
            cores.handles.push(runtime.handle().clone());
            cores.stops.push(stop);
            std::thread::Builder::new()
                .name(format!("{name}-{i}"))
                .spawn(move || {
                    CORE.with(|core| core.set(Some(i)));
                    runtime.block_on(async {
                        let mut stopped = stopped;
                        let mut beat = tokio::time::interval(HEARTBEAT);
                        beat.set_missed_tick_behavior(MissedTickBehavior::Delay);
                        loop {
                            tokio::select! {
                                _ = &mut stopped => break,
                                _ = beat.tick() => {}
                            }
                        }
                        let metrics = Handle::current().metrics();
                        let _ = tokio::time::timeout(grace, async {
                            while metrics.num_alive_tasks() > 0 {
                                tokio::time::sleep(Duration::from_millis(10)).await;
                            }
                        })
                        .await;
                    });
                })?;
        }
        Ok(cores)
    }

    /// The runtime of the next core, round-robin.
    pub fn next_core(&mut self) -> &Handle {
        let i = self.next % self.handles.len();
        self.next = self.next.wrapping_add(1);
        &self.handles[i]
    }
}

impl Drop for Cores {
    fn drop(&mut self) {
        for stop in self.stops.drain(..) {
            let _ = stop.send(());
        }
    }
}
