//! `gatebench suite` (a readiness suite ending in a verdict), `gatebench baseline`
//! (save, list, delete named reports) and `gatebench compare` (a report against a
//! baseline).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use gatebench_driver::Segment;
use gatebench_report::{
    BaselineStore, Comparison, DEFAULT_BASELINE_DB, SuiteReport, Verdict, compare_runs, console,
    list_text, parse_tolerance, read_report_dir, write_all,
};
use gatebench_suite::{SuiteFile, SuiteOptions, TargetProfile, run_suite_until};

/// Options of `gatebench suite`.
#[derive(Debug, clap::Args)]
pub struct SuiteArgs {
    /// `focused`, `comprehensive`, `conformance`, `agents`, or a suite file.
    suite: String,
    /// Base URL of the system under test (a gateway, a proxy, your app); default:
    /// start the embedded stack per check.
    #[arg(long, value_name = "URL")]
    target: Option<String>,
    /// One of the mocks the target's upstreams point at (`gatebench mock` prints
    /// them); the others are found from it. Their books are the truth the checks
    /// judge by, and faults are injected there.
    #[arg(long, value_name = "URL", requires = "target")]
    mocks: Option<String>,
    /// How the target reports what it did: a preset (`gatebench`, `litellm`,
    /// `generic`) or a target profile file.
    /// Default `gatebench`. Needs --target, except with --merge (the segments'
    /// profile again).
    #[arg(long, visible_alias = "profile", value_name = "NAME|FILE")]
    preset: Option<String>,
    /// https targets: trust the CA certificates in this PEM file instead of the
    /// system's.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "insecure",
        requires = "target"
    )]
    cacert: Option<PathBuf>,
    /// https targets: accept any certificate (self-signed staging servers).
    #[arg(long, short = 'k', requires = "target")]
    insecure: bool,
    /// A tenant key of the target (repeat for more tenants: the isolation checks
    /// need two). The first also reads the target's own endpoints.
    #[arg(long = "key", value_name = "KEY", default_values_t = ["gb-alpha-dev".to_owned()])]
    keys: Vec<String>,
    /// Seed of every draw; default: the suite file's.
    #[arg(long)]
    seed: Option<u64>,
    /// Report folder; default: reports/SUITE-TIMESTAMP.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Print only the verdict and the checks table at the end.
    #[arg(long)]
    quiet: bool,
    /// Compare with this baseline; a regression makes the verdict NOT READY.
    #[arg(long, value_name = "NAME")]
    baseline: Option<String>,
    /// How far a figure may move before it counts (with --baseline), e.g. `10%`.
    #[arg(long, default_value = "10%", value_parser = tolerance)]
    tolerance: f64,
    /// Baseline database.
    #[arg(long, default_value = DEFAULT_BASELINE_DB)]
    db: PathBuf,
    /// Run only this check of the suite (with --segment or --merge: the check run
    /// as segments).
    #[arg(long, value_name = "NAME")]
    check: Option<String>,
    /// Run execution segment I of N (from 0) of the check's load and write its
    /// results to OUT/segment.json; `--merge` judges the check on the segments
    /// merged. Checks whose verdict comes from a driven load only (load,
    /// concurrency, streaming, usage, errors, app).
    #[arg(
        long,
        value_name = "I/N",
        requires = "check",
        conflicts_with_all = ["merge", "from_logs", "baseline"]
    )]
    segment: Option<Segment>,
    /// Also print segment.json on stdout as one line `gatebench-suite-segment {...}`,
    /// for `--from-logs` to collect from container logs.
    #[arg(long, requires = "segment")]
    print_results: bool,
    /// Merge the segments in these folders (`--segment` output) and take the
    /// check's verdict on the merged figures: exit 0 READY, 1 NOT READY or a
    /// segment missing or failed.
    /// The seed is the segments' own (each recorded its draws).
    #[arg(long, value_name = "DIR", num_args = 1.., requires = "check", conflicts_with_all = ["baseline", "seed"])]
    merge: Vec<PathBuf>,
    /// Logs holding the segments' `gatebench-suite-segment` lines (`--print-results`),
    /// e.g. saved `kubectl logs --prefix --tail=-1 -l ...`; `-` reads stdin.
    #[arg(
        long,
        value_name = "FILE",
        requires = "check",
        conflicts_with_all = ["baseline", "seed"]
    )]
    from_logs: Vec<PathBuf>,
}

/// `gatebench baseline ...`.
#[derive(Debug, clap::Args)]
pub struct BaselineArgs {
    #[command(subcommand)]
    action: BaselineAction,
    /// Baseline database.
    #[arg(long, global = true, default_value = DEFAULT_BASELINE_DB)]
    db: PathBuf,
}

