//! Driving the daemon's clock: the virtual-clock runners (pure virtual time for sim lines, and
//! hybrid time that follows the wall clock while modem calls are up) and waiting for results
//! that lines report later.

use super::*;

impl Daemon {
    /// Calls in flight whose result a line reports later (modem lines).
    pub fn awaiting_reports(&self) -> usize {
        self.inflight.values().filter(|f| f.until.is_none()).count()
    }

    /// Hands the channel on which lines report results to an async loop that waits on it (the
    /// service loop), so a result wakes the loop at once; the loop gives each result back with
    /// [`Daemon::reported`]. Afterwards [`Daemon::wait_reported`] returns false.
    pub fn take_reports(&mut self) -> mpsc::UnboundedReceiver<(u32, Report)> {
        let (_, closed) = mpsc::unbounded_channel();
        std::mem::replace(&mut self.reported, closed)
    }

    /// A line's report taken from the channel [`Daemon::take_reports`] handed out: a step is
    /// published at once ([`Daemon::call_progress`]); a result is settled by the next
    /// [`Daemon::poll`].
    pub fn reported(&mut self, line: u32, report: Report) {
        match report {
            Report::Done(result) => self.waited.push((line, result)),
            Report::Progress(p) => self.call_progress(line, &p),
        }
    }

    /// Waits until a line reports a call's result (publishing the steps reported before it);
    /// the next [`Daemon::poll`] handles it. Returns false when no line can report any more.
    pub async fn wait_reported(&mut self) -> bool {
        loop {
            match self.reported.recv().await {
                Some((line, Report::Done(r))) => {
                    self.waited.push((line, r));
                    return true;
                }
                Some((line, Report::Progress(p))) => self.call_progress(line, &p),
                None => return false,
            }
        }
    }

    /// Publishes the step a line reports for its call in flight as the job's progress file
    /// ([`crate::spool::progress`]), for `redial list` and `redial send --wait`. A file that
    /// cannot be written costs only the live view (logged at debug).
    pub fn call_progress(&mut self, line: u32, step: &CallProgress) {
        let Some(f) = self.inflight.get(&line) else {
            return;
        };
        let p = crate::spool::progress::Progress {
            attempt: f.loaded.job.records.len() + 1,
            node: self.node.clone(),
            line,
            at: self.clock.now(),
            step: step.to_string(),
        };
        tracing::debug!(job = %f.name, line, step = %p.step, "call progress");
        if let Err(e) = crate::spool::progress::write(&self.settings.layout, &f.name, &p) {
            tracing::debug!(job = %f.name, error = %e, "cannot write the call's progress file");
        }
    }

    /// Runs on a virtual clock that follows the wall clock while calls reported by lines (modem
    /// lines) are in flight, and jumps to the next due instant whenever none is. Returns like
    /// [`Daemon::run_virtual`].
    pub async fn run_hybrid(&mut self, clock: &clock::ManualClock, max_steps: usize) -> usize {
        let mut steps = 0;
        loop {
            self.poll();
            if self.awaiting_reports() > 0 {
                let began = std::time::Instant::now();
                let before = clock::Clock::now(clock);
                if !self.wait_reported().await {
                    return steps;
                }
                let spent = chrono::Duration::from_std(began.elapsed()).unwrap_or_default();
                clock.set(before + spent);
                continue;
            }
            match self.next_wakeup() {
                Some(t) if steps < max_steps => {
                    clock.set(t.max(clock::Clock::now(clock)));
                    steps += 1;
                }
                _ => return steps,
            }
        }
    }

    /// Runs on a virtual clock until nothing is due: ends calls and dispatches jobs, and when
    /// there is nothing to do now, jumps the clock to the next due instant. Returns when no
    /// call is in flight and no queued job will ever become due on this node's lines, or after
    /// `max_steps` clock jumps.
    pub fn run_virtual(&mut self, clock: &clock::ManualClock, max_steps: usize) -> usize {
        let mut steps = 0;
        loop {
            self.poll();
            match self.next_wakeup() {
                Some(t) if steps < max_steps => {
                    clock.set(t);
                    steps += 1;
                }
                _ => return steps,
            }
        }
    }
}
