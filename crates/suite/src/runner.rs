//! Running a suite: for each check, a subject (the embedded stack started for it,
//! or the external target), its faults, the check itself; then the verdict, charts
//! and recommendations.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::time::{Instant, SystemTime};

use gatebench_driver::Trust;
use gatebench_report::{SCHEMA_VERSION, SuiteReport, TargetInfo, Verdict};

use crate::checks::{self, CheckOutcome, Ctx, unmeasurable};
use crate::file::{CheckSpec, SuiteFile};
use crate::profile::TargetProfile;
use crate::subject::{Subject, SubjectError, client};
use crate::truth::Books;
use crate::{env, recommend};

/// How to run a suite.
#[derive(Clone, Debug)]
pub struct SuiteOptions {
    /// An external target's base URL; `None` starts the embedded stack per check.
    pub target: Option<String>,
    /// One mock of the set the external target's upstreams point at: its books are
    /// the truth, and faults are injected there.
    pub mocks: Option<String>,
    /// Tenant keys of the external target (the first is the suite's own; more are
    /// more tenants, for the isolation checks).
    pub keys: Vec<String>,
    /// The external target's profile (a preset name or a file).
    pub profile: TargetProfile,
    /// Overrides the file's seed.
    pub seed: Option<u64>,
    /// Report folder (ledgers of the embedded stack go here too).
    pub out: PathBuf,
    /// Print nothing while running.
    pub quiet: bool,
    /// Certificates an `https://` target may present.
    pub trust: Trust,
}

/// Runs every check of `file` and builds the report.
pub async fn run_suite(file: &SuiteFile, options: &SuiteOptions) -> SuiteReport {
    run_suite_until(file, options, None).await
}

/// As [`run_suite`], stopping after the check under way once `stop` turns true (a
/// signal): each check not run is reported as not measured, so the report says
/// the suite was stopped and its verdict is NOT READY.
pub async fn run_suite_until(
    file: &SuiteFile,
    options: &SuiteOptions,
    stop: Option<tokio::sync::watch::Receiver<bool>>,
) -> SuiteReport {
    let started = Instant::now();
    let started_at = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let seed = options.seed.unwrap_or(file.seed);
    let books = find_books(options).await;
    let mut outcomes = Vec::new();
    for (i, spec) in file.checks.iter().enumerate() {
        if !options.quiet {
            eprint!(
                "[{}/{}] {} ... ",
                i + 1,
                file.checks.len(),
                spec.title.as_deref().unwrap_or(&spec.name)
            );
            let _ = std::io::stderr().flush();
        }
        let stopped = stop.as_ref().is_some_and(|s| *s.borrow());
        let subject = if stopped {
            Err(None)
        } else {
            subject_for(file, spec, options, seed, &books)
                .await
                .map_err(|e| Some(e.to_string()))
        };
        let outcome = match subject {
            Err(why) => {
                let ctx_subject = Subject::external(
                    "http://127.0.0.1:9",
                    &options.keys,
                    options.profile.clone(),
                    None,
                );
                let ctx = Ctx {
                    suite: file,
                    spec,
                    subject: &ctx_subject,
                    seed,
                    out: &options.out,
                    segment: gatebench_driver::Segment::WHOLE,
                };
                match why {
                    Some(why) => unmeasurable(&ctx, why),
                    None => checks::not_run(&ctx),
                }
            }
            Ok(subject) => {
                let ctx = Ctx {
                    suite: file,
                    spec,
                    subject: &subject,
                    seed,
                    out: &options.out,
                    segment: gatebench_driver::Segment::WHOLE,
                };
                let outcome = match subject.apply_faults(&spec.faults).await {
                    Ok(()) => checks::run(&ctx).await,
                    Err(error) => unmeasurable(&ctx, error.to_string()),
                };
                subject.clear_faults(&spec.faults).await;
                subject.shutdown().await;
                outcome
            }
        };
        if !options.quiet {
            let mark = if stopped {
                "not run"
            } else if outcome.result.passed {
                "passed"
            } else if outcome.result.severity.blocks() {
                "FAILED"
            } else {
                "warning"
            };
            eprintln!("{mark} ({:.1} s)", outcome.result.duration_s);
        }
        outcomes.push(outcome);
    }
    let target = target_info(options, matches!(books, Some(Ok(_))));
    let timing = Timing {
        started_at,
        duration_s: started.elapsed().as_secs_f64(),
    };
    assemble(file, seed, target, timing, outcomes)
}

