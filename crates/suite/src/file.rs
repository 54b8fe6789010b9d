//! Suite files (`scenarios/suites/*.toml`): a list of checks, each with a severity,
//! the scenario it runs, its targets, the fault profile it applies to the mocks and
//! the adjustments it makes to the embedded stack.
//!
//! ```toml
//! name = "focused"
//! seed = 42
//! time_scale = 0.1                 # embedded mocks' delays (ignored with --target)
//!
//! [[check]]
//! name = "queue_performance"
//! title = "Queue performance"
//! severity = "critical"            # critical | major | minor
//! kind = "queue"                   # queue | cache | cost | concurrency | resilience
//!                                  # | endpoints | memory | load | streaming | usage
//!                                  # | errors | isolation | app | scale
//! scenario = "focused/queue.toml"  # relative to this file
//! [check.targets]
//! queue_overhead_p99_ms = 2.0
//! [check.stack]                    # embedded stack only
//! concurrency = { openai = 4 }
//! [check.faults.openai]            # PUT to the openai mock's /_mock/faults
//! server_error = 0.05
//! ```
//!
//! Unknown keys, and values the embedded stack could not run with (a time scale
//! `--time-scale` would refuse, a cache threshold outside 0 to 1, an upstream
//! concurrency of 0, a provider the stack does not have), are errors naming the
//! file, line and key. The built-in suites
//! (`focused`, `comprehensive`, `conformance`, `agents`) are compiled into the binary; a path
//! names any file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use gatebench_mock::faults::FaultSpec;
use gatebench_report::Severity;
use serde::Deserialize;

mod checked;

/// A suite file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuiteFile {
    /// Suite name.
    pub name: String,
    /// What it is for.
    #[serde(default)]
    pub description: String,
    /// Seed of every draw (the command line can override it).
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Mock delays multiplied by this on the embedded stack: 0, or from 0.001 to
    /// 1000, as `--time-scale`.
    #[serde(default = "one", deserialize_with = "checked::time_scale")]
    pub time_scale: f64,
    /// What the resource monitor watches and judges in every run of the suite,
    /// instead of each scenario's own `[resources]` (same keys).
    #[serde(default)]
    pub resources: Option<gatebench_driver::monitor::ResourcesConfig>,
    /// The checks, in order.
    #[serde(rename = "check")]
    pub checks: Vec<CheckSpec>,
    /// Folder the file's relative paths start from (not in the file).
    #[serde(skip)]
    pub base: PathBuf,
    /// Where the file came from, for messages.
    #[serde(skip)]
    pub origin: String,
}

fn default_seed() -> u64 {
    42
}

fn one() -> f64 {
    1.0
}

/// The kinds of check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    /// Mixed priorities above upstream capacity.
    Queue,
    /// Paraphrase workload: hit rate, false hits, threshold sweep.
    Cache,
    /// The ledger against an independent recomputation.
    Cost,
    /// A burst of concurrent requests.
    Concurrency,
    /// Injected faults and an outage.
    Resilience,
    /// Every front route, its errors and shapes.
    Endpoints,
    /// Resident memory over a soak.
    Memory,
    /// Load patterns, each with its own targets.
    Load,
    /// Streams reassembled at the client against the mocks' content and usage.
    Streaming,
    /// Reported token usage against the mocks' books.
    Usage,
    /// Upstream failures must reach the client as errors.
    Errors,
    /// One tenant never gets an answer cached for another.
    Isolation,
    /// Your own routes (`http` requests), and what they cost upstream.
    App,
    /// The scenario's request mix at rising loads: linear range and breaking point.
    Scale,
}

