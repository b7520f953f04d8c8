//! `redial submit`, `redial status` and `redial report`: operations on a spool, beside live
//! nodes. Submit writes the job elsewhere (TEMP), fsyncs and renames it into the queue, so a
//! node never sees a half-written file; status and report only read.

use anyhow::{bail, Context, Result};
use chrono::Utc;
use redial::command::Document;
use redial::daemon::settings::Settings;
use redial::datearg::DateArg;
use redial::load::SystemConfig;
use redial::spool::{report, rewrite::quote, store, Layout};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// Where the spool is.
#[derive(Debug, clap::Args)]
pub struct SpoolArgs {
    /// The system configuration (CFG); its `$request_dir` names the spool.
    #[arg(long)]
    cfg: Option<PathBuf>,
    /// The request directory, instead of the CFG's.
    #[arg(long)]
    spool: Option<PathBuf>,
    /// Directory that relative paths are relative to (default: the current directory).
    #[arg(long)]
    pub(crate) base: Option<PathBuf>,
}

impl SpoolArgs {
    pub(crate) fn open(&self) -> Result<(Layout, SystemConfig)> {
        let (settings, sys) = self.settings()?;
        Ok((settings.layout, sys))
    }

    /// The CFG's spool settings (with `--spool` as the request directory) and the CFG.
    pub(crate) fn settings(&self) -> Result<(Settings, SystemConfig)> {
        let sys = match &self.cfg {
            Some(p) => SystemConfig::load(p)?,
            None => SystemConfig::builtin(),
        };
        // Absolute: the document roots are built from it (a relative `--base .` would make the
        // empty path a root, and refuse every document).
        let base = match &self.base {
            Some(b) => std::path::absolute(b)?,
            None => std::env::current_dir()?,
        };
        let mut settings =
            Settings::from_cfg(&sys.document, &base, "status").map_err(anyhow::Error::msg)?;
        if let Some(s) = &self.spool {
            settings.layout.root = s.clone();
        }
        let root = &settings.layout.root;
        if !root.is_dir() {
            bail!(
                "the spool {} does not exist (give --cfg, --spool or --base; `redial run --create` makes a new one)",
                std::path::absolute(root).unwrap_or_else(|_| root.clone()).display()
            );
        }
        Ok((settings, sys))
    }
}

/// Arguments of `redial submit`.
#[derive(Debug, clap::Args)]
pub struct SubmitArgs {
    #[command(flatten)]
    spool: SpoolArgs,
    /// Queue number (0 = TOSEND).
    #[arg(long, default_value_t = 0)]
    queue: u8,
    /// An FS file to start from (its lines are kept; flags add to it).
    #[arg(long)]
    template: Option<PathBuf>,
    /// Fax number.
    #[arg(long)]
    fax: Option<String>,
    /// Voice number.
    #[arg(long)]
    voice: Option<String>,
    /// Voice message (with --voice).
    #[arg(long)]
    message: Option<String>,
    /// Document to send (repeatable).
    #[arg(long = "file")]
    files: Vec<String>,
    /// User profile (USR).
    #[arg(long)]
    user: Option<String>,
    /// Not before this day (MM/DD/YYYY, YYYY-MM-DD); a time (YYYY-MM-DDTHH:MM[:SS] local, or
    /// RFC 3339) also sets the start of --send-time. Written as `$fax_send_date MM/DD/YYYY`.
    #[arg(long)]
    send_date: Option<DateArg>,
    /// Not before this time (HH:MM:SS), optionally with an end: "08:00:00 17:00:00".
    #[arg(long)]
    send_time: Option<String>,
    /// Any further command, e.g. --set '$retry_max 3' (repeatable).
    #[arg(long = "set")]
    set: Vec<String>,
    /// File name (default: the next number from TOSEND/NEXTFS).
    #[arg(long)]
    name: Option<String>,
}

/// The next job number from `TOSEND/NEXTFS` (locked while read and written).
fn next_number(layout: &Layout) -> Result<u64> {
    let path = layout.queue_dir(0).join("NEXTFS");
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)?;
    f.lock()?;
    let mut s = String::new();
    f.read_to_string(&mut s)?;
    let n = s.trim().parse::<u64>().unwrap_or(0) + 1;
    f.set_len(0)?;
    f.rewind()?;
    writeln!(f, "{n}")?;
    f.sync_all()?;
    Ok(n)
}

