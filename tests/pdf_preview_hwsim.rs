//! A PDF job end to end: `redial preview` writes the pages of a queued job (cover page and header
//! line included) as PNG, then a real `redial run` node sends the job through a hw-sim Class 2.0 modem,
//! and the pages the receiver stored decode equal, pixel for pixel, to the preview's.

mod common;

use common::spool::*;
use redial::fax::{read_tiff, Bitmap};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const SCENARIO: &str = r#"
[defaults]
unknown = { kind = "no-answer", rings = 1 }

[[number]]
number = "5550100"
outcome = { kind = "fax", rings = 1, csi = "PREVIEW PEER" }
"#;

/// A 1-bit greyscale PNG (white = 1) as a bitmap (black = 1).
fn read_png(path: &Path) -> Bitmap {
    let mut d = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    d.set_transformations(png::Transformations::IDENTITY);
    let mut r = d.read_info().unwrap();
    let mut buf = vec![0; r.output_buffer_size().unwrap()];
    let info = r.next_frame(&mut buf).unwrap();
    assert_eq!(
        (info.color_type, info.bit_depth),
        (png::ColorType::Grayscale, png::BitDepth::One)
    );
    let data: Vec<u8> = buf[..info.line_size * info.height as usize]
        .iter()
        .map(|v| !v)
        .collect();
    Bitmap::from_packed(info.width, info.height, data).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_received_are_the_pages_preview_shows() {
    let dir = tempfile::tempdir().unwrap();
    let rack = common::hwsim::rack(&dir.path().join("rack"), 1, SCENARIO, 0.05).await;
    // No date or time in the header: the preview and the call may fall in different minutes.
    let cfg = format!(
        "$request_dir spool 2\n$timezone UTC\n$line 1 {} class=2.0 id=REDIAL\n\
         $fax_header \"%s|%n to %r|Page %p of %P\"\n$fax_sender \"Acme Widgets\"\n",
        rack.tty(0).display()
    );
    let spool = scratch(&cfg);
    let base = spool.path().to_path_buf();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/pdf/letter-form.pdf"),
        base.join("po.pdf"),
    )
    .unwrap();
    // A cover template (no date or time either, for the same reason).
    std::fs::write(
        base.join("cover.txt"),
        "FAX\n\nTo:    $fax_to_name, $fax_to_company\nFrom:  $fax_sender\n\
         Pages: $pages (this one included)\nRef:   $order\n",
    )
    .unwrap();
    std::fs::write(
        base.join("spool/TOSEND/1.FS"),
        "$fax_phone 5550100\n$fax_to_name \"Harbour Supplies\"\n$fax_to_company \"Harbour Ltd\"\n\
         $var_def order \"PO 4711\"\n$fax_cover cover.txt\n$fax_filename po.pdf\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["preview", "spool/TOSEND/1.FS", "--out", "preview"])
        .args(["--cfg", "redial.cfg", "--base", "."])
        .current_dir(&base)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(
        text.contains("page-002.png: 1728x2156 pixels, Fine"),
        "{text}"
    );
    let preview: Vec<Bitmap> = (1..=3)
        .map(|n| read_png(&base.join(format!("preview/page-{n:03}.png"))))
        .collect();

    let node = start(&base, "n1");
    let b = base.clone();
    let sent = tokio::task::spawn_blocking(move || {
        wait_until(Duration::from_secs(90), || {
            b.join("spool/SENT/1.FS").exists()
        })
    })
    .await
    .unwrap();
    let log = std::fs::read_to_string(base.join("n1.log")).unwrap_or_default();
    assert!(terminate_within(node, Duration::from_secs(20)));
    assert!(sent, "not sent:\n{log}");
    let mut files: Vec<_> = std::fs::read_dir(rack.dir.join("received"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    rack.stop().await;
    let got: Vec<_> = files
        .iter()
        .flat_map(|f| read_tiff(&std::fs::read(f).unwrap()).unwrap())
        .collect();
    assert_eq!(got.len(), 3);
    // The cover is the filled template drawn as text (then stamped with the header).
    let filled = "FAX\n\nTo:    Harbour Supplies, Harbour Ltd\nFrom:  Acme Widgets\n\
                  Pages: 3 (this one included)\nRef:   PO 4711\n";
    let cover = redial::fax::render_text(filled.as_bytes()).remove(0);
    let below = |b: &Bitmap| {
        (40..b.height())
            .map(|y| b.row(y).to_vec())
            .collect::<Vec<_>>()
    };
    assert!(below(&preview[0]) == below(cover.bitmap()), "cover text");
    for (i, (g, p)) in got.iter().zip(&preview).enumerate() {
        assert!(
            g.bitmap() == p,
            "page {}: received pixels differ from the preview",
            i + 1
        );
    }
    // The header is there: the top band has ink, the same band of the bare PDF page has none.
    let bare = redial::fax::load_document(base.join("po.pdf")).unwrap();
    let ink = |b: &Bitmap| {
        (0..30)
            .map(|y| b.row(y).iter().map(|v| v.count_ones()).sum::<u32>())
            .sum::<u32>()
    };
    assert_eq!(ink(bare[0].bitmap()), 0);
    assert!(ink(&preview[1]) > 500);
    assert!(ink(&preview[0]) > 500, "the cover carries the header too");
}
