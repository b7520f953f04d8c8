//! HylaFAX on the iaxmodem rig (../shared/spec/hylafax-rig.md): a private HylaFAX spool in the
//! rig's directory, `faxgetty` receiving on modem B, `faxsend` sending on modem A for side-by-side
//! runs, and readers for what HylaFAX wrote (session logs, received TIFFs).
//!
//! Nothing of the system's HylaFAX is touched: the spool is a copy made for the run, the modem
//! configs live in it, every process is started here and stopped by PID with the rig. A missing
//! HylaFAX is a failure, not a skip: `.ci/run` installs it.

#![allow(dead_code)]

use super::iaxmodem::{realtime, require, wait_for, Rig};
use chrono::NaiveTime;
use redial::fax::{read_pbm, render_text, Page, Resolution};
use redial::line::{Call, CallResult, LineDef};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// A private HylaFAX spool.
pub struct Spool {
    pub dir: PathBuf,
}

/// The number modem B answers as (any dialled number reaches it; HylaFAX logs this one).
pub const NUMBER: &str = "5550002";

/// B's identity, sent in its CSI.
pub const CSI: &str = "HYLAFAX B";

fn run(cmd: &mut Command) {
    let st = cmd.status().expect("run");
    assert!(st.success(), "{cmd:?} failed");
}

impl Spool {
    /// Makes the spool under `rig.dir/hylafax` with a modem config for each of the rig's modems
    /// (iaxmodem's own example config: Class 1, `Class1TMConnectDelay` and all).
    pub fn new(rig: &Rig) -> Spool {
        for tool in ["faxgetty", "faxsend", "tiffsplit", "tifftopnm", "tiffcp"] {
            require(tool);
        }
        let dir = rig.dir.path().join("hylafax");
        for d in [
            "archive", "bin", "client", "config", "dev", "docq", "doneq", "etc", "info", "log",
            "pollq", "recvq", "sendq", "status", "tmp",
        ] {
            std::fs::create_dir_all(dir.join(d)).unwrap();
        }
        run(Command::new("sh").arg("-c").arg(format!(
            "cp -a /etc/hylafax/. '{0}/etc/' && cp -a /var/spool/hylafax/bin/. '{0}/bin/' && cp -a /var/spool/hylafax/config/. '{0}/config/'",
            dir.display()
        )));
        // No mail, no post-processing: the test reads the spool itself.
        for script in ["faxrcvd", "notify", "pollrcvd"] {
            let p = dir.join("bin").join(script);
            std::fs::write(&p, "#!/bin/sh\nexit 0\n").unwrap();
            run(Command::new("chmod").arg("755").arg(&p));
        }
        run(Command::new("mkfifo").arg(dir.join("FIFO")));
        let example = Command::new("sh")
            .arg("-c")
            .arg("zcat -f /usr/share/doc/iaxmodem/examples/config.ttyIAX")
            .output()
            .expect("iaxmodem's example HylaFAX config");
        let example = String::from_utf8_lossy(&example.stdout).into_owned();
        assert!(
            example.contains("ModemType"),
            "iaxmodem's example HylaFAX config is missing (Debian package iaxmodem)"
        );
        for (tty, id) in [(&rig.a, "REDIAL A"), (&rig.b, CSI)] {
            let name = tty.file_name().unwrap().to_string_lossy().into_owned();
            let mut cfg = String::new();
            for line in example.lines() {
                if line.starts_with("FAXNumber:") {
                    cfg.push_str(&format!("FAXNumber: {NUMBER}\n"));
                } else if line.starts_with("LocalIdentifier:") {
                    cfg.push_str(&format!("LocalIdentifier: \"{id}\"\n"));
                } else if line.starts_with("TagLineFont:") {
                    // No tag line imaged on sent pages: HylaFAX sends the document's own bits,
                    // as redial does, so both send the same data.
                    cfg.push_str("TagLineFont: \"\"\n");
                } else {
                    cfg.push_str(line);
                    cfg.push('\n');
                }
            }
            cfg.push_str("PageChop: none\n");
            std::fs::write(dir.join(format!("etc/config.{name}")), cfg).unwrap();
        }
        // HylaFAX drops to uucp inside its spool: the directories above it must be traversable.
        let mut up = Some(dir.as_path());
        while let Some(d) = up {
            if d == Path::new("/") || d == Path::new("/tmp") {
                break;
            }
            run(Command::new("chmod").arg("o+x").arg(d));
            up = d.parent();
        }
        run(Command::new("chown").args(["-R", "uucp:uucp"]).arg(&dir));
        run(Command::new("chmod").arg("1777").arg(dir.join("tmp")));
        Spool { dir }
    }

