//! The service loop of `redial run`: real clock, watcher, periodic rescan and lease upkeep,
//! SIGTERM (drain, then give back after the grace period), SIGHUP (reload).
//!
//! A thin async shell: it waits for the earliest of the daemon's next wake-up, a watcher
//! event, a reported call result, a maintenance tick or a signal, then calls the daemon.

use super::Daemon;
use crate::spool::watch::{watch, WatchEvent};
use std::time::Duration as StdDuration;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

/// Runs the daemon until SIGTERM or SIGINT.
pub async fn serve(mut d: Daemon) -> anyhow::Result<()> {
    // Signal streams first: SIGHUP's default action would kill the process.
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    d.start()?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let dirs: Vec<_> = d
        .settings()
        .order
        .iter()
        .map(|q| d.layout().queue_dir(*q))
        .collect();
    let mut watcher = Some(watch(&dirs, tx.clone())?);
    let renew = StdDuration::from_secs(d.settings().lease_renew as u64);
    let mut maint = tokio::time::interval(renew);
    let mut rescan = tokio::time::interval(StdDuration::from_secs(d.settings().rescan));
    rescan.tick().await;
    tracing::info!(node = %d.node(), jobs = d.index().len(), "spooler running");
    let mut grace_end: Option<tokio::time::Instant> = None;
    loop {
        d.poll();
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
        // Calls reported asynchronously wake us through the poll below; keep latency bounded.
        let wait = wait.min(StdDuration::from_millis(500));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            Some(ev) = rx.recv() => {
                let mut evs = vec![ev];
                while let Ok(e) = rx.try_recv() { evs.push(e); }
                if evs.contains(&WatchEvent::Rescan) {
                    d.rescan();
                } else {
                    for e in evs {
                        if let WatchEvent::Paths(ps) = e {
                            for p in ps { d.on_path(&p); }
                        }
                    }
                }
            }
            _ = maint.tick() => d.maintain(),
            _ = rescan.tick() => d.rescan(),
            _ = hup.recv() => {
                match d.reload() {
                    Ok(()) => {
                        let dirs: Vec<_> = d.settings().order.iter().map(|q| d.layout().queue_dir(*q)).collect();
                        drop(watcher.take());
                        watcher = Some(watch(&dirs, tx.clone())?);
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
    tracing::info!(node = %d.node(), stats = ?d.stats, "spooler stopped");
    Ok(())
}

fn begin_drain(d: &mut Daemon, grace_end: &mut Option<tokio::time::Instant>) {
    if !d.is_draining() {
        tracing::info!(in_flight = d.in_flight(), "shutting down: no new calls");
        d.drain();
        let _ = d.renew_lease();
        *grace_end = Some(tokio::time::Instant::now() + StdDuration::from_secs(d.settings().grace));
    }
}
