//! The web console (issue 16) on the real `redial web`: the overview's counts and lines panel
//! (a lease and a calls file written as a node writes them), the jobs page's search, filters
//! and pagination, hostile query strings answered with 400s that say why, and one timestamp
//! format (RFC 3339 with the offset) in every JSON answer.

mod common;

use common::spool::scratch;
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};

const TOKEN: &str = "console-token-16";
const NOW: &str = "2026-03-02T10:00:00Z";

fn rec(date: &str, time: &str, code: u32, class: char) -> String {
    format!("$attempt_record {date} {time} 1 0 1 {code} {class} 0 0 0 S1 0 5 0 \"\"\n")
}

/// A spool with jobs in every state (CFG zone Paris: 10:00 UTC is 11:00 local) and node n1's
/// lease and calls: line 1 connected on 5.FS, line 2 idle, line 3 down.
fn spool() -> tempfile::TempDir {
    let dir = scratch(&format!(
        "$request_dir spool 2\n$timezone Europe/Paris\n$web_token {TOKEN}\n\
         $line 1 sim group=sales\n$line 2 sim group=sales\n$line 3 sim\n$retry_delays B \"60\"\n"
    ));
    let root = dir.path().join("spool");
    let w = |p: &str, t: &str| {
        let p = root.join(p);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, t).unwrap();
    };
    let job = |n: &str| format!("$fax_phone {n}\n$fax_filename page.txt\n");
    std::fs::write(dir.path().join("page.txt"), "x\n").unwrap();
    w("TOSEND/1.FS", &job("555 0101"));
    w(
        "TOSEND/2.FS",
        &format!(
            "{}{}$fax_status1 2\n$fax_next_date 03/02/2026\n$fax_next_time 13:00:00\n",
            job("555 0102"),
            rec("03/02/2026", "10:30:00", 2, 'B')
        ),
    );
    w(
        "TOSEND1/3.FS",
        &format!("{}$fax_send_date 01/01/2099\n", job("555 0103")),
    );
    w("TOSEND1/4.FS", &format!("{}$fax_hold 1\n", job("555 0104")));
    w("ACTIVE/n1/5.FS", &job("555 0105"));
    w(
        "SENT/6.FS",
        &format!(
            "{}{}",
            job("555 0106"),
            rec("03/02/2026", "09:00:00", 0, 'S')
        ),
    );
    w(
        "SENT/7.FS",
        &format!(
            "{}{}",
            job("777 0107"),
            rec("02/27/2026", "09:00:00", 0, 'S')
        ),
    );
    w(
        "FAIL/8.FS",
        &format!(
            "{}{}$fail_reason \"too many busy signals\"\n",
            job("555 0108"),
            rec("03/02/2026", "08:00:00", 2, 'Z')
        ),
    );
    w(
        "ACTIVE/n1.lease",
        r#"{"node":"n1","pid":1,"renewed":"2026-03-02T09:59:58Z","stale_after":60,"draining":false,"lines":[
            {"line":1,"state":"busy","job":"5.FS"},
            {"line":2,"state":"idle","job":null},
            {"line":3,"state":"down","job":null,"next_probe":"2026-03-02T10:16:00Z"}],"generation":1,"host":"h1"}"#,
    );
    w(
        "ACTIVE/n1.calls.json",
        r#"{"node":"n1","calls":[{"job":"5.FS","attempt":1,"line":1,"at":"2026-03-02T09:59:30Z","step":"page 2/5 at 14400"}]}"#,
    );
    dir
}

fn json(addr: &str, path: &str) -> (u16, Value) {
    let (status, body) = common::web::get(addr, path, TOKEN);
    let v = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"));
    (status, v)
}

/// `2026-03-02T09:00:00…` or `2026-03-02 09:51:25…`.
fn looks_like_time(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 19 && b[4] == b'-' && b[7] == b'-' && matches!(b[10], b'T' | b' ') && b[13] == b':'
}

