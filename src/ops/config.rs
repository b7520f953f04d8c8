//! The operator commands of the CFG, read once per (re)load:
//!
//! ```text
//! $retry_wait B 15              ; recommended wait (minutes) before a failed job of class B
//!                               ; may be retried by hand or by the sweep; "*" = every class
//! $auto_retry "06:00" max=3     ; daily sweep at 06:00 (CFG $timezone), at most 3 automatic
//!                               ; cycles per job; queue=N sends the retries to TOSENDN
//! $web 127.0.0.1:8470           ; the web page inside `redial run` (and `redial web`'s default)
//! $web_token SECRET             ; the token the page and the API require
//! $web_token_file /etc/redial/web.token   ; or read it from a file (first line)
//! $web_user alice role=operate hash=$argon2id$v=19$...   ; a named operator (`redial web passwd`)
//! $archive_after 30             ; daily: SENT/FAIL jobs older than 30 days go to ARCHIVE/
//! $delete_after 365             ; daily: finished or archived jobs older than a year are deleted
//! ```
//!
//! Pure: a function of the CFG document.

use crate::command::{parse_time, Document};
use crate::retry::outcome::Class;
use chrono::NaiveTime;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Default web address: loopback only.
pub const DEFAULT_WEB_ADDR: &str = "127.0.0.1:8470";

/// Default recommended wait per class, minutes (see docs/operations.md for why).
pub const DEFAULT_WAITS: &[(char, u32)] = &[
    ('A', 30),
    ('B', 15),
    ('C', 30),
    ('D', 60),
    ('E', 60),
    ('F', 30),
    ('G', 120),
    ('H', 60),
    ('I', 1),
];

/// Wait for classes not in [`DEFAULT_WAITS`] (J–O), minutes.
pub const DEFAULT_OTHER_WAIT: u32 = 60;

/// The daily automatic retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoRetry {
    /// Local time of day (CFG `$timezone`).
    pub at: NaiveTime,
    /// Automatic cycles per job at most.
    pub max: u32,
    /// Queue the retries go to (default: the job's own).
    pub queue: Option<u8>,
}

/// The web page's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSettings {
    /// Where to listen.
    pub addr: SocketAddr,
    /// `$web_token` (or the first line of `$web_token_file`).
    pub token: Option<String>,
}

/// Operator settings from the CFG.
#[derive(Debug, Clone, PartialEq)]
pub struct OpsConfig {
    waits: BTreeMap<char, u32>,
    /// `$auto_retry`.
    pub auto_retry: Option<AutoRetry>,
    /// `$web` (None: not enabled inside `redial run`).
    pub web: Option<WebSettings>,
    /// The token even when `$web` is absent (for `redial web`).
    pub token: Option<String>,
    /// `$web_user`: the console's named operators.
    pub users: Vec<super::web::operators::WebUser>,
    /// `$archive_after` and `$delete_after`: the daemon's daily clean of SENT and FAIL.
    pub clean: super::clean::Settings,
    /// The directory relative paths of the CFG are read from (`--base`).
    pub base: std::path::PathBuf,
}

impl Default for OpsConfig {
    fn default() -> OpsConfig {
        OpsConfig {
            waits: DEFAULT_WAITS.iter().copied().collect(),
            auto_retry: None,
            web: None,
            token: None,
            users: Vec::new(),
            clean: super::clean::Settings::default(),
            base: std::path::PathBuf::from("."),
        }
    }
}

