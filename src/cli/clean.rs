//! `redial clean` (HylaFAX's `faxqclean`): archive or delete finished jobs older than a number
//! of days. Thin: the rule and the moves live in `redial::ops::clean`.

use super::retry::{tz, Spool};
use anyhow::Result;
use redial::ops::clean::{clean, parse_days, Action, Folder, Request};

/// Arguments of `redial clean`.
#[derive(Debug, clap::Args)]
pub struct CleanArgs {
    #[command(flatten)]
    spool: Spool,
    /// Jobs finished more than this many days ago (`30` or `30d`); without it, the CFG's
    /// `$archive_after` and `$delete_after` are applied now, as the daemon does daily.
    #[arg(long, value_name = "DAYS")]
    older_than: Option<String>,
    /// Delete them (default: move them under ARCHIVE/SENT/YYYY-MM or ARCHIVE/FAIL/YYYY-MM).
    #[arg(long)]
    delete: bool,
    /// Only SENT or only FAIL (default both); `archive` deletes from ARCHIVE/ (with --delete).
    #[arg(long, value_enum)]
    only: Option<Only>,
    /// Say what would be done; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// One JSON object instead of lines.
    #[arg(long)]
    json: bool,
}

/// `--only`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Only {
    Sent,
    Fail,
    Archive,
}

/// Runs `redial clean`.
pub fn run(args: CleanArgs) -> Result<()> {
    let (layout, sys, ops) = args.spool.open()?;
    let now = args.spool.now(&sys).unwrap_or_else(chrono::Utc::now);
    let tz = tz(&sys);
    let report = match &args.older_than {
        Some(days) => {
            let folders = match args.only {
                Some(Only::Sent) => vec![Folder::Sent],
                Some(Only::Fail) => vec![Folder::Fail],
                Some(Only::Archive) => {
                    anyhow::ensure!(
                        args.delete,
                        "--only archive takes --delete (archived jobs can only be deleted)"
                    );
                    vec![Folder::Archive]
                }
                None => vec![Folder::Sent, Folder::Fail],
            };
            let req = Request {
                older_than: parse_days(days)?,
                action: if args.delete {
                    Action::Delete
                } else {
                    Action::Archive
                },
                folders,
                dry_run: args.dry_run,
            };
            clean(&layout, &req, tz, now)?
        }
        None => {
            anyhow::ensure!(
                ops.clean.archive_after.is_some() || ops.clean.delete_after.is_some(),
                "give --older-than DAYS, or set $archive_after / $delete_after in the CFG"
            );
            anyhow::ensure!(
                !args.dry_run && !args.delete && args.only.is_none(),
                "--dry-run, --delete and --only go with --older-than"
            );
            redial::ops::clean::run_daily(&layout, ops.clean, tz, now)?
        }
    };
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        let verb = if args.dry_run { "would " } else { "" };
        for c in &report.cleaned {
            let what = match (c.action, &c.to) {
                (Action::Archive, Some(to)) => format!("{verb}archive to {}", to.display()),
                _ => format!("{verb}delete"),
            };
            println!("{} ({}, {} days): {what}", c.job, c.from, c.age_days);
        }
        for (job, why) in &report.errors {
            println!("{job}: not cleaned: {why}");
        }
        println!(
            "{} {}cleaned, {} errors",
            report.cleaned.len(),
            if args.dry_run { "to be " } else { "" },
            report.errors.len()
        );
    }
    anyhow::ensure!(
        report.errors.is_empty(),
        "{} jobs could not be cleaned (they stay where they were)",
        report.errors.len()
    );
    Ok(())
}
