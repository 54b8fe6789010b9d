//! Fault injection: by probability and by time window, changeable at run time.
//!
//! A [`FaultSpec`] says how often each fault happens, on which routes, and which
//! windows force a fault (an outage from 30 s to 45 s). Window times count from the
//! moment the spec was applied: at start, on `PUT /_mock/faults`, or on
//! `POST /_mock/reset`. They are wall-clock times and are not scaled by the time
//! scale; the wait before an injected `timeout`'s 504 is. A `hang` holds the
//! connection for `hang_for` whatever the time scale: it stands for no answer at all.
//! Probabilities and windows can be scoped to route prefixes and to models.

use std::sync::RwLock;
use std::time::{Duration, Instant};

use rand::Rng;
use serde::{Deserialize, Serialize};

use gatebench_distr::serde_duration;

/// One kind of fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// 429 with `retry-after`.
    RateLimit,
    /// 500.
    ServerError,
    /// 502.
    BadGateway,
    /// 503.
    Unavailable,
    /// 504 after `timeout_after`.
    Timeout,
    /// No answer at all; the connection is dropped after `hang_for`.
    Hang,
    /// TCP reset before any response byte.
    Reset,
    /// 200 with a body that is not valid JSON.
    Malformed,
    /// A streamed (or any) body that stops part-way, without its end marker.
    StreamCut,
    /// Every delay of the request multiplied by `slow_down_factor`.
    SlowDown,
}

impl FaultKind {
    /// The kinds that replace the response, in the order probabilities are summed.
    pub const EXCLUSIVE: [FaultKind; 9] = [
        FaultKind::RateLimit,
        FaultKind::ServerError,
        FaultKind::BadGateway,
        FaultKind::Unavailable,
        FaultKind::Timeout,
        FaultKind::Hang,
        FaultKind::Reset,
        FaultKind::Malformed,
        FaultKind::StreamCut,
    ];

    /// Stats label of a request that got this fault.
    pub fn outcome(self) -> &'static str {
        match self {
            FaultKind::RateLimit => "fault_rate_limit",
            FaultKind::ServerError => "fault_server_error",
            FaultKind::BadGateway => "fault_bad_gateway",
            FaultKind::Unavailable => "fault_unavailable",
            FaultKind::Timeout => "fault_timeout",
            FaultKind::Hang => "fault_hang",
            FaultKind::Reset => "fault_reset",
            FaultKind::Malformed => "fault_malformed",
            FaultKind::StreamCut => "fault_stream_cut",
            FaultKind::SlowDown => "fault_slow_down",
        }
    }
}

/// How often each fault happens. Probabilities are per request, in `[0, 1]`; those of
/// the kinds that replace the response add up to at most 1.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultSpec {
    /// 429 with `retry-after`.
    pub rate_limit: f64,
    /// 500.
    pub server_error: f64,
    /// 502.
    pub bad_gateway: f64,
    /// 503.
    pub unavailable: f64,
    /// 504 after `timeout_after`.
    pub timeout: f64,
    /// No answer.
    pub hang: f64,
    /// TCP reset.
    pub reset: f64,
    /// 200 with an invalid body.
    pub malformed: f64,
    /// Body cut part-way.
    pub stream_cut: f64,
    /// Probability of a slowed-down request.
    pub slow_down: f64,
    /// How much slower a slowed-down request is.
    pub slow_down_factor: f64,
    /// `retry-after` of injected 429s.
    #[serde(with = "serde_duration")]
    pub retry_after: Duration,
    /// How long an injected `timeout` waits before its 504 (scaled by the time scale).
    #[serde(with = "serde_duration")]
    pub timeout_after: Duration,
    /// How long an injected `hang` holds the connection before dropping it (not
    /// scaled: a hang gives no answer even at time scale 0).
    #[serde(with = "serde_duration")]
    pub hang_for: Duration,
    /// Prefixes of the paths (as sent, or as the route's template,
    /// `/v1/text-to-speech/{voice_id}`) the probabilities apply to; empty means
    /// every route.
    pub routes: Vec<String>,
    /// Models (the request body's `model` or `model_id`) the probabilities apply to;
    /// empty means every model. Lets one provider's models fail while another
    /// provider served by the same mock (DeepSeek next to OpenAI) stays up.
    pub models: Vec<String>,
    /// Windows that force a fault.
    pub windows: Vec<FaultWindow>,
}