#[derive(Debug, clap::Subcommand)]
enum BaselineAction {
    /// Save report folders under a name (replacing a baseline of that name). Several
    /// runs of one suite make a baseline that knows their spread: a figure must leave
    /// the range they showed to count as a regression.
    Save {
        /// Folders holding report.json, one per run.
        #[arg(required = true, num_args = 1..)]
        report_dirs: Vec<PathBuf>,
        /// Baseline name.
        #[arg(long)]
        name: String,
    },
    /// List saved baselines.
    List,
    /// Delete a baseline.
    Delete {
        /// Baseline name.
        name: String,
    },
}

/// Options of `gatebench compare`.
#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// Folder holding report.json.
    report_dir: PathBuf,
    /// Baseline name.
    #[arg(long)]
    baseline: String,
    /// How far a figure may move before it counts, e.g. `10%`.
    #[arg(long, default_value = "10%", value_parser = tolerance)]
    tolerance: f64,
    /// Baseline database.
    #[arg(long, default_value = DEFAULT_BASELINE_DB)]
    db: PathBuf,
}

fn tolerance(text: &str) -> Result<f64, String> {
    parse_tolerance(text).map_err(|e| e.to_string())
}

fn default_out(suite: &str) -> PathBuf {
    let name = suite.rsplit('/').next().unwrap_or(suite);
    crate::run::default_out(name.trim_end_matches(".toml"))
}

