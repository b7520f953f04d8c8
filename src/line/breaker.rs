//! Circuit breakers: one per line (is the modem healthy?) and one per destination (does this
//! number keep failing?).
//!
//! Owns the state machine closed → open → half-open → closed, with the clock passed in. A line
//! breaker counts only failures that point at the line or modem (no dial tone, no response,
//! device gone, init failed); a destination breaker counts every failed attempt to a number and
//! pauses that number instead of burning lines on it. Pure.

use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;
use std::hash::Hash;

/// Outcome codes that point at the line or the modem rather than the far end.
pub const LINE_FAULT_CODES: &[u32] = &[4, 34, 35, 36, 37, 1003];

/// Breaker state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Normal.
    Closed,
    /// Failing: no calls until the instant.
    Open(DateTime<Utc>),
    /// Cool-down over: one probe may run.
    HalfOpen,
}

/// Tuning of a breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Consecutive failures that open it.
    pub threshold: u32,
    /// First cool-down.
    pub cool_down: Duration,
    /// Longest cool-down (each failed probe doubles it up to this).
    pub max_cool_down: Duration,
}

/// One breaker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breaker {
    settings: Settings,
    failures: u32,
    state: State,
    cool_down: Duration,
    /// How often it opened (for metrics).
    pub opened: u32,
}

impl Breaker {
    /// A closed breaker.
    pub fn new(settings: Settings) -> Breaker {
        Breaker {
            settings,
            failures: 0,
            state: State::Closed,
            cool_down: settings.cool_down,
            opened: 0,
        }
    }

    /// Whether calls go through as normal (no failure streak open), without asking the clock.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// The state at `now` (an open breaker whose cool-down is over becomes half-open).
    pub fn state(&mut self, now: DateTime<Utc>) -> State {
        if let State::Open(until) = self.state {
            if now >= until {
                self.state = State::HalfOpen;
            }
        }
        self.state
    }

    /// Whether a call (or a probe, when half-open) may start at `now`.
    pub fn allows(&mut self, now: DateTime<Utc>) -> bool {
        !matches!(self.state(now), State::Open(_))
    }

    /// Records a success.
    pub fn success(&mut self) {
        self.failures = 0;
        self.state = State::Closed;
        self.cool_down = self.settings.cool_down;
    }

    /// Opens the breaker at `now` whatever the streak (a modem that is gone or does not
    /// answer): failures are recorded until it is open.
    pub fn trip(&mut self, now: DateTime<Utc>) {
        while !matches!(self.state(now), State::Open(_)) {
            self.failure(now);
        }
    }

    /// Records a failure at `now`; returns true when this opened the breaker.
    pub fn failure(&mut self, now: DateTime<Utc>) -> bool {
        self.failures += 1;
        let probe_failed = self.state(now) == State::HalfOpen;
        if probe_failed {
            self.cool_down = (self.cool_down * 2).min(self.settings.max_cool_down);
        }
        if probe_failed || (self.state == State::Closed && self.failures >= self.settings.threshold)
        {
            self.state = State::Open(now + self.cool_down);
            self.opened += 1;
            return true;
        }
        false
    }
}

/// Line breaker defaults: 3 line faults in a row, 1 minute, up to 30 minutes.
pub const LINE: Settings = Settings {
    threshold: 3,
    cool_down: Duration::minutes(1),
    max_cool_down: Duration::minutes(30),
};
/// Destination breaker defaults: 5 failures in a row, 30 minutes, up to 4 hours.
pub const DESTINATION: Settings = Settings {
    threshold: 5,
    cool_down: Duration::minutes(30),
    max_cool_down: Duration::hours(4),
};

/// Breakers per destination (a number, or its hash).
#[derive(Debug, Clone)]
pub struct Destinations<K = String> {
    settings: Settings,
    by_number: HashMap<K, Breaker>,
}

impl<K: Hash + Eq + Clone> Destinations<K> {
    /// Empty, with these settings.
    pub fn new(settings: Settings) -> Destinations<K> {
        Destinations {
            settings,
            by_number: HashMap::new(),
        }
    }

    /// Whether `number` may be dialled at `now`.
    pub fn allows(&mut self, number: &K, now: DateTime<Utc>) -> bool {
        self.by_number.get_mut(number).is_none_or(|b| b.allows(now))
    }

    /// When a paused number may be dialled again (`None`: it may be dialled now).
    pub fn paused_until(&mut self, number: &K, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self.by_number.get_mut(number)?.state(now) {
            State::Open(t) => Some(t),
            _ => None,
        }
    }

    /// Records an attempt's outcome (0 = success). Returns true when the number got paused.
    pub fn record(&mut self, number: &K, code: u32, now: DateTime<Utc>) -> bool {
        let settings = self.settings;
        let b = self
            .by_number
            .entry(number.clone())
            .or_insert_with(|| Breaker::new(settings));
        if code == 0 {
            b.success();
            false
        } else {
            b.failure(now)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(min: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap() + Duration::minutes(min)
    }

    #[test]
    fn opens_after_threshold_and_probes_after_cool_down() {
        let mut b = Breaker::new(LINE);
        assert!(b.is_closed());
        assert!(!b.failure(t(0)) && !b.failure(t(0)));
        assert!(b.is_closed(), "two faults are not a streak yet");
        assert!(b.failure(t(0)), "third fault opens");
        assert!(!b.is_closed());
        assert!(!b.allows(t(0)));
        assert_eq!(b.state(t(1)), State::HalfOpen);
        assert!(
            !b.is_closed(),
            "half-open is not closed: a probe must pass first"
        );
        assert!(b.allows(t(1)));
        assert!(b.failure(t(1)), "a failed probe re-opens");
        assert_eq!(b.state(t(2)), State::Open(t(3)), "cool-down doubled");
        assert_eq!(b.state(t(3)), State::HalfOpen);
        b.success();
        assert!(b.is_closed());
        assert_eq!(b.state(t(3)), State::Closed);
        assert!(!b.failure(t(4)), "the count restarted");
        assert_eq!(b.opened, 2);
    }

    #[test]
    fn cool_down_is_capped() {
        let mut b = Breaker::new(Settings {
            threshold: 1,
            cool_down: Duration::minutes(10),
            max_cool_down: Duration::minutes(25),
        });
        b.failure(t(0));
        b.failure(t(10));
        b.failure(t(30));
        assert_eq!(b.state(t(30)), State::Open(t(55)));
    }

    #[test]
    fn destinations_pause_only_the_failing_number() {
        let mut d: Destinations = Destinations::new(Settings {
            threshold: 2,
            ..DESTINATION
        });
        let (a, b) = ("5550100".to_string(), "5550199".to_string());
        assert!(!d.record(&a, 2, t(0)));
        d.record(&b, 0, t(0));
        assert!(d.record(&a, 1, t(1)));
        assert!(!d.allows(&a, t(2)));
        assert!(d.allows(&b, t(2)));
        assert_eq!(d.paused_until(&a, t(2)), Some(t(31)));
        assert!(d.allows(&a, t(31)));
        assert_eq!(d.paused_until(&a, t(31)), None, "half-open: one more try");
    }
}
