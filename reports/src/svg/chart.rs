//! The time-series chart used by every report chart.
//!
//! x is seconds since the test started. Fault windows are drawn first, as
//! shaded bands with their kind written at the top, so every line and point
//! reads against the faults active at that moment.

use super::axis::{Scale, tick_label};
use super::{PALETTE, coord, escape, fault_colour};
use crate::nemesis::FaultView;
use std::fmt::Write;

const WIDTH: f64 = 960.0;
const HEIGHT: f64 = 280.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 40.0;

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Style {
    Line,
    /// Dashed line, for reference lines such as percentiles.
    Dashed,
    /// Dots, for individual ops.
    Points,
}

/// One named series.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub style: Style,
    /// `None` takes the next palette colour.
    pub colour: Option<&'static str>,
}

impl Series {
    pub fn new(name: impl Into<String>, style: Style, points: Vec<(f64, f64)>) -> Series {
        Series {
            name: name.into(),
            points,
            style,
            colour: None,
        }
    }

    pub fn colour(mut self, c: &'static str) -> Series {
        self.colour = Some(c);
        self
    }
}

/// A vertical line at an instant (final heal, convergence).
#[derive(Debug, Clone)]
pub struct Marker {
    pub x: f64,
    pub label: String,
}

/// A chart under construction; [`Chart::render`] makes the SVG element.
#[derive(Debug, Clone)]
pub struct Chart {
    pub title: String,
    pub y_label: String,
    pub x_label: String,
    pub x_range: (f64, f64),
    /// `None`: linear over `x_range`.
    pub x_scale: Option<Scale>,
    /// `None`: linear from 0 to the data's maximum.
    pub y_scale: Option<Scale>,
    pub series: Vec<Series>,
    pub bands: Vec<FaultView>,
    pub markers: Vec<Marker>,
}

impl Chart {
    pub fn new(title: impl Into<String>, y_label: impl Into<String>, x_range: (f64, f64)) -> Chart {
        let (lo, hi) = x_range;
        Chart {
            title: title.into(),
            y_label: y_label.into(),
            x_label: "seconds since test start".into(),
            x_range: if hi > lo { (lo, hi) } else { (lo, lo + 1.0) },
            x_scale: None,
            y_scale: None,
            series: Vec::new(),
            bands: Vec::new(),
            markers: Vec::new(),
        }
    }

    /// Whether any series has a point (an empty chart is replaced by a note).
    pub fn has_data(&self) -> bool {
        self.series.iter().any(|s| !s.points.is_empty())
    }

