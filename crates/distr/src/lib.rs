//! Delay distributions with a compact text syntax.
//!
//! The mocks draw time-to-first-token, per-token and per-character delays from these;
//! the driver draws think times from them. One syntax serves both, in TOML files and
//! on the command line:
//!
//! | text                          | meaning                                         |
//! |-------------------------------|-------------------------------------------------|
//! | `250ms` or `fixed(250ms)`     | always 250 ms                                   |
//! | `uniform(100ms, 300ms)`       | uniform between the two bounds                  |
//! | `normal(300ms, 50ms)`         | mean and standard deviation, clamped at 0       |
//! | `lognormal(390ms, 1.2s)`      | log-normal given its median and its p99         |
//! | `exponential(200ms)`          | exponential with this mean                      |
//!
//! Durations take the units `us`, `ms`, `s`, `m` and `h`, with a decimal part if
//! needed (`1.5s`). Draws are pure functions of the generator passed in, so a seeded
//! generator makes every draw repeatable.

mod duration;
pub mod serde_duration;
pub mod toml_key;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use rand::Rng;
use rand_distr::{Distribution as _, Exp, LogNormal, Normal};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use duration::{ParseDurationError, format_duration, parse_duration};

/// z-score of the 99th percentile of the standard normal distribution.
const Z_P99: f64 = 2.326_347_874_040_841;

/// A distribution of delays.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Delay {
    /// Always the same delay.
    Fixed(Duration),
    /// Uniform between `low` and `high` (inclusive).
    Uniform {
        /// Lower bound.
        low: Duration,
        /// Upper bound.
        high: Duration,
    },
    /// Normal with this mean and standard deviation; negative draws become zero.
    Normal {
        /// Mean.
        mean: Duration,
        /// Standard deviation.
        std_dev: Duration,
    },
    /// Log-normal described by its median and its 99th percentile, the two figures
    /// latency reports usually publish.
    LogNormal {
        /// Median (p50).
        median: Duration,
        /// 99th percentile.
        p99: Duration,
    },
    /// Exponential with this mean (memoryless waits, e.g. Poisson arrivals).
    Exponential {
        /// Mean.
        mean: Duration,
    },
}

/// Why a distribution could not be parsed.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ParseDelayError {
    /// The text is not one of the known forms.
    #[error(
        "unknown distribution `{0}`: expected a duration, fixed(..), uniform(..), normal(..), lognormal(..) or exponential(..)"
    )]
    UnknownForm(String),
    /// The form is known but takes another number of arguments.
    #[error("`{name}` takes {expected} argument(s), got {got}")]
    Arity {
        /// Distribution name.
        name: &'static str,
        /// Arguments it takes.
        expected: usize,
        /// Arguments given.
        got: usize,
    },
    /// An argument is not a duration.
    #[error(transparent)]
    Duration(#[from] ParseDurationError),
    /// The arguments are durations but do not describe a distribution.
    #[error("{0}")]
    Invalid(String),
}

impl Delay {
    /// A distribution that always yields zero.
    pub const ZERO: Delay = Delay::Fixed(Duration::ZERO);

    /// Draws one delay.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Duration {
        let secs = match *self {
            Delay::Fixed(d) => return d,
            Delay::Uniform { low, high } => {
                let (lo, hi) = (low.as_secs_f64(), high.as_secs_f64());
                lo + (hi - lo) * unit(rng)
            }
            Delay::Normal { mean, std_dev } => {
                match Normal::new(mean.as_secs_f64(), std_dev.as_secs_f64()) {
                    Ok(n) => n.sample(rng),
                    Err(_) => mean.as_secs_f64(),
                }
            }
            Delay::LogNormal { median, .. } if median.is_zero() => 0.0,
            Delay::LogNormal { median, p99 } => {
                let (mu, sigma) = lognormal_params(median, p99);
                match LogNormal::new(mu, sigma) {
                    Ok(d) => d.sample(rng),
                    Err(_) => median.as_secs_f64(),
                }
            }
            Delay::Exponential { mean } => {
                let m = mean.as_secs_f64();
                if m <= 0.0 {
                    0.0
                } else {
                    match Exp::new(1.0 / m) {
                        Ok(d) => d.sample(rng),
                        Err(_) => m,
                    }
                }
            }
        };
        Duration::from_secs_f64(secs.clamp(0.0, MAX_DRAW_SECS))
    }

    /// The distribution's mean, for planning (capacity estimates, budgets of time).
    pub fn mean(&self) -> Duration {
        let secs = match *self {
            Delay::Fixed(d) => d.as_secs_f64(),
            Delay::Uniform { low, high } => (low.as_secs_f64() + high.as_secs_f64()) / 2.0,
            Delay::Normal { mean, .. } => mean.as_secs_f64(),
            Delay::LogNormal { median, p99 } => {
                let (mu, sigma) = lognormal_params(median, p99);
                (mu + sigma * sigma / 2.0).exp()
            }
            Delay::Exponential { mean } => mean.as_secs_f64(),
        };
        Duration::from_secs_f64(secs.clamp(0.0, MAX_DRAW_SECS))
    }

    /// The same distribution with every delay multiplied by `factor` (≥ 0).
    pub fn scaled(&self, factor: f64) -> Delay {
        let f = |d: Duration| {
            Duration::from_secs_f64((d.as_secs_f64() * factor.max(0.0)).min(MAX_DRAW_SECS))
        };
        match *self {
            Delay::Fixed(d) => Delay::Fixed(f(d)),
            Delay::Uniform { low, high } => Delay::Uniform {
                low: f(low),
                high: f(high),
            },
            Delay::Normal { mean, std_dev } => Delay::Normal {
                mean: f(mean),
                std_dev: f(std_dev),
            },
            Delay::LogNormal { median, p99 } => Delay::LogNormal {
                median: f(median),
                p99: f(p99),
            },
            Delay::Exponential { mean } => Delay::Exponential { mean: f(mean) },
        }
    }
}

