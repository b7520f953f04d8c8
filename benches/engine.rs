//! Parse + decide for a typical FS file with 20 attempt records (issue 2's benchmark).

use chrono::{DateTime, Utc};
use criterion::{criterion_group, criterion_main, Criterion};
use redial::command::Document;
use redial::job::Job;
use redial::retry::engine::{decide, Input, ThisAttempt};
use redial::retry::outcome::{Channel, OutcomeTable};
use redial::retry::policy::{Level, Policy, PolicyLayer};
use std::hint::black_box;

const CFG: &str = include_str!("../conf/redial.cfg");

fn typical_fs() -> String {
    let mut fs = String::from(
        "; order 4711 from the web shop\n$fax_user DEFAULT.USR\n$fax_phone 555 0100\n$alternate_phone 555 0199\n\
         $fax_filename /var/spool/docs/4711.tif\n$fax_cover standard.cov\n$fax_send_date 03/02/2026\n\
         $fax_send_time 08:30:00 17:00:00 \"12345\"\n$fax_status1 2\n$fax_status2 2\n$fax_tosend 1\n\
         $fax_next_date 03/03/2026\n$fax_next_time 09:00:00\n$retry_delays B \"1 1 5 10 10 10 10 10 10 10 10 10 30\"\n\
         $retry_delays A \"5 5 5 5 5 5 5 5 5 5 30 30\"\n",
    );
    for i in 0..20 {
        let class = if i % 3 == 0 { 'A' } else { 'B' };
        fs.push_str(&format!(
            "$attempt_record 03/02/2026 {:02}:{:02}:05 1 0 3 2 {class} 0 1 0 M{} 0 35 0 \"\"\n",
            8 + i / 6,
            (i * 10) % 60,
            i % 4 + 1
        ));
    }
    fs
}

fn bench(c: &mut Criterion) {
    let cfg =
        PolicyLayer::from_document(&Document::parse_str(CFG, "redial.cfg").unwrap(), Level::Cfg)
            .unwrap();
    let table = OutcomeTable::default();
    let fs = typical_fs();
    let now: DateTime<Utc> = "2026-03-03T09:01:00Z".parse().unwrap();
    c.bench_function("parse FS (20 attempt records)", |b| {
        b.iter(|| {
            Job::from_document(&Document::parse(black_box(fs.as_bytes()), "4711.FS").unwrap())
                .unwrap()
        })
    });
    c.bench_function("parse FS + decide", |b| {
        b.iter(|| {
            let doc = Document::parse(black_box(fs.as_bytes()), "4711.FS").unwrap();
            let job = Job::from_document(&doc).unwrap();
            let policy = Policy {
                cfg: cfg.clone(),
                usr: PolicyLayer::empty(Level::Usr),
                fs: job.policy.clone(),
            };
            let row = table.classify(2, Some(Channel::Fax));
            decide(&Input {
                policy: &policy,
                job: &job,
                queue_from: 1,
                attempt: ThisAttempt {
                    class: row.class,
                    code: Some(2),
                    description: Some(row.description),
                    ended: now,
                    line: Some(2),
                    channel: Channel::Fax,
                },
                seed: 7,
            })
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
