//! Baselines: named suite reports kept in an embedded SQLite database
//! (`reports/baselines.db` by default) so later runs can be compared with them.
//!
//! Each baseline is one row: the name (unique), when it was saved, a few listing
//! columns, and the whole `report.json` — or several, when the baseline is taken
//! from several runs of one suite (the first in `report`, the others in `more`), so
//! comparisons can judge a figure against the range those runs showed. Saving under
//! an existing name replaces that baseline: a name means "the reference for X", and
//! moving the reference forward is the common case.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::ReportError;
use crate::io::read_report_dir;
use crate::model::{SCHEMA_VERSION, SuiteReport};

/// Default database, relative to the project folder.
pub const DEFAULT_BASELINE_DB: &str = "reports/baselines.db";

/// A baseline operation failed.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    /// The database's folder cannot be created.
    #[error("cannot create {}: {source}", path.display())]
    CreateDir {
        /// The folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file exists but is not a baselines database.
    #[error("{} is not a gatebench baselines database: {source}", path.display())]
    NotADatabase {
        /// The file.
        path: PathBuf,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// A database operation failed.
    #[error("baselines database {}: {source}", path.display())]
    Sqlite {
        /// The file.
        path: PathBuf,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// No baseline of that name.
    #[error("no baseline named `{name}` in {} (see `gatebench baseline list`)", path.display())]
    NotFound {
        /// The name asked for.
        name: String,
        /// The database.
        path: PathBuf,
    },
    /// An empty or blank name.
    #[error("a baseline name cannot be empty")]
    EmptyName,
    /// A stored report does not read back.
    #[error("baseline `{name}` in {} does not hold a readable report: {source}", path.display())]
    Corrupt {
        /// The baseline.
        name: String,
        /// The database.
        path: PathBuf,
        /// Why.
        source: serde_json::Error,
    },
    /// The report to save cannot be read or serialised.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// Nothing to save.
    #[error("a baseline needs at least one report")]
    NoRuns,
    /// Runs of different suites cannot make one baseline.
    #[error("a baseline's runs must be of one suite: {first} and {other} are not")]
    MixedSuites {
        /// The first run's suite.
        first: String,
        /// Another run's suite.
        other: String,
    },
}

/// One baseline in a listing.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct BaselineInfo {
    /// Its name.
    pub name: String,
    /// When it was saved, RFC 3339 (UTC).
    pub saved_at: String,
    /// Suite of the report.
    pub suite: String,
    /// Verdict of the report.
    pub verdict: String,
    /// Seed of the report.
    pub seed: u64,
    /// Checks that passed.
    pub checks_passed: u32,
    /// Checks.
    pub checks_total: u32,
    /// Runs the baseline holds.
    pub runs: u32,
}

/// An open baselines database.
#[derive(Debug)]
pub struct BaselineStore {
    conn: Connection,
    path: PathBuf,
}

const CREATE: &str = "CREATE TABLE IF NOT EXISTS baselines (
    name TEXT PRIMARY KEY NOT NULL,
    saved_at TEXT NOT NULL,
    suite TEXT NOT NULL,
    verdict TEXT NOT NULL,
    seed TEXT NOT NULL,
    checks_passed INTEGER NOT NULL,
    checks_total INTEGER NOT NULL,
    report_schema INTEGER NOT NULL,
    report TEXT NOT NULL,
    more TEXT NOT NULL DEFAULT '[]'
)";

