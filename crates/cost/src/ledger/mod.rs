//! The cost ledger: one entry per billable call, kept in SQLite off the hot path,
//! with running totals per tenant that always equal the sum of its entries.
//!
//! [`Ledger::record`] validates the entry, assigns its id, updates the in-memory
//! totals and hands the entry to a writer thread over a channel, all under one
//! short lock and without touching SQLite: it costs microseconds. The writer
//! writes in batches, one transaction each ([`writer`]). [`Ledger::flush`] waits
//! until everything recorded before it is committed; [`Ledger::shutdown`] (and
//! drop) flushes and stops the writer.
//!
//! Totals are loaded from the database at open, so they survive a restart, and
//! are updated at record time, so [`Ledger::totals`] is immediately consistent.
//! [`Ledger::entries`] reads the database *after a flush*: a page always holds
//! every matching entry recorded before the call, in id order.
//!
//! Beside the entries, the same batches keep the gateway's stored responses
//! (which tenant made each, at which provider: [`StoredResponse`]), read back by
//! id after a flush, for [`RESPONSE_RETENTION`].

mod store;
mod totals;
mod writer;

#[cfg(test)]
mod tests;

use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;
use tracing::{error, info};

use self::totals::Totals;
pub use self::totals::{ModelTotals, TenantTotals};
use self::writer::Msg;
use crate::entry::LedgerEntry;

/// Why a ledger operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The database could not be opened or its schema created.
    #[error("cannot open ledger {path}: {reason}")]
    Open {
        /// The path given.
        path: String,
        /// SQLite's reason, said once (its own message repeats the path and its
        /// cause repeats the reason).
        reason: String,
    },
    /// A read failed.
    #[error("ledger query failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored row does not parse back (edited or damaged database).
    #[error("ledger entry {id}: column {column} holds {value:?}, which is not valid")]
    Corrupt {
        /// Entry id.
        id: i64,
        /// The column.
        column: &'static str,
        /// What it holds.
        value: String,
    },
    /// A stored response's row does not parse back.
    #[error("stored response {id}: tokens holds {tokens}, which is not valid")]
    CorruptResponse {
        /// The response's id.
        id: String,
        /// What its `tokens` column holds.
        tokens: i64,
    },
    /// The writer could not write a batch; the entries are kept and retried.
    #[error("ledger write failed: {0}")]
    Write(String),
    /// The writer thread could not be started.
    #[error("cannot start the ledger writer: {0}")]
    Spawn(#[source] std::io::Error),
    /// The ledger was shut down.
    #[error("the ledger is shut down")]
    Closed,
    /// The entry is inconsistent and was not recorded.
    #[error("ledger entry refused: {0}")]
    Invalid(String),
    /// The tenant's totals would no longer be exact.
    #[error("totals of tenant {0:?} overflow exact decimal arithmetic")]
    Overflow(String),
}

/// How long a stored response is kept: OpenAI keeps one 30 days unless deleted
/// sooner. Older ones are no longer read back, and are removed from the database
/// when it is opened and hourly after.
pub const RESPONSE_RETENTION: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// A response a provider stores (the Responses API's `store`), as the gateway
/// that relayed it knows it: kept beside the ledger's entries, so that who may
/// reach it, and where, survives a restart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredResponse {
    /// The provider's id of it.
    pub id: String,
    /// The tenant that made it.
    pub tenant: String,
    /// The provider holding it.
    pub provider: String,
    /// Its input and output tokens (0 until known).
    pub tokens: u64,
    /// When it was made, in unix milliseconds: what [`RESPONSE_RETENTION`]
    /// counts from. Keeping it again (to update its tokens) does not change it.
    pub made_ms: i64,
}

/// A change to the stored responses kept, written in the order made.
#[derive(Debug)]
pub(crate) enum ResponseChange {
    Keep(StoredResponse),
    Forget(String),
}

/// The earliest time, in unix milliseconds, at which a response still kept at
/// `now_ms` was made.
pub fn retained_since(now_ms: i64) -> i64 {
    let retention = i64::try_from(RESPONSE_RETENTION.as_millis()).unwrap_or(i64::MAX);
    now_ms.saturating_sub(retention)
}

