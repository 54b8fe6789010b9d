//! The SQLite side of the ledger: schema, batched inserts and reads.
//!
//! Money is stored as TEXT decimal strings (never REAL, which would round), and
//! read back with the same exact parser; units are INTEGER.

use std::ops::Range;
use std::str::FromStr;

use rusqlite::{Connection, Row, params};
use rust_decimal::Decimal;

use super::{LedgerError, ResponseChange, StoredResponse, retained_since};
use crate::entry::{CacheOutcome, Flags, LedgerEntry};
use crate::exact;
use crate::meter::Usage;
use crate::price::{Kind, UnitPrices};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS ledger (
    id INTEGER PRIMARY KEY,
    at_ms INTEGER NOT NULL,
    tenant TEXT NOT NULL,
    request_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    kind TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    cached_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    characters INTEGER NOT NULL,
    requests INTEGER NOT NULL,
    input_per_million TEXT,
    cached_input_per_million TEXT,
    output_per_million TEXT,
    per_thousand_characters TEXT,
    per_request TEXT,
    cost_usd TEXT NOT NULL,
    cache TEXT NOT NULL,
    saved_usd TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    estimated INTEGER NOT NULL,
    priced_by_fallback INTEGER NOT NULL,
    failed INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_tenant_id ON ledger (tenant, id);
CREATE TABLE IF NOT EXISTS stored_responses (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    provider TEXT NOT NULL,
    tokens INTEGER NOT NULL,
    made_ms INTEGER NOT NULL
) WITHOUT ROWID;
";

/// The index the retention's pruning reads, made once the column it indexes is
/// sure to exist ([`add_made_ms`]).
const RETENTION_INDEX: &str =
    "CREATE INDEX IF NOT EXISTS stored_responses_made ON stored_responses (made_ms)";

const COLUMNS: &str = "id, at_ms, tenant, request_id, provider, model, kind, \
    prompt_tokens, cached_tokens, completion_tokens, characters, requests, \
    input_per_million, cached_input_per_million, output_per_million, \
    per_thousand_characters, per_request, cost_usd, cache, saved_usd, attempts, \
    estimated, priced_by_fallback, failed";

/// Opens (creating if needed) the database and its schema.
pub(crate) fn open(path: &str) -> Result<Connection, LedgerError> {
    let open_err = |error: rusqlite::Error| {
        let text = error.to_string();
        let reason = text
            .strip_suffix(path)
            .map_or(text.as_str(), |rest| rest.trim_end_matches([':', ' ']));
        LedgerError::Open {
            path: path.to_owned(),
            reason: reason.to_owned(),
        }
    };
    let conn = if path == ":memory:" {
        Connection::open_in_memory().map_err(open_err)?
    } else {
        let conn = Connection::open(path).map_err(open_err)?;
        // WAL lets readers run beside the writer's batches; FULL makes a
        // committed batch survive a power cut, one fsync per batch.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(open_err)?;
        conn
    };
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(open_err)?;
    conn.execute_batch(SCHEMA).map_err(open_err)?;
    add_made_ms(&conn, crate::now_ms()).map_err(open_err)?;
    conn.execute_batch(RETENTION_INDEX).map_err(open_err)?;
    prune_responses(&conn, crate::now_ms()).map_err(open_err)?;
    Ok(conn)
}

/// Gives a `stored_responses` table made before responses had a time of making
/// that column, set to `now_ms` for every row: when they were made is not known,
/// and a response its tenant may still use is not dropped on a guess.
fn add_made_ms(conn: &Connection, now_ms: i64) -> rusqlite::Result<()> {
    let has_it = conn
        .prepare("SELECT 1 FROM pragma_table_info('stored_responses') WHERE name = 'made_ms'")?
        .exists([])?;
    if !has_it {
        // a constant default is all SQLite allows a column added to a table
        conn.execute_batch(&format!(
            "ALTER TABLE stored_responses ADD COLUMN made_ms INTEGER NOT NULL DEFAULT {now_ms}"
        ))?;
    }
    Ok(())
}

/// Removes the stored responses made before [`super::RESPONSE_RETENTION`] up to
/// `now_ms`; how many went.
pub(crate) fn prune_responses(conn: &Connection, now_ms: i64) -> rusqlite::Result<usize> {
    conn.prepare_cached("DELETE FROM stored_responses WHERE made_ms < ?1")?
        .execute(params![retained_since(now_ms)])
}

/// Converts a unit count for an INTEGER column (checked at record time).
fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A row's seven amounts (five prices, the cost, the saving) as text, side by
/// side in one buffer kept from row to row and written without `core::fmt`: each
/// with `Display` into a `String` of its own took about 2,500 instructions a row,
/// this about 1,000.
#[derive(Default)]
struct Amounts {
    text: String,
    /// Where each amount lies in `text`; `None` for a price the entry has not.
    spans: [Option<Range<usize>>; 7],
}

impl Amounts {
    fn fill(&mut self, e: &LedgerEntry) {
        let p = &e.prices;
        let amounts = [
            p.input_per_million,
            p.cached_input_per_million,
            p.output_per_million,
            p.per_thousand_characters,
            p.per_request,
            Some(e.cost_usd),
            Some(e.saved_usd),
        ];
        self.text.clear();
        for (span, amount) in self.spans.iter_mut().zip(amounts) {
            *span = amount.map(|d| {
                let start = self.text.len();
                exact::write_text(d, &mut self.text);
                start..self.text.len()
            });
        }
    }

    /// Amount `i` in the order [`Amounts::fill`] writes them.
    fn get(&self, i: usize) -> Option<&str> {
        self.spans[i].clone().map(|span| &self.text[span])
    }
}

/// Writes a batch of entries and of changes to the stored responses, these in
/// the order given, in one transaction: all of it or none of it.
pub(crate) fn insert_batch(
    conn: &mut Connection,
    batch: &[LedgerEntry],
    responses: &[ResponseChange],
) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    for change in responses {
        match change {
            ResponseChange::Keep(r) => {
                let mut stmt = tx.prepare_cached(
                    "INSERT INTO stored_responses (id, tenant, provider, tokens, made_ms) \
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (id) DO UPDATE SET \
                     tenant = excluded.tenant, provider = excluded.provider, \
                     tokens = excluded.tokens",
                )?;
                stmt.execute(params![
                    r.id,
                    r.tenant,
                    r.provider,
                    int(r.tokens),
                    r.made_ms
                ])?;
            }
            ResponseChange::Forget(id) => {
                let mut stmt = tx.prepare_cached("DELETE FROM stored_responses WHERE id = ?1")?;
                stmt.execute(params![id])?;
            }
        }
    }
    if !batch.is_empty() {
        let sql = format!(
            "INSERT INTO ledger ({COLUMNS}) VALUES \
             (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, \
              ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24)"
        );
        let mut stmt = tx.prepare_cached(&sql)?;
        let mut amounts = Amounts::default();
        for e in batch {
            amounts.fill(e);
            stmt.execute(params![
                int(e.id),
                e.at,
                e.tenant,
                e.request_id,
                e.provider,
                e.model,
                e.kind.as_str(),
                int(e.usage.prompt_tokens),
                int(e.usage.cached_tokens),
                int(e.usage.completion_tokens),
                int(e.usage.characters),
                int(e.usage.requests),
                amounts.get(0),
                amounts.get(1),
                amounts.get(2),
                amounts.get(3),
                amounts.get(4),
                amounts.get(5),
                e.cache.as_str(),
                amounts.get(6),
                e.attempts,
                e.flags.estimated,
                e.flags.priced_by_fallback,
                e.flags.failed,
            ])?;
        }
    }
    tx.commit()
}

