//! Property tests: the lossless writer, and the engine's guarantees over random campaigns.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use proptest::prelude::*;
use redial::command::Document;
use redial::job::Job;
use redial::retry::attempt::{AttemptFields, AttemptRecord};
use redial::retry::delays::When;
use redial::retry::engine::{decide, Action, Input, ThisAttempt};
use redial::retry::outcome::{Channel, Class};
use redial::retry::policy::{Level, ListFamily, Policy, PolicyLayer};

#[derive(Debug, Clone)]
enum GenLine {
    Blank,
    Comment(String),
    Command(String, Vec<String>),
}

fn gen_line() -> impl Strategy<Value = GenLine> {
    prop_oneof![
        Just(GenLine::Blank),
        "[^\r\n]{0,30}".prop_map(|t| GenLine::Comment(format!("; {t}"))),
        (
            "[a-zA-Z][a-zA-Z0-9_-]{0,15}",
            // Control characters in written values become visible escapes (`\x0B`), a
            // documented one-way rule tested in the parser's unit tests; not generated here.
            prop::collection::vec("[^\\p{Cc}]{0,20}", 0..5)
        )
            .prop_map(|(n, a)| GenLine::Command(n, a)),
    ]
}

proptest! {
    #[test]
    fn parse_of_write_is_identity(lines in prop::collection::vec(gen_line(), 0..30)) {
        let mut doc = Document::new("gen.FS");
        // A blank or comment line is appended as text (Document has no raw-line builder).
        let raw = |doc: &Document, text: &str| {
            let mut b = doc.to_bytes();
            b.extend_from_slice(text.as_bytes());
            b.push(b'\n');
            Document::parse(&b, "gen.FS").unwrap()
        };
        for l in &lines {
            match l {
                GenLine::Blank => doc = raw(&doc, ""),
                GenLine::Comment(c) => doc = raw(&doc, c),
                GenLine::Command(n, a) => {
                    let args: Vec<&str> = a.iter().map(String::as_str).collect();
                    doc.append(n, &args);
                }
            }
        }
        let bytes = doc.to_bytes();
        let back = Document::parse(&bytes, "gen.FS").unwrap();
        prop_assert_eq!(&back, &doc);
        let cmds: Vec<(String, Vec<String>)> = back.commands().map(|c| (c.name.to_string(), c.texts().iter().map(|s| s.to_string()).collect())).collect();
        let want: Vec<(String, Vec<String>)> = lines.iter().filter_map(|l| match l {
            GenLine::Command(n, a) => Some((n.to_ascii_lowercase(), a.clone())),
            _ => None,
        }).collect();
        prop_assert_eq!(cmds, want);
    }

    #[test]
    fn whatever_parses_is_written_back_byte_for_byte(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(doc) = Document::parse(&bytes, "any") {
            prop_assert_eq!(doc.to_bytes(), bytes);
        }
    }

    #[test]
    fn mostly_valid_text_never_panics(text in "(\\$[a-z_]{1,8}( (\"[^\"\n]{0,6}\"|[^ \n]{1,6}|\"\"\"\"|;x)){0,4}\r?\n){0,8}") {
        let _ = Document::parse_str(&text, "t").map(|d| Job::from_document(&d));
        let _ = Document::parse_str(&text, "t").map(|d| PolicyLayer::from_document(&d, Level::Cfg));
    }
}

