//! Plain text → fax pages: a typewriter layout (80 columns × 66 lines on an A4 fine page) drawn
//! with the embedded DejaVu Sans Mono (no system fonts).
//!
//! Owns text layout (tabs, wrapping, form feeds, pagination) and glyph rasterisation at
//! 204 × 196 dpi: each glyph is rasterised by fontdue, resampled separately in x and y, then
//! thresholded to one bit and cached. Pure: text in, pages out; never panics on any input.

use super::bitmap::{Bitmap, Page, Resolution, PAGE_WIDTH};
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};

/// Horizontal resolution of a fax page, dots per inch (8.04 pel/mm).
const X_DPI: f32 = 204.0;
/// Vertical resolution of the rendered (fine) page, lines per inch.
const Y_DPI: f32 = 196.0;
/// Glyphs are rasterised this many times larger than the target, then averaged down.
const OVERSAMPLE: f32 = 3.0;

/// Page layout of rendered text. [`Default`] is the typewriter page: 80 columns of 10 pitch,
/// 66 lines at ~6 lines per inch, centred on an A4 page (1728 × 2287 fine).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextLayout {
    /// Characters per line before wrapping.
    pub columns: u32,
    /// Lines per page before a new page starts.
    pub lines: u32,
    /// Horizontal character pitch in pixels (204 dpi): 20 ≈ 10 characters per inch.
    pub column_pitch: u32,
    /// Vertical line pitch in scan lines (196 lpi): 32 ≈ 6 lines per inch.
    pub line_pitch: u32,
    /// Scan lines of the page (2287 = A4 fine).
    pub page_lines: u32,
}

impl Default for TextLayout {
    fn default() -> Self {
        TextLayout {
            columns: 80,
            lines: 66,
            column_pitch: 20,
            line_pitch: 32,
            page_lines: Resolution::Fine.a4_lines(),
        }
    }
}

impl TextLayout {
    fn left_margin(&self) -> i64 {
        (i64::from(PAGE_WIDTH) - i64::from(self.columns) * i64::from(self.column_pitch)).max(0) / 2
    }

    fn top_margin(&self) -> i64 {
        (i64::from(self.page_lines) - i64::from(self.lines) * i64::from(self.line_pitch)).max(0) / 2
    }
}

/// Renders text bytes (UTF-8, or Latin-1 when not valid UTF-8) with the default layout. Returns
/// no pages when the text has no visible character.
///
/// One renderer (font and glyph cache) is shared by the whole process, so only the first call
/// pays for parsing the font and rasterising glyphs.
pub fn render_text(text: &[u8]) -> Vec<Page> {
    static SHARED: OnceLock<Mutex<TextRenderer>> = OnceLock::new();
    let shared = SHARED.get_or_init(|| Mutex::new(TextRenderer::new(TextLayout::default())));
    // A panic elsewhere while rendering leaves only a glyph cache behind: still usable.
    let mut renderer = shared.lock().unwrap_or_else(PoisonError::into_inner);
    renderer.render(&decode(text))
}

/// UTF-8 if valid, otherwise each byte as a Latin-1 character.
pub fn decode(text: &[u8]) -> String {
    match std::str::from_utf8(text) {
        Ok(s) => s.to_owned(),
        Err(_) => text.iter().map(|&b| char::from(b)).collect(),
    }
}

/// One glyph as a 1-bit mask in page pixels, relative to the pen position on the baseline.
#[derive(Debug, Clone)]
struct Glyph {
    left: i32,
    top: i32,
    width: u32,
    height: u32,
    /// Row-major, true = black.
    mask: Vec<bool>,
}

/// Renders text pages, caching rasterised glyphs across pages and calls.
pub struct TextRenderer {
    layout: TextLayout,
    font: Option<fontdue::Font>,
    /// Pixels per em horizontally and vertically.
    em_x: f32,
    em_y: f32,
    baseline: i32,
    /// Keyed by glyph index, so the cache is bounded by the font's glyph count whatever the
    /// input (every character the font lacks shares glyph 0).
    glyphs: HashMap<u16, Glyph>,
}

impl TextRenderer {
    /// A renderer for `layout`, with DejaVu Sans Mono sized so one advance is one column pitch.
    pub fn new(layout: TextLayout) -> TextRenderer {
        let font = fontdue::Font::from_bytes(
            dejavu::sans_mono::regular(),
            fontdue::FontSettings::default(),
        )
        .ok();
        // Advance of the monospace font in em (0.602 for DejaVu Sans Mono).
        let advance_em = font
            .as_ref()
            .map(|f| f.metrics('M', 1000.0).advance_width / 1000.0)
            .filter(|a| *a > 0.1)
            .unwrap_or(0.602);
        let em_x = layout.column_pitch as f32 / advance_em;
        let em_y = em_x * Y_DPI / X_DPI;
        // DejaVu's capitals reach 0.73 em, accents ~0.93 em, descenders 0.24 em: put the baseline
        // so that ascenders fit in the line pitch and descenders just reach the next line.
        let baseline = ((layout.line_pitch as f32 - 0.236 * em_y).round() as i32).max(1);
        TextRenderer {
            layout,
            font,
            em_x,
            em_y,
            baseline,
            glyphs: HashMap::new(),
        }
    }

