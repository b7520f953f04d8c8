//! A restart reads the index snapshot of the last run and reads again only the queued files
//! that changed: a job with no time of its own is due "when first read", so its due time shows
//! which run read it. On a virtual clock, in process, on the real filesystem.

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::inproc::node;
use redial::daemon::clock::ManualClock;
use redial::daemon::Daemon;
use redial::spool::{store, JobName, Layout};
use std::path::Path;

fn due(d: &Daemon, name: &str) -> Option<DateTime<Utc>> {
    d.index()
        .get(0, &JobName::new(name))
        .map(|e| DateTime::from_timestamp_millis(e.due).unwrap())
}

/// Starts node n1 at `at`, returns it started.
fn start(base: &Path, at: DateTime<Utc>) -> Daemon {
    let clock = ManualClock::new(at);
    let (mut d, _) = node(base, "n1", &clock);
    d.start().unwrap();
    d
}

fn stop(mut d: Daemon) {
    d.shutdown();
    drop(d);
}

#[test]
fn a_restart_reads_only_what_changed_while_it_was_down() {
    store::set_durable(false);
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    let cfg = base.join("redial.cfg");
    // No line: nothing is dialled, the index is all there is to see.
    std::fs::write(&cfg, "$request_dir spool 1\n$timezone UTC\n").unwrap();
    let layout = Layout::new(base.join("spool"), 1);
    layout.create(None).unwrap();
    let q = layout.queue_dir(0);
    for n in ["a", "b", "d", "e"] {
        std::fs::write(
            q.join(format!("{n}.FS")),
            format!("$fax_phone 555010{}\n", n.len()),
        )
        .unwrap();
    }
    let t1 = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    let d = start(base, t1);
    assert_eq!(due(&d, "a.FS"), Some(t1));
    stop(d);
    let snap = layout.index_snapshot("n1");
    assert!(snap.is_file(), "the snapshot is written at shutdown");

    // Nothing changed: every job comes from the snapshot (due still t1, not t2).
    let t2 = t1 + Duration::hours(1);
    let d = start(base, t2);
    for n in ["a.FS", "b.FS", "d.FS", "e.FS"] {
        assert_eq!(due(&d, n), Some(t1), "{n} was read again");
    }
    stop(d);

    // While it is down: a.FS edited in place, b.FS removed, c.FS added, d.FS replaced by a copy
    // of itself (same bytes, same size, a new inode), e.FS untouched.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(q.join("a.FS"))
        .unwrap();
    std::io::Write::write_all(&mut f, b"; edited\n").unwrap();
    drop(f);
    std::fs::remove_file(q.join("b.FS")).unwrap();
    std::fs::write(q.join("c.FS"), "$fax_phone 5550199\n").unwrap();
    let copy = base.join("spool/TEMP/d.copy");
    std::fs::copy(q.join("d.FS"), &copy).unwrap();
    std::fs::rename(&copy, q.join("d.FS")).unwrap();
    let t3 = t2 + Duration::hours(1);
    let d = start(base, t3);
    assert_eq!(due(&d, "a.FS"), Some(t3), "an edited file is read again");
    assert_eq!(due(&d, "b.FS"), None, "a removed file leaves the index");
    assert_eq!(due(&d, "c.FS"), Some(t3), "a new file is read");
    assert_eq!(due(&d, "d.FS"), Some(t3), "a replaced file is read again");
    assert_eq!(due(&d, "e.FS"), Some(t1), "an untouched file is not");
    assert_eq!(d.index().len(), 4);
    stop(d);

    // The CFG changed: due times may differ, so the snapshot is not used.
    let mut f = std::fs::OpenOptions::new().append(true).open(&cfg).unwrap();
    std::io::Write::write_all(&mut f, b"; a comment, but a change\n").unwrap();
    drop(f);
    let t4 = t3 + Duration::hours(1);
    let d = start(base, t4);
    assert_eq!(
        due(&d, "e.FS"),
        Some(t4),
        "a changed CFG means every file is read"
    );
    stop(d);

    // A damaged snapshot is not used either; every job is still there.
    let mut bytes = std::fs::read(&snap).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&snap, &bytes).unwrap();
    let t5 = t4 + Duration::hours(1);
    let d = start(base, t5);
    for n in ["a.FS", "c.FS", "d.FS", "e.FS"] {
        assert_eq!(due(&d, n), Some(t5), "{n} after a damaged snapshot");
    }
    stop(d);
}

