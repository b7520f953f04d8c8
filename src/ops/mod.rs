//! Operating a spool: which failed jobs may be retried and moving them back ([`retry`]), the
//! daily automatic sweep ([`sweep`]), advice from the attempt history ([`advise`]), Prometheus
//! metrics ([`metrics`]) and the failed-jobs web page with its JSON API ([`web`]).
//!
//! Owns the operator's view of FAIL and the one write it makes there: appending a
//! `$retry_note` and renaming the job back into a queue (a new cycle, exactly as a file moved by
//! hand). Eligibility ([`eligibility`]) is a pure function of the spool picture and the clock.
//! It never dials, never decides a retry time (the engine does) and never edits any other line
//! of a job file.

pub mod advise;
pub mod alter;
pub mod cancel;
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