/// Writes the job and prints its path.
pub fn submit(a: SubmitArgs) -> Result<()> {
    let (_, sys) = a.spool.settings()?;
    let mut doc = match &a.template {
        Some(t) => Document::parse(&std::fs::read(t)?, &t.display().to_string())?,
        None => Document::new("submitted"),
    };
    for (v, name) in [(&a.user, "fax_user"), (&a.fax, "fax_phone")] {
        if let Some(v) = v {
            doc.set(name, &[v]);
        }
    }
    if let Some(v) = &a.voice {
        let mut args = vec![v.as_str()];
        args.extend(a.message.as_deref());
        doc.set("voice_phone", &args);
    }
    for f in &a.files {
        doc.append("fax_filename", &[f]);
    }
    if let Some(d) = &a.send_date {
        let local = d.local(super::retry::tz(&sys));
        doc.set(
            "fax_send_date",
            &[&redial::command::format_date(local.date())],
        );
        if d.has_time() {
            if a.send_time.is_some() {
                bail!("--send-date with a time and --send-time both set the start: give one");
            }
            doc.set(
                "fax_send_time",
                &[&redial::command::format_time(local.time())],
            );
        }
    }
    if let Some(t) = &a.send_time {
        let parts: Vec<&str> = t.split_whitespace().collect();
        doc.set("fax_send_time", &parts);
    }
    let mut text = String::from_utf8(doc.to_bytes()).context("template is not UTF-8")?;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    for s in &a.set {
        let s = s.trim();
        text.push_str(if s.starts_with('$') { "" } else { "$" });
        text.push_str(s);
        text.push('\n');
    }
    let origin = match &a.template {
        Some(t) => format!("submitted job (from {})", t.display()),
        None => "submitted job".to_string(),
    };
    let target = place_job(&a.spool, a.queue, a.name.as_deref(), &origin, &text)?;
    println!("{}", target.display());
    Ok(())
}

/// Checks a job's text as the daemon's intake will (every reason at once; nothing written when
/// one fails), then writes it crash-safe into queue `queue` under `name` or the next number.
pub(crate) fn place_job(
    spool: &SpoolArgs,
    queue: u8,
    name: Option<&str>,
    origin: &str,
    text: &str,
) -> Result<PathBuf> {
    let (settings, sys) = spool.settings()?;
    let layout = settings.layout.clone();
    if queue > layout.max_queue {
        bail!(
            "queue {} does not exist (highest is {})",
            queue,
            layout.max_queue
        );
    }
    let base = match &spool.base {
        Some(b) => std::path::absolute(b)?,
        None => std::env::current_dir()?,
    };
    let problems = redial::daemon::check_submission(
        &sys,
        &settings,
        &base,
        origin,
        text.as_bytes(),
        Utc::now(),
    );
    if !problems.is_empty() {
        bail!(
            "the job is refused, nothing was written:\n  {}",
            problems.join("\n  ")
        );
    }
    layout.create(None)?;
    let dir = layout.queue_dir(queue);
    let target = loop {
        let file = match name {
            Some(n) if redial::spool::is_job_name(n) => n.to_string(),
            Some(n) => format!("{n}.FS"),
            None => format!("{:08}.FS", next_number(&layout)?),
        };
        let t = dir.join(&file);
        if !t.exists() {
            break t;
        }
        if name.is_some() {
            bail!("{} already exists", t.display());
        }
    };
    store::write_atomic(&layout.temp(), ".submit.", &target, text.as_bytes())?;
    Ok(target)
}

/// Arguments of `redial status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    spool: SpoolArgs,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Pretend it is this instant, for what is due, held or waiting (MM/DD/YYYY, YYYY-MM-DD,
    /// YYYY-MM-DDTHH:MM[:SS] local, RFC 3339).
    #[arg(long)]
    now: Option<DateArg>,
}

