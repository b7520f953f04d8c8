//! Parsing speed and memory (a plain bench binary: `cargo bench --bench parse`).
//!
//! For each kind of file, in memory (no disk): MB/s and peak heap while
//! 1. `Document::from_vec` reads it (the grammar: every line checked, nothing tokenized twice),
//! 2. the daemon's intake reads it as a job (document, unknown-command check, `Job` with its
//!    attempt records and retry overrides) — what indexing a queued file costs past the read.
//!
//! The floor, measured in the same run on the same bytes: one pass that splits the buffer into
//! lines and sums their lengths (what any line-based reader must do). Ratios are floor
//! throughput / parse throughput. Memory is the peak heap while reading, the file's own buffer
//! included, counted by a global allocator wrapper, as a multiple of the file size (goal ≤ 2×).

use redial::command::registry::{unknown_commands, FileKind};
use redial::command::Document;
use redial::job::Job;
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Instant;

struct Counting;
static NOW: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let n = NOW.fetch_add(l.size(), Relaxed) + l.size();
        PEAK.fetch_max(n, Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        NOW.fetch_sub(l.size(), Relaxed);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        if new > l.size() {
            let n = NOW.fetch_add(new - l.size(), Relaxed) + new - l.size();
            PEAK.fetch_max(n, Relaxed);
        } else {
            NOW.fetch_sub(l.size() - new, Relaxed);
        }
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static A: Counting = Counting;

fn record(i: usize) -> String {
    format!(
        "$attempt_record 03/02/2026 {:02}:{:02}:{:02} 1 0 3 {} {} 0 1 0 M{} 14400 {} 0 \"\"\n",
        (i / 3600) % 24,
        (i / 60) % 60,
        i % 60,
        [2, 3, 17][i % 3],
        ['B', 'A', 'B'][i % 3],
        i % 24 + 1,
        30 + i % 40
    )
}

fn head() -> String {
    "; order 4711 from the web shop\n$fax_user DEFAULT.USR\n$fax_phone 555 0100\n\
     $alternate_phone 555 0199\n$fax_filename /var/spool/docs/4711.tif\n$fax_cover standard.cov\n\
     $fax_send_date 03/02/2026\n$fax_send_time 08:30:00 17:00:00 \"12345\"\n$fax_status1 2\n\
     $fax_status2 2\n$fax_tosend 1\n$fax_next_date 03/03/2026\n$fax_next_time 09:00:00\n\
     $retry_delays B \"1 1 5 10 10 10 10 10 10 10 10 10 30\"\n\
     $retry_delays A \"5 5 5 5 5 5 5 5 5 5 30 30\"\n"
        .to_string()
}

/// A 1.7 KB job: the head and 12 attempt records.
fn typical() -> Vec<u8> {
    let mut s = head();
    for i in 0..12 {
        s.push_str(&record(i));
    }
    s.into_bytes()
}

/// About `mb` MB of attempt records after the head.
fn records(mb: usize) -> Vec<u8> {
    let mut s = head();
    let mut i = 0;
    while s.len() < mb << 20 {
        s.push_str(&record(i));
        i += 1;
    }
    s.into_bytes()
}

/// About `mb` MB of comments, blank lines and quoted notes (CRLF ends).
fn notes(mb: usize) -> Vec<u8> {
    let mut s = head();
    let mut i = 0;
    while s.len() < mb << 20 {
        s.push_str(&format!(
            "; operator note {i}\r\n\r\n$retry_note 03/02/2026 10:00:00 manual 0 \"called back, \"\"try later\"\" said the desk; ext {i}\"   ; trailing\r\n"
        ));
        i += 1;
    }
    s.into_bytes()
}

/// About `mb` MB of long lines: one 8 KB quoted argument each (the line limit).
fn long_lines(mb: usize) -> Vec<u8> {
    let mut s = head();
    let body = "w ".repeat(4000);
    while s.len() < mb << 20 {
        s.push_str(&format!("$fail_reason \"{body}\"\n"));
    }
    s.into_bytes()
}

/// Runs `f` over a copy of `bytes` `reps` times (the copy is its to keep or drop); the best
/// time's MB/s and the peak heap, the copy included, as a multiple of the file size.
fn measure(bytes: &[u8], reps: usize, f: impl Fn(Vec<u8>)) -> (f64, f64) {
    let mut best = f64::MAX;
    let mut peak = 0;
    for _ in 0..reps {
        let base = NOW.load(Relaxed);
        PEAK.store(base, Relaxed);
        let copy = bytes.to_vec();
        let t = Instant::now();
        f(copy);
        best = best.min(t.elapsed().as_secs_f64());
        peak = peak.max(PEAK.load(Relaxed) - base);
    }
    (
        bytes.len() as f64 / best / 1e6,
        peak as f64 / bytes.len() as f64,
    )
}

fn floor(buf: Vec<u8>) {
    let mut total = 0usize;
    for line in buf.split(|&b| b == b'\n') {
        total += black_box(line).len();
    }
    black_box(total);
}

fn document(buf: Vec<u8>) {
    black_box(Document::from_vec(buf, "bench.FS").unwrap());
}

fn as_job(buf: Vec<u8>) {
    let doc = Document::from_vec(buf, "bench.FS").unwrap();
    black_box(unknown_commands(&doc, FileKind::Fs));
    black_box(Job::from_document(&doc).unwrap());
    black_box(doc);
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let mb: usize = std::env::var("REDIAL_PARSE_MB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    // For a profiler: `REDIAL_PARSE_PROFILE=50 perf record cargo bench --bench parse` reads
    // the attempt-record file as a job that many times and nothing else (or the typical job,
    // with `REDIAL_PARSE_PROFILE_KIND=typical`).
    if let Some(n) = std::env::var("REDIAL_PARSE_PROFILE")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        // `REDIAL_PARSE_PROFILE_KIND=typical`: the typical 1256-byte job instead.
        let typical_job = std::env::var("REDIAL_PARSE_PROFILE_KIND").is_ok_and(|k| k == "typical");
        let bytes = if typical_job { typical() } else { records(mb) };
        for _ in 0..n {
            as_job(black_box(bytes.clone()));
        }
        return;
    }
    println!("redial parse benchmark (in memory; floor = split into lines and sum lengths)");
    let one = typical();
    let many: Vec<u8> = one.repeat((mb << 20) / one.len());
    let kinds: [(&str, Vec<u8>, bool); 4] = [
        ("typical 1.7 KB jobs, back to back", many, false),
        ("attempt records", records(mb), true),
        ("comments, blanks, quoted notes (CRLF)", notes(mb), true),
        ("8 KB quoted lines", long_lines(mb), true),
    ];
    for (name, bytes, is_job) in &kinds {
        let (fl, _) = measure(bytes, 5, floor);
        let (doc, doc_mem) = measure(bytes, 5, document);
        println!(
            "{name:<40} {:>5.1} MB: document {doc:>6.0} MB/s ({:.1}x floor {fl:.0} MB/s), peak heap {doc_mem:.2}x the file",
            bytes.len() as f64 / 1e6,
            fl / doc,
        );
        if *is_job {
            let (job, job_mem) = measure(bytes, 3, as_job);
            println!(
                "{:<40} {:>5.1} MB: as a job {job:>6.0} MB/s ({:.1}x floor), peak heap {job_mem:.2}x the file",
                "",
                bytes.len() as f64 / 1e6,
                fl / job,
            );
        }
    }
    // One typical job at a time, as the index reads them, against the floor on the same job
    // (its copy included, as in the job's own loop), alternated five times; the best of each.
    let n = 20_000;
    let time = |f: &dyn Fn(Vec<u8>)| {
        let t = Instant::now();
        for _ in 0..n {
            f(black_box(one.clone()));
        }
        t.elapsed().as_secs_f64() / n as f64
    };
    let (mut per, mut fl) = (f64::MAX, f64::MAX);
    for _ in 0..5 {
        per = per.min(time(&as_job));
        fl = fl.min(time(&floor));
    }
    println!(
        "one typical job ({} bytes) as a job: {:.2} us = {:.0} MB/s ({:.1}x the floor's {:.2} us = {:.0} MB/s)",
        one.len(),
        per * 1e6,
        one.len() as f64 / per / 1e6,
        per / fl,
        fl * 1e6,
        one.len() as f64 / fl / 1e6
    );
}
