//! Target profiles: where a target reports what it did (its *claims*), so that the
//! suites can compare each claim with the truth the mocks keep.
//!
//! Presets `gatebench`, `litellm` and `generic` are built in
//! (`scenarios/targets/profiles/`); any other name is a TOML file of the same shape.
//! A claim a profile does not name is not claimed. Unknown keys are errors naming
//! the file, line and key.

use std::collections::BTreeMap;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::Deserialize;

use gatebench_driver::RequestRecord;

const GATEBENCH: &str = include_str!("../../../scenarios/targets/profiles/gatebench.toml");
const LITELLM: &str = include_str!("../../../scenarios/targets/profiles/litellm.toml");
const GENERIC: &str = include_str!("../../../scenarios/targets/profiles/generic.toml");

/// A target profile.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetProfile {
    /// Its name (shown in reports).
    pub name: String,
    /// What it describes.
    #[serde(default)]
    pub description: String,
    /// A per-response cost header.
    #[serde(default)]
    pub cost: Option<CostClaim>,
    /// A per-response cache header.
    #[serde(default)]
    pub cache: Option<CacheClaim>,
    /// The target's own request id header.
    #[serde(default)]
    pub request_id: Option<HeaderClaim>,
    /// The request header a target reads a request's priority class from; without
    /// it, scenarios' priorities are not sent.
    #[serde(default)]
    pub priority: Option<HeaderClaim>,
    /// A ledger endpoint of billed calls.
    #[serde(default)]
    pub ledger: Option<PathClaim>,
    /// A settings endpoint (gatebench's `/v1/gatebench/config`).
    #[serde(default)]
    pub config: Option<PathClaim>,
    /// Model names at the target → the model the mocks serve them with.
    #[serde(default)]
    pub models: BTreeMap<String, String>,
    /// Prometheus series the resource monitor scrapes from the target during each
    /// run, unless the suite or scenario names its own (`url` a path on the target).
    #[serde(default)]
    pub prometheus: Option<gatebench_driver::monitor::PrometheusConfig>,
}

/// How a cost is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CostFormat {
    /// Exact decimal text: must equal the truth to the last digit.
    #[default]
    Decimal,
    /// A binary float printed as text (`0.00021824999999999997`, `4.66e-05`):
    /// rounding of the last bits is told apart from a wrong figure.
    Float,
}

/// A per-response cost header.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CostClaim {
    /// Header name.
    pub header: String,
    /// How the figure is written.
    #[serde(default)]
    pub format: CostFormat,
    /// Also sent on streamed answers.
    #[serde(default)]
    pub streams: bool,
    /// Also sent on cache hits.
    #[serde(default)]
    pub cache_hits: bool,
    /// Request kinds it is sent on (default: chat).
    #[serde(default = "chat_only")]
    pub kinds: Vec<String>,
}

fn chat_only() -> Vec<String> {
    vec!["chat".to_owned()]
}

/// A per-response cache header.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheClaim {
    /// Header name.
    pub header: String,
    /// Values meaning a hit (case-insensitive); empty: the header's presence is a hit.
    #[serde(default)]
    pub hit: Vec<String>,
    /// Values meaning a miss; empty: any value that is not a hit.
    #[serde(default)]
    pub miss: Vec<String>,
}

/// A header.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderClaim {
    /// Header name.
    pub header: String,
}

/// An endpoint.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathClaim {
    /// Path on the target.
    pub path: String,
}

/// A profile that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// Unreadable.
    #[error("cannot read target profile {path}: {source}")]
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
}

/// What a response claimed about the cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheSays {
    /// A hit.
    Hit,
    /// A miss (or a bypass).
    Miss,
}

/// A cost claim as read from a header.
#[derive(Clone, Debug, PartialEq)]
pub struct ClaimedCost {
    /// The text as sent.
    pub text: String,
    /// Its exact value (a float's text read as the decimal it spells).
    pub value: Decimal,
}

