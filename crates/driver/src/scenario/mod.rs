//! Scenario files: what load to generate, with which requests, judged by which
//! thresholds.
//!
//! A file holds either one scenario (top-level `[load]` and `[[requests]]`) or several
//! (`[scenarios.NAME]` tables, each with its own `load` and `requests` and an optional
//! `load.start_time`), like k6's `scenarios`. Thresholds apply to the whole file and
//! select scenarios and requests by name.
//!
//! ```toml
//! name = "story-mix"
//! seed = 42
//! [load]
//! executor = "constant-arrival-rate"
//! rate = 20
//! duration = "60s"
//! max_vus = 200
//! [[requests]]
//! name = "story"
//! kind = "chat"
//! stream = true
//! prompts = "fixtures/prompts/stories.toml"
//! [thresholds]
//! "latency{request:story}" = ["p95 < 8s"]
//! errors = [{ threshold = "rate < 1%", abort_on_fail = true, delay_abort_eval = "10s" }]
//! ```

mod error;
mod load;
mod raw;
mod request;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use error::ScenarioError;
pub(crate) use error::{Locator, read_text};
pub use load::{
    DEFAULT_GRACEFUL_STOP, DEFAULT_MAX_DURATION, DEFAULT_MAX_VUS, DEFAULT_TIMEOUT, Executor, Load,
    MAX_RATE, MAX_VUS, Stage,
};
pub use request::{
    DEFAULT_CHAT_MODEL, DEFAULT_EMBEDDINGS_MODEL, DEFAULT_PROFILES, DEFAULT_TEXTS,
    DEFAULT_TTS_MODEL, DEFAULT_VOICE, Kind, RequestSpec,
};

use crate::fixtures::{Catalog, CatalogCache, CatalogKind, resolve};
use crate::threshold::{self, Threshold};
use raw::RawFile;

/// A loaded, checked scenario file.
#[derive(Clone, Debug, PartialEq)]
pub struct ScenarioFile {
    /// Where it was loaded from.
    pub path: PathBuf,
    /// Name (from `name`, else the file stem).
    pub name: String,
    /// Seed of every draw (payloads, think times); the CLI may override it.
    pub seed: u64,
    /// The scenarios, each with its load and requests.
    pub scenarios: Vec<Scenario>,
    /// Thresholds over the whole run.
    pub thresholds: Vec<Threshold>,
    /// Settings of the degradation detector (`[degradation]`); none: its defaults.
    pub degradation: Option<gatebench_analysis::DegradationConfig>,
    /// What the resource monitor watches and judges (`[resources]`); none: the
    /// machine and gatebench's own process each second, no thresholds.
    pub resources: Option<gatebench_monitor::ResourcesConfig>,
}

/// One scenario: a load model and a weighted mix of requests.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// Name (the file's name for single-scenario files).
    pub name: String,
    /// Load model.
    pub load: Load,
    /// Requests with their catalogs.
    pub requests: Vec<Request>,
}

/// A request and the catalog its payloads come from.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// The request as written.
    pub spec: RequestSpec,
    /// Loaded catalog (none for `http`).
    pub catalog: Option<Arc<Catalog>>,
    /// The tools its requests offer, as loaded from `tools`.
    pub tools: Option<Arc<serde_json::Value>>,
    /// What each tool returns, by name, as loaded from `tool_outputs`.
    pub tool_outputs: Arc<BTreeMap<String, String>>,
}

impl Scenario {
    /// Loads and checks a scenario file (the same as [`ScenarioFile::load`]).
    pub fn load(path: impl AsRef<Path>) -> Result<ScenarioFile, ScenarioError> {
        ScenarioFile::load(path)
    }
}

impl ScenarioFile {
    /// Loads and checks a scenario file and the catalogs it names.
    pub fn load(path: impl AsRef<Path>) -> Result<ScenarioFile, ScenarioError> {
        let path = path.as_ref();
        let text = error::read_text(path)?;
        ScenarioFile::parse(path, &text)
    }