/// One check.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckSpec {
    /// Machine name.
    pub name: String,
    /// Display title (default: the name).
    #[serde(default)]
    pub title: Option<String>,
    /// Severity.
    pub severity: Severity,
    /// What is measured.
    pub kind: CheckKind,
    /// The driver scenario it runs, relative to the suite file.
    #[serde(default)]
    pub scenario: Option<String>,
    /// Targets (each kind uses some of these keys).
    #[serde(default)]
    pub targets: Targets,
    /// Load patterns (`load` checks).
    #[serde(default, rename = "pattern")]
    pub patterns: Vec<Pattern>,
    /// Embedded-stack adjustments.
    #[serde(default)]
    pub stack: StackTweaks,
    /// Fault specs to apply, by mock (`openai`, `elevenlabs`, `personality`, `webvtt`),
    /// in the mock control API's JSON shape.
    #[serde(default)]
    pub faults: BTreeMap<String, toml::Value>,
    /// Price folder of the independent recomputation (`cost` checks; default `pricing`).
    #[serde(default)]
    pub pricing: Option<String>,
    /// The step test (`scale` checks).
    #[serde(default)]
    pub scale: Option<ScaleSpec>,
    /// Length of the soak (`memory` checks).
    #[serde(default)]
    pub duration: Option<String>,
    /// Target profiles for which a figure the target does not claim is skipped
    /// rather than failed (e.g. `["generic"]` on a cost check).
    #[serde(default)]
    pub optional_for: Vec<String>,
}

/// Targets of every kind of check; a check refuses keys it does not use.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Targets {
    /// Queue: p99 of the queue stage when the upstream has room, ms.
    pub queue_overhead_p99_ms: Option<f64>,
    /// Queue: requests lost (sent but never answered), at most.
    pub lost_max: Option<u64>,
    /// Cache: hit rate, %, at least.
    pub hit_rate_min: Option<f64>,
    /// Cache: false hits (a hit served from another intent's answer), % of hits, at most.
    pub false_hit_rate_max: Option<f64>,
    /// Cost: share of ledger entries equal to the recomputation, %, at least.
    pub exact_min: Option<f64>,
    /// Concurrency, resilience: share of requests that succeeded, %, at least.
    pub success_rate_min: Option<f64>,
    /// Concurrency: p95 of the latency the target added to its upstream calls'
    /// own time (from the mocks' books), ms, at most.
    pub added_p95_ms_max: Option<f64>,
    /// Concurrency: p95 latency as the client saw it, provider's time included,
    /// ms, at most (judged only when set).
    pub p95_ms_max: Option<f64>,
    /// Resilience: readiness back this long after the outage ends, s, at most.
    pub ready_within_s: Option<f64>,
    /// Endpoints: share of probes answered as expected, %, at least.
    pub coverage_min: Option<f64>,
    /// Memory: resident memory growth after warm-up, MB per minute, at most.
    pub growth_mb_per_min_max: Option<f64>,
    /// Streaming: share of streams equal to the mock's content, %, at least.
    pub faithful_min: Option<f64>,
    /// Errors: failures passed off as success, at most.
    pub masked_max: Option<u64>,
    /// Isolation: answers served across tenants, at most.
    pub leaks_max: Option<u64>,
    /// App: true upstream cost per app request, USD, at most.
    pub cost_per_request_max: Option<f64>,
    /// Scale: the linear range reaches at least this load (default: the first step).
    pub linear_until_min: Option<f64>,
    /// Scale: the target breaks at no lower load than this (default: it does not
    /// break within the listed steps).
    pub breaking_point_min: Option<f64>,
}

/// The step test of a `scale` check (`[check.scale]`), as `gatebench scale` runs it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScaleSpec {
    /// `concurrency` (VUs) or `rate` (requests started per second); default: the
    /// scenario's kind of executor.
    #[serde(default)]
    pub mode: Option<gatebench_driver::analysis::Mode>,
    /// Loads to run, rising.
    pub steps: Vec<f64>,
    /// How long each step runs, e.g. `"10s"`.
    #[serde(default = "default_step_duration")]
    pub step_duration: String,
    /// After the steps, keep doubling the load until the target breaks.
    #[serde(default)]
    pub until_break: bool,
    /// Highest load `until_break` may reach.
    #[serde(default)]
    pub max_load: Option<f64>,
    /// Efficiency below which the linear range ends (default 0.8).
    #[serde(default)]
    pub min_efficiency: Option<f64>,
    /// Error rate above which a step is broken (default 0.01).
    #[serde(default)]
    pub max_error_rate: Option<f64>,
    /// p95 latency above which a step is broken (real-time equivalent), e.g. `"2s"`.
    #[serde(default)]
    pub slo_p95: Option<String>,
}

