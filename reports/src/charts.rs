//! The report's charts, each built from the run data into an SVG element or,
//! when its data is absent, a note saying what is missing and why.

use crate::metrics::{self, FamilyMatcher, families};
use crate::nemesis::FaultView;
use crate::ops::Op;
use crate::stats::{self, Buckets};
use crate::svg::axis::Scale;
use crate::svg::chart::{Chart, Marker, Series, Style};
use checkers::history::FinalSummary;
use serde::Serialize;
use serde_json::Value;

/// One chart as the template shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ChartView {
    /// HTML id, also the section anchor.
    pub id: &'static str,
    pub title: &'static str,
    /// What to read from it, one sentence.
    pub caption: String,
    /// The `<svg>` (trusted markup: every text in it is escaped by `svg`).
    pub svg: Option<String>,
    /// Shown instead of, or under, the chart.
    pub note: Option<String>,
}

impl ChartView {
    fn from_chart(
        id: &'static str,
        title: &'static str,
        caption: String,
        chart: Chart,
        missing: &str,
    ) -> Self {
        if !chart.has_data() {
            return ChartView {
                id,
                title,
                caption,
                svg: None,
                note: Some(missing.to_string()),
            };
        }
        // Series without data are left out of the chart and named here, so
        // an absent metric reads as absent, not as a flat zero.
        let absent: Vec<&str> = chart
            .series
            .iter()
            .filter(|s| s.points.is_empty())
            .map(|s| s.name.as_str())
            .collect();
        let note = (!absent.is_empty()).then(|| format!("No data for: {}.", absent.join(", ")));
        ChartView {
            id,
            title,
            caption,
            svg: Some(chart.render()),
            note,
        }
    }
}

/// What every chart needs.
pub struct ChartInputs<'a> {
    pub ops: &'a [Op],
    pub faults: &'a [FaultView],
    pub samples: &'a [metrics::MetricSample],
    pub summary: Option<&'a FinalSummary>,
    /// Every checker's `details`, for the staleness figures.
    pub details: Vec<&'a Value>,
    pub run_end_s: f64,
}

pub fn build_all(inp: &ChartInputs) -> Vec<ChartView> {
    let b = Buckets::for_duration(inp.run_end_s);
    vec![
        latency(inp, b),
        throughput(inp, b),
        availability(inp, b),
        divergence(inp),
        convergence(inp),
        repair_bytes(inp),
        repair_events(inp),
        clock_offsets(inp),
        staleness(inp),
    ]
}

fn base_chart(inp: &ChartInputs, title: &str, y_label: &str) -> Chart {
    let mut c = Chart::new(title, y_label, (0.0, inp.run_end_s));
    c.bands = inp.faults.to_vec();
    c
}

const NO_HISTORY: &str = "No completed client ops in the history, so there is nothing to plot.";

fn class_colour(class: &str) -> &'static str {
    match class {
        "read ok" => "#1f77b4",
        "write ok" => "#2ca02c",
        "delete ok" => "#9467bd",
        c if c.ends_with("info") => "#ff7f0e",
        c if c.ends_with("fail") => "#d62728",
        _ => "#7f7f7f",
    }
}

fn latency(inp: &ChartInputs, b: Buckets) -> ChartView {
    let mut c = base_chart(inp, "Latency", "latency (ms)");
    let points = stats::latency_points(inp.ops, b);
    let lines = stats::percentile_lines(inp.ops, b);
    let ms = |v: Vec<(f64, f64)>| v.into_iter().map(|(x, y)| (x, y * 1e3)).collect::<Vec<_>>();
    c.y_scale = Some(Scale::log_from(
        points.values().flatten().map(|p| p.1 * 1e3),
    ));
    for (class, pts) in points {
        let colour = class_colour(&class);
        c.series
            .push(Series::new(class, Style::Points, ms(pts)).colour(colour));
    }
    c.series
        .push(Series::new("p50 (ok)", Style::Line, ms(lines.p50)).colour("#222222"));
    c.series
        .push(Series::new("p95 (ok)", Style::Dashed, ms(lines.p95)).colour("#555555"));
    c.series
        .push(Series::new("p99 (ok)", Style::Dashed, ms(lines.p99)).colour("#999999"));
    let caption = format!(
        "Each dot is one op (invoke time, latency; log scale), coloured by op and outcome; \
         lines are per-{}s percentiles of ok ops. Dense runs are downsampled, keeping each interval's slowest op.",
        b.width_s
    );
    ChartView::from_chart("latency", "Latency over time", caption, c, NO_HISTORY)
}