    /// Checks scenario text as if it were the file at `path` (catalogs are found
    /// relative to it).
    pub fn parse(path: &Path, text: &str) -> Result<ScenarioFile, ScenarioError> {
        let loc = Locator::new(path, text);
        let raw: RawFile = loc.parse(text)?;
        let base = path.parent().unwrap_or(Path::new(".")).to_owned();
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "scenario".into());
        let name = raw.name.clone().unwrap_or_else(|| stem.clone());
        let mut cache = CatalogCache::default();
        let mut scenarios = Vec::new();
        if raw.scenarios.is_empty() {
            let load = raw.load.as_ref().ok_or_else(|| {
                loc.error(
                    None,
                    "load",
                    "missing `[load]` (or `[scenarios.NAME]` tables)",
                )
            })?;
            let load = load::check(load, "load", &loc)?;
            let requests = check_requests(&raw.requests, "requests", &base, &loc, &mut cache)?;
            scenarios.push(Scenario {
                name: name.clone(),
                load,
                requests,
            });
        } else {
            if let Some(l) = &raw.load {
                return Err(loc.error(Some(l.span()), "load", "give `[load]` inside each `[scenarios.NAME]`, not at the top level, when `scenarios` is used"));
            }
            if let Some(r) = raw.requests.first() {
                return Err(loc.error(Some(r.span()), "requests", "give `requests` inside each `[scenarios.NAME]`, not at the top level, when `scenarios` is used"));
            }
            for (sname, s) in &raw.scenarios {
                let prefix = format!("scenarios.{sname}");
                let load = load::check(&s.get_ref().load, &format!("{prefix}.load"), &loc)?;
                let requests = check_requests(
                    &s.get_ref().requests,
                    &format!("{prefix}.requests"),
                    &base,
                    &loc,
                    &mut cache,
                )
                .map_err(|e| match e {
                    ScenarioError::Invalid { key, message, .. }
                        if key == format!("{prefix}.requests") =>
                    {
                        loc.error(Some(s.span()), key, message)
                    }
                    other => other,
                })?;
                scenarios.push(Scenario {
                    name: sname.clone(),
                    load,
                    requests,
                });
            }
        }
        // every `[[requests]]` list as written, to point at the second use of a name
        let lists = std::iter::once(("requests".to_owned(), &raw.requests)).chain(
            raw.scenarios
                .iter()
                .map(|(name, s)| (format!("scenarios.{name}.requests"), &s.get_ref().requests)),
        );
        let mut names = BTreeSet::new();
        for (list, requests) in lists {
            for (i, r) in requests.iter().enumerate() {
                let name = &r.get_ref().name;
                if !names.insert(name.as_str()) {
                    return Err(loc.error(
                        Some(r.span()),
                        format!("{list}[{i}].name"),
                        format!(
                            "request name `{name}` is used twice; names must be unique in the file"
                        ),
                    ));
                }
            }
        }
        let scenario_names: BTreeSet<String> = scenarios.iter().map(|s| s.name.clone()).collect();
        let mut thresholds = Vec::new();
        for (key, value) in &raw.thresholds {
            let parsed = threshold::from_toml(key.get_ref(), value.get_ref()).map_err(|e| {
                loc.error(
                    Some(key.span()),
                    format!("thresholds.\"{}\"", key.get_ref()),
                    e.to_string(),
                )
            })?;
            for t in &parsed {
                if let Some(r) = &t.selector.request
                    && !names.contains(r.as_str())
                {
                    return Err(loc.error(
                        Some(key.span()),
                        format!("thresholds.\"{}\"", key.get_ref()),
                        format!("no request is named `{r}`"),
                    ));
                }
                if let Some(s) = &t.selector.scenario
                    && !scenario_names.contains(s)
                {
                    return Err(loc.error(
                        Some(key.span()),
                        format!("thresholds.\"{}\"", key.get_ref()),
                        format!("no scenario is named `{s}`"),
                    ));
                }
            }
            thresholds.extend(parsed);
        }
        let degradation = match &raw.degradation {
            Some(d) => {
                if let Err((key, message)) = check_degradation(d.get_ref()) {
                    return Err(loc.error(Some(d.span()), format!("degradation.{key}"), message));
                }
                Some(d.get_ref().clone())
            }
            None => None,
        };
        let resources = match &raw.resources {
            Some(r) => {
                if let Err((key, message)) = r.get_ref().check() {
                    return Err(loc.error(Some(r.span()), format!("resources.{key}"), message));
                }
                Some(r.get_ref().clone())
            }
            None => None,
        };
        Ok(ScenarioFile {
            path: path.to_owned(),
            name,
            seed: raw.seed.unwrap_or(0),
            scenarios,
            thresholds,
            degradation,
            resources,
        })
    }

    /// Planned length of the whole run: the latest scenario end.
    pub fn planned_duration(&self) -> Duration {
        self.scenarios
            .iter()
            .map(|s| s.load.start_time + s.load.executor.duration())
            .max()
            .unwrap_or_default()
    }

    /// The same file squeezed (or stretched) to last `total`: every start time,
    /// duration and stage is scaled by the same factor, so the shape of the load stays.
    pub fn with_duration(&self, total: Duration) -> ScenarioFile {
        let planned = self.planned_duration();
        if planned.is_zero() || total.is_zero() {
            return self.clone();
        }
        let factor = total.as_secs_f64() / planned.as_secs_f64();
        let mut out = self.clone();
        for s in &mut out.scenarios {
            s.load.start_time = s.load.start_time.mul_f64(factor);
            s.load.executor = s.load.executor.scaled(factor);
        }
        out
    }
}

