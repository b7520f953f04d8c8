//! Job files as CopiaFacts and its clients write them: Windows paths mapped by `$path_map`, and
//! "If you resubmit a fax by moving it from FAIL or SENT to TOSEND, the sequence of retries will
//! be completely restarted and no account is taken of earlier attempts", also for a file
//! CopiaFacts finished itself: a final `$fax_status1 6` and no `Z` record.

mod common;

use chrono::{TimeZone, Utc};
use common::inproc::node;
use redial::command::Document;
use redial::daemon::clock::ManualClock;
use redial::daemon::Event;
use redial::spool::{store, Layout};

#[test]
fn a_finished_file_moved_into_a_queue_starts_a_new_cycle() {
    store::set_durable(false);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("redial.cfg"),
        "$request_dir spool 1\n$timezone UTC\n$line 1 sim outcomes=2@5,0@60\n",
    )
    .unwrap();
    let layout = Layout::new(dir.path().join("spool"), 1);
    layout.create(None).unwrap();
    // As CopiaFacts left it in FAIL: two busy attempts used up its B list, final status, no Z.
    let job = "$fax_phone 5550100\n$retry_delays B \"1 1\"\n$fax_status1 6\n$fax_status2 2\n\
        $attempt_record 02/27/2026 10:00:00 1 0 1 2 B 0 0 0 M1 0 5 0 \"\"\n\
        $attempt_record 02/27/2026 10:01:05 1 0 1 2 B 0 0 0 M1 0 5 0 \"\"\n";
    std::fs::write(layout.queue_dir(0).join("00000007.FS"), job).unwrap();
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap());
    let (mut d, events) = node(dir.path(), "n1", &clock);
    d.start().unwrap();
    d.run_virtual(&clock, 100);
    let dials: Vec<usize> = events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            Event::Dialling { attempt, .. } => Some(*attempt),
            _ => None,
        })
        .collect();
    assert_eq!(dials, [1, 2], "the new cycle counts from 1");
    assert_eq!(store::list_jobs(&layout.sent()).unwrap(), ["00000007.FS"]);
    let text = std::fs::read(layout.sent().join("00000007.FS")).unwrap();
    let doc = Document::parse(&text, "7").unwrap();
    let classes: Vec<String> = doc
        .all("attempt_record")
        .map(|r| r.texts()[6].to_string())
        .collect();
    assert_eq!(
        classes,
        ["B", "B", "B", "S"],
        "{}",
        String::from_utf8_lossy(&text)
    );
    assert_eq!(doc.all("new_cycle").count(), 1);
}

#[test]
fn windows_paths_are_mapped_for_documents_and_user_profiles() {
    store::set_durable(false);
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    std::fs::write(
        base.join("redial.cfg"),
        "$request_dir spool 1\n$timezone UTC\n$line 1 sim outcomes=2@5,0@60\n\
         $path_map \"C:\\FAX\\DOCS\" docs\n$path_map \\\\FFSERVER\\FAXSHARE share\n",
    )
    .unwrap();
    std::fs::create_dir_all(base.join("docs")).unwrap();
    std::fs::write(base.join("docs/ORDER77.txt"), "Order 77.\n").unwrap();
    std::fs::create_dir_all(base.join("share/USERS")).unwrap();
    // The user's busy list: retry after 7 minutes.
    std::fs::write(base.join("share/USERS/JOHN.USR"), "$retry_delays B \"7\"\n").unwrap();
    let layout = Layout::new(base.join("spool"), 1);
    layout.create(None).unwrap();
    std::fs::write(
        layout.queue_dir(0).join("00000008.FS"),
        "$fax_user \\\\ffserver\\FaxShare\\USERS\\JOHN.USR\n$fax_phone 5550100\n\
         $fax_filename c:\\fax\\docs\\ORDER77.txt\n",
    )
    .unwrap();
    let t0 = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    let clock = ManualClock::new(t0);
    let (mut d, events) = node(base, "n1", &clock);
    d.start().unwrap();
    d.run_virtual(&clock, 100);
    let events = events.lock().unwrap();
    let dials: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::Dialling { at, .. } => Some(*at),
            _ => None,
        })
        .collect();
    let rejected: Vec<_> = events
        .iter()
        .filter(|e| matches!(e, Event::Rejected { .. }))
        .collect();
    assert!(rejected.is_empty(), "{rejected:?}");
    // The user profile's list applied: busy for 5 s, then 7 minutes.
    assert_eq!(dials.len(), 2, "{events:?}");
    assert_eq!(dials[1] - dials[0], chrono::Duration::seconds(5 + 7 * 60));
    assert_eq!(store::list_jobs(&layout.sent()).unwrap(), ["00000008.FS"]);
}

/// A `$param_group` whose arguments grow when written (control characters are written as
/// `\xNN`, four bytes for one) past the line limit once the X retry writes them into the job:
/// the node writes what fits with a marker naming what was left off, and goes on to the next
/// attempt. Before, writing that line never ended: the node hung on its first X retry, every
/// line with it.
#[test]
fn a_param_group_written_past_the_line_limit_is_cut_and_the_node_goes_on() {
    store::set_durable(false);
    let dir = tempfile::tempdir().unwrap();
    let controls = vec!["\u{1}"; 3000].join(" ");
    std::fs::write(
        dir.path().join("redial.cfg"),
        format!(
            "$request_dir spool 1\n$timezone UTC\n$line 1 sim outcomes=2@5,0@60\n\
             $param_group X email_subject {controls}\n"
        ),
    )
    .unwrap();
    let layout = Layout::new(dir.path().join("spool"), 1);
    layout.create(None).unwrap();
    std::fs::write(
        layout.queue_dir(0).join("00000008.FS"),
        "$fax_phone 5550100\n$retry_delays B \"X1\"\n",
    )
    .unwrap();
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap());
    let (mut d, _) = node(dir.path(), "n1", &clock);
    d.start().unwrap();
    d.run_virtual(&clock, 100);
    assert_eq!(store::list_jobs(&layout.sent()).unwrap(), ["00000008.FS"]);
    let text = std::fs::read(layout.sent().join("00000008.FS")).unwrap();
    for line in text.split(|b| *b == b'\n') {
        assert!(
            line.len() <= redial::command::MAX_LINE_BYTES,
            "{}",
            line.len()
        );
    }
    let doc = Document::parse(&text, "8").unwrap();
    let note = doc
        .last("email_subject")
        .expect("the X retry wrote its group");
    let args = note.texts();
    assert!(args.len() > 1000, "{}", args.len());
    assert_eq!(args[0], "\\x01");
    assert!(
        args.last().unwrap().ends_with("more arguments cut]"),
        "{:?}",
        args.last()
    );
    assert_eq!(doc.all("attempt_record").count(), 2);
}
