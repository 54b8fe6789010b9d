//! Upstream health: a circuit breaker per provider, and what `/readyz` reports.
//!
//! `failure_threshold` consecutive failed attempts open a provider's circuit: its
//! requests go straight to their fallbacks instead of waiting on a provider that is
//! down. After `open_for`, the circuit is half-open: one trial may go through, and
//! its success closes the circuit (a failure opens it again). `/readyz` is 503
//! until every circuit is closed, so a deployment (or the readiness suite) sees when
//! the gateway has recovered. With `probe` on, the gateway makes the trial itself
//! (see [`probe_half_open`]): a gateway taken out of rotation gets no requests, and
//! would otherwise never turn ready again.

use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::state::Gateway;
use crate::upstream::Provider;

/// How often [`probe_half_open`] looks at the circuits, for a given `open_for`.
pub fn probe_period(open_for: Duration) -> Duration {
    (open_for / 4).clamp(Duration::from_millis(10), Duration::from_millis(500))
}

/// Takes the trial of every half-open circuit with a probe (a `GET` the provider
/// does not bill; see `ProviderKind::probe_path`), every `period`, until `gateway`
/// is gone. A 2xx closes the circuit; a 5xx, a timeout or a broken connection
/// opens it again; any other answer (a 404 from a provider without that route, a
/// 429) says nothing, and leaves the trial to the next request.
pub async fn probe_half_open(gateway: Weak<Gateway>, period: Duration) {
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        let Some(gateway) = gateway.upgrade() else {
            return;
        };
        for provider in gateway.upstreams.providers() {
            if provider.circuit.state() == CircuitState::HalfOpen && provider.circuit.allow() {
                tokio::spawn(probe(Arc::clone(&gateway), Arc::clone(provider)));
            }
        }
    }
}

async fn probe(gateway: Arc<Gateway>, provider: Arc<Provider>) {
    let outcome = gateway.upstreams.probe(&provider).await;
    tracing::debug!(provider = provider.name(), ?outcome, "health probe");
    match outcome {
        Ok(status) if status.is_success() => provider.circuit.success(),
        Ok(status) if status.is_server_error() => provider.circuit.failure(),
        Ok(_) => provider.circuit.neutral(),
        Err(_) => provider.circuit.failure(),
    }
}

/// State of one provider's circuit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CircuitState {
    /// Calls flow.
    Closed,
    /// Calls skip this provider.
    Open,
    /// One trial call may go through.
    HalfOpen,
}

/// A provider's circuit breaker.
#[derive(Debug)]
pub struct Circuit {
    threshold: u32,
    open_for: Duration,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    consecutive_failures: u32,
    opened_at: Option<Instant>,
    trial_in_flight: bool,
}

impl Circuit {
    /// A closed circuit.
    pub fn new(threshold: u32, open_for: Duration) -> Self {
        Circuit {
            threshold: threshold.max(1),
            open_for,
            inner: Mutex::new(Inner {
                consecutive_failures: 0,
                opened_at: None,
                trial_in_flight: false,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The state now.
    pub fn state(&self) -> CircuitState {
        state_of(&self.lock(), self.open_for, Instant::now())
    }

    /// May a call go to this provider now? In the half-open state only one trial at a
    /// time is allowed.
    pub fn allow(&self) -> bool {
        let mut inner = self.lock();
        match state_of(&inner, self.open_for, Instant::now()) {
            CircuitState::Closed => true,
            CircuitState::Open => false,
            CircuitState::HalfOpen if inner.trial_in_flight => false,
            CircuitState::HalfOpen => {
                inner.trial_in_flight = true;
                true
            }
        }
    }

    /// Records a successful attempt: the circuit closes.
    pub fn success(&self) {
        let mut inner = self.lock();
        inner.consecutive_failures = 0;
        inner.opened_at = None;
        inner.trial_in_flight = false;
    }

    /// Records a failed attempt (5xx, 429, timeout, connection error).
    pub fn failure(&self) {
        let mut inner = self.lock();
        inner.consecutive_failures = inner.consecutive_failures.saturating_add(1);
        let was_trial = std::mem::take(&mut inner.trial_in_flight);
        if was_trial || inner.consecutive_failures >= self.threshold {
            inner.opened_at = Some(Instant::now());
        }
    }

    /// Records an attempt that said nothing about health (e.g. the caller's own 4xx),
    /// releasing a trial slot if this was the trial.
    pub fn neutral(&self) {
        self.lock().trial_in_flight = false;
    }
}

fn state_of(inner: &Inner, open_for: Duration, now: Instant) -> CircuitState {
    match inner.opened_at {
        None => CircuitState::Closed,
        Some(at) if now.duration_since(at) < open_for => CircuitState::Open,
        Some(_) => CircuitState::HalfOpen,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consecutive_failures_open_the_circuit_and_a_success_closes_it() {
        let c = Circuit::new(3, Duration::from_secs(3600));
        c.failure();
        c.failure();
        c.success();
        c.failure();
        c.failure();
        assert_eq!(
            c.state(),
            CircuitState::Closed,
            "the success reset the count"
        );
        c.failure();
        assert_eq!(c.state(), CircuitState::Open);
        assert!(!c.allow());
    }

    #[test]
    fn half_open_lets_one_trial_through() {
        let c = Circuit::new(1, Duration::ZERO);
        c.failure();
        assert_eq!(c.state(), CircuitState::HalfOpen);
        assert!(c.allow(), "the trial");
        assert!(!c.allow(), "only one trial at a time");
        c.failure();
        assert!(
            c.allow(),
            "a failed trial reopens; with open_for 0 the next trial may go"
        );
        c.success();
        assert_eq!(c.state(), CircuitState::Closed);
        assert!(c.allow() && c.allow());
    }

    #[test]
    fn a_neutral_outcome_frees_the_trial_slot() {
        let c = Circuit::new(1, Duration::ZERO);
        c.failure();
        assert!(c.allow());
        c.neutral();
        assert!(c.allow());
    }
}
