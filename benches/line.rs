//! Line turnaround: back-to-back calls on one modem line through hw-sim on a real pty, with the
//! real serial code. Prints figures; run with `cargo bench --bench line`.
//!
//! Each busy call is the whole per-call cost of a line: open the port, ATZ/E0/V1/Q0/X4 and the
//! class commands, ATD, BUSY, ATH0, close. At a time scale of 0.0001 the simulated ring-back
//! and busy tone take microseconds, so what is measured is redial plus the pty, not line time.

use redial::line::modem::{run_call, ModemSettings};
use redial::line::{Call, LineDef};
use redial::retry::outcome::Channel;
use redial_sim::rack::{run, RackConfig};
use redial_sim::scenario::Scenario;
use std::time::{Duration, Instant};

const SCENARIO: &str = "[[number]]\nnumber = \"5550200\"\noutcome = { kind = \"busy\" }\n";

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = std::env::temp_dir().join(format!("redial-line-bench-{}", std::process::id()));
        let cfg = RackConfig { modems: 1, dir: dir.clone(), scenario: Scenario::parse(SCENARIO).unwrap(), time_scale: 0.0001, bps: 0 };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let rack = tokio::spawn(async move { run(cfg, async { let _ = stopped.await; }).await.unwrap() });
        while !dir.join("ready").exists() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let def = LineDef { number: 1, kind: "modem".into(), params: vec![("device".into(), dir.join("ttySIM0").display().to_string())], cfg_line: 1 };
        let settings = ModemSettings::from_def(&def).unwrap();
        let call = Call { job: "B.FS".into(), number: "5550200".into(), channel: Channel::Voice, documents: vec![], message: None, attempt: 1, alternate: false, low_resolution: false, fax_speed: None, header: None, cover: None, email: None, sms: None };
        // Voice calls need a message; write one.
        let msg = dir.join("m.ul");
        std::fs::write(&msg, [0xffu8; 8]).unwrap();
        let call = Call { message: Some(msg.display().to_string()), ..call };
        for _ in 0..5 {
            assert_eq!(run_call(&settings, &call).await.code, 2);
        }
        let n = 200;
        let mut each = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            let r = run_call(&settings, &call).await;
            each.push(t.elapsed());
            assert_eq!(r.code, 2);
        }
        each.sort();
        let total: Duration = each.iter().sum();
        println!("line turnaround: {n} back-to-back busy calls on one line (open, 7 init commands, ATD, BUSY, ATH0, close)");
        println!("  mean {:.2} ms, median {:.2} ms, p95 {:.2} ms, max {:.2} ms",
            total.as_secs_f64() * 1000.0 / n as f64,
            each[n / 2].as_secs_f64() * 1000.0,
            each[n * 95 / 100].as_secs_f64() * 1000.0,
            each[n - 1].as_secs_f64() * 1000.0);
        let _ = stop.send(());
        rack.await.unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    });
}