pub async fn suite(args: SuiteArgs) -> anyhow::Result<ExitCode> {
    let mut file = match SuiteFile::load(&args.suite) {
        Ok(file) => file,
        Err(error) => {
            eprintln!("error: {error}");
            return Ok(ExitCode::from(2));
        }
    };
    let merging = !args.merge.is_empty() || !args.from_logs.is_empty();
    if args.preset.is_some() && args.target.is_none() && !merging {
        eprintln!(
            "error: --preset names how a target reports what it did: it needs --target (or --merge)"
        );
        return Ok(ExitCode::from(2));
    }
    if let Some(name) = &args.check {
        match gatebench_suite::segment::find_check(&file, name) {
            Ok(spec) => {
                let spec = spec.clone();
                if merging {
                    let out = args.out.clone().unwrap_or_else(|| default_out(&args.suite));
                    let inputs = crate::suite_segment::MergeInputs {
                        dirs: &args.merge,
                        logs: &args.from_logs,
                        preset: args.preset.as_deref(),
                    };
                    return crate::suite_segment::merge(&file, &spec, inputs, &out, args.quiet);
                }
                file.checks = vec![spec];
            }
            Err(error) => {
                eprintln!("error: {error}");
                return Ok(ExitCode::from(2));
            }
        }
    }
    let profile = match TargetProfile::load(args.preset.as_deref().unwrap_or("gatebench")) {
        Ok(profile) => profile,
        Err(error) => {
            eprintln!("error: {error}");
            return Ok(ExitCode::from(2));
        }
    };
    let trust = crate::run::trust(args.cacert.as_ref(), args.insecure);
    if let Err(error) = trust.client_config() {
        eprintln!("error: {error}");
        return Ok(ExitCode::from(2));
    }
    // a baseline that cannot be compared is found out before the suite runs
    let baseline = match &args.baseline {
        None => None,
        Some(name) => match load_baseline(&args.db, name) {
            Ok(runs) if runs[0].suite != file.name => {
                eprintln!(
                    "error: baseline `{name}` is a `{}` suite and this run is `{}`: only runs of one suite compare (save a `{}` baseline first)",
                    runs[0].suite, file.name, file.name
                );
                return Ok(ExitCode::from(2));
            }
            Ok(runs) => Some((name.clone(), runs)),
            Err(error) => {
                eprintln!("error: {}", crate::error_text(&error));
                return Ok(ExitCode::from(2));
            }
        },
    };
    let out = args.out.clone().unwrap_or_else(|| default_out(&args.suite));
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    if !args.quiet && args.segment.is_none() {
        let target = match (&args.target, &args.mocks) {
            (None, _) => "the embedded stack".to_owned(),
            (Some(url), Some(mocks)) => format!(
                "{url} (profile {}; truth from the mocks at {mocks})",
                profile.name
            ),
            (Some(url), None) => format!(
                "{url} (profile {}; no --mocks: faults and truth unavailable)",
                profile.name
            ),
        };
        eprintln!(
            "suite {} ({} checks) against {target}",
            file.name,
            file.checks.len()
        );
    }
    let options = SuiteOptions {
        target: args.target.clone(),
        mocks: args.mocks.clone(),
        keys: args.keys.clone(),
        profile,
        seed: args.seed,
        out: out.clone(),
        quiet: args.quiet,
        trust,
    };
    if let (Some(segment), Some(spec)) = (args.segment, file.checks.first()) {
        let spec = spec.clone();
        return crate::suite_segment::segment(&file, &spec, &options, segment, args.print_results)
            .await;
    }
    let (signals, stop) = crate::cancel_on_stop_signal(
        "stopping after the current check; the rest are reported as not run (Ctrl-C again to quit)",
    );
    let mut report = run_suite_until(&file, &options, Some(stop)).await;
    signals.abort();
    let comparison = match &baseline {
        Some((name, runs)) => Some(judge_against(
            &mut report,
            name,
            runs,
            args.tolerance,
            &out,
        )?),
        None => None,
    };
    let written = write_all(&report, &out)?;
    if let Some(c) = comparison.filter(|_| !args.quiet) {
        outln!("{}", c.console());
    }
    outln!("{}", console(&report));
    outln!(
        "reports: {}",
        written.html.parent().unwrap_or(&out).display()
    );
    Ok(if report.verdict == Verdict::Ready {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Compares the report with the baseline's runs, records the outcome in the report
/// (a regression makes it NOT READY) and writes the whole comparison to
/// `out/comparison.json`.
fn judge_against(
    report: &mut SuiteReport,
    name: &str,
    runs: &[SuiteReport],
    tolerance: f64,
    out: &Path,
) -> anyhow::Result<Comparison> {
    let comparison = compare_runs(report, runs, tolerance)?;
    report.apply_baseline(name, &comparison);
    let path = out.join("comparison.json");
    std::fs::write(&path, comparison.to_json())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(comparison)
}

/// A database that does not exist, said as such: opening one to read from it would
/// create it (and its folder), so a mistyped `--db` would leave an empty database
/// behind and report every baseline as missing from it.
fn no_database(db: &Path, name: Option<&str>) -> String {
    let what = name.map_or_else(String::new, |n| format!("no baseline named `{n}`: "));
    format!(
        "{what}there is no baseline database at {} (`gatebench baseline save` creates one)",
        db.display()
    )
}

/// Opens the baselines database at `db` to read it, without creating it; `name` is
/// the baseline wanted, for the message when there is no database.
fn open_existing(db: &Path, name: Option<&str>) -> anyhow::Result<BaselineStore> {
    let exists = db
        .try_exists()
        .with_context(|| format!("reading {}", db.display()))?;
    anyhow::ensure!(exists, no_database(db, name));
    Ok(BaselineStore::open(db)?)
}

/// The runs of baseline `name` in the database at `db`, which must exist.
fn load_baseline(db: &Path, name: &str) -> anyhow::Result<Vec<SuiteReport>> {
    Ok(open_existing(db, Some(name))?.load_runs(name)?)
}

/// The first report folder given twice, as given both times. Folders are compared
/// resolved (`.`, `..`, links), as one run saved twice would count twice in the
/// spread a figure must leave to be a regression.
fn repeated_dir(dirs: &[PathBuf]) -> Option<(&Path, &Path)> {
    let mut seen = std::collections::BTreeMap::new();
    dirs.iter().find_map(|dir| {
        let resolved = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.clone());
        seen.insert(resolved, dir.as_path())
            .map(|first| (first, dir.as_path()))
    })
}

pub async fn baseline(args: BaselineArgs) -> anyhow::Result<ExitCode> {
    match args.action {
        BaselineAction::Save { report_dirs, name } => {
            if let Some((first, again)) = repeated_dir(&report_dirs) {
                let named = if first == again {
                    format!("report folder {} is given twice", first.display())
                } else {
                    format!(
                        "report folder {} is given twice (also as {})",
                        first.display(),
                        again.display()
                    )
                };
                eprintln!(
                    "error: {named}: each run counts once in a baseline, or its noise range is built from the same figures twice"
                );
                return Ok(ExitCode::from(2));
            }
            let store = BaselineStore::open(&args.db)?;
            let info = store.save_dirs(&name, &report_dirs)?;
            let runs = match info.runs {
                1 => String::new(),
                n => format!(", {n} runs"),
            };
            outln!(
                "saved baseline {} ({} {}, {}/{} checks passed{runs})",
                info.name,
                info.suite,
                info.verdict,
                info.checks_passed,
                info.checks_total
            );
        }
        BaselineAction::List => {
            // no database is no baseline saved, and listing does not create one
            let saved = if args.db.try_exists()? {
                BaselineStore::open(&args.db)?.list()?
            } else {
                Vec::new()
            };
            out!("{}", list_text(&saved));
        }
        BaselineAction::Delete { name } => {
            open_existing(&args.db, Some(&name))?.delete(&name)?;
            outln!("deleted baseline {name}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn compare_cmd(args: CompareArgs) -> anyhow::Result<ExitCode> {
    let report = read_report_dir(&args.report_dir)?;
    let runs = load_baseline(&args.db, &args.baseline)?;
    let comparison = match compare_runs(&report, &runs, args.tolerance) {
        Ok(c) => c,
        Err(mismatch) => {
            eprintln!("error: {mismatch}");
            return Ok(ExitCode::from(2));
        }
    };
    let path = args.report_dir.join("comparison.json");
    std::fs::write(&path, comparison.to_json())
        .with_context(|| format!("writing {}", path.display()))?;
    outln!("{}", comparison.console());
    Ok(if comparison.has_regressions() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