/// Under the one lock that `record` takes.
struct State {
    totals: Totals,
    next_id: u64,
    /// `None` once shut down.
    sender: Option<Sender<Msg>>,
}

/// The ledger. Share it behind an `Arc`; every method takes `&self`.
pub struct Ledger {
    state: Mutex<State>,
    conn: Arc<Mutex<Connection>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    path: String,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while these locks are held, so the data stays consistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Refuses entries that would make the ledger lie or not store.
fn validate(entry: &LedgerEntry) -> Result<(), LedgerError> {
    let u = &entry.usage;
    if u.cached_tokens > u.prompt_tokens {
        return Err(LedgerError::Invalid(format!(
            "cached_tokens {} exceeds prompt_tokens {}",
            u.cached_tokens, u.prompt_tokens
        )));
    }
    let max = i64::MAX as u64;
    let units = [
        u.prompt_tokens,
        u.completion_tokens,
        u.characters,
        u.requests,
    ];
    if units.iter().any(|&n| n > max) {
        return Err(LedgerError::Invalid(
            "a unit count exceeds 2^63 - 1".to_owned(),
        ));
    }
    if entry.cost_usd.is_sign_negative() && !entry.cost_usd.is_zero() {
        return Err(LedgerError::Invalid(format!(
            "negative cost {}",
            entry.cost_usd
        )));
    }
    if entry.saved_usd.is_sign_negative() && !entry.saved_usd.is_zero() {
        return Err(LedgerError::Invalid(format!(
            "negative saving {}",
            entry.saved_usd
        )));
    }
    Ok(())
}

impl Ledger {
    /// Opens (creating if needed) the ledger at `path`, a file path or
    /// `":memory:"` (kept in memory, gone at exit), loads the totals of what it
    /// holds, and starts the writer thread.
    pub fn open(path: &str) -> Result<Ledger, LedgerError> {
        let conn = store::open(path)?;
        let mut totals = Totals::default();
        let mut last_id = 0;
        store::for_each(&conn, |entry| {
            last_id = last_id.max(entry.id);
            totals
                .add(entry)
                .ok_or_else(|| LedgerError::Overflow(entry.tenant.clone()))
        })?;
        let conn = Arc::new(Mutex::new(conn));
        let (sender, receiver) = mpsc::channel();
        let writer_conn = Arc::clone(&conn);
        let writer = std::thread::Builder::new()
            .name("ledger-writer".to_owned())
            .spawn(move || writer::run(receiver, writer_conn))
            .map_err(LedgerError::Spawn)?;
        info!(path, last_id, "ledger opened");
        Ok(Ledger {
            state: Mutex::new(State {
                totals,
                next_id: last_id + 1,
                sender: Some(sender),
            }),
            conn,
            writer: Mutex::new(Some(writer)),
            path: path.to_owned(),
        })
    }

    /// The path it was opened with.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Records one entry: assigns and returns its id (the entry's own `id` is
    /// ignored), updates the totals, and queues it for writing. Never waits on
    /// SQLite. Refuses an inconsistent entry (more cached than prompt tokens, a
    /// negative amount) and records nothing then.
    pub fn record(&self, mut entry: LedgerEntry) -> Result<u64, LedgerError> {
        validate(&entry)?;
        let mut guard = lock(&self.state);
        let State {
            totals,
            next_id,
            sender,
        } = &mut *guard;
        let Some(sender) = sender.as_ref() else {
            return Err(LedgerError::Closed);
        };
        let update = totals
            .prepare(&entry)
            .ok_or_else(|| LedgerError::Overflow(entry.tenant.clone()))?;
        let id = *next_id;
        entry.id = id;
        totals.apply(&entry, update);
        *next_id += 1;
        // Sent under the lock so that the channel holds entries in id order and
        // nothing recorded can slip in behind a shutdown.
        if sender.send(Msg::Entry(Box::new(entry))).is_err() {
            error!(id, "ledger writer is gone; entry counted but not stored");
            return Err(LedgerError::Write("the writer thread stopped".to_owned()));
        }
        Ok(id)
    }