impl BaselineStore {
    /// Opens (creating if needed, with its folder) the database at `path`.
    pub fn open(path: &Path) -> Result<BaselineStore, BaselineError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| BaselineError::CreateDir {
                path: dir.to_owned(),
                source,
            })?;
        }
        let not_db = |source| BaselineError::NotADatabase {
            path: path.to_owned(),
            source,
        };
        let conn = Connection::open(path).map_err(not_db)?;
        // SQLite opens any file lazily; the first statement finds out what it is
        conn.execute_batch(CREATE).map_err(not_db)?;
        // databases written before baselines could hold several runs
        let has_more: bool = conn
            .query_row(
                "SELECT COUNT(*) FROM pragma_table_info('baselines') WHERE name = 'more'",
                [],
                |row| row.get::<_, i64>(0),
            )
            .map_err(not_db)?
            > 0;
        if !has_more {
            conn.execute_batch("ALTER TABLE baselines ADD COLUMN more TEXT NOT NULL DEFAULT '[]'")
                .map_err(not_db)?;
        }
        Ok(BaselineStore {
            conn,
            path: path.to_owned(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sql(&self) -> impl Fn(rusqlite::Error) -> BaselineError + '_ {
        |source| BaselineError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// Saves `report` as baseline `name`, replacing any baseline of that name.
    pub fn save(&self, name: &str, report: &SuiteReport) -> Result<BaselineInfo, BaselineError> {
        self.save_runs(name, std::slice::from_ref(report))
    }

    /// Saves several runs of one suite as baseline `name` (replacing any baseline of
    /// that name); the first run's figures head its listing.
    pub fn save_runs(
        &self,
        name: &str,
        reports: &[SuiteReport],
    ) -> Result<BaselineInfo, BaselineError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(BaselineError::EmptyName);
        }
        let Some((report, others)) = reports.split_first() else {
            return Err(BaselineError::NoRuns);
        };
        if let Some(other) = others.iter().find(|o| o.suite != report.suite) {
            return Err(BaselineError::MixedSuites {
                first: report.suite.clone(),
                other: other.suite.clone(),
            });
        }
        let json = crate::io::to_json(report)?;
        let more = others
            .iter()
            .map(crate::io::to_json)
            .collect::<Result<Vec<_>, _>>()?;
        let more = format!("[{}]", more.join(","));
        let info = BaselineInfo {
            name: name.to_owned(),
            saved_at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            suite: report.suite.clone(),
            verdict: report.verdict.as_str().to_owned(),
            seed: report.seed,
            checks_passed: u32::try_from(report.checks.iter().filter(|c| c.passed).count())
                .unwrap_or(u32::MAX),
            checks_total: u32::try_from(report.checks.len()).unwrap_or(u32::MAX),
            runs: u32::try_from(reports.len()).unwrap_or(u32::MAX),
        };
        self.conn
            .execute(
                "INSERT INTO baselines (name, saved_at, suite, verdict, seed, checks_passed, checks_total, report_schema, report, more)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT(name) DO UPDATE SET saved_at = excluded.saved_at, suite = excluded.suite,
                   verdict = excluded.verdict, seed = excluded.seed, checks_passed = excluded.checks_passed,
                   checks_total = excluded.checks_total, report_schema = excluded.report_schema,
                   report = excluded.report, more = excluded.more",
                params![
                    info.name,
                    info.saved_at,
                    info.suite,
                    info.verdict,
                    // u64 seeds do not fit SQLite's signed integers
                    info.seed.to_string(),
                    info.checks_passed,
                    info.checks_total,
                    SCHEMA_VERSION,
                    json,
                    more
                ],
            )
            .map_err(self.sql())?;
        tracing::info!(name = %info.name, db = %self.path.display(), "baseline saved");
        Ok(info)
    }

    /// Saves the report in `report_dir/report.json` as baseline `name`.
    pub fn save_dir(&self, name: &str, report_dir: &Path) -> Result<BaselineInfo, BaselineError> {
        self.save_dirs(name, &[report_dir.to_owned()])
    }

    /// Saves the reports of several runs' folders as baseline `name`.
    pub fn save_dirs(
        &self,
        name: &str,
        report_dirs: &[PathBuf],
    ) -> Result<BaselineInfo, BaselineError> {
        let reports = report_dirs
            .iter()
            .map(|d| read_report_dir(d))
            .collect::<Result<Vec<_>, _>>()?;
        self.save_runs(name, &reports)
    }

    /// Every baseline, by name.
    pub fn list(&self) -> Result<Vec<BaselineInfo>, BaselineError> {
        let mut stmt = self
            .conn
            .prepare("SELECT name, saved_at, suite, verdict, seed, checks_passed, checks_total, json_array_length(more) + 1 FROM baselines ORDER BY name")
            .map_err(self.sql())?;
        let rows = stmt
            .query_map([], |row| {
                let seed: String = row.get(4)?;
                Ok(BaselineInfo {
                    name: row.get(0)?,
                    saved_at: row.get(1)?,
                    suite: row.get(2)?,
                    verdict: row.get(3)?,
                    seed: seed.parse().unwrap_or_default(),
                    checks_passed: row.get(5)?,
                    checks_total: row.get(6)?,
                    runs: row.get(7)?,
                })
            })
            .map_err(self.sql())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.sql())
    }

    /// The report saved as `name` (its first run).
    pub fn load(&self, name: &str) -> Result<SuiteReport, BaselineError> {
        let mut runs = self.load_runs(name)?;
        Ok(runs.swap_remove(0))
    }

    /// Every run saved as baseline `name` (at least one).
    pub fn load_runs(&self, name: &str) -> Result<Vec<SuiteReport>, BaselineError> {
        let row: Option<(String, String)> = self
            .conn
            .query_row(
                "SELECT report, more FROM baselines WHERE name = ?1",
                [name.trim()],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(self.sql())?;
        let (first, more) = row.ok_or_else(|| BaselineError::NotFound {
            name: name.to_owned(),
            path: self.path.clone(),
        })?;
        let corrupt = |source| BaselineError::Corrupt {
            name: name.to_owned(),
            path: self.path.clone(),
            source,
        };
        let mut runs = vec![serde_json::from_str::<SuiteReport>(&first).map_err(corrupt)?];
        runs.extend(serde_json::from_str::<Vec<SuiteReport>>(&more).map_err(corrupt)?);
        Ok(runs)
    }

    /// Deletes baseline `name`.
    pub fn delete(&self, name: &str) -> Result<(), BaselineError> {
        let n = self
            .conn
            .execute("DELETE FROM baselines WHERE name = ?1", [name.trim()])
            .map_err(self.sql())?;
        if n == 0 {
            return Err(BaselineError::NotFound {
                name: name.to_owned(),
                path: self.path.clone(),
            });
        }
        Ok(())
    }
}

/// A listing for the terminal.
pub fn list_text(baselines: &[BaselineInfo]) -> String {
    if baselines.is_empty() {
        return "no baselines saved\n".to_owned();
    }
    let rows: Vec<Vec<crate::table::Cell>> = baselines
        .iter()
        .map(|b| {
            vec![
                crate::table::cell(b.name.clone()),
                crate::table::cell(b.saved_at.clone()),
                crate::table::cell(b.suite.clone()),
                crate::table::cell(b.verdict.clone()),
                crate::table::cell(b.seed.to_string()),
                crate::table::cell(format!("{}/{}", b.checks_passed, b.checks_total)),
                crate::table::cell(b.runs.to_string()),
            ]
        })
        .collect();
    crate::table::render(
        &[
            "name", "saved at", "suite", "verdict", "seed", "passed", "runs",
        ],
        &[crate::table::Align::Left; 7],
        &rows,
        crate::console::CONSOLE_WIDTH,
    )
}
