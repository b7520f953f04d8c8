//! A scripted line for tests: a function of the call decides the outcome and its length.
//!
//! Deterministic by construction (the function sees the job, number and attempt number), so
//! scheduler tests do not depend on which line a job lands on. It never sleeps.

use super::{Call, CallResult, Completion, Line, Placed};
use chrono::{DateTime, Duration, Utc};
use std::sync::{Arc, Mutex};

/// Decides `(code, seconds)` for a call on a line.
pub type Script = Arc<dyn Fn(&Call, u32) -> (u32, i64) + Send + Sync>;

/// One placed call, as the test sees it.
#[derive(Debug, Clone)]
pub struct Placement {
    /// The line.
    pub line: u32,
    /// The job.
    pub job: String,
    /// When it started.
    pub at: DateTime<Utc>,
    /// When it ends.
    pub until: DateTime<Utc>,
    /// The code.
    pub code: u32,
}

/// A line whose outcomes come from a [`Script`]; every placement is logged.
pub struct ScriptedLine {
    number: u32,
    script: Script,
    log: Arc<Mutex<Vec<Placement>>>,
}

impl ScriptedLine {
    /// A line numbered `number` sharing `log` with its siblings.
    pub fn new(number: u32, script: Script, log: Arc<Mutex<Vec<Placement>>>) -> ScriptedLine {
        ScriptedLine {
            number,
            script,
            log,
        }
    }
}

impl Line for ScriptedLine {
    fn number(&self) -> u32 {
        self.number
    }
    fn board(&self) -> char {
        'T'
    }
    /// Every channel: simulated and scripted calls stand in for any line.
    fn takes(&self, _channel: crate::retry::outcome::Channel) -> bool {
        true
    }
    fn place(&mut self, call: &Call, now: DateTime<Utc>, _done: &Completion) -> Placed {
        let (code, secs) = (self.script)(call, self.number);
        let until = now + Duration::seconds(secs);
        self.log.lock().expect("log").push(Placement {
            line: self.number,
            job: call.job.clone(),
            at: now,
            until,
            code,
        });
        Placed::Until(
            until,
            CallResult {
                code,
                pages: u32::from(code == 0),
                scheduled: 1,
                baud: if code == 0 { 9600 } else { 0 },
                call_secs: secs as u32,
                connect_secs: if code == 0 { secs as u32 } else { 0 },
                answerback: String::new(),
                transcript: None,
            },
        )
    }
}