/// A stored value that does not parse back.
fn corrupt(id: i64, column: &'static str, value: impl Into<String>) -> LedgerError {
    LedgerError::Corrupt {
        id,
        column,
        value: value.into(),
    }
}

fn decimal(id: i64, column: &'static str, s: String) -> Result<Decimal, LedgerError> {
    Decimal::from_str(&s).map_err(|_| corrupt(id, column, s))
}

fn units(row: &Row<'_>, id: i64, idx: usize, column: &'static str) -> Result<u64, LedgerError> {
    let v: i64 = row.get(idx)?;
    u64::try_from(v).map_err(|_| corrupt(id, column, v.to_string()))
}

fn price(
    row: &Row<'_>,
    id: i64,
    idx: usize,
    column: &'static str,
) -> Result<Option<Decimal>, LedgerError> {
    let v: Option<String> = row.get(idx)?;
    v.map(|s| decimal(id, column, s)).transpose()
}

fn entry(row: &Row<'_>) -> Result<LedgerEntry, LedgerError> {
    let id: i64 = row.get(0)?;
    let kind: String = row.get(6)?;
    let cache: String = row.get(18)?;
    Ok(LedgerEntry {
        id: u64::try_from(id).map_err(|_| corrupt(id, "id", id.to_string()))?,
        at: row.get(1)?,
        tenant: row.get(2)?,
        request_id: row.get(3)?,
        provider: row.get(4)?,
        model: row.get(5)?,
        kind: Kind::from_str(&kind).map_err(|_| corrupt(id, "kind", kind))?,
        usage: Usage {
            prompt_tokens: units(row, id, 7, "prompt_tokens")?,
            cached_tokens: units(row, id, 8, "cached_tokens")?,
            completion_tokens: units(row, id, 9, "completion_tokens")?,
            characters: units(row, id, 10, "characters")?,
            requests: units(row, id, 11, "requests")?,
        },
        prices: UnitPrices {
            input_per_million: price(row, id, 12, "input_per_million")?,
            cached_input_per_million: price(row, id, 13, "cached_input_per_million")?,
            output_per_million: price(row, id, 14, "output_per_million")?,
            per_thousand_characters: price(row, id, 15, "per_thousand_characters")?,
            per_request: price(row, id, 16, "per_request")?,
        },
        cost_usd: decimal(id, "cost_usd", row.get(17)?)?,
        cache: CacheOutcome::from_str(&cache).map_err(|_| corrupt(id, "cache", cache))?,
        saved_usd: decimal(id, "saved_usd", row.get(19)?)?,
        attempts: row.get(20)?,
        flags: Flags {
            estimated: row.get(21)?,
            priced_by_fallback: row.get(22)?,
            failed: row.get(23)?,
        },
    })
}