fn default_step_duration() -> String {
    "20s".to_owned()
}

/// One load pattern of a `load` check.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pattern {
    /// Name shown in the report.
    pub name: String,
    /// Scenario, relative to the suite file.
    pub scenario: String,
    /// p95 latency, ms, at most.
    pub p95_ms_max: f64,
    /// Error rate, %, at most.
    pub error_rate_max: f64,
}

/// Changes to the embedded stack for one check.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StackTweaks {
    /// Upstream concurrency by provider name (at least 1).
    #[serde(default, deserialize_with = "checked::concurrency")]
    pub concurrency: BTreeMap<String, usize>,
    /// Queue capacity by provider name.
    #[serde(default, deserialize_with = "checked::queue_capacity")]
    pub queue_capacity: BTreeMap<String, usize>,
    /// The gateway's cache threshold, a similarity from 0 to 1.
    #[serde(default, deserialize_with = "checked::cache_threshold")]
    pub cache_threshold: Option<f32>,
    /// Extra chat models the OpenAI mock serves (e.g. a fine-tuned model no price
    /// file knows).
    #[serde(default)]
    pub extra_models: Vec<String>,
    /// Mock delays multiplied by this for this check (default: the suite's), under
    /// the suite's rule.
    #[serde(default, deserialize_with = "checked::optional_time_scale")]
    pub time_scale: Option<f64>,
}

/// A suite file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SuiteFileError {
    /// Unreadable.
    #[error("cannot read suite {path}: {source}")]
    Read {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// Not TOML, or an unknown or mistyped key.
    #[error("{origin}: {message}")]
    Parse {
        /// File.
        origin: String,
        /// toml's message (line, column, key).
        message: String,
    },
    /// Values that do not make sense.
    #[error("{origin}: check `{check}`: {message}")]
    Invalid {
        /// File.
        origin: String,
        /// Check.
        check: String,
        /// What is wrong.
        message: String,
    },
}

const FOCUSED: &str = include_str!("../../../scenarios/suites/focused.toml");
const COMPREHENSIVE: &str = include_str!("../../../scenarios/suites/comprehensive.toml");
const CONFORMANCE: &str = include_str!("../../../scenarios/suites/conformance.toml");
const AGENTS: &str = include_str!("../../../scenarios/suites/agents.toml");

/// The repository's `scenarios/suites` folder, where built-in suites' scenarios live.
pub fn builtin_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/suites")
}

impl SuiteFile {
    /// `focused`, `comprehensive`, `conformance`, `agents`, or a path to a suite file.
    pub fn load(name_or_path: &str) -> Result<SuiteFile, SuiteFileError> {
        let builtin = match name_or_path {
            "focused" => Some(FOCUSED),
            "comprehensive" => Some(COMPREHENSIVE),
            "conformance" => Some(CONFORMANCE),
            "agents" => Some(AGENTS),
            _ => None,
        };
        match builtin {
            Some(text) => {
                // Scenario paths resolve against the working directory's
                // scenarios/suites when it exists (a checkout), else the source tree.
                let local = Path::new("scenarios/suites");
                let base = if local.is_dir() {
                    local.to_path_buf()
                } else {
                    builtin_dir()
                };
                SuiteFile::parse(text, &format!("<built-in {name_or_path}>"), &base)
            }
            None => {
                let path = Path::new(name_or_path);
                let text =
                    std::fs::read_to_string(path).map_err(|source| SuiteFileError::Read {
                        path: name_or_path.to_owned(),
                        source,
                    })?;
                let base = path
                    .parent()
                    .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
                let file = SuiteFile::parse(&text, name_or_path, &base)?;
                file.check_scenarios_exist()?;
                Ok(file)
            }
        }
    }

