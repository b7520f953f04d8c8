//! The daemon's log, as an operator reads it from a file or the journal: no colour codes when
//! stderr is not a terminal, no Rust `Debug` output (`Retry(0, …)`, `Stats { … }`, `Some(…)`),
//! and the outcome of each attempt in words.

mod common;

use common::spool::{scratch, start, terminate_within, wait_until};
use std::time::Duration;

#[test]
fn a_log_written_to_a_file_has_no_colour_and_no_debug_output() {
    let d = scratch(
        "$request_dir spool 2\n$timezone UTC\n$line 1 sim outcomes=2@0.1,0@0.1\n$rescan_interval 1\n",
    );
    let root = d.path();
    std::fs::write(
        root.join("spool/TOSEND/00000001.FS"),
        "$fax_phone 5550100\n$retry_delays B \"1S\"\n",
    )
    .unwrap();
    // A malformed job too: its rejection is logged with file, line and reason.
    std::fs::write(
        root.join("spool/TOSEND/00000002.FS"),
        "$fax_phone 5550101\n$fax_send_date 13/45/2026\n",
    )
    .unwrap();
    let node = start(root, "a");
    assert!(wait_until(Duration::from_secs(30), || root
        .join("spool/SENT/00000001.FS")
        .exists()));
    assert!(wait_until(Duration::from_secs(30), || root
        .join("spool/FAIL/00000002.FS")
        .exists()));
    assert!(terminate_within(node, Duration::from_secs(20)));
    let log = std::fs::read_to_string(root.join("a.log")).unwrap();
    assert!(!log.contains('\u{1b}'), "colour codes in a file:\n{log}");
    for debug in ["Retry(", "Stats {", "Some(", "None,", "Point::", " { "] {
        assert!(
            !log.contains(debug),
            "Debug output {debug:?} in the log:\n{log}"
        );
    }
    assert!(log.contains("next=retry TOSEND at 20"), "{log}");
    assert!(log.contains("next=sent"), "{log}");
    assert!(
        log.contains("spooler stopped") && log.contains("sent=1") && log.contains("failed=1"),
        "{log}"
    );
}