impl TargetProfile {
    /// A preset (`gatebench`, `litellm`, `generic`) or a profile file.
    pub fn load(name_or_path: &str) -> Result<TargetProfile, ProfileError> {
        let preset = match name_or_path {
            "gatebench" => Some(GATEBENCH),
            "litellm" => Some(LITELLM),
            "generic" => Some(GENERIC),
            _ => None,
        };
        match preset {
            Some(text) => Self::parse(text, &format!("<preset {name_or_path}>")),
            None => {
                let text =
                    std::fs::read_to_string(name_or_path).map_err(|source| ProfileError::Read {
                        path: name_or_path.to_owned(),
                        source,
                    })?;
                Self::parse(&text, name_or_path)
            }
        }
    }

    /// Parses a profile; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<TargetProfile, ProfileError> {
        let profile: TargetProfile = toml::from_str(text).map_err(|e| ProfileError::Parse {
            origin: origin.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        if let Some(Err((key, message))) = profile.prometheus.as_ref().map(|p| p.check()) {
            return Err(ProfileError::Parse {
                origin: origin.to_owned(),
                message: format!("prometheus.{key}: {message}"),
            });
        }
        Ok(profile)
    }

    /// The response headers the driver must keep for this profile's claims.
    pub fn headers(&self) -> Vec<String> {
        let mut out: Vec<String> = [
            self.cost.as_ref().map(|c| c.header.clone()),
            self.cache.as_ref().map(|c| c.header.clone()),
            self.request_id.as_ref().map(|c| c.header.clone()),
        ]
        .into_iter()
        .flatten()
        .map(|h| h.to_ascii_lowercase())
        .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The cost a response claimed, if the profile names a cost header and the
    /// response carried one. `Err` when it carried one that is not a number.
    pub fn claimed_cost(&self, record: &RequestRecord) -> Option<Result<ClaimedCost, String>> {
        let claim = self.cost.as_ref()?;
        let text = record.claims.get(&claim.header.to_ascii_lowercase())?;
        Some(parse_cost(text.trim()).map(|value| ClaimedCost {
            text: text.clone(),
            value,
        }))
    }

    /// Whether the profile's cost header is expected on this response.
    pub fn cost_expected(&self, record: &RequestRecord, stream: bool, hit: bool) -> bool {
        self.cost.as_ref().is_some_and(|c| {
            c.kinds.iter().any(|k| k == &record.kind)
                && (c.streams || !stream)
                && (c.cache_hits || !hit)
        })
    }

    /// What a response claimed about the cache, if the profile names a header.
    pub fn cache_says(&self, record: &RequestRecord) -> Option<CacheSays> {
        let claim = self.cache.as_ref()?;
        let value = record.claims.get(&claim.header.to_ascii_lowercase());
        let is = |list: &[String], v: &str| list.iter().any(|x| x.eq_ignore_ascii_case(v.trim()));
        Some(match value {
            None if claim.hit.is_empty() => CacheSays::Miss,
            None => return None,
            Some(_) if claim.hit.is_empty() => CacheSays::Hit,
            Some(v) if is(&claim.hit, v) => CacheSays::Hit,
            Some(v) if claim.miss.is_empty() || is(&claim.miss, v) => CacheSays::Miss,
            Some(_) => return None,
        })
    }

    /// What to ask the target for, by the model the mocks serve: the profile's
    /// aliases turned around.
    pub fn target_models(&self) -> BTreeMap<String, String> {
        self.models
            .iter()
            .map(|(alias, upstream)| (upstream.clone(), alias.clone()))
            .collect()
    }
}

/// A cost figure as text: a plain decimal (`0.00021825`), a float's long expansion
/// (`0.00021824999999999997`) or scientific notation (`4.6649999999999996e-05`),
/// read exactly as written.
pub fn parse_cost(text: &str) -> Result<Decimal, String> {
    let bad = || format!("`{text}` is not a number");
    if let Ok(value) = Decimal::from_str(text) {
        return Ok(value);
    }
    let (mantissa, exponent) = text.split_once(['e', 'E']).ok_or_else(bad)?;
    let mantissa = Decimal::from_str(mantissa).map_err(|_| bad())?;
    let exponent: i32 = exponent.parse().map_err(|_| bad())?;
    if exponent.unsigned_abs() > 28 {
        return Err(bad());
    }
    let ten = Decimal::TEN;
    let mut value = mantissa;
    for _ in 0..exponent.unsigned_abs() {
        value = if exponent < 0 {
            value / ten
        } else {
            value.checked_mul(ten).ok_or_else(bad)?
        };
    }
    Ok(value)
}

/// How a claimed cost compares with the truth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CostMatch {
    /// Equal to the last digit.
    Exact,
    /// Differs only by binary-float rounding (relative error below 1e-12), which a
    /// `float` profile allows.
    FloatRounding,
    /// Wrong: a price, a token count or a unit is off.
    Wrong,
}

/// Compares a claimed cost with the true one.
pub fn compare_cost(claimed: Decimal, truth: Decimal, format: CostFormat) -> CostMatch {
    if claimed == truth {
        return CostMatch::Exact;
    }
    if format == CostFormat::Float {
        let diff = (claimed - truth).abs();
        let scale = truth.abs().max(claimed.abs());
        // 1e-12 relative: float rounding is near 1e-16; a wrong price or one token
        // more is far above this.
        if !scale.is_zero() && diff * Decimal::from(1_000_000_000_000u64) <= scale {
            return CostMatch::FloatRounding;
        }
    }
    CostMatch::Wrong
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_load_and_typos_name_the_key() {
        for name in ["gatebench", "litellm", "generic"] {
            let profile = TargetProfile::load(name).unwrap();
            assert_eq!(profile.name, name);
        }
        let gatebench = TargetProfile::load("gatebench").unwrap();
        assert_eq!(
            gatebench.headers(),
            [
                "x-gatebench-cache",
                "x-gatebench-cost-usd",
                "x-gatebench-request-id"
            ]
        );
        let error = TargetProfile::parse("name = \"x\"\n[cost]\nheadr = \"x\"\n", "mine.toml")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("mine.toml") && error.contains("headr"),
            "{error}"
        );
    }