/// Settings of the detector that cannot work: the key and why.
fn check_degradation(
    d: &gatebench_analysis::DegradationConfig,
) -> Result<(), (&'static str, String)> {
    if !(d.factor > 1.0 && d.factor.is_finite()) {
        return Err(("factor", format!("must be above 1, not {}", d.factor)));
    }
    for (key, value) in [("baseline_s", d.baseline_s), ("window_s", d.window_s)] {
        if value == 0 {
            return Err((key, "must be at least 1 second".to_owned()));
        }
    }
    if d.trend_window_s < 3 {
        return Err(("trend_window_s", "must be at least 3 seconds".to_owned()));
    }
    if !(0.0..=1.0).contains(&d.min_error_rate) {
        return Err((
            "min_error_rate",
            format!("must be between 0 and 1, not {}", d.min_error_rate),
        ));
    }
    for (key, value) in [
        ("anomaly_score", d.anomaly_score),
        ("horizon_s", d.horizon_s),
        (
            "latency_threshold_ms",
            d.latency_threshold_ms.unwrap_or(1.0),
        ),
    ] {
        if !(value > 0.0 && value.is_finite()) {
            return Err((key, format!("must be above 0, not {value}")));
        }
    }
    Ok(())
}

/// A tools file: a JSON array of at least one tool, each an object naming its
/// `type`, as the Responses API takes them.
fn check_tools(tools: &serde_json::Value) -> Result<(), String> {
    let Some(list) = tools.as_array().filter(|l| !l.is_empty()) else {
        return Err("must be a JSON array of at least one tool".into());
    };
    match list
        .iter()
        .position(|t| !t.get("type").is_some_and(serde_json::Value::is_string))
    {
        Some(i) => Err(format!(
            "tool {i} is not an object with a `type` (\"function\", say)"
        )),
        None => Ok(()),
    }
}

/// A tool outputs file, a JSON object of what each tool returns by name, as
/// sent: a string as it is, any other value as its JSON text.
fn tool_outputs(outputs: serde_json::Value) -> Result<BTreeMap<String, String>, String> {
    let serde_json::Value::Object(outputs) = outputs else {
        return Err("must be a JSON object of each tool's output, by the tool's name".into());
    };
    Ok(outputs
        .into_iter()
        .map(|(name, output)| match output {
            serde_json::Value::String(text) => (name, text),
            other => (name, other.to_string()),
        })
        .collect())
}

fn check_requests(
    raw: &[toml::Spanned<raw::RawRequest>],
    prefix: &str,
    base: &Path,
    loc: &Locator,
    cache: &mut CatalogCache,
) -> Result<Vec<Request>, ScenarioError> {
    if raw.is_empty() {
        return Err(loc.error(None, prefix, "needs at least one `[[requests]]` entry"));
    }
    let mut out = Vec::with_capacity(raw.len());
    for (i, r) in raw.iter().enumerate() {
        let key = format!("{prefix}[{i}]");
        let spec = request::check(r, &key, loc)?;
        let catalog = match &spec.catalog {
            None => None,
            Some(rel) => {
                let (field, kind) = match spec.kind {
                    Kind::Chat | Kind::Completions | Kind::Responses | Kind::Embeddings => {
                        ("prompts", CatalogKind::Prompts)
                    }
                    Kind::Personality => ("profiles", CatalogKind::Profiles),
                    _ => ("texts", CatalogKind::Texts),
                };
                let found = resolve(base, rel).ok_or_else(|| {
                    loc.error(Some(r.span()), format!("{key}.{field}"), format!("catalog `{}` not found next to the scenario, in its parent folders or in the working directory", rel.display()))
                })?;
                Some(cache.load(&found, kind)?)
            }
        };
        // an error about the JSON file the request names in `field`: it names the
        // file as written and the key
        let error = |field: &str, rel: &Path, message: String| {
            let message = format!("{}: {message}", rel.display());
            loc.error(Some(r.span()), format!("{key}.{field}"), message)
        };
        let json = |field: &str, rel: &Path| -> Result<serde_json::Value, ScenarioError> {
            let found = resolve(base, rel).ok_or_else(|| {
                error(field, rel, "not found next to the scenario, in its parent folders or in the working directory".into())
            })?;
            let text =
                std::fs::read_to_string(&found).map_err(|e| error(field, rel, e.to_string()))?;
            serde_json::from_str(&text).map_err(|e| error(field, rel, format!("not JSON: {e}")))
        };
        let tools = match &spec.tools {
            None => None,
            Some(rel) => {
                let tools = json("tools", rel)?;
                check_tools(&tools).map_err(|m| error("tools", rel, m))?;
                Some(Arc::new(tools))
            }
        };
        let tool_outputs = match &spec.tool_outputs {
            None => BTreeMap::new(),
            Some(rel) => tool_outputs(json("tool_outputs", rel)?)
                .map_err(|m| error("tool_outputs", rel, m))?,
        };
        out.push(Request {
            spec,
            catalog,
            tools,
            tool_outputs: Arc::new(tool_outputs),
        });
    }
    if out.iter().all(|r| r.spec.weight == 0.0) {
        return Err(loc.error(None, prefix, "every request has weight 0"));
    }
    Ok(out)
}
