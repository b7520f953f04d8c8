//! Operating a spool: which failed jobs may be retried and moving them back ([`retry`]), the
//! daily automatic sweep ([`sweep`]), advice from the attempt history ([`advise`]), Prometheus
//! metrics ([`metrics`]), the failed-jobs web page with its JSON API ([`web`]), and the
//! administrator's commands on any job: [`list`], [`cancel`] and [`alter`] (finding a job by
//! name, [`locate`]; holding a queued job while changing it, [`hand`]).
//!
//! Owns the operator's writes: appending a `$retry_note` to a failed job and renaming it back
//! into a queue (a new cycle, exactly as a file moved by hand); failing a queued job as
//! cancelled; changing a queued job's own lines and noting it (`$alter_note`); leaving cancel
//! requests for the node holding a job in progress. Eligibility ([`eligibility`]) is a pure
//! function of the spool picture and the clock. It never dials, never decides a retry time (the
//! engine does), never writes into a job a node holds, and never edits a line it does not own.

pub mod advise;
pub mod alter;
pub mod cancel;
pub mod clean;
pub mod config;
pub mod eligibility;
pub mod hand;
pub mod list;
pub mod locate;
pub mod metrics;
pub mod retry;
pub mod scan;
pub mod sweep;
pub mod web;
pub mod why;