/// Upper bound of any draw: a day. Keeps a wild p99 from overflowing a `Duration`.
const MAX_DRAW_SECS: f64 = 86_400.0;

fn unit<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    // 53 random bits make a uniform f64 in [0, 1].
    (rng.next_u64() >> 11) as f64 / ((1u64 << 53) - 1) as f64
}

fn lognormal_params(median: Duration, p99: Duration) -> (f64, f64) {
    let median = median.as_secs_f64().max(1e-9);
    let mu = median.ln();
    let sigma = ((p99.as_secs_f64().max(median)).ln() - mu) / Z_P99;
    (mu, sigma.max(0.0))
}

impl Default for Delay {
    fn default() -> Self {
        Delay::ZERO
    }
}

impl FromStr for Delay {
    type Err = ParseDelayError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let Some(open) = text.find('(') else {
            return Ok(Delay::Fixed(
                parse_duration(text).map_err(|_| ParseDelayError::UnknownForm(text.to_owned()))?,
            ));
        };
        let Some(inner) = text[open + 1..].strip_suffix(')') else {
            return Err(ParseDelayError::UnknownForm(text.to_owned()));
        };
        let args: Vec<Duration> = inner
            .split(',')
            .map(|a| parse_duration(a.trim()))
            .collect::<Result<_, _>>()?;
        let name = text[..open].trim().to_ascii_lowercase();
        let want = |name: &'static str, expected: usize| {
            if args.len() == expected {
                Ok(())
            } else {
                Err(ParseDelayError::Arity {
                    name,
                    expected,
                    got: args.len(),
                })
            }
        };
        match name.as_str() {
            "fixed" | "const" => {
                want("fixed", 1)?;
                Ok(Delay::Fixed(args[0]))
            }
            "uniform" => {
                want("uniform", 2)?;
                if args[0] > args[1] {
                    return Err(ParseDelayError::Invalid(format!(
                        "uniform({}, {}): the lower bound is above the upper bound",
                        format_duration(args[0]),
                        format_duration(args[1])
                    )));
                }
                Ok(Delay::Uniform {
                    low: args[0],
                    high: args[1],
                })
            }
            "normal" => {
                want("normal", 2)?;
                Ok(Delay::Normal {
                    mean: args[0],
                    std_dev: args[1],
                })
            }
            "lognormal" | "log-normal" => {
                want("lognormal", 2)?;
                if args[1] < args[0] {
                    return Err(ParseDelayError::Invalid(format!(
                        "lognormal({}, {}): the p99 is below the median",
                        format_duration(args[0]),
                        format_duration(args[1])
                    )));
                }
                if args[0].is_zero() {
                    return Err(ParseDelayError::Invalid(
                        "lognormal: the median must be above zero".into(),
                    ));
                }
                Ok(Delay::LogNormal {
                    median: args[0],
                    p99: args[1],
                })
            }
            "exponential" | "exp" => {
                want("exponential", 1)?;
                Ok(Delay::Exponential { mean: args[0] })
            }
            _ => Err(ParseDelayError::UnknownForm(text.to_owned())),
        }
    }
}

impl fmt::Display for Delay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = format_duration;
        match *self {
            Delay::Fixed(x) => write!(f, "{}", d(x)),
            Delay::Uniform { low, high } => write!(f, "uniform({}, {})", d(low), d(high)),
            Delay::Normal { mean, std_dev } => write!(f, "normal({}, {})", d(mean), d(std_dev)),
            Delay::LogNormal { median, p99 } => write!(f, "lognormal({}, {})", d(median), d(p99)),
            Delay::Exponential { mean } => write!(f, "exponential({})", d(mean)),
        }
    }
}

impl Serialize for Delay {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Delay {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests;