fn throughput(inp: &ChartInputs, b: Buckets) -> ChartView {
    let t = stats::throughput(inp.ops, b);
    let mut c = base_chart(inp, "Throughput", "ops/s");
    c.series
        .push(Series::new("ok", Style::Line, t.ok).colour("#2a9d8f"));
    c.series
        .push(Series::new("info (indeterminate)", Style::Line, t.info).colour("#ff7f0e"));
    c.series
        .push(Series::new("fail", Style::Line, t.fail).colour("#d62728"));
    let caption = "Completed ops per second by outcome.".to_string();
    ChartView::from_chart("throughput", "Throughput", caption, c, NO_HISTORY)
}

fn availability(inp: &ChartInputs, b: Buckets) -> ChartView {
    let t = stats::throughput(inp.ops, b);
    let mut c = base_chart(inp, "Availability", "% of ops ok");
    c.y_scale = Some(Scale::Linear {
        min: 0.0,
        max: 100.0,
    });
    c.series
        .push(Series::new("ok share", Style::Line, t.availability).colour("#264653"));
    let caption = "Share of completed ops that succeeded, per interval.".to_string();
    ChartView::from_chart("availability", "Availability", caption, c, NO_HISTORY)
}

const NO_METRICS: &str = "metrics.jsonl has none of these series (the node does not export them, or sampling did not run).";

fn cluster(inp: &ChartInputs, f: FamilyMatcher, rate: bool) -> Vec<(f64, f64)> {
    let per_node = if rate {
        metrics::rate_per_node(inp.samples, f)
    } else {
        metrics::gauge_per_node(inp.samples, f)
    };
    metrics::cluster_total(&per_node)
}

fn divergence_series(inp: &ChartInputs) -> Vec<Series> {
    let mismatched = cluster(inp, families::MISMATCHED_RANGES, false);
    let mismatched_rate = cluster(inp, families::MISMATCHED_RANGES_TOTAL, true);
    let mismatched = if mismatched.is_empty() && !mismatched_rate.is_empty() {
        Series::new("mismatched ranges/s", Style::Line, mismatched_rate)
    } else {
        Series::new("mismatched ranges", Style::Line, mismatched)
    };
    vec![
        Series::new(
            "hint backlog",
            Style::Line,
            cluster(inp, families::HINT_BACKLOG, false),
        ),
        mismatched,
        Series::new(
            "keys repaired/s",
            Style::Line,
            cluster(inp, families::KEYS_REPAIRED, true),
        ),
    ]
}

fn heal_markers(inp: &ChartInputs) -> Vec<Marker> {
    let mut m = Vec::new();
    if let Some(s) = inp.summary {
        m.push(Marker {
            x: s.healed_at as f64 / 1e9,
            label: "final heal".into(),
        });
        if let Some(c) = s.converged_at {
            m.push(Marker {
                x: c as f64 / 1e9,
                label: "converged".into(),
            });
        }
    }
    m
}

fn divergence(inp: &ChartInputs) -> ChartView {
    let mut c = base_chart(inp, "Divergence", "count (cluster total)");
    c.series = divergence_series(inp);
    c.markers = heal_markers(inp);
    let caption = "How far replicas are apart, from node metrics summed over nodes: hints waiting for delivery, \
                   Merkle ranges found different by anti-entropy, and keys repaired per second."
        .to_string();
    ChartView::from_chart("divergence", "Divergence over time", caption, c, NO_METRICS)
}

