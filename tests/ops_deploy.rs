//! deploy/redial.service passes `systemd-analyze verify` (where systemd is installed; CI
//! installs it), with ExecStart pointed at the binary just built, since verify checks that the
//! program exists.

use std::process::Command;

#[test]
fn the_unit_file_verifies() {
    let Ok(v) = Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!("systemd-analyze not installed: unit file not verified");
        return;
    };
    assert!(v.status.success());
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/redial.service"
    ))
    .unwrap();
    assert!(unit.contains("Type=notify") && unit.contains("WatchdogSec="));
    assert!(unit.contains("SupplementaryGroups=dialout"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("redial.service");
    std::fs::write(
        &path,
        unit.replace("/usr/local/bin/redial", env!("CARGO_BIN_EXE_redial")),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&path)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    // Complaints about the host (no running systemd in a container, users not created yet)
    // are not about the file; anything naming the unit file is.
    let about_unit: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("redial.service"))
        .collect();
    assert!(about_unit.is_empty(), "systemd-analyze verify:\n{err}");
}