impl OpsConfig {
    /// Reads the operator commands; relative token files are relative to `base`.
    pub fn from_cfg(doc: &Document, base: &Path) -> Result<OpsConfig, String> {
        let mut c = OpsConfig {
            base: base.to_path_buf(),
            ..OpsConfig::default()
        };
        let at = |line: usize, msg: String| format!("{} line {line}: {msg}", doc.origin());
        for cmd in doc.all("retry_wait") {
            let (Some(class), Some(mins)) = (cmd.arg(0), cmd.arg(1)) else {
                return Err(at(cmd.line, "expected $retry_wait CLASS MINUTES".into()));
            };
            let mins: u32 = mins
                .parse()
                .map_err(|_| at(cmd.line, format!("{mins:?} is not a number of minutes")))?;
            if class == "*" {
                for l in ('A'..='O').filter(|l| *l != 'I') {
                    c.waits.insert(l, mins);
                }
            } else {
                let k = Class::parse(class).map_err(|e| at(cmd.line, e))?;
                c.waits.insert(k.letter(), mins);
            }
        }
        if let Some(cmd) = doc.last("auto_retry") {
            let t = cmd
                .arg(0)
                .ok_or_else(|| at(cmd.line, "expected $auto_retry \"HH:MM\" [max=N]".into()))?;
            let mut a = AutoRetry {
                at: parse_time(t).map_err(|e| at(cmd.line, e.0))?,
                max: 3,
                queue: None,
            };
            for arg in &cmd.args[1..] {
                match arg.text.split_once('=') {
                    Some(("max", v)) => {
                        a.max = v
                            .parse()
                            .map_err(|_| at(cmd.line, format!("max={v:?} is not a number")))?
                    }
                    Some(("queue", v)) => {
                        a.queue = Some(
                            v.parse()
                                .map_err(|_| at(cmd.line, format!("queue={v:?} is not a queue")))?,
                        )
                    }
                    _ => {
                        return Err(at(
                            cmd.line,
                            format!("unknown $auto_retry setting {:?}", arg.text),
                        ))
                    }
                }
            }
            c.auto_retry = Some(a);
        }
        for (name, slot) in [
            ("archive_after", &mut c.clean.archive_after),
            ("delete_after", &mut c.clean.delete_after),
        ] {
            if let Some(cmd) = doc.last(name) {
                let days = cmd
                    .arg(0)
                    .ok_or_else(|| at(cmd.line, format!("expected ${name} DAYS")))?;
                *slot = Some(
                    super::clean::parse_days(days)
                        .map_err(|e| at(cmd.line, format!("${name}: {e}")))?,
                );
            }
        }
        if let (Some(a), Some(d)) = (c.clean.archive_after, c.clean.delete_after) {
            if d <= a {
                let line = doc.last("delete_after").map_or(0, |c| c.line);
                return Err(at(
                    line,
                    format!(
                        "$delete_after {} days is not after $archive_after {} days: nothing would ever be archived",
                        d.num_days(),
                        a.num_days()
                    ),
                ));
            }
        }
        if let Some(cmd) = doc.last("web_token") {
            c.token = cmd.arg(0).map(str::to_string);
        }
        if let Some(cmd) = doc.last("web_token_file") {
            let p = PathBuf::from(cmd.arg(0).unwrap_or_default());
            let p = if p.is_relative() { base.join(p) } else { p };
            let text = std::fs::read_to_string(&p)
                .map_err(|e| at(cmd.line, format!("{}: {e}", p.display())))?;
            c.token = text.lines().next().map(|l| l.trim().to_string());
        }
        c.token = c.token.filter(|t| !t.is_empty());
        c.users = super::web::operators::from_cfg(doc)?;
        if let Some(cmd) = doc.last("web") {
            let a = cmd.arg(0).unwrap_or(DEFAULT_WEB_ADDR);
            let a = if a.eq_ignore_ascii_case("on") {
                DEFAULT_WEB_ADDR
            } else {
                a
            };
            if !a.eq_ignore_ascii_case("off") {
                c.web = Some(WebSettings {
                    addr: a
                        .parse()
                        .map_err(|_| at(cmd.line, format!("{a:?} is not an address (IP:PORT)")))?,
                    token: c.token.clone(),
                });
            }
        }
        Ok(c)
    }

    /// The recommended wait for a class, minutes.
    pub fn wait_minutes(&self, class: Class) -> u32 {
        self.waits
            .get(&class.letter())
            .copied()
            .unwrap_or(DEFAULT_OTHER_WAIT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_waits_sweep_and_web() {
        let d = Document::parse_str(
            "$retry_wait B 5\n$retry_wait K 7\n$auto_retry \"06:30\" max=2 queue=3\n$web on\n$web_token s3cret\n",
            "t.cfg",
        )
        .unwrap();
        let c = OpsConfig::from_cfg(&d, Path::new("/")).unwrap();
        assert_eq!(c.wait_minutes(Class::parse("B").unwrap()), 5);
        assert_eq!(c.wait_minutes(Class::parse("K").unwrap()), 7);
        assert_eq!(c.wait_minutes(Class::parse("A").unwrap()), 30);
        assert_eq!(c.wait_minutes(Class::parse("L").unwrap()), 60);
        let a = c.auto_retry.unwrap();
        assert_eq!(
            (a.at.to_string().as_str(), a.max, a.queue),
            ("06:30:00", 2, Some(3))
        );
        let w = c.web.unwrap();
        assert_eq!(w.addr.to_string(), DEFAULT_WEB_ADDR);
        assert_eq!(w.token.as_deref(), Some("s3cret"));
        let d = Document::parse_str("$retry_wait Q 5\n", "t.cfg").unwrap();
        assert!(OpsConfig::from_cfg(&d, Path::new("/"))
            .unwrap_err()
            .contains("t.cfg line 1"));
        let d = Document::parse_str("$retry_wait * 9\n", "t.cfg").unwrap();
        let c = OpsConfig::from_cfg(&d, Path::new("/")).unwrap();
        assert_eq!(c.wait_minutes(Class::parse("G").unwrap()), 9);
    }
}
