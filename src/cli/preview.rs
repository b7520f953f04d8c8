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
use anyhow::{Context, Result};
use redial::fax::png::page_png;
use redial::fax::{load_document_at, Page, Resolution};
use redial::line::documents::DocumentCache;
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
    let line_id =
        redial::daemon::line_id_of(&sys.document, args.line).map_err(anyhow::Error::msg)?;
    let plan = redial::daemon::fax_preview(&sys, &settings, &base, &origin, bytes).map_err(
        |problems| anyhow::anyhow!("the job cannot be sent:\n  {}", problems.join("\n  ")),
    )?;
    plan.pages(&line_id, &DocumentCache::default(), chrono::Utc::now())
        .map_err(anyhow::Error::msg)
}
