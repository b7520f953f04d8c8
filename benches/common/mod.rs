//! Small helpers the bench binaries share: settings from the environment, percentiles, and
//! counting a directory's entries.
#![allow(dead_code)]

use std::path::Path;

/// The environment variable `name` parsed, or `default`.
pub fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// The `p` quantile (0..=1) of `v` (sorted in place), nearest rank; NaN when empty.
pub fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

/// How many entries `dir` has (0 when it cannot be read).
pub fn count(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |r| r.count())
}

/// A hw-sim rack running on a tokio runtime until [`Rack::stop`].
pub struct Rack {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Rack {
    /// Starts the rack `cfg` on `rt` (its ptys appear once `cfg.dir/ready` exists; see
    /// [`wait_ready`]).
    pub fn start(rt: &tokio::runtime::Runtime, cfg: redial_sim::rack::RackConfig) -> Rack {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = rt.spawn(async move {
            redial_sim::rack::run(cfg, async {
                let _ = stopped.await;
            })
            .await
            .unwrap()
        });
        Rack { stop, task }
    }

    /// Stops the rack and waits for it.
    pub fn stop(self, rt: &tokio::runtime::Runtime) {
        let _ = self.stop.send(());
        let _ = rt.block_on(self.task);
    }
}

/// Waits until the rack in `dir` has made its ptys.
pub fn wait_ready(dir: &Path) {
    while !dir.join("ready").exists() {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// `redial run` as node n1 in `dir` (CFG `redial.cfg` there), logging JSON to `log`.
pub fn spawn_node(dir: &Path, log: &Path) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_redial"))
        .args([
            "run",
            "--cfg",
            "redial.cfg",
            "--node",
            "n1",
            "--base",
            ".",
            "--json",
        ])
        .current_dir(dir)
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap()
}
