//! The fax page codec end to end: T.4 encoder round trips against hayro-ccitt (an independent
//! decoder), TIFF-F written with the tiff crate and read back, PBM, the document loader's
//! errors, fuzz-like robustness of every reader, and cross-checks against efax's `efix`.

use hayro_ccitt::{DecodeSettings, DecoderContext, EncodingMode};
use proptest::prelude::*;
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use redial::fax::{
    self, encode, encode_mh, encode_mr, load_document, pages_from_bytes, read_pbm, read_tiff,
    render_text, reverse_bits, write_pbm, BitOrder, Bitmap, Coding, DocError, EncodeOptions, Page,
    Resolution, PAGE_WIDTH,
};
use std::io::Cursor;
use std::path::Path;
use std::process::Command;
use tiff::encoder::{Rational, TiffEncoder};
use tiff::tags::{ResolutionUnit, Tag};

// ---------------------------------------------------------------------------------------------
// Helpers

/// Decodes with hayro-ccitt directly (not through redial's adapter), MSB-first data.
fn oracle(data: &[u8], rows: u32, mode: EncodingMode) -> Bitmap {
    struct Sink(Bitmap);
    impl hayro_ccitt::Decoder for Sink {
        fn push_row(&mut self, changes: &[u32]) {
            self.0.push_row_from_changes(changes);
        }
    }
    let settings = DecodeSettings {
        columns: PAGE_WIDTH,
        rows,
        end_of_block: true,
        end_of_line: true,
        rows_are_byte_aligned: false,
        encoding: mode,
        strict: true,
    };
    let mut sink = Sink(Bitmap::new(PAGE_WIDTH, 0));
    hayro_ccitt::decode(data, &mut sink, &mut DecoderContext::new(settings))
        .expect("strict decode");
    sink.0
}

fn mode_of(coding: Coding) -> EncodingMode {
    match coding {
        Coding::Mh => EncodingMode::Group3_1D,
        Coding::Mr { .. } => EncodingMode::Group3_2D,
    }
}

/// Encodes with `options`, decodes in the order hayro needs, and demands pixel equality.
fn assert_round_trip(page: &Page, options: &EncodeOptions) {
    let data = encode(page, options);
    let msb = match options.bit_order {
        BitOrder::MsbFirst => data.clone(),
        BitOrder::LsbFirst => reverse_bits(&data),
    };
    // With RTC the decoder must stop on it by itself (rows = 0).
    let rows = if options.rtc { 0 } else { page.lines() };
    let decoded = oracle(&msb, rows, mode_of(options.coding));
    assert_eq!(decoded.height(), page.lines(), "row count, {options:?}");
    if decoded != *page.bitmap() {
        let y = (0..page.lines())
            .find(|&y| decoded.row(y) != page.bitmap().row(y))
            .unwrap();
        panic!("first differing row {y} with {options:?}");
    }
    if options.min_line_bytes > 0 && !options.rtc {
        assert!(data.len() >= options.min_line_bytes * page.lines() as usize);
    }
}

/// Bitmaps that exercise every coding mode: random runs, rows that are small shifts of the row
/// above (vertical and pass modes), solid and alternating rows, edges.
fn random_page(seed: u64, lines: u32) -> Page {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut bitmap = Bitmap::new(PAGE_WIDTH, 0);
    let mut previous: Vec<u32> = Vec::new();
    for _ in 0..lines {
        let kind = rng.next_u32() % 10;
        let mut changes: Vec<u32> = match kind {
            0 => Vec::new(),
            1 => vec![0],
            2 => (0..PAGE_WIDTH).collect(),
            3 => vec![PAGE_WIDTH - 1],
            4..=6 if !previous.is_empty() => previous
                .iter()
                .map(|&c| (c as i64 + (rng.next_u32() % 9) as i64 - 4).clamp(0, 1727) as u32)
                .collect(),
            _ => {
                let mean = 1 + rng.next_u32() % 300;
                let mut x = 0u32;
                let mut v = Vec::new();
                loop {
                    x += rng.next_u32() % (2 * mean) + u32::from(v.is_empty() && kind == 9);
                    if x >= PAGE_WIDTH {
                        break;
                    }
                    v.push(x);
                    x += 1;
                }
                v
            }
        };
        changes.sort_unstable();
        changes.dedup();
        bitmap.push_row_from_changes(&changes);
        previous = changes;
    }
    Page::new(bitmap, Resolution::Fine)
}