fn convergence(inp: &ChartInputs) -> ChartView {
    let Some(s) = inp.summary else {
        return ChartView {
            id: "convergence",
            title: "Convergence after the final heal",
            caption: String::new(),
            svg: None,
            note: Some("final-state.jsonl has no summary line, so the convergence wait's outcome is unknown.".into()),
        };
    };
    let healed = s.healed_at as f64 / 1e9;
    let end = s
        .converged_at
        .map(|c| c as f64 / 1e9)
        .unwrap_or(inp.run_end_s)
        .max(healed);
    let from = (healed - 5.0).max(0.0);
    let to = (end + (end - healed) * 0.2)
        .max(healed + 1.0)
        .max(inp.run_end_s.min(end + 5.0));
    let mut c = Chart::new("Convergence", "count (cluster total)", (from, to));
    c.bands = inp.faults.to_vec();
    c.markers = heal_markers(inp);
    c.series = divergence_series(inp)
        .into_iter()
        .map(|mut se| {
            se.points.retain(|p| p.0 >= from && p.0 <= to);
            se
        })
        .collect();
    let caption = match s.converged_at {
        Some(at) if s.converged => format!(
            "All replicas agreed {:.2} s after the final heal.",
            (at.saturating_sub(s.healed_at)) as f64 / 1e9
        ),
        _ if s.converged => "All replicas agreed after the final heal.".to_string(),
        _ => format!(
            "Replicas still disagreed when the convergence wait gave up, {:.1} s after the final heal.",
            end - healed
        ),
    };
    let mut view = ChartView::from_chart(
        "convergence",
        "Convergence after the final heal",
        caption.clone(),
        c,
        "No divergence metrics were sampled after the final heal; the verdict above comes from the final replica dumps.",
    );
    if view.svg.is_none() {
        view.note = Some(format!("{caption} {}", view.note.unwrap_or_default()));
    }
    view
}

fn repair_bytes(inp: &ChartInputs) -> ChartView {
    let mut c = base_chart(inp, "Anti-entropy traffic", "bytes/s");
    c.series.push(Series::new(
        "anti-entropy bytes/s",
        Style::Line,
        cluster(inp, families::ANTI_ENTROPY_BYTES, true),
    ));
    let caption =
        "Bytes per second exchanged by anti-entropy (Merkle trees and repaired values), all nodes."
            .to_string();
    ChartView::from_chart("repair-traffic", "Repair traffic", caption, c, NO_METRICS)
}

fn repair_events(inp: &ChartInputs) -> ChartView {
    let mut c = base_chart(inp, "Repair events", "per second");
    c.series.push(Series::new(
        "read repairs/s",
        Style::Line,
        cluster(inp, families::READ_REPAIRS, true),
    ));
    c.series.push(Series::new(
        "hints replayed/s",
        Style::Line,
        cluster(inp, families::HINTS_REPLAYED, true),
    ));
    let caption = "Read repairs and hinted-handoff replays per second, all nodes.".to_string();
    ChartView::from_chart(
        "repair-events",
        "Read repair and hinted handoff",
        caption,
        c,
        NO_METRICS,
    )
}

fn clock_offsets(inp: &ChartInputs) -> ChartView {
    let mut c = base_chart(inp, "Clock offset", "offset (ms)");
    let per_node = metrics::gauge_per_node(inp.samples, families::CLOCK_OFFSET);
    let values = per_node.values().flatten().map(|p| p.1);
    let (lo, hi) = values.fold((0.0f64, 0.0f64), |(l, h), v| (l.min(v), h.max(v)));
    let pad = ((hi - lo) * 0.1).max(1.0);
    c.y_scale = Some(Scale::Linear {
        min: lo - pad,
        max: hi + pad,
    });
    for (node, points) in per_node {
        c.series.push(Series::new(node, Style::Line, points));
    }
    let caption = "Each node's wall-clock offset as set by the clock nemesis.".to_string();
    ChartView::from_chart("clock", "Clock offset per node", caption, c, NO_METRICS)
}

