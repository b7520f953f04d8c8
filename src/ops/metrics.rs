//! Prometheus metrics (OpenMetrics text at `/metrics`), with prometheus-client's explicit
//! registry (no globals).
//!
//! Counters are fed by the daemon's events ([`Metrics::observe`]) and by retries
//! ([`Metrics::retried`]); line up/down and breaker transitions by sampling the daemon's lines
//! ([`Metrics::sample_lines`]); spool gauges (jobs per queue and state, retries waiting, line
//! states from the nodes' leases) are read from the spool when scraped ([`Metrics::render`]).
//! The encoder appends `_total` to counter names and ends the text with `# EOF`.

use super::retry::Report;
use super::scan::RetryKind;
use crate::daemon::{Event, Next};
use crate::retry::outcome::OutcomeTable;
use crate::spool::{lease, report, Layout};
use chrono::{DateTime, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::collections::HashMap;
use std::sync::Mutex;

/// The content type of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The content type of [`classic`]'s output: Prometheus' text format 0.0.4, which every scraper
/// and `promtool check metrics` read.
pub const CLASSIC_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Whether a scraper's `Accept` header asks for OpenMetrics (Prometheus does; curl, older
/// scrapers and `promtool` do not, and get the classic text format).
pub fn wants_openmetrics(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| {
        a.split(',').any(|part| {
            let mut p = part.split(';');
            let kind = p.next().unwrap_or("").trim();
            // A q=0 entry refuses it.
            let refused = p.any(|x| {
                x.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f64>().ok())
                    == Some(0.0)
            });
            kind.eq_ignore_ascii_case("application/openmetrics-text") && !refused
        })
    })
}

