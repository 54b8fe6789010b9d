//! The threads VUs run on: one single-threaded runtime per core.
//!
//! A VU never moves between threads: its connection, its timers and its wake-ups stay
//! on one core, and no work-stealing scheduler shuffles thousands of short tasks
//! between cores. On a load generator that is most of the CPU a request costs in user
//! space, so it decides how many requests per second one machine can send.

use std::future::Future;

use tokio::runtime::Handle;
use tokio::sync::oneshot;

/// A set of worker threads, each running a current-thread runtime.
pub(crate) struct Workers {
    handles: Vec<Handle>,
    stops: Vec<oneshot::Sender<()>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Workers {
    /// Starts `n` workers (at least one).
    pub fn start(n: usize) -> std::io::Result<Workers> {
        let mut workers = Workers {
            handles: Vec::new(),
            stops: Vec::new(),
            threads: Vec::new(),
        };
        for i in 0..n.max(1) {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let (stop_tx, stop_rx) = oneshot::channel::<()>();
            workers.handles.push(runtime.handle().clone());
            workers.stops.push(stop_tx);
            let thread = std::thread::Builder::new()
                .name(format!("gatebench-vu-{i}"))
                .spawn(move || {
                    let _ = runtime.block_on(stop_rx);
                })?;
            workers.threads.push(thread);
        }
        Ok(workers)
    }

    /// Worker threads to use by default: one per core.
    pub fn default_count() -> usize {
        std::thread::available_parallelism().map_or(1, usize::from)
    }

    /// How many workers there are.
    pub fn len(&self) -> usize {
        self.handles.len()
    }

    /// Spawns a task on worker `i` (modulo their number).
    pub fn spawn_at<F>(&self, i: usize, future: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handles[i % self.handles.len()].spawn(future)
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for stop in self.stops.drain(..) {
            let _ = stop.send(());
        }
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}
