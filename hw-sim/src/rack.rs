//! The rack: the tokio shell around N modems. One task per modem moves bytes between the
//! pty master and the [`Modem`] machine, runs its timer, writes received pages (TIFF-F) and
//! the call log, and makes vanishing modems disappear (and maybe come back).
//!
//! It never interprets a byte; all protocol decisions are in [`crate::modem`].

use crate::gsm::{GsmEntry, GsmModem};
use crate::modem::{Event, Modem, ModemConfig};
use crate::pty::{self, Pty};
use crate::scenario::{Exchange, Scenario};
use crate::tiff_f::write_tiff_f;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use thiserror::Error;
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// Errors that stop the rack.
#[derive(Debug, Error)]
pub enum RackError {
    /// pty creation failed.
    #[error(transparent)]
    Pty(#[from] pty::PtyError),
    /// File system trouble in the rack directory.
    #[error("{path}: {source}")]
    Io {
        /// Path involved.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
}

/// How to build the rack.
#[derive(Debug, Clone)]
pub struct RackConfig {
    /// Number of modems.
    pub modems: usize,
    /// Directory for links, `ready`, `received/`, `calls.jsonl`.
    pub dir: PathBuf,
    /// The scenario.
    pub scenario: Scenario,
    /// Line-time factor.
    pub time_scale: f64,
    /// Output pacing in bits per second (0 = as fast as the pty takes it).
    pub bps: u32,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> RackError + '_ {
    move |source| RackError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Link path of modem `i`.
pub fn link_path(dir: &Path, i: usize) -> PathBuf {
    dir.join(format!("ttySIM{i}"))
}

struct Shared {
    dir: PathBuf,
    exchange: Arc<Mutex<Exchange>>,
    anchor: (Instant, SystemTime),
    run_tag: String,
    time_scale: f64,
    bps: u32,
    gsm: Vec<GsmEntry>,
}

impl Shared {
    fn unix_ms(&self, t: Instant) -> u64 {
        let wall = if t >= self.anchor.0 {
            self.anchor.1 + (t - self.anchor.0)
        } else {
            self.anchor.1 - (self.anchor.0 - t)
        };
        wall.duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }

    fn modem(&self, index: usize, now: Instant) -> Modem {
        let cfg = ModemConfig {
            index,
            time_scale: self.time_scale,
            run_tag: self.run_tag.clone(),
            unix_at_start: self.unix_ms(now) / 1000,
        };
        Modem::new(cfg, self.exchange.clone(), now)
    }

    fn handle(&self, e: Event) -> Option<Option<Instant>> {
        match e {
            Event::Page { file, info, strip } => {
                let path = self.dir.join(&file);
                let r = std::fs::File::create(&path)
                    .map_err(|e| e.to_string())
                    .and_then(|f| {
                        write_tiff_f(std::io::BufWriter::new(f), info, &strip)
                            .map_err(|e| e.to_string())
                    });
                match r {
                    Ok(()) => {
                        tracing::info!(file = %path.display(), rows = info.height, "page stored")
                    }
                    Err(e) => {
                        tracing::error!(file = %path.display(), error = %e, "page not stored")
                    }
                }
                None
            }
            Event::CallEnded {
                mut record,
                started,
                ended,
            } => {
                record.start_unix_ms = self.unix_ms(started);
                record.end_unix_ms = self.unix_ms(ended);
                let path = self.dir.join("calls.jsonl");
                let line = serde_json::to_string(&record).unwrap_or_default();
                let r = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .and_then(|mut f| f.write_all(format!("{line}\n").as_bytes()));
                if let Err(e) = r {
                    tracing::error!(error = %e, "call log not written");
                }
                tracing::info!(modem = record.modem, number = %record.number, outcome = %record.outcome, result = %record.result, "call ended");
                None
            }
            Event::Vanish { return_at } => Some(return_at),
        }
    }
}

/// Create the rack, write `ready`, and run until `shutdown` completes; then remove the links.
pub async fn run(
    cfg: RackConfig,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), RackError> {
    std::fs::create_dir_all(cfg.dir.join("received")).map_err(io_err(&cfg.dir))?;
    let ready = cfg.dir.join("ready");
    let _ = std::fs::remove_file(&ready);
    let now = Instant::now();
    let wall = SystemTime::now();
    let shared = Arc::new(Shared {
        dir: cfg.dir.clone(),
        exchange: Arc::new(Mutex::new(Exchange::new(cfg.scenario.clone()))),
        anchor: (now, wall),
        run_tag: format!(
            "{}",
            wall.duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        ),
        time_scale: cfg.time_scale,
        bps: cfg.bps,
        gsm: cfg.scenario.gsm.clone(),
    });
    let mut ptys = Vec::new();
    for i in 0..cfg.modems {
        let p = pty::open()?;
        pty::link(&p.slave_path, &link_path(&cfg.dir, i))?;
        tracing::info!(modem = i, link = %link_path(&cfg.dir, i).display(), pts = %p.slave_path.display(), "modem ready");
        ptys.push(p);
    }
    let mut tasks = Vec::new();
    for (i, p) in ptys.into_iter().enumerate() {
        let s = shared.clone();
        tasks.push(tokio::spawn(async move { modem_task(s, i, p).await }));
    }
    std::fs::write(&ready, format!("{} {}\n", cfg.modems, std::process::id()))
        .map_err(io_err(&ready))?;
    shutdown.await;
    for t in &tasks {
        t.abort();
    }
    for i in 0..cfg.modems {
        let _ = std::fs::remove_file(link_path(&cfg.dir, i));
    }
    let _ = std::fs::remove_file(&ready);
    Ok(())
}

async fn modem_task(shared: Arc<Shared>, index: usize, first: Pty) {
    let mut pty = Some(first);
    loop {
        let p = match pty.take() {
            Some(p) => p,
            None => match pty::open() {
                Ok(p) => {
                    if let Err(e) = pty::link(&p.slave_path, &link_path(&shared.dir, index)) {
                        tracing::error!(error = %e, "re-link failed");
                        return;
                    }
                    tracing::info!(modem = index, "modem is back");
                    p
                }
                Err(e) => {
                    tracing::error!(error = %e, "pty re-open failed");
                    return;
                }
            },
        };
        let Pty { master, slave, .. } = p;
        let served = match shared.gsm.iter().find(|g| g.index == index) {
            Some(g) => {
                let modem = GsmModem::new(g.clone(), shared.time_scale);
                serve_gsm(&shared, modem, master).await
            }
            None => serve(&shared, shared.modem(index, Instant::now()), master).await,
        };
        let back = match served {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(modem = index, error = %e, "pty failed");
                None
            }
        };
        drop(slave);
        let _ = std::fs::remove_file(link_path(&shared.dir, index));
        tracing::warn!(modem = index, "modem vanished");
        match back {
            Some(at) => tokio::time::sleep_until(at.into()).await,
            None => return,
        }
    }
}

/// Run one modem on one pty master until it vanishes; returns when it should come back.
async fn serve(
    shared: &Shared,
    mut modem: Modem,
    master: OwnedFd,
) -> std::io::Result<Option<Instant>> {
    // SAFETY: an `OwnedFd` stays open and refers to the same file description for as long
    // as it lives, and the `AsyncFd` owns it until it is dropped.
    let fd =
        unsafe { AsyncFd::register_with_interest(master, Interest::READABLE | Interest::WRITABLE) }
            .map_err(|e| std::io::Error::other(e.to_string()))?;
    let mut buf = [0u8; 4096];
    let mut pace_until = Instant::now();
    loop {
        // Files first: once the DTE sees a result, the page and the log line are on disk.
        while let Some(e) = modem.poll_event() {
            if let Some(back) = shared.handle(e) {
                return Ok(back);
            }
        }
        while let Some(out) = modem.poll_transmit() {
            write_paced(&fd, &out, shared.bps, &mut pace_until).await;
        }
        let deadline = modem.poll_timeout();
        tokio::select! {
            r = fd.readable() => {
                let mut guard = r?;
                match guard.try_io(|inner| {
                    nix::unistd::read(inner.get_ref(), &mut buf).map_err(std::io::Error::from)
                }) {
                    Ok(Ok(0)) => {}
                    Ok(Ok(n)) => modem.feed(Instant::now(), &buf[..n]),
                    Ok(Err(e)) if e.raw_os_error() == Some(nix::libc::EIO) => {
                        // No slave open at the moment (cannot happen while we hold it).
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    Ok(Err(e)) => return Err(e),
                    Err(_would_block) => {}
                }
            }
            _ = sleep_opt(deadline) => modem.handle_timeout(Instant::now()),
        }
    }
}

/// Run one GSM modem on one pty master (it never vanishes); its log records go to
/// `sms.jsonl`.
async fn serve_gsm(
    shared: &Shared,
    mut modem: GsmModem,
    master: OwnedFd,
) -> std::io::Result<Option<Instant>> {
    // SAFETY: as in `serve`.
    let fd =
        unsafe { AsyncFd::register_with_interest(master, Interest::READABLE | Interest::WRITABLE) }
            .map_err(|e| std::io::Error::other(e.to_string()))?;
    let mut buf = [0u8; 4096];
    let mut pace_until = Instant::now();
    loop {
        while let Some(record) = modem.poll_log() {
            let path = shared.dir.join("sms.jsonl");
            let r = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .and_then(|mut f| f.write_all(format!("{record}\n").as_bytes()));
            if let Err(e) = r {
                tracing::error!(error = %e, "sms log not written");
            }
            tracing::info!(%record, "gsm");
        }
        while let Some(out) = modem.poll_transmit() {
            write_paced(&fd, &out, shared.bps, &mut pace_until).await;
        }
        let deadline = modem.poll_timeout();
        tokio::select! {
            r = fd.readable() => {
                let mut guard = r?;
                match guard.try_io(|inner| {
                    nix::unistd::read(inner.get_ref(), &mut buf).map_err(std::io::Error::from)
                }) {
                    Ok(Ok(0)) => {}
                    Ok(Ok(n)) => modem.feed(Instant::now(), &buf[..n]),
                    Ok(Err(e)) if e.raw_os_error() == Some(nix::libc::EIO) => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    Ok(Err(e)) => return Err(e),
                    Err(_would_block) => {}
                }
            }
            _ = sleep_opt(deadline) => modem.handle_timeout(Instant::now()),
        }
    }
}

async fn sleep_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
    }
}

/// Write everything, pacing to `bps`; drops output the DTE has not read for 2 s (nobody has
/// the port open), so an unread stream cannot stall the modem.
async fn write_paced(fd: &AsyncFd<OwnedFd>, mut data: &[u8], bps: u32, pace_until: &mut Instant) {
    let chunk = if bps == 0 { data.len().max(1) } else { 64 };
    while !data.is_empty() {
        let n = chunk.min(data.len());
        if bps > 0 {
            let now = Instant::now();
            if *pace_until > now {
                tokio::time::sleep_until((*pace_until).into()).await;
            }
            *pace_until =
                (*pace_until).max(now) + Duration::from_micros(n as u64 * 10_000_000 / bps as u64);
        }
        let wrote = tokio::time::timeout(Duration::from_secs(2), async {
            loop {
                let mut guard = fd.writable().await?;
                match guard.try_io(|inner| {
                    nix::unistd::write(inner.get_ref(), &data[..n]).map_err(std::io::Error::from)
                }) {
                    Ok(r) => return r,
                    Err(_would_block) => continue,
                }
            }
        })
        .await;
        match wrote {
            Ok(Ok(w)) => data = &data[w..],
            Ok(Err(e)) => {
                tracing::warn!(fd = fd.get_ref().as_raw_fd(), error = %e, "write failed; output dropped");
                return;
            }
            Err(_) => {
                tracing::warn!("DTE not reading; {} bytes dropped", data.len());
                return;
            }
        }
    }
}
