//! E-mail lines against a real Postfix (Debian package `postfix`), started by the test in a
//! temporary directory of its own: its own `config_directory`, queue and data directories, four
//! listeners on free loopback ports (the relay, with a recipient-access table that answers 450
//! and 550 for chosen addresses; a fallback relay without that table; SMTPS; a port that relays
//! for logged-in users only), STARTTLS with a certificate made for the test, and virtual delivery
//! into Maildirs. A real `redial run` node
//! sends e-mail jobs through it; the delivered messages are read back from the Maildirs.
//! Needs root (Postfix's master runs as root), `postfix`, `openssl` and `saslpasswd2` (Debian
//! packages postfix, openssl, sasl2-bin with libsasl2-modules; `.ci/run` installs them).

mod common;

use common::spool::{jobs_in, scratch, start, terminate_within, wait_until};
use redial::command::Document;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A Postfix instance in a directory of its own; stopped (and its master killed if it lingers)
/// when dropped.
struct Postfix {
    dir: PathBuf,
    relay: u16,
    fallback: u16,
    smtps: u16,
    submission: u16,
    master: Option<u32>,
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn free_port() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").unwrap()
}

impl Postfix {
    fn start(dir: &Path) -> Postfix {
        assert!(
            Command::new("postfix").arg("-h").output().is_ok(),
            "this test needs Postfix: apt-get install postfix"
        );
        let dir = dir.to_path_buf();
        let etc = dir.join("etc");
        let (queue, data, mail) = (dir.join("queue"), dir.join("data"), dir.join("mail"));
        for d in [&etc, &queue, &data, &mail] {
            std::fs::create_dir_all(d).unwrap();
        }
        // Postfix's daemons run as `postfix` and deliver as `nobody`: they must reach the
        // directory (a temporary directory is 0700).
        run(Command::new("chmod").arg("755").arg(&dir));
        run(Command::new("chown").arg("postfix").arg(&data));
        run(Command::new("chown").arg("65534:65534").arg(&mail));
        // The submission port's logins: Cyrus SASL with its own sasldb (Debian's Postfix reads
        // `smtpd.conf` from `<config_directory>/sasl/`), user fax@test.example, password s3cret.
        let sasl = etc.join("sasl");
        std::fs::create_dir_all(&sasl).unwrap();
        let sasldb = sasl.join("sasldb2");
        std::fs::write(
            sasl.join("smtpd.conf"),
            format!(
                "pwcheck_method: auxprop\nauxprop_plugin: sasldb\nmech_list: PLAIN LOGIN\nsasldb_path: {}\n",
                sasldb.display()
            ),
        )
        .unwrap();
        let mut saslpasswd = Command::new("saslpasswd2")
            .args(["-p", "-c", "-u", "test.example", "-f"])
            .arg(&sasldb)
            .arg("fax")
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("saslpasswd2 (apt-get install sasl2-bin)");
        {
            use std::io::Write;
            saslpasswd
                .stdin
                .take()
                .unwrap()
                .write_all(b"s3cret")
                .unwrap();
        }
        assert!(saslpasswd.wait().unwrap().success());
        run(Command::new("chown").arg("postfix").arg(&sasldb));
        // The relay's certificate: a self-signed leaf for 127.0.0.1 (not a CA, so rustls takes
        // it as a trust anchor for exactly this server).
        run(Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
            ])
            .args(["-nodes", "-days", "2", "-subj", "/CN=127.0.0.1"])
            .args(["-addext", "subjectAltName=IP:127.0.0.1"])
            .args(["-addext", "basicConstraints=critical,CA:FALSE"])
            .args(["-addext", "extendedKeyUsage=serverAuth"])
            .arg("-keyout")
            .arg(etc.join("key.pem"))
            .arg("-out")
            .arg(etc.join("cert.pem")));
        let ports = [free_port(), free_port(), free_port(), free_port()];
        let port = |i: usize| ports[i].local_addr().unwrap().port();
        let (relay, fallback, smtps, submission) = (port(0), port(1), port(2), port(3));
        let d = dir.display();
        std::fs::write(
            etc.join("main.cf"),
            format!(
                "compatibility_level = 3.6
config_directory = {d}/etc
queue_directory = {d}/queue
data_directory = {d}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = relay.test.example
mydomain = test.example
myorigin = test.example
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
maillog_file_prefixes = {d}
maillog_file = {d}/maillog
alias_maps =
alias_database =
smtputf8_enable = no
virtual_mailbox_domains = test.example
virtual_mailbox_base = {d}/mail
virtual_mailbox_maps = texthash:{d}/etc/vmailbox
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
smtpd_recipient_restrictions = check_recipient_access texthash:{d}/etc/access, permit_mynetworks, reject_unauth_destination
smtpd_tls_cert_file = {d}/etc/cert.pem
smtpd_tls_key_file = {d}/etc/key.pem
smtpd_tls_security_level = may
smtpd_sasl_type = cyrus
"
            ),
        )
        .unwrap();
        std::fs::write(
            etc.join("vmailbox"),
            "ok@test.example ok/\nalt@test.example alt/\nbusy@test.example busy/\nnobody@test.example nobody/\n",
        )
        .unwrap();
        std::fs::write(
            etc.join("access"),
            "busy@test.example 450 4.2.0 Mailbox busy, try again later\nnobody@test.example 550 5.1.1 No such user here\n",
        )
        .unwrap();
        // Every service without a chroot; the fallback listener has no access table.
        let services = "pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
