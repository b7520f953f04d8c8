//! Clocks: the daemon reads time only through [`Clock`], so tests and the demo run it on a
//! virtual clock that jumps to the next due instant instead of sleeping.

use chrono::{DateTime, Utc};
use std::sync::{Arc, Mutex};

/// A source of "now".
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock set by hand (tests, the demo): it only moves when told to.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl ManualClock {
    /// A clock showing `t`.
    pub fn new(t: DateTime<Utc>) -> ManualClock {
        ManualClock(Arc::new(Mutex::new(t)))
    }
    /// Sets the time (never backwards).
    pub fn set(&self, t: DateTime<Utc>) {
        let mut g = self.0.lock().expect("clock");
        if t > *g {
            *g = t;
        }
    }
    /// Moves the time forward.
    pub fn advance(&self, d: chrono::Duration) {
        let mut g = self.0.lock().expect("clock");
        *g += d;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("clock")
    }
}