    /// Every scenario a check names exists, resolved against the suite file's folder.
    fn check_scenarios_exist(&self) -> Result<(), SuiteFileError> {
        for check in &self.checks {
            let named = check
                .scenario
                .iter()
                .chain(check.patterns.iter().map(|p| &p.scenario));
            for scenario in named {
                let tried = self.resolve(scenario);
                if !tried.is_file() {
                    return Err(SuiteFileError::Invalid {
                        origin: self.origin.clone(),
                        check: check.name.clone(),
                        message: format!(
                            "scenario `{scenario}` not found (tried {}; paths are relative to the suite file)",
                            tried.display()
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    /// Parses a suite; relative paths start at `base`.
    pub fn parse(text: &str, origin: &str, base: &Path) -> Result<SuiteFile, SuiteFileError> {
        let mut file: SuiteFile = toml::from_str(text).map_err(|e| SuiteFileError::Parse {
            origin: origin.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        file.base = base.to_path_buf();
        file.origin = origin.to_owned();
        file.validate()?;
        Ok(file)
    }

    /// A path of the file, resolved against its folder.
    pub fn resolve(&self, relative: &str) -> PathBuf {
        let path = Path::new(relative);
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base.join(path)
        }
    }

    fn validate(&self) -> Result<(), SuiteFileError> {
        let invalid = |check: &str, message: String| SuiteFileError::Invalid {
            origin: self.origin.clone(),
            check: check.to_owned(),
            message,
        };
        if let Some(Err((key, message))) = self.resources.as_ref().map(|r| r.check()) {
            return Err(invalid("-", format!("resources.{key}: {message}")));
        }
        let mut names = std::collections::BTreeSet::new();
        for check in &self.checks {
            if !names.insert(&check.name) {
                return Err(invalid(&check.name, "is defined twice".into()));
            }
            let needs_scenario = !matches!(check.kind, CheckKind::Endpoints | CheckKind::Load);
            if needs_scenario && check.scenario.is_none() {
                return Err(invalid(&check.name, "needs a `scenario`".into()));
            }
            if check.kind == CheckKind::Load && check.patterns.is_empty() {
                return Err(invalid(
                    &check.name,
                    "a load check needs at least one [[check.pattern]]".into(),
                ));
            }
            if let Some((key, value, wanted)) = check.targets.out_of_range() {
                return Err(invalid(
                    &check.name,
                    format!("target `{key}` = {value}: must be {wanted}"),
                ));
            }
            for (key, allowed) in check.targets.present() {
                if !allowed.contains(&check.kind) {
                    return Err(invalid(
                        &check.name,
                        format!("target `{key}` does not apply to a {:?} check", check.kind),
                    ));
                }
            }
            match (&check.scale, check.kind) {
                (None, CheckKind::Scale) => {
                    return Err(invalid(
                        &check.name,
                        "a scale check needs a [check.scale] table with `steps`".into(),
                    ));
                }
                (Some(_), kind) if kind != CheckKind::Scale => {
                    return Err(invalid(
                        &check.name,
                        format!("[check.scale] does not apply to a {kind:?} check"),
                    ));
                }
                (Some(spec), _) => spec
                    .validate()
                    .map_err(|m| invalid(&check.name, format!("scale.{m}")))?,
                (None, _) => {}
            }
            if check.duration.is_some() && check.kind != CheckKind::Memory {
                return Err(invalid(
                    &check.name,
                    format!(
                        "`duration` (a soak's length) applies only to a Memory check, not a {:?} check: a scenario's length is set in the scenario",
                        check.kind
                    ),
                ));
            }
            for (mock, spec) in &check.faults {
                if !["openai", "elevenlabs", "personality", "webvtt"].contains(&mock.as_str()) {
                    return Err(invalid(
                        &check.name,
                        format!("faults for unknown mock `{mock}`"),
                    ));
                }
                // refused here, as the mock would refuse it once the suite runs
                let fault =
                    |e: &dyn std::fmt::Display| invalid(&check.name, format!("faults.{mock}: {e}"));
                FaultSpec::deserialize(spec.clone())
                    .map_err(|e| fault(&e))?
                    .validate()
                    .map_err(|e| fault(&e))?;
            }
        }
        Ok(())
    }
}

impl ScaleSpec {
    /// Whether the values make sense; the message starts with the key.
    fn validate(&self) -> Result<(), String> {
        let mode = self.mode.unwrap_or(gatebench_driver::analysis::Mode::Rate);
        gatebench_driver::analysis::check_steps(&self.steps, mode)
            .map_err(|e| format!("steps: {e}"))?;
        let duration = gatebench_driver::parse_duration(&self.step_duration)
            .map_err(|e| format!("step_duration: {e}"))?;
        if duration.is_zero() {
            return Err("step_duration: must be above 0".into());
        }
        if let Some(slo) = &self.slo_p95 {
            gatebench_driver::parse_duration(slo).map_err(|e| format!("slo_p95: {e}"))?;
        }
        for (key, value) in [
            ("min_efficiency", self.min_efficiency),
            ("max_error_rate", self.max_error_rate),
        ] {
            if let Some(v) = value
                && !(0.0..=1.0).contains(&v)
            {
                return Err(format!("{key}: must be between 0 and 1, not {v}"));
            }
        }
        Ok(())
    }
}

impl Targets {
    /// The first target set to a value no measurement can be held to: not a
    /// finite number, below 0, or a share above 100 %.
    fn out_of_range(&self) -> Option<(&'static str, f64, &'static str)> {
        let shares = [
            ("hit_rate_min", self.hit_rate_min),
            ("false_hit_rate_max", self.false_hit_rate_max),
            ("exact_min", self.exact_min),
            ("success_rate_min", self.success_rate_min),
            ("coverage_min", self.coverage_min),
            ("faithful_min", self.faithful_min),
        ];
        let amounts = [
            ("queue_overhead_p99_ms", self.queue_overhead_p99_ms),
            ("added_p95_ms_max", self.added_p95_ms_max),
            ("p95_ms_max", self.p95_ms_max),
            ("ready_within_s", self.ready_within_s),
            ("growth_mb_per_min_max", self.growth_mb_per_min_max),
            ("cost_per_request_max", self.cost_per_request_max),
            ("linear_until_min", self.linear_until_min),
            ("breaking_point_min", self.breaking_point_min),
        ];
        let set = |list: &[(&'static str, Option<f64>)]| {
            list.iter()
                .filter_map(|(k, v)| v.map(|v| (*k, v)))
                .collect::<Vec<_>>()
        };
        let bad_amount = |(k, v): &(&'static str, f64)| {
            (!v.is_finite() || *v < 0.0).then_some((*k, *v, "a finite number, 0 or more"))
        };
        set(&shares)
            .iter()
            .find_map(|kv| {
                bad_amount(kv).or((kv.1 > 100.0).then_some((
                    kv.0,
                    kv.1,
                    "a share from 0 to 100 (%)",
                )))
            })
            .or_else(|| set(&amounts).iter().find_map(bad_amount))
    }

    /// The keys set, with the kinds that use each.
    fn present(&self) -> Vec<(&'static str, &'static [CheckKind])> {
        use CheckKind::*;
        let mut out: Vec<(&'static str, &'static [CheckKind])> = Vec::new();
        let mut add = |set: bool, key: &'static str, kinds: &'static [CheckKind]| {
            if set {
                out.push((key, kinds));
            }
        };
        add(
            self.queue_overhead_p99_ms.is_some(),
            "queue_overhead_p99_ms",
            &[Queue],
        );
        add(self.lost_max.is_some(), "lost_max", &[Queue, Concurrency]);
        add(self.hit_rate_min.is_some(), "hit_rate_min", &[Cache]);
        add(
            self.false_hit_rate_max.is_some(),
            "false_hit_rate_max",
            &[Cache],
        );
        add(
            self.exact_min.is_some(),
            "exact_min",
            &[Cost, Usage, Streaming],
        );
        add(self.faithful_min.is_some(), "faithful_min", &[Streaming]);
        add(self.masked_max.is_some(), "masked_max", &[Errors]);
        add(self.leaks_max.is_some(), "leaks_max", &[Isolation]);
        add(
            self.cost_per_request_max.is_some(),
            "cost_per_request_max",
            &[App],
        );
        add(
            self.success_rate_min.is_some(),
            "success_rate_min",
            &[Concurrency, Resilience, App],
        );
        add(
            self.added_p95_ms_max.is_some(),
            "added_p95_ms_max",
            &[Concurrency],
        );
        add(self.p95_ms_max.is_some(), "p95_ms_max", &[Concurrency]);
        add(
            self.ready_within_s.is_some(),
            "ready_within_s",
            &[Resilience],
        );
        add(self.coverage_min.is_some(), "coverage_min", &[Endpoints]);
        add(
            self.linear_until_min.is_some(),
            "linear_until_min",
            &[Scale],
        );
        add(
            self.breaking_point_min.is_some(),
            "breaking_point_min",
            &[Scale],
        );
        add(
            self.growth_mb_per_min_max.is_some(),
            "growth_mb_per_min_max",
            &[Memory],
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_suites_parse() {
        let focused = SuiteFile::load("focused").unwrap();
        assert_eq!(focused.checks.len(), 5);
        let comprehensive = SuiteFile::load("comprehensive").unwrap();
        assert_eq!(comprehensive.checks.len(), 13);
        let conformance = SuiteFile::load("conformance").unwrap();
        assert_eq!(conformance.checks.len(), 7);
        let agents = SuiteFile::load("agents").unwrap();
        assert_eq!(agents.checks.len(), 6);
        for suite in [&focused, &comprehensive, &conformance, &agents] {
            for check in &suite.checks {
                for scenario in check
                    .scenario
                    .iter()
                    .chain(check.patterns.iter().map(|p| &p.scenario))
                {
                    assert!(
                        suite.resolve(scenario).is_file(),
                        "{}: {scenario}",
                        check.name
                    );
                }
            }
        }
    }

    /// A one-check suite file of `kind` whose table `table` holds `lines`, parsed.
    fn one_check(kind: &str, table: &str, lines: &str) -> Result<SuiteFile, SuiteFileError> {
        let text = format!(
            "name = \"x\"\n[[check]]\nname = \"c\"\nseverity = \"major\"\nkind = \"{kind}\"\nscenario = \"s.toml\"\n[{table}]\n{lines}\n"
        );
        SuiteFile::parse(&text, "my.toml", Path::new("."))
    }

    /// A target no measurement can be held to (a negative one, a share past 100 %)
    /// is refused.
    #[test]
    fn targets_out_of_range_are_refused() {
        let parse = |target: &str| one_check("cache", "check.targets", target);
        assert!(parse("hit_rate_min = 30").is_ok());
        for target in [
            "hit_rate_min = -30",
            "false_hit_rate_max = 150",
            "hit_rate_min = nan",
        ] {
            let error = parse(target).unwrap_err().to_string();
            assert!(error.contains("target `"), "{target}: {error}");
        }
    }

    /// A fault the mock would refuse once the suite runs is refused with the file
    /// before anything runs: a probability out of range, a misspelled kind.
    #[test]
    fn faults_a_mock_would_refuse_are_refused_with_the_file() {
        let parse = |faults: &str| one_check("resilience", "check.faults.openai", faults);
        assert!(parse("unavailable = 0.5\nserver_error = 0.1").is_ok());
        for (faults, said) in [
            ("unavailable = 1.5", "outside [0, 1]"),
            ("unavailabel = 1.0", "unavailabel"),
        ] {
            let error = parse(faults).unwrap_err().to_string();
            assert!(
                error.starts_with("my.toml: check `c`: faults.openai: ") && error.contains(said),
                "{faults}: {error}"
            );
        }
    }

    #[test]
    fn typos_name_the_line_and_key() {
        let text = "name = \"x\"\n[[check]]\nname = \"c\"\nseverity = \"major\"\nkind = \"cost\"\nscenario = \"s.toml\"\n[check.targets]\nexact_mn = 100\n";
        let error = SuiteFile::parse(text, "my.toml", Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("my.toml: ")
                && error.contains("line 8")
                && error.contains("exact_mn"),
            "{error}"
        );
    }

    #[test]
    fn a_resources_table_is_checked_like_a_scenarios() {
        let with = |table: &str| {
            format!(
                "name = \"x\"\n[resources]\n{table}[[check]]\nname = \"c\"\nseverity = \"major\"\nkind = \"cost\"\nscenario = \"s.toml\"\n"
            )
        };
        let file = SuiteFile::parse(
            &with("interval = \"2s\"\nthresholds = { process_rss_bytes = { warn = 1e9 } }\n"),
            "my.toml",
            Path::new("."),
        )
        .unwrap();
        let resources = file.resources.unwrap();
        assert_eq!(resources.interval, std::time::Duration::from_secs(2));
        let typo = SuiteFile::parse(&with("intervl = \"2s\"\n"), "my.toml", Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(
            typo.contains("line 3") && typo.contains("intervl"),
            "{typo}"
        );
        let inverted = SuiteFile::parse(
            &with("thresholds = { system_cpu_percent = { warn = 9, critical = 1 } }\n"),
            "my.toml",
            Path::new("."),
        )
        .unwrap_err()
        .to_string();
        assert!(
            inverted.contains("resources.thresholds.system_cpu_percent"),
            "{inverted}"
        );
    }

    #[test]
    fn targets_of_another_kind_are_refused() {
        let text = "name = \"x\"\n[[check]]\nname = \"c\"\nseverity = \"major\"\nkind = \"cost\"\nscenario = \"s.toml\"\n[check.targets]\nhit_rate_min = 10\n";
        let error = SuiteFile::parse(text, "my.toml", Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("check `c`") && error.contains("hit_rate_min"),
            "{error}"
        );
    }

    #[test]
    fn scale_checks_need_sound_steps() {
        let check = |scale: &str| {
            let text = format!(
                "name = \"x\"\n[[check]]\nname = \"s\"\nseverity = \"major\"\nkind = \"scale\"\nscenario = \"s.toml\"\n{scale}"
            );
            SuiteFile::parse(&text, "my.toml", Path::new("."))
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        assert!(check("[check.scale]\nsteps = [5, 10]\nstep_duration = \"2s\"\n").is_ok());
        let missing = check("").unwrap_err();
        assert!(missing.contains("[check.scale]"), "{missing}");
        let falling = check("[check.scale]\nsteps = [10, 5]\n").unwrap_err();
        assert!(
            falling.contains("check `s`") && falling.contains("scale.steps: steps must rise"),
            "{falling}"
        );
        let whole = check("[check.scale]\nmode = \"concurrency\"\nsteps = [1.5]\n").unwrap_err();
        assert!(whole.contains("whole number of VUs"), "{whole}");
        let typo = check("[check.scale]\nsteps = [1]\nstep_duraton = \"2s\"\n").unwrap_err();
        assert!(
            typo.contains("step_duraton") && typo.contains("line"),
            "{typo}"
        );
        let duration = check("[check.scale]\nsteps = [1]\nstep_duration = \"soon\"\n").unwrap_err();
        assert!(duration.contains("scale.step_duration"), "{duration}");
        let text = "name = \"x\"\n[[check]]\nname = \"c\"\nseverity = \"major\"\nkind = \"cost\"\nscenario = \"s.toml\"\n[check.scale]\nsteps = [1]\n";
        let error = SuiteFile::parse(text, "my.toml", Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(error.contains("does not apply to a Cost check"), "{error}");
        let soak = text.replace("[check.scale]\nsteps = [1]\n", "duration = \"20s\"\n");
        let error = SuiteFile::parse(&soak, "my.toml", Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("`duration`") && error.contains("not a Cost check"),
            "{error}"
        );
    }

    /// A one-check suite with `top` among the suite's keys and `stack` as the
    /// check's `[check.stack]` table, parsed; the table starts on line 8.
    fn with_stack(top: &str, stack: &str) -> Result<SuiteFile, String> {
        let text = format!(
            "name = \"x\"\n{top}\n[[check]]\nname = \"c\"\nseverity = \"major\"\nkind = \"cost\"\nscenario = \"s.toml\"\n[check.stack]\n{stack}\n"
        );
        SuiteFile::parse(&text, "my.toml", Path::new(".")).map_err(|e| e.to_string())
    }

    #[test]
    fn time_scales_follow_the_rule_of_the_flag() {
        for good in ["0", "0.0", "0.001", "0.1", "1", "1000"] {
            let top = with_stack(&format!("time_scale = {good}"), "").unwrap();
            assert_eq!(top.time_scale, good.parse::<f64>().unwrap());
            let check = with_stack("", &format!("time_scale = {good}")).unwrap();
            assert_eq!(
                check.checks[0].stack.time_scale,
                Some(good.parse::<f64>().unwrap())
            );
        }
        // 1e300 hangs the mocks; 1e-300 makes real-time equivalents absurd
        for bad in ["1e300", "1e-300", "-5", "nan", "inf", "0.0009", "1000.5"] {
            let top = with_stack(&format!("time_scale = {bad}"), "").unwrap_err();
            assert!(
                top.starts_with("my.toml: ")
                    && top.contains("line 2")
                    && top.contains("time_scale: ")
                    && top.contains("not a time scale"),
                "{bad}: {top}"
            );
            let check = with_stack("", &format!("time_scale = {bad}")).unwrap_err();
            assert!(
                check.starts_with("my.toml: ")
                    && check.contains("line 9")
                    && check.contains("stack.time_scale: ")
                    && check.contains("not a time scale"),
                "{bad}: {check}"
            );
        }
    }

    #[test]
    fn a_cache_threshold_is_a_similarity() {
        for good in ["0", "0.5", "1.0"] {
            let file = with_stack("", &format!("cache_threshold = {good}")).unwrap();
            assert_eq!(
                file.checks[0].stack.cache_threshold,
                Some(good.parse::<f32>().unwrap())
            );
        }
        for bad in ["nan", "-nan", "inf", "-0.1", "1.5"] {
            let error = with_stack("", &format!("cache_threshold = {bad}")).unwrap_err();
            assert!(
                error.starts_with("my.toml: ")
                    && error.contains("line 9")
                    && error.contains("stack.cache_threshold: "),
                "{bad}: {error}"
            );
        }
    }

    #[test]
    fn an_upstream_without_slots_is_refused_when_read() {
        let file = with_stack("", "concurrency = { openai = 1, deepseek = 4 }").unwrap();
        assert_eq!(file.checks[0].stack.concurrency["openai"], 1);
        for table in [
            "concurrency = { openai = 0 }",
            "concurrency = { openai = 4, deepseek = 0 }",
        ] {
            let error = with_stack("", table).unwrap_err();
            assert!(
                error.starts_with("my.toml: ")
                    && error.contains("line 9")
                    && error.contains("stack.concurrency.")
                    && error.contains("at least 1"),
                "{table}: {error}"
            );
        }
        let nested = with_stack("", "[check.stack.concurrency]\nopenai = 0").unwrap_err();
        assert!(
            nested.contains("stack.concurrency.openai") && nested.contains("line "),
            "{nested}"
        );
        // an empty queue is a setting (every request overflows), not a mistake
        let file = with_stack("", "queue_capacity = { openai = 0 }").unwrap();
        assert_eq!(file.checks[0].stack.queue_capacity["openai"], 0);
    }

    #[test]
    fn stack_tables_name_providers_the_stack_has() {
        for (table, key) in [
            ("concurrency = { opnai = 4 }", "stack.concurrency.opnai"),
            (
                "queue_capacity = { anthropic = 8 }",
                "stack.queue_capacity.anthropic",
            ),
        ] {
            let error = with_stack("", table).unwrap_err();
            assert!(
                error.contains("line 9") && error.contains(key) && error.contains("openai"),
                "{table}: {error}"
            );
        }
    }

    #[test]
    fn bad_severities_and_kinds_are_refused() {
        for bad in [
            "severity = \"huge\"\nkind = \"cost\"",
            "severity = \"major\"\nkind = \"vibes\"",
        ] {
            let text =
                format!("name = \"x\"\n[[check]]\nname = \"c\"\n{bad}\nscenario = \"s.toml\"\n");
            assert!(
                SuiteFile::parse(&text, "my.toml", Path::new(".")).is_err(),
                "{bad}"
            );
        }
    }
}
