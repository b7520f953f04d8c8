//! Reading CFG, USR, outcome-table and FS files from disk into the pure types.
//!
//! The one place where the retry side touches the filesystem: it resolves `$fax_user` and
//! `$retry_parms` paths, parses each file once, and returns errors that name the file. It never
//! writes anything.

use crate::command::registry::{known, suggest, unknown_commands, FileKind, Known};
use crate::command::{Document, ParseError};
use crate::job::Job;
use crate::retry::outcome::OutcomeTable;
use crate::retry::policy::{Level, Policy, PolicyLayer};
use std::path::{Path, PathBuf};

/// Why a file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// It could not be read.
    #[error("cannot read {path}: {error}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
    /// It did not parse or validate.
    #[error(transparent)]
    Parse(#[from] ParseError),
}

/// Reads and parses one file.
pub fn read_document(path: &Path) -> Result<Document, LoadError> {
    let bytes = std::fs::read(path).map_err(|error| LoadError::Read {
        path: path.to_path_buf(),
        error,
    })?;
    Ok(Document::parse(&bytes, &path.display().to_string())?)
}

/// The system configuration: its policy layer and outcome table.
#[derive(Debug, Clone)]
pub struct SystemConfig {
    /// The CFG's document (other modules read their own commands from it).
    pub document: Document,
    /// Its retry commands.
    pub layer: PolicyLayer,
    /// The outcome table: defaults plus every `$retry_parms` file without a line selector.
    pub outcomes: OutcomeTable,
}

impl SystemConfig {
    /// Built-in defaults (no CFG file).
    pub fn builtin() -> SystemConfig {
        SystemConfig {
            document: Document::new("(built-in)"),
            layer: PolicyLayer::empty(Level::Cfg),
            outcomes: OutcomeTable::default(),
        }
    }

    /// Reads a CFG and the outcome tables it names (paths relative to the CFG's folder).
    pub fn load(path: &Path) -> Result<SystemConfig, LoadError> {
        let document = read_document(path)?;
        SystemConfig::from_document(document, path.parent())
    }

    /// Builds from an already-read CFG document.
    pub fn from_document(
        document: Document,
        dir: Option<&Path>,
    ) -> Result<SystemConfig, LoadError> {
        // A typo in the CFG is an error: the daemon refuses to start or reload with it.
        if let Some(u) = unknown_commands(&document, FileKind::Cfg)
            .into_iter()
            .next()
        {
            return Err(ParseError {
                file: u.file.clone(),
                line: u.line,
                column: 1,
                reason: u.reason(),
            }
            .into());
        }
        let layer = PolicyLayer::from_document(&document, Level::Cfg)?;
        for (_, name, _) in &layer.param_groups {
            let c = document
                .all("param_group")
                .find(|c| {
                    c.arg(1)
                        .is_some_and(|n| n.trim_start_matches('$').eq_ignore_ascii_case(name))
                })
                .expect("read from this document");
            if known(FileKind::Fs, name) == Known::Unknown {
                let hint = suggest(FileKind::Fs, name)
                    .map(|(s, _)| format!(" (did you mean ${s}?)"))
                    .unwrap_or_default();
                return Err(ParseError {
                    file: document.origin().to_string(),
                    line: c.line,
                    column: c.args[1].column(),
                    reason: format!(
                        "$param_group writes ${name} into jobs, which is not an FS command{hint}"
                    ),
                }
                .into());
            }
        }
        if let Some(e) = param_group_errors(&layer, &layer).into_iter().next() {
            return Err(e.into());
        }
        let mut outcomes = OutcomeTable::default();
        for rule in layer.retry_parms.iter().filter(|r| r.selector.is_none()) {
            let p = resolve(Path::new(&rule.value), dir);
            outcomes.apply_overrides(&read_document(&p)?)?;
        }
        Ok(SystemConfig {
            document,
            layer,
            outcomes,
        })
    }
}

/// The `X`/`Y` prefixes `layer`'s lists use that the CFG (`cfg`) defines no `$param_group` for,
/// as errors at the line of the list.
pub fn param_group_errors(layer: &PolicyLayer, cfg: &PolicyLayer) -> Vec<ParseError> {
    layer
        .undefined_param_groups(&cfg.param_groups)
        .into_iter()
        .map(|(letter, line)| ParseError {
            file: layer.origin.clone(),
            line,
            column: 1,
            reason: format!(
                "the retry list uses prefix {letter}, but the CFG has no $param_group {letter} (what should it change?)"
            ),
        })
        .collect()
}