/// A window of time during which a fault is forced, e.g. an outage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultWindow {
    /// Which fault.
    pub kind: FaultKind,
    /// Start, counted from when the spec was applied.
    #[serde(with = "serde_duration")]
    pub from: Duration,
    /// End (exclusive).
    #[serde(with = "serde_duration")]
    pub to: Duration,
    /// Share of requests inside the window that get the fault.
    #[serde(default = "one")]
    pub probability: f64,
    /// Path prefixes, as for [`FaultSpec::routes`]; empty means every route.
    #[serde(default)]
    pub routes: Vec<String>,
    /// Models; empty means every model.
    #[serde(default)]
    pub models: Vec<String>,
}

fn one() -> f64 {
    1.0
}

impl Default for FaultSpec {
    fn default() -> Self {
        FaultSpec {
            rate_limit: 0.0,
            server_error: 0.0,
            bad_gateway: 0.0,
            unavailable: 0.0,
            timeout: 0.0,
            hang: 0.0,
            reset: 0.0,
            malformed: 0.0,
            stream_cut: 0.0,
            slow_down: 0.0,
            slow_down_factor: 4.0,
            retry_after: Duration::from_secs(1),
            timeout_after: Duration::from_secs(30),
            hang_for: Duration::from_secs(120),
            routes: Vec::new(),
            models: Vec::new(),
            windows: Vec::new(),
        }
    }
}

/// A fault spec that does not make sense.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FaultSpecError {
    /// A probability outside `[0, 1]`.
    #[error("fault `{kind}`: probability {value} is outside [0, 1]")]
    Probability {
        /// Field name.
        kind: String,
        /// Value given.
        value: f64,
    },
    /// The exclusive kinds add up to more than 1.
    #[error("fault probabilities add up to {0}, more than 1")]
    Sum(f64),
    /// A window that ends before it starts.
    #[error("fault window {index} ({kind:?}) ends before it starts")]
    Window {
        /// Position in `windows`.
        index: usize,
        /// Its kind.
        kind: FaultKind,
    },
    /// A slow-down factor that is negative, not a number, or beyond [`MAX_SLOW_DOWN`].
    #[error(
        "slow_down_factor must be a number from 0 to {MAX_SLOW_DOWN}, got {0} (for a request that never answers, use `hang`)"
    )]
    Factor(f64),
}

/// Largest slow-down factor: beyond a thousand times, a delay is a hang (`hang`).
pub const MAX_SLOW_DOWN: f64 = 1000.0;

impl FaultSpec {
    /// The probability of one kind.
    pub fn probability(&self, kind: FaultKind) -> f64 {
        match kind {
            FaultKind::RateLimit => self.rate_limit,
            FaultKind::ServerError => self.server_error,
            FaultKind::BadGateway => self.bad_gateway,
            FaultKind::Unavailable => self.unavailable,
            FaultKind::Timeout => self.timeout,
            FaultKind::Hang => self.hang,
            FaultKind::Reset => self.reset,
            FaultKind::Malformed => self.malformed,
            FaultKind::StreamCut => self.stream_cut,
            FaultKind::SlowDown => self.slow_down,
        }
    }

    /// Checks the spec.
    pub fn validate(&self) -> Result<(), FaultSpecError> {
        let mut sum = 0.0;
        for kind in FaultKind::EXCLUSIVE
            .into_iter()
            .chain([FaultKind::SlowDown])
        {
            let p = self.probability(kind);
            if !(0.0..=1.0).contains(&p) {
                let kind = kind.outcome().trim_start_matches("fault_").to_owned();
                return Err(FaultSpecError::Probability { kind, value: p });
            }
            if kind != FaultKind::SlowDown {
                sum += p;
            }
        }
        if sum > 1.0 + 1e-9 {
            return Err(FaultSpecError::Sum(sum));
        }
        if !(0.0..=MAX_SLOW_DOWN).contains(&self.slow_down_factor) {
            return Err(FaultSpecError::Factor(self.slow_down_factor));
        }
        for (index, w) in self.windows.iter().enumerate() {
            if w.to < w.from {
                return Err(FaultSpecError::Window {
                    index,
                    kind: w.kind,
                });
            }
            if !(0.0..=1.0).contains(&w.probability) {
                return Err(FaultSpecError::Probability {
                    kind: format!("windows[{index}]"),
                    value: w.probability,
                });
            }
        }
        Ok(())
    }
}

