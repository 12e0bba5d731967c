//! `sweep.html`: the view the template reads, and the comparison charts.
//!
//! Every number is formatted here (see [`super::format`]) so the template
//! only lays out strings; tera escapes them all, and the only `safe` values
//! are the charts' SVG, which [`crate::svg`] escapes as it writes.

use super::format;
use super::model::{ConfigSummary, SweepReport};
use crate::ReportError;
use crate::svg::bars::{BarChart, BarRow};
use serde::Serialize;

#[derive(Serialize)]
struct Page {
    name: String,
    matrix_file: String,
    command: String,
    generated_at: String,
    seeds: String,
    axes: Vec<Setting>,
    points: Vec<String>,
    safest: Option<Highlight>,
    cheapest_safe: Option<Highlight>,
    ranking_rules: Vec<String>,
    safe_count: usize,
    rows: Vec<Row>,
    charts: Vec<ChartView>,
}

/// A name and its value (tera reads fields more clearly than tuples).
#[derive(Serialize)]
struct Setting {
    name: String,
    value: String,
}

#[derive(Serialize)]
struct Highlight {
    label: String,
    why: String,
}

#[derive(Serialize)]
struct ChartView {
    caption: String,
    svg: String,
}

#[derive(Serialize)]
struct Row {
    label: String,
    settings: Vec<Setting>,
    marks: Vec<String>,
    class: &'static str,
    verdicts: String,
    safe: bool,
    lost: u64,
    resurrected: u64,
    divergent: u64,
    convergence: String,
    stale: String,
    t_visibility: Vec<String>,
    ae_bytes: String,
    rr_writes: String,
    hints: String,
    p99: String,
    safety: Safety,
    runs: Vec<RunRow>,
}

#[derive(Serialize)]
struct Safety {
    gc_grace: String,
    longest_partition: String,
    repair_lag: String,
    skew: String,
    required: String,
    tombstone_ok: bool,
    hints: String,
    hints_ok: bool,
    violations: Vec<String>,
}

#[derive(Serialize)]
struct RunRow {
    seed: u64,
    link: String,
    dir: String,
    verdict: String,
    anomalies: String,
    convergence: String,
}

pub fn render(report: &SweepReport, store_link: &str) -> Result<String, ReportError> {
    let highlight = |i: Option<usize>, why: &str| {
        i.and_then(|i| report.configs.get(i)).map(|c| Highlight {
            label: c.label.clone(),
            why: format!("{why}: {}", summary_line(c)),
        })
    };
    let page = Page {
        name: report.name.clone(),
        matrix_file: report.matrix_file.clone(),
        command: report.command.clone(),
        generated_at: report.generated_at.clone(),
        seeds: report
            .seeds
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        axes: report
            .axes
            .iter()
            .map(|a| Setting {
                name: a.name.clone(),
                value: a.values.join(" · "),
            })
            .collect(),
        points: report
            .t_visibility_points_ms
            .iter()
            .map(|p| format!("fresh at {p} ms"))
            .collect(),
        safest: highlight(report.safest, "fewest anomalies, fastest convergence"),
        cheapest_safe: highlight(report.cheapest_safe, "least repair traffic while safe"),
        ranking_rules: report.ranking_rules.clone(),
        safe_count: report.configs.iter().filter(|c| c.safe).count(),
        rows: report
            .configs
            .iter()
            .enumerate()
            .map(|(i, c)| row(report, i, c, store_link))
            .collect(),
        charts: charts(report),
    };
    crate::templates::render("sweep.html", &page)
}

fn summary_line(c: &ConfigSummary) -> String {
    format!(
        "{}; anomalies {}; convergence {}; anti-entropy {} B, read-repair writes {}, hints {} per 1,000 ops",
        format::verdicts(&c.verdicts),
        format::anomalies(c),
        format::convergence(&c.convergence),
        format::figure(c.repair_cost.anti_entropy_bytes_per_kop),
        format::figure(c.repair_cost.read_repair_writes_per_kop),
        format::figure(c.repair_cost.hints_replayed_per_kop),
    )
}

