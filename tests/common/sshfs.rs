//! The two-mount rig: one server directory mounted several times with sshfs, through an sshd on
//! 127.0.0.1 that the rig starts with a throw-away host key and user key. Each mount is what a
//! separate machine would see of a file server. Everything the rig starts (sshd, one sshfs per
//! mount, in the foreground so their pids are ours) is unmounted and killed by pid when the rig
//! is dropped, also when a test panics. Shared by tests/scale_out_sshfs.rs and
//! benches/shared_spool.rs; needs root, `/usr/sbin/sshd`, `sshfs` and `/dev/fuse`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The cache-off options docs/scale-out.md asks of an sshfs mount of a spool.
pub const SAFE_OPTIONS: &str = "dir_cache=no";

/// sshd, and the mounts of its one directory.
pub struct Rig {
    dir: tempfile::TempDir,
    port: u16,
    sshd: Option<Child>,
    mounts: Vec<(PathBuf, Child)>,
}

/// Why the rig cannot run here (`None`: it can).
pub fn missing() -> Option<String> {
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root (sshd and FUSE mounts need it)".into());
    }
    if !Path::new("/usr/sbin/sshd").exists() {
        return Some("no /usr/sbin/sshd (apt-get install openssh-server)".into());
    }
    if !Command::new("sh")
        .args(["-c", "command -v sshfs && command -v fusermount"])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
    {
        return Some("no sshfs or fusermount (apt-get install sshfs)".into());
    }
    if std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse")
        .is_err()
    {
        return Some("/dev/fuse cannot be opened".into());
    }
    None
}

/// When the rig cannot run: under CI (`CI=true`) that fails the test; elsewhere the test says
/// why and is skipped (returns true).
pub fn skip(test: &str) -> bool {
    let Some(why) = missing() else { return false };
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{test}: the sshfs rig cannot run under CI: {why}");
    }
    eprintln!("{test}: skipped: {why}");
    true
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("run a rig command");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn mounted(mount_point: &Path) -> bool {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let want = mount_point.to_string_lossy().replace(' ', "\\040");
    text.lines()
        .any(|l| l.split(' ').nth(4) == Some(want.as_str()) && l.contains(" - fuse.sshfs "))
}

impl Rig {
    /// Starts sshd on a free port of 127.0.0.1 serving an empty `srv` directory.
    pub fn start() -> Rig {
        let dir = tempfile::Builder::new()
            .prefix("redial-sshfs")
            .tempdir()
            .unwrap();
        let d = dir.path().to_path_buf();
        // sshd's users must be able to walk to their files.
        run(Command::new("chmod").args(["755"]).arg(&d));
        for (key, _) in [("host", ()), ("user", ())] {
            run(Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(d.join(key)));
        }
        std::fs::copy(d.join("user.pub"), d.join("authorized_keys")).unwrap();
        std::fs::create_dir_all(d.join("srv")).unwrap();
        std::fs::create_dir_all("/run/sshd").unwrap();
        let port = free_port();
        std::fs::write(
            d.join("sshd_config"),
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {host}\nAuthorizedKeysFile {keys}\n\
                 PidFile none\nPermitRootLogin prohibit-password\nPasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\nStrictModes no\nUsePAM no\n\
                 Subsystem sftp internal-sftp\n",
                host = d.join("host").display(),
                keys = d.join("authorized_keys").display(),
            ),
        )
        .unwrap();
        let log = std::fs::File::create(d.join("sshd.log")).unwrap();
        let sshd = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start sshd");
        let rig = Rig {
            dir,
            port,
            sshd: Some(sshd),
            mounts: Vec::new(),
        };
        let end = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < end,
                "sshd never listened: {}",
                rig.sshd_log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        rig
    }

    /// The served directory itself (the file server's view).
    pub fn server(&self) -> PathBuf {
        self.dir.path().join("srv")
    }

    /// sshd's log.
    pub fn sshd_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    /// Mounts the server directory at `<rig>/<name>` with `options` (besides the login's).
    pub fn mount(&mut self, name: &str, options: &str) -> PathBuf {
        let mp = self.dir.path().join(name);
        std::fs::create_dir_all(&mp).unwrap();
        let mut o = format!(
            "IdentityFile={},StrictHostKeyChecking=no,UserKnownHostsFile=/dev/null,port={},LogLevel=ERROR",
            self.dir.path().join("user").display(),
            self.port
        );
        if !options.is_empty() {
            o = format!("{options},{o}");
        }
        let log = std::fs::File::create(self.dir.path().join(format!("sshfs-{name}.log"))).unwrap();
        let child = Command::new("sshfs")
            .arg("-f")
            .arg("-o")
            .arg(o)
            .arg(format!("root@127.0.0.1:{}", self.server().display()))
            .arg(&mp)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start sshfs");
        self.mounts.push((mp.clone(), child));
        let end = Instant::now() + Duration::from_secs(20);
        while !mounted(&mp) {
            let c = &mut self.mounts.last_mut().unwrap().1;
            let log = std::fs::read_to_string(self.dir.path().join(format!("sshfs-{name}.log")));
            assert!(
                c.try_wait().unwrap().is_none(),
                "sshfs exited: {log:?}\nsshd: {}",
                self.sshd_log()
            );
            assert!(
                Instant::now() < end,
                "{} never mounted: {log:?}",
                mp.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        mp
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        for (mp, mut child) in self.mounts.drain(..).rev() {
            let _ = Command::new("fusermount")
                .arg("-u")
                .arg(&mp)
                .stderr(Stdio::null())
                .status();
            if mounted(&mp) {
                // Still busy (a node of a failed test): detach it lazily.
                let _ = Command::new("fusermount")
                    .arg("-uz")
                    .arg(&mp)
                    .stderr(Stdio::null())
                    .status();
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(mut s) = self.sshd.take() {
            let _ = s.kill();
            let _ = s.wait();
        }
    }
}
