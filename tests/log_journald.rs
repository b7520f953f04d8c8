//! Under systemd (stderr is the stream `JOURNAL_STREAM` names), `redial run` logs to journald
//! with fields and priorities. The journal here is the test's own datagram socket, bind-mounted
//! at `/run/systemd/journal/socket` in a private mount namespace of the daemon's process only
//! (root is needed for that; without it the test says so and passes nothing off as checked).

mod common;

use common::spool::{scratch, wait_until, BIN};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Makes the child's `/run/systemd/journal` the directory `dir`, in a mount namespace of its own.
fn journal_in(cmd: &mut Command, dir: &std::path::Path) {
    use common::ns::Mount;
    let journal = std::path::Path::new("/run/systemd/journal");
    common::ns::private_mounts(
        cmd,
        &[
            Mount::Tmpfs(std::path::Path::new("/run")),
            Mount::Mkdir(std::path::Path::new("/run/systemd")),
            Mount::Mkdir(journal),
            Mount::Bind(dir, journal),
        ],
    );
}

/// The fields of one entry in journald's native protocol: `NAME=value\n`, or `NAME\n`, a
/// 64-bit little-endian length, the value's bytes and `\n`.
fn fields(mut d: &[u8]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    while let Some(end) = d.iter().position(|&b| b == b'\n' || b == b'=') {
        let name = String::from_utf8_lossy(&d[..end]).into_owned();
        if d[end] == b'=' {
            let rest = &d[end + 1..];
            let nl = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
            out.push((name, String::from_utf8_lossy(&rest[..nl]).into_owned()));
            d = &rest[(nl + 1).min(rest.len())..];
        } else {
            let len = u64::from_le_bytes(d[end + 1..end + 9].try_into().unwrap()) as usize;
            let value = &d[end + 9..end + 9 + len];
            out.push((name, String::from_utf8_lossy(value).into_owned()));
            d = &d[(end + 10 + len).min(d.len())..];
        }
    }
    out
}

#[test]
fn under_systemd_the_log_goes_to_the_journal_with_fields_and_priorities() {
    let d = scratch("$request_dir spool 2\n$timezone UTC\n$line 1 sim outcomes=0@0.1\n");
    let root = d.path();
    std::fs::write(
        root.join("spool/TOSEND/00000001.FS"),
        "$fax_phone 5550100\n",
    )
    .unwrap();
    let journal = tempfile::tempdir().unwrap();
    let socket = UnixDatagram::bind(journal.path().join("socket")).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    // stderr is the stream JOURNAL_STREAM names, as systemd sets it up.
    let stderr_path = root.join("stderr.log");
    let stderr = std::fs::File::create(&stderr_path).unwrap();
    let meta = stderr.metadata().unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args(["run", "--cfg", "redial.cfg", "--node", "a", "--base", "."])
        .current_dir(root)
        .env("RUST_LOG", "info")
        .env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()))
        .stdout(Stdio::null())
        .stderr(stderr);
    journal_in(&mut cmd, journal.path());
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
            eprintln!("SKIPPED: no private mount namespace here ({e}); run as root");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let mut entries: Vec<Vec<(String, String)>> = Vec::new();
    let mut buf = vec![0u8; 65536];
    let message =
        |e: &Vec<(String, String)>, m: &str| e.iter().any(|(k, v)| k == "MESSAGE" && v == m);
    let sent = wait_until(Duration::from_secs(30), || {
        while let Ok(n) = socket.recv(&mut buf) {
            entries.push(fields(&buf[..n]));
        }
        entries.iter().any(|e| message(e, "attempt ended"))
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        sent,
        "entries: {entries:#?}\nstderr: {}",
        std::fs::read_to_string(&stderr_path).unwrap()
    );
    let ended = entries
        .iter()
        .find(|e| message(e, "attempt ended"))
        .unwrap();
    for (k, v) in [
        ("PRIORITY", "6"),
        ("JOB", "00000001.FS"),
        ("LINE", "1"),
        ("CODE", "0"),
        ("NEXT", "sent"),
        ("SYSLOG_IDENTIFIER", "redial"),
    ] {
        assert!(
            ended.iter().any(|(a, b)| a == k && b == v),
            "{k}={v} missing in {ended:?}"
        );
    }
    assert!(
        entries.iter().any(|e| message(e, "spooler running")),
        "{entries:#?}"
    );
    // Nothing went to stderr: the journal has it all.
    let stderr = std::fs::read_to_string(&stderr_path).unwrap();
    assert!(!stderr.contains("attempt ended"), "{stderr}");
}
