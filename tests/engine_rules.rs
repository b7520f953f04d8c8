//! The decision rules of spec sections 4 and 8, driven through the public engine API.

use chrono::{DateTime, Utc};
use redial::command::Document;
use redial::job::Job;
use redial::retry::engine::{decide, Action, Decision, Input, ThisAttempt};
use redial::retry::outcome::{Channel, Class};
use redial::retry::policy::{Level, Policy, PolicyLayer};

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

struct Case<'a> {
    cfg: &'a str,
    fs: &'a str,
    history: &'a str,
    line: Option<u32>,
    queue: u8,
    channel: Channel,
}

impl Default for Case<'_> {
    fn default() -> Self {
        Case {
            cfg: "",
            fs: "$fax_phone 5550100\n",
            history: "",
            line: None,
            queue: 0,
            channel: Channel::Fax,
        }
    }
}

impl Case<'_> {
    fn decide(&self, class: char, now: &str) -> Decision {
        let mut fs = self.fs.to_string();
        for (i, c) in self
            .history
            .chars()
            .filter(|c| !c.is_whitespace())
            .enumerate()
        {
            let line = self.line.map_or(String::from("M1"), |l| format!("M{l}"));
            fs.push_str(&format!(
                "$attempt_record 03/02/2026 08:{:02}:00 1 0 1 0 {c} 0 0 0 {line} 0 30 0 \"\"\n",
                i % 60
            ));
        }
        let job = Job::from_document(&Document::parse_str(&fs, "T.FS").unwrap()).unwrap();
        let policy = Policy {
            cfg: PolicyLayer::from_document(
                &Document::parse_str(self.cfg, "T.CFG").unwrap(),
                Level::Cfg,
            )
            .unwrap(),
            usr: PolicyLayer::empty(Level::Usr),
            fs: job.policy.clone(),
        };
        decide(&Input {
            policy: &policy,
            job: &job,
            queue_from: self.queue,
            attempt: ThisAttempt {
                class: Class::parse(&class.to_string()).unwrap(),
                code: None,
                description: None,
                ended: utc(now),
                line: self.line,
                channel: self.channel,
            },
            seed: 1,
        })
    }
}

const NOW: &str = "2026-03-02T10:00:00Z"; // a Monday

fn retry_in(d: &Decision) -> i64 {
    match d.action {
        Action::Retry { at } => (at - utc(NOW)).num_seconds(),
        other => panic!("expected a retry, got {other:?}: {}", d.reason),
    }
}

fn assert_fail(d: &Decision, why: &str) {
    assert_eq!(d.action, Action::Fail, "{}", d.reason);
    assert_eq!(d.record_class, Class::Z);
    assert!(
        d.reason.contains(why),
        "reason {:?} lacks {why:?}",
        d.reason
    );
}

const WORKED: &str =
    "$retry_delays A \"2 10\"\n$retry_delays B \"1 1 5\"\n$retry_delays E \"\"\n$retry_max 4\n";

#[test]
fn worked_examples_of_section_4_6() {
    let case = |history| Case {
        cfg: WORKED,
        history,
        ..Case::default()
    };
    let d = case("").decide('A', NOW);
    assert_eq!((retry_in(&d), d.entry), (120, Some(1)));
    let d = case("A").decide('B', NOW);
    assert_eq!((retry_in(&d), d.entry), (60, Some(1)));
    let d = case("AB").decide('A', NOW);
    assert_eq!((retry_in(&d), d.entry), (600, Some(2)));
    assert_fail(
        &case("ABA").decide('A', NOW),
        "class A list exhausted after 2 retries",
    );
    let d = case("BBB").decide('A', NOW);
    assert_eq!((retry_in(&d), d.entry), (120, Some(1)));
    assert_fail(
        &case("BBBA").decide('A', NOW),
        "$retry_max 4 reached (4 retries made)",
    );
    assert_fail(&case("").decide('E', NOW), "is empty");
    assert_fail(
        &case("BBB").decide('B', NOW),
        "class B list exhausted after 3 retries",
    );
    let d = case("AI").decide('A', NOW);
    assert_eq!(
        (retry_in(&d), d.entry),
        (600, Some(2)),
        "I does not consume A's list"
    );
}

#[test]
fn immediate_retry_earns_one_extra_beyond_the_max() {
    let cfg = "$retry_delays D \"10S 10S 10S 10S\"\n$retry_max 2\n";
    let d = Case {
        cfg,
        history: "DD",
        ..Case::default()
    }
    .decide('D', NOW);
    assert_eq!((retry_in(&d), d.entry), (10, Some(3)));
    assert!(d.reason.contains("immediate"), "{}", d.reason);
    assert_fail(
        &Case {
            cfg,
            history: "DDD",
            ..Case::default()
        }
        .decide('D', NOW),
        "$retry_max 2 reached",
    );
    // A minute or more is not immediate.
    let cfg = "$retry_delays D \"1 1 1\"\n$retry_max 2\n";
    assert_fail(
        &Case {
            cfg,
            history: "DD",
            ..Case::default()
        }
        .decide('D', NOW),
        "$retry_max 2 reached",
    );
}

