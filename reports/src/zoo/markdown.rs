//! `zoo.md`: the detection table in Markdown, and the number formats the
//! page shares with it.

use super::model::{DetectionRate, ZooReport};

pub(super) fn percent(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

pub(super) fn interval(r: &DetectionRate) -> String {
    format!("{}–{}", percent(r.low), percent(r.high))
}

pub(super) fn seconds(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

pub(super) fn render(report: &ZooReport) -> String {
    let mut out = format!(
        "# Zoo {}\n\nTest: {} — {} seeds per bug. False alarms (clean-node runs not valid): {}.\n\n\
         | bug | detected | 95% interval | caught by | time to detection (median / max) |\n\
         |---|---|---|---|---|\n",
        report.name,
        report.test,
        report.seeds,
        report.false_alarms()
    );
    for b in &report.bugs {
        let caught: Vec<String> = b
            .caught_by
            .iter()
            .map(|c| format!("{} ×{}", c.kind, c.runs))
            .collect();
        let ttd = match (b.ttd_median_ms, b.ttd_max_ms) {
            (Some(m), Some(x)) => format!("{} / {}", seconds(m), seconds(x)),
            _ => "—".into(),
        };
        out.push_str(&format!(
            "| {} | {}/{} ({}) | {} | {} | {} |\n",
            b.bug,
            b.detected,
            b.judged,
            percent(b.rate.rate),
            interval(&b.rate),
            if caught.is_empty() {
                "—".into()
            } else {
                caught.join(", ")
            },
            ttd
        ));
    }
    out.push_str(&format!(
        "\nRerun or resume (runs already in the store are not repeated):\n\n    {}\n",
        report.command
    ));
    out
}