fn all_option_sets(coding: Coding) -> Vec<EncodeOptions> {
    let mut v = Vec::new();
    for bit_order in [BitOrder::LsbFirst, BitOrder::MsbFirst] {
        for align_eol in [false, true] {
            for rtc in [false, true] {
                for min_line_bytes in [0, 24] {
                    v.push(EncodeOptions {
                        coding,
                        bit_order,
                        align_eol,
                        min_line_bytes,
                        rtc,
                    });
                }
            }
        }
    }
    v
}

// ---------------------------------------------------------------------------------------------
// T.4 encoder round trips

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn mh_round_trips_random_pages(seed in any::<u64>(), lines in 1u32..40) {
        let page = random_page(seed, lines);
        for options in all_option_sets(Coding::Mh) {
            assert_round_trip(&page, &options);
        }
    }

    #[test]
    fn mr_round_trips_random_pages(seed in any::<u64>(), lines in 1u32..40, k in 1u32..6) {
        let page = random_page(seed, lines);
        for options in all_option_sets(Coding::Mr { k }) {
            assert_round_trip(&page, &options);
        }
    }
}

#[test]
fn default_helpers_are_transmission_order_without_rtc() {
    let page = random_page(7, 30);
    let mh = encode_mh(&page);
    assert_eq!(
        oracle(&reverse_bits(&mh), 30, EncodingMode::Group3_1D),
        *page.bitmap()
    );
    let mr = encode_mr(&page, 4);
    assert_eq!(
        oracle(&reverse_bits(&mr), 30, EncodingMode::Group3_2D),
        *page.bitmap()
    );
    // LSB-first: the leading EOL's final 1 bit is bit 3 of the second byte.
    assert_eq!(&mh[..2], &[0x00, 0x08 | (mh[1] & 0xF0)]);
}

#[test]
fn rendered_text_pages_round_trip_in_both_resolutions() {
    let mut text = String::new();
    for i in 0..70 {
        text.push_str(&format!(
            "{i:3} The quick brown fox jumps over the lazy dog. 0123456789 !@#$%^&*() {{}} ~|\n"
        ));
    }
    let pages = render_text(text.as_bytes());
    assert_eq!(pages.len(), 2, "70 lines → 2 pages of 66");
    for page in &pages {
        assert_eq!(page.lines(), 2287);
        assert_round_trip(
            page,
            &EncodeOptions::class2(Coding::mr_for(Resolution::Fine), 0),
        );
        assert_round_trip(page, &EncodeOptions::class2(Coding::Mh, 0));
        let standard = page.to_standard();
        assert_eq!(standard.lines(), 1144);
        assert_round_trip(
            &standard,
            &EncodeOptions::class2(Coding::mr_for(Resolution::Standard), 24).with_rtc(true),
        );
    }
    // MR is smaller than MH on text.
    let mh = encode(&pages[0], &EncodeOptions::class2(Coding::Mh, 0)).len();
    let mr = encode(&pages[0], &EncodeOptions::class2(Coding::Mr { k: 4 }, 0)).len();
    assert!(mr < mh, "MR {mr} bytes vs MH {mh}");
}

