//! The console's job actions and operators on the real `redial web` (real HTTP on loopback,
//! real files): cancel, hold, release and alter through the API and the job page's forms move
//! and rewrite the job files as `redial cancel` / `redial alter` do (a job a node is dialling
//! gets a cancel request for that node, never a second writer); hostile names, times and
//! queues are answered 400 naming the field; named operators (`$web_user`, hashes printed by
//! `redial web passwd`) sign in by name and password, a view operator is refused every action
//! (403), and every action is in the audit trail with the operator's name, newest first.

mod common;

use common::spool::{scratch, BIN};
use common::web::http;
use serde_json::Value;
use std::io::Write;
use std::process::{Command, Stdio};

const TOKEN: &str = "actions-token-16";
const NOW: &str = "2026-03-02T10:00:00Z";

fn post(path: &str, headers: &str, kind: &str, body: &str) -> String {
    format!(
        "POST {path} HTTP/1.0\r\nHost: redial\r\n{headers}Content-Type: {kind}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn body(raw: &str) -> &str {
    raw.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

/// `POST /api/jobs/{name}/{action}` with the bearer token: status and JSON answer.
fn api(addr: &str, name: &str, action: &str, json: &str) -> (u16, Value) {
    let (st, raw) = http(
        addr,
        &post(
            &format!("/api/jobs/{name}/{action}"),
            &format!("Authorization: Bearer {TOKEN}\r\n"),
            "application/json",
            json,
        ),
    );
    let v = serde_json::from_str(body(&raw)).unwrap_or_else(|e| panic!("{e}: {raw}"));
    (st, v)
}

/// A spool (CFG zone Paris) with queued, scheduled, in-progress, sent and failed jobs.
fn spool(extra_cfg: &str) -> tempfile::TempDir {
    let dir = scratch(&format!(
        "$request_dir spool 2\n$timezone Europe/Paris\n$line 1 sim\n{extra_cfg}"
    ));
    let root = dir.path().join("spool");
    let w = |p: &str, t: &str| {
        let p = root.join(p);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, t).unwrap();
    };
    w(
        "TOSEND/1.FS",
        "$fax_phone 5550101\n$fax_send_date 01/01/2099\n",
    );
    w(
        "TOSEND/2.FS",
        "$fax_phone 5550102\n$fax_send_date 01/01/2099\n",
    );
    w(
        "SENT/3.FS",
        "$fax_phone 5550103\n$attempt_record 03/02/2026 09:00:00 1 0 1 0 S 0 0 0 S1 0 5 0 \"\"\n",
    );
    w("ACTIVE/n1/4.FS", "$fax_phone 5550104\n");
    w(
        "SENT/5.FS",
        "$email_address a@example.com\n$attempt_record 03/02/2026 09:00:00 3 0 1 0 S 1 0 0 M1 0 2 2 \"<abc@example.com>\"\n",
    );
    w(
        "FAIL/6.FS",
        "$fax_phone 5550106\n$attempt_record 03/02/2026 09:00:00 1 0 3 11 Z 2 0 0 M1 14400 60 50 \"FAR END\"\n",
    );
    w(
        "ACTIVE/n1.lease",
        r#"{"node":"n1","pid":1,"renewed":"2026-03-02T09:59:58Z","stale_after":60,"draining":false,"lines":[{"line":1,"state":"busy","job":"4.FS"}],"generation":1,"host":"h1"}"#,
    );
    dir
}

#[test]
fn api_actions_go_through_the_commands_and_refuse_what_does_not_apply() {
    let dir = spool(&format!("$web_token {TOKEN}\n"));
    let root = dir.path().join("spool");
    let (_web, addr) = common::web::start(dir.path(), &["--now", NOW], None);

    // Cancel a queued job: FAIL, undialled, with who and why.
    let (st, v) = api(&addr, "1", "cancel", r#"{"reason":"customer called"}"#);
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        (v["result"].as_str(), v["place"].as_str()),
        (Some("cancelled"), Some("FAIL"))
    );
    assert!(!root.join("TOSEND/1.FS").exists());
    let failed = std::fs::read_to_string(root.join("FAIL/1.FS")).unwrap();
    assert!(failed.contains("$fax_status2 40\n"), "{failed}");
    assert!(
        failed.contains("$fail_reason \"cancelled by token (web): customer called\""),
        "{failed}"
    );
    // Again: it has finished now.
    let (st, v) = api(&addr, "1.FS", "cancel", "");
    assert_eq!(st, 409, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("already finished (FAIL)"),
        "{v}"
    );

    // Hold and release: the job stays in its queue, the hold is in the file.
    let (st, v) = api(&addr, "2.FS", "hold", "");
    assert_eq!(st, 200, "{v}");
    let held = std::fs::read_to_string(root.join("TOSEND/2.FS")).unwrap();
    assert!(held.contains("$fax_hold 1\n"), "{held}");
    assert!(
        held.contains("$alter_note 03/02/2026 11:00:00 \"token (web)\" hold\n"),
        "{held}"
    );
    let (st, v) = api(&addr, "2.FS", "hold", "{}");
    assert_eq!(st, 409, "{v}");
    assert!(v["error"].as_str().unwrap().contains("already held"), "{v}");
    let (st, _) = api(&addr, "2.FS", "release", "");
    assert_eq!(st, 200);
    assert!(!std::fs::read_to_string(root.join("TOSEND/2.FS"))
        .unwrap()
        .contains("$fax_hold"));
    let (st, v) = api(&addr, "2.FS", "release", "");
    assert_eq!(st, 409);
    assert!(v["error"].as_str().unwrap().contains("not held"), "{v}");

    // Alter: a new start (local time in the CFG's zone) and another queue.
    let (st, v) = api(
        &addr,
        "2.FS",
        "alter",
        r#"{"at":"2026-03-03T08:30","queue":1}"#,
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["place"], "TOSEND1");
    let moved = std::fs::read_to_string(root.join("TOSEND1/2.FS")).unwrap();
    assert!(
        moved.contains("$fax_send_date 03/03/2026\n")
            && moved.contains("$fax_send_time 08:30:00\n"),
        "{moved}"
    );
    assert!(!root.join("TOSEND/2.FS").exists());

    // A job a node is dialling: a cancel is a request for that node; alter is refused.
    let (st, v) = api(&addr, "4.FS", "cancel", r#"{"reason":"wrong number"}"#);
    assert_eq!(st, 202, "{v}");
    assert_eq!(v["result"], "requested");
    let req: Value =
        serde_json::from_slice(&std::fs::read(root.join("CANCEL/4.FS.req")).unwrap()).unwrap();
    assert_eq!(
        (req["by"].as_str(), req["reason"].as_str()),
        (Some("token (web)"), Some("wrong number"))
    );
    assert!(
        root.join("ACTIVE/n1/4.FS").exists(),
        "the node's job is not touched"
    );
    let (st, v) = api(&addr, "4.FS", "hold", "");
    assert_eq!(st, 409, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("in progress on node n1"),
        "{v}"
    );
    // Sent: nothing to cancel.
    let (st, v) = api(&addr, "3.FS", "cancel", "");
    assert_eq!(st, 409);
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("already finished (SENT)"),
        "{v}"
    );

    // Hostile input: 400 naming the field; nothing moves.
    for (name, action, json, field) in [
        ("..%2F..%2Fredial.cfg", "cancel", "", "name"),
        ("..", "hold", "", "name"),
        ("%2Etmp.FS", "hold", "", "name"),
        ("x%00.FS", "hold", "", "name"),
        ("2.FS", "alter", r#"{"at":"next tuesday"}"#, "at"),
        ("2.FS", "alter", r#"{"at":"2026-02-30T10:00"}"#, "at"),
        ("2.FS", "alter", r#"{"queue":7}"#, "queue"),
        ("2.FS", "alter", r#"{"queue":"TOSEND1"}"#, "queue"),
        ("2.FS", "alter", "{}", "at"),
        ("2.FS", "cancel", r#"{"reason":"a\nb"}"#, "reason"),
    ] {
        let (st, v) = api(&addr, name, action, json);
        assert_eq!(
            (st, v["field"].as_str()),
            (400, Some(field)),
            "{name} {action} {json}: {v}"
        );
        assert!(
            v["error"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{field}: ")),
            "{v}"
        );
    }
    let (st, v) = api(&addr, "2.FS", "alter", "not json");
    assert_eq!(st, 400, "{v}");
    assert!(v["error"].as_str().unwrap().starts_with("body: "), "{v}");
    let (st, v) = api(&addr, "22.FS", "hold", "");
    assert_eq!(st, 404, "{v}");
    assert!(v["error"].as_str().unwrap().contains("did you mean"), "{v}");
    assert!(root.join("TOSEND1/2.FS").exists());
    assert!(dir.path().join("redial.cfg").exists());

    // Without a token: 401, nothing done.
    let (st, _) = http(
        &addr,
        &post("/api/jobs/2.FS/hold", "", "application/json", ""),
    );
    assert_eq!(st, 401);

    // The history shows what the other end said, pages and speed; an ineligible failed job
    // shows why instead of a retry button.
    let (_, page) = common::web::get(&addr, "/job/5.FS", TOKEN);
    assert!(
        page.contains("Message-ID: &#60;abc@example.com&#62;")
            || page.contains("Message-ID: &lt;abc@example.com&gt;"),
        "{page}"
    );
    let (_, j) = common::web::get(&addr, "/api/jobs/6.FS", TOKEN);
    let j: Value = serde_json::from_str(&j).unwrap();
    let a = &j["steps"][0];
    assert_eq!(
        (
            &a["pages_sent"],
            &a["pages_scheduled"],
            &a["speed"],
            &a["remote"]["remote_id"]
        ),
        (
            &Value::from(2),
            &Value::from(3),
            &Value::from(14400),
            &Value::from("FAR END")
        ),
        "{j}"
    );
    let (_, page) = common::web::get(&addr, "/job/6.FS", TOKEN);
    assert!(
        page.contains("2 of 3 pages at 14400 bit/s; remote station: FAR END"),
        "{page}"
    );
    assert!(
        page.contains("id=\"retry-why\"") && !page.contains("action=\"/retry\""),
        "{page}"
    );

    // The audit trail: every action, newest first, with the operator and the time's zone.
    let (st, b) = common::web::get(&addr, "/api/audit", TOKEN);
    assert_eq!(st, 200, "{b}");
    let v: Value = serde_json::from_str(&b).unwrap();
    let entries = v["entries"].as_array().unwrap();
    let first = entries.last().unwrap();
    assert_eq!(
        (
            first["operator"].as_str(),
            first["action"].as_str(),
            first["job"].as_str(),
            first["outcome"].as_str()
        ),
        (Some("token"), Some("cancel"), Some("1.FS"), Some("ok"))
    );
    assert_eq!(first["at"], "2026-03-02T11:00:00+01:00");
    assert!(
        first["detail"]
            .as_str()
            .unwrap()
            .contains("reason \"customer called\""),
        "{first}"
    );
    let requested = entries
        .iter()
        .find(|e| e["job"] == "4.FS" && e["action"] == "cancel")
        .unwrap();
    assert_eq!(requested["outcome"], "requested");
    assert_eq!(
        entries[0]["outcome"], "refused",
        "the newest is the last refusal"
    );
    let (st, page) = common::web::get(&addr, "/audit", TOKEN);
    assert_eq!(st, 200);
    assert!(page.contains("2026-03-02 11:00:00 CET"), "{page}");
    let stored = std::fs::read_to_string(root.join("LOG/web-audit.jsonl")).unwrap();
    assert_eq!(stored.lines().count(), entries.len());
}

/// `redial web passwd NAME --role ROLE` with `password` on stdin: the `$web_user` line.
fn passwd(name: &str, role: &str, password: &str) -> String {
    let mut c = Command::new(BIN)
        .args(["web", "passwd", name, "--role", role])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    let out = c.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8(out.stdout).unwrap();
    assert!(!line.contains(password), "{line}");
    line
}

/// Signs in with the form: the session cookie and the CSRF token of `page`.
fn sign_in(addr: &str, name: &str, password: &str, page: &str) -> (String, String) {
    let form = format!("name={name}&token={}", password.replace(' ', "+"));
    let (st, raw) = http(
        addr,
        &post("/login", "", "application/x-www-form-urlencoded", &form),
    );
    assert_eq!(st, 303, "{raw}");
    let cookie = raw
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie: "))
        .map(|l| &l[12..])
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let (st, raw) = http(
        addr,
        &format!("GET {page} HTTP/1.0\r\nCookie: {cookie}\r\n\r\n"),
    );
    assert_eq!(st, 200, "{raw}");
    let csrf = raw
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .map(|r| r.split('"').next().unwrap().to_string())
        .unwrap_or_default();
    (cookie, csrf)
}

fn form(addr: &str, path: &str, cookie: &str, body: &str) -> (u16, String) {
    http(
        addr,
        &post(
            path,
            &format!("Cookie: {cookie}\r\n"),
            "application/x-www-form-urlencoded",
            body,
        ),
    )
}

#[test]
fn named_operators_sign_in_and_only_operate_may_act() {
    let alice = passwd("alice", "operate", "alice's long password");
    let bob = passwd("bob", "view", "bob's long password");
    assert!(
        alice.starts_with("$web_user alice role=operate hash=$argon2id$"),
        "{alice}"
    );
    let dir = spool(&format!("$web_token {TOKEN}\n{alice}{bob}"));
    let root = dir.path().join("spool");
    let (_web, addr) = common::web::start(dir.path(), &["--now", NOW], None);

    // Bob views: the job page has no action form, and every action is 403.
    let (cookie, csrf) = sign_in(&addr, "bob", "bob's long password", "/job/2.FS");
    let (_, page) = http(
        &addr,
        &format!("GET /job/2.FS HTTP/1.0\r\nCookie: {cookie}\r\n\r\n"),
    );
    assert!(
        page.contains("Signed in as bob (role view): viewing only."),
        "{page}"
    );
    assert!(!page.contains("action=\"/job/2.FS/hold\""), "{page}");
    let (st, raw) = form(&addr, "/job/2.FS/hold", &cookie, &format!("csrf={csrf}"));
    assert_eq!(st, 403, "{raw}");
    assert!(raw.contains("operator bob has the role view"), "{raw}");
    let (st, _) = http(
        &addr,
        &format!("GET /audit HTTP/1.0\r\nCookie: {cookie}\r\n\r\n"),
    );
    assert_eq!(st, 403);
    let (_, failed) = http(
        &addr,
        &format!("GET /failed HTTP/1.0\r\nCookie: {cookie}\r\n\r\n"),
    );
    assert!(
        failed.contains("retries need the role operate")
            && !failed.contains("id=\"retry-selected\""),
        "{failed}"
    );
    assert!(!std::fs::read_to_string(root.join("TOSEND/2.FS"))
        .unwrap()
        .contains("$fax_hold"));

    // A wrong password: 401, and the name is not told apart from an unknown one.
    let (st, raw) = http(
        &addr,
        &post(
            "/login",
            "",
            "application/x-www-form-urlencoded",
            "name=alice&token=guess",
        ),
    );
    assert_eq!(st, 401);
    assert!(raw.contains("wrong name or password"), "{raw}");
    let (st, raw) = http(
        &addr,
        &post(
            "/login",
            "",
            "application/x-www-form-urlencoded",
            "name=mallory&token=guess",
        ),
    );
    assert_eq!(st, 401);
    assert!(raw.contains("wrong name or password"), "{raw}");

    // Alice operates: hold from the page's form (CSRF checked), then the page offers release.
    let (cookie, csrf) = sign_in(&addr, "alice", "alice's long password", "/job/2.FS");
    let (st, _) = form(&addr, "/job/2.FS/hold", &cookie, "csrf=wrong");
    assert_eq!(st, 403);
    let (st, raw) = form(&addr, "/job/2.FS/hold", &cookie, &format!("csrf={csrf}"));
    assert_eq!(st, 303, "{raw}");
    assert!(
        raw.to_ascii_lowercase()
            .contains("location: /job/2.fs?done=held"),
        "{raw}"
    );
    let held = std::fs::read_to_string(root.join("TOSEND/2.FS")).unwrap();
    assert!(held.contains("\"alice (web)\" hold"), "{held}");
    let (_, page) = http(
        &addr,
        &format!("GET /job/2.FS?done=held HTTP/1.0\r\nCookie: {cookie}\r\n\r\n"),
    );
    assert!(page.contains("Held: the job stays in its queue"), "{page}");
    assert!(
        page.contains("action=\"/job/2.FS/release\"")
            && !page.contains("action=\"/job/2.FS/hold\""),
        "{page}"
    );
    // A bad time from the form: the reason, naming the field.
    let (st, raw) = form(
        &addr,
        "/job/2.FS/alter",
        &cookie,
        &format!("csrf={csrf}&at=soon&queue="),
    );
    assert_eq!(st, 400, "{raw}");
    assert!(
        raw.contains("at: &#34;soon&#34; is not a date or time")
            || raw.contains("at: &quot;soon&quot;"),
        "{raw}"
    );
    // The sent job offers nothing; the failed one's retry is replaced by the reason when not
    // eligible.
    let (_, page) = http(
        &addr,
        &format!("GET /job/3.FS HTTP/1.0\r\nCookie: {cookie}\r\n\r\n"),
    );
    assert!(
        page.contains("Sent: nothing to do.") && !page.contains("action=\"/job/3.FS/"),
        "{page}"
    );

    // The audit page lists alice's hold with her name, bob's refusal, newest first.
    let (st, page) = http(
        &addr,
        &format!("GET /audit HTTP/1.0\r\nCookie: {cookie}\r\n\r\n"),
    );
    assert_eq!(st, 200);
    let hold = page
        .find("<td>alice</td><td>127.0.0.1</td><td>hold</td>")
        .expect(&page);
    let refused = page
        .find("<td>bob</td><td>127.0.0.1</td><td>hold</td>")
        .expect(&page);
    assert!(hold < refused, "newest first: {page}");
    assert!(page.contains("CET"), "{page}");
}

#[test]
fn operators_without_a_token_and_bad_lines_stop_the_start() {
    // Named operators only: the token is off (a bearer token is refused).
    let alice = passwd("alice", "operate", "alice's long password");
    let dir = spool(&alice);
    let (_web, addr) = common::web::start(dir.path(), &["--now", NOW], None);
    let (st, _) = common::web::get(&addr, "/api/jobs", "");
    assert_eq!(st, 401);
    sign_in(&addr, "alice", "alice's long password", "/");
    drop(_web);

    // A mistyped key stops the start with the file, the line and a suggestion.
    let dir = spool(&format!(
        "$web_token {TOKEN}\n$web_user carol rol=view hash=x\n"
    ));
    let err = refused_start(dir.path());
    assert!(
        err.contains("redial.cfg line 5") && err.contains("did you mean role=?"),
        "{err}"
    );
    // A mistyped command name gets the registry's suggestion.
    let dir = spool(&format!("$web_token {TOKEN}\n$web_usr carol\n"));
    let err = refused_start(dir.path());
    assert!(err.contains("did you mean $web_user?"), "{err}");
}

/// Starts `redial web` on the spool in `dir`, which must refuse to start: its stderr.
fn refused_start(dir: &std::path::Path) -> String {
    let out = Command::new(BIN)
        .args([
            "web",
            "--listen",
            "127.0.0.1:0",
            "--cfg",
            "redial.cfg",
            "--base",
            ".",
        ])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(!out.status.success(), "redial web started");
    String::from_utf8_lossy(&out.stderr).into_owned()
}
