//! Priority classes: their names on the wire and their order.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A request's priority class, most urgent first.
///
/// Written in lowercase everywhere (`critical`, `high`, `normal`, `low`): in the
/// `x-gatebench-priority` header, in configuration files and in reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// Served before everything else.
    Critical,
    /// Served before `normal` and `low`.
    High,
    /// The default class.
    #[default]
    Normal,
    /// Served last, but never starved: waiting promotes it.
    Low,
}

impl Priority {
    /// Every class, most urgent first; `ALL[p.index()] == p`.
    pub const ALL: [Priority; 4] = [
        Priority::Critical,
        Priority::High,
        Priority::Normal,
        Priority::Low,
    ];

    /// Rank of the class: 0 for `critical` up to 3 for `low` (smaller is served first).
    pub const fn index(self) -> usize {
        match self {
            Priority::Critical => 0,
            Priority::High => 1,
            Priority::Normal => 2,
            Priority::Low => 3,
        }
    }

    /// The class `steps` ranks more urgent than this one, stopping at `critical`.
    pub fn promoted(self, steps: u64) -> Priority {
        let steps = usize::try_from(steps).unwrap_or(usize::MAX);
        Priority::ALL[self.index().saturating_sub(steps)]
    }

    /// Lowercase name, as written in headers and files.
    pub const fn as_str(self) -> &'static str {
        match self {
            Priority::Critical => "critical",
            Priority::High => "high",
            Priority::Normal => "normal",
            Priority::Low => "low",
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A priority name that is not one of the four classes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown priority `{value}`: expected one of critical, high, normal, low")]
pub struct ParsePriorityError {
    /// The text that was given.
    pub value: String,
}

impl FromStr for Priority {
    type Err = ParsePriorityError;

    /// Parses a class name, ignoring ASCII case and surrounding spaces (header values
    /// are often sent capitalised).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let trimmed = s.trim();
        Priority::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(trimmed))
            .ok_or_else(|| ParsePriorityError {
                value: s.to_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_displays_every_class() {
        for p in Priority::ALL {
            assert_eq!(p.to_string().parse::<Priority>(), Ok(p));
            assert_eq!(Priority::ALL[p.index()], p);
        }
        assert_eq!(" High ".parse::<Priority>(), Ok(Priority::High));
    }

    #[test]
    fn rejects_unknown_names_with_the_value() {
        let err = "urgent".parse::<Priority>().unwrap_err();
        assert_eq!(err.value, "urgent");
        assert!(err.to_string().contains("critical, high, normal, low"));
        assert!("".parse::<Priority>().is_err());
    }

    #[test]
    fn default_is_normal() {
        assert_eq!(Priority::default(), Priority::Normal);
    }

    #[test]
    fn promotion_stops_at_critical() {
        assert_eq!(Priority::Low.promoted(0), Priority::Low);
        assert_eq!(Priority::Low.promoted(1), Priority::Normal);
        assert_eq!(Priority::Low.promoted(3), Priority::Critical);
        assert_eq!(Priority::Low.promoted(u64::MAX), Priority::Critical);
        assert_eq!(Priority::Critical.promoted(2), Priority::Critical);
    }

    #[test]
    fn serde_uses_lowercase_names() {
        let json = serde_json::to_string(&Priority::Critical).unwrap();
        assert_eq!(json, "\"critical\"");
        let back: Priority = serde_json::from_str("\"low\"").unwrap();
        assert_eq!(back, Priority::Low);
        assert!(serde_json::from_str::<Priority>("\"Low\"").is_err());
    }
}
