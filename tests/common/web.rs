//! `redial web` for a test: the real binary on an ephemeral loopback port, and plain HTTP/1.0
//! requests to it.
#![allow(dead_code)]

use super::spool::{Node, BIN};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Starts `redial web` in `dir` (its `redial.cfg`, base `.`) with `extra` arguments, its stderr
/// to `log` (or nowhere). Returns the process and its `host:port`.
pub fn start(dir: &Path, extra: &[&str], log: Option<&Path>) -> (Node, String) {
    let stderr = log.map_or_else(Stdio::null, |p| std::fs::File::create(p).unwrap().into());
    let mut child = Command::new(BIN)
        .args([
            "web",
            "--listen",
            "127.0.0.1:0",
            "--cfg",
            "redial.cfg",
            "--base",
            ".",
        ])
        .args(extra)
        .current_dir(dir)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("redial web said {line:?}"))
        .trim_end_matches('/')
        .to_string();
    (child.into(), addr)
}

/// Sends `request` as written to `addr`: the status and the whole response (head and body).
pub fn http(addr: &str, request: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let status = raw.split(' ').nth(1).unwrap().parse().unwrap();
    (status, raw)
}

/// GET `path` with the bearer `token`: the status and the body.
pub fn get(addr: &str, path: &str, token: &str) -> (u16, String) {
    let (status, raw) = http(
        addr,
        &format!("GET {path} HTTP/1.0\r\nHost: redial\r\nAuthorization: Bearer {token}\r\n\r\n"),
    );
    let body = raw
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}
