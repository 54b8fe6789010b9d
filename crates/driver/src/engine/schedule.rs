//! Open-loop schedules: the intended send time of every iteration, decided before the
//! run and never moved by how the target answers.
//!
//! The rate is piecewise linear (one segment per stage, or one constant segment). The
//! cumulative number of arrivals N(t) is its integral; iteration k (from 0) is due at
//! the time N(t) = k, solved exactly per segment, so a run of rate r over d seconds
//! schedules exactly r·d iterations, however long each takes.

use std::time::Duration;

use crate::scenario::Executor;

#[derive(Clone, Debug, PartialEq)]
struct Segment {
    /// Start, seconds from the scenario start.
    start: f64,
    /// Length, seconds.
    length: f64,
    /// Rate at the start and end, per second.
    from: f64,
    to: f64,
    /// Arrivals scheduled before the segment (a real number).
    before: f64,
}

impl Segment {
    fn arrivals(&self) -> f64 {
        (self.from + self.to) / 2.0 * self.length
    }

    /// Time into the segment at which `m` arrivals of it have come.
    fn time_of(&self, m: f64) -> f64 {
        if m <= 0.0 {
            return 0.0;
        }
        let slope = (self.to - self.from) / self.length;
        if slope.abs() < 1e-12 {
            return if self.from > 0.0 { m / self.from } else { 0.0 };
        }
        // from·τ + slope·τ²/2 = m, in the form that stays accurate when slope is small
        let disc = (self.from * self.from + 2.0 * slope * m).max(0.0);
        2.0 * m / (self.from + disc.sqrt())
    }
}

/// Intended send times of an open-loop scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    segments: Vec<Segment>,
    total: f64,
    length: f64,
}

impl Schedule {
    /// The schedule of an arrival-rate executor; `None` for closed-loop executors.
    pub fn for_executor(executor: &Executor) -> Option<Schedule> {
        match executor {
            Executor::ConstantArrivalRate { rate, duration, .. } => {
                Some(Schedule::ramping(*rate, &[(*duration, *rate)]))
            }
            Executor::RampingArrivalRate {
                start_rate, stages, ..
            } => {
                let stages: Vec<(Duration, f64)> =
                    stages.iter().map(|s| (s.duration, s.target)).collect();
                Some(Schedule::ramping(*start_rate, &stages))
            }
            _ => None,
        }
    }

    /// A rate starting at `start` and moving linearly to each stage's target over the
    /// stage's duration.
    pub fn ramping(start: f64, stages: &[(Duration, f64)]) -> Schedule {
        let mut segments = Vec::with_capacity(stages.len());
        let (mut t, mut before, mut from) = (0.0, 0.0, start.max(0.0));
        for &(duration, target) in stages {
            let length = duration.as_secs_f64();
            let to = target.max(0.0);
            if length > 0.0 {
                let s = Segment {
                    start: t,
                    length,
                    from,
                    to,
                    before,
                };
                before += s.arrivals();
                t += length;
                segments.push(s);
            }
            from = to;
        }
        Schedule {
            segments,
            total: before,
            length: t,
        }
    }

    /// Iterations scheduled: every k with N(t) = k inside the schedule.
    pub fn count(&self) -> u64 {
        // a whole number of arrivals lands its last one exactly at the end: exclude it
        let eps = 1e-9 * self.total.max(1.0);
        (self.total - eps).max(0.0).floor() as u64 + u64::from(self.total > eps)
    }

    /// The highest rate the schedule reaches, arrivals a second (0 when it has none).
    pub fn peak_rate(&self) -> f64 {
        self.segments
            .iter()
            .map(|s| s.from.max(s.to))
            .fold(0.0, f64::max)
    }

    /// Planned length.
    pub fn length(&self) -> Duration {
        Duration::from_secs_f64(self.length)
    }

    /// Intended offsets of every iteration, in order.
    pub fn iter(&self) -> impl Iterator<Item = Duration> + '_ {
        let mut segment = 0;
        (0..self.count()).filter_map(move |k| {
            let k = k as f64;
            while segment < self.segments.len() {
                let s = &self.segments[segment];
                if k < s.before + s.arrivals() {
                    let at = s.start + s.time_of(k - s.before).min(s.length);
                    return Some(Duration::from_secs_f64(at));
                }
                segment += 1;
            }
            None
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn constant_rate_is_evenly_spaced() {
        let s = Schedule::ramping(10.0, &[(secs(100), 10.0)]);
        assert_eq!(s.count(), 1000);
        let times: Vec<Duration> = s.iter().collect();
        assert_eq!(times.len(), 1000);
        assert_eq!(times[0], Duration::ZERO);
        assert!((times[1].as_secs_f64() - 0.1).abs() < 1e-9);
        assert!((times[999].as_secs_f64() - 99.9).abs() < 1e-9);
    }

    #[test]
    fn ramps_follow_the_integral() {
        // 0 → 100/s over 10 s: 500 arrivals, the first half of them in the last 3 s or so
        let s = Schedule::ramping(0.0, &[(secs(10), 100.0)]);
        assert_eq!(s.count(), 500);
        let times: Vec<f64> = s.iter().map(|d| d.as_secs_f64()).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
        // N(t) = 5 t², so arrival 125 is at t = 5
        assert!((times[125] - 5.0).abs() < 1e-9);
        // up, hold, down
        let s = Schedule::ramping(0.0, &[(secs(10), 50.0), (secs(40), 50.0), (secs(10), 0.0)]);
        assert_eq!(s.count(), 250 + 2000 + 250);
        assert!(s.iter().all(|t| t < secs(60)));
    }

    #[test]
    fn the_peak_rate_is_the_highest_a_stage_reaches() {
        let s = Schedule::ramping(5.0, &[(secs(10), 50.0), (secs(10), 20.0), (secs(5), 0.0)]);
        assert!((s.peak_rate() - 50.0).abs() < 1e-12);
        assert!((Schedule::ramping(7.0, &[(secs(3), 7.0)]).peak_rate() - 7.0).abs() < 1e-12);
        // a stage of no length jumps the rate: the next stage starts from it
        let s = Schedule::ramping(1.0, &[(secs(0), 900.0), (secs(4), 2.0)]);
        assert!((s.peak_rate() - 900.0).abs() < 1e-12);
        assert_eq!(Schedule::ramping(3.0, &[]).peak_rate(), 0.0);
    }

    proptest! {
        #[test]
        fn count_matches_the_rate_integral(
            start in 0.0f64..200.0,
            stages in proptest::collection::vec((1u64..20, 0.0f64..200.0), 1..5)
        ) {
            let stages: Vec<(Duration, f64)> = stages.into_iter().map(|(d, r)| (secs(d), r)).collect();
            let s = Schedule::ramping(start, &stages);
            let mut from = start;
            let integral: f64 = stages.iter().map(|(d, to)| { let a = (from + to) / 2.0 * d.as_secs_f64(); from = *to; a }).sum();
            let n = s.count() as f64;
            prop_assert!((n - integral).abs() <= 1.0, "count {n} vs integral {integral}");
            let times: Vec<Duration> = s.iter().collect();
            prop_assert_eq!(times.len() as u64, s.count());
            prop_assert!(times.windows(2).all(|w| w[0] <= w[1]));
            prop_assert!(times.last().is_none_or(|t| *t <= s.length()));
        }
    }
}