    /// `faxgetty` answering on the rig's modem B; returns when it is idle and iaxmodem takes
    /// calls again.
    pub fn receive_on_b(&self, rig: &mut Rig) {
        let tty = rig.b.file_name().unwrap().to_string_lossy().into_owned();
        let log = std::fs::File::create(rig.dir.path().join("faxgetty.log")).unwrap();
        let child = realtime("faxgetty")
            .arg("-q")
            .arg(&self.dir)
            .arg(&tty)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start faxgetty");
        rig.adopt(child);
        self.wait_idle(&tty);
    }

    /// Waits until `faxgetty` on `tty` says "Running and idle", then 6 s more: iaxmodem
    /// refuses calls for 5 s after a hang-up, and faxgetty's modem reset is one (the spec's
    /// recipe; nothing observable marks the end of that window).
    pub fn wait_idle(&self, tty: &str) {
        let status = self.dir.join("status").join(tty);
        assert!(
            wait_for(Duration::from_secs(60), || std::fs::read_to_string(&status)
                .is_ok_and(|s| s.contains("Running and idle"))),
            "faxgetty on {tty} did not get ready: {:?}",
            std::fs::read_to_string(&status)
        );
        std::thread::sleep(Duration::from_secs(6));
    }

    /// The receptions so far, oldest first.
    pub fn receptions(&self) -> Vec<Reception> {
        let mut logs: Vec<PathBuf> = std::fs::read_dir(self.dir.join("log"))
            .map(|d| {
                d.flatten()
                    .map(|e| e.path())
                    .filter(|p| {
                        p.file_name()
                            .is_some_and(|n| n.to_string_lossy().starts_with('c'))
                    })
                    .collect()
            })
            .unwrap_or_default();
        logs.sort();
        logs.iter()
            .filter_map(|p| Reception::parse(&std::fs::read_to_string(p).ok()?, &self.dir))
            .collect()
    }

    /// Waits for reception number `n` (1-based) to end.
    pub fn wait_reception(&self, n: usize, limit: Duration) -> Reception {
        let mut got = Vec::new();
        wait_for(limit, || {
            got = self.receptions();
            got.len() >= n && got[n - 1].ended
        });
        assert!(
            got.len() >= n && got[n - 1].ended,
            "reception {n} did not end within {limit:?}; sessions: {got:#?}"
        );
        got.swap_remove(n - 1)
    }

    /// `faxsend` (HylaFAX's own Class 1 sender) on the rig's modem A, sending `tiff` (a
    /// multi-page TIFF/F, fine) to B with ECM `ec` (0 off, 2 = 256-octet frames) and data
    /// format `df` (0 MH, 1 MR, 4 MMR), pages joined by MPS. Returns faxsend's exit status
    /// (2 = the job is done).
    pub fn faxsend(&self, rig: &Rig, job: u32, tiff: &Path, pages: usize, ec: u8, df: u8) -> i32 {
        let modem = rig.a.file_name().unwrap().to_string_lossy().into_owned();
        let doc = format!("docq/doc{job}.tif");
        std::fs::copy(tiff, self.dir.join(&doc)).unwrap();
        let mut handling = "00S".repeat(pages.saturating_sub(1));
        handling.push_str("00P");
        let now = chrono::Utc::now().timestamp();
        let q = format!(
            "jobid:{job}\ngroupid:{job}\nstate:6\njobtype:facsimile\nnumber:{NUMBER}\n\
             external:{NUMBER}\ntts:0\nkilltime:{}\nsender:root\nmailaddr:root@localhost\n\
             owner:root\nclient:localhost\nnotify:none\nmaxdials:1\nmaxtries:1\ntotpages:{pages}\n\
             modem:{modem}\npriority:127\nresolution:196\npagewidth:215\npagelength:297\n\
             desiredbr:5\ndesiredec:{ec}\ndesireddf:{df}\ndesiredst:0\npagechop:none\n\
             pagehandling:{handling}\nfax:0::{doc}\n",
            now + 3600
        );
        let name = format!("sendq/q{job}");
        std::fs::write(self.dir.join(&name), q).unwrap();
        run(Command::new("chown")
            .args(["-R", "uucp:uucp"])
            .arg(&self.dir));
        let log = std::fs::File::create(rig.dir.path().join(format!("faxsend-{job}.log"))).unwrap();
        realtime("/usr/sbin/faxsend")
            .args(["-l", "-p", "-m", &modem, &name])
            .current_dir(&self.dir)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .status()
            .expect("faxsend")
            .code()
            .unwrap_or(-1)
    }
}