/// A random retry list: delays, clock times and prefixes.
/// Arguments for one written line: a few of any length, or very many short ones, with any
/// characters (control characters, quotes, blanks, `;`, non-ASCII).
fn gen_written_args() -> impl Strategy<Value = Vec<String>> {
    prop_oneof![
        prop::collection::vec(".{0,12}", 0..6),
        prop::collection::vec("[\\x00-\\x1f\"; a\\u{80}-\\u{9f}é]{0,3}", 1000..4000),
        prop::collection::vec("(.|\"){0,3000}", 1..5),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Whatever values the spooler writes into a job (a record, a reason, a `$param_group`),
    /// the line ends, stays within the limit, and reads back as that one command: with every
    /// value, in order, when nothing had to be cut; else with the first ones and a `…cut]`
    /// marker last.
    #[test]
    fn any_written_line_ends_fits_and_reads_back(args in gen_written_args()) {
        let mut doc = Document::new("w.FS");
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        doc.append("email_subject", &refs);
        let bytes = doc.to_bytes();
        prop_assert!(bytes.len() <= redial::command::MAX_LINE_BYTES + 1, "{}", bytes.len());
        let back = Document::parse(&bytes, "w.FS").unwrap();
        prop_assert_eq!(back.commands().count(), 1);
        let cmd = back.last("email_subject").unwrap();
        let texts = cmd.texts();
        let cut = texts.iter().any(|t| t.contains("…[") && t.ends_with(" cut]"));
        if !cut {
            prop_assert_eq!(texts.len(), args.len());
            for (t, a) in texts.iter().zip(&args) {
                // Control characters come back as their visible escapes; nothing else changes.
                if !a.chars().any(char::is_control) {
                    prop_assert_eq!(t, a);
                }
            }
        } else {
            prop_assert!(texts.len() <= args.len() + 1);
        }
    }
}

fn gen_list() -> impl Strategy<Value = String> {
    let entry = prop_oneof![
        (0u32..120).prop_map(|m| m.to_string()),
        (1u32..90).prop_map(|s| format!("{s}S")),
        (1u32..5).prop_map(|h| format!("{h}H")),
        (
            0u32..24,
            0u32..60,
            prop_oneof![Just(""), Just("W"), Just("N")]
        )
            .prop_map(|(h, m, s)| format!("{h:02}:{m:02}{s}")),
        (0u32..30).prop_map(|m| format!("QG{m}")),
    ];
    prop::collection::vec(entry, 0..5).prop_map(|v| v.join(" "))
}

#[derive(Debug, Clone)]
struct Campaign {
    cfg: String,
    classes: Vec<char>,
    start: i64,
    call_secs: i64,
}

fn gen_campaign() -> impl Strategy<Value = Campaign> {
    (
        prop::collection::vec(gen_list(), 4),
        prop::option::of(0i64..6),
        prop::sample::select(vec![
            "UTC",
            "Europe/Berlin",
            "America/New_York",
            "Australia/Lord_Howe",
        ]),
        prop::bool::ANY,
        prop::collection::vec(
            prop::sample::select(vec!['A', 'B', 'C', 'D', 'I', 'Z']),
            1..40,
        ),
        0i64..(400 * 86_400),
        1i64..600,
    )
        .prop_map(|(lists, max, tz, pause, mut classes, start, call_secs)| {
            let mut cfg = format!("$timezone {tz}\n$request_dir spool 5\n");
            for (c, l) in ['A', 'B', 'C', 'D'].iter().zip(&lists) {
                cfg.push_str(&format!("$retry_delays {c} \"{l}\"\n"));
            }
            if let Some(m) = max {
                cfg.push_str(&format!("$retry_max {m}\n"));
            }
            if pause {
                cfg.push_str("$pause_window \"*\" 21:00 08:00\n$holiday 12/25/2026\n");
            }
            classes.push('S');
            Campaign {
                cfg,
                classes,
                start,
                call_secs,
            }
        })
}

/// Runs a campaign through the engine: each attempt takes `call_secs`, the next starts when due.
fn run(c: &Campaign) -> Result<(), TestCaseError> {
    let cfg =
        PolicyLayer::from_document(&Document::parse_str(&c.cfg, "gen.cfg").unwrap(), Level::Cfg)
            .unwrap();
    let mut job =
        Job::from_document(&Document::parse_str("$fax_phone 5550100\n", "gen.FS").unwrap())
            .unwrap();
    let policy = Policy {
        cfg,
        usr: PolicyLayer::empty(Level::Usr),
        fs: job.policy.clone(),
    };
    let lists: Vec<(char, usize)> = ['A', 'B', 'C', 'D']
        .iter()
        .map(|&k| {
            (
                k,
                policy
                    .list(ListFamily::Phone, k, None)
                    .0
                    .expand(0)
                    .entries
                    .len(),
            )
        })
        .collect();
    let max = policy.retry_max(ListFamily::Phone, None);
    let cal = policy.calendar();
    let mut start = Utc.timestamp_opt(1_767_225_600 + c.start, 0).unwrap(); // from 2026-01-01
    let mut retries_per_class: Vec<(char, usize)> = Vec::new();
    let mut retries = 0usize;
    let mut last_delay_immediate = false;
    for &letter in &c.classes {
        let ended = start + Duration::seconds(c.call_secs);
        let class = Class::parse(&letter.to_string()).unwrap();
        let d = decide(&Input {
            policy: &policy,
            job: &job,
            queue_from: 0,
            attempt: ThisAttempt {
                class,
                code: None,
                description: None,
                ended,
                line: Some(1),
                channel: Channel::Fax,
            },
            seed: 0,
        });
        job.records.push(AttemptRecord::from(AttemptFields {
            start: cal.local(start),
            kind: 1,
            skipped: 0,
            scheduled: 1,
            outcome: 0,
            class: d.record_class,
            sent: 0,
            tosend: 0,
            flags: String::new(),
            boardline: "M1".into(),
            baud: 0,
            call: c.call_secs as u32,
            connect: 0,
            answerback: String::new(),
        }));
        match d.action {
            Action::Retry { at } => {
                prop_assert!(
                    at >= ended,
                    "retry at {at} before the attempt ended at {ended}: {}",
                    d.reason
                );
                prop_assert!(d.tosend <= 5);
                if class.is_retryable() {
                    retries += 1;
                    match retries_per_class.iter_mut().find(|(k, _)| *k == letter) {
                        Some((_, n)) => *n += 1,
                        None => retries_per_class.push((letter, 1)),
                    }
                    let n = retries_per_class
                        .iter()
                        .find(|(k, _)| *k == letter)
                        .unwrap()
                        .1;
                    let len = lists.iter().find(|(k, _)| *k == letter).unwrap().1;
                    prop_assert!(n <= len, "class {letter}: {n} retries from a list of {len}");
                    if let Some(m) = max {
                        let m = m as usize;
                        prop_assert!(retries <= m + 1, "{retries} retries with $retry_max {m}");
                        if retries == m + 1 {
                            prop_assert!(
                                last_delay_immediate,
                                "extra retry without an immediate one: {}",
                                d.reason
                            );
                        }
                    }
                    let entry = policy
                        .list(ListFamily::Phone, letter, Some(1))
                        .0
                        .expand(0)
                        .entries[d.entry.unwrap() - 1];
                    last_delay_immediate = entry.is_immediate();
                    if let When::Delay(s) = entry.when {
                        prop_assert!(at >= ended + Duration::seconds(i64::from(s)));
                    }
                } else {
                    prop_assert_eq!(d.record_class, Class::I);
                }
                start = at;
            }
            Action::Fail | Action::Done => return Ok(()),
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]
    #[test]
    fn campaigns_respect_lists_max_and_time(c in gen_campaign()) {
        run(&c)?;
    }
}

#[test]
fn a_christmas_pause_is_still_in_the_future() {
    let c = Campaign {
        cfg: "$retry_delays A \"5 5 5\"\n$pause_window \"*\" 00:00 23:59\n".into(),
        classes: vec!['A', 'A', 'S'],
        start: (NaiveDate::from_ymd_opt(2026, 12, 24)
            .unwrap()
            .and_hms_opt(23, 58, 0)
            .unwrap()
            .and_utc()
            - DateTime::<Utc>::from_timestamp(1_767_225_600, 0).unwrap())
        .num_seconds(),
        call_secs: 30,
    };
    run(&c).unwrap();
}