    /// The layout in use.
    pub fn layout(&self) -> TextLayout {
        self.layout
    }

    /// Lays out and draws `text`: `\n` (or `\r\n`) ends a line, a lone `\r` returns to column 0,
    /// form feed starts a new page, tabs go to the next multiple of 8, lines longer than the
    /// page wrap, other control characters are dropped. A form feed on a page that is still
    /// empty (the very start, or right after a full page) does not add a blank page; a form feed
    /// on an empty page after another form feed does. Trailing blank lines add no page.
    pub fn render(&mut self, text: &str) -> Vec<Page> {
        let cells = layout_cells(text, &self.layout);
        cells.iter().map(|page| self.draw(page)).collect()
    }

    fn draw(&mut self, cells: &[(u32, u32, char)]) -> Page {
        let layout = self.layout;
        let mut bitmap = Bitmap::new(PAGE_WIDTH, layout.page_lines);
        for &(line, column, ch) in cells {
            let pen_x = layout.left_margin() + i64::from(column) * i64::from(layout.column_pitch);
            let base_y = layout.top_margin()
                + i64::from(line) * i64::from(layout.line_pitch)
                + i64::from(self.baseline);
            let glyph = self.glyph(ch);
            blit(&mut bitmap, glyph, pen_x, base_y);
        }
        Page::new(bitmap, Resolution::Fine)
    }

    fn glyph(&mut self, ch: char) -> &Glyph {
        let index = self
            .font
            .as_ref()
            .map_or(0, |font| font.lookup_glyph_index(ch));
        if !self.glyphs.contains_key(&index) {
            let glyph = self.rasterise(index);
            self.glyphs.insert(index, glyph);
        }
        &self.glyphs[&index]
    }

    /// Rasterises glyph `index` OVERSAMPLE× larger than the vertical target size, then box-samples it
    /// down to page pixels with separate x and y factors and thresholds at half coverage.
    fn rasterise(&self, index: u16) -> Glyph {
        let empty = Glyph {
            left: 0,
            top: 0,
            width: 0,
            height: 0,
            mask: Vec::new(),
        };
        let Some(font) = &self.font else {
            return empty;
        };
        let px = self.em_y * OVERSAMPLE;
        let (m, coverage) = font.rasterize_indexed(index, px);
        if m.width == 0 || m.height == 0 {
            return empty;
        }
        // Source pixels per page pixel.
        let sx = px / self.em_x;
        let sy = OVERSAMPLE;
        // Source box in "x right, y down from the baseline" source pixels.
        let src_left = m.xmin as f32;
        let src_top = -(m.ymin as f32 + m.height as f32);
        let left = (src_left / sx).floor() as i32;
        let right = ((src_left + m.width as f32) / sx).ceil() as i32;
        let top = (src_top / sy).floor() as i32;
        let bottom = ((src_top + m.height as f32) / sy).ceil() as i32;
        let width = (right - left).max(0) as u32;
        let height = (bottom - top).max(0) as u32;
        let mut mask = vec![false; (width * height) as usize];
        const SUB: usize = 4;
        for ty in 0..height {
            for tx in 0..width {
                let mut sum = 0u32;
                for j in 0..SUB {
                    let y = ((top + ty as i32) as f32 + (j as f32 + 0.5) / SUB as f32) * sy;
                    let row = (y - src_top).floor();
                    if row < 0.0 || row >= m.height as f32 {
                        continue;
                    }
                    for i in 0..SUB {
                        let x = ((left + tx as i32) as f32 + (i as f32 + 0.5) / SUB as f32) * sx;
                        let col = (x - src_left).floor();
                        if col < 0.0 || col >= m.width as f32 {
                            continue;
                        }
                        sum += u32::from(coverage[row as usize * m.width + col as usize]);
                    }
                }
                mask[(ty * width + tx) as usize] = sum >= 128 * (SUB * SUB) as u32;
            }
        }
        Glyph {
            left,
            top,
            width,
            height,
            mask,
        }
    }
}

/// ORs a glyph into the page at pen position (x, baseline y), clipped to the page.
fn blit(bitmap: &mut Bitmap, glyph: &Glyph, pen_x: i64, base_y: i64) {
    for gy in 0..glyph.height {
        let y = base_y + i64::from(glyph.top) + i64::from(gy);
        let Ok(y) = u32::try_from(y) else { continue };
        for gx in 0..glyph.width {
            if glyph.mask[(gy * glyph.width + gx) as usize] {
                let x = pen_x + i64::from(glyph.left) + i64::from(gx);
                if let Ok(x) = u32::try_from(x) {
                    bitmap.set(x, y, true);
                }
            }
        }
    }
}

