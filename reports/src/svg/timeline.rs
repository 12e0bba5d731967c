//! The small timeline drawn for each example anomaly: one row per op
//! involved (invoke → complete) over the nemesis windows around them, so a
//! reader sees at a glance that, say, both writes happened during a clock
//! fault on different sides of a partition.

use super::{coord, escape, fault_colour};
use crate::nemesis::FaultView;
use crate::ops::Outcome;
use std::fmt::Write;

const WIDTH: f64 = 960.0;
const LABEL_W: f64 = 470.0;
const ROW_H: f64 = 20.0;
const TOP: f64 = 16.0;
const RIGHT: f64 = 12.0;

/// One op as a timeline row.
#[derive(Debug, Clone)]
pub struct TimelineRow {
    /// e.g. `p3 → n2  write k12 = "3-0"  ok`.
    pub label: String,
    pub start_s: f64,
    /// `None`: never completed; the bar runs to the right edge.
    pub end_s: Option<f64>,
    pub outcome: Outcome,
}

fn outcome_colour(o: Outcome) -> &'static str {
    match o {
        Outcome::Ok => "#2a9d8f",
        Outcome::Fail => "#6c757d",
        Outcome::Info => "#e9c46a",
        Outcome::Pending => "#adb5bd",
    }
}

/// Renders the rows against the fault windows that overlap them.
pub fn render(rows: &[TimelineRow], faults: &[FaultView]) -> String {
    let (mut lo, mut hi) = (f64::MAX, f64::MIN);
    for r in rows {
        lo = lo.min(r.start_s);
        hi = hi.max(r.end_s.unwrap_or(r.start_s));
    }
    if lo > hi {
        return String::new();
    }
    // Pad so instantaneous ops and nearby fault edges stay visible.
    let pad = ((hi - lo) * 0.1).max(0.05);
    let (lo, hi) = (lo - pad, hi + pad);
    let plot_w = WIDTH - LABEL_W - RIGHT;
    let px = |t: f64| LABEL_W + ((t - lo) / (hi - lo)).clamp(0.0, 1.0) * plot_w;
    let height = TOP + ROW_H * rows.len() as f64 + 18.0;

    let mut out = String::with_capacity(1024 + rows.len() * 200);
    let _ = write!(
        out,
        r#"<svg class="timeline" viewBox="0 0 {WIDTH} {height:.0}" width="100%" xmlns="http://www.w3.org/2000/svg">"#
    );
    for f in faults.iter().filter(|f| f.overlaps(lo, hi)) {
        let x0 = px(f.start_s);
        let _ = write!(
            out,
            r#"<g><title>{} {:.3}s–{:.3}s {}</title><rect x=""#,
            escape(&f.fault),
            f.start_s,
            f.end_s,
            escape(&f.detail)
        );
        coord(&mut out, x0);
        let _ = write!(out, r#"" y="{TOP}" width=""#);
        coord(&mut out, (px(f.end_s) - x0).max(1.5));
        let _ = write!(
            out,
            r##"" height="{:.1}" fill="{}" fill-opacity="0.35"/><text x="{:.1}" y="11" font-size="10" fill="#444">{}</text></g>"##,
            ROW_H * rows.len() as f64,
            fault_colour(&f.fault),
            x0.max(LABEL_W) + 2.0,
            escape(&f.fault)
        );
    }
    for (i, r) in rows.iter().enumerate() {
        let y = TOP + ROW_H * i as f64;
        let x0 = px(r.start_s);
        let x1 = r.end_s.map(&px).unwrap_or(WIDTH - RIGHT);
        let short: String = if r.label.chars().count() > 72 {
            let cut: String = r.label.chars().take(71).collect();
            format!("{cut}…")
        } else {
            r.label.clone()
        };
        let end = r
            .end_s
            .map(|e| format!("{e:.3}s"))
            .unwrap_or_else(|| "never completed".into());
        let _ = write!(
            out,
            r#"<g><title>{} ({:.3}s → {})</title><text x="4" y="{:.1}" font-size="11" font-family="monospace">{}</text><rect x=""#,
            escape(&r.label),
            r.start_s,
            end,
            y + 14.0,
            escape(&short)
        );
        coord(&mut out, x0);
        let _ = write!(out, r#"" y="{:.1}" width=""#, y + 4.0);
        coord(&mut out, (x1 - x0).max(2.0));
        let _ = write!(
            out,
            r#"" height="12" rx="2" fill="{}"/></g>"#,
            outcome_colour(r.outcome)
        );
    }
    let _ = write!(
        out,
        r##"<text x="{LABEL_W}" y="{:.1}" font-size="10" fill="#555">{lo:.3}s</text><text x="{:.1}" y="{:.1}" font-size="10" fill="#555" text-anchor="end">{hi:.3}s</text></svg>"##,
        height - 4.0,
        WIDTH - RIGHT,
        height - 4.0
    );
    out
}