/// One session of `faxgetty`, read from its session log (`log/c<commid>`).
#[derive(Debug, Clone)]
pub struct Reception {
    /// The session log, whole.
    pub log: String,
    /// Seconds from the answer (`CONNECT` after `ATA`) to the sender's DCN: the call's line
    /// time as the receiver saw it, the same measure whoever sends.
    pub line_secs: Option<f64>,
    /// What the sender's DCS asked for ("14400 bit/s", "2-D MMR", "T.30 Annex A, 256-byte ECM").
    pub dcs: Vec<String>,
    /// Per received page, the coding and speed HylaFAX logged ("2-D MMR, 14400 bit/s").
    pub pages: Vec<String>,
    /// The received TIFF.
    pub tiff: Option<PathBuf>,
    /// The session is over (`SESSION END`).
    pub ended: bool,
}

fn stamp(line: &str) -> Option<NaiveTime> {
    // "Dec 02 03:31:18.18: [24261]: ..."
    NaiveTime::parse_from_str(line.get(7..18)?, "%H:%M:%S%.f").ok()
}

impl Reception {
    fn parse(log: &str, spool: &Path) -> Option<Reception> {
        if !log.contains("RECV FAX: begin") {
            return None;
        }
        let mut answer = None;
        let mut dcn = None;
        let mut dcs = Vec::new();
        let mut pages = Vec::new();
        let mut tiff = None;
        for line in log.lines() {
            let text = line.split("]: ").nth(1).unwrap_or("");
            if text.starts_with("ANSWER: FAX CONNECTION") {
                answer = stamp(line);
            } else if text.starts_with("RECV recv DCN") {
                dcn = stamp(line);
            } else if let Some(w) = text.strip_prefix("REMOTE wants ") {
                if !dcs.iter().any(|d| d == w) {
                    dcs.push(w.to_string());
                }
            } else if text.starts_with("RECV FAX (") && text.contains(", page ") {
                // "...: from X, page 1 in 0:00:12, INF, 7.7 line/mm, 2-D MMR, 14400 bit/s"
                let parts: Vec<&str> = text.rsplitn(3, ", ").collect();
                if parts.len() == 3 {
                    pages.push(format!("{}, {}", parts[1], parts[0]));
                }
            } else if text.starts_with("RECV FAX (") && text.contains("recvq/") {
                let file = text.split_whitespace().find(|w| w.starts_with("recvq/"))?;
                tiff = Some(spool.join(file));
            }
        }
        let line_secs = match (answer, dcn) {
            (Some(a), Some(d)) => {
                let mut s = (d - a).num_milliseconds() as f64 / 1000.0;
                if s < 0.0 {
                    s += 86_400.0;
                }
                Some(s)
            }
            _ => None,
        };
        Some(Reception {
            log: log.to_string(),
            line_secs,
            dcs,
            pages,
            tiff,
            ended: log.contains("SESSION END"),
        })
    }