#[test]
fn a_user_profile_changed_while_down_means_every_file_is_read() {
    store::set_durable(false);
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    std::fs::write(
        base.join("redial.cfg"),
        "$request_dir spool 1\n$timezone UTC\n",
    )
    .unwrap();
    let usr = base.join("OFFICE.USR");
    std::fs::write(&usr, "$retry_max 3\n").unwrap();
    let layout = Layout::new(base.join("spool"), 1);
    layout.create(None).unwrap();
    std::fs::write(
        layout.queue_dir(0).join("a.FS"),
        format!("$fax_user {}\n$fax_phone 5550100\n", usr.display()),
    )
    .unwrap();
    let t1 = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    stop(start(base, t1));
    std::fs::write(&usr, "$retry_max 4\n").unwrap();
    let t2 = t1 + Duration::hours(1);
    let d = start(base, t2);
    assert_eq!(due(&d, "a.FS"), Some(t2));
    stop(d);
}

/// The real `redial run`: it dials from the snapshot at once and checks the files on a thread
/// meanwhile. What changed while it was down still decides: a job removed is never dialled, a
/// job moved to a later date waits, a job made due now and a new one are dialled.
#[test]
fn redial_run_dials_from_the_snapshot_and_still_honours_every_change() {
    use common::spool::{jobs_in, scratch, start, terminate_within, wait_until};
    use std::time::Duration as D;
    let dir = scratch(
        "$request_dir spool 2\n$timezone UTC\n$line 1 sim outcomes=0@0.05\n$rescan_interval 3600\n",
    );
    let q = dir.path().join("spool/TOSEND");
    let later = "$fax_send_date 01/01/2099\n";
    for n in ["a", "b", "d"] {
        std::fs::write(
            q.join(format!("{n}.FS")),
            format!("$fax_phone 5550100\n{later}"),
        )
        .unwrap();
    }
    let node = start(dir.path(), "n1");
    let snap = dir.path().join("spool/ACTIVE/n1.summary.json");
    assert!(
        wait_until(D::from_secs(30), || snap.is_file()),
        "node never ran"
    );
    assert!(terminate_within(node, D::from_secs(30)));
    assert!(dir.path().join("spool/ACTIVE/n1.index").is_file());

    std::fs::remove_file(q.join("a.FS")).unwrap();
    std::fs::write(q.join("b.FS"), "$fax_phone 5550101\n").unwrap();
    std::fs::write(q.join("c.FS"), "$fax_phone 5550102\n").unwrap();
    let node = start(dir.path(), "n1");
    let sent = dir.path().join("spool/SENT");
    assert!(
        wait_until(D::from_secs(60), || jobs_in(&sent).len() == 2),
        "sent: {:?}",
        jobs_in(&sent)
    );
    assert!(terminate_within(node, D::from_secs(30)));
    assert_eq!(jobs_in(&sent), ["b.FS", "c.FS"]);
    assert_eq!(jobs_in(&q), ["d.FS"]);
    assert!(jobs_in(&dir.path().join("spool/FAIL")).is_empty());
    let log = std::fs::read_to_string(dir.path().join("n1.log")).unwrap();
    assert!(log.contains("index snapshot loaded"), "{log}");
    assert!(log.contains("every queued file checked"), "{log}");
}

/// Under a fault: the snapshot cannot be saved at shutdown (here its name is taken by a
/// directory). The node stops cleanly, and the next start reads every file and loses nothing.
#[test]
fn a_snapshot_that_cannot_be_saved_costs_a_full_read_and_nothing_else() {
    store::set_durable(false);
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    std::fs::write(
        base.join("redial.cfg"),
        "$request_dir spool 1\n$timezone UTC\n",
    )
    .unwrap();
    let layout = Layout::new(base.join("spool"), 1);
    layout.create(None).unwrap();
    for n in ["a", "b"] {
        std::fs::write(
            layout.queue_dir(0).join(format!("{n}.FS")),
            "$fax_phone 5550100\n",
        )
        .unwrap();
    }
    let t1 = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    let d = start(base, t1);
    std::fs::create_dir(layout.index_snapshot("n1")).unwrap();
    stop(d);
    assert!(layout.index_snapshot("n1").is_dir());
    let t2 = t1 + Duration::hours(1);
    let d = start(base, t2);
    assert_eq!(d.index().len(), 2);
    for n in ["a.FS", "b.FS"] {
        assert_eq!(due(&d, n), Some(t2), "{n} must be read again");
    }
    stop(d);
}

