//! The fax page codec: T.4 MH and MR encoding of an A4 fine page of rendered text (66 full
//! lines), text rendering, and the fine → standard conversion (issue 5's encoding benchmark).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use redial::fax::{encode, render_text, Coding, EncodeOptions, Page, TextLayout, TextRenderer};
use std::hint::black_box;

/// 66 lines of 80 columns: a dense business letter.
fn full_page_text() -> String {
    let line = "Invoice 4711  Qty 12  Widget, blue, 30 mm  unit 4.95  total 59.40  ref. AB-77/X";
    (0..66)
        .map(|i| format!("{i:02} {}\n", &line[..77]))
        .collect()
}

fn page() -> Page {
    render_text(full_page_text().as_bytes()).remove(0)
}

fn bench(c: &mut Criterion) {
    let page = page();
    let mut group = c.benchmark_group("t4_encode_a4_fine_text");
    group.throughput(Throughput::Elements(u64::from(page.lines())));
    let mh = EncodeOptions::class2(Coding::Mh, 0);
    let mr = EncodeOptions::class2(Coding::Mr { k: 4 }, 0);
    eprintln!(
        "A4 fine text page: MH {} bytes, MR(K=4) {} bytes",
        encode(&page, &mh).len(),
        encode(&page, &mr).len()
    );
    group.bench_function("mh", |b| b.iter(|| encode(black_box(&page), &mh)));
    group.bench_function("mr_k4", |b| b.iter(|| encode(black_box(&page), &mr)));
    group.finish();

    let text = full_page_text();
    let mut group = c.benchmark_group("text_render_a4_fine");
    group.bench_function("warm_glyph_cache", |b| {
        b.iter(|| render_text(black_box(text.as_bytes())))
    });
    group.sample_size(10);
    group.bench_function("cold_font_and_glyphs", |b| {
        b.iter(|| TextRenderer::new(TextLayout::default()).render(black_box(&text)))
    });
    group.finish();

    c.bench_function("fine_to_standard", |b| {
        b.iter(|| black_box(&page).to_standard())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