fn resolve(p: &Path, dir: Option<&Path>) -> PathBuf {
    match dir {
        Some(d) if p.is_relative() && !p.exists() => d.join(p),
        _ => p.to_path_buf(),
    }
}

/// A job file read from disk, with the policy that governs it.
#[derive(Debug, Clone)]
pub struct LoadedJob {
    /// The document (rewritten by the spooler).
    pub document: Document,
    /// Its typed view.
    pub job: Job,
    /// CFG, USR and FS layers.
    pub policy: Policy,
}

/// Reads an FS file and its USR profile: `usr` if given, else `$fax_user` (as written, or
/// relative to the FS file's folder). A `$fax_user` that does not exist, or a profile with a
/// command a USR file does not know, is an error (the daemon fails such a job with 33).
pub fn load_job(fs: &Path, cfg: &SystemConfig, usr: Option<&Path>) -> Result<LoadedJob, LoadError> {
    let document = read_document(fs)?;
    job_from_document(document, fs.parent(), cfg, usr)
}

/// As [`load_job`], for a document already in memory.
pub fn job_from_document(
    document: Document,
    dir: Option<&Path>,
    cfg: &SystemConfig,
    usr: Option<&Path>,
) -> Result<LoadedJob, LoadError> {
    let job = Job::from_document(&document)?;
    let usr_path = match usr {
        Some(p) => Some(p.to_path_buf()),
        None => match &job.user {
            Some(u) => {
                let p = resolve(Path::new(&u.replace('\\', "/")), dir);
                if !p.is_file() {
                    let line = document.last("fax_user").map_or(1, |c| c.line);
                    return Err(ParseError {
                        file: document.origin().to_string(),
                        line,
                        column: 1,
                        reason: format!("user profile {u:?} does not exist ({})", p.display()),
                    }
                    .into());
                }
                Some(p)
            }
            None => None,
        },
    };
    let usr_layer = match usr_path {
        Some(p) => {
            let doc = read_document(&p)?;
            if let Some(u) = unknown_commands(&doc, FileKind::Usr).into_iter().next() {
                return Err(ParseError {
                    file: u.file.clone(),
                    line: u.line,
                    column: 1,
                    reason: u.reason(),
                }
                .into());
            }
            PolicyLayer::from_document(&doc, Level::Usr)?
        }
        None => PolicyLayer::empty(Level::Usr),
    };
    let policy = Policy {
        cfg: cfg.layer.clone(),
        usr: usr_layer,
        fs: job.policy.clone(),
    };
    Ok(LoadedJob {
        document,
        job,
        policy,
    })
}

/// The queue a job came from: the `TOSENDn` folder holding it, else `$fax_tosend`, else 0.
pub fn queue_of(fs: &Path, job: &Job) -> u8 {
    fs.parent()
        .and_then(Path::file_name)
        .and_then(|n| n.to_str())
        .and_then(queue_number)
        .or(job.tosend)
        .unwrap_or(0)
}

/// `TOSEND` → 0, `TOSEND12` → 12 (case-insensitive); anything else → `None`.
pub fn queue_number(folder: &str) -> Option<u8> {
    let upper = folder.to_ascii_uppercase();
    let rest = upper.strip_prefix("TOSEND")?;
    if rest.is_empty() {
        return Some(0);
    }
    rest.parse::<u8>()
        .ok()
        .filter(|n| *n <= 99 && !rest.starts_with('0'))
}

/// A stable seed for a job's backoff jitter: FNV-1a of its file name.
pub fn job_seed(fs: &Path) -> u64 {
    let name = fs
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_uppercase())
        .unwrap_or_default();
    name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_names() {
        assert_eq!(queue_number("TOSEND"), Some(0));
        assert_eq!(queue_number("tosend7"), Some(7));
        assert_eq!(queue_number("TOSEND99"), Some(99));
        for bad in ["TOSEND100", "TOSEND07", "SENT", "TOSENDx"] {
            assert_eq!(queue_number(bad), None, "{bad}");
        }
    }

    #[test]
    fn seeds_are_stable_per_name() {
        assert_eq!(
            job_seed(Path::new("/a/TOSEND/12.FS")),
            job_seed(Path::new("/b/TOSEND3/12.fs"))
        );
        assert_ne!(job_seed(Path::new("12.FS")), job_seed(Path::new("13.FS")));
    }
}
