//! Running a suite: for each check, a subject (the embedded stack started for it,
//! or the external target), its faults, the check itself; then the verdict, charts
//! and recommendations.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::time::{Instant, SystemTime};

use gatebench_driver::Trust;
use gatebench_report::{SCHEMA_VERSION, SuiteReport, TargetInfo, Verdict};

use crate::checks::{self, Ctx, unmeasurable};
use crate::file::SuiteFile;
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
    let started = Instant::now();
    let started_at = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let seed = options.seed.unwrap_or(file.seed);
    let books = match (&options.target, &options.mocks) {
        (Some(_), Some(url)) => Some(Books::discover(client(), url).await),
        _ => None,
    };
    let mut checks = Vec::new();
    let mut runs = BTreeMap::new();
    let mut charts = Vec::new();
    let mut recommendations = Vec::new();
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
        let subject = match (&options.target, &books) {
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
        };
        let outcome = match subject {
            Err(error) => {
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
                };
                unmeasurable(&ctx, error.to_string())
            }
            Ok(subject) => {
                let ctx = Ctx {
                    suite: file,
                    spec,
                    subject: &subject,
                    seed,
                    out: &options.out,
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
            let mark = if outcome.result.passed {
                "passed"
            } else if outcome.result.severity.blocks() {
                "FAILED"
            } else {
                "warning"
            };
            eprintln!("{mark} ({:.1} s)", outcome.result.duration_s);
        }
        for (name, run) in outcome.runs {
            runs.insert(format!("{}/{name}", spec.name), run);
        }
        charts.extend(outcome.charts);
        recommendations.extend(outcome.recommendations);
        checks.push(outcome.result);
    }
    recommendations.extend(recommend::general(&checks));
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
        started_at,
        duration_s: started.elapsed().as_secs_f64(),
        seed,
        target: TargetInfo {
            mode: if options.target.is_some() {
                "external"
            } else {
                "embedded"
            }
            .to_owned(),
            url: options
                .target
                .clone()
                .unwrap_or_else(|| "mocks and gateway on free loopback ports".into()),
            profile: if options.target.is_some() {
                options.profile.name.clone()
            } else {
                "gatebench".to_owned()
            },
            mocks: match (&options.target, &books) {
                (None, _) => Some("the embedded mocks".to_owned()),
                (Some(_), Some(Ok(_))) => options.mocks.clone(),
                (Some(_), _) => None,
            },
        },
        environment: env::environment(),
        versions,
        checks,
        recommendations,
        runs,
        charts,
        baseline: None,
    }
}