/// Finds staleness figures (t-visibility) in the checkers' details: every
/// array under a key mentioning "visibility", whose items are `[ms, share]`
/// pairs or objects with a time field and a share field (the staleness
/// checker writes `{"from_ms", "to_ms", "reads", "fresh", "fresh_share"}`
/// under `all.t_visibility` and `outside_faults.t_visibility`). Returns one
/// series per array, named by the path to it; shares are in percent.
pub fn staleness_series(details: &[&Value]) -> Vec<(String, Vec<(f64, f64)>)> {
    fn field(obj: &serde_json::Map<String, Value>, preferred: &[&str]) -> Option<f64> {
        preferred
            .iter()
            .find_map(|n| obj.get(*n).and_then(Value::as_f64))
    }
    fn item_point(v: &Value) -> Option<(f64, f64)> {
        if let Some([a, b]) = v.as_array().map(Vec::as_slice) {
            return Some((a.as_f64()?, b.as_f64()?));
        }
        let obj = v.as_object()?;
        // A bucket is plotted at its upper bound; the open last one at its lower.
        let t = field(obj, &["to_ms", "after_ms", "ms", "t_ms", "from_ms"])?;
        let share = field(obj, &["fresh_share", "share", "fraction", "fresh_fraction"])?;
        Some((t, share))
    }
    fn walk(path: &str, v: &Value, out: &mut Vec<(String, Vec<(f64, f64)>)>) {
        match v {
            Value::Object(map) => {
                for (k, child) in map {
                    if k.to_ascii_lowercase().contains("visibility")
                        && let Some(items) = child.as_array()
                    {
                        let points: Vec<(f64, f64)> = items.iter().filter_map(item_point).collect();
                        if !points.is_empty() {
                            let name = if path.is_empty() {
                                "reads".to_string()
                            } else {
                                path.replace('_', " ")
                            };
                            out.push((name, points));
                        }
                    } else {
                        let sub = if path.is_empty() {
                            k.clone()
                        } else {
                            format!("{path}.{k}")
                        };
                        walk(&sub, child, out);
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|i| walk(path, i, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for d in details {
        walk("", d, &mut out);
    }
    for (_, points) in &mut out {
        // Shares may be fractions or percents; chart them as percents.
        if points.iter().all(|p| p.1 <= 1.0) {
            points.iter_mut().for_each(|p| p.1 *= 100.0);
        }
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    out
}

fn staleness(inp: &ChartInputs) -> ChartView {
    let series = staleness_series(&inp.details);
    let max_x = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|p| p.0))
        .fold(1.0f64, f64::max);
    let mut c = Chart::new("Staleness", "% of reads fresh", (0.0, max_x));
    c.x_label = "ms since the newer write completed (log scale)".into();
    c.x_scale = Some(Scale::log_from(
        series.iter().flat_map(|(_, p)| p.iter().map(|p| p.0)),
    ));
    // Fresh shares are usually high: start the axis a little below the
    // lowest one so differences between buckets stay visible.
    let lowest = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|p| p.1))
        .fold(100.0f64, f64::min);
    let floor = (((lowest - 5.0) / 10.0).floor() * 10.0).clamp(0.0, 90.0);
    c.y_scale = Some(Scale::Linear {
        min: floor,
        max: 100.0,
    });
    for (name, points) in series {
        // A log axis cannot place 0 ms; such a bucket sits at the left edge.
        c.series.push(Series::new(
            format!("fresh reads ({name})"),
            Style::Line,
            points,
        ));
    }
    ChartView::from_chart(
        "staleness",
        "Staleness",
        "Share of reads that returned the newest value, by how long before the read the newer write had completed: \
         how soon a write becomes visible to every reader (t-visibility)."
            .to_string(),
        c,
        "No checker reported staleness figures (t-visibility) in results.json.",
    )
}