/// What the fault draw decided for one request.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Draw {
    /// A fault that replaces or cuts the response.
    pub fault: Option<FaultKind>,
    /// Delay multiplier (1 when not slowed down).
    pub slow_down: Option<f64>,
    /// The drawing spec's `retry_after` (what an injected 429 asks for).
    pub retry_after: Duration,
    /// The drawing spec's `timeout_after` (how long an injected timeout holds).
    pub timeout_after: Duration,
    /// The drawing spec's `hang_for` (how long a hang holds the connection).
    pub hang_for: Duration,
}

/// The fault spec in force, and when it was applied.
#[derive(Debug)]
pub struct FaultState {
    active: RwLock<(FaultSpec, Instant)>,
}

/// Whether `routes` (prefixes; none is every route) take in a request with these
/// `paths`: its path as sent and its route's template (`/v1/voices/{voice_id}`).
fn matches(routes: &[String], paths: [&str; 2]) -> bool {
    routes.is_empty()
        || routes
            .iter()
            .any(|r| paths.iter().any(|p| p.starts_with(r.as_str())))
}

fn matches_model(models: &[String], model: Option<&str>) -> bool {
    models.is_empty() || model.is_some_and(|m| models.iter().any(|x| x == m))
}

impl FaultState {
    /// Starts with `spec`, applied now.
    pub fn new(spec: FaultSpec) -> Self {
        FaultState {
            active: RwLock::new((spec, Instant::now())),
        }
    }

    /// Replaces the spec; its windows count from now.
    pub fn set(&self, spec: FaultSpec) {
        *self.active.write().unwrap_or_else(|e| e.into_inner()) = (spec, Instant::now());
    }

    /// The spec in force and the time since it was applied.
    pub fn get(&self) -> (FaultSpec, Duration) {
        let guard = self.active.read().unwrap_or_else(|e| e.into_inner());
        (guard.0.clone(), guard.1.elapsed())
    }

    /// Draws the faults of one request on `route` for `model` (if known): what
    /// [`FaultState::draw_with`] draws, for the tests that know the model.
    #[cfg(test)]
    pub fn draw<R: Rng + ?Sized>(&self, route: &str, model: Option<&str>, rng: &mut R) -> Draw {
        self.draw_with([route, route], || model.map(str::to_owned), rng)
    }

    /// Draws the faults of one request, with its path as sent and its route's
    /// template (`paths`), reading its model (`model`) only when the spec scopes
    /// something by model: one look at the spec per request.
    pub fn draw_with<R: Rng + ?Sized>(
        &self,
        paths: [&str; 2],
        model: impl FnOnce() -> Option<String>,
        rng: &mut R,
    ) -> Draw {
        let guard = self.active.read().unwrap_or_else(|e| e.into_inner());
        let (spec, applied) = (&guard.0, guard.1);
        let by_model = !spec.models.is_empty() || spec.windows.iter().any(|w| !w.models.is_empty());
        let model = if by_model { model() } else { None };
        let model = model.as_deref();
        // Always draw the same number of values, so one request's draws do not depend
        // on which branch an earlier decision took.
        let (u_window, u_fault, u_slow) = (unit(rng), unit(rng), unit(rng));
        let mut draw = Draw {
            retry_after: spec.retry_after,
            timeout_after: spec.timeout_after,
            hang_for: spec.hang_for,
            ..Draw::default()
        };
        let elapsed = applied.elapsed();
        let in_window = spec.windows.iter().find(|w| {
            elapsed >= w.from
                && elapsed < w.to
                && matches(&w.routes, paths)
                && matches_model(&w.models, model)
                && u_window < w.probability
        });
        match in_window.map(|w| w.kind) {
            Some(FaultKind::SlowDown) => draw.slow_down = Some(spec.slow_down_factor),
            Some(kind) => draw.fault = Some(kind),
            None => {}
        }
        if matches(&spec.routes, paths) && matches_model(&spec.models, model) {
            if draw.fault.is_none() {
                let mut acc = 0.0;
                for kind in FaultKind::EXCLUSIVE {
                    acc += spec.probability(kind);
                    if u_fault < acc {
                        draw.fault = Some(kind);
                        break;
                    }
                }
            }
            if draw.slow_down.is_none() && u_slow < spec.slow_down {
                draw.slow_down = Some(spec.slow_down_factor);
            }
        }
        draw
    }
}

