//! The automatic retry sweep (`$auto_retry "06:00" max=3`): once a day, at the first moment
//! at or after the configured local time (CFG `$timezone`), every eligible failed job with
//! fewer than `max` automatic retries is retried and recorded as `auto`.
//!
//! A node that starts after the time catches up that day. The day of the last sweep is kept in
//! `FAIL/.auto_retry.last`, so a restart or a second node does not sweep twice (and the retry
//! lock serialises nodes that race). The schedule ([`due`], [`next_run`]) is pure; [`Sweeper`]
//! holds the little state a daemon needs.

use super::config::{AutoRetry, OpsConfig};
use super::retry::{retry, Report, Request, RetryError};
use super::scan::RetryKind;
use crate::load::SystemConfig;
use crate::spool::{store, Layout};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

/// Whether a sweep is due at `now`, given the local day of the last one.
pub fn due(auto: &AutoRetry, tz: Tz, last: Option<NaiveDate>, now: DateTime<Utc>) -> bool {
    let local = now.with_timezone(&tz).naive_local();
    local.time() >= auto.at && last.is_none_or(|d| d < local.date())
}

/// The next instant a sweep is due (now, when one is due already).
pub fn next_run(
    auto: &AutoRetry,
    tz: Tz,
    last: Option<NaiveDate>,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    if due(auto, tz, last, now) {
        return now;
    }
    let local = now.with_timezone(&tz).naive_local();
    let mut day = local.date();
    if local.time() >= auto.at || last.is_some_and(|d| d >= day) {
        day += Duration::days(1);
    }
    tz.from_local_datetime(&day.and_time(auto.at))
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| day.and_time(auto.at).and_utc() + Duration::hours(1))
}

fn stamp(layout: &Layout) -> std::path::PathBuf {
    layout.fail().join(".auto_retry.last")
}

/// The day of the last sweep recorded in the spool.
pub fn last_run(layout: &Layout) -> Option<NaiveDate> {
    std::fs::read_to_string(stamp(layout))
        .ok()
        .and_then(|s| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok())
}

/// Runs the sweep now (regardless of the schedule) and records the day.
pub fn sweep(
    layout: &Layout,
    sys: &SystemConfig,
    cfg: &OpsConfig,
    auto: &AutoRetry,
    now: DateTime<Utc>,
) -> Result<Report, RetryError> {
    let tz = sys.layer.timezone.unwrap_or(chrono_tz::UTC);
    let req = Request {
        all_failed: true,
        reason: format!("automatic retry ({})", auto.at.format("%H:%M")),
        queue: auto.queue,
        kind: RetryKind::Auto,
        auto_max: Some(auto.max),
        ..Request::default()
    };
    let report = retry(layout, sys, cfg, &req, now)?;
    let day = now.with_timezone(&tz).date_naive();
    store::write_atomic(
        &layout.temp(),
        ".ops.",
        &stamp(layout),
        format!("{day}\n").as_bytes(),
    )?;
    tracing::info!(
        queued = report.queued.len(),
        skipped = report.skipped.len(),
        "automatic retry sweep"
    );
    Ok(report)
}

/// A daemon's sweep state.
#[derive(Debug, Default)]
pub struct Sweeper {
    last: Option<NaiveDate>,
    loaded: bool,
}

impl Sweeper {
    /// Runs the sweep when it is due (`None` when it is not, or no `$auto_retry` is set).
    pub fn tick(
        &mut self,
        layout: &Layout,
        sys: &SystemConfig,
        cfg: &OpsConfig,
        now: DateTime<Utc>,
    ) -> Option<Result<Report, RetryError>> {
        let auto = cfg.auto_retry.as_ref()?;
        let tz = sys.layer.timezone.unwrap_or(chrono_tz::UTC);
        if !self.loaded {
            self.last = last_run(layout);
            self.loaded = true;
        }
        if !due(auto, tz, self.last, now) {
            return None;
        }
        // Another node may have swept since we looked.
        self.last = last_run(layout).max(self.last);
        if !due(auto, tz, self.last, now) {
            return None;
        }
        self.last = Some(now.with_timezone(&tz).date_naive());
        Some(sweep(layout, sys, cfg, auto, now))
    }

    /// When the next sweep is due.
    pub fn next(
        &self,
        sys: &SystemConfig,
        cfg: &OpsConfig,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let auto = cfg.auto_retry.as_ref()?;
        let tz = sys.layer.timezone.unwrap_or(chrono_tz::UTC);
        Some(next_run(auto, tz, self.last, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveTime;

    #[test]
    fn daily_schedule_with_catch_up() {
        let a = AutoRetry {
            at: NaiveTime::from_hms_opt(6, 0, 0).unwrap(),
            max: 3,
            queue: None,
        };
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        // 04:59 UTC = 05:59 Berlin (winter): not yet.
        assert!(!due(&a, tz, None, t("2026-03-02T04:59:00Z")));
        assert_eq!(
            next_run(&a, tz, None, t("2026-03-02T04:59:00Z")),
            t("2026-03-02T05:00:00Z")
        );
        assert!(due(&a, tz, None, t("2026-03-02T05:00:00Z")));
        // Started at 09:00 local without a sweep today: catches up.
        assert!(due(
            &a,
            tz,
            Some(d("2026-03-01")),
            t("2026-03-02T08:00:00Z")
        ));
        // Already swept today.
        assert!(!due(
            &a,
            tz,
            Some(d("2026-03-02")),
            t("2026-03-02T20:00:00Z")
        ));
        assert_eq!(
            next_run(&a, tz, Some(d("2026-03-02")), t("2026-03-02T20:00:00Z")),
            t("2026-03-03T05:00:00Z")
        );
    }
}
