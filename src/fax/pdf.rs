//! PDF documents → fax pages, rendered in-process with hayro (pure Rust, no Ghostscript).
//!
//! Each PDF page is drawn at 204 dpi across and 98 or 196 dpi down, straight at the job's
//! resolution (no second scaling). A landscape page (wider than tall after its `/Rotate`) is
//! turned a quarter turn anticlockwise so its top edge runs down the left side, as a fax machine
//! prints it. The drawing is centred on the 1728-pixel fax line: a Letter page (1734 pixels at
//! 204 dpi) loses three pixels of its white margin on each side, an A4 page (1687 pixels) gains
//! about twenty; a page wider than 8.6 inches is scaled down to fit, keeping its proportions and
//! its margins. Lines and text are drawn without anti-aliasing (hayro's aliasing threshold), so
//! they come out bilevel as drawn; what is left grey (images, grey fills) is dithered by error
//! diffusion, and pixels already close to black or white are thresholded so coloured text stays
//! solid.
//!
//! Errors name the page: a PDF that cannot be opened, is encrypted with a password, has no page,
//! a page whose content cannot be decoded or whose size is absurd, or one whose fonts or images
//! fail while it is drawn. [`inspect_pdf`] makes the cheap checks (no drawing) and counts the
//! pages; [`render_pdf`] draws. Neither panics on any input: the renderer runs behind
//! `catch_unwind`, and a panic in it is the page's error.

use super::bitmap::{Bitmap, Page, Resolution, MAX_PAGE_LINES, PAGE_WIDTH};
use hayro::hayro_interpret::{InterpreterSettings, InterpreterWarning};
use hayro::hayro_syntax::page::Page as PdfPage;
use hayro::hayro_syntax::{DecryptionError, LoadPdfError, Pdf};
use hayro::kurbo::Affine;
use hayro::vello_cpu::color::palette::css::WHITE;
use hayro::vello_cpu::{Pixmap, RasterizerSettings, RenderContext, Resources, TargetInit};
use hayro::{render_into, RenderCache, RenderSettings};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use thiserror::Error;

/// The most pages a PDF may have (a fax of more pages is a mistake, and each page costs time).
pub const MAX_PDF_PAGES: usize = 2000;

/// The coverage (of 255) above which hayro paints a pixel of a fill, stroke or glyph. Chosen
/// against Ghostscript's `tiffg4` device at 204×196 dpi (tests/pdf_oracle.rs; 32, 64, 96, 128
/// and 160 tried): 64 differs least from Ghostscript over the text pages taken together
/// (0.2-2.4 % of a page's pixels); lower values make small type bolder than Ghostscript's,
/// higher ones thin it and break hairlines.
pub const ALIASING_THRESHOLD: u8 = 64;

/// Grey levels (0 black … 255 white) at or below which a pixel is black and at or above which it
/// is white without dithering; between the two the error is diffused.
const SOLID_BLACK: u8 = 48;
const SOLID_WHITE: u8 = 208;

/// The widest page drawn at full size: 8.6 inches (Letter is 8.5). Wider pages are scaled down.
const MAX_FULL_SIZE_WIDTH_PT: f32 = 8.6 * 72.0;

/// Why a PDF cannot be faxed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PdfError {
    /// Encrypted with a user password.
    #[error("the PDF is encrypted with a password; remove the password and submit it again")]
    Encrypted,
    /// Encrypted in a way the renderer does not handle.
    #[error("the PDF is encrypted ({0}); save an unencrypted copy and submit it again")]
    Encryption(String),
    /// Not a PDF the renderer can read.
    #[error("the PDF cannot be read (damaged or truncated)")]
    Broken,
    /// No page.
    #[error("the PDF has no page")]
    NoPages,
    /// Too many pages.
    #[error("the PDF has {0} pages, more than {MAX_PDF_PAGES}")]
    TooManyPages(usize),
    /// One page cannot be drawn.
    #[error("page {page}: {reason}")]
    Page {
        /// 1-based.
        page: usize,
        /// Why.
        reason: String,
    },
}

/// Whether the bytes are a PDF: `%PDF-` within the first 1024 bytes (the PDF specification lets
/// some junk precede the header).
pub fn looks_like_pdf(data: &[u8]) -> bool {
    data[..data.len().min(1024)]
        .windows(5)
        .any(|w| w == b"%PDF-")
}

/// What [`inspect_pdf`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PdfInfo {
    /// Pages in the document.
    pub pages: usize,
}