    #[test]
    fn float_costs_are_read_exactly_and_rounding_is_told_from_error() {
        let d = |s: &str| Decimal::from_str(s).unwrap();
        assert_eq!(
            parse_cost("0.00021824999999999997").unwrap(),
            d("0.00021824999999999997")
        );
        assert_eq!(
            parse_cost("4.6649999999999996e-05").unwrap(),
            d("0.000046649999999999996")
        );
        assert_eq!(parse_cost("1.5E2").unwrap(), d("150"));
        assert!(parse_cost("cheap").is_err());
        let truth = d("0.00021825");
        assert_eq!(
            compare_cost(d("0.00021825"), truth, CostFormat::Decimal),
            CostMatch::Exact
        );
        assert_eq!(
            compare_cost(d("0.00021824999999999997"), truth, CostFormat::Float),
            CostMatch::FloatRounding
        );
        assert_eq!(
            compare_cost(d("0.00021824999999999997"), truth, CostFormat::Decimal),
            CostMatch::Wrong
        );
        // one output token more of gpt-4o-mini
        assert_eq!(
            compare_cost(d("0.00021885"), truth, CostFormat::Float),
            CostMatch::Wrong
        );
    }

    #[test]
    fn cache_claims_by_value_or_presence() {
        let record = |claims: &[(&str, &str)]| {
            let mut r: RequestRecord = serde_json::from_value(serde_json::json!({
                "scenario": "s", "request": "r", "kind": "chat", "intended_ms": 0.0,
                "sent_ms": 0.0, "latency_ms": 1.0, "latency_uncorrected_ms": 1.0,
                "status": 200, "outcome": "ok",
            }))
            .unwrap();
            r.claims = claims
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            r
        };
        let gatebench = TargetProfile::load("gatebench").unwrap();
        assert_eq!(
            gatebench.cache_says(&record(&[("x-gatebench-cache", "HIT")])),
            Some(CacheSays::Hit)
        );
        assert_eq!(
            gatebench.cache_says(&record(&[("x-gatebench-cache", "bypass")])),
            None
        );
        assert_eq!(gatebench.cache_says(&record(&[])), None);
        let litellm = TargetProfile::load("litellm").unwrap();
        assert_eq!(
            litellm.cache_says(&record(&[("x-litellm-cache-key", "abc")])),
            Some(CacheSays::Hit)
        );
        assert_eq!(litellm.cache_says(&record(&[])), Some(CacheSays::Miss));
        assert_eq!(
            TargetProfile::load("generic")
                .unwrap()
                .cache_says(&record(&[])),
            None
        );
    }
}
