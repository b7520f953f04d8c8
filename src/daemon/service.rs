//! The service loop of `redial run`: real clock, watcher, periodic rescan and lease upkeep,
//! SIGTERM (drain, then give back after the grace period), SIGHUP (reload).
//!
//! A thin async shell: it waits for the earliest of the daemon's next wake-up, a watcher
//! event, a reported call result, a maintenance tick or a signal, then calls the daemon.
//! Operations ride along: the automatic retry sweep (`$auto_retry`), the web page and
//! `/metrics` (`$web`), and systemd's readiness and watchdog notifications (sd_notify; they do
//! nothing without `NOTIFY_SOCKET`).

use super::Daemon;
use crate::ops::{config::OpsConfig, metrics::Metrics, scan::RetryKind, sweep::Sweeper};
use crate::spool::watch::{watch, WatchEvent};
use sd_notify::NotifyState;
use std::sync::Arc;
use std::time::Duration as StdDuration;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

/// Runs the daemon until SIGTERM or SIGINT.
pub async fn serve(mut d: Daemon) -> anyhow::Result<()> {
    // Signal streams first: SIGHUP's default action would kill the process.
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    // The watcher before the first scan of the queues: a job renamed into a queue while the
    // node starts is reported (and read again if the scan saw it too), never left waiting for
    // the next rescan.
    let (tx, mut rx) = mpsc::unbounded_channel();
    d.layout().create(None)?;
    let dirs: Vec<_> = d
        .settings()
        .order
        .iter()
        .map(|q| d.layout().queue_dir(*q))
        .collect();
    // Cancel requests wake the loop too.
    let cancels = crate::ops::cancel::dir(d.layout());
    let _ = std::fs::create_dir_all(&cancels);
    // Delivery reports `redial web` leaves for SMS jobs wake the loop like cancel requests.
    let reports_dir = crate::line::sms_http::dlr_dir(d.layout());
    let _ = std::fs::create_dir_all(&reports_dir);
    let with_cancels = |mut v: Vec<std::path::PathBuf>| {
        v.push(cancels.clone());
        v.push(reports_dir.clone());
        v
    };
    let mut watcher = Some(watch(&with_cancels(dirs), tx.clone())?);
    let snapshot = d.start_serving()?;
    // With the index from a snapshot, a thread stats every queued file while the node dials;
    // what changed is read again as its batch arrives, and a rescan ends the pass.
    let (ctx, mut checks) = mpsc::unbounded_channel::<Option<Vec<(u8, String, Option<u64>)>>>();
    if snapshot {
        let (layout, queues) = (d.layout().clone(), d.settings().order.clone());
        std::thread::spawn(move || {
            super::stat_queued(&layout, &queues, |b| ctx.send(Some(b)).is_ok());
            let _ = ctx.send(None);
        });
    }
    let mut ops =
        OpsConfig::from_cfg(&d.system().document, d.base()).map_err(anyhow::Error::msg)?;
    let metrics = Arc::new(Metrics::new(d.system().outcomes.clone()));
    d.on_event(metrics.observer());
    if let Some(w) = &ops.web {
        let state = crate::ops::web::WebState::new(
            d.layout().clone(),
            d.system().clone(),
            ops.clone(),
            d.clock().clone(),
            metrics.clone(),
            w.token.clone().unwrap_or_default(),
        )?;
        let listener = tokio::net::TcpListener::bind(w.addr).await?;
        tracing::info!(addr = %listener.local_addr()?, "web page and /metrics listening");
        tokio::spawn(async move {
            if let Err(e) = crate::ops::web::serve(listener, Arc::new(state)).await {
                tracing::error!(error = %e, "web server stopped");
            }
        });
    }
    let mut sweeper = Sweeper::default();
    let mut cleaner = crate::ops::clean::Cleaner::default();
    let mut watchdog = tokio::time::interval(
        sd_notify::watchdog_enabled().map_or(StdDuration::from_secs(3600), |t| t / 2),
    );
    // Line results wake the loop at once: a line never waits for a timer to get its next call.
    let mut reports = d.take_reports();
    let renew = StdDuration::from_secs(d.settings().lease_renew as u64);
    let mut maint = tokio::time::interval(renew);
    let mut rescan = tokio::time::interval(StdDuration::from_secs(d.settings().rescan));
    rescan.tick().await;
    // The counts `redial status` and the web page read instead of every queued file.
    let mut publish = tokio::time::interval(StdDuration::from_secs(1));
    tracing::info!(node = %d.node(), jobs = d.index().len(), "spooler running");
    let _ = sd_notify::notify(&[NotifyState::Ready]);
    let mut grace_end: Option<tokio::time::Instant> = None;
    // `CANCEL` is read when the watcher reports a change in it, and on the maintenance and
    // rescan ticks (a request left for a job this node took over later), not on every turn.
    let mut cancels_due = true;
    // A wake that brought only calls' steps (a line reporting how far its call got) changes
    // nothing a turn of the loop looks at: the steps are kept, and written when their pacing
    // allows (a timer of their own). Such a turn only waits again.
    let mut steps_only = false;
    loop {
        if std::mem::take(&mut cancels_due) {
            d.take_cancels();
            d.take_delivery_reports();
        }
        if !std::mem::take(&mut steps_only) {
            d.poll();
            metrics.sample_lines(&d.lines_up());
            let h = d.spool_health();
            metrics.sample_spool(h.failing_since.is_some(), h.refused, d.pending_results());
        }
        if !d.is_draining() {
            let now = d.clock().now();
            match sweeper.tick(d.layout(), d.system(), &ops, now) {
                Some(Ok(r)) => metrics.retried(RetryKind::Auto, &r),
                Some(Err(e)) => tracing::error!(error = %e, "automatic retry sweep failed"),
                None => {}
            }
            let tz = d.system().layer.timezone.unwrap_or(chrono_tz::UTC);
            if cleaner.due(d.layout(), &ops.clean, tz, now) {
                // Thousands of finished files: off the loop, so no line waits for it.
                let (layout, settings) = (d.layout().clone(), ops.clean);
                tokio::task::spawn_blocking(move || {
                    if let Err(e) = crate::ops::clean::run_daily(&layout, settings, tz, now) {
                        tracing::error!(error = %e, "daily clean of SENT and FAIL failed");
                    }
                });
            }
        }
        if d.is_draining() && d.in_flight() == 0 {
            break;
        }
        let now = d.clock().now();
        let mut wait = d
            .next_wakeup()
            .map(|t| (t - now).to_std().unwrap_or(StdDuration::ZERO))
            .unwrap_or(StdDuration::from_secs(3600));
        if let Some(g) = grace_end {
            wait = wait.min(g.saturating_duration_since(tokio::time::Instant::now()));
        }
        // Line health (a breaker's cool-down ending) and the metrics are sampled at least this
        // often; results and queue changes wake the loop by themselves.
        let wait = wait.min(StdDuration::from_millis(500));
        // Calls' steps that changed are written once their pacing allows.
        let wait = d.calls_publish_in().map_or(wait, |t| wait.min(t));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            Some((line, report)) = reports.recv() => {
                let mut ended = matches!(report, crate::line::Report::Done(_));
                d.reported(line, report);
                while let Ok((line, report)) = reports.try_recv() {
                    ended |= matches!(report, crate::line::Report::Done(_));
                    d.reported(line, report);
                }
                steps_only = !ended;
            }
            Some(ev) = rx.recv() => {
                let mut evs = vec![ev];
                while let Ok(e) = rx.try_recv() { evs.push(e); }
                if evs.contains(&WatchEvent::Rescan) {
                    d.rescan();
                    cancels_due = true;
                } else {
                    for e in evs {
                        if let WatchEvent::Paths(ps) = e {
                            for p in ps {
                                cancels_due |= p.parent() == Some(cancels.as_path())
                                    || p.parent() == Some(reports_dir.as_path());
                                d.on_path(&p);
                            }
                        }
                    }
                }
            }
            _ = maint.tick() => { d.maintain(); cancels_due = true; }
            _ = watchdog.tick() => { let _ = sd_notify::notify(&[NotifyState::Watchdog]); }
            _ = rescan.tick() => { d.rescan(); cancels_due = true; }
            _ = publish.tick() => d.publish_summary(),
            Some(batch) = checks.recv() => match batch {
                Some(seen) => d.reconcile(seen),
                None => {
                    d.rescan();
                    tracing::info!(jobs = d.index().len(), "every queued file checked against the index snapshot");
                }
            },
            _ = hup.recv() => {
                match d.reload() {
                    Ok(()) => {
                        match OpsConfig::from_cfg(&d.system().document, d.base()) {
                            Ok(o) => ops = o,
                            Err(e) => tracing::error!(error = %e, "operator settings not reloaded"),
                        }
                        let dirs: Vec<_> = d.settings().order.iter().map(|q| d.layout().queue_dir(*q)).collect();
                        drop(watcher.take());
                        watcher = Some(watch(&with_cancels(dirs), tx.clone())?);
                    }
                    Err(e) => tracing::error!(error = %e, "reload failed; keeping the old configuration"),
                }
            }
            _ = term.recv() => begin_drain(&mut d, &mut grace_end),
            _ = int.recv() => begin_drain(&mut d, &mut grace_end),
        }
        if grace_end.is_some_and(|g| tokio::time::Instant::now() >= g) {
            d.give_back();
            break;
        }
    }
    drop(watcher);
    d.shutdown();
    let s = &d.stats;
    tracing::info!(node = %d.node(), attempts = s.attempts, sent = s.sent, failed = s.failed,
        rejected = s.rejected, retried = s.retried, recovered = s.recovered, "spooler stopped");
    Ok(())
}

fn begin_drain(d: &mut Daemon, grace_end: &mut Option<tokio::time::Instant>) {
    if !d.is_draining() {
        let _ = sd_notify::notify(&[NotifyState::Stopping]);
        tracing::info!(in_flight = d.in_flight(), "shutting down: no new calls");
        d.drain();
        let _ = d.renew_lease();
        *grace_end = Some(tokio::time::Instant::now() + StdDuration::from_secs(d.settings().grace));
    }
}
