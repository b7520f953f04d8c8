//! Shared helpers for the integration tests: start a `redial-sim` rack in a fresh directory,
//! wait for its `ready` file, stop it on drop, read its call log.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running rack; SIGTERM and wait on drop.
pub struct Rack {
    pub dir: PathBuf,
    child: Child,
}

impl Rack {
    /// Start `modems` modems with this scenario text at the given time scale.
    pub fn start(name: &str, modems: usize, scenario: &str, time_scale: f64) -> Rack {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("hw-sim-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let sc = dir.join("scenario.toml");
        std::fs::write(&sc, scenario).unwrap();
        let log = std::fs::File::create(dir.join("sim.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_redial-sim"))
            .arg("--modems")
            .arg(modems.to_string())
            .arg("--dir")
            .arg(dir.join("rack"))
            .arg("--scenario")
            .arg(&sc)
            .arg("--time-scale")
            .arg(time_scale.to_string())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start redial-sim");
        let rack = Rack {
            dir: dir.join("rack"),
            child,
        };
        // Bounded poll for the ready file (at most 10 s).
        for _ in 0..400 {
            if rack.dir.join("ready").exists() {
                return rack;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!(
            "redial-sim did not become ready; see {}",
            dir.join("sim.log").display()
        );
    }

    /// Path of modem `i`.
    pub fn tty(&self, i: usize) -> PathBuf {
        self.dir.join(format!("ttySIM{i}"))
    }

    /// All call records so far.
    pub fn calls(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.dir.join("calls.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect()
    }

    /// Stop the rack and wait for it; returns whether it exited cleanly.
    pub fn stop(mut self) -> bool {
        self.terminate()
    }

    fn terminate(&mut self) -> bool {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        self.child.wait().map(|s| s.success()).unwrap_or(false)
    }
}

impl Drop for Rack {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.terminate();
        }
    }
}

/// A DTE on a rack tty: raw termios, bounded reads.
pub struct Port {
    pub file: std::fs::File,
}

impl Port {
    /// Open like a serial program does and set 19200 baud raw.
    pub fn open(path: &Path) -> Port {
        use nix::sys::termios::{cfmakeraw, cfsetspeed, tcgetattr, tcsetattr, BaudRate, SetArg};
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(nix::libc::O_NOCTTY)
            .open(path)
            .expect("open tty");
        let mut t = tcgetattr(&file).expect("tcgetattr");
        cfmakeraw(&mut t);
        cfsetspeed(&mut t, BaudRate::B19200).expect("cfsetspeed");
        tcsetattr(&file, SetArg::TCSANOW, &t).expect("tcsetattr (baud rate) must succeed");
        Port { file }
    }

    pub fn write(&mut self, b: &[u8]) {
        use std::io::Write;
        self.file.write_all(b).unwrap();
    }

    /// Read until `done(buffer)` or `secs` pass; returns what was read.
    pub fn read_until(&mut self, secs: f64, done: impl Fn(&[u8]) -> bool) -> Vec<u8> {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        use std::io::Read;
        use std::os::fd::AsFd;
        let end = std::time::Instant::now() + Duration::from_secs_f64(secs);
        let mut acc = Vec::new();
        while !done(&acc) {
            let left = end.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                break;
            }
            let mut fds = [PollFd::new(self.file.as_fd(), PollFlags::POLLIN)];
            let ms = PollTimeout::from(left.as_millis().min(60_000) as u16);
            if poll(&mut fds, ms).unwrap_or(0) == 0 {
                continue;
            }
            let mut buf = [0u8; 4096];
            match self.file.read(&mut buf) {
                Ok(n) if n > 0 => acc.extend_from_slice(&buf[..n]),
                _ => break,
            }
        }
        acc
    }

    /// Send a command line and return the text up to and including the final result.
    pub fn cmd(&mut self, line: &str, secs: f64) -> String {
        self.write(format!("{line}\r").as_bytes());
        let out = self.read_until(secs, |b| {
            let s = String::from_utf8_lossy(b);
            FINALS.iter().any(|f| s.contains(&format!("\r\n{f}\r\n")))
        });
        String::from_utf8_lossy(&out).to_string()
    }
}

pub const FINALS: [&str; 8] = [
    "OK",
    "ERROR",
    "CONNECT",
    "BUSY",
    "NO CARRIER",
    "NO DIALTONE",
    "NO ANSWER",
    "VCON",
];
