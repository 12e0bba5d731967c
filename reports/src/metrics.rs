//! Node metrics sampled during the run (metrics.jsonl) turned into series.
//!
//! Each line is one node's `/metrics` at one instant, keyed by the full
//! Prometheus series name (`converge_ops_total{op="get",result="ok"}`); the
//! format is [`checkers::metrics_file`]'s [`MetricSample`]. The
//! charts want one number per node per instant for a *family* of series (all
//! label sets summed), and rates for counters. Metric names are matched by
//! substrings, not exact names, because the repair metrics are still being
//! named and because a third-party node may spell them slightly differently;
//! an absent family simply yields no series.

pub use checkers::metrics_file::MetricSample;
use checkers::metrics_file::counter_increase;
use std::collections::BTreeMap;

/// Which series to pick: every series whose base name (before `{`) contains
/// all of `all`, at least one of `any` (when `any` is non-empty) and none of
/// `none`.
#[derive(Debug, Clone, Copy)]
pub struct FamilyMatcher {
    pub all: &'static [&'static str],
    pub any: &'static [&'static str],
    pub none: &'static [&'static str],
}

impl FamilyMatcher {
    fn matches(&self, series: &str) -> bool {
        let base = base_name(series);
        // Histogram parts are not values of the family.
        if base.ends_with("_bucket") || base.ends_with("_sum") || base.ends_with("_count") {
            return false;
        }
        self.all.iter().all(|s| base.contains(s))
            && (self.any.is_empty() || self.any.iter().any(|s| base.contains(s)))
            && !self.none.iter().any(|s| base.contains(s))
    }
}

/// The metric name without its labels.
pub fn base_name(series: &str) -> &str {
    series.split('{').next().unwrap_or(series)
}

/// A time series per node: (seconds since test start, value).
pub type NodeSeries = BTreeMap<String, Vec<(f64, f64)>>;

/// Sums the matching series of each sample, per node, in time order.
/// Nodes with no matching series at all are left out.
pub fn gauge_per_node(samples: &[MetricSample], family: FamilyMatcher) -> NodeSeries {
    let mut out: NodeSeries = BTreeMap::new();
    for s in samples {
        let mut sum = None;
        for (name, v) in &s.metrics {
            if family.matches(name) && v.is_finite() {
                *sum.get_or_insert(0.0) += v;
            }
        }
        if let Some(v) = sum {
            out.entry(s.node.clone())
                .or_default()
                .push((s.time as f64 / 1e9, v));
        }
    }
    for series in out.values_mut() {
        series.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    out
}

/// Per-second rates of the matching counters, per node. A counter that goes
/// down was reset (the node restarted): see [`counter_increase`].
pub fn rate_per_node(samples: &[MetricSample], family: FamilyMatcher) -> NodeSeries {
    let totals = gauge_per_node(samples, family);
    totals
        .into_iter()
        .map(|(node, points)| {
            let rates = points
                .windows(2)
                .filter_map(|w| {
                    let (t0, v0) = w[0];
                    let (t1, v1) = w[1];
                    let dt = t1 - t0;
                    if dt <= 0.0 {
                        return None;
                    }
                    Some((t1, counter_increase(v0, v1) / dt))
                })
                .collect();
            (node, rates)
        })
        .collect()
}

/// Adds the per-node series into one cluster-wide series, aligning samples
/// by rounding to the sampling second.
pub fn cluster_total(per_node: &NodeSeries) -> Vec<(f64, f64)> {
    let mut by_second: BTreeMap<i64, f64> = BTreeMap::new();
    for points in per_node.values() {
        for &(t, v) in points {
            *by_second.entry(t.round() as i64).or_insert(0.0) += v;
        }
    }
    by_second.into_iter().map(|(t, v)| (t as f64, v)).collect()
}

/// The metric families the report charts. Gauges exclude `_total` series:
/// a counter such as `converge_hints_stored_total` is not a backlog.
pub mod families {
    use super::FamilyMatcher;

    pub const HINT_BACKLOG: FamilyMatcher = FamilyMatcher {
        all: &["hint"],
        any: &["backlog", "pending", "queued"],
        none: &["_total"],
    };
    pub const MISMATCHED_RANGES: FamilyMatcher = FamilyMatcher {
        all: &["mismatch"],
        any: &[],
        none: &["_total"],
    };
    /// The counter form, charted as a rate when the node has no gauge.
    pub const MISMATCHED_RANGES_TOTAL: FamilyMatcher = FamilyMatcher {
        all: &["mismatch", "_total"],
        any: &[],
        none: &[],
    };
    pub const KEYS_REPAIRED: FamilyMatcher = FamilyMatcher {
        all: &["repaired"],
        any: &[],
        none: &[],
    };
    pub const ANTI_ENTROPY_BYTES: FamilyMatcher = FamilyMatcher {
        all: &["anti_entropy", "bytes"],
        any: &[],
        none: &[],
    };
    /// Repairs, not the replicas each repair touched.
    pub const READ_REPAIRS: FamilyMatcher = FamilyMatcher {
        all: &["read_repair"],
        any: &[],
        none: &["replicas"],
    };
    pub const HINTS_REPLAYED: FamilyMatcher = FamilyMatcher {
        all: &["hint"],
        any: &["replayed", "delivered", "handed"],
        none: &[],
    };
    pub const CLOCK_OFFSET: FamilyMatcher = FamilyMatcher {
        all: &["clock_offset"],
        any: &[],
        none: &[],
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(time_s: u64, node: &str, pairs: &[(&str, f64)]) -> MetricSample {
        MetricSample {
            time: time_s * 1_000_000_000,
            node: node.into(),
            metrics: pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        }
    }

    #[test]
    fn counters_become_rates_and_resets_count_from_zero() {
        let s = [
            sample(
                1,
                "n1",
                &[("converge_read_repairs_total{op=\"get\"}", 10.0)],
            ),
            sample(
                2,
                "n1",
                &[("converge_read_repairs_total{op=\"get\"}", 30.0)],
            ),
            sample(3, "n1", &[("converge_read_repairs_total{op=\"get\"}", 5.0)]),
        ];
        let r = rate_per_node(&s, families::READ_REPAIRS);
        assert_eq!(r["n1"], vec![(2.0, 20.0), (3.0, 5.0)]);
    }

    #[test]
    fn label_sets_are_summed_and_histogram_parts_ignored() {
        let s = [sample(
            1,
            "n2",
            &[
                ("converge_hints_backlog{peer=\"n1\"}", 3.0),
                ("converge_hints_backlog{peer=\"n3\"}", 4.0),
                ("converge_hints_backlog_bucket{le=\"1\"}", 100.0),
            ],
        )];
        assert_eq!(
            gauge_per_node(&s, families::HINT_BACKLOG)["n2"],
            vec![(1.0, 7.0)]
        );
        assert!(gauge_per_node(&s, families::MISMATCHED_RANGES).is_empty());
        let counter_only = [sample(1, "n1", &[("converge_hints_stored_total", 9.0)])];
        assert!(gauge_per_node(&counter_only, families::HINT_BACKLOG).is_empty());
    }
}