/// A CFG and a user profile that are symbolic links (a managed directory's copies linked into
/// place): an edit of what they point at, or a link pointed elsewhere, while the node is down
/// means every file is read, as an edit of a plain file does. The links themselves never
/// change in the first two cases, so a stamp of the link alone would trust a stale snapshot.
#[test]
fn a_linked_cfg_or_profile_whose_target_changed_while_down_means_every_file_is_read() {
    store::set_durable(false);
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    let managed = base.join("managed");
    std::fs::create_dir(&managed).unwrap();
    std::fs::write(
        managed.join("redial.cfg"),
        "$request_dir spool 1\n$timezone UTC\n",
    )
    .unwrap();
    std::os::unix::fs::symlink(managed.join("redial.cfg"), base.join("redial.cfg")).unwrap();
    std::fs::write(managed.join("OFFICE.USR"), "$retry_max 3\n").unwrap();
    let usr = base.join("OFFICE.USR");
    std::os::unix::fs::symlink(managed.join("OFFICE.USR"), &usr).unwrap();
    let layout = Layout::new(base.join("spool"), 1);
    layout.create(None).unwrap();
    std::fs::write(
        layout.queue_dir(0).join("a.FS"),
        format!("$fax_user {}\n$fax_phone 5550100\n", usr.display()),
    )
    .unwrap();
    std::fs::write(layout.queue_dir(0).join("b.FS"), "$fax_phone 5550101\n").unwrap();
    let mut t = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    stop(start(base, t));
    // Nothing changed: every job from the snapshot (`b.FS` names no profile, so a read of it
    // means every file was read).
    assert!(!restart_reads_again(base, &mut t, "a.FS"));
    assert!(!restart_reads_again(base, &mut t, "b.FS"));

    // The CFG's target edited in place (same size: a changed byte), the link untouched.
    let text = std::fs::read_to_string(managed.join("redial.cfg")).unwrap();
    let text = text.replace("$timezone", "$TIMEZONE");
    std::fs::write(managed.join("redial.cfg"), text).unwrap();
    assert!(
        restart_reads_again(base, &mut t, "b.FS"),
        "the linked CFG's target changed: every file is read"
    );

    // The profile's target edited, its link untouched.
    std::fs::write(managed.join("OFFICE.USR"), "$retry_max 4\n").unwrap();
    assert!(
        restart_reads_again(base, &mut t, "b.FS"),
        "the linked profile's target changed: every file is read"
    );

    // The CFG's link pointed at another file with the same bytes.
    std::fs::copy(managed.join("redial.cfg"), managed.join("redial-2.cfg")).unwrap();
    std::fs::remove_file(base.join("redial.cfg")).unwrap();
    std::os::unix::fs::symlink(managed.join("redial-2.cfg"), base.join("redial.cfg")).unwrap();
    assert!(
        restart_reads_again(base, &mut t, "b.FS"),
        "the CFG's link points elsewhere: every file is read"
    );

    // And unchanged again: the snapshot is trusted.
    assert!(!restart_reads_again(base, &mut t, "b.FS"));
}

/// Starts node n1 again an hour after `*t` (moving `*t` there) and stops it; whether that
/// start read `job` again (its due time is the start's) rather than taking it from the
/// snapshot of the run before.
fn restart_reads_again(base: &Path, t: &mut DateTime<Utc>, job: &str) -> bool {
    *t += Duration::hours(1);
    let d = start(base, *t);
    let due_now = due(&d, job).unwrap_or_else(|| panic!("{job} is not in the index"));
    stop(d);
    due_now == *t
}