    /// The received pages, decoded by libtiff's own tools (`tiffsplit`, `tifftopnm`), not by
    /// redial.
    pub fn decoded_pages(&self) -> Vec<Page> {
        let tiff = self.tiff.as_ref().expect("the session received a file");
        let work = tempfile::tempdir().unwrap();
        let prefix = work.path().join("p");
        let st = Command::new("tiffsplit")
            .arg(tiff)
            .arg(&prefix)
            .stderr(Stdio::null())
            .status()
            .expect("tiffsplit");
        assert!(st.success(), "tiffsplit {}", tiff.display());
        let mut parts: Vec<PathBuf> = std::fs::read_dir(work.path())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        parts.sort();
        parts
            .iter()
            .map(|p| {
                let out = Command::new("tifftopnm")
                    .arg(p)
                    .stderr(Stdio::null())
                    .output()
                    .expect("tifftopnm");
                assert!(out.status.success(), "tifftopnm {}", p.display());
                read_pbm(&out.stdout).expect("pbm").remove(0)
            })
            .collect()
    }
}

/// A multi-page TIFF of `pages`, made with netpbm (`pamtotiff -g3`) and libtiff (`tiffcp`):
/// fine resolution, MH, the document HylaFAX sends in the side-by-side runs (and redial too, so
/// both send the same bits).
pub fn tiff_of(pages: &[Page], dir: &Path) -> PathBuf {
    let mut parts = Vec::new();
    for (i, page) in pages.iter().enumerate() {
        let pbm = dir.join(format!("page{i}.pbm"));
        let fine = page.to_resolution(Resolution::Fine);
        std::fs::write(&pbm, redial::fax::write_pbm(fine.bitmap())).unwrap();
        let tif = dir.join(format!("page{i}.tif"));
        let out = Command::new("pamtotiff")
            .args(["-g3", "-fill", "-xresolution", "204", "-yresolution", "196"])
            .arg(&pbm)
            .stderr(Stdio::null())
            .output()
            .expect("pamtotiff (netpbm)");
        assert!(out.status.success(), "pamtotiff failed");
        std::fs::write(&tif, out.stdout).unwrap();
        parts.push(tif);
    }
    let all = dir.join("document.tif");
    run(Command::new("tiffcp").args(&parts).arg(&all));
    all
}

/// Three fine pages of text, each different, with enough on them to be more than white space.
pub fn three_pages() -> Vec<Page> {
    let mut text = String::new();
    for p in 1..=3 {
        if p > 1 {
            text.push('\u{c}');
        }
        text.push_str(&format!("Page {p} of 3, from redial to HylaFAX\n\n"));
        for l in 0..(12 * p) {
            text.push_str(&format!(
                "  line {l:2}: {} the quick brown fox jumps over the lazy dog\n",
                "#".repeat((l * 7 + p) % 23)
            ));
        }
    }
    let pages = render_text(text.as_bytes());
    assert_eq!(pages.len(), 3);
    pages
}

fn line(device: &Path, extra: &[(&str, &str)]) -> LineDef {
    let mut params: Vec<(String, String)> = vec![
        ("device".into(), device.display().to_string()),
        ("class".into(), "1".into()),
        ("type".into(), "fax".into()),
        ("id".into(), "+1 555 0001".into()),
    ];
    params.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    LineDef {
        number: 1,
        kind: "modem".into(),
        params,
        cfg_line: 1,
    }
}

/// redial's line driver (as a node runs it) sends `doc` at fine resolution on modem A.
pub async fn redial_sends(rig: &Rig, doc: &Path, extra: &[(&str, &str)]) -> CallResult {
    let settings = redial::line::modem::ModemSettings::from_def(&line(&rig.a, extra)).unwrap();
    let call = Call {
        job: "hylafax.FS".into(),
        number: NUMBER.into(),
        channel: redial::retry::outcome::Channel::Fax,
        documents: vec![doc.to_path_buf()],
        message: None,
        attempt: 1,
        alternate: false,
        low_resolution: false,
        fax_speed: None,
        header: None,
        cover: None,
        email: None,
        sms: None,
    };
    redial::line::modem::run_call(&settings, &call).await
}
