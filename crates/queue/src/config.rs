//! Settings of one scheduler and their validation.

use std::time::Duration;

/// How one upstream's admission queue behaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueConfig {
    /// Upstream calls allowed in flight at once (permits).
    pub concurrency: usize,
    /// Waiters allowed at once; one more is refused with [`Rejected::Full`](crate::Rejected::Full).
    /// Zero means nobody waits: a request is either admitted at once or refused.
    pub capacity: usize,
    /// A waiter climbs one class per `aging` waited (`low` reaches `critical` after
    /// three periods), so that no class is starved. Climbs count in at most one
    /// dispatch in four (see the crate docs).
    pub aging: Duration,
    /// How long a permit is assumed to be held until the first one is released; the
    /// estimate then follows the observed hold times.
    pub initial_service_time: Duration,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            concurrency: 64,
            capacity: 1024,
            aging: Duration::from_secs(2),
            initial_service_time: Duration::from_millis(500),
        }
    }
}

/// A [`QueueConfig`] that cannot work.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueueConfigError {
    /// No permit could ever be handed out.
    #[error("queue concurrency must be at least 1")]
    ZeroConcurrency,
    /// Waiters would be promoted without waiting, which erases the classes.
    #[error("queue aging period must be greater than zero")]
    ZeroAging,
}

impl QueueConfig {
    /// Checks that the settings can work.
    pub fn validate(&self) -> Result<(), QueueConfigError> {
        if self.concurrency == 0 {
            return Err(QueueConfigError::ZeroConcurrency);
        }
        if self.aging.is_zero() {
            return Err(QueueConfigError::ZeroAging);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid() {
        assert_eq!(QueueConfig::default().validate(), Ok(()));
    }

    #[test]
    fn rejects_zero_concurrency_and_zero_aging() {
        let zero_concurrency = QueueConfig {
            concurrency: 0,
            ..QueueConfig::default()
        };
        assert_eq!(
            zero_concurrency.validate(),
            Err(QueueConfigError::ZeroConcurrency)
        );
        let zero_aging = QueueConfig {
            aging: Duration::ZERO,
            ..QueueConfig::default()
        };
        assert_eq!(zero_aging.validate(), Err(QueueConfigError::ZeroAging));
    }
}
