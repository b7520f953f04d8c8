//! The spooler's own CFG commands, read once per (re)load.
//!
//! ```text
//! $request_dir spool 3                    ; request directory and highest TOSEND queue
//! $node n1 queues=0,2,1 lines=1-4         ; per node: queue order (TOSEND stays first), lines
//! $queue_disable 3                        ; queues no node takes jobs from
//! $max_concurrent_calls 1                 ; calls at once to one number (default 1)
//! $destination_breaker 5 30               ; 5 failures in a row pause a number 30 min (default off)
//! $node_lease 10 60                       ; renew every 10 s; stale after 60 s
//! $rescan_interval 60                     ; full directory rescan (seconds; 1 on a shared spool)
//! $spool_shared auto                      ; yes|no|auto: a network file system (auto: by mount type)
//! $shutdown_grace 30                      ; SIGTERM: seconds in-flight calls may take
//! $document_root docs                     ; where documents may come from (several allowed;
//!                                         ; default: the base and the request directory)
//! $dnc_file /srv/lists/dnc.txt            ; an external do-not-call list (besides the spool's DNC)
//! $max_calls_per_day 3                    ; attempts per destination per local day (default: no cap)
//! $max_pages 50                           ; fax pages a job may have (default: no cap; FS overrides)
//! ```

use crate::command::Document;
use crate::linegroup::LineSet;
use crate::spool::docroot::DocRoots;
use crate::spool::shared::SharedSetting;
use crate::spool::Layout;
use std::path::{Path, PathBuf};

/// Settings of one node.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The spool.
    pub layout: Layout,
    /// Queues this node takes jobs from, highest priority first.
    pub order: Vec<u8>,
    /// The lines this node runs (`None`: every `$line`).
    pub lines: Option<LineSet>,
    /// `$max_concurrent_calls`.
    pub max_per_dest: u32,
    /// `$destination_breaker THRESHOLD MINUTES`: consecutive failed attempts to one number that
    /// pause it, and the first pause (doubling up to 8 times that); threshold 0 = off.
    pub dest_breaker: (u32, i64),
    /// Lease renewal, seconds.
    pub lease_renew: i64,
    /// Lease staleness, seconds.
    pub lease_stale: i64,
    /// Rescan interval, seconds (`$rescan_interval`; default 60, or 1 on a shared spool).
    pub rescan: u64,
    /// Whether the spool is shared over a network file system (`$spool_shared`, see
    /// [`shared`](crate::spool::shared)): then rescans find new jobs, not inotify.
    pub shared: bool,
    /// The mount the spool is on (read at load), for the start-up check of its options.
    pub mount: Option<crate::spool::shared::Mount>,
    /// Shutdown grace, seconds.
    pub grace: u64,
    /// `$document_root DIR…` (relative to the base directory); without one, the base directory
    /// and the request directory (see [`DocRoots::defaults`]).
    pub documents: DocRoots,
    /// `$path_map PREFIX DIR…`: Windows paths in jobs mapped to local directories.
    pub paths: crate::spool::pathmap::PathMap,
    /// `$dnc_file PATH` (relative to the base directory): an external do-not-call list.
    pub dnc_file: Option<PathBuf>,
    /// `$max_calls_per_day N`: attempts per destination per local day, every node together
    /// (`None`: no cap; `0` reads as no cap).
    pub max_calls_per_day: Option<u32>,
    /// `$max_pages N`: the most pages a fax job may have (documents and cover together); an FS
    /// file's own `$max_pages` overrides it (`None`: no cap; `0` reads as no cap).
    pub max_pages: Option<u32>,
    /// `$queue_disable`: queues no node takes jobs from.
    pub disabled: Vec<u8>,
    /// `$sms_report_timeout SECONDS`: how long a submitted SMS waits for its final delivery
    /// report before it ends with outcome 411 (default two days, the seed's validity period).
    pub sms_report_timeout: i64,
}

impl Settings {
    /// Whether `$queue_disable` takes queue `q` from every node.
    pub fn node_disabled(&self, q: u8) -> bool {
        self.disabled.contains(&q)
    }
}

fn num<T: std::str::FromStr>(
    doc: &Document,
    name: &str,
    i: usize,
    default: T,
) -> Result<T, String> {
    match doc.last(name) {
        None => Ok(default),
        Some(c) => match c.arg(i) {
            None => Ok(default),
            Some(s) => s.parse().map_err(|_| {
                format!(
                    "{} line {}: ${name}: {s:?} is not a number",
                    doc.origin(),
                    c.line
                )
            }),
        },
    }
}