fn row(report: &SweepReport, i: usize, c: &ConfigSummary, store_link: &str) -> Row {
    let mut marks = Vec::new();
    if report.safest == Some(i) {
        marks.push("safest".to_string());
    }
    if report.cheapest_safe == Some(i) {
        marks.push("cheapest safe".to_string());
    }
    let s = &c.safety;
    Row {
        label: c.label.clone(),
        settings: c
            .settings
            .iter()
            .map(|(name, value)| Setting {
                name: name.clone(),
                value: value.clone(),
            })
            .collect(),
        marks,
        class: format::verdict_class(&c.verdicts),
        verdicts: format::verdicts(&c.verdicts),
        safe: c.safe,
        lost: c.lost_updates,
        resurrected: c.resurrections,
        divergent: c.divergent_keys,
        convergence: format::convergence(&c.convergence),
        stale: format::percent(c.stale_read_rate),
        t_visibility: c.t_visibility.iter().map(|v| format::percent(*v)).collect(),
        ae_bytes: format::figure(c.repair_cost.anti_entropy_bytes_per_kop),
        rr_writes: format::figure(c.repair_cost.read_repair_writes_per_kop),
        hints: format::figure(c.repair_cost.hints_replayed_per_kop),
        p99: c.p99_latency_ms.map_or_else(|| "–".into(), format::ms),
        safety: Safety {
            gc_grace: format::secs(s.gc_grace_s),
            longest_partition: format::secs(s.longest_partition_s),
            repair_lag: format::secs(s.repair_lag_s),
            skew: format::secs(s.clock_skew_budget_s),
            required: format::secs(s.required_gc_grace_s),
            tombstone_ok: s.tombstone_rule_ok,
            hints: if s.hints_enabled {
                format!("window {}", format::secs(s.hints_window_s))
            } else {
                "off".into()
            },
            hints_ok: s.hints_rule_ok,
            violations: s.violations.clone(),
        },
        runs: c
            .runs
            .iter()
            .map(|r| RunRow {
                seed: r.seed,
                link: format!("{store_link}/{}/", r.run_dir),
                dir: r.run_dir.clone(),
                verdict: r.verdict.clone(),
                anomalies: format!(
                    "{} lost, {} resurrected, {} divergent",
                    r.lost_updates, r.resurrections, r.divergent_keys
                ),
                convergence: r
                    .convergence_ms
                    .map_or_else(|| "did not converge".into(), format::ms),
            })
            .collect(),
    }
}

fn charts(report: &SweepReport) -> Vec<ChartView> {
    let marked = |i: usize| report.safest == Some(i) || report.cheapest_safe == Some(i);
    let bars = |title: &str, unit: &str, f: &dyn Fn(&ConfigSummary) -> BarRow| {
        BarChart {
            title: title.into(),
            unit: unit.into(),
            rows: report
                .configs
                .iter()
                .enumerate()
                .map(|(i, c)| BarRow {
                    label: c.label.clone(),
                    highlight: marked(i),
                    ..f(c)
                })
                .collect(),
        }
        .render()
    };
    let convergence = bars("Convergence time after heal", "mean, 95% CI, ms", &|c| {
        let conv = &c.convergence;
        let note = (conv.converged_runs < conv.runs).then(|| {
            format!(
                "{}/{} seeds did not converge",
                conv.runs - conv.converged_runs,
                conv.runs
            )
        });
        BarRow {
            value: conv.mean_ms,
            interval: conv.ci95_ms.map(|(lo, hi)| (lo.max(0.0), hi)),
            note,
            ..Default::default()
        }
    });
    let cost = |title: &str, f: fn(&ConfigSummary) -> f64| {
        bars(title, "per 1,000 client ops", &|c| BarRow {
            value: Some(f(c)),
            ..Default::default()
        })
    };
    vec![
        ChartView {
            caption: "Time from the final heal until every replica agreed, with no client reads (so only background repair counts). Highlighted: the safest and the cheapest safe configuration.".into(),
            svg: convergence,
        },
        ChartView {
            caption: "Anti-entropy bytes sent (all nodes).".into(),
            svg: cost("Anti-entropy traffic", |c| c.repair_cost.anti_entropy_bytes_per_kop),
        },
        ChartView {
            caption: "Replica writes made by read repair (all nodes).".into(),
            svg: cost("Read-repair writes", |c| c.repair_cost.read_repair_writes_per_kop),
        },
        ChartView {
            caption: "Hints replayed by hinted handoff (all nodes).".into(),
            svg: cost("Hints replayed", |c| c.repair_cost.hints_replayed_per_kop),
        },
        ChartView {
            caption: "p99 latency of successful client ops (worst op type), mean over seeds.".into(),
            svg: bars("p99 latency", "ms", &|c| BarRow {
                value: c.p99_latency_ms,
                ..Default::default()
            }),
        },
    ]
}