#[test]
fn retry_max_zero_and_manual_retries_past_the_max() {
    let cfg = "$retry_delays A \"1 1 1 1 1\"\n$retry_max 0\n";
    assert_fail(
        &Case {
            cfg,
            ..Case::default()
        }
        .decide('A', NOW),
        "$retry_max 0 reached",
    );
    // A manual retry pushed the count past the max: any further failure fails.
    let cfg = "$retry_delays B \"1 1 1 1 1 1 1\"\n$retry_max 2\n";
    assert_fail(
        &Case {
            cfg,
            history: "BBBB",
            ..Case::default()
        }
        .decide('B', NOW),
        "(4 retries made)",
    );
}

#[test]
fn success_and_final_classes() {
    let d = Case::default().decide('S', NOW);
    assert_eq!((d.action, d.record_class), (Action::Done, Class::S));
    assert_fail(&Case::default().decide('Z', NOW), "final (class Z)");
}

#[test]
fn class_i_is_retried_after_a_minute_and_capped_at_50() {
    let d = Case {
        cfg: WORKED,
        history: "AAAAA",
        ..Case::default()
    }
    .decide('I', NOW);
    assert_eq!(
        (retry_in(&d), d.entry, d.record_class),
        (60, None, Class::I)
    );
    let i49 = "I".repeat(49);
    assert_fail(
        &Case {
            history: &i49,
            ..Case::default()
        }
        .decide('I', NOW),
        "50 consecutive class I",
    );
    let broken = format!("{}A{}", "I".repeat(30), "I".repeat(19));
    assert_eq!(
        retry_in(
            &Case {
                cfg: "$retry_delays A \"1\"\n",
                history: &broken,
                ..Case::default()
            }
            .decide('I', NOW)
        ),
        60
    );
}

#[test]
fn legacy_shared_sequence_and_callback_defaults() {
    // No $retry_delays anywhere: every class counts in one sequence from $callback.
    let cfg = "$callback 4 5 9\n";
    let d = Case {
        cfg,
        history: "AB",
        ..Case::default()
    }
    .decide('C', NOW);
    assert_eq!((retry_in(&d), d.entry), (300, Some(3)));
    assert_fail(
        &Case {
            cfg,
            history: "ABC",
            ..Case::default()
        }
        .decide('A', NOW),
        "shared legacy list exhausted after 3 retries",
    );
    // Default $callback 2 3 5 gives one retry after 3 minutes.
    assert_eq!(retry_in(&Case::default().decide('B', NOW)), 180);
    assert_fail(
        &Case {
            history: "A",
            ..Case::default()
        }
        .decide('B', NOW),
        "exhausted after 1 retry",
    );
    // With some $retry_delays, a class without a list gets the $callback list, counted per class.
    let cfg = "$callback 3 7 0\n$retry_delays A \"1\"\n";
    let d = Case {
        cfg,
        history: "AC",
        ..Case::default()
    }
    .decide('C', NOW);
    assert_eq!((retry_in(&d), d.entry), (420, Some(2)));
}

#[test]
fn fs_overrides_cfg_per_class() {
    let fs = "$fax_phone 1\n$retry_delays B \"30\"\n";
    let d = Case {
        cfg: WORKED,
        fs,
        ..Case::default()
    }
    .decide('B', NOW);
    assert_eq!(retry_in(&d), 1800);
    let d = Case {
        cfg: WORKED,
        fs,
        ..Case::default()
    }
    .decide('A', NOW);
    assert_eq!(retry_in(&d), 120, "class A still from the CFG");
}

