//! A hw-sim modem rack for a test: started on its own tokio task, ready when its `ready` file
//! appears, stopped (and awaited) by the test.
#![allow(dead_code)]

use redial_sim::rack::{run, RackConfig};
use redial_sim::scenario::Scenario;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A running rack.
pub struct Rack {
    /// Its directory: `ttySIM0`…, `calls.jsonl`, `received/`.
    pub dir: PathBuf,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

/// Starts `modems` simulated modems in `dir` with the `scenario` (TOML) at `time_scale`.
pub async fn rack(dir: &Path, modems: usize, scenario: &str, time_scale: f64) -> Rack {
    let config = RackConfig {
        modems,
        dir: dir.to_path_buf(),
        scenario: Scenario::parse(scenario).unwrap(),
        time_scale,
        bps: 0,
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        run(config, async {
            let _ = stopped.await;
        })
        .await
        .unwrap()
    });
    let start = Instant::now();
    while !dir.join("ready").exists() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "hw-sim did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Rack {
        dir: dir.to_path_buf(),
        stop,
        task,
    }
}

impl Rack {
    /// The device of modem `n` (0-based).
    pub fn tty(&self, n: usize) -> PathBuf {
        self.dir.join(format!("ttySIM{n}"))
    }

    /// Stops the rack and waits for it.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap();
    }
}
