//! `redial preview JOB_OR_FILE --out DIR`: the pages that would go on the line, as PNG files
//! (`page-001.png`…), one pixel per fax pixel at the job's resolution (204 × 196 or 204 × 98 dpi;
//! the PNG records the pixel size so viewers show the page in proportion).
//!
//! For a job file, every intake check is made first and the pages are what the daemon's line
//! prepares: the cover page (`$fax_cover`, filled now), the documents in order, at
//! `$fax_resolution`, with the `$fax_header` line (FS, USR or CFG) stamped with the current date
//! and time. The sending number (`%n`) is the job's
//! `$fax_station_id`, else the `id=` of the line given with `--line` (default: the first line
//! of the CFG that has one). For a document file, its pages at fine resolution (`--standard`
//! for 98 lpi), without a header.

use super::ops::SpoolArgs;
use anyhow::{bail, Context, Result};
use redial::fax::{load_document_at, Page, Resolution};
use redial::line::documents::{pages_for_line, DocumentCache, Prepared};
use std::path::{Path, PathBuf};

/// Arguments of `redial preview`.
#[derive(Debug, clap::Args)]
pub struct PreviewArgs {
    /// A job file (FS) or a document (PDF, PostScript, TIFF, PBM, text).
    target: PathBuf,
    /// Directory for the PNG files (made when missing; earlier `page-NNN.png` files are removed).
    #[arg(long)]
    out: PathBuf,
    /// A document at standard resolution (98 lpi) instead of fine.
    #[arg(long)]
    standard: bool,
    /// The line whose `id=` fills the header's sending number (`%n`) when the job names none.
    #[arg(long)]
    line: Option<u32>,
    #[command(flatten)]
    spool: SpoolArgs,
}

/// Runs `redial preview`: prints one line per page written.
pub fn run(args: PreviewArgs) -> Result<()> {
    let bytes = std::fs::read(&args.target)
        .with_context(|| format!("cannot read {}", args.target.display()))?;
    let pages = if looks_like_job(&args.target, &bytes) {
        job_pages(&args, &bytes)?
    } else {
        let resolution = if args.standard {
            Resolution::Standard
        } else {
            Resolution::Fine
        };
        load_document_at(&args.target, resolution)?
            .iter()
            .map(|p| p.to_resolution(resolution))
            .collect()
    };
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot make {}", args.out.display()))?;
    for e in std::fs::read_dir(&args.out)?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("page-") && name.ends_with(".png") {
            std::fs::remove_file(e.path())?;
        }
    }
    for (i, page) in pages.iter().enumerate() {
        let path = args.out.join(format!("page-{:03}.png", i + 1));
        std::fs::write(&path, page_png(page)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!(
            "{}: {}x{} pixels, {:?}",
            path.display(),
            page.bitmap().width(),
            page.lines(),
            page.resolution()
        );
    }
    Ok(())
}

/// A job file: named `.FS`, or text whose first command line names a destination or document.
fn looks_like_job(path: &Path, bytes: &[u8]) -> bool {
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("fs"))
    {
        return true;
    }
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]);
    text.lines().any(|l| {
        let l = l.trim_start().to_ascii_lowercase();
        l.starts_with("$fax_phone") || l.starts_with("$fax_filename")
    })
}

fn job_pages(args: &PreviewArgs, bytes: &[u8]) -> Result<Vec<Page>> {
    let (settings, sys) = args.spool.settings()?;
    let base = match &args.spool.base {
        Some(b) => std::path::absolute(b)?,
        None => std::env::current_dir()?,
    };
    let origin = args.target.display().to_string();
    let plan = redial::daemon::fax_preview(&sys, &settings, &base, &origin, bytes).map_err(
        |problems| anyhow::anyhow!("the job cannot be sent:\n  {}", problems.join("\n  ")),
    )?;
    let line_id = line_id(&sys.document, args.line)?;
    let cache = DocumentCache::default();
    let mut docs = Vec::new();
    if let Some(text) = &plan.cover {
        let pages = redial::fax::render_text(text.as_bytes());
        docs.push(std::sync::Arc::new(Prepared::from_pages(
            pages,
            plan.resolution,
        )));
    }
    for d in &plan.documents {
        docs.push(cache.get(d, plan.resolution)?);
    }
    Ok(pages_for_line(
        &docs,
        plan.header.as_ref(),
        &line_id,
        chrono::Utc::now(),
    ))
}

/// The `id=` of line `number`, or of the first line that has one.
fn line_id(cfg: &redial::command::Document, number: Option<u32>) -> Result<String> {
    let defs = redial::line::line_defs(cfg).map_err(anyhow::Error::msg)?;
    match number {
        Some(n) => match defs.iter().find(|d| d.number == n) {
            Some(d) => Ok(d.param("id").unwrap_or_default().to_owned()),
            None => bail!("the CFG has no $line {n}"),
        },
        None => Ok(defs
            .iter()
            .find_map(|d| d.param("id"))
            .unwrap_or_default()
            .to_owned()),
    }
}

/// The page as a 1-bit greyscale PNG (black = 0), with its pixel aspect (204 dpi across, 196
/// or 98 down) in the pHYs chunk.
fn page_png(page: &Page) -> Result<Vec<u8>> {
    let b = page.bitmap();
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, b.width(), b.height());
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::One);
    // Pixels per metre: 204 dpi = 8031, 196 lpi = 7717, 98 lpi = 3858.
    let down = match page.resolution() {
        Resolution::Fine => 7717,
        Resolution::Standard => 3858,
    };
    enc.set_pixel_dims(Some(png::PixelDimensions {
        xppu: 8031,
        yppu: down,
        unit: png::Unit::Meter,
    }));
    let mut w = enc.write_header()?;
    // PNG greyscale: 1 = white; the bitmap: 1 = black.
    let data: Vec<u8> = b.data().iter().map(|v| !v).collect();
    // Padding bits past the width are ignored by decoders.
    w.write_image_data(&data)?;
    w.finish()?;
    Ok(out)
}
