//! Horizontal bar charts comparing configurations: one bar per row, an
//! optional 95% confidence whisker, highlighted rows, and a note where a
//! row has no value (e.g. "did not converge").
//!
//! Time-series charts ([`super::chart`]) do not fit a sweep, whose x axis is
//! a list of configurations; this shares their scale, ticks, escaping and
//! palette so both kinds look alike in one report.

use super::axis::{Scale, tick_label};
use super::{PALETTE, coord, escape};
use std::fmt::Write;

/// One configuration's bar.
#[derive(Debug, Clone, Default)]
pub struct BarRow {
    /// The configuration's label (escaped on output).
    pub label: String,
    /// The bar's length; `None` draws no bar, only `note`.
    pub value: Option<f64>,
    /// A (low, high) interval drawn as a whisker.
    pub interval: Option<(f64, f64)>,
    /// Draw in the highlight colour.
    pub highlight: bool,
    /// Text after the bar (or instead of it).
    pub note: Option<String>,
}

/// A titled horizontal bar chart.
#[derive(Debug, Clone, Default)]
pub struct BarChart {
    /// Shown above the bars.
    pub title: String,
    /// The value axis's unit, shown after the title.
    pub unit: String,
    /// One per configuration, top to bottom.
    pub rows: Vec<BarRow>,
}

const WIDTH: f64 = 960.0;
const LABEL_W: f64 = 300.0;
const RIGHT_PAD: f64 = 150.0;
const ROW_H: f64 = 22.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 26.0;
const HIGHLIGHT: &str = "#2a9d8f";

impl BarChart {
    /// The chart as an `<svg>` element.
    pub fn render(&self) -> String {
        let extents = self.rows.iter().flat_map(|r| {
            let hi = r.interval.map(|(_, h)| h);
            r.value.into_iter().chain(hi)
        });
        let scale = Scale::linear_from(extents);
        let plot_w = WIDTH - LABEL_W - RIGHT_PAD;
        let x = |v: f64| LABEL_W + scale.fraction(v) * plot_w;
        let height = TOP + BOTTOM + ROW_H * self.rows.len().max(1) as f64;
        let mut s = String::new();
        let _ = write!(
            s,
            r#"<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" aria-label="{t}">"#,
            t = escape(&self.title)
        );
        let _ = write!(
            s,
            r#"<text x="8" y="18" font-size="14" font-weight="600">{} ({})</text>"#,
            escape(&self.title),
            escape(&self.unit)
        );
        let axis_y = height - BOTTOM;
        for t in scale.ticks(6) {
            let tx = x(t);
            s.push_str(r##"<line stroke="#e0e0e0" x1=""##);
            coord(&mut s, tx);
            let _ = write!(s, r#"" y1="{TOP}" x2=""#);
            coord(&mut s, tx);
            let _ = write!(s, r#"" y2="{axis_y}"/>"#);
            s.push_str(r#"<text font-size="11" text-anchor="middle" x=""#);
            coord(&mut s, tx);
            let _ = write!(s, r#"" y="{}">{}</text>"#, axis_y + 16.0, tick_label(t));
        }
        for (i, row) in self.rows.iter().enumerate() {
            let y = TOP + ROW_H * i as f64;
            let mid = y + ROW_H / 2.0;
            let weight = if row.highlight { "600" } else { "400" };
            let _ = write!(
                s,
                r#"<text font-size="11" font-weight="{weight}" text-anchor="end" x="{}" y="{}">{}</text>"#,
                LABEL_W - 8.0,
                mid + 4.0,
                escape(&shorten(&row.label, 40))
            );
            let mut end = LABEL_W;
            if let Some(v) = row.value {
                let colour = if row.highlight { HIGHLIGHT } else { PALETTE[0] };
                end = x(v);
                s.push_str(r#"<rect x=""#);
                coord(&mut s, LABEL_W);
                let _ = write!(s, r#"" y="{}" width=""#, y + 4.0);
                coord(&mut s, (end - LABEL_W).max(1.0));
                let _ = write!(
                    s,
                    r#"" height="{}" fill="{colour}"><title>{}: {}</title></rect>"#,
                    ROW_H - 8.0,
                    escape(&row.label),
                    value_label(v)
                );
            }
            if let Some((lo, hi)) = row.interval {
                let (x1, x2) = (x(lo), x(hi));
                end = end.max(x2);
                for (ax, ay, bx, by) in [
                    (x1, mid, x2, mid),
                    (x1, mid - 5.0, x1, mid + 5.0),
                    (x2, mid - 5.0, x2, mid + 5.0),
                ] {
                    s.push_str(r##"<line stroke="#1d1d1f" stroke-width="1.5" x1=""##);
                    coord(&mut s, ax);
                    s.push_str(r#"" y1=""#);
                    coord(&mut s, ay);
                    s.push_str(r#"" x2=""#);
                    coord(&mut s, bx);
                    s.push_str(r#"" y2=""#);
                    coord(&mut s, by);
                    s.push_str(r#""/>"#);
                }
            }
            let text = match (&row.value, &row.note) {
                (Some(v), Some(n)) => format!("{} {}", value_label(*v), n),
                (Some(v), None) => value_label(*v),
                (None, Some(n)) => n.clone(),
                (None, None) => "no data".into(),
            };
            s.push_str(r##"<text font-size="11" fill="#5f6368" x=""##);
            coord(&mut s, end + 6.0);
            let _ = write!(s, r#"" y="{}">{}</text>"#, mid + 4.0, escape(&text));
        }
        s.push_str("</svg>");
        s
    }
}

/// A bar's value: whole numbers from 100 up, else three significant digits.
fn value_label(v: f64) -> String {
    if v.abs() >= 100.0 || v == 0.0 {
        tick_label(v.round())
    } else {
        let decimals = (2 - v.abs().log10().floor() as i32).clamp(0, 6) as usize;
        format!("{v:.decimals$}")
    }
}

/// Cuts a label to `max` characters with an ellipsis (the full label is in
/// the table and the bar's tooltip).
fn shorten(label: &str, max: usize) -> String {
    if label.chars().count() <= max {
        return label.to_string();
    }
    let mut out: String = label.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_whiskers_and_notes_are_drawn_and_escaped() {
        let chart = BarChart {
            title: "Convergence <time>".into(),
            unit: "ms".into(),
            rows: vec![
                BarRow {
                    label: "a<script>".into(),
                    value: Some(120.0),
                    interval: Some((90.0, 150.0)),
                    highlight: true,
                    note: None,
                },
                BarRow {
                    label: "b".into(),
                    value: None,
                    interval: None,
                    highlight: false,
                    note: Some("did not converge".into()),
                },
            ],
        };
        let svg = chart.render();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<rect").count(), 1);
        assert_eq!(svg.matches(r#"stroke-width="1.5""#).count(), 3);
        assert!(svg.contains("did not converge"));
        assert!(svg.contains("a&lt;script&gt;") && !svg.contains("<script>"));
        assert!(svg.contains(HIGHLIGHT));
    }

    #[test]
    fn values_are_rounded_for_reading() {
        assert_eq!(value_label(1765.869), "1766");
        assert_eq!(value_label(12.345), "12.3");
        assert_eq!(value_label(0.3333), "0.333");
        assert_eq!(value_label(0.0), "0");
    }

    #[test]
    fn long_labels_are_shortened() {
        assert_eq!(shorten("abcdef", 4), "abc…");
        assert_eq!(shorten("abc", 4), "abc");
    }
}