fn unit<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    use crate::rng::MockRng;

    fn counts(
        spec: FaultSpec,
        route: &str,
        n: usize,
    ) -> std::collections::HashMap<Option<FaultKind>, usize> {
        let state = FaultState::new(spec);
        let mut rng = MockRng::seed_from_u64(9);
        let mut out = std::collections::HashMap::new();
        for _ in 0..n {
            *out.entry(state.draw(route, None, &mut rng).fault)
                .or_default() += 1;
        }
        out
    }

    #[test]
    fn probabilities_are_honoured() {
        let spec = FaultSpec {
            server_error: 0.1,
            reset: 0.05,
            ..FaultSpec::default()
        };
        let c = counts(spec, "/v1/chat/completions", 100_000);
        let share = |k| c.get(&Some(k)).copied().unwrap_or(0) as f64 / 100_000.0;
        assert!((share(FaultKind::ServerError) - 0.1).abs() < 0.005);
        assert!((share(FaultKind::Reset) - 0.05).abs() < 0.005);
    }

    #[test]
    fn routes_scope_the_probabilities() {
        let spec = FaultSpec {
            unavailable: 1.0,
            routes: vec!["/v1/chat".into()],
            ..FaultSpec::default()
        };
        assert_eq!(
            counts(spec.clone(), "/v1/embeddings", 100).get(&None),
            Some(&100)
        );
        assert_eq!(
            counts(spec, "/v1/chat/completions", 100).get(&Some(FaultKind::Unavailable)),
            Some(&100)
        );
    }

    /// A prefix may name one voice (the path as sent) or every voice (the route's
    /// template).
    #[test]
    fn routes_match_the_path_as_sent_or_the_route_template() {
        let template = "/v1/text-to-speech/{voice_id}";
        let draw = |routes: &[&str], path: &str| {
            let state = FaultState::new(FaultSpec {
                unavailable: 1.0,
                routes: routes.iter().map(|r| (*r).to_owned()).collect(),
                ..FaultSpec::default()
            });
            state
                .draw_with([template, path], || None, &mut MockRng::seed_from_u64(3))
                .fault
        };
        let one = "/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM";
        let other = "/v1/text-to-speech/EXAVITQu4vr4xnSDxMaL";
        assert_eq!(draw(&[one], one), Some(FaultKind::Unavailable));
        assert_eq!(draw(&[one], other), None);
        assert_eq!(draw(&[template], other), Some(FaultKind::Unavailable));
        assert_eq!(
            draw(&["/v1/text-to-speech/"], other),
            Some(FaultKind::Unavailable)
        );
        assert_eq!(draw(&["/v1/voices"], one), None);
    }

    #[test]
    fn an_open_window_forces_its_fault() {
        let window = FaultWindow {
            kind: FaultKind::Unavailable,
            from: Duration::ZERO,
            to: Duration::from_secs(3600),
            probability: 1.0,
            routes: vec![],
            models: vec![],
        };
        let spec = FaultSpec {
            windows: vec![window.clone()],
            ..FaultSpec::default()
        };
        assert_eq!(
            counts(spec, "/x", 50).get(&Some(FaultKind::Unavailable)),
            Some(&50)
        );
        let later = FaultWindow {
            from: Duration::from_secs(3000),
            ..window
        };
        let spec = FaultSpec {
            windows: vec![later],
            ..FaultSpec::default()
        };
        assert_eq!(counts(spec, "/x", 50).get(&None), Some(&50));
    }

    /// Whether a draw asks for the request's model.
    fn reads_the_model(state: &FaultState, rng: &mut MockRng) -> bool {
        let mut asked = false;
        state.draw_with(
            ["/v1/chat", "/v1/chat"],
            || {
                asked = true;
                None
            },
            rng,
        );
        asked
    }

    #[test]
    fn the_model_is_read_only_for_a_spec_scoped_by_model() {
        let state = FaultState::new(FaultSpec {
            unavailable: 1.0,
            ..FaultSpec::default()
        });
        let mut rng = MockRng::seed_from_u64(1);
        assert!(!reads_the_model(&state, &mut rng));
    }

    #[test]
    fn a_draw_carries_the_durations_of_the_spec_that_drew_it() {
        let spec = FaultSpec {
            rate_limit: 1.0,
            retry_after: Duration::from_secs(7),
            timeout_after: Duration::from_secs(8),
            hang_for: Duration::from_secs(9),
            ..FaultSpec::default()
        };
        let state = FaultState::new(spec);
        let draw = state.draw("/v1/chat", None, &mut MockRng::seed_from_u64(1));
        assert_eq!(draw.fault, Some(FaultKind::RateLimit));
        assert_eq!(
            (draw.retry_after, draw.timeout_after, draw.hang_for),
            (
                Duration::from_secs(7),
                Duration::from_secs(8),
                Duration::from_secs(9)
            )
        );
    }

    #[test]
    fn models_scope_faults_to_one_provider_s_models() {
        let spec = FaultSpec {
            unavailable: 1.0,
            models: vec!["gpt-4o-mini".into()],
            ..FaultSpec::default()
        };
        let state = FaultState::new(spec);
        let mut rng = MockRng::seed_from_u64(1);
        assert!(reads_the_model(&state, &mut rng));
        assert_eq!(
            state.draw("/v1/chat", Some("gpt-4o-mini"), &mut rng).fault,
            Some(FaultKind::Unavailable)
        );
        assert_eq!(
            state
                .draw("/v1/chat", Some("deepseek-chat"), &mut rng)
                .fault,
            None
        );
        assert_eq!(state.draw("/v1/chat", None, &mut rng).fault, None);
    }

    #[test]
    fn windows_can_be_scoped_to_models_too() {
        let window = FaultWindow {
            kind: FaultKind::Unavailable,
            from: Duration::ZERO,
            to: Duration::from_secs(3600),
            probability: 1.0,
            routes: vec![],
            models: vec!["gpt-4o-mini".into()],
        };
        let state = FaultState::new(FaultSpec {
            windows: vec![window],
            ..FaultSpec::default()
        });
        let mut rng = MockRng::seed_from_u64(1);
        assert!(reads_the_model(&state, &mut rng));
        assert_eq!(
            state.draw("/v1/chat", Some("gpt-4o-mini"), &mut rng).fault,
            Some(FaultKind::Unavailable)
        );
        assert_eq!(
            state
                .draw("/v1/chat", Some("deepseek-chat"), &mut rng)
                .fault,
            None
        );
    }

    #[test]
    fn validation_names_the_problem() {
        let bad = FaultSpec {
            hang: 1.5,
            ..FaultSpec::default()
        };
        assert_eq!(
            bad.validate(),
            Err(FaultSpecError::Probability {
                kind: "hang".into(),
                value: 1.5
            })
        );
        let bad = FaultSpec {
            hang: 0.6,
            reset: 0.6,
            ..FaultSpec::default()
        };
        assert!(matches!(bad.validate(), Err(FaultSpecError::Sum(_))));
        assert_eq!(FaultSpec::default().validate(), Ok(()));
        // a factor that would overflow a delay is refused, not accepted and panicked on
        for factor in [1e308, f64::INFINITY, f64::NAN, -1.0, MAX_SLOW_DOWN * 2.0] {
            let bad = FaultSpec {
                slow_down_factor: factor,
                ..FaultSpec::default()
            };
            let err = bad.validate().unwrap_err();
            assert!(matches!(err, FaultSpecError::Factor(_)), "{factor}");
            assert!(err.to_string().contains("from 0 to 1000"), "{err}");
        }
    }

    #[test]
    fn the_spec_reads_from_toml() {
        let spec: FaultSpec = toml::from_str(
            r#"
            rate_limit = 0.02
            retry_after = "2s"
            [[windows]]
            kind = "unavailable"
            from = "30s"
            to = "45s"
            "#,
        )
        .unwrap();
        assert_eq!(spec.rate_limit, 0.02);
        assert_eq!(spec.retry_after, Duration::from_secs(2));
        assert_eq!(spec.windows[0].to, Duration::from_secs(45));
        assert!(toml::from_str::<FaultSpec>("ratelimit = 0.1").is_err());
    }
}
