//! PDF pages drawn for the fax line (issue 14): render time per page of each test PDF
//! (tests/data/pdf) at fine and standard resolution, printed as a figure, and the size of what
//! the document cache keeps per document (bitmaps plus the MH and MR encodings).
//! Goal: under 50 ms per fine A4 text page (`a4-text.pdf`).
//!
//! `cargo bench --bench pdf` (on a shared 2-core machine the figures vary by ±20 %).

use criterion::{criterion_group, criterion_main, Criterion};
use redial::fax::{encode, render_pdf, Coding, EncodeOptions, Resolution};
use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

const FILES: &[&str] = &[
    "a4-text.pdf",
    "letter-form.pdf",
    "a4-landscape.pdf",
    "scan.pdf",
];

fn data(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/pdf")
            .join(name),
    )
    .unwrap()
}

fn bench(c: &mut Criterion) {
    for name in FILES {
        let pdf = data(name);
        for resolution in [Resolution::Fine, Resolution::Standard] {
            let pages = render_pdf(&pdf, resolution).unwrap();
            let runs = 10;
            let t = Instant::now();
            for _ in 0..runs {
                black_box(render_pdf(black_box(&pdf), resolution).unwrap());
            }
            let per_page = t.elapsed().as_secs_f64() * 1000.0 / (runs * pages.len()) as f64;
            let bitmaps: usize = pages.iter().map(|p| p.bitmap().data().len()).sum();
            let coded: usize = pages
                .iter()
                .map(|p| {
                    encode(p, &EncodeOptions::class2(Coding::Mh, 0)).len()
                        + encode(p, &EncodeOptions::class2(Coding::mr_for(resolution), 0)).len()
                })
                .sum();
            eprintln!(
                "{name} {resolution:?}: {} pages, {per_page:.1} ms per page; cached: bitmaps {} KiB + MH/MR {} KiB",
                pages.len(),
                bitmaps / 1024,
                coded / 1024
            );
        }
    }
    let pdf = data("a4-text.pdf");
    let mut group = c.benchmark_group("pdf_render");
    group.sample_size(10);
    group.bench_function("a4_text_fine_page", |b| {
        b.iter(|| render_pdf(black_box(&pdf), Resolution::Fine).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