/// The books of the external target's mocks (`--mocks`), when named.
pub(crate) async fn find_books(options: &SuiteOptions) -> Option<Result<Books, String>> {
    match (&options.target, &options.mocks) {
        (Some(_), Some(url)) => Some(Books::discover(client(), url).await),
        _ => None,
    }
}

/// What `spec` runs against: the external target (with the mocks' books when
/// found), or the embedded stack started for it.
pub(crate) async fn subject_for(
    file: &SuiteFile,
    spec: &CheckSpec,
    options: &SuiteOptions,
    seed: u64,
    books: &Option<Result<Books, String>>,
) -> Result<Subject, SubjectError> {
    match (&options.target, books) {
        (Some(_), Some(Err(error))) => Err(SubjectError::Http {
            what: "finding the mocks".into(),
            detail: error.clone(),
        }),
        (Some(url), books) => Subject::external(
            url,
            &options.keys,
            options.profile.clone(),
            books.as_ref().and_then(|b| b.as_ref().ok()).cloned(),
        )
        .with_trust(options.trust.clone()),
        (None, _) => Subject::embedded(file, spec, seed, &options.out).await,
    }
}

/// What the report says the suite ran against.
pub(crate) fn target_info(options: &SuiteOptions, books_found: bool) -> TargetInfo {
    let external = options.target.is_some();
    TargetInfo {
        mode: if external { "external" } else { "embedded" }.to_owned(),
        url: options
            .target
            .clone()
            .unwrap_or_else(|| "mocks and gateway on free loopback ports".into()),
        profile: if external {
            options.profile.name.clone()
        } else {
            "gatebench".to_owned()
        },
        mocks: match (external, books_found) {
            (false, _) => Some("the embedded mocks".to_owned()),
            (true, true) => options.mocks.clone(),
            (true, false) => None,
        },
    }
}

/// When a suite (or a check's segments) ran.
pub(crate) struct Timing {
    /// RFC 3339 start.
    pub started_at: String,
    /// Seconds from start to end.
    pub duration_s: f64,
}

/// The report of checks' outcomes: their runs, charts, recommendations and the
/// verdict.
pub(crate) fn assemble(
    file: &SuiteFile,
    seed: u64,
    target: TargetInfo,
    timing: Timing,
    outcomes: Vec<CheckOutcome>,
) -> SuiteReport {
    let mut checks = Vec::new();
    let mut runs = BTreeMap::new();
    let mut charts = Vec::new();
    let mut recommendations = Vec::new();
    for outcome in outcomes {
        for (name, run) in outcome.runs {
            runs.insert(format!("{}/{name}", outcome.result.name), run);
        }
        charts.extend(outcome.charts);
        recommendations.extend(outcome.recommendations);
        checks.push(outcome.result);
    }
    recommendations.extend(recommend::general(&checks));
    recommendations.extend(recommend::bottlenecks(
        &checks,
        runs.iter()
            .filter_map(|(key, run)| Some((key.split_once('/')?.0, run))),
    ));
    let mut versions = BTreeMap::new();
    versions.insert("gatebench".to_owned(), env!("CARGO_PKG_VERSION").to_owned());
    versions.insert("report_schema".to_owned(), SCHEMA_VERSION.to_string());
    // A suite that judged nothing cannot say READY.
    let verdict = if checks.is_empty() {
        Verdict::NotReady
    } else {
        SuiteReport::verdict_of(&checks)
    };
    SuiteReport {
        schema_version: SCHEMA_VERSION,
        suite: file.name.clone(),
        verdict,
        started_at: timing.started_at,
        duration_s: timing.duration_s,
        seed,
        target,
        environment: env::environment(),
        versions,
        checks,
        recommendations,
        runs,
        charts,
        baseline: None,
    }
}
