//! `redial dnc add|remove|list|import`: the spool's do-not-call list, beside live nodes.
//!
//! Every change takes the list's lock and writes a whole new file through `TEMP`
//! (`redial::spool::dnc`), so nodes never read half a list and see the change at their next
//! claim. Numbers are checked and normalized before anything is written; one bad number writes
//! nothing (exit 2).

use super::ops::SpoolArgs;
use anyhow::{bail, Context, Result};
use chrono::Utc;
use redial::spool::dnc;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Arguments of `redial dnc`.
#[derive(Debug, clap::Args)]
pub struct DncArgs {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Put numbers (or e-mail addresses) on the spool's list.
    Add {
        /// Numbers as people write them: `555-010-0100`, `(555) 010-0100`, `+1 555 010 0100`.
        #[arg(required = true, value_name = "NUMBER")]
        numbers: Vec<String>,
        /// Written after each entry (default: "redial dnc add" and the date).
        #[arg(long)]
        comment: Option<String>,
        #[command(flatten)]
        spool: SpoolArgs,
    },
    /// Take numbers off the spool's list (numbers in `$dnc_file` stay blocked: edit that file).
    Remove {
        /// Numbers, in any spelling.
        #[arg(required = true, value_name = "NUMBER")]
        numbers: Vec<String>,
        #[command(flatten)]
        spool: SpoolArgs,
    },
    /// Every listed number: the spool's list, then the CFG's `$dnc_file`.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        spool: SpoolArgs,
    },
    /// Add every number of a file (one per line, `#` or `;` comments).
    Import {
        /// The file.
        file: PathBuf,
        /// Written after each entry (default: "imported from FILE" and the date).
        #[arg(long)]
        comment: Option<String>,
        #[command(flatten)]
        spool: SpoolArgs,
    },
}

/// One listed destination, for `list`.
#[derive(Debug, Serialize)]
struct Listed {
    number: String,
    /// `spool` or the `$dnc_file` path.
    source: String,
    line: usize,
    comment: String,
}

fn temp_prefix() -> String {
    format!(".dnc.{}.", std::process::id())
}

/// The spool's layout and the external list, refusing a request directory that does not exist.
fn open(spool: &SpoolArgs) -> Result<(redial::spool::Layout, Option<PathBuf>)> {
    let (settings, _) = spool.settings()?;
    let root = &settings.layout.root;
    if !root.is_dir() {
        bail!(
            "the spool {} does not exist (give --cfg, --spool or --base)",
            root.display()
        );
    }
    Ok((settings.layout, settings.dnc_file))
}

fn keys(numbers: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut bad = Vec::new();
    for n in numbers {
        match dnc::key_of(n) {
            Ok(k) => out.push(k),
            Err(e) => bad.push(e),
        }
    }
    if !bad.is_empty() {
        bail!("{}; nothing was changed", bad.join("; "));
    }
    Ok(out)
}

fn read_list(path: &Path) -> Result<dnc::Parsed> {
    match std::fs::read(path) {
        Ok(b) => Ok(dnc::parse(&String::from_utf8_lossy(&b))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(dnc::Parsed::default()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

fn stamp() -> String {
    Utc::now().format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn add_keys(layout: &redial::spool::Layout, keys: &[String], comment: &str) -> Result<()> {
    let entries: Vec<(String, String)> = keys
        .iter()
        .map(|k| (k.clone(), comment.to_string()))
        .collect();
    let added = dnc::add(layout, &temp_prefix(), &entries)
        .with_context(|| format!("cannot write {}", dnc::path(layout).display()))?;
    let mut seen = Vec::new();
    for k in keys {
        if seen.contains(k) {
            continue;
        }
        seen.push(k.clone());
        if added.contains(k) {
            println!("added {k}");
        } else {
            println!("already listed {k}");
        }
    }
    Ok(())
}

/// Runs `redial dnc`; `Ok(false)` when a number asked to be removed stays blocked (exit 1).
pub fn run(a: DncArgs) -> Result<bool> {
    match a.action {
        Action::Add {
            numbers,
            comment,
            spool,
        } => {
            let (layout, _) = open(&spool)?;
            let keys = keys(&numbers)?;
            let comment = comment.unwrap_or_else(|| format!("redial dnc add {}", stamp()));
            add_keys(&layout, &keys, &comment)?;
            Ok(true)
        }
        Action::Import {
            file,
            comment,
            spool,
        } => {
            let (layout, _) = open(&spool)?;
            let text =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let parsed = dnc::parse(&String::from_utf8_lossy(&text));
            if !parsed.bad.is_empty() {
                let lines: Vec<String> = parsed
                    .bad
                    .iter()
                    .map(|(n, t)| {
                        format!(
                            "{}:{n}: {t:?} is not a phone number or e-mail address",
                            file.display()
                        )
                    })
                    .collect();
                bail!("{}\nnothing was imported", lines.join("\n"));
            }
            let comment =
                comment.unwrap_or_else(|| format!("imported from {} {}", file.display(), stamp()));
            let keys: Vec<String> = parsed.entries.into_iter().map(|e| e.key).collect();
            let entries: Vec<(String, String)> =
                keys.iter().map(|k| (k.clone(), comment.clone())).collect();
            let added = dnc::add(&layout, &temp_prefix(), &entries)
                .with_context(|| format!("cannot write {}", dnc::path(&layout).display()))?;
            let mut distinct = keys.clone();
            distinct.sort();
            distinct.dedup();
            println!(
                "imported {} new of {} numbers from {} ({} already listed)",
                added.len(),
                distinct.len(),
                file.display(),
                distinct.len() - added.len()
            );
            Ok(true)
        }
        Action::Remove { numbers, spool } => {
            let (layout, external) = open(&spool)?;
            let keys = keys(&numbers)?;
            let removed = dnc::remove(&layout, &temp_prefix(), &keys)
                .with_context(|| format!("cannot write {}", dnc::path(&layout).display()))?;
            let outside = match &external {
                Some(p) => read_list(p)?.entries,
                None => Vec::new(),
            };
            let mut ok = true;
            for k in &keys {
                if removed.contains(k) {
                    println!("removed {k}");
                } else {
                    println!("not on the spool's list {k}");
                }
                if let Some(e) = outside.iter().find(|e| &e.key == k) {
                    eprintln!(
                        "redial: {k} stays blocked: it is listed in $dnc_file {}:{}; remove it there",
                        external.as_deref().unwrap_or(Path::new("")).display(),
                        e.line
                    );
                    ok = false;
                }
            }
            Ok(ok)
        }
        Action::List { json, spool } => {
            let (layout, external) = open(&spool)?;
            let mut all: Vec<Listed> = read_list(&dnc::path(&layout))?
                .entries
                .into_iter()
                .map(|e| Listed {
                    number: e.key,
                    source: "spool".into(),
                    line: e.line,
                    comment: e.comment,
                })
                .collect();
            if let Some(p) = &external {
                if !p.exists() {
                    bail!("$dnc_file {} does not exist", p.display());
                }
                all.extend(read_list(p)?.entries.into_iter().map(|e| Listed {
                    number: e.key,
                    source: p.display().to_string(),
                    line: e.line,
                    comment: e.comment,
                }));
            }
            if json {
                println!("{}", serde_json::to_string(&all)?);
            } else {
                for l in &all {
                    if l.comment.is_empty() {
                        println!("{}\t{}", l.number, l.source);
                    } else {
                        println!("{}\t{}\t; {}", l.number, l.source, l.comment);
                    }
                }
            }
            Ok(true)
        }
    }
}