#[test]
fn clock_entries_working_days_and_the_three_minute_rule() {
    let cfg = "$retry_delays B \"5 17:30W\"\n";
    // Second busy on Friday 18:00 → Monday 17:30.
    let d = Case {
        cfg,
        history: "B",
        ..Case::default()
    }
    .decide('B', "2026-03-06T18:00:00Z");
    assert_eq!(
        d.action,
        Action::Retry {
            at: utc("2026-03-09T17:30:00Z")
        }
    );
    // A holiday Monday moves it to Tuesday.
    let cfg_h = "$retry_delays B \"5 17:30W\"\n$holiday 03/09/2026\n";
    let d = Case {
        cfg: cfg_h,
        history: "B",
        ..Case::default()
    }
    .decide('B', "2026-03-06T18:00:00Z");
    assert_eq!(
        d.action,
        Action::Retry {
            at: utc("2026-03-10T17:30:00Z")
        }
    );
    // Weekend-only retries with N.
    let cfg_n = "$retry_delays A \"10:00N\"\n";
    let d = Case {
        cfg: cfg_n,
        ..Case::default()
    }
    .decide('A', "2026-03-04T12:00:00Z");
    assert_eq!(
        d.action,
        Action::Retry {
            at: utc("2026-03-07T10:00:00Z")
        }
    );
    // Only the first clock entry reached in a cycle (any class) is honoured.
    let cfg2 = "$retry_delays A \"09:00\"\n$retry_delays B \"1 17:00\"\n";
    let d = Case {
        cfg: cfg2,
        history: "AB",
        ..Case::default()
    }
    .decide('B', NOW);
    assert_eq!(retry_in(&d), 180);
    assert!(d.reason.contains("3 minutes"), "{}", d.reason);
    let d = Case {
        cfg: cfg2,
        history: "B",
        ..Case::default()
    }
    .decide('B', NOW);
    assert_eq!(
        d.action,
        Action::Retry {
            at: utc("2026-03-02T17:00:00Z")
        }
    );
}

#[test]
fn clock_entries_across_dst_in_a_local_zone() {
    let cfg = "$timezone Europe/Berlin\n$retry_delays A \"02:30 17:30\"\n";
    // Saturday evening before the spring change: 02:30 does not exist on Sunday → 03:00 CEST.
    let d = Case {
        cfg,
        ..Case::default()
    }
    .decide('A', "2026-03-28T20:00:00Z");
    assert_eq!(
        d.action,
        Action::Retry {
            at: utc("2026-03-29T01:00:00Z")
        }
    );
    let cfg = "$timezone America/New_York\n$retry_delays A \"17:30\"\n";
    // 17:30 EST (22:30Z) before the US change on 2026-03-08, 17:30 EDT (21:30Z) after.
    let d = Case {
        cfg,
        ..Case::default()
    }
    .decide('A', "2026-03-07T12:00:00Z");
    assert_eq!(
        d.action,
        Action::Retry {
            at: utc("2026-03-07T22:30:00Z")
        }
    );
    let d = Case {
        cfg,
        ..Case::default()
    }
    .decide('A', "2026-03-08T12:00:00Z");
    assert_eq!(
        d.action,
        Action::Retry {
            at: utc("2026-03-08T21:30:00Z")
        }
    );
}

#[test]
fn pause_and_send_windows() {
    let cfg = "$retry_delays A \"60\"\n$pause_window \"*\" 10:30 12:00\n";
    let d = Case {
        cfg,
        ..Case::default()
    }
    .decide('A', NOW);
    assert_eq!(
        d.action,
        Action::Retry {
            at: utc("2026-03-02T12:00:00Z")
        }
    );
    assert!(d.reason.contains("moved to"), "{}", d.reason);
    // Send window 08:30-17:00 Monday and Tuesday of the send week.
    let fs = "$fax_phone 1\n$fax_send_date 03/02/2026\n$fax_send_time 08:30:00 17:00:00 \"12\"\n";
    let cfg = "$retry_delays A \"8H 8H 8H\"\n";
    let d = Case {
        cfg,
        fs,
        ..Case::default()
    }
    .decide('A', NOW);
    assert_eq!(
        d.action,
        Action::Retry {
            at: utc("2026-03-03T08:30:00Z")
        }
    );
    let d = Case {
        cfg,
        fs,
        history: "A",
        ..Case::default()
    }
    .decide('A', "2026-03-03T10:00:00Z");
    assert_fail(&d, "send window");
    assert_eq!(d.status_override, Some(183));
}

#[test]
fn cycles_restart_after_resubmission() {
    // The job failed for good (Z), was moved back to a queue, and fails again: lists restart.
    let d = Case {
        cfg: WORKED,
        history: "ABAZ",
        ..Case::default()
    }
    .decide('A', NOW);
    assert_eq!((retry_in(&d), d.entry), (120, Some(1)));
    let d = Case {
        cfg: WORKED,
        history: "BBBBS B",
        ..Case::default()
    }
    .decide('B', NOW);
    assert_eq!(d.entry, Some(2));
}

