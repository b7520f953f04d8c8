//! The web job page shows the pages a fax job would send as thumbnails (issue 14): the real
//! `redial web` on a spool holding a queued PDF job with a header line. Each thumbnail is the
//! page `redial preview` writes, shrunk (one pixel per 8 × 8 fine pixels); a job whose document
//! is gone says why instead.

mod common;

use common::spool::{scratch, BIN};
use std::path::Path;
use std::process::Command;

const TOKEN: &str = "web-pages-token-4242";

/// Width, height and pixels of a PNG.
fn decode(png: &[u8]) -> (u32, u32, Vec<u8>) {
    let mut r = png::Decoder::new(std::io::Cursor::new(png))
        .read_info()
        .unwrap();
    let mut buf = vec![0; r.output_buffer_size().unwrap()];
    let info = r.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

fn get_bytes(addr: &str, path: &str) -> (u16, Vec<u8>) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: redial\r\nAuthorization: Bearer {TOKEN}\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, raw[split + 4..].to_vec())
}

#[test]
fn the_job_page_shows_each_page_as_a_thumbnail_of_what_preview_writes() {
    let d = scratch(&format!(
        "$request_dir spool 1\n$timezone UTC\n$web_token {TOKEN}\n$line 1 sim id=+15550001\n"
    ));
    let root = d.path();
    let pdf = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/pdf/letter-form.pdf");
    std::fs::copy(&pdf, root.join("form.pdf")).unwrap();
    std::fs::create_dir_all(root.join("spool/TOSEND")).unwrap();
    std::fs::write(
        root.join("spool/TOSEND/1.FS"),
        "$fax_phone 5550100\n$fax_filename form.pdf\n$fax_header \"%s|page %p of %P\"\n$fax_sender \"ACME\"\n",
    )
    .unwrap();
    std::fs::write(
        root.join("spool/TOSEND/2.FS"),
        "$fax_phone 5550101\n$fax_filename gone.pdf\n",
    )
    .unwrap();

    // What preview writes for the job.
    let out = Command::new(BIN)
        .args([
            "preview",
            "spool/TOSEND/1.FS",
            "--out",
            "pv",
            "--cfg",
            "redial.cfg",
            "--base",
            ".",
        ])
        .current_dir(root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut written: Vec<_> = std::fs::read_dir(root.join("pv"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    written.sort();
    assert_eq!(written.len(), 2, "{written:?}");

    let (_web, addr) = common::web::start(root, &[], None);
    let (status, page) = common::web::get(&addr, "/job/1.FS", TOKEN);
    assert_eq!(status, 200, "{page}");
    for n in 1..=2 {
        assert!(
            page.contains(&format!("src=\"/job/1.FS/page/{n}\"")),
            "{page}"
        );
    }
    assert!(!page.contains("/job/1.FS/page/3"), "{page}");
    for (n, full) in written.iter().enumerate() {
        let (status, png) = get_bytes(&addr, &format!("/job/1.FS/page/{}", n + 1));
        assert_eq!(status, 200);
        let (w, h, thumb) = decode(&png);
        let (fw, fh, full) = decode(&std::fs::read(full).unwrap());
        // 1728 × 2200 fine pixels: 216 × 275.
        assert_eq!((w, h), (fw.div_ceil(8), fh.div_ceil(8)));
        // Each thumbnail pixel is the share of white in its block of the previewed page.
        let stride = (fw as usize).div_ceil(8);
        let white = |x: u32, y: u32| full[y as usize * stride + x as usize / 8] >> (7 - x % 8) & 1;
        for (ty, tx) in [(0, 0), (2, 10), (h / 2, w / 2), (h - 1, w - 1), (3, w / 3)] {
            let (mut white_px, mut all) = (0u32, 0u32);
            for y in ty * 8..((ty + 1) * 8).min(fh) {
                for x in tx * 8..((tx + 1) * 8).min(fw) {
                    all += 1;
                    white_px += u32::from(white(x, y));
                }
            }
            let want = (255 - (all - white_px) * 255 / all) as u8;
            assert_eq!(
                thumb[(ty * w + tx) as usize],
                want,
                "page {} at {tx},{ty}",
                n + 1
            );
        }
        // The header line is on the page: its top rows are not blank.
        assert!(
            thumb[..(2 * w) as usize].iter().any(|&g| g < 255),
            "page {}",
            n + 1
        );
    }
    assert_eq!(get_bytes(&addr, "/job/1.FS/page/3").0, 404);
    assert_eq!(get_bytes(&addr, "/job/1.FS/page/0").0, 404);
    // Hostile names and page numbers: a clear refusal, never a file outside the spool.
    for path in [
        "/job/..%2F..%2Fredial.cfg/page/1",
        "/job/..%2Fredial.cfg/page/1",
        "/job/%2Fetc%2Fpasswd/page/1",
        "/job/1.FS%00/page/1",
        "/job/1.FS/page/-1",
        "/job/1.FS/page/99999999999999999999",
        "/job/1.FS/page/one",
    ] {
        let (status, body) = get_bytes(&addr, path);
        assert!(
            status == 404 || status == 400,
            "{path}: {status} {}",
            String::from_utf8_lossy(&body)
        );
        assert!(!body.starts_with(b"\x89PNG"), "{path} drew a page");
        assert!(
            !String::from_utf8_lossy(&body).contains("$request_dir"),
            "{path} showed the CFG"
        );
    }

    let (status, page) = common::web::get(&addr, "/job/2.FS", TOKEN);
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("The pages cannot be shown") && page.contains("gone.pdf"),
        "{page}"
    );
}
