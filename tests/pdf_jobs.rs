//! PDF documents in jobs, through the real binary on a real spool: a good PDF is accepted and
//! sent; an encrypted PDF, one with a broken page, and a fax over `$max_pages` are refused by
//! `redial send` (nothing written) and failed by the daemon's intake (outcome 33, the reason
//! naming the file and the page), never dialled.

mod common;

use common::spool::*;
use redial::command::Document;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn pdf(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/pdf")
        .join(name)
}

fn send(root: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(BIN)
        .arg("send")
        .args(["--cfg", "redial.cfg", "--base", "."])
        .args(args)
        .current_dir(root)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn field(dir: &Path, name: &str, cmd: &str) -> String {
    let bytes = std::fs::read(dir.join(name)).unwrap();
    let d = Document::parse(&bytes, name).unwrap();
    d.last(cmd).map(|c| c.joined()).unwrap_or_default()
}

#[test]
fn send_refuses_bad_pdfs_and_too_many_pages_before_writing_anything() {
    let d = scratch("$request_dir spool 2\n$timezone UTC\n$max_pages 3\n$line 1 sim\n");
    let root = d.path();
    for f in [
        "letter-form.pdf",
        "encrypted.pdf",
        "broken-page.pdf",
        "a4-landscape.pdf",
    ] {
        std::fs::copy(pdf(f), root.join(f)).unwrap();
    }
    let (code, out) = send(root, &["5550100", "encrypted.pdf"]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("encrypted.pdf: the PDF is encrypted with a password"),
        "{out}"
    );
    let (code, out) = send(root, &["5550100", "broken-page.pdf"]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("broken-page.pdf: page 2: its content stream cannot be decoded"),
        "{out}"
    );
    // 2 + 2 pages: over the CFG's $max_pages 3.
    let (code, out) = send(root, &["5550100", "letter-form.pdf", "a4-landscape.pdf"]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("the fax has 4 pages, more than $max_pages 3"),
        "{out}"
    );
    assert!(jobs_in(&root.join("spool/TOSEND")).is_empty());
    let (code, out) = send(root, &["5550100", "letter-form.pdf"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(jobs_in(&root.join("spool/TOSEND")).len(), 1);
}

#[test]
fn the_daemon_fails_bad_pdfs_at_intake_and_sends_the_good_one() {
    let dir = scratch("$request_dir spool 2\n$timezone UTC\n$line 1 sim outcomes=0@0.1\n");
    let base = dir.path().canonicalize().unwrap();
    let root = base.join("spool");
    std::fs::create_dir_all(root.join("docs")).unwrap();
    for f in ["letter-form.pdf", "encrypted.pdf", "broken-page.pdf"] {
        std::fs::copy(pdf(f), root.join("docs").join(f)).unwrap();
    }
    let jobs = [
        ("00000001.FS", "$fax_filename spool/docs/encrypted.pdf"),
        ("00000002.FS", "$fax_filename spool/docs/broken-page.pdf"),
        (
            "00000003.FS",
            "$fax_filename spool/docs/letter-form.pdf\n$max_pages 1",
        ),
        ("00000004.FS", "$fax_filename spool/docs/letter-form.pdf"),
    ];
    for (i, (n, docs)) in jobs.iter().enumerate() {
        std::fs::write(
            root.join("TOSEND").join(n),
            format!("$fax_phone 555010{i}\n{docs}\n"),
        )
        .unwrap();
    }
    let c = start(&base, "n1");
    let done = wait_until(Duration::from_secs(60), || landed(&root) == jobs.len());
    let log = || std::fs::read_to_string(base.join("n1.log")).unwrap_or_default();
    assert!(
        terminate_within(c, Duration::from_secs(10)),
        "deaf to SIGTERM"
    );
    assert!(done, "{:?}\n{}", census(&root), log());
    assert_eq!(jobs_in(&root.join("SENT")), ["00000004.FS"], "{}", log());
    let fail = root.join("FAIL");
    let expect = [
        (
            "00000001.FS",
            "encrypted.pdf: the PDF is encrypted with a password",
        ),
        (
            "00000002.FS",
            "broken-page.pdf: page 2: its content stream cannot be decoded",
        ),
        ("00000003.FS", "the fax has 2 pages, more than $max_pages 1"),
    ];
    for (n, want) in expect {
        let reason = field(&fail, n, "fail_reason");
        assert_eq!(field(&fail, n, "fax_status2"), "33", "{n}: {reason}");
        assert!(reason.contains(want), "{n}: {reason}\nwanted …{want}");
        let text = std::fs::read_to_string(fail.join(n)).unwrap();
        assert!(
            !text.contains("$attempt_record"),
            "{n} was dialled:\n{text}"
        );
    }
}

#[test]
fn postscript_goes_through_ghostscript_and_is_refused_clearly_without_it() {
    let d = scratch("$request_dir spool 2\n$timezone UTC\n$line 1 sim\n");
    let root = d.path();
    std::fs::copy(pdf("letter-form.ps"), root.join("letter.ps")).unwrap();
    // Without Ghostscript on the PATH: refused, nothing written.
    let empty = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args([
            "send",
            "--cfg",
            "redial.cfg",
            "--base",
            ".",
            "5550100",
            "letter.ps",
        ])
        .current_dir(root)
        .env("PATH", empty.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("letter.ps: PostScript needs Ghostscript (gs), which is not installed"),
        "{text}"
    );
    assert!(jobs_in(&root.join("spool/TOSEND")).is_empty());
    // With it (.ci/run installs it): two pages, accepted.
    let pages = redial::fax::load_document(root.join("letter.ps")).unwrap();
    assert_eq!(pages.len(), 2);
    assert_eq!(pages[0].lines(), 2156, "Letter at 196 lpi");
    assert!(pages[0].bitmap().black_pixels() > 10_000);
    let (code, out) = send(root, &["5550100", "letter.ps"]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn a_cover_template_with_an_unknown_field_or_binary_data_is_refused() {
    let d = scratch("$request_dir spool 2\n$timezone UTC\n$fax_sender \"Acme\"\n$line 1 sim\n");
    let root = d.path();
    std::fs::copy(pdf("letter-form.pdf"), root.join("po.pdf")).unwrap();
    std::fs::write(
        root.join("typo.txt"),
        "To: $fax_to_name\nFrom: $fax_sendr\n",
    )
    .unwrap();
    std::fs::write(root.join("binary.cvr"), b"\x00\x01\x02COVER\x00").unwrap();
    std::fs::write(root.join("good.txt"), "From: $fax_sender\nPages: $pages\n").unwrap();
    let (code, out) = send(root, &["5550100", "po.pdf", "--cover", "typo.txt"]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("typo.txt: line 2: unknown field $fax_sendr"),
        "{out}"
    );
    let (code, out) = send(root, &["5550100", "po.pdf", "--cover", "binary.cvr"]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("binary.cvr: not a text cover template"),
        "{out}"
    );
    assert!(jobs_in(&root.join("spool/TOSEND")).is_empty());
    let (code, out) = send(root, &["5550100", "po.pdf", "--cover", "good.txt"]);
    assert_eq!(code, 0, "{out}");
}
