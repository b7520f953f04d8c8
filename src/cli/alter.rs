//! `redial alter JOB…` (HylaFAX's faxalter): the command-line edge of [`redial::ops::alter`].
//! Prints what changed per job; a job in progress, finished or unknown is reported and the exit
//! status is 1; an invalid argument or a spool that refuses the change is an error (exit 2) and
//! changes nothing.

use super::ops::SpoolArgs;
use anyhow::Result;
use redial::datearg::DateArg;
use redial::ops::alter::{self, AlterError, Changes};

/// Arguments of `redial alter`.
#[derive(Debug, clap::Args)]
pub struct AlterArgs {
    /// Jobs: file names (`00000017.FS` or `00000017`) or paths.
    #[arg(required = true)]
    jobs: Vec<String>,
    #[command(flatten)]
    spool: SpoolArgs,
    /// Next start (any date form; local times in the CFG's $timezone): the retry time when one
    /// is pending, else the send date and time.
    #[arg(long)]
    at: Option<DateArg>,
    /// Move to this queue (0 = TOSEND).
    #[arg(long)]
    queue: Option<u8>,
    /// The number to dial (checked as a dial string).
    #[arg(long)]
    number: Option<String>,
    /// The line group (`$fax_send_line`), e.g. `fax`, `3`, `*,~2`.
    #[arg(long)]
    group: Option<String>,
    /// Hold the job: it stays in its queue and is not dialled until released.
    #[arg(long, conflicts_with = "release")]
    hold: bool,
    /// Release a held job.
    #[arg(long)]
    release: bool,
    /// `$retry_max` for the job.
    #[arg(long)]
    retry_max: Option<u32>,
    /// A class's retry list, e.g. `--retry-delays B "1 2 5"` (repeatable).
    #[arg(long, num_args = 2, value_names = ["CLASS", "LIST"], action = clap::ArgAction::Append)]
    retry_delays: Vec<String>,
    /// Who changes it (recorded in the note; default: $SUDO_USER, else $USER).
    #[arg(long)]
    by: Option<String>,
}

/// Alters each job; `Ok(false)` when one could not be (unknown, in progress, finished).
pub fn run(a: AlterArgs) -> Result<bool> {
    let (layout, sys) = a.spool.open()?;
    let tz = super::retry::tz(&sys);
    let changes = Changes {
        at: a.at.map(|t| t.instant(tz)),
        queue: a.queue,
        number: a.number.clone(),
        group: a.group.clone(),
        hold: match (a.hold, a.release) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        },
        retry_max: a.retry_max,
        retry_delays: a
            .retry_delays
            .chunks(2)
            .map(|p| (p[0].clone(), p[1].clone()))
            .collect(),
    };
    changes.check(&layout)?;
    let by = super::cancel::operator(a.by.as_deref());
    let mut all = true;
    for job in &a.jobs {
        match alter::alter(&layout, &sys, job, &changes, &by, chrono::Utc::now()) {
            Ok(x) => println!("{job}: {} ({})", x.what, x.path.display()),
            Err(
                e @ (AlterError::NotFound(_)
                | AlterError::InProgress { .. }
                | AlterError::Finished { .. }),
            ) => {
                eprintln!("redial: {e}");
                all = false;
            }
            Err(e) => return Err(anyhow::Error::new(e).context(format!("cannot alter {job}"))),
        }
    }
    Ok(all)
}