/// The instant a command judges at (`--now`, else the clock) and, with `--cfg`, every node's
/// lines and groups (to tell jobs no line serves).
pub(crate) fn when_and_lines(
    spool: &SpoolArgs,
    now: Option<DateArg>,
    sys: &SystemConfig,
) -> (chrono::DateTime<Utc>, Option<redial::linegroup::LineMap>) {
    let now = now.map_or_else(Utc::now, |t| t.instant(super::retry::tz(sys)));
    let lines = spool
        .cfg
        .is_some()
        .then(|| redial::linegroup::LineMap::from_cfg(&sys.document));
    (now, lines)
}

/// Prints the counts.
pub fn status(a: StatusArgs) -> Result<()> {
    let (layout, sys) = a.spool.open()?;
    let (now, lines) = when_and_lines(&a.spool, a.now, &sys);
    let s = report::status_with(&layout, &sys, now, lines.as_ref())?;
    if a.json {
        println!("{}", serde_json::to_string(&s)?);
        return Ok(());
    }
    println!(
        "{:<10} {:>8} {:>8} {:>14} {:>10} {:>9}",
        "QUEUE", "DUE", "HELD", "WAITING RETRY", "SCHEDULED", "UNSERVED"
    );
    let tz = sys.layer.timezone.unwrap_or(chrono_tz::UTC);
    for q in &s.queues {
        let until = q
            .held_until
            .map(|t| {
                let t = t.with_timezone(&tz);
                format!(
                    "  (held by a window until {})",
                    t.format("%Y-%m-%d %H:%M:%S")
                )
            })
            .unwrap_or_default();
        println!(
            "{:<10} {:>8} {:>8} {:>14} {:>10} {:>9}{until}",
            q.queue, q.due, q.held, q.waiting_retry, q.scheduled, q.unserved
        );
    }
    for h in &s.held {
        println!("HELD {}/{}: {}", h.queue, h.job, h.reason);
    }
    println!(
        "in progress {}   SENT {}   FAIL {}",
        s.in_progress, s.sent, s.failed
    );
    for (l, stale) in s.nodes.iter().zip(&s.stale) {
        let count = |st: &str| l.lines.iter().filter(|x| x.state == st).count();
        println!(
            "node {} (pid {}, lease {}{}): lines busy {} idle {} down {}",
            l.node,
            l.pid,
            l.renewed.format("%Y-%m-%d %H:%M:%S"),
            if *stale {
                ", STALE"
            } else if l.draining {
                ", draining"
            } else {
                ""
            },
            count("busy"),
            count("idle"),
            count("down")
        );
        if let Some(e) = &l.spool_error {
            println!("  SPOOL REFUSES WRITES: {e} (no new calls; results kept until it recovers)");
        }
        for x in &l.lines {
            let probe = x
                .next_probe
                .map(|t| format!("next probe {}", t.format("%Y-%m-%d %H:%M:%S")))
                .unwrap_or_default();
            println!(
                "  line {:>3} {:<5} {}{}",
                x.line,
                x.state,
                x.job.as_deref().unwrap_or(""),
                probe
            );
        }
    }
    Ok(())
}

/// Arguments of `redial report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The job: a file name (`00000001.FS` or `00000001`) found in the spool, or a path.
    job: String,
    #[command(flatten)]
    spool: SpoolArgs,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Pretend it is this instant, for when a queued job starts next (any date form, as
    /// `status --now`).
    #[arg(long)]
    now: Option<DateArg>,
    /// Print the session log of the job's N-th attempt record instead (every byte to and from
    /// the modem and each step of the call; modem lines only).
    #[arg(long, value_name = "N")]
    log: Option<usize>,
}