smtp unix - - n - - smtp
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
local unix - n n - - local
virtual unix - n n - - virtual
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
tlsmgr unix - - n 1000? 1 tlsmgr
postlog unix-dgram n - n - 1 postlogd
";
        std::fs::write(
            etc.join("master.cf"),
            format!(
                "127.0.0.1:{relay} inet n - n - - smtpd
127.0.0.1:{fallback} inet n - n - - smtpd
  -o smtpd_recipient_restrictions=permit_mynetworks,reject_unauth_destination
127.0.0.1:{smtps} inet n - n - - smtpd
  -o smtpd_tls_wrappermode=yes
127.0.0.1:{submission} inet n - n - - smtpd
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_tls_auth_only=yes
  -o smtpd_recipient_restrictions=permit_sasl_authenticated,reject
{services}"
            ),
        )
        .unwrap();
        drop(ports);
        let mut me = Postfix {
            dir,
            relay,
            fallback,
            smtps,
            submission,
            master: None,
        };
        let out = Command::new("postfix")
            .arg("-c")
            .arg(&etc)
            .arg("start")
            .output()
            .unwrap();
        me.master = std::fs::read_to_string(queue.join("pid/master.pid"))
            .ok()
            .and_then(|s| s.trim().parse().ok());
        assert!(
            out.status.success(),
            "postfix start: {}{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            me.log()
        );
        for port in [relay, fallback, smtps, submission] {
            assert!(
                wait_until(Duration::from_secs(20), || TcpStream::connect((
                    "127.0.0.1",
                    port
                ))
                .is_ok()),
                "Postfix does not listen on {port}:\n{}",
                me.log()
            );
        }
        me
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("maillog")).unwrap_or_default()
    }

    /// The messages delivered to `mailbox` (`ok`, `alt`, …), as bytes.
    fn delivered(&self, mailbox: &str) -> Vec<Vec<u8>> {
        let new = self.dir.join("mail").join(mailbox).join("new");
        let mut names: Vec<PathBuf> = std::fs::read_dir(&new)
            .map(|r| r.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        names.sort();
        names.iter().map(|p| std::fs::read(p).unwrap()).collect()
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let _ = Command::new("postfix")
            .arg("-c")
            .arg(self.dir.join("etc"))
            .arg("stop")
            .output();
        if let Some(pid) = self.master {
            // `postfix stop` waits for nothing: the master is told to go; make sure it went.
            let gone = wait_until(Duration::from_secs(10), || {
                !Path::new(&format!("/proc/{pid}")).exists()
            });
            if !gone {
                let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            }
        }
    }
}

