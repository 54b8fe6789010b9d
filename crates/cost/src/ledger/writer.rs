//! The writer thread: drains the channel and writes entries in batches, one
//! transaction per batch, so that recording never waits on SQLite, and wakes at
//! most once per [`LINGER`] under load, on its own timer rather than by a sender.
//!
//! A batch that fails to write (disk full, say) is kept and retried with the
//! next one; every flush waiting on it is told of the failure. When every sender
//! is gone the thread writes what is left and ends.

use std::sync::mpsc::{Receiver, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tracing::{debug, error};

use super::{ResponseChange, store};
use crate::entry::LedgerEntry;

/// Most entries written in one transaction.
pub(crate) const MAX_BATCH: usize = 4096;

/// How long the writer lets entries gather before it writes them. A writer
/// blocked on the channel has to be woken by the next sender (a futex call and a
/// context switch, made with the ledger's lock held); lingering lets one wake-up
/// and one transaction (a WAL sync) serve the entries of this long, at the price
/// of a flush waiting up to this long, and of that much more lost if the process
/// dies. At 1,000 calls a second a 2 ms linger wrote about two entries a
/// transaction, and the writer cost about 20 µs of CPU a call; 10 ms halves that,
/// and takes a third off it at 10,000 calls a second.
const LINGER: Duration = Duration::from_millis(10);

/// How often the writer removes stored responses past their retention, when it
/// has written something: they are no longer read back, this only bounds the
/// table.
const PRUNE_EVERY: Duration = Duration::from_secs(60 * 60);

/// What the writer is sent.
pub(crate) enum Msg {
    /// An entry to write.
    Entry(Box<LedgerEntry>),
    /// A stored response to keep or forget.
    Response(ResponseChange),
    /// Answer once everything sent before this is written, or why it was not.
    Flush(SyncSender<Result<(), String>>),
}

/// What the writer holds until it is written.
#[derive(Default)]
struct Pending {
    entries: Vec<LedgerEntry>,
    responses: Vec<ResponseChange>,
}

impl Pending {
    fn len(&self) -> usize {
        self.entries.len() + self.responses.len()
    }

    fn clear(&mut self) {
        self.entries.clear();
        self.responses.clear();
    }

    fn write(&self, conn: &Mutex<Connection>) -> Result<(), String> {
        if self.len() == 0 {
            return Ok(());
        }
        let mut conn = conn.lock().unwrap_or_else(|e| e.into_inner());
        store::insert_batch(&mut conn, &self.entries, &self.responses).map_err(|e| e.to_string())
    }
}

/// The thread's body.
pub(crate) fn run(rx: Receiver<Msg>, conn: Arc<Mutex<Connection>>) {
    let mut pending = Pending::default();
    let mut acks: Vec<SyncSender<Result<(), String>>> = Vec::new();
    // Whether the last batch brought entries: then more are likely on their way,
    // and the writer lingers and looks instead of blocking on the channel, so
    // that under steady load no sender has to wake it.
    let mut busy = false;
    // the database was pruned as it was opened
    let mut pruned = Instant::now();
    loop {
        let first = if busy {
            std::thread::sleep(LINGER);
            match rx.try_recv() {
                Ok(msg) => msg,
                Err(TryRecvError::Empty) => {
                    busy = false;
                    continue;
                }
                Err(TryRecvError::Disconnected) => break,
            }
        } else {
            let Ok(msg) = rx.recv() else { break };
            if !matches!(msg, Msg::Flush(_)) {
                std::thread::sleep(LINGER);
            }
            msg
        };
        busy = false;
        let mut next = Some(first);
        while let Some(msg) = next {
            match msg {
                Msg::Entry(entry) => {
                    pending.entries.push(*entry);
                    busy = true;
                }
                Msg::Response(change) => {
                    pending.responses.push(change);
                    busy = true;
                }
                Msg::Flush(ack) => acks.push(ack),
            }
            next = if pending.len() < MAX_BATCH {
                rx.try_recv().ok()
            } else {
                None
            };
        }
        let result = pending.write(&conn);
        match &result {
            Ok(()) => {
                if pending.len() > 0 {
                    debug!(
                        entries = pending.entries.len(),
                        responses = pending.responses.len(),
                        "ledger batch written"
                    );
                }
                pending.clear();
                if pruned.elapsed() >= PRUNE_EVERY {
                    prune(&conn);
                    pruned = Instant::now();
                }
            }
            Err(e) => {
                error!(
                    error = %e,
                    entries = pending.entries.len(),
                    responses = pending.responses.len(),
                    "ledger batch failed, will retry"
                )
            }
        }
        for ack in acks.drain(..) {
            // A flusher that gave up waiting is no concern of the writer.
            let _ = ack.send(result.clone());
        }
    }
    if let Err(e) = pending.write(&conn) {
        error!(
            error = %e,
            entries = pending.entries.len(),
            responses = pending.responses.len(),
            "ledger changes lost at shutdown"
        );
    }
}

fn prune(conn: &Mutex<Connection>) {
    let conn = conn.lock().unwrap_or_else(|e| e.into_inner());
    match store::prune_responses(&conn, crate::now_ms()) {
        Ok(0) => {}
        Ok(removed) => debug!(removed, "stored responses past their retention removed"),
        Err(error) => error!(%error, "stored responses past their retention not removed"),
    }
}