/// Entries in id order after `after_id`, at most `limit`, of one tenant or all.
pub(crate) fn select(
    conn: &Connection,
    tenant: Option<&str>,
    after_id: u64,
    limit: usize,
) -> Result<Vec<LedgerEntry>, LedgerError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let after = int(after_id);
    let mut out = Vec::new();
    match tenant {
        Some(tenant) => {
            let sql = format!(
                "SELECT {COLUMNS} FROM ledger WHERE tenant = ?1 AND id > ?2 ORDER BY id LIMIT ?3"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query(params![tenant, after, limit])?;
            while let Some(row) = rows.next()? {
                out.push(entry(row)?);
            }
        }
        None => {
            let sql = format!("SELECT {COLUMNS} FROM ledger WHERE id > ?1 ORDER BY id LIMIT ?2");
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query(params![after, limit])?;
            while let Some(row) = rows.next()? {
                out.push(entry(row)?);
            }
        }
    }
    Ok(out)
}

/// The stored response `id`, if one is kept that was made at `since` (unix
/// milliseconds) or later.
pub(crate) fn stored_response(
    conn: &Connection,
    id: &str,
    since: i64,
) -> Result<Option<StoredResponse>, LedgerError> {
    let mut stmt = conn.prepare_cached(
        "SELECT tenant, provider, tokens, made_ms FROM stored_responses \
         WHERE id = ?1 AND made_ms >= ?2",
    )?;
    let mut rows = stmt.query(params![id, since])?;
    let Some(row) = rows.next()? else {
        return Ok(None);
    };
    let tokens: i64 = row.get(2)?;
    Ok(Some(StoredResponse {
        id: id.to_owned(),
        tenant: row.get(0)?,
        provider: row.get(1)?,
        tokens: u64::try_from(tokens).map_err(|_| LedgerError::CorruptResponse {
            id: id.to_owned(),
            tokens,
        })?,
        made_ms: row.get(3)?,
    }))
}

/// Calls `f` with every stored entry, in id order (loading totals at open).
pub(crate) fn for_each(
    conn: &Connection,
    mut f: impl FnMut(&LedgerEntry) -> Result<(), LedgerError>,
) -> Result<(), LedgerError> {
    let sql = format!("SELECT {COLUMNS} FROM ledger ORDER BY id");
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        f(&entry(row)?)?;
    }
    Ok(())
}