/// A decoder for the base64 of MIME bodies (line breaks skipped).
fn base64(text: &str) -> Vec<u8> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let digits: Vec<u32> = text.bytes().filter_map(val).collect();
    let mut out = Vec::new();
    for chunk in digits.chunks(4) {
        let mut n = 0u32;
        for (i, d) in chunk.iter().enumerate() {
            n |= d << (18 - 6 * i);
        }
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

/// A delivered message: its header fields and its MIME parts (headers, body).
struct Mail {
    headers: String,
    parts: Vec<(String, String)>,
}

impl Mail {
    fn parse(bytes: &[u8]) -> Mail {
        let text = String::from_utf8_lossy(bytes).replace("\r\n", "\n");
        let (headers, body) = text.split_once("\n\n").expect("headers and body");
        let unfolded = headers.replace("\n ", " ").replace("\n\t", " ");
        let boundary = unfolded
            .split("boundary=")
            .nth(1)
            .expect("a multipart message")
            .trim_matches(|c| c == '"' || c == ';' || c == ' ')
            .split(['"', ';', '\n'])
            .next()
            .unwrap()
            .to_string();
        let parts = body
            .split(&format!("--{boundary}"))
            .skip(1)
            .filter(|p| !p.starts_with("--"))
            .filter_map(|p| {
                let p = p.trim_start_matches('\n');
                p.split_once("\n\n")
                    .map(|(h, b)| (h.replace("\n ", " "), b.to_string()))
            })
            .collect();
        Mail {
            headers: unfolded,
            parts,
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    /// The decoded body of the attachment named `file`.
    fn attachment(&self, file: &str) -> Option<Vec<u8>> {
        let (h, b) = self
            .parts
            .iter()
            .find(|(h, _)| h.contains(&format!("filename=\"{file}\"")))?;
        assert!(h.to_ascii_lowercase().contains("base64"), "{h}");
        Some(base64(b))
    }
}

/// `(outcome, class, boardline, answerback)` of every attempt record of a job file, after
/// checking each is an e-mail attempt (type 3).
fn records(path: &Path) -> Vec<(String, String, String, String)> {
    let bytes = std::fs::read(path).unwrap();
    let d = Document::parse(&bytes, "job").unwrap();
    d.all("attempt_record")
        .map(|c| {
            let a = |i: usize| c.arg(i).unwrap_or("").to_string();
            assert_eq!(a(2), "3", "an e-mail attempt: {:?}", c.texts());
            (a(5), a(6), a(10), a(14))
        })
        .collect()
}

/// The start of every attempt of a job file, in seconds of the day.
fn started(path: &Path) -> Vec<i64> {
    let bytes = std::fs::read(path).unwrap();
    let d = Document::parse(&bytes, "job").unwrap();
    d.all("attempt_record")
        .map(|c| {
            let t: Vec<i64> = c
                .arg(1)
                .unwrap()
                .split(':')
                .map(|x| x.parse().unwrap())
                .collect();
            t[0] * 3600 + t[1] * 60 + t[2]
        })
        .collect()
}

#[test]
fn e_mail_jobs_through_a_real_postfix() {
    let pf_dir = tempfile::tempdir().unwrap();
    let pf = Postfix::start(pf_dir.path());
    let cfg = format!(
        "$request_dir spool 2\n$timezone UTC\n\
         $line 1 smtp relay=127.0.0.1:{relay} fallback=127.0.0.1:{fallback} tls=starttls ca_file=relay.pem \"from=Fax Desk <fax@example.org>\" timeout=30\n\
         $line 2 smtp relay=127.0.0.1:{relay} tls=starttls from=fax@example.org\n\
         $line 3 smtp relay=127.0.0.1:{smtps} tls=tls ca_file=relay.pem from=fax@example.org\n\
         $line 4 smtp relay=127.0.0.1:{relay} tls=none from=fax@example.org\n\
         $line 5 smtp relay=127.0.0.1:{submission} tls=starttls ca_file=relay.pem user=fax@test.example password_file=good.pw from=fax@example.org\n\
         $line 6 smtp relay=127.0.0.1:{submission} tls=starttls ca_file=relay.pem user=fax@test.example password_file=bad.pw from=fax@example.org\n\
         $email_retry_delays B \"1S 1S\"\n",
        relay = pf.relay,
        fallback = pf.fallback,
        smtps = pf.smtps,
        submission = pf.submission,
    );
    let d = scratch(&cfg);
    let root = d.path();
    std::fs::write(root.join("good.pw"), "s3cret\n").unwrap();
    std::fs::write(root.join("bad.pw"), "wrong\n").unwrap();
    std::fs::copy(pf.dir.join("etc/cert.pem"), root.join("relay.pem")).unwrap();
    let pdf: Vec<u8> = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
        .iter()
        .copied()
        .chain((0..=255u8).cycle().take(3000))
        .collect();
    let tif: Vec<u8> = b"II*\0\x08\0\0\0"
        .iter()
        .copied()
        .chain((0..=255u8).rev().cycle().take(1500))
        .collect();
    std::fs::write(root.join("order.pdf"), &pdf).unwrap();
    std::fs::write(root.join("page.tif"), &tif).unwrap();
    std::fs::write(root.join("body.txt"), "Kind regards,\nthe fax desk\n").unwrap();
    let q = root.join("spool/TOSEND");
    // Every job names its line: line 1 (STARTTLS, trusted, with a fallback) unless told.
    let job = |name: &str, text: &str| {
        let text = if text.contains("$fax_send_line") {
            text.to_string()
        } else {
            format!("{text}$fax_send_line 1\n")
        };
        std::fs::write(q.join(name), text).unwrap();
    };
    job(
        "ok.FS",
        "$email_address ok@test.example\n$email_subject \"Order 4711\"\n\
         $email_text \"Hello,\"\n$email_text \"your order is attached.\"\n$email_body body.txt\n\
         $fax_filename order.pdf\n$fax_filename page.tif\n",
    );
    // 450 twice (the CFG's list: 1 s, 1 s), then the list's end: FAIL.
    job(
        "busy.FS",
        "$email_address busy@test.example\n$email_subject Busy\n$fax_filename order.pdf\n",
    );
    // 450, then (prefix E) the alternate address: delivered there.
    job(
        "alt.FS",
        "$email_address busy@test.example\n$email_alt_address alt@test.example\n\
         $email_subject Alternate\n$email_retry_delays B \"E1S\"\n",
    );
    // 450, then (prefix I) the fallback relay, which has no access table: delivered.
    job(
        "relay.FS",
        "$email_address busy@test.example\n$email_subject Fallback\n$email_retry_delays B \"I1S\"\n",
    );
    // 550: failed for good at once.
    job(
        "nobody.FS",
        "$email_address nobody@test.example\n$email_subject Nobody\n",
    );
    // Line 2 does not trust the relay's certificate: a TLS failure (class C; no retry here).
    job(
        "untrusted.FS",
        "$email_address ok@test.example\n$email_subject Untrusted\n$fax_send_line 2\n\
         $email_retry_delays C \"\"\n",
    );
    // Line 3: TLS from the first byte (SMTPS); line 4: in clear.
    job(
        "smtps.FS",
        "$email_address ok@test.example\n$email_subject Wrapped\n$fax_send_line 3\n",
    );
    job(
        "plain.FS",
        "$email_address ok@test.example\n$email_subject Plain\n$fax_send_line 4\n",
    );
    // Lines 5 and 6 log in (the port relays for logged-in users only): right and wrong password.
    job(
        "auth.FS",
        "$email_address ok@test.example\n$email_subject Login\n$fax_send_line 5\n",
    );
    job(
        "badauth.FS",
        "$email_address ok@test.example\n$email_subject Refused\n$fax_send_line 6\n",
    );

    let node = start(root, "a");
    let (sent, fail) = (root.join("spool/SENT"), root.join("spool/FAIL"));
    let done = wait_until(Duration::from_secs(90), || {
        jobs_in(&sent).len() + jobs_in(&fail).len() == 10
    });
    assert!(terminate_within(node, Duration::from_secs(20)));
    let log = std::fs::read_to_string(root.join("a.log")).unwrap_or_default();
    assert!(
        done,
        "SENT {:?} FAIL {:?}\n{log}\n{}",
        jobs_in(&sent),
        jobs_in(&fail),
        pf.log()
    );
    assert_eq!(
        jobs_in(&sent),
        ["alt.FS", "auth.FS", "ok.FS", "plain.FS", "relay.FS", "smtps.FS"],
        "{log}"
    );
    assert_eq!(
        jobs_in(&fail),
        ["badauth.FS", "busy.FS", "nobody.FS", "untrusted.FS"],
        "{log}"
    );
    let ok: Vec<Mail> = pf.delivered("ok").iter().map(|m| Mail::parse(m)).collect();
    assert_eq!(ok.len(), 4, "{}", pf.log());
    let by_subject = |s: &str| {
        ok.iter()
            .find(|m| m.header("Subject") == Some(s))
            .unwrap_or_else(|| panic!("no message {s:?} delivered"))
    };

    // Delivered: subject, body, attachments byte for byte, Message-ID as in the record.
    let r = records(&sent.join("ok.FS"));
    assert_eq!(r.len(), 1, "{r:?}");
    let (outcome, class, board, message_id) = &r[0];
    assert_eq!(
        (outcome.as_str(), class.as_str(), board.as_str()),
        ("0", "S", "E1")
    );
    assert!(
        message_id.starts_with("<redial.ok-FS.1.") && message_id.ends_with("@example.org>"),
        "{message_id}"
    );
    let m = by_subject("Order 4711");
    assert_eq!(m.header("Message-ID"), Some(message_id.as_str()));
    assert_eq!(m.header("To"), Some("ok@test.example"));
    assert!(m.header("From").unwrap().contains("fax@example.org"));
    assert!(
        m.headers.contains("with ESMTPS"),
        "the relay took the message over STARTTLS:\n{}",
        m.headers
    );
    let body = &m.parts[0].1;
    for line in [
        "Hello,",
        "your order is attached.",
        "Kind regards,",
        "the fax desk",
    ] {
        assert!(body.contains(line), "{line:?} not in {body:?}");
    }
    assert_eq!(m.attachment("order.pdf").as_deref(), Some(&pdf[..]));
    assert_eq!(m.attachment("page.tif").as_deref(), Some(&tif[..]));
    assert!(m.parts.iter().any(|(h, _)| h.contains("application/pdf")));
    assert!(m.parts.iter().any(|(h, _)| h.contains("image/tiff")));

    // SMTPS and clear text, each on its own line.
    let r = records(&sent.join("smtps.FS"));
    assert_eq!((r[0].0.as_str(), r[0].2.as_str()), ("0", "E3"), "{r:?}");
    assert!(by_subject("Wrapped").headers.contains("with ESMTPS"));
    let r = records(&sent.join("plain.FS"));
    assert_eq!((r[0].0.as_str(), r[0].2.as_str()), ("0", "E4"), "{r:?}");
    let plain = &by_subject("Plain").headers;
    assert!(
        plain.contains("with ESMTP ") && !plain.contains("ESMTPS"),
        "{plain}"
    );

    // Logged in: delivered; a wrong password: 535, failed for good with 5.7.8 in the record.
    let r = records(&sent.join("auth.FS"));
    assert_eq!((r[0].0.as_str(), r[0].2.as_str()), ("0", "E5"), "{r:?}");
    assert!(
        by_subject("Login").headers.contains("with ESMTPSA"),
        "authenticated"
    );
    let r = records(&fail.join("badauth.FS"));
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!((r[0].0.as_str(), r[0].1.as_str()), ("2535", "Z"), "{r:?}");
    assert!(r[0].3.starts_with("535 5.7.8"), "{r:?}");

    // An untrusted certificate: outcome 2004 (class C), nothing delivered.
    let r = records(&fail.join("untrusted.FS"));
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(
        r[0].3.starts_with("TLS failed: ") && r[0].3.contains("certificate"),
        "{r:?}"
    );
    assert_eq!(
        (r[0].0.as_str(), r[0].1.as_str(), r[0].2.as_str()),
        ("2004", "Z", "E2"),
        "{r:?}"
    );

    // 450: retried by $email_retry_delays B "1S 1S", then failed when the list ran out.
    let r = records(&fail.join("busy.FS"));
    let codes: Vec<(&str, &str)> = r.iter().map(|x| (x.0.as_str(), x.1.as_str())).collect();
    assert_eq!(
        codes,
        [("2450", "B"), ("2450", "B"), ("2450", "Z")],
        "{r:?}"
    );
    assert!(
        r.iter()
            .all(|x| x.3.starts_with("450 4.2.0 <busy@test.example>")),
        "{r:?}"
    );
    let starts = started(&fail.join("busy.FS"));
    assert!(
        starts.windows(2).all(|w| w[1] - w[0] >= 1),
        "each retry waits its 1 s: {starts:?}"
    );
    // (The busy mailbox gets only the fallback job's message, checked below.)

    // Prefix E: the retry went to $email_alt_address.
    let r = records(&sent.join("alt.FS"));
    let codes: Vec<(&str, &str)> = r.iter().map(|x| (x.0.as_str(), x.1.as_str())).collect();
    assert_eq!(codes, [("2450", "B"), ("0", "S")], "{r:?}");
    let alt = pf.delivered("alt");
    assert_eq!(alt.len(), 1);
    let m = Mail::parse(&alt[0]);
    assert_eq!(m.header("Subject"), Some("Alternate"));
    assert_eq!(m.header("Message-ID"), Some(r[1].3.as_str()));

    // Prefix I: the retry went through the fallback relay (no access table there).
    let r = records(&sent.join("relay.FS"));
    let codes: Vec<(&str, &str)> = r.iter().map(|x| (x.0.as_str(), x.1.as_str())).collect();
    assert_eq!(codes, [("2450", "B"), ("0", "S")], "{r:?}");
    let busy = pf.delivered("busy");
    assert_eq!(busy.len(), 1, "{}", pf.log());
    assert_eq!(Mail::parse(&busy[0]).header("Subject"), Some("Fallback"));

    // 550: failed for good at once, the enhanced status code in the record.
    let r = records(&fail.join("nobody.FS"));
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!((r[0].0.as_str(), r[0].1.as_str()), ("2550", "Z"));
    assert!(
        r[0].3.starts_with("550 5.1.1 <nobody@test.example>"),
        "{r:?}"
    );
    let text = std::fs::read_to_string(fail.join("nobody.FS")).unwrap();
    assert!(text.contains("$fax_status2 2550"), "{text}");
    assert!(
        text.contains("$fail_reason \"outcome 2550 (SMTP 550: mailbox unavailable (does not exist)) is final (class Z)\""),
        "{text}"
    );
}
