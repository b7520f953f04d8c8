//! Helpers for in-process daemon tests on a virtual clock: a node from a CFG in a scratch base
//! directory, with every event it emits collected.
#![allow(dead_code)]

use redial::daemon::clock::ManualClock;
use redial::daemon::{Daemon, Event};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Events a node emitted, in order.
pub type Events = Arc<Mutex<Vec<Event>>>;

/// A node called `name` over `base/redial.cfg` (lines from the CFG), on `clock`, not started.
pub fn node(base: &Path, name: &str, clock: &ManualClock) -> (Daemon, Events) {
    let mut d = Daemon::new(
        Some(&base.join("redial.cfg")),
        base,
        name,
        Arc::new(clock.clone()),
        None,
    )
    .unwrap();
    let events: Events = Arc::new(Mutex::new(Vec::new()));
    let ev = events.clone();
    d.on_event(move |e| ev.lock().unwrap().push(e.clone()));
    (d, events)
}
