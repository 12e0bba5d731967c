//! Inline SVG charts, drawn by hand.
//!
//! A report must open offline and without JavaScript, so charts are SVG
//! elements inside the HTML. A small purpose-built module beats a general
//! plotting library here: the output is compact (a million-op run still makes
//! a page of a few hundred KB), every text is escaped in one place, and fault
//! windows — the heart of these charts — are first-class.
//!
//! - [`chart`]: the time-series chart (lines, points, shaded fault bands,
//!   markers, legend, axes).
//! - [`axis`]: scales and "nice" tick values.
//! - [`timeline`]: the small per-anomaly op timeline.
//! - [`bars`]: horizontal bars comparing configurations (the sweep report).

pub mod axis;
pub mod bars;
pub mod chart;
pub mod timeline;

use std::fmt::Write;

/// Escapes text for SVG/XML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Writes a coordinate with one decimal (enough at screen resolution, and
/// it keeps big charts small).
pub fn coord(out: &mut String, v: f64) {
    let v = if v.is_finite() { v } else { 0.0 };
    let _ = write!(out, "{:.1}", v);
}

/// The colour of a fault kind, the same in every chart and in the legend.
pub fn fault_colour(fault: &str) -> &'static str {
    match fault {
        "partition" => "#f4a261",
        "clock" => "#8ecae6",
        "crash" => "#e76f51",
        "pause" => "#b5a4e0",
        "wipe" => "#9c6644",
        "link" => "#e9a23b",
        _ => "#bbbbbb",
    }
}

/// A palette for series, chosen to stay distinct on white and in greyscale.
pub const PALETTE: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
];

#[cfg(test)]
mod tests {
    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(
            super::escape(r#"<script>"a"&'b'</script>"#),
            "&lt;script&gt;&quot;a&quot;&amp;&#39;b&#39;&lt;/script&gt;"
        );
    }
}