/// Every string in `v` that looks like a time parses as RFC 3339 and carries an offset.
fn times_are_rfc3339(v: &Value, path: &str, seen: &mut usize) {
    match v {
        Value::String(s) if looks_like_time(s) => {
            assert!(
                chrono::DateTime::parse_from_rfc3339(s).is_ok(),
                "{path}: {s:?} is not RFC 3339 with an offset"
            );
            *seen += 1;
        }
        Value::Array(a) => a.iter().for_each(|x| times_are_rfc3339(x, path, seen)),
        Value::Object(o) => o.values().for_each(|x| times_are_rfc3339(x, path, seen)),
        _ => {}
    }
}

fn names(v: &Value) -> Vec<String> {
    v["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["name"].as_str().unwrap().to_string())
        .collect()
}

fn web(dir: &Path) -> (common::spool::Node, String) {
    common::web::start(dir, &["--now", NOW], None)
}

#[test]
fn the_overview_counts_every_state_and_shows_each_line() {
    let dir = spool();
    let (_web, addr) = web(dir.path());
    let (status, o) = json(&addr, "/api/overview");
    assert_eq!(status, 200, "{o}");
    let q = |name: &str| {
        o["queues"]
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["queue"] == name)
            .unwrap()
            .clone()
    };
    let counts = |q: &Value| {
        ["due", "held", "waiting_retry", "scheduled", "held_for_good"]
            .map(|k| q[k].as_u64().unwrap())
    };
    assert_eq!(counts(&q("TOSEND")), [1, 0, 1, 0, 0], "{o}");
    assert_eq!(counts(&q("TOSEND1")), [0, 0, 0, 1, 1], "{o}");
    assert_eq!(o["held"][0]["job"], "4.FS", "{o}");
    assert!(
        o["held"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("held by an operator"),
        "{o}"
    );
    assert_eq!(o["in_progress"], 1);
    assert_eq!(
        (o["sent"].as_u64(), o["sent_today"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(
        (o["failed"].as_u64(), o["failed_today"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(o["counted_by"], "files");
    assert_eq!(o["now"], "2026-03-02T11:00:00+01:00");

    let lines = o["lines"]["nodes"][0]["lines"].as_array().unwrap().clone();
    let line = |n: u64| lines.iter().find(|l| l["line"] == n).unwrap().clone();
    assert_eq!(line(1)["state"], "connected", "{lines:?}");
    assert_eq!(line(1)["detail"], "page 2/5 at 14400");
    assert_eq!(line(1)["job"], "5.FS");
    assert_eq!(line(1)["group"], "sales");
    assert_eq!(line(1)["since"], "2026-03-02T10:59:30+01:00");
    assert_eq!(line(2)["state"], "idle");
    assert_eq!(line(3)["state"], "down");
    assert_eq!(line(3)["next_probe"], "2026-03-02T11:16:00+01:00");
    assert!(
        line(3)["detail"].as_str().unwrap().contains("in 16 min"),
        "{lines:?}"
    );

    // A running node's published summary stands for the queues it counts.
    std::fs::write(
        dir.path().join("spool/ACTIVE/n1.summary.json"),
        r#"{"node":"n1","as_of":"2026-03-02T09:59:59Z","queues":[{"queue":"TOSEND","due":42,"held":3,"held_until":"2026-03-02T17:00:00Z","waiting_retry":7,"scheduled":0,"unserved":1}],"held":[{"queue":"TOSEND","job":"99.FS","reason":"no line serves group fax2"}],"held_total":1}"#,
    )
    .unwrap();
    let (_, o) = json(&addr, "/api/overview");
    assert_eq!(o["counted_by"], "summary of n1", "{o}");
    assert_eq!(o["counted_at"], "2026-03-02T10:59:59+01:00");
    let q0 = &o["queues"][0];
    assert_eq!(
        (
            &q0["due"],
            &q0["held"],
            &q0["waiting_retry"],
            &q0["held_for_good"]
        ),
        (
            &Value::from(42),
            &Value::from(3),
            &Value::from(7),
            &Value::from(1)
        )
    );
    assert_eq!(q0["held_until"], "2026-03-02T18:00:00+01:00");
    // TOSEND1 is not in the summary: still counted from the files.
    assert_eq!(o["queues"][1]["scheduled"], 1);
    let held: Vec<&str> = o["held"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["job"].as_str().unwrap())
        .collect();
    assert_eq!(held, ["99.FS", "4.FS"]);

    // The page, without JavaScript, says the same.
    let (status, page) = common::web::get(&addr, "/", TOKEN);
    assert_eq!(status, 200, "{page}");
    for want in [
        "<meta name=\"viewport\"",
        "data-line=\"n1/1\"",
        "page 2/5 at 14400",
        "class=\"state connected\"",
        "class=\"state down\"",
        "2026-03-02 11:16:00 CET (in 16 min)",
        "<b id=\"sent-today\">1</b>",
        "<b id=\"in-progress\">1</b>",
        "/api/lines",
    ] {
        assert!(page.contains(want), "{want:?} not in\n{page}");
    }
    assert_eq!(common::web::get(&addr, "/overview", TOKEN).0, 200);
    // The failed-jobs page is still there, as the Failed tab.
    let (status, failed) = common::web::get(&addr, "/failed", TOKEN);
    assert_eq!(status, 200);
    assert!(failed.contains("8.FS") && failed.contains("href=\"/failed\""));
}

#[test]
fn the_lines_panel_follows_the_node_files() {
    let dir = spool();
    let (_web, addr) = web(dir.path());
    let state = |addr: &str| {
        let (_, v) = json(addr, "/api/lines");
        v["nodes"][0]["lines"][1]["state"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(state(&addr), "idle");
    // Line 2 takes a call: the lease says busy; dialling until a step says otherwise.
    let lease = dir.path().join("spool/ACTIVE/n1.lease");
    let text = std::fs::read_to_string(&lease).unwrap().replace(
        r#"{"line":2,"state":"idle","job":null}"#,
        r#"{"line":2,"state":"busy","job":"1.FS"}"#,
    );
    std::fs::write(&lease, text).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while state(&addr) != "dialling" {
        assert!(Instant::now() < deadline, "line 2 never went busy");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn jobs_are_searched_filtered_and_paged() {
    let dir = spool();
    let (_web, addr) = web(dir.path());
    let (status, all) = json(&addr, "/api/jobs");
    assert_eq!(status, 200, "{all}");
    assert_eq!(all["total"], 8);
    let get = |q: &str| json(&addr, &format!("/api/jobs?{q}")).1;
    // Newest activity first (the last attempt, else the file's time).
    assert_eq!(
        names(&get(
            "state=queued,sent,failed&since=2026-02-01&until=2026-03-31"
        )),
        ["2.FS", "6.FS", "8.FS", "7.FS"]
    );
    assert_eq!(names(&get("state=sent")), ["6.FS", "7.FS"]);
    assert_eq!(get("state=queued,in_progress")["total"], 5);
    assert_eq!(names(&get("state=failed"))[0], "8.FS");
    assert_eq!(get("queue=1&state=queued")["total"], 2);
    // The class is the outcome table's (busy: B), as on the failed-jobs page.
    assert_eq!(names(&get("class=B&state=failed")), ["8.FS"]);
    assert_eq!(names(&get("class=b")), ["2.FS", "8.FS"]);
    assert_eq!(names(&get("dest=777*")), ["7.FS"]);
    assert_eq!(names(&get("q=MANY%20busy")), ["8.FS"]);
    assert_eq!(names(&get("since=2026-02-26&until=2026-02-28")), ["7.FS"]);
    let held = get("q=4.FS");
    assert_eq!(held["jobs"][0]["standing"], "held_for_good", "{held}");
    let waiting = get("q=2.FS");
    assert_eq!(waiting["jobs"][0]["standing"], "waiting_retry");
    assert_eq!(waiting["jobs"][0]["next"], "2026-03-02T13:00:00+01:00");
    assert_eq!(
        waiting["jobs"][0]["last_attempt"],
        "2026-03-02T10:30:00+01:00"
    );

    // Pages of 3: 3 pages, the last with 2 rows, all names once.
    let mut seen = Vec::new();
    for p in 1..=3 {
        let v = get(&format!("per=3&page={p}"));
        assert_eq!(
            (v["pages"].as_u64(), v["page"].as_u64()),
            (Some(3), Some(p))
        );
        seen.extend(names(&v));
    }
    assert_eq!(seen, names(&all));
    // Past the last page: no rows, not an error.
    assert_eq!(names(&get("per=3&page=1000000")), Vec::<String>::new());

    // The HTML page: rows, filters kept in the pager's links.
    let (status, page) = common::web::get(&addr, "/jobs?state=sent&per=1", TOKEN);
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("data-job=\"6.FS\"") && !page.contains("data-job=\"7.FS\""));
    assert!(page.contains("2 jobs · page 1 of 2"), "{page}");
    assert!(
        page.contains("href=\"/jobs?state=sent&#38;per=1&#38;page=2\""),
        "{page}"
    );
    assert!(page.contains("CET ("), "{page}");
}

#[test]
fn hostile_query_strings_get_a_400_that_says_why() {
    let dir = spool();
    let (_web, addr) = web(dir.path());
    let long = "9".repeat(300);
    for (q, why) in [
        ("since=2026-13-45", "since"),
        ("until=yesterday-ish", "until"),
        ("since=2026-03-02&until=2026-03-01", "after"),
        ("page=99999999999999999999999", "page"),
        ("page=0", "page"),
        ("page=-1", "page"),
        ("per=100000", "per"),
        ("queue=256", "queue"),
        ("queue=1%20OR%201=1", "queue"),
        ("state=sent'%3B%20DROP%20TABLE%20jobs", "state"),
        ("class=%3Cscript%3E", "class"),
        (&format!("q={long}"), "q"),
        ("dest=%00%01", "dest"),
        ("page=1&page=2", "query string"),
    ] {
        let (status, body) = common::web::get(&addr, &format!("/api/jobs?{q}"), TOKEN);
        assert_eq!(status, 400, "{q}: {body}");
        let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{q}: {e}: {body}"));
        assert!(v["error"].as_str().unwrap().contains(why), "{q}: {body}");
        let (status, page) = common::web::get(&addr, &format!("/jobs?{q}"), TOKEN);
        assert_eq!(status, 400, "{q}");
        assert!(page.contains("class=\"error\""), "{q}: {page}");
        assert!(!page.contains("<script>alert"), "{q}: {page}");
    }
    // Text that looks like an attack is only text: it matches nothing.
    let (status, v) = json(&addr, "/api/jobs?q=%27%20OR%20%271%27=%271");
    assert_eq!((status, v["total"].as_u64()), (200, Some(0)));
    let (status, page) =
        common::web::get(&addr, "/jobs?q=%3Cscript%3Ealert(1)%3C/script%3E", TOKEN);
    assert_eq!(status, 200);
    assert!(
        !page.contains("<script>alert(1)") && page.contains("alert(1)"),
        "{page}"
    );
    // Still serving.
    assert_eq!(json(&addr, "/api/jobs").0, 200);
}

#[test]
fn every_json_answer_writes_times_in_rfc3339_with_the_offset() {
    let dir = spool();
    let (_web, addr) = web(dir.path());
    let mut seen = 0;
    for path in [
        "/api/overview",
        "/api/lines",
        "/api/jobs",
        "/api/failed",
        "/api/jobs/8.FS",
        "/api/jobs/2.FS",
        "/api/status",
    ] {
        let (status, v) = json(&addr, path);
        assert_eq!(status, 200, "{path}: {v}");
        times_are_rfc3339(&v, path, &mut seen);
    }
    assert!(seen > 20, "{seen}");
    let (_, failed) = json(&addr, "/api/failed");
    assert_eq!(
        failed["jobs"][0]["last_attempt"],
        "2026-03-02T08:00:00+01:00"
    );
    let (_, job) = json(&addr, "/api/jobs/8.FS");
    assert_eq!(job["steps"][0]["at"], "2026-03-02T08:00:00+01:00", "{job}");
    // Each attempt says what the retry engine decided after it, and why.
    assert_eq!(job["steps"][0]["why"]["action"], "fail", "{job}");
    assert_eq!(
        job["steps"][0]["why"]["reason"], "too many busy signals",
        "{job}"
    );
    let (_, job) = json(&addr, "/api/jobs/2.FS");
    let why = &job["steps"][0]["why"];
    assert_eq!(
        (why["action"].as_str(), why["entry"].as_u64()),
        (Some("retry"), Some(1)),
        "{job}"
    );
    assert!(
        why["at"].as_str().unwrap().starts_with("2026-03-02T11:3"),
        "{job}"
    );
    assert!(
        why["reason"].as_str().unwrap().contains("entry 1 of 1"),
        "{job}"
    );
    let (_, page) = common::web::get(&addr, "/job/2.FS", TOKEN);
    assert!(page.contains("retry at 2026-03-02 11:3"), "{page}");
}

#[test]
fn the_jobs_page_follows_files_that_move_change_and_go() {
    let dir = spool();
    let (_web, addr) = web(dir.path());
    let root = dir.path().join("spool");
    let state_of = |job: &str| {
        let (_, v) = json(&addr, &format!("/api/jobs?q={job}"));
        v["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["name"] == job)
            .map(|j| {
                (
                    j["state"].as_str().unwrap().to_string(),
                    j["attempts"].as_u64().unwrap(),
                )
            })
    };
    let until = |what: &str, ok: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !ok() {
            assert!(Instant::now() < deadline, "{what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    assert_eq!(state_of("1.FS"), Some(("queued".into(), 0)));
    // 1.FS is sent: moved to SENT with its record, as a node does.
    let text = format!(
        "{}{}",
        std::fs::read_to_string(root.join("TOSEND/1.FS")).unwrap(),
        rec("03/02/2026", "10:55:00", 0, 'S')
    );
    std::fs::write(root.join("SENT/1.FS"), text).unwrap();
    std::fs::remove_file(root.join("TOSEND/1.FS")).unwrap();
    until("1.FS never showed as sent", &|| {
        state_of("1.FS") == Some(("sent".into(), 1))
    });
    // A file rewritten in place of another (rename over it) is read again.
    let tmp = root.join("TEMP.new");
    std::fs::write(&tmp, "$fax_phone 999 0102\n").unwrap();
    std::fs::rename(&tmp, root.join("TOSEND/2.FS")).unwrap();
    until("2.FS was not read again", &|| {
        json(&addr, "/api/jobs?dest=9990102").1["total"] == 1
    });
    // A file gone is gone from the list.
    std::fs::remove_file(root.join("FAIL/8.FS")).unwrap();
    until("8.FS is still listed", &|| state_of("8.FS").is_none());
}

/// A failed job's page judges its retry against the other jobs to its destination (however the
/// number is written), without reading the rest of the spool; a name that is a path is no job.
#[test]
fn a_failed_jobs_page_knows_a_newer_job_to_its_number() {
    let dir = spool();
    let root = dir.path().join("spool");
    let (_web, addr) = web(dir.path());
    let (_, job) = json(&addr, "/api/jobs/8.FS");
    assert_eq!(job["failed"]["eligible"], true, "{job}");
    // A newer job to 555 0108, written another way, sent since.
    std::fs::write(
        root.join("SENT/9.FS"),
        format!(
            "$fax_phone 555-0108\n$fax_filename page.txt\n{}",
            rec("03/02/2026", "09:30:00", 0, 'S')
        ),
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, job) = json(&addr, "/api/jobs/8.FS");
        if job["failed"]["eligible"] == false {
            assert!(
                job["failed"]["skip_message"]
                    .as_str()
                    .unwrap()
                    .contains("9.FS in SENT is newer"),
                "{job}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "9.FS never counted: {job}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (_, page) = common::web::get(&addr, "/job/8.FS", TOKEN);
    assert!(page.contains("No retry: not the most recent job"), "{page}");
    for path in ["/job/..%2F..%2Fredial.cfg", "/api/jobs/..%2FFAIL%2F8.FS"] {
        let (status, _) = common::web::get(&addr, path, TOKEN);
        assert_eq!(status, 404, "{path}");
    }
}