impl Settings {
    /// Reads the settings for `node`; relative paths are relative to `base`.
    pub fn from_cfg(doc: &Document, base: &Path, node: &str) -> Result<Settings, String> {
        let (dir, max) = match doc.last("request_dir") {
            Some(c) => (
                c.arg(0)
                    .map(PathBuf::from)
                    .unwrap_or_else(|| "spool".into()),
                c.arg(1).and_then(|s| s.parse::<u8>().ok()).unwrap_or(9),
            ),
            None => (PathBuf::from("spool"), 9),
        };
        let root = if dir.is_relative() {
            base.join(dir)
        } else {
            dir
        };
        let mut roots = Vec::new();
        for c in doc.all("document_root") {
            if c.args.is_empty() {
                return Err(format!(
                    "{} line {}: expected $document_root DIR [DIR…]",
                    doc.origin(),
                    c.line
                ));
            }
            roots.extend(c.args.iter().map(|a| PathBuf::from(a.text.as_ref())));
        }
        let documents = if roots.is_empty() {
            DocRoots::defaults(base, &root)
        } else {
            DocRoots::new(base, roots)
        };
        let layout = Layout::new(root, max);
        let mut paths = crate::spool::pathmap::PathMap::default();
        for c in doc.all("path_map") {
            match (c.arg(0), c.arg(1)) {
                (Some(prefix), Some(dir)) if c.args.len() == 2 => {
                    let local = if Path::new(dir).is_relative() {
                        base.join(dir).display().to_string()
                    } else {
                        dir.to_string()
                    };
                    paths.add(prefix, &local);
                }
                _ => {
                    return Err(format!(
                        "{} line {}: $path_map takes a prefix as jobs write it and a local directory, e.g. $path_map \"C:\\FAX\\DOCS\" /srv/fax/docs",
                        doc.origin(),
                        c.line
                    ))
                }
            }
        }
        let mut disabled = Vec::new();
        for c in doc.all("queue_disable") {
            for a in &c.args {
                disabled.push(a.text.parse::<u8>().map_err(|_| {
                    format!(
                        "{} line {}: {:?} is not a queue number",
                        doc.origin(),
                        c.line,
                        a.text
                    )
                })?);
            }
        }
        let mut order: Vec<u8> = layout.queues().collect();
        let mut lines = None;
        if let Some(c) = doc
            .all("node")
            .filter(|c| c.arg(0).is_some_and(|n| n.eq_ignore_ascii_case(node)))
            .last()
        {
            for a in &c.args[1..] {
                match a.text.split_once('=') {
                    Some(("queues", v)) => {
                        let mut o = Vec::new();
                        for t in v.split([' ', ',']).filter(|t| !t.is_empty()) {
                            let q = t
                                .parse::<u8>()
                                .ok()
                                .filter(|q| *q <= layout.max_queue)
                                .ok_or_else(|| {
                                    format!(
                                        "{} line {}: queue {t:?} does not exist",
                                        doc.origin(),
                                        c.line
                                    )
                                })?;
                            if !o.contains(&q) {
                                o.push(q);
                            }
                        }
                        // TOSEND can never be moved from the top.
                        if let Some(p) = o.iter().position(|q| *q == 0) {
                            o.remove(p);
                            o.insert(0, 0);
                        }
                        order = o;
                    }
                    Some(("lines", v)) => {
                        lines = Some(
                            LineSet::parse(v)
                                .map_err(|e| format!("{} line {}: {e}", doc.origin(), c.line))?,
                        );
                    }
                    _ => {
                        return Err(format!(
                        "{} line {}: expected $node NAME [queues=0,1,…] [lines=RANGE], found {:?}",
                        doc.origin(),
                        c.line,
                        a.text
                    ))
                    }
                }
            }
        }
        order.retain(|q| !disabled.contains(q));
        disabled.sort_unstable();
        disabled.dedup();
        let dnc_file = match doc.last("dnc_file") {
            None => None,
            Some(c) => match c.arg(0).filter(|a| !a.is_empty()) {
                Some(p) => {
                    let p = PathBuf::from(p.replace('\\', "/"));
                    Some(if p.is_relative() { base.join(p) } else { p })
                }
                None => {
                    return Err(format!(
                        "{} line {}: expected $dnc_file PATH",
                        doc.origin(),
                        c.line
                    ))
                }
            },
        };
        let setting = match doc.last("spool_shared") {
            None => SharedSetting::Auto,
            Some(c) => c.arg(0).and_then(SharedSetting::parse).ok_or_else(|| {
                format!(
                    "{} line {}: $spool_shared: expected yes, no or auto, not {:?}",
                    doc.origin(),
                    c.line,
                    c.arg(0).unwrap_or("")
                )
            })?,
        };
        let mount = if setting == SharedSetting::No {
            None
        } else {
            crate::spool::shared::mount_of(&layout.root)
        };
        let shared = crate::spool::shared::is_shared(setting, mount.as_ref());
        Ok(Settings {
            layout,
            order,
            lines,
            max_per_dest: num(doc, "max_concurrent_calls", 0, 1u32)?.max(1),
            dest_breaker: (
                num(doc, "destination_breaker", 0, 0u32)?,
                num(doc, "destination_breaker", 1, 30i64)?.max(1),
            ),
            lease_renew: num(doc, "node_lease", 0, 10i64)?.max(1),
            lease_stale: num(doc, "node_lease", 1, 60i64)?.max(2),
            rescan: num(doc, "rescan_interval", 0, if shared { 1 } else { 60u64 })?.max(1),
            shared,
            mount,
            grace: num(doc, "shutdown_grace", 0, 30u64)?,
            documents,
            paths,
            dnc_file,
            max_calls_per_day: Some(num(doc, "max_calls_per_day", 0, 0u32)?).filter(|n| *n > 0),
            max_pages: Some(num(doc, "max_pages", 0, 0u32)?).filter(|n| *n > 0),
            disabled,
            sms_report_timeout: num(doc, "sms_report_timeout", 0, 172_800i64)?.max(1),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_spool_is_rescanned_every_second_unless_told_otherwise() {
        let s = |cfg: &str| {
            Settings::from_cfg(
                &Document::parse_str(cfg, "t.cfg").unwrap(),
                Path::new("/b"),
                "a",
            )
        };
        let y = s("$spool_shared yes\n").unwrap();
        assert!(y.shared);
        assert_eq!(y.rescan, 1);
        let y = s("$spool_shared yes\n$rescan_interval 5\n").unwrap();
        assert_eq!(y.rescan, 5);
        let n = s("$spool_shared no\n").unwrap();
        assert!(!n.shared && n.mount.is_none());
        assert_eq!(n.rescan, 60);
        // /b does not exist: auto judges the mount of its nearest existing ancestor (/).
        let a = s("").unwrap();
        assert!(a.mount.is_some());
        let e = s("\n$spool_shared maybe\n").unwrap_err();
        assert!(
            e.contains("t.cfg line 2") && e.contains("yes, no or auto") && e.contains("maybe"),
            "{e}"
        );
    }

    #[test]
    fn node_order_and_defaults() {
        let d = Document::parse_str(
            "$request_dir /s 4\n$node a queues=2,0,1 lines=1-2\n$queue_disable 1\n$node_lease 1 3\n",
            "t.cfg",
        )
        .unwrap();
        let s = Settings::from_cfg(&d, Path::new("/b"), "A").unwrap();
        assert_eq!(s.order, [0, 2]);
        assert!(s.lines.as_ref().unwrap().contains(2));
        assert_eq!((s.lease_renew, s.lease_stale, s.max_per_dest), (1, 3, 1));
        let s = Settings::from_cfg(&d, Path::new("/b"), "b").unwrap();
        assert_eq!(s.order, [0, 2, 3, 4]);
        assert_eq!(s.layout.root, Path::new("/s"));
        let roots: Vec<&Path> = s.documents.roots().collect();
        assert_eq!(roots, [Path::new("/b"), Path::new("/s")]);
    }

    #[test]
    fn do_not_call_file_and_daily_cap() {
        let d = Document::parse_str("$dnc_file lists/dnc.txt\n$max_calls_per_day 3\n", "t.cfg")
            .unwrap();
        let s = Settings::from_cfg(&d, Path::new("/b"), "n").unwrap();
        assert_eq!(s.dnc_file.as_deref(), Some(Path::new("/b/lists/dnc.txt")));
        assert_eq!(s.max_calls_per_day, Some(3));
        let d = Document::parse_str("$max_calls_per_day 0\n", "t.cfg").unwrap();
        let s = Settings::from_cfg(&d, Path::new("/b"), "n").unwrap();
        assert_eq!((s.dnc_file, s.max_calls_per_day), (None, None));
        let d = Document::parse_str("$max_calls_per_day x\n", "t.cfg").unwrap();
        assert!(Settings::from_cfg(&d, Path::new("/b"), "n").is_err());
        let d = Document::parse_str("$dnc_file\n", "t.cfg").unwrap();
        let e = Settings::from_cfg(&d, Path::new("/b"), "n").unwrap_err();
        assert!(e.contains("expected $dnc_file PATH"), "{e}");
    }

    #[test]
    fn document_roots() {
        let d = Document::parse_str(
            "$document_root docs\n$document_root /srv/fax \"out going\"\n",
            "t.cfg",
        )
        .unwrap();
        let s = Settings::from_cfg(&d, Path::new("/b"), "n").unwrap();
        let roots: Vec<&Path> = s.documents.roots().collect();
        assert_eq!(
            roots,
            [
                Path::new("/b/docs"),
                Path::new("/srv/fax"),
                Path::new("/b/out going")
            ]
        );
        let d = Document::parse_str("$document_root\n", "t.cfg").unwrap();
        let e = Settings::from_cfg(&d, Path::new("/b"), "n").unwrap_err();
        assert!(e.contains("line 1: expected $document_root DIR"), "{e}");
        // Default request directory under the base: listed once each.
        let d = Document::parse_str("", "t.cfg").unwrap();
        let s = Settings::from_cfg(&d, Path::new("/b"), "n").unwrap();
        let roots: Vec<&Path> = s.documents.roots().collect();
        assert_eq!(roots, [Path::new("/b"), Path::new("/b/spool")]);
    }
}
