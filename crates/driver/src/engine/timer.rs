//! Sleeping until an arrival's intended time with the kernel's resolution.
//!
//! tokio's timer fires on whole milliseconds: every deadline waits for the next tick.
//! An open loop at 9,000 arrivals a second would then send about nine at once, each up
//! to a millisecond late, and the target would see bursts instead of the rate asked
//! for. On Linux the worker's own event loop waits on a timerfd armed for the arrival,
//! which wakes it tens of microseconds after; elsewhere tokio's timer stands in.

use std::time::Instant;

/// A one-shot timer for the runtime it was made on.
pub(super) struct Timer {
    #[cfg(target_os = "linux")]
    fd: Option<tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>>,
}

impl Timer {
    /// A timer registered with the current runtime's event loop. Without a timerfd
    /// (or off Linux) it sleeps on tokio's timer.
    pub fn new() -> Timer {
        Timer {
            #[cfg(target_os = "linux")]
            fd: timerfd::create()
                .inspect_err(|e| {
                    tracing::debug!("no timerfd ({e}): arrivals wait on whole milliseconds");
                })
                .ok(),
        }
    }

    /// Returns at `at`, or at once if it has passed.
    pub async fn sleep_until(&mut self, at: Instant) {
        #[cfg(target_os = "linux")]
        if let Some(fd) = &self.fd {
            match timerfd::sleep_until(fd, at).await {
                Ok(()) => return,
                Err(e) => {
                    tracing::debug!("timerfd failed ({e}): arrivals wait on whole milliseconds");
                    self.fd = None;
                }
            }
        }
        tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await;
    }
}

#[cfg(target_os = "linux")]
mod timerfd {
    use std::io;
    use std::os::fd::OwnedFd;
    use std::time::Instant;

    use rustix::time::{
        Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec, timerfd_create,
        timerfd_settime,
    };
    use tokio::io::unix::AsyncFd;

    pub(super) fn create() -> io::Result<AsyncFd<OwnedFd>> {
        let fd = timerfd_create(
            TimerfdClockId::Monotonic,
            TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
        )?;
        // `register`, its replacement, is unsafe: it trusts the value to keep its file
        // descriptor open and unchanged for as long as it is registered. An `OwnedFd`
        // owns its descriptor, so the safe constructor's contract holds here.
        #[expect(
            deprecated,
            reason = "the safe constructor is sound for an OwnedFd, and this crate forbids unsafe"
        )]
        AsyncFd::new(fd)
    }

    /// Arms the timer for what is left until `at` and waits for it to fire. A wake-up
    /// before `at` (readiness left from a sleep that was cancelled) arms it again.
    ///
    /// Nothing is read from the timer: arming it sets its count of expirations back
    /// to zero, and each expiry is a new event for the event loop. So a sleep costs
    /// one system call besides the wait, where reading cost a second, and a third
    /// (a read that would block, then arming again) when the readiness the read left
    /// set woke the next sleep at once.
    pub(super) async fn sleep_until(fd: &AsyncFd<OwnedFd>, at: Instant) -> io::Result<()> {
        loop {
            let left = at.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            let once = Itimerspec {
                it_interval: Timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                },
                it_value: Timespec {
                    tv_sec: left.as_secs().try_into().unwrap_or(i64::MAX),
                    tv_nsec: left.subsec_nanos().into(),
                },
            };
            timerfd_settime(fd.get_ref(), TimerfdTimerFlags::empty(), &once)?;
            fd.readable().await?.clear_ready();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::Timer;

    #[tokio::test]
    async fn never_returns_before_its_time_even_after_a_cancelled_sleep() {
        let mut timer = Timer::new();
        #[cfg(target_os = "linux")]
        assert!(timer.fd.is_some(), "no timerfd on Linux");
        // a sleep cancelled before it fires leaves the timer armed
        let soon = Instant::now() + Duration::from_millis(2);
        let _ = tokio::time::timeout(Duration::from_micros(100), timer.sleep_until(soon)).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
        for wait in [
            Duration::from_millis(20),
            Duration::from_micros(300),
            Duration::ZERO,
        ] {
            let at = Instant::now() + wait;
            timer.sleep_until(at).await;
            assert!(Instant::now() >= at, "woke before {wait:?}");
        }
        #[cfg(target_os = "linux")]
        assert!(timer.fd.is_some(), "the timerfd failed");
    }
}
