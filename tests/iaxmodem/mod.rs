//! Two iaxmodems back to back (../shared/spec/iaxmodem-rig.md): a real fax line on one machine.
//!
//! Writes `/etc/iaxmodem/<tag>a` and `<tag>b` (the path is compiled into iaxmodem, so this
//! runs as root, as CI does), starts both instances as plain processes and kills them by PID when
//! dropped. A missing iaxmodem or efax is a test failure, not a skip: `.ci/run` installs them.

#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Fails loudly when a tool is missing.
pub fn require(tool: &str) {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "{tool} is not installed: the Class 1 rig tests need iaxmodem, efax and efix (.ci/run installs them)"
    );
}

/// Polls `f` every 20 ms for up to `limit`.
pub fn wait_for(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
}

/// `program` under SCHED_FIFO priority 10 (`chrt -f 10`): spandsp's modulation and T.30's
/// timers are real-time work, and on a loaded 2-core machine a starved iaxmodem drops audio
/// (../shared/spec/hylafax-rig.md). Plain when `chrt` cannot raise the priority.
pub fn realtime(program: &str) -> Command {
    let can = Command::new("chrt")
        .args(["-f", "10", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if can {
        let mut c = Command::new("chrt");
        c.args(["-f", "10", program]);
        c
    } else {
        Command::new(program)
    }
}

/// One rig at a time: spandsp's modulation is real-time work, and T.30's timers do not forgive
/// a starved CPU, so the rigs of one test binary take turns.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A running pair.
pub struct Rig {
    _turn: std::sync::MutexGuard<'static, ()>,
    pub dir: tempfile::TempDir,
    /// The caller's pty (Class 1 only).
    pub a: PathBuf,
    /// The receiver's pty.
    pub b: PathBuf,
    configs: Vec<PathBuf>,
    children: Vec<Child>,
    /// Pty links under `/dev` to remove afterwards.
    links: Vec<PathBuf>,
}

impl Rig {
    /// Starts iaxmodem `<tag>a` on UDP `port` and `<tag>b` on `port + 1`, their ptys in the
    /// rig's temporary directory.
    pub fn start(tag: &str, port: u16) -> Rig {
        Rig::start_at(tag, port, None)
    }

    /// The same with both ptys as `/dev/ttyIAX<tag>a` and `b`, owned by uucp, where HylaFAX
    /// looks for its modems (`faxgetty`/`faxsend` name a modem by its tty under `/dev`).
    pub fn start_in_dev(tag: &str, port: u16) -> Rig {
        Rig::start_at(tag, port, Some(Path::new("/dev")))
    }

    fn start_at(tag: &str, port: u16, ptys: Option<&Path>) -> Rig {
        require("iaxmodem");
        require("efax");
        require("efix");
        let turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all("/etc/iaxmodem").expect("/etc/iaxmodem (run as root)");
        let _ = std::fs::create_dir_all("/var/log/iaxmodem");
        let (a, b, owner) = match ptys {
            None => (
                dir.path().join("ttyIAXa"),
                dir.path().join("ttyIAXb"),
                "root:root",
            ),
            Some(d) => (
                d.join(format!("ttyIAX{tag}a")),
                d.join(format!("ttyIAX{tag}b")),
                "uucp:uucp",
            ),
        };
        let mut rig = Rig {
            _turn: turn,
            a,
            b,
            dir,
            configs: Vec::new(),
            children: Vec::new(),
            links: Vec::new(),
        };
        if ptys.is_some() {
            rig.links = vec![rig.a.clone(), rig.b.clone()];
        }
        for (side, own, peer) in [("a", port, port + 1), ("b", port + 1, port)] {
            let name = format!("{tag}{side}");
            let cfg = PathBuf::from("/etc/iaxmodem").join(&name);
            std::fs::write(
                &cfg,
                format!(
                    "device     {}\nowner      {owner}\nmode       660\nport       {own}\nrefresh    0\nserver     127.0.0.1:{peer}\npeername   {side}\nsecret     x\ncodec      slinear\n",
                    if side == "a" { &rig.a } else { &rig.b }.display()
                ),
            )
            .expect("write iaxmodem config");
            rig.configs.push(cfg);
            let log = std::fs::File::create(rig.dir.path().join(format!("iaxmodem-{side}.log")))
                .expect("log");
            let child = realtime("iaxmodem")
                .arg(&name)
                .stdout(log.try_clone().expect("log"))
                .stderr(log)
                .spawn()
                .expect("start iaxmodem");
            rig.children.push(child);
        }
        let (a, b) = (rig.a.clone(), rig.b.clone());
        assert!(
            wait_for(Duration::from_secs(10), || a.exists() && b.exists()),
            "iaxmodem did not create its ptys"
        );
        rig
    }

    /// efax answering on B (`-i S0=1 -w`), receiving into `<dir>/rx/fax.NNN`. Waits until it
    /// listens.
    pub fn efax_receiver(&mut self) -> PathBuf {
        let rx = self.dir.path().join("rx");
        std::fs::create_dir_all(&rx).unwrap();
        let log_path = self.dir.path().join("efax-rx.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let child = Command::new("efax")
            .args(["-d"])
            .arg(&self.b)
            .args(["-o1", "-i", "S0=1", "-w", "-r"])
            .arg(rx.join("fax"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start efax");
        self.children.push(child);
        assert!(
            wait_for(Duration::from_secs(10), || std::fs::read_to_string(
                &log_path
            )
            .is_ok_and(|l| l.contains("waiting for activity"))),
            "efax receiver did not start: {}",
            std::fs::read_to_string(&log_path).unwrap_or_default()
        );
        rx
    }

    /// Waits for the last child (the efax receiver) to exit; its status code.
    pub fn wait_receiver(&mut self, limit: Duration) -> Option<i32> {
        let child = self.children.last_mut()?;
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Ok(Some(s)) = child.try_wait() {
                return s.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// Keeps `child` running for the rig's lifetime (stopped by PID, before the modems).
    pub fn adopt(&mut self, child: Child) {
        self.children.push(child);
    }

    /// A log file of the rig, for failure messages.
    pub fn log(&self, name: &str) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(self.dir.path().join(name)) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        for c in self.children.iter_mut().rev() {
            let _ = c.kill();
            let _ = c.wait();
        }
        for cfg in &self.configs {
            let _ = std::fs::remove_file(cfg);
        }
        for link in &self.links {
            let _ = std::fs::remove_file(link);
            if let Some(name) = link.file_name() {
                let _ = std::fs::remove_file(
                    Path::new("/var/lock").join(format!("LCK..{}", name.to_string_lossy())),
                );
            }
        }
    }
}

/// Decodes an efax-received file to PBM pages with efix.
pub fn efix_pbm(file: &Path) -> Vec<u8> {
    let out = Command::new("efix")
        .args(["-i", "fax", "-o", "pbm"])
        .arg(file)
        .stderr(Stdio::null())
        .output()
        .expect("efix");
    assert!(out.status.success(), "efix failed on {}", file.display());
    out.stdout
}