    /// The `<svg>` element.
    pub fn render(&self) -> String {
        let y = self.y_scale.unwrap_or_else(|| {
            Scale::linear_from(
                self.series
                    .iter()
                    .flat_map(|s| s.points.iter().map(|p| p.1)),
            )
        });
        let x = self.x_scale.unwrap_or(Scale::Linear {
            min: self.x_range.0,
            max: self.x_range.1,
        });
        let legend = self.legend_layout();
        // The legend wraps onto more rows as needed; the plot keeps its height.
        let rows = legend.last().map_or(1, |item| item.row + 1);
        let top = TOP + 16.0 * (rows - 1) as f64;
        let height = HEIGHT + 16.0 * (rows - 1) as f64;
        let frame = Frame {
            top,
            height,
            plot_h: HEIGHT - TOP - BOTTOM,
        };
        let plot_w = WIDTH - LEFT - RIGHT;
        let px = |v: f64| LEFT + x.fraction(v) * plot_w;
        let py = |v: f64| top + (1.0 - y.fraction(v)) * frame.plot_h;

        let mut out = String::with_capacity(8192);
        let _ = write!(
            out,
            r#"<svg class="chart" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" xmlns="http://www.w3.org/2000/svg"><title>{}</title>"#,
            escape(&self.title)
        );
        self.render_bands(&mut out, &px, frame);
        render_grid(&mut out, &x, &y, &px, &py, frame);
        for (i, s) in self.series.iter().enumerate() {
            let colour = s.colour.unwrap_or(PALETTE[i % PALETTE.len()]);
            render_series(&mut out, s, colour, &px, &py);
        }
        for (i, m) in self.markers.iter().enumerate() {
            let mx = px(m.x);
            out.push_str(r#"<line class="marker" x1=""#);
            coord(&mut out, mx);
            let _ = write!(out, r#"" y1="{top}" x2=""#);
            coord(&mut out, mx);
            let _ = write!(
                out,
                r##"" y2="{}" stroke="#333" stroke-dasharray="2 3"/><text x=""##,
                top + frame.plot_h
            );
            // Near the right edge the label goes to the left of its line.
            let right_side = mx < WIDTH - RIGHT - 80.0;
            coord(&mut out, if right_side { mx + 3.0 } else { mx - 3.0 });
            // Successive markers are often close (heal, then converged):
            // stagger their labels so they never overprint.
            let _ = write!(
                out,
                r##"" y="{}" font-size="10" fill="#333" text-anchor="{}">{}</text>"##,
                top + 10.0 + 12.0 * i as f64,
                if right_side { "start" } else { "end" },
                escape(&m.label)
            );
        }
        for item in &legend {
            let ly = 8.0 + 16.0 * item.row as f64;
            if item.square {
                let _ = write!(
                    out,
                    r#"<rect x="{:.1}" y="{ly}" width="10" height="10" fill="{}" fill-opacity="0.5"/>"#,
                    item.x, item.colour
                );
            } else {
                let _ = write!(
                    out,
                    r#"<rect x="{:.1}" y="{}" width="12" height="4" fill="{}"/>"#,
                    item.x,
                    ly + 3.0,
                    item.colour
                );
            }
            let _ = write!(
                out,
                r#"<text x="{:.1}" y="{}" font-size="11">{}</text>"#,
                item.x + 15.0,
                ly + 9.0,
                escape(&item.name)
            );
        }
        let _ = write!(
            out,
            r#"<text x="{}" y="{}" font-size="11" text-anchor="middle">{}</text><text x="12" y="{}" font-size="11" text-anchor="middle" transform="rotate(-90 12 {})">{}</text></svg>"#,
            LEFT + plot_w / 2.0,
            height - 4.0,
            escape(&self.x_label),
            top + frame.plot_h / 2.0,
            top + frame.plot_h / 2.0,
            escape(&self.y_label)
        );
        out
    }

    fn render_bands(&self, out: &mut String, px: &dyn Fn(f64) -> f64, frame: Frame) {
        let Frame { top, plot_h, .. } = frame;
        for b in &self.bands {
            if b.end_s < self.x_range.0 || b.start_s > self.x_range.1 {
                continue;
            }
            let x0 = px(b.start_s);
            let w = (px(b.end_s) - x0).max(1.5);
            let _ = write!(
                out,
                r#"<g class="fault"><title>{} {:.1}s–{:.1}s {}</title><rect x=""#,
                escape(&b.fault),
                b.start_s,
                b.end_s,
                escape(&b.detail)
            );
            coord(out, x0);
            let _ = write!(out, r#"" y="{top}" width=""#);
            coord(out, w);
            let _ = write!(
                out,
                r#"" height="{plot_h}" fill="{}" fill-opacity="0.35"/>"#,
                fault_colour(&b.fault)
            );
            // Label only bands wide enough to hold it; the legend names the rest.
            if w > 40.0 {
                out.push_str(r#"<text x=""#);
                coord(out, x0 + 2.0);
                let _ = write!(
                    out,
                    r##"" y="{}" font-size="10" fill="#444">{}</text>"##,
                    top + plot_h - 3.0,
                    escape(&b.fault)
                );
            }
            out.push_str("</g>");
        }
    }

    /// Series first, then the fault kinds shown, laid out left to right and
    /// wrapped at the chart's width.
    fn legend_layout(&self) -> Vec<LegendItem> {
        let mut items: Vec<(String, &'static str, bool)> = self
            .series
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.points.is_empty())
            .map(|(i, s)| {
                (
                    s.name.clone(),
                    s.colour.unwrap_or(PALETTE[i % PALETTE.len()]),
                    false,
                )
            })
            .collect();
        let mut faults: Vec<&str> = self
            .bands
            .iter()
            .filter(|b| b.end_s >= self.x_range.0 && b.start_s <= self.x_range.1)
            .map(|b| b.fault.as_str())
            .collect();
        faults.sort_unstable();
        faults.dedup();
        items.extend(
            faults
                .into_iter()
                .map(|f| (f.to_string(), fault_colour(f), true)),
        );
        let (mut x, mut row) = (LEFT, 0);
        let mut out = Vec::with_capacity(items.len());
        for (name, colour, square) in items {
            let w = 24.0 + 6.5 * name.chars().count() as f64;
            if x + w > WIDTH - RIGHT && x > LEFT {
                x = LEFT;
                row += 1;
            }
            out.push(LegendItem {
                name,
                colour,
                square,
                x,
                row,
            });
            x += w;
        }
        out
    }
}

/// Vertical geometry of one rendered chart.
#[derive(Debug, Clone, Copy)]
struct Frame {
    top: f64,
    height: f64,
    plot_h: f64,
}

#[derive(Debug)]
struct LegendItem {
    name: String,
    colour: &'static str,
    square: bool,
    x: f64,
    row: usize,
}

fn render_grid(
    out: &mut String,
    x: &Scale,
    y: &Scale,
    px: &dyn Fn(f64) -> f64,
    py: &dyn Fn(f64) -> f64,
    frame: Frame,
) {
    let Frame { top, height, .. } = frame;
    out.push_str(r##"<g class="axes" stroke="#ddd" font-size="10" fill="#555">"##);
    for t in y.ticks(5) {
        let ty = py(t);
        let _ = write!(
            out,
            r#"<line x1="{LEFT}" x2="{:.1}" y1="{ty:.1}" y2="{ty:.1}"/><text x="{:.1}" y="{:.1}" text-anchor="end" stroke="none">{}</text>"#,
            WIDTH - RIGHT,
            LEFT - 4.0,
            ty + 3.0,
            tick_label(t)
        );
    }
    for t in x.ticks(10) {
        let tx = px(t);
        let _ = write!(
            out,
            r#"<line x1="{tx:.1}" x2="{tx:.1}" y1="{top}" y2="{:.1}"/><text x="{tx:.1}" y="{:.1}" text-anchor="middle" stroke="none">{}</text>"#,
            height - BOTTOM,
            height - BOTTOM + 13.0,
            tick_label(t)
        );
    }
    out.push_str("</g>");
}

/// The x distance beyond which two successive points are not joined: three
/// times the median spacing (sampling is regular, so this only breaks at
/// real holes). Infinite for short series.
fn gap_threshold(points: &[(f64, f64)]) -> f64 {
    if points.len() < 4 {
        return f64::INFINITY;
    }
    let mut dx: Vec<f64> = points.windows(2).map(|w| w[1].0 - w[0].0).collect();
    dx.sort_by(f64::total_cmp);
    let median = dx[dx.len() / 2];
    if median > 0.0 {
        median * 3.0
    } else {
        f64::INFINITY
    }
}

fn render_series(
    out: &mut String,
    s: &Series,
    colour: &str,
    px: &dyn Fn(f64) -> f64,
    py: &dyn Fn(f64) -> f64,
) {
    if s.points.is_empty() {
        return;
    }
    let _ = write!(
        out,
        r#"<g class="series"><title>{}</title>"#,
        escape(&s.name)
    );
    out.push_str(r#"<path d=""#);
    match s.style {
        Style::Line | Style::Dashed => {
            // A missing sample (a crashed or paused node did not answer) is
            // a gap in the line, not a straight interpolation across it.
            let gap = gap_threshold(&s.points);
            let mut prev_x: Option<f64> = None;
            for &(x, y) in &s.points {
                let joined = prev_x.is_some_and(|p| x - p <= gap);
                out.push(if joined { 'L' } else { 'M' });
                prev_x = Some(x);
                coord(out, px(x));
                out.push(',');
                coord(out, py(y));
            }
            let dash = if s.style == Style::Dashed {
                r#" stroke-dasharray="6 3""#
            } else {
                ""
            };
            let _ = write!(
                out,
                r#"" fill="none" stroke="{colour}" stroke-width="1.5"{dash}/></g>"#
            );
        }
        Style::Points => {
            // Each point is a zero-length segment with a round cap: the
            // most compact dot SVG has (~15 bytes a point).
            for &(x, y) in &s.points {
                out.push('M');
                coord(out, px(x));
                out.push(',');
                coord(out, py(y));
                out.push_str("h0");
            }
            let _ = write!(
                out,
                r#"" stroke="{colour}" stroke-width="3" stroke-linecap="round" stroke-opacity="0.6"/></g>"#
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hole_in_regular_samples_breaks_the_line() {
        let mut points: Vec<(f64, f64)> = (0..10).map(|i| (i as f64, 1.0)).collect();
        points.extend((20..25).map(|i| (i as f64, 1.0)));
        let mut c = Chart::new("t", "y", (0.0, 25.0));
        c.series.push(Series::new("s", Style::Line, points));
        let svg = c.render();
        let path = svg.split("<g class=\"series\">").nth(1).unwrap();
        // Every path starts with a moveto (browsers reject a leading lineto).
        assert!(path.starts_with("<title>s</title><path d=\"M"), "{path}");
        assert_eq!(
            path.matches('M').count(),
            2,
            "one subpath per stretch of samples"
        );
    }

    #[test]
    fn text_in_names_and_fault_details_is_escaped() {
        let mut c = Chart::new("<b>", "y", (0.0, 10.0));
        c.series
            .push(Series::new("<script>", Style::Points, vec![(1.0, 1.0)]));
        c.bands.push(FaultView {
            fault: "<i>".into(),
            start_s: 1.0,
            end_s: 5.0,
            stopped: true,
            detail: "\"<x>\"".into(),
            max_offset_ms: None,
        });
        let svg = c.render();
        assert!(
            !svg.contains("<script>")
                && !svg.contains("<i>")
                && !svg.contains("<x>")
                && !svg.contains("<b>")
        );
        assert!(svg.contains("&lt;script&gt;"));
    }
}