/// Opens the PDF and checks every page without drawing it: the file opens without a password,
/// has between one and [`MAX_PDF_PAGES`] pages, each page has a sane size and its content
/// stream decodes. Cheap (milliseconds for hundreds of pages); used at submit time and intake.
pub fn inspect_pdf(data: &[u8]) -> Result<PdfInfo, PdfError> {
    guarded(|| {
        let pdf = open(data)?;
        let pages = pdf.pages();
        check_count(pages.len())?;
        for (i, page) in pages.iter().enumerate() {
            check_page(page).map_err(|reason| PdfError::Page {
                page: i + 1,
                reason,
            })?;
        }
        Ok(PdfInfo { pages: pages.len() })
    })
}

/// Draws every page of the PDF at `resolution` (see the module documentation).
pub fn render_pdf(data: &[u8], resolution: Resolution) -> Result<Vec<Page>, PdfError> {
    guarded(|| {
        let pdf = open(data)?;
        let pages = pdf.pages();
        check_count(pages.len())?;
        let warnings: Arc<Mutex<Vec<InterpreterWarning>>> = Arc::default();
        let sink = warnings.clone();
        let settings = InterpreterSettings {
            warning_sink: Arc::new(move |w| {
                if let Ok(mut v) = sink.lock() {
                    v.push(w);
                }
            }),
            ..Default::default()
        };
        let cache = RenderCache::new();
        let mut out = Vec::with_capacity(pages.len());
        for (i, page) in pages.iter().enumerate() {
            let at = |reason: String| PdfError::Page {
                page: i + 1,
                reason,
            };
            check_page(page).map_err(at)?;
            let bitmap = catch_unwind(AssertUnwindSafe(|| {
                draw(page, &cache, &settings, resolution)
            }))
            .map_err(|_| at("the renderer failed on this page".into()))?;
            let seen: Vec<InterpreterWarning> = warnings
                .lock()
                .map(|mut v| v.drain(..).collect())
                .unwrap_or_default();
            // An annotation without a usable appearance is left out, as most viewers do.
            let reason = seen.iter().find_map(|w| match w {
                InterpreterWarning::UnsupportedFont => Some("a font cannot be loaded"),
                InterpreterWarning::ImageDecodeFailure => Some("an image cannot be decoded"),
                _ => None,
            });
            if let Some(reason) = reason {
                return Err(at(reason.into()));
            }
            out.push(Page::new(bitmap, resolution));
        }
        Ok(out)
    })
}

fn guarded<T>(f: impl FnOnce() -> Result<T, PdfError>) -> Result<T, PdfError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(Err(PdfError::Broken))
}

fn open(data: &[u8]) -> Result<Pdf, PdfError> {
    Pdf::new(data.to_vec()).map_err(|e| match e {
        LoadPdfError::Decryption(DecryptionError::PasswordProtected) => PdfError::Encrypted,
        LoadPdfError::Decryption(d) => PdfError::Encryption(format!("{d:?}")),
        _ => PdfError::Broken,
    })
}

fn check_count(n: usize) -> Result<(), PdfError> {
    match n {
        0 => Err(PdfError::NoPages),
        n if n > MAX_PDF_PAGES => Err(PdfError::TooManyPages(n)),
        _ => Ok(()),
    }
}

/// The page's size is sane (between 1 and 200 inches each way) and its content decodes.
fn check_page(page: &PdfPage<'_>) -> Result<(), String> {
    let (w, h) = page.render_dimensions();
    let sane = |v: f32| v.is_finite() && (72.0..=200.0 * 72.0).contains(&v);
    if !sane(w) || !sane(h) {
        return Err(format!(
            "the page size {w:.0}×{h:.0} points is not a paper size"
        ));
    }
    if page.raw().contains_key(b"Contents") && page.page_stream().is_none() {
        return Err("its content stream cannot be decoded".into());
    }
    Ok(())
}

/// Size (width, height in pixels) and transform from PDF user space to the fax bitmap.
fn layout(page: &PdfPage<'_>, resolution: Resolution) -> (u16, u16, Affine) {
    let (w, h) = page.render_dimensions();
    let (w, h) = (f64::from(w), f64::from(h));
    let landscape = w > h;
    // A quarter turn anticlockwise: (x, y) → (y, w − x), in the y-down space hayro draws in.
    let (turn, pw, ph) = if landscape {
        (Affine::new([0.0, -1.0, 1.0, 0.0, 0.0, w]), h, w)
    } else {
        (Affine::IDENTITY, w, h)
    };
    let fit = (f64::from(MAX_FULL_SIZE_WIDTH_PT) / pw).min(1.0);
    let sx = 204.0 / 72.0 * fit;
    let sy = f64::from(resolution.lines_per_inch()) / 72.0 * fit;
    let lines = ((ph * sy).round() as u32).clamp(1, MAX_PAGE_LINES);
    let dx = (f64::from(PAGE_WIDTH) - pw * sx) / 2.0;
    let transform = Affine::translate((dx, 0.0))
        * Affine::scale_non_uniform(sx, sy)
        * turn
        * page_transform(page);
    (PAGE_WIDTH as u16, lines as u16, transform)
}

