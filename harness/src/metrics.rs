//! Node metrics sampled every second during the run into `metrics.jsonl`
//! (the format: [`checkers::metrics_file`]), for the reports and the sweep.
//!
//! A node that does not answer (crashed, paused) simply has no line for that
//! second; the gap is itself information for the charts.

use crate::client::NodeClient;
use crate::node_id::NodeId;
use checkers::metrics_file::{MetricSample, write_sample};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// Parses the Prometheus text exposition: `name{labels} value [timestamp]`
/// lines; comments and unparsable lines are skipped.
pub fn parse_prometheus(text: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        // Label values may contain spaces, so split after the closing brace.
        let (series, rest) = match line.rfind('}') {
            Some(i) => (&line[..=i], &line[i + 1..]),
            None => match line.split_once(char::is_whitespace) {
                Some((s, r)) => (s, r),
                None => continue,
            },
        };
        let value = rest.split_whitespace().next().and_then(|v| match v {
            "+Inf" => Some(f64::INFINITY),
            "-Inf" => Some(f64::NEG_INFINITY),
            v => v.parse::<f64>().ok(),
        });
        if let Some(v) = value.filter(|v| v.is_finite()) {
            out.insert(series.to_string(), v);
        }
    }
    out
}

/// The metric family a node exports its hint backlog in, one series per
/// target replica (docs/node-api.md).
const HINTS_BACKLOG: &str = "converge_hints_backlog";

/// Hints a node holds for replay, summed over its targets. A node that
/// exports no such series holds none: the family is optional, and a node
/// without hinted handoff has nothing to drain.
pub fn hints_backlog(metrics: &BTreeMap<String, f64>) -> u64 {
    metrics
        .iter()
        .filter(|(series, _)| {
            series
                .strip_prefix(HINTS_BACKLOG)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('{'))
        })
        .map(|(_, &n)| n.max(0.0) as u64)
        .sum()
}

/// Samples every node until aborted. `now` is the history's clock.
pub fn spawn_sampler(
    path: &Path,
    clients: BTreeMap<NodeId, NodeClient>,
    now: Arc<dyn Fn() -> u64 + Send + Sync>,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    Ok(tokio::spawn(async move {
        let mut tick = tokio::time::interval(SAMPLE_EVERY);
        loop {
            tick.tick().await;
            for (node, client) in &clients {
                let Ok(text) = client.metrics().await else {
                    continue;
                };
                let sample = MetricSample {
                    time: now(),
                    node: node.as_str().to_string(),
                    metrics: parse_prometheus(&text),
                };
                let _ = write_sample(&mut out, &sample);
            }
            let _ = out.flush();
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_counters_histograms_and_labels_with_spaces() {
        let text = "# HELP converge_ops_total ops\n# TYPE converge_ops_total counter\n\
                    converge_ops_total{op=\"get\",result=\"ok\"} 12\n\
                    converge_keys_live 3.5 1700000000\n\
                    odd{label=\"a b\"} 7\n\
                    converge_op_latency_seconds_bucket{op=\"get\",le=\"+Inf\"} 12\n\
                    garbage\n";
        let m = parse_prometheus(text);
        assert_eq!(m["converge_ops_total{op=\"get\",result=\"ok\"}"], 12.0);
        assert_eq!(m["converge_keys_live"], 3.5);
        assert_eq!(m["odd{label=\"a b\"}"], 7.0);
        assert_eq!(m.len(), 4);
    }

    #[test]
    fn the_hint_backlog_sums_every_target_and_only_that_family() {
        let text = "converge_hints_backlog{target=\"n2\"} 135\n\
                    converge_hints_backlog{target=\"n5\"} 869\n\
                    converge_hints_backlog_total 7\n\
                    converge_hints_stored_total 1000\n";
        assert_eq!(hints_backlog(&parse_prometheus(text)), 1004);
        assert_eq!(
            hints_backlog(&parse_prometheus("converge_hints_backlog 3\n")),
            3
        );
        // A node without the family (no hints, or no hinted handoff) holds none.
        assert_eq!(
            hints_backlog(&parse_prometheus("converge_keys_live 9\n")),
            0
        );
    }
}