/// OpenMetrics text as the classic text format: a counter's family is named with its
/// `_total` suffix in `# TYPE`/`# HELP`, `# UNIT` and `# EOF` lines go, samples stay as they are.
pub fn classic(openmetrics: &str) -> String {
    let mut counters: Vec<&str> = Vec::new();
    for l in openmetrics.lines() {
        if let Some(name) = l
            .strip_prefix("# TYPE ")
            .and_then(|r| r.strip_suffix(" counter"))
        {
            counters.push(name);
        }
    }
    let mut out = String::with_capacity(openmetrics.len());
    for l in openmetrics.lines() {
        if l == "# EOF" || l.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# TYPE ", "# HELP "].iter().find_map(|p| {
            let rest = l.strip_prefix(p)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(&name)
                .then(|| format!("{p}{name}_total {tail}"))
        });
        match renamed {
            Some(r) => out.push_str(&r),
            None => out.push_str(l),
        }
        out.push('\n');
    }
    out
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClassCode {
    class: String,
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChannelResult {
    channel: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AttemptResult {
    attempt: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueState {
    queue: String,
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct State {
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NodeLine {
    node: String,
    line: String,
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NodeLineOnly {
    node: String,
    line: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LineLabel {
    line: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Transition {
    line: String,
    to: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Kind {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Reason {
    reason: String,
}

#[derive(Default)]
struct Inner {
    started: HashMap<String, (DateTime<Utc>, usize)>,
    up: HashMap<u32, bool>,
}

/// The registry and its metrics.
pub struct Metrics {
    registry: Registry,
    outcomes: OutcomeTable,
    attempts: Family<ClassCode, Counter>,
    results: Family<AttemptResult, Counter>,
    channels: Family<ChannelResult, Counter>,
    duration: Histogram,
    rejected: Counter,
    jobs: Family<QueueState, Gauge>,
    totals: Family<State, Gauge>,
    retries_waiting: Gauge,
    line_state: Family<NodeLine, Gauge>,
    next_probe: Family<NodeLineOnly, Gauge>,
    line_up: Family<LineLabel, Gauge>,
    spool_failing: Gauge,
    spool_refused: Gauge,
    pending_results: Gauge,
    breaker: Family<Transition, Counter>,
    retried: Family<Kind, Counter>,
    skipped: Family<Reason, Counter>,
    pages: Counter,
    build: Family<Version, Gauge>,
    inner: Mutex<Inner>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Version {
    version: String,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

/// The attempt-number label: `1` … `5`, then `6+`.
pub fn attempt_label(n: usize) -> String {
    if n >= 6 {
        "6+".into()
    } else {
        n.to_string()
    }
}

impl Metrics {
    /// A registry; `outcomes` classifies codes for the `class` label.
    pub fn new(outcomes: OutcomeTable) -> Metrics {
        let mut registry = Registry::default();
        let m = Metrics {
            registry: Registry::default(),
            outcomes,
            attempts: Family::default(),
            results: Family::default(),
            channels: Family::default(),
            duration: Histogram::new(exponential_buckets(1.0, 2.0, 12)),
            rejected: Counter::default(),
            jobs: Family::default(),
            totals: Family::default(),
            retries_waiting: Gauge::default(),
            line_state: Family::default(),
            next_probe: Family::default(),
            line_up: Family::default(),
            spool_failing: Gauge::default(),
            spool_refused: Gauge::default(),
            pending_results: Gauge::default(),
            breaker: Family::default(),
            retried: Family::default(),
            skipped: Family::default(),
            pages: Counter::default(),
            build: Family::default(),
            inner: Mutex::new(Inner::default()),
        };
        m.build
            .get_or_create(&Version {
                version: env!("CARGO_PKG_VERSION").into(),
            })
            .set(1);
        registry.register(
            "redial_build_info",
            "The redial version serving these metrics (always 1)",
            m.build.clone(),
        );
        registry.register(
            "redial_pages_sent",
            "Fax pages the receiving end confirmed, over every attempt",
            m.pages.clone(),
        );
        registry.register(
            "redial_attempts",
            "Attempts ended, by the outcome table's class of the code and the code",
            m.attempts.clone(),
        );
        registry.register(
            "redial_attempt_results",
            "Attempts by their number in the cycle (1 = first try) and result (success, retry, failed)",
            m.results.clone(),
        );
        registry.register(
            "redial_channel_attempts",
            "Attempts ended, by channel (fax, voice, email, sms, poll) and result (success, retry, failed)",
            m.channels.clone(),
        );
        registry.register(
            "redial_attempt_duration_seconds",
            "Time from dialling to the result",
            m.duration.clone(),
        );
        registry.register(
            "redial_jobs_rejected",
            "Jobs failed as bad input",
            m.rejected.clone(),
        );
        registry.register(
            "redial_queue_jobs",
            "Queued jobs per queue: due, held (by a window), waiting_retry, scheduled",
            m.jobs.clone(),
        );
        registry.register(
            "redial_jobs",
            "Jobs by state: queued, in_progress, sent, failed",
            m.totals.clone(),
        );
        registry.register(
            "redial_retries_waiting",
            "Queued jobs waiting for a retry time",
            m.retries_waiting.clone(),
        );
        registry.register(
            "redial_line_state",
            "Lines by node and state (idle, busy, down) from the nodes' leases; 1 = in that state",
            m.line_state.clone(),
        );
        registry.register(
            "redial_line_next_probe_timestamp_seconds",
            "For a line out of service (its breaker open): when it is next probed (Unix time), from the nodes' leases",
            m.next_probe.clone(),
        );
        registry.register(
            "redial_line_up",
            "Whether a line of this node takes calls (0 while its breaker is open)",
            m.line_up.clone(),
        );
        registry.register(
            "redial_spool_write_failing",
            "1 while the spool refuses this node's writes (disk full, read-only, I/O errors): no new calls",
            m.spool_failing.clone(),
        );
        registry.register(
            "redial_spool_writes_refused",
            "Spool writes refused since the node started",
            m.spool_refused.clone(),
        );
        registry.register(
            "redial_pending_results",
            "Call results kept in memory and the journal until the spool takes them",
            m.pending_results.clone(),
        );
        registry.register(
            "redial_breaker_transitions",
            "Line breaker transitions seen by this node (to = open, closed)",
            m.breaker.clone(),
        );
        registry.register(
            "redial_failed_retried",
            "Failed jobs put back in a queue, by kind (manual, auto)",
            m.retried.clone(),
        );
        registry.register(
            "redial_failed_retry_skipped",
            "Failed jobs a retry skipped, by reason",
            m.skipped.clone(),
        );
        Metrics { registry, ..m }
    }

    /// Feeds one daemon event.
    pub fn observe(&self, e: &Event) {
        let mut inner = self.inner.lock().expect("metrics");
        match e {
            Event::Dialling {
                job, attempt, at, ..
            } => {
                inner.started.insert(job.clone(), (*at, *attempt));
            }
            Event::Outcome {
                job,
                code,
                class,
                at,
                next,
                pages,
                channel,
                ..
            } => {
                self.pages.inc_by(u64::from(*pages));
                let table = self.outcomes.classify(*code, Some(*channel)).class.letter();
                let class = if *class == 'S' { 'S' } else { table };
                self.attempts
                    .get_or_create(&ClassCode {
                        class: class.to_string(),
                        code: code.to_string(),
                    })
                    .inc();
                let (n, started) = match inner.started.remove(job) {
                    Some((t, n)) => (n, Some(t)),
                    None => (1, None),
                };
                let result = match next {
                    Next::Sent => "success",
                    Next::Retry(..) => "retry",
                    Next::Fail => "failed",
                };
                self.results
                    .get_or_create(&AttemptResult {
                        attempt: attempt_label(n),
                        result: result.into(),
                    })
                    .inc();
                self.channels
                    .get_or_create(&ChannelResult {
                        channel: channel.name().into(),
                        result: result.into(),
                    })
                    .inc();
                if let Some(t) = started {
                    self.duration
                        .observe((*at - t).num_milliseconds().max(0) as f64 / 1000.0);
                }
            }
            Event::Rejected { .. } => {
                self.rejected.inc();
            }
            Event::Recovered { .. } | Event::TookOver { .. } => {}
        }
    }

    /// A callback for [`crate::daemon::Daemon::on_event`].
    pub fn observer(self: &std::sync::Arc<Self>) -> impl FnMut(&Event) + Send + 'static {
        let m = self.clone();
        move |e| m.observe(e)
    }

    /// Samples the spool's health as the node sees it.
    pub fn sample_spool(&self, failing: bool, refused: u64, pending: usize) {
        self.spool_failing.set(i64::from(failing));
        self.spool_refused.set(refused as i64);
        self.pending_results.set(pending as i64);
    }

    /// Samples whether each line takes calls; a change is a breaker transition.
    pub fn sample_lines(&self, lines: &[(u32, bool)]) {
        let mut inner = self.inner.lock().expect("metrics");
        for (line, up) in lines {
            // Sampled on every turn of the service loop: only a change is news.
            if inner.up.get(line) == Some(up) {
                continue;
            }
            let l = line.to_string();
            self.line_up
                .get_or_create(&LineLabel { line: l.clone() })
                .set(i64::from(*up));
            if !inner.up.contains_key(line) {
                // Zero series from the start, so rate() and increase() see the first opening.
                for to in ["open", "closed"] {
                    let _ = self.breaker.get_or_create(&Transition {
                        line: l.clone(),
                        to: to.into(),
                    });
                }
            }
            if let Some(before) = inner.up.insert(*line, *up) {
                if before != *up {
                    self.breaker
                        .get_or_create(&Transition {
                            line: l,
                            to: if *up { "closed" } else { "open" }.into(),
                        })
                        .inc();
                }
            }
        }
    }

    /// Counts a retry's result.
    pub fn retried(&self, kind: RetryKind, r: &Report) {
        if r.dry_run {
            return;
        }
        self.retried
            .get_or_create(&Kind {
                kind: kind.as_str().into(),
            })
            .inc_by(r.queued.len() as u64);
        for s in &r.skipped {
            self.skipped
                .get_or_create(&Reason {
                    reason: s.why.label().into(),
                })
                .inc();
        }
    }

    /// Reads the spool gauges and encodes everything.
    pub fn render(
        &self,
        layout: &Layout,
        sys: &crate::load::SystemConfig,
        now: DateTime<Utc>,
    ) -> String {
        if let Ok(s) = report::status(layout, sys, now) {
            let mut queued = 0;
            let mut waiting = 0;
            for q in &s.queues {
                for (state, n) in [
                    ("due", q.due),
                    ("held", q.held),
                    ("waiting_retry", q.waiting_retry),
                    ("scheduled", q.scheduled),
                ] {
                    self.jobs
                        .get_or_create(&QueueState {
                            queue: q.queue.clone(),
                            state: state.into(),
                        })
                        .set(n as i64);
                }
                queued += q.due + q.held + q.waiting_retry + q.scheduled;
                waiting += q.waiting_retry;
            }
            for (state, n) in [
                ("queued", queued),
                ("in_progress", s.in_progress),
                ("sent", s.sent),
                ("failed", s.failed),
            ] {
                self.totals
                    .get_or_create(&State {
                        state: state.into(),
                    })
                    .set(n as i64);
            }
            self.retries_waiting.set(waiting as i64);
        }
        self.line_state.clear();
        self.next_probe.clear();
        for l in lease::read_all(layout) {
            for x in &l.lines {
                if let Some(t) = x.next_probe {
                    self.next_probe
                        .get_or_create(&NodeLineOnly {
                            node: l.node.clone(),
                            line: x.line.to_string(),
                        })
                        .set(t.timestamp());
                }
                for st in ["idle", "busy", "down"] {
                    self.line_state
                        .get_or_create(&NodeLine {
                            node: l.node.clone(),
                            line: x.line.to_string(),
                            state: st.into(),
                        })
                        .set(i64::from(x.state == st));
                }
            }
        }
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openmetrics_only_when_asked_and_not_refused() {
        assert!(!wants_openmetrics(None));
        assert!(!wants_openmetrics(Some("*/*")));
        assert!(!wants_openmetrics(Some("text/plain;version=0.0.4")));
        assert!(wants_openmetrics(Some(
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
        )));
        assert!(wants_openmetrics(Some(
            "text/plain, Application/OpenMetrics-Text"
        )));
        assert!(!wants_openmetrics(Some(
            "application/openmetrics-text; q=0"
        )));
    }

    #[test]
    fn classic_text_names_counters_with_total_and_drops_eof_and_units() {
        let om = "# HELP a Attempts.\n# TYPE a counter\na_total{x=\"1\"} 2\n\
                  # HELP d Seconds.\n# TYPE d_seconds histogram\n# UNIT d_seconds seconds\n\
                  d_seconds_count 1\n# HELP g G.\n# TYPE g gauge\ng 3\n# EOF\n";
        assert_eq!(
            classic(om),
            "# HELP a_total Attempts.\n# TYPE a_total counter\na_total{x=\"1\"} 2\n\
             # HELP d Seconds.\n# TYPE d_seconds histogram\nd_seconds_count 1\n\
             # HELP g G.\n# TYPE g gauge\ng 3\n"
        );
    }

    /// SMS and e-mail codes are classed by their own channel's rows (401 is NO_CREDIT, class
    /// J, only for SMS), and each channel's attempts are counted apart.
    #[test]
    fn sms_and_email_attempts_are_classed_and_counted_by_their_channel() {
        use crate::retry::outcome::Channel;
        let d = tempfile::tempdir().unwrap();
        let layout = Layout::new(d.path().join("spool"), 0);
        layout.create(None).unwrap();
        let at: DateTime<Utc> = "2026-03-02T09:00:00Z".parse().unwrap();
        let m = Metrics::new(crate::load::SystemConfig::builtin().outcomes);
        let ended = |job: &str, code, class, next, channel| Event::Outcome {
            job: job.into(),
            line: Some(7),
            code,
            class,
            description: String::new(),
            at,
            next,
            reason: String::new(),
            pages: 0,
            channel,
        };
        m.observe(&ended("s", 401, 'J', Next::Retry(0, at), Channel::Sms));
        m.observe(&ended("s", 400, 'S', Next::Sent, Channel::Sms));
        m.observe(&ended("e", 2550, 'Z', Next::Fail, Channel::Email));
        m.observe(&ended("f", 0, 'S', Next::Sent, Channel::Fax));
        let out = classic(&m.render(&layout, &crate::load::SystemConfig::builtin(), at));
        for want in [
            r#"redial_attempts_total{class="J",code="401"} 1"#,
            r#"redial_attempts_total{class="Z",code="2550"} 1"#,
            r#"redial_channel_attempts_total{channel="sms",result="retry"} 1"#,
            r#"redial_channel_attempts_total{channel="sms",result="success"} 1"#,
            r#"redial_channel_attempts_total{channel="email",result="failed"} 1"#,
            r#"redial_channel_attempts_total{channel="fax",result="success"} 1"#,
        ] {
            assert!(out.lines().any(|l| l == want), "{want} missing:\n{out}");
        }
    }

    #[test]
    fn a_down_line_shows_when_it_is_next_probed() {
        let d = tempfile::tempdir().unwrap();
        let layout = Layout::new(d.path().join("spool"), 1);
        layout.create(None).unwrap();
        let now: DateTime<Utc> = "2026-03-02T09:00:00Z".parse().unwrap();
        let probe: DateTime<Utc> = "2026-03-02T09:01:00Z".parse().unwrap();
        lease::write(
            &layout,
            &lease::Lease {
                node: "n1".into(),
                pid: 1,
                renewed: now,
                stale_after: 60,
                draining: false,
                lines: vec![
                    lease::LeaseLine {
                        line: 1,
                        state: "down".into(),
                        job: None,
                        next_probe: Some(probe),
                    },
                    lease::LeaseLine {
                        line: 2,
                        state: "idle".into(),
                        job: None,
                        next_probe: None,
                    },
                ],
                generation: 1,
                host: String::new(),
                spool_error: None,
            },
        )
        .unwrap();
        let sys = crate::load::SystemConfig::builtin();
        let m = Metrics::new(sys.outcomes.clone());
        let text = m.render(&layout, &sys, now);
        let want = format!(
            "redial_line_next_probe_timestamp_seconds{{node=\"n1\",line=\"1\"}} {}",
            probe.timestamp()
        );
        assert!(text.contains(&want), "{text}");
        assert!(!text.contains("line_next_probe_timestamp_seconds{node=\"n1\",line=\"2\"}"));
        assert!(text.contains("redial_line_state{node=\"n1\",line=\"1\",state=\"down\"} 1"));
    }
}
