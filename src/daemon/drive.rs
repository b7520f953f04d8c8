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

    /// Notes the step a line reports for its call in flight; [`Daemon::publish_calls`] writes
    /// it for `redial list`, `redial send --wait` and the web page.
    pub fn call_progress(&mut self, line: u32, step: &CallProgress) {
        let Some(f) = self.inflight.get(&line) else {
            return;
        };
        let p = crate::spool::progress::Progress {
            job: f.name.clone(),
            attempt: f.loaded.job.records.len() + 1,
            line,
            at: self.clock.now(),
            step: step.to_string(),
        };
        tracing::debug!(job = %f.name, line, step = %p.step, "call progress");
        self.live.insert(line, p);
        self.live_dirty = true;
    }

    /// Forgets the step of the call on `line` (it ended).
    pub(super) fn call_ended(&mut self, line: u32) {
        if self.live.remove(&line).is_some() {
            self.live_dirty = true;
        }
    }

    /// How long until the calls' steps may be written again, while they changed since the last
    /// write (the service loop wakes then); `None` when there is nothing to write.
    pub fn calls_publish_in(&self) -> Option<std::time::Duration> {
        if !self.live_dirty {
            return None;
        }
        Some(self.live_written.map_or(std::time::Duration::ZERO, |t| {
            crate::spool::progress::PUBLISH_EVERY.saturating_sub(t.elapsed())
        }))
    }

    /// Writes `ACTIVE/<node>.calls.json` when the steps changed and the last write is at least
    /// [`crate::spool::progress::PUBLISH_EVERY`] old. Not fsynced; a file that cannot be written
    /// costs only the live view (logged at debug, tried again at the next change).
    pub fn publish_calls(&mut self) {
        if self.calls_publish_in() != Some(std::time::Duration::ZERO) {
            return;
        }
        let calls = crate::spool::progress::Calls {
            node: self.node.clone(),
            calls: self.live.values().cloned().collect(),
        };
        self.live_dirty = false;
        self.live_written = Some(std::time::Instant::now());
        if let Err(e) =
            crate::spool::progress::write(&self.settings.layout, &self.temp_prefix, &calls)
        {
            tracing::debug!(error = %e, "cannot publish the calls' progress");
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