fn page_transform(page: &PdfPage<'_>) -> Affine {
    use hayro::hayro_interpret::util::TransformExt;
    page.initial_transform(true).to_kurbo()
}

fn draw<'a>(
    page: &'a PdfPage<'a>,
    cache: &RenderCache<'a>,
    settings: &InterpreterSettings,
    resolution: Resolution,
) -> Bitmap {
    let (width, height, transform) = layout(page, resolution);
    let mut ctx = RenderContext::new(width, height);
    let render = RenderSettings {
        aliasing_threshold: Some(ALIASING_THRESHOLD),
        ..Default::default()
    };
    render_into(page, cache, settings, &render, &mut ctx, transform);
    ctx.flush();
    let mut pixmap = Pixmap::new(width, height);
    ctx.render_with(
        &mut pixmap,
        &mut Resources::default(),
        RasterizerSettings {
            target_init: TargetInit::Clear(WHITE),
            ..Default::default()
        },
    );
    to_bilevel(&pixmap)
}

/// Grey levels → 1 bit: solid pixels thresholded, the rest diffused (Floyd–Steinberg).
fn to_bilevel(pixmap: &Pixmap) -> Bitmap {
    let (w, h) = (usize::from(pixmap.width()), usize::from(pixmap.height()));
    let mut bitmap = Bitmap::new(w as u32, h as u32);
    // Error carried to this row and the next (one slot of padding on each side).
    let mut here = vec![0i16; w + 2];
    let mut next = vec![0i16; w + 2];
    let data = pixmap.data();
    for y in 0..h {
        let row = &data[y * w..(y + 1) * w];
        let out = bitmap.row_mut(y as u32);
        for (x, p) in row.iter().enumerate() {
            // Premultiplied on an opaque white background: alpha is 255.
            let grey =
                ((u32::from(p.r) * 77 + u32::from(p.g) * 150 + u32::from(p.b) * 29) >> 8) as i16;
            let black = if grey <= i16::from(SOLID_BLACK) {
                true
            } else if grey >= i16::from(SOLID_WHITE) {
                false
            } else {
                let v = grey + here[x + 1];
                let black = v < 128;
                let err = if black { v } else { v - 255 };
                here[x + 2] += err * 7 / 16;
                next[x] += err * 3 / 16;
                next[x + 1] += err * 5 / 16;
                next[x + 2] += err / 16;
                black
            };
            if black {
                out[x / 8] |= 0x80 >> (x % 8);
            }
        }
        std::mem::swap(&mut here, &mut next);
        next.iter_mut().for_each(|e| *e = 0);
    }
    bitmap
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(name: &str) -> Vec<u8> {
        let p = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/pdf/");
        std::fs::read(format!("{p}{name}")).unwrap()
    }

    #[test]
    fn letter_pages_are_fax_wide_and_fine_or_standard_tall() {
        let pdf = data("letter-form.pdf");
        assert_eq!(inspect_pdf(&pdf), Ok(PdfInfo { pages: 2 }));
        let fine = render_pdf(&pdf, Resolution::Fine).unwrap();
        assert_eq!(fine.len(), 2);
        for p in &fine {
            assert_eq!(p.bitmap().width(), PAGE_WIDTH);
            assert_eq!(p.lines(), 2156, "11 in at 196 lpi");
            assert_eq!(p.resolution(), Resolution::Fine);
            assert!(p.bitmap().black_pixels() > 10_000, "text drawn");
        }
        let standard = render_pdf(&pdf, Resolution::Standard).unwrap();
        assert_eq!(standard[0].lines(), 1078);
    }

    #[test]
    fn a_landscape_page_is_turned() {
        let pages = render_pdf(&data("a4-landscape.pdf"), Resolution::Fine).unwrap();
        assert_eq!(pages.len(), 2);
        // Both portrait: 297 mm tall at 196 lpi.
        assert_eq!(pages[0].lines(), 2292);
        assert_eq!(pages[1].lines(), 2292);
        assert_eq!(pages[1].bitmap().width(), PAGE_WIDTH);
    }

    #[test]
    fn encrypted_broken_and_junk_pdfs_are_clear_errors() {
        assert_eq!(
            inspect_pdf(&data("encrypted.pdf")),
            Err(PdfError::Encrypted)
        );
        assert_eq!(
            render_pdf(&data("encrypted.pdf"), Resolution::Fine),
            Err(PdfError::Encrypted)
        );
        let pdf = data("letter-form.pdf");
        for cut in [10, 100, 1000, pdf.len() / 2] {
            let r = inspect_pdf(&pdf[..cut]);
            assert!(r.is_err() || render_pdf(&pdf[..cut], Resolution::Fine).is_ok());
        }
        assert_eq!(inspect_pdf(b"%PDF-1.4\n"), Err(PdfError::Broken));
        assert!(looks_like_pdf(b"junk\n%PDF-1.7\n"));
        assert!(!looks_like_pdf(b"%PS-Adobe"));
    }

    #[test]
    fn a_page_whose_content_cannot_be_decoded_is_named() {
        let want = Err(PdfError::Page {
            page: 1,
            reason: "its content stream cannot be decoded".into(),
        });
        let pdf = hand_pdf(b"/Filter /ASCIIHexDecode", b"not hex at all");
        assert_eq!(inspect_pdf(&pdf), want);
        // The content object missing (a file cut and patched together).
        let pdf = hand_pdf(b"", b"0 0 m 100 100 l S");
        let pdf = String::from_utf8_lossy(&pdf).replace("/Contents 4 0 R", "/Contents 9 0 R");
        assert_eq!(inspect_pdf(pdf.as_bytes()), want);
        assert_eq!(
            render_pdf(pdf.as_bytes(), Resolution::Fine).map(|p| p.len()),
            want.map(|i: PdfInfo| i.pages)
        );
        let ok = hand_pdf(b"", b"0 0 m 100 100 l S");
        assert_eq!(inspect_pdf(&ok), Ok(PdfInfo { pages: 1 }));
    }

    #[test]
    fn damaged_pdfs_never_panic() {
        // Deterministic damage: bytes overwritten, the file cut, objects dropped.
        let pdf = data("a4-landscape.pdf");
        let mut seed = 0x2545_f491_u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..40 {
            let mut bad = pdf.clone();
            for _ in 0..(1 + round % 8) {
                let at = (next() as usize) % bad.len();
                bad[at] = next() as u8;
            }
            if round % 5 == 0 {
                bad.truncate((next() as usize) % bad.len());
            }
            let inspected = inspect_pdf(&bad);
            if round % 4 == 0 {
                // Drawing is slower: every fourth one. Either an error or pages, never a panic.
                if let Ok(pages) = render_pdf(&bad, Resolution::Standard) {
                    assert!(pages.iter().all(|p| p.bitmap().width() == PAGE_WIDTH));
                }
            }
            let _ = inspected;
        }
    }

    #[test]
    fn an_image_that_cannot_be_decoded_names_its_page() {
        let jpeg = b"\xff\xd8\xff\xe0 not really a JPEG";
        let image = [
            format!(
                "<< /Type /XObject /Subtype /Image /Width 8 /Height 8 /ColorSpace /DeviceGray \
                 /BitsPerComponent 8 /Filter /DCTDecode /Length {} >>\nstream\n",
                jpeg.len()
            )
            .as_bytes(),
            jpeg,
            b"\nendstream",
        ]
        .concat();
        let pdf = pdf_of(vec![
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R \
              /Resources << /XObject << /Im1 5 0 R >> >> >>"
                .to_vec(),
            stream(b"", b"q 200 0 0 200 100 400 cm /Im1 Do Q"),
            image,
        ]);
        // The cheap check cannot see it; drawing does, and names the page.
        assert_eq!(inspect_pdf(&pdf), Ok(PdfInfo { pages: 1 }));
        assert_eq!(
            render_pdf(&pdf, Resolution::Standard).map(|p| p.len()),
            Err(PdfError::Page {
                page: 1,
                reason: "an image cannot be decoded".into()
            })
        );
    }

    fn stream(filter: &[u8], content: &[u8]) -> Vec<u8> {
        [
            format!("<< /Length {} ", content.len()).as_bytes(),
            filter,
            b" >>\nstream\n",
            content,
            b"\nendstream",
        ]
        .concat()
    }

    /// A one-page PDF with a correct cross-reference table.
    fn hand_pdf(filter: &[u8], content: &[u8]) -> Vec<u8> {
        pdf_of(vec![
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>".to_vec(),
            stream(filter, content),
        ])
    }

    /// Objects 1… with a correct cross-reference table.
    fn pdf_of(objects: Vec<Vec<u8>>) -> Vec<u8> {
        let mut out = b"%PDF-1.4\n".to_vec();
        let mut offsets = vec![];
        for (i, o) in objects.iter().enumerate() {
            offsets.push(out.len());
            out.extend(format!("{} 0 obj\n", i + 1).as_bytes());
            out.extend(o);
            out.extend(b"\nendobj\n");
        }
        let xref = out.len();
        out.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
        for o in offsets {
            out.extend(format!("{o:010} 00000 n \n").as_bytes());
        }
        out.extend(
            format!(
                "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
                objects.len() + 1
            )
            .as_bytes(),
        );
        out
    }
}