/// Visible characters per page as (line, column, char).
type PageCells = Vec<(u32, u32, char)>;

/// The typewriter: places visible characters on pages (see [`TextRenderer::render`]).
fn layout_cells(text: &str, layout: &TextLayout) -> Vec<PageCells> {
    let columns = layout.columns.max(1);
    let lines = layout.lines.max(1);
    let mut pages: Vec<PageCells> = Vec::new();
    let mut page: PageCells = Vec::new();
    // True while the current page was begun by a form feed (so another one is deliberate).
    let mut after_form_feed = false;
    let (mut line, mut column) = (0u32, 0u32);
    let mut chars = text.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '\n' => {
                column = 0;
                line += 1;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\r' => column = 0,
            '\u{c}' => {
                if !page.is_empty() || after_form_feed {
                    pages.push(std::mem::take(&mut page));
                }
                after_form_feed = true;
                line = 0;
                column = 0;
                continue;
            }
            '\t' => {
                column = (column / 8 + 1) * 8;
                if column >= columns {
                    column = 0;
                    line += 1;
                }
            }
            c if c.is_control() => {}
            c => {
                if column >= columns {
                    column = 0;
                    line += 1;
                }
                if line >= lines {
                    pages.push(std::mem::take(&mut page));
                    after_form_feed = false;
                    line = 0;
                }
                if !c.is_whitespace() {
                    page.push((line, column, c));
                }
                column += 1;
                continue;
            }
        }
        if line >= lines {
            if !page.is_empty() || after_form_feed {
                pages.push(std::mem::take(&mut page));
            }
            after_form_feed = false;
            line = 0;
        }
    }
    if !page.is_empty() {
        pages.push(page);
    }
    // Only blank pages (form feeds and spaces): nothing to send.
    if pages.iter().all(Vec::is_empty) {
        pages.clear();
    }
    pages
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(text: &str) -> Vec<PageCells> {
        layout_cells(text, &TextLayout::default())
    }

    #[test]
    fn tabs_wrap_and_carriage_returns() {
        let pages = cells("a\tb\r\nc\rd\n");
        assert_eq!(
            pages,
            [vec![(0, 0, 'a'), (0, 8, 'b'), (1, 0, 'c'), (1, 0, 'd')]]
        );
        let long = "x".repeat(85);
        let pages = cells(&long);
        assert_eq!(pages[0].len(), 85);
        assert_eq!(pages[0][80], (1, 0, 'x'));
    }

    #[test]
    fn pagination_and_form_feeds() {
        assert!(cells("").is_empty());
        assert!(cells(" \n\n\u{c}\u{c}").is_empty());
        assert_eq!(cells("\u{c}a").len(), 1, "leading form feed adds no page");
        assert_eq!(cells("a\u{c}").len(), 1, "trailing form feed adds no page");
        assert_eq!(
            cells("a\u{c}\u{c}b").len(),
            3,
            "double form feed is a blank page"
        );
        let full = "l\n".repeat(66);
        assert_eq!(cells(&full).len(), 1);
        assert_eq!(
            cells(&format!("{full}\u{c}b")).len(),
            2,
            "no blank page after a full one"
        );
        assert_eq!(cells(&format!("{full}b"))[1], [(0, 0, 'b')]);
        let many = "l\n".repeat(66 * 3 + 1);
        assert_eq!(cells(&many).len(), 4);
    }

    #[test]
    fn rendering_draws_glyphs_in_their_cells() {
        let pages = render_text(b"HELLO\n\nworld");
        assert_eq!(pages.len(), 1);
        let page = &pages[0];
        assert_eq!(page.lines(), 2287);
        assert_eq!(page.resolution(), Resolution::Fine);
        let layout = TextLayout::default();
        let b = page.bitmap();
        // Each of the 10 glyphs is at least a few dozen pixels, nothing outside the used lines.
        assert!(b.black_pixels() > 10 * 40, "{}", b.black_pixels());
        let top = layout.top_margin() as u32;
        for y in (0..top).chain(top + 3 * layout.line_pitch + 8..b.height()) {
            assert!(b.row(y).iter().all(|&x| x == 0), "row {y} is not blank");
        }
        // The capital H spans about 0.73 em ≈ 23 lines at 196 lpi.
        let x0 = layout.left_margin() as u32;
        let rows_with_ink = (top..top + layout.line_pitch)
            .filter(|&y| (x0..x0 + layout.column_pitch).any(|x| b.get(x, y)))
            .count();
        assert!((20..=26).contains(&rows_with_ink), "{rows_with_ink}");
    }

    #[test]
    fn latin1_fallback_and_unknown_glyphs() {
        assert_eq!(decode(b"caf\xe9"), "café");
        let pages = render_text("漢字 ☃ \u{10FFFF}".as_bytes());
        assert_eq!(pages.len(), 1);
    }
}