#[test]
fn redial_decoder_reads_both_bit_orders() {
    let page = random_page(11, 25);
    for coding in [Coding::Mh, Coding::Mr { k: 2 }] {
        for order in [BitOrder::LsbFirst, BitOrder::MsbFirst] {
            let options = EncodeOptions::class2(coding, 0)
                .with_bit_order(order)
                .with_rtc(true);
            let scheme = match coding {
                Coding::Mh => fax::Scheme::Mh,
                Coding::Mr { .. } => fax::Scheme::Mr,
            };
            let decoded =
                fax::decode::decode(&encode(&page, &options), PAGE_WIDTH, 0, scheme, order)
                    .unwrap();
            assert_eq!(decoded, *page.bitmap());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// TIFF-F

struct TiffPage<'a> {
    strip: Vec<u8>,
    compression: u16,
    t4_options: Option<u32>,
    fill_order: u16,
    page: &'a Page,
    rows_per_strip: Option<u32>,
    photometric: u16,
}

fn write_tiff(pages: &[TiffPage]) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    let mut tiff = TiffEncoder::new(&mut out).unwrap();
    for (i, p) in pages.iter().enumerate() {
        let mut dir = tiff.image_directory().unwrap();
        let offset = dir.write_data(&p.strip[..]).unwrap();
        dir.write_tag(Tag::ImageWidth, PAGE_WIDTH).unwrap();
        dir.write_tag(Tag::ImageLength, p.page.lines()).unwrap();
        dir.write_tag(Tag::BitsPerSample, 1u16).unwrap();
        dir.write_tag(Tag::Compression, p.compression).unwrap();
        dir.write_tag(Tag::PhotometricInterpretation, p.photometric)
            .unwrap();
        dir.write_tag(Tag::FillOrder, p.fill_order).unwrap();
        dir.write_tag(Tag::StripOffsets, offset as u32).unwrap();
        dir.write_tag(Tag::SamplesPerPixel, 1u16).unwrap();
        dir.write_tag(
            Tag::RowsPerStrip,
            p.rows_per_strip.unwrap_or(p.page.lines()),
        )
        .unwrap();
        dir.write_tag(Tag::StripByteCounts, p.strip.len() as u32)
            .unwrap();
        dir.write_tag(Tag::XResolution, Rational { n: 204, d: 1 })
            .unwrap();
        let lpi = p.page.resolution().lines_per_inch();
        dir.write_tag(Tag::YResolution, Rational { n: lpi, d: 1 })
            .unwrap();
        dir.write_tag(Tag::ResolutionUnit, ResolutionUnit::Inch)
            .unwrap();
        if let Some(options) = p.t4_options {
            dir.write_tag(Tag::Unknown(292), options).unwrap();
        }
        // PageNumber: this page, total pages.
        dir.write_tag(Tag::Unknown(297), &[i as u16, pages.len() as u16][..])
            .unwrap();
        dir.finish().unwrap();
    }
    out.into_inner()
}

fn g4(page: &Page) -> Vec<u8> {
    let mut encoder = ::fax::encoder::Encoder::new(::fax::VecWriter::new());
    let b = page.bitmap();
    for y in 0..b.height() {
        let pels = (0..b.width()).map(|x| {
            if b.get(x, y) {
                ::fax::Color::Black
            } else {
                ::fax::Color::White
            }
        });
        encoder.encode_line(pels, b.width()).unwrap();
    }
    encoder.finish().unwrap().finish()
}

#[test]
fn tiff_f_multi_page_mh_mr_g4_and_fill_order_2() {
    let text = render_text(b"Page one of a TIFF Class F test\n\tindented\n").remove(0);
    let random_standard = random_page(3, 200).to_standard();
    let random_fine = random_page(5, 150);
    let msb = |coding| {
        EncodeOptions::class2(coding, 0)
            .with_bit_order(BitOrder::MsbFirst)
            .with_rtc(true)
    };
    let pages = [
        TiffPage {
            strip: encode(&text, &msb(Coding::Mh)),
            compression: 3,
            t4_options: Some(4),
            fill_order: 1,
            page: &text,
            rows_per_strip: None,
            photometric: 0,
        },
        TiffPage {
            // FillOrder 2: the strip holds transmission-order bytes.
            strip: encode(
                &random_standard,
                &msb(Coding::Mr { k: 2 }).with_bit_order(BitOrder::LsbFirst),
            ),
            compression: 3,
            t4_options: Some(1 | 4),
            fill_order: 2,
            page: &random_standard,
            rows_per_strip: None,
            photometric: 0,
        },
        TiffPage {
            strip: g4(&random_fine),
            compression: 4,
            t4_options: None,
            fill_order: 1,
            page: &random_fine,
            rows_per_strip: None,
            photometric: 0,
        },
        TiffPage {
            strip: encode(
                &random_fine,
                &EncodeOptions::default().with_bit_order(BitOrder::MsbFirst),
            ),
            compression: 3,
            t4_options: None,
            fill_order: 1,
            page: &random_fine,
            rows_per_strip: None,
            photometric: 0,
        },
    ];
    let file = write_tiff(&pages);
    let read = read_tiff(&file).unwrap();
    assert_eq!(read.len(), 4);
    for (got, want) in read.iter().zip(&pages) {
        assert_eq!(got.resolution(), want.page.resolution());
        assert_eq!(got, want.page);
    }
}

#[test]
fn tiff_uncompressed_black_is_zero_and_multi_strip() {
    let page = random_page(23, 40);
    // Compression 1, BlackIsZero: raw rows with 1 = white, in 3 strips of 16 rows.
    let inverted: Vec<u8> = page.bitmap().data().iter().map(|b| !b).collect();
    let rows = 16usize;
    let stride = page.bitmap().stride();
    let strips: Vec<&[u8]> = inverted.chunks(rows * stride).collect();
    let mut out = Cursor::new(Vec::new());
    let mut tiff = TiffEncoder::new(&mut out).unwrap();
    let mut dir = tiff.image_directory().unwrap();
    let offsets: Vec<u32> = strips
        .iter()
        .map(|s| dir.write_data(*s).unwrap() as u32)
        .collect();
    let counts: Vec<u32> = strips.iter().map(|s| s.len() as u32).collect();
    dir.write_tag(Tag::ImageWidth, PAGE_WIDTH).unwrap();
    dir.write_tag(Tag::ImageLength, page.lines()).unwrap();
    dir.write_tag(Tag::BitsPerSample, 1u16).unwrap();
    dir.write_tag(Tag::Compression, 1u16).unwrap();
    dir.write_tag(Tag::PhotometricInterpretation, 1u16).unwrap();
    dir.write_tag(Tag::StripOffsets, &offsets[..]).unwrap();
    dir.write_tag(Tag::RowsPerStrip, rows as u32).unwrap();
    dir.write_tag(Tag::StripByteCounts, &counts[..]).unwrap();
    dir.write_tag(Tag::YResolution, Rational { n: 77, d: 1 })
        .unwrap();
    dir.write_tag(Tag::ResolutionUnit, ResolutionUnit::Centimeter)
        .unwrap();
    dir.finish().unwrap();
    let read = read_tiff(out.get_ref()).unwrap();
    assert_eq!(read[0].bitmap(), page.bitmap());
    assert_eq!(
        read[0].resolution(),
        Resolution::Fine,
        "77 lines/cm is fine"
    );

    // MH split over strips of 7 rows, each strip coded on its own.
    let mut strips = Vec::new();
    for first in (0..page.lines()).step_by(7) {
        let mut part = Bitmap::new(PAGE_WIDTH, 0);
        let mut changes = Vec::new();
        for y in first..(first + 7).min(page.lines()) {
            page.bitmap().row_changes(y, &mut changes);
            part.push_row_from_changes(&changes);
        }
        let part = Page::new(part, Resolution::Standard);
        strips.push(encode(
            &part,
            &EncodeOptions::default().with_bit_order(BitOrder::MsbFirst),
        ));
    }
    let mut out = Cursor::new(Vec::new());
    let mut tiff = TiffEncoder::new(&mut out).unwrap();
    let mut dir = tiff.image_directory().unwrap();
    let offsets: Vec<u32> = strips
        .iter()
        .map(|s| dir.write_data(&s[..]).unwrap() as u32)
        .collect();
    let counts: Vec<u32> = strips.iter().map(|s| s.len() as u32).collect();
    dir.write_tag(Tag::ImageWidth, PAGE_WIDTH).unwrap();
    dir.write_tag(Tag::ImageLength, page.lines()).unwrap();
    dir.write_tag(Tag::Compression, 3u16).unwrap();
    dir.write_tag(Tag::PhotometricInterpretation, 0u16).unwrap();
    dir.write_tag(Tag::StripOffsets, &offsets[..]).unwrap();
    dir.write_tag(Tag::RowsPerStrip, 7u32).unwrap();
    dir.write_tag(Tag::StripByteCounts, &counts[..]).unwrap();
    dir.write_tag(Tag::YResolution, Rational { n: 385, d: 10 })
        .unwrap();
    dir.write_tag(Tag::ResolutionUnit, ResolutionUnit::Centimeter)
        .unwrap();
    dir.finish().unwrap();
    let read = read_tiff(out.get_ref()).unwrap();
    assert_eq!(read[0].bitmap(), page.bitmap());
    assert_eq!(read[0].resolution(), Resolution::Standard, "38.5 lines/cm");
}

#[test]
fn tiff_at_300_dpi_is_resampled_to_fax_resolution() {
    // 2 inches × 1 inch at 300 dpi, uncompressed, with a frame.
    let (w, h) = (600u32, 300u32);
    let mut image = Bitmap::new(w, h);
    for x in 0..w {
        image.set(x, 0, true);
        image.set(x, h - 1, true);
    }
    for y in 0..h {
        image.set(0, y, true);
        image.set(w - 1, y, true);
    }
    let mut out = Cursor::new(Vec::new());
    let mut tiff = TiffEncoder::new(&mut out).unwrap();
    let mut dir = tiff.image_directory().unwrap();
    let offset = dir.write_data(image.data()).unwrap() as u32;
    dir.write_tag(Tag::ImageWidth, w).unwrap();
    dir.write_tag(Tag::ImageLength, h).unwrap();
    dir.write_tag(Tag::Compression, 1u16).unwrap();
    dir.write_tag(Tag::PhotometricInterpretation, 0u16).unwrap();
    dir.write_tag(Tag::StripOffsets, offset).unwrap();
    dir.write_tag(Tag::StripByteCounts, image.data().len() as u32)
        .unwrap();
    dir.write_tag(Tag::XResolution, Rational { n: 300, d: 1 })
        .unwrap();
    dir.write_tag(Tag::YResolution, Rational { n: 300, d: 1 })
        .unwrap();
    dir.write_tag(Tag::ResolutionUnit, ResolutionUnit::Inch)
        .unwrap();
    dir.finish().unwrap();
    let page = read_tiff(out.get_ref()).unwrap().remove(0);
    assert_eq!(page.resolution(), Resolution::Fine);
    assert_eq!(page.lines(), 196, "1 inch at 196 lpi");
    // 2 inches at 204 dpi = 408 pixels, centred on 1728; the frame survives the reduction.
    let left = (PAGE_WIDTH - 408) / 2;
    let b = page.bitmap();
    assert!(b.get(left, 100) && b.get(left + 407, 100) && !b.get(left - 1, 100));
    assert!((left..left + 408).all(|x| b.get(x, 0) && b.get(x, 195)));
}

#[test]
fn tiff_errors_are_reported_not_panicked() {
    let page = random_page(9, 20);
    let good = write_tiff(&[TiffPage {
        strip: encode(
            &page,
            &EncodeOptions::default().with_bit_order(BitOrder::MsbFirst),
        ),
        compression: 3,
        t4_options: Some(0),
        fill_order: 1,
        page: &page,
        rows_per_strip: None,
        photometric: 0,
    }]);
    assert_eq!(read_tiff(&good).unwrap()[0], page);
    // Cut inside the IFD / strip.
    for cut in [8, 20, 40, good.len() / 2] {
        let _ = read_tiff(&good[..cut]);
    }
    let jpeg = write_tiff(&[TiffPage {
        strip: vec![1, 2, 3],
        compression: 7,
        t4_options: None,
        fill_order: 1,
        page: &page,
        rows_per_strip: None,
        photometric: 0,
    }]);
    let err = read_tiff(&jpeg).unwrap_err();
    assert_eq!(err.to_string(), "page 1: unsupported: compression 7");
    assert_eq!(read_tiff(b"GIF89a").unwrap_err(), fax::TiffError::NotTiff);
}

// ---------------------------------------------------------------------------------------------
// PBM and the loader

#[test]
fn pbm_round_trip() {
    let page = random_page(13, 64);
    let bytes = write_pbm(page.bitmap());
    assert_eq!(read_pbm(&bytes).unwrap(), vec![page.clone()]);
    // Plain P1 of the same image.
    let b = page.bitmap();
    let mut plain = format!("P1\n# plain\n{} {}\n", b.width(), b.height());
    for y in 0..b.height() {
        for x in 0..b.width() {
            plain.push(if b.get(x, y) { '1' } else { '0' });
            if x % 70 == 69 {
                plain.push('\n');
            }
        }
        plain.push('\n');
    }
    assert_eq!(read_pbm(plain.as_bytes()).unwrap(), vec![page]);
}

#[test]
fn loader_reads_each_format_and_names_files_in_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);

    std::fs::write(
        path("memo.txt"),
        "To: Sales\n\nPlease call back.\n\u{c}Page 2\n",
    )
    .unwrap();
    let pages = load_document(path("memo.txt")).unwrap();
    assert_eq!(pages.len(), 2);

    let page = random_page(17, 100);
    std::fs::write(path("scan.pbm"), write_pbm(page.bitmap())).unwrap();
    assert_eq!(load_document(path("scan.pbm")).unwrap(), vec![page.clone()]);

    let tiff = write_tiff(&[TiffPage {
        strip: encode(
            &page,
            &EncodeOptions::default().with_bit_order(BitOrder::MsbFirst),
        ),
        compression: 3,
        t4_options: None,
        fill_order: 1,
        page: &page,
        rows_per_strip: None,
        photometric: 0,
    }]);
    // Content wins over a misleading name.
    std::fs::write(path("fax.dat"), &tiff).unwrap();
    assert_eq!(load_document(path("fax.dat")).unwrap(), vec![page]);

    let missing = load_document(path("nope.tif")).unwrap_err();
    assert!(matches!(missing, DocError::Missing { .. }), "{missing}");
    assert!(missing.to_string().contains("nope.tif: file not found"));

    let unreadable = load_document(dir.path()).unwrap_err();
    assert!(
        matches!(unreadable, DocError::Unreadable { .. }),
        "{unreadable}"
    );

    // A PDF is read now (tests/pdf_oracle.rs); a damaged one is an error naming the file.
    std::fs::write(path("report.pdf"), b"%PDF-1.7\n...").unwrap();
    let err = load_document(path("report.pdf")).unwrap_err();
    assert!(matches!(err, DocError::BadPdf { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("report.pdf: the PDF cannot be read (damaged or truncated)"),
        "{err}"
    );

    std::fs::write(path("broken.tif"), &tiff[..tiff.len() - 40]).unwrap();
    let err = load_document(path("broken.tif")).unwrap_err();
    assert!(matches!(err, DocError::BadTiff { .. }), "{err}");
    assert!(err.to_string().contains("broken.tif: bad TIFF"));

    std::fs::write(path("bad.pbm"), b"P4\n1728 10\nshort").unwrap();
    let err = load_document(path("bad.pbm")).unwrap_err();
    assert!(matches!(err, DocError::BadPbm { .. }), "{err}");

    std::fs::write(path("empty.txt"), b"").unwrap();
    let err = load_document(path("empty.txt")).unwrap_err();
    assert!(matches!(err, DocError::Empty { .. }));
    assert_eq!(err.path(), path("empty.txt"));
}

// ---------------------------------------------------------------------------------------------
// Robustness: no reader panics on any input

fn valid_tiff_bytes() -> Vec<u8> {
    let page = random_page(21, 12);
    write_tiff(&[TiffPage {
        strip: encode(
            &page,
            &EncodeOptions::default().with_bit_order(BitOrder::MsbFirst),
        ),
        compression: 3,
        t4_options: Some(1),
        fill_order: 1,
        page: &page,
        rows_per_strip: Some(5),
        photometric: 0,
    }])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn readers_never_panic_on_random_bytes(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = read_tiff(&data);
        let _ = read_pbm(&data);
        let _ = render_text(&data);
        for name in ["x.tif", "x.pbm", "x.txt", "x"] {
            let _ = pages_from_bytes(Path::new(name), &data);
        }
        for scheme in [fax::Scheme::Mh, fax::Scheme::Mr, fax::Scheme::G4, fax::Scheme::MhRowsAligned] {
            let _ = fax::decode::decode(&data, PAGE_WIDTH, 0, scheme, BitOrder::LsbFirst);
        }
    }

    #[test]
    fn readers_never_panic_on_near_valid_headers(tail in proptest::collection::vec(any::<u8>(), 0..400)) {
        for head in [&b"II*\0"[..], b"MM\0*", b"II+\0", b"P4\n", b"P1 ", b"P4 1728 2\n"] {
            let mut data = head.to_vec();
            data.extend_from_slice(&tail);
            let _ = pages_from_bytes(Path::new("x"), &data);
        }
    }

    #[test]
    fn tiff_reader_survives_mutations(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        let mut data = valid_tiff_bytes();
        let len = data.len();
        for (at, value) in flips {
            data[at % len] = value;
        }
        let _ = read_tiff(&data);
    }
}

// ---------------------------------------------------------------------------------------------
// Cross-checks against efax's efix (installed by .ci/run; required, not optional)

fn efix(args: &[&str]) -> std::process::Output {
    let out = Command::new("efix")
        .args(args)
        .output()
        .expect("efix (Debian package efax) must be installed: .ci/run installs it");
    assert!(
        out.status.success(),
        "efix {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn efix_tiff_g3_is_read_pixel_exact() {
    let dir = tempfile::tempdir().unwrap();
    let page = render_text(b"Cross-check with efix\n\n  0123456789 ABCDEF abcdef\n").remove(0);
    let pbm = dir.path().join("in.pbm");
    std::fs::write(&pbm, write_pbm(page.bitmap())).unwrap();
    let tif = dir.path().join("out.tif");
    efix(&[
        "-i",
        "pbm",
        "-o",
        "tiffg3",
        "-n",
        tif.to_str().unwrap(),
        pbm.to_str().unwrap(),
    ]);
    let pages = load_document(&tif).unwrap();
    assert_eq!(pages.len(), 1);
    assert_eq!(pages[0].bitmap(), page.bitmap());
}

#[test]
fn efix_decodes_our_mh_stream() {
    let dir = tempfile::tempdir().unwrap();
    let page = render_text(b"Our MH, efix's decoder\n\tcolumns  and   spaces\n").remove(0);
    let raw = dir.path().join("page.g3");
    let options = EncodeOptions::class2(Coding::Mh, 0)
        .with_bit_order(BitOrder::MsbFirst)
        .with_rtc(true);
    std::fs::write(&raw, encode(&page, &options)).unwrap();
    let out = dir.path().join("page.pbm");
    efix(&[
        "-i",
        "fax",
        "-o",
        "pbm",
        "-n",
        out.to_str().unwrap(),
        raw.to_str().unwrap(),
    ]);
    let pages = read_pbm(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(pages[0].bitmap(), page.bitmap());
}