    /// Waits until every entry recorded before this call is committed to the
    /// database. Reports a failed write (the entries are kept and retried).
    pub fn flush(&self) -> Result<(), LedgerError> {
        let (ack, done) = mpsc::sync_channel(1);
        {
            let state = lock(&self.state);
            let Some(sender) = &state.sender else {
                // Shut down: everything was written then.
                return Ok(());
            };
            if sender.send(Msg::Flush(ack)).is_err() {
                return Err(LedgerError::Write("the writer thread stopped".to_owned()));
            }
        }
        match done.recv() {
            Ok(result) => result.map_err(LedgerError::Write),
            Err(_) => Err(LedgerError::Write("the writer thread stopped".to_owned())),
        }
    }

    /// Flushes, stops the writer and waits for it. Later `record` calls are
    /// refused with [`LedgerError::Closed`]; totals and reads still work.
    pub fn shutdown(&self) -> Result<(), LedgerError> {
        let flushed = self.flush();
        // Dropping the last sender ends the writer once it has drained the channel.
        drop(lock(&self.state).sender.take());
        if let Some(handle) = lock(&self.writer).take()
            && handle.join().is_err()
        {
            error!("ledger writer panicked");
        }
        flushed
    }

    /// Keeps `response` (replacing what was kept under its id), written with the
    /// next batch. Never waits on SQLite.
    pub fn keep_response(&self, response: StoredResponse) -> Result<(), LedgerError> {
        self.change_response(ResponseChange::Keep(response))
    }

    /// Forgets the stored response `id`, with the next batch.
    pub fn forget_response(&self, id: &str) -> Result<(), LedgerError> {
        self.change_response(ResponseChange::Forget(id.to_owned()))
    }

    fn change_response(&self, change: ResponseChange) -> Result<(), LedgerError> {
        let state = lock(&self.state);
        let sender = state.sender.as_ref().ok_or(LedgerError::Closed)?;
        sender
            .send(Msg::Response(change))
            .map_err(|_| LedgerError::Write("the writer thread stopped".to_owned()))
    }

    /// The stored response `id`, if kept and made within [`RESPONSE_RETENTION`].
    /// Flushes first, so a response kept or
    /// forgotten before the call is seen so; a flush that fails (its changes are
    /// kept and retried) is logged, and what the database holds is read anyway.
    pub fn stored_response(&self, id: &str) -> Result<Option<StoredResponse>, LedgerError> {
        if let Err(error) = self.flush() {
            tracing::warn!(%error, id, "reading a stored response without the latest changes");
        }
        store::stored_response(&lock(&self.conn), id, retained_since(crate::now_ms()))
    }

    /// One tenant's totals (zeros if it has no entries), equal to the sum of
    /// every entry recorded for it so far.
    pub fn totals(&self, tenant: &str) -> TenantTotals {
        lock(&self.state).totals.get(tenant)
    }

    /// Every tenant's totals, by tenant name.
    pub fn all_totals(&self) -> Vec<TenantTotals> {
        lock(&self.state).totals.all()
    }

    /// A tenant's entries with id above `after_id`, in id order, at most
    /// `limit`. Flushes first, so every entry recorded before the call is seen.
    pub fn entries(
        &self,
        tenant: &str,
        after_id: u64,
        limit: usize,
    ) -> Result<Vec<LedgerEntry>, LedgerError> {
        self.flush()?;
        store::select(&lock(&self.conn), Some(tenant), after_id, limit)
    }

    /// Every tenant's entries with id above `after_id`, in id order, at most
    /// `limit`. Flushes first.
    pub fn all_entries(
        &self,
        after_id: u64,
        limit: usize,
    ) -> Result<Vec<LedgerEntry>, LedgerError> {
        self.flush()?;
        store::select(&lock(&self.conn), None, after_id, limit)
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            error!(error = %e, "ledger shutdown failed");
        }
    }
}
