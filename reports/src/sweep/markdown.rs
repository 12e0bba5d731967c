//! `sweep.md`: the sweep in a few lines and one table, to paste into a
//! design review. Table cells escape `|` so labels cannot break the table.

use super::format;
use super::model::SweepReport;
use std::fmt::Write;

pub fn render(r: &SweepReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "## Sweep `{}`\n", cell(&r.name));
    let seeds: Vec<String> = r.seeds.iter().map(u64::to_string).collect();
    let _ = writeln!(
        s,
        "{} configurations × seeds {}; generated {} by `{}`.\n",
        r.configs.len(),
        seeds.join(", "),
        r.generated_at,
        r.command
    );
    let name = |i: Option<usize>| i.and_then(|i| r.configs.get(i)).map(|c| cell(&c.label));
    match name(r.safest) {
        Some(l) => _ = writeln!(s, "- **Safest:** {l}"),
        None => _ = writeln!(s, "- **Safest:** none ran"),
    }
    match name(r.cheapest_safe) {
        Some(l) => _ = writeln!(s, "- **Cheapest safe:** {l}"),
        None => _ = writeln!(s, "- **Cheapest safe:** no configuration was safe"),
    }
    for rule in &r.ranking_rules {
        let _ = writeln!(s, "- {rule}");
    }
    let points: Vec<String> = r
        .t_visibility_points_ms
        .iter()
        .map(|p| format!("fresh@{p}ms"))
        .collect();
    let _ = writeln!(
        s,
        "\n| configuration | verdicts | lost | resurrected | divergent | convergence after heal | stale reads | {} | AE B/1k ops | RR writes/1k ops | hints/1k ops | p99 | safety |",
        points.join(" | ")
    );
    let columns = 12 + points.len();
    let _ = writeln!(s, "|{}", "---|".repeat(columns));
    for (i, c) in r.configs.iter().enumerate() {
        let mut label = cell(&c.label);
        if r.safest == Some(i) {
            label.push_str(" **(safest)**");
        }
        if r.cheapest_safe == Some(i) {
            label.push_str(" **(cheapest safe)**");
        }
        let tv: Vec<String> = c.t_visibility.iter().map(|v| format::percent(*v)).collect();
        let safety = if c.safety.violations.is_empty() {
            "ok".to_string()
        } else {
            cell(&c.safety.violations.join(" "))
        };
        let _ = writeln!(
            s,
            "| {label} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {safety} |",
            format::verdicts(&c.verdicts),
            c.lost_updates,
            c.resurrections,
            c.divergent_keys,
            format::convergence(&c.convergence),
            format::percent(c.stale_read_rate),
            tv.join(" | "),
            format::figure(c.repair_cost.anti_entropy_bytes_per_kop),
            format::figure(c.repair_cost.read_repair_writes_per_kop),
            format::figure(c.repair_cost.hints_replayed_per_kop),
            c.p99_latency_ms.map_or_else(|| "–".into(), format::ms),
        );
    }
    s
}

/// Text safe inside a Markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}