/// Prints a job's history (attempts and retries in time order) and, for a queued job, when it
/// starts next.
pub fn report(a: ReportArgs) -> Result<()> {
    let (layout, sys) = a.spool.open()?;
    let Some(path) = report::find(&layout, &a.job) else {
        bail!("job {:?} is not in {}", a.job, layout.root.display());
    };
    if let Some(n) = a.log {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let log = layout.session_log(&name, n);
        let text = std::fs::read_to_string(&log).with_context(|| {
            let have: Vec<String> = (1..=999)
                .filter(|i| layout.session_log(&name, *i).exists())
                .map(|i| i.to_string())
                .collect();
            format!(
                "no session log for attempt {n} of {name} ({}; {})",
                log.display(),
                if have.is_empty() {
                    "it has none: only modem lines keep one".to_string()
                } else {
                    format!("it has logs for attempts {}", have.join(", "))
                }
            )
        })?;
        print!("{text}");
        return Ok(());
    }
    let (now, lines) = when_and_lines(&a.spool, a.now, &sys);
    let r = match report::report_with(&layout, &path, &sys, now, lines.as_ref()) {
        Ok(r) => r,
        Err(e) => {
            let err = Path::new(&format!("{}.err", path.display())).to_path_buf();
            let extra = std::fs::read_to_string(&err).unwrap_or_default();
            bail!("{e}\n{extra}");
        }
    };
    if a.json {
        println!("{}", serde_json::to_string(&r)?);
        return Ok(());
    }
    println!(
        "{}  ({})  to {}",
        r.path,
        r.place,
        r.destination.as_deref().unwrap_or("-")
    );
    let history = r.history();
    if r.attempts.is_empty() {
        let place = match r.standing {
            Some(_) => format!("waiting in {}", r.place),
            None => format!("in {}", r.place),
        };
        println!("never tried: {place}");
    }
    if !history.is_empty() {
        println!(
            "{:<20} {:<6} {:>5} {:<5} {:>5} {:<44} THEN",
            "WHEN", "LINE", "CODE", "CLASS", "PAGES", "OUTCOME"
        );
    }
    for h in history {
        let when = h.when().format("%Y-%m-%d %H:%M:%S");
        match h {
            report::HistoryLine::Attempt(x) => {
                println!(
                    "{when:<20} {:<6} {:>5} {:<5} {:>5} {:<44} {}",
                    x.line,
                    x.code,
                    x.class,
                    match (x.pages_sent, x.pages_scheduled) {
                        (Some(s), Some(of)) => format!("{s}/{of}"),
                        _ => "-".into(),
                    },
                    x.description,
                    x.then
                );
                if let Some(said) = x.remote.describe() {
                    println!("{:<20} {said}", "");
                }
                if let Some(w) = x.why.as_ref().filter(|w| w.action != "done") {
                    println!("{:<20} decided: {}", "", w.reason);
                }
            }
            report::HistoryLine::Note(n) => {
                let how = if n.kind == "auto" {
                    "retried automatically"
                } else {
                    "retried by hand"
                };
                let why = if n.reason.is_empty() {
                    String::new()
                } else {
                    format!(": {}", quote(&n.reason))
                };
                println!("{when:<20} {how} -> {}{why}", n.queue);
            }
        }
    }
    let at = |t: &chrono::NaiveDateTime| format!("next start {}", t.format("%Y-%m-%d %H:%M:%S"));
    match (r.standing.as_deref(), &r.next_start_local) {
        (Some("waiting_report"), _) => {
            if let Some(p) = &r.sms_pending {
                let price = p
                    .price
                    .as_deref()
                    .map(|x| format!(" at price {x}"))
                    .unwrap_or_default();
                println!(
                    "waiting for the delivery report of SMS {}{price} (handed to the gateway {}) until {}: never resent while it waits; without a final report by then it fails (outcome 411)",
                    p.id,
                    p.submitted.format("%Y-%m-%dT%H:%M:%SZ"),
                    p.deadline_local.format("%Y-%m-%d %H:%M:%S")
                );
            }
        }
        (Some("due"), _) => println!("due now: a node starts it when a line of its group is free"),
        (Some("held"), Some(t)) => println!(
            "{}: held by a window (its send window or a pause window) until then",
            at(t)
        ),
        (Some("waiting_retry"), Some(t)) => println!("{}: waiting for its retry time", at(t)),
        (Some("scheduled"), Some(t)) => println!("{}: scheduled (its send date and time)", at(t)),
        (Some("no_start"), _) => println!(
            "no start possible: {} (the daemon fails it)",
            r.no_start.as_deref().unwrap_or_default()
        ),
        _ => {}
    }
    if let Some(reason) = &r.fail_reason {
        println!("fail reason: {}", quote(reason));
    }
    if let Some(reason) = &r.held {
        println!("HELD: {reason}");
    }
    Ok(())
}