#[test]
fn prefix_letters_act_on_their_retry() {
    let cfg = "$request_dir spool 3\n$param_group X fax_speed 4800\n$retry_delays B \"Q1 QG2 AXRT3 EI4\"\n";
    let c = |history, queue| Case {
        cfg,
        history,
        queue,
        line: Some(5),
        ..Case::default()
    };
    let d = c("", 1).decide('B', NOW);
    assert_eq!(
        (d.tosend, d.prefixes.to_string(), d.linegroup.clone()),
        (2, "Q".into(), None)
    );
    assert_eq!(
        c("", 3).decide('B', NOW).tosend,
        3,
        "never past the last queue"
    );
    let d = c("B", 0).decide('B', NOW);
    assert_eq!((d.tosend, d.linegroup.as_deref()), (1, Some("*,~5")));
    let d = c("BB", 0).decide('B', NOW);
    assert!(d.effects.alternate && d.effects.low_resolution && d.effects.speed_down);
    assert_eq!(
        d.effects.params,
        vec![("fax_speed".to_string(), vec!["4800".to_string()])]
    );
    assert_eq!(d.tosend, 0);
    let d = c("BBB", 0).decide('B', NOW);
    assert!(d.effects.email_alternate && d.effects.isp_relay && !d.effects.alternate);
}

#[test]
fn retry_tosend_and_retry_linegroup() {
    let cfg = "$line 1 /dev/ttyS0\n$line 2 /dev/ttyS1\n$line 3 /dev/ttyS2\n$line 4 /dev/ttyS3\n$line 5 /dev/ttyS4\n$line 6 /dev/ttyS5\n$retry_delays A \"1 1 1 Q1\"\n$retry_tosend 4\n$retry_linegroup *,~0\n";
    let fs_with = |send_line: &str| format!("$fax_phone 1\n$fax_send_line {send_line}\n");
    let fs = fs_with("*,~3");
    let d = Case {
        cfg,
        fs: &fs,
        line: Some(5),
        queue: 1,
        ..Case::default()
    }
    .decide('A', NOW);
    assert_eq!((d.tosend, d.linegroup.as_deref()), (4, Some("*,~3,~5")));
    // Six lines: at most two exclusions, the oldest goes.
    let fs = fs_with("*,~3,~5");
    let d = Case {
        cfg,
        fs: &fs,
        line: Some(2),
        ..Case::default()
    }
    .decide('A', NOW);
    assert_eq!(d.linegroup.as_deref(), Some("*,~5,~2"));
    // Q counts from $retry_tosend.
    let d = Case {
        cfg,
        history: "AAA",
        line: Some(2),
        ..Case::default()
    }
    .decide('A', NOW);
    assert_eq!(d.tosend, 5);
    // A USR-level group without ~0 simply replaces the line group.
    let d = Case {
        cfg: "$retry_linegroup backup\n",
        fs: &fs_with("main"),
        ..Case::default()
    }
    .decide('A', NOW);
    assert_eq!(d.linegroup.as_deref(), Some("backup"));
}

#[test]
fn cfg_line_selectors_follow_the_line_of_each_attempt() {
    let cfg = "$line_group slow 3-4\n$retry_delays B \"1 1 1\"\n$retry_delays slow B \"20 20\"\n";
    let d = Case {
        cfg,
        line: Some(3),
        ..Case::default()
    }
    .decide('B', NOW);
    assert_eq!(retry_in(&d), 1200);
    let d = Case {
        cfg,
        line: Some(1),
        ..Case::default()
    }
    .decide('B', NOW);
    assert_eq!(retry_in(&d), 60);
}

#[test]
fn email_lists() {
    let cfg =
        "$retry_delays A \"1\"\n$email_retry_delays A \"30 60\"\n$email_retry_delays C \"\"\n";
    let fs = "$email_address ops@example.org\n";
    let d = Case {
        cfg,
        fs,
        channel: Channel::Email,
        history: "A",
        ..Case::default()
    }
    .decide('A', NOW);
    assert_eq!(retry_in(&d), 3600);
    assert_fail(
        &Case {
            cfg,
            fs,
            channel: Channel::Email,
            ..Case::default()
        }
        .decide('C', NOW),
        "empty",
    );
    // A file with a fax number too always uses $retry_delays.
    let fs = "$email_address ops@example.org\n$fax_phone 1\n";
    let d = Case {
        cfg,
        fs,
        channel: Channel::Email,
        ..Case::default()
    }
    .decide('A', NOW);
    assert_eq!(retry_in(&d), 60);
}

#[test]
fn backoff_lists_drive_the_engine() {
    let cfg = "$retry_delays C \"backoff initial=30S factor=2 max=5 count=5\"\n";
    let secs: Vec<i64> = ["", "C", "CC", "CCC", "CCCC"]
        .iter()
        .map(|h| {
            retry_in(
                &Case {
                    cfg,
                    history: h,
                    ..Case::default()
                }
                .decide('C', NOW),
            )
        })
        .collect();
    assert_eq!(secs, [30, 60, 120, 240, 300]);
    assert_fail(
        &Case {
            cfg,
            history: "CCCCC",
            ..Case::default()
        }
        .decide('C', NOW),
        "exhausted after 5",
    );
}
