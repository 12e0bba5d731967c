//! Per-time-bucket figures computed from the ops, and the downsampling that
//! keeps a million-op run's charts small.
//!
//! Buckets are one second wide, widened for long runs so a chart never has
//! more than [`MAX_BUCKETS`] columns. Latency *points* are downsampled per
//! (op, outcome) class: each bucket keeps its slowest op of the class (so no
//! outlier disappears) plus an even stride of the rest up to a per-class cap.
//! Percentile lines and counts always use every op.

use crate::ops::{Op, Outcome};
use std::collections::BTreeMap;

/// At most this many time buckets per chart.
pub const MAX_BUCKETS: usize = 600;
/// At most this many strided latency points per (op, outcome) class.
const STRIDED_POINTS_PER_CLASS: usize = 800;

/// Time bucketing for a run of `duration_s` seconds.
#[derive(Debug, Clone, Copy)]
pub struct Buckets {
    pub width_s: f64,
    pub count: usize,
}

impl Buckets {
    pub fn for_duration(duration_s: f64) -> Buckets {
        let d = duration_s.max(1.0);
        let width_s = (d / MAX_BUCKETS as f64).ceil().max(1.0);
        Buckets {
            width_s,
            count: (d / width_s).ceil() as usize + 1,
        }
    }

    pub fn of(&self, t_s: f64) -> usize {
        ((t_s.max(0.0) / self.width_s) as usize).min(self.count - 1)
    }

    /// The x value plotted for bucket `i` (its middle).
    pub fn x(&self, i: usize) -> f64 {
        (i as f64 + 0.5) * self.width_s
    }
}

/// Completions per bucket by outcome, as rates per second.
#[derive(Debug, Default)]
pub struct Throughput {
    pub ok: Vec<(f64, f64)>,
    pub fail: Vec<(f64, f64)>,
    pub info: Vec<(f64, f64)>,
    /// Share of completed ops that were ok, in percent (buckets with ops only).
    pub availability: Vec<(f64, f64)>,
}

pub fn throughput(ops: &[Op], b: Buckets) -> Throughput {
    let mut counts = vec![[0u64; 3]; b.count];
    for op in ops {
        let Some(t) = op.complete_time else { continue };
        let slot = match op.outcome {
            Outcome::Ok => 0,
            Outcome::Fail => 1,
            Outcome::Info => 2,
            Outcome::Pending => continue,
        };
        counts[b.of(t as f64 / 1e9)][slot] += 1;
    }
    let mut out = Throughput::default();
    for (i, c) in counts.iter().enumerate() {
        let x = b.x(i);
        out.ok.push((x, c[0] as f64 / b.width_s));
        out.fail.push((x, c[1] as f64 / b.width_s));
        out.info.push((x, c[2] as f64 / b.width_s));
        let total = c.iter().sum::<u64>();
        if total > 0 {
            out.availability
                .push((x, 100.0 * c[0] as f64 / total as f64));
        }
    }
    out
}

/// Latency percentile lines (seconds) over ok ops, per bucket.
#[derive(Debug, Default)]
pub struct PercentileLines {
    pub p50: Vec<(f64, f64)>,
    pub p95: Vec<(f64, f64)>,
    pub p99: Vec<(f64, f64)>,
}

pub fn percentile_lines(ops: &[Op], b: Buckets) -> PercentileLines {
    let mut per_bucket: Vec<Vec<f64>> = vec![Vec::new(); b.count];
    for op in ops.iter().filter(|o| o.outcome == Outcome::Ok) {
        if let Some(l) = op.latency_s() {
            per_bucket[b.of(op.invoke_time as f64 / 1e9)].push(l);
        }
    }
    let mut out = PercentileLines::default();
    for (i, mut v) in per_bucket.into_iter().enumerate() {
        if v.is_empty() {
            continue;
        }
        v.sort_unstable_by(f64::total_cmp);
        let x = b.x(i);
        out.p50.push((x, quantile(&v, 0.50)));
        out.p95.push((x, quantile(&v, 0.95)));
        out.p99.push((x, quantile(&v, 0.99)));
    }
    out
}

/// Nearest-rank quantile of sorted values.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Downsampled latency points (x = invoke time s, y = latency s) per class
/// name such as `read ok`, in a stable order.
pub fn latency_points(ops: &[Op], b: Buckets) -> BTreeMap<String, Vec<(f64, f64)>> {
    let mut classes: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for op in ops {
        if let Some(l) = op.latency_s() {
            let name = format!("{} {}", op.f_label(), op.outcome.name());
            classes
                .entry(name)
                .or_default()
                .push((op.invoke_time as f64 / 1e9, l));
        }
    }
    classes
        .into_iter()
        .map(|(name, points)| (name, downsample(points, b)))
        .collect()
}

fn downsample(points: Vec<(f64, f64)>, b: Buckets) -> Vec<(f64, f64)> {
    if points.len() <= STRIDED_POINTS_PER_CLASS {
        return points;
    }
    let stride = points.len().div_ceil(STRIDED_POINTS_PER_CLASS);
    let mut slowest: Vec<Option<(f64, f64)>> = vec![None; b.count];
    let mut kept = Vec::with_capacity(STRIDED_POINTS_PER_CLASS + b.count);
    for (i, p) in points.into_iter().enumerate() {
        let slot = &mut slowest[b.of(p.0)];
        if slot.is_none_or(|s| p.1 > s.1) {
            *slot = Some(p);
        }
        if i % stride == 0 {
            kept.push(p);
        }
    }
    kept.extend(slowest.into_iter().flatten());
    kept
}

/// Overall latency percentiles (ms) of ok ops per function: (f, n, p50, p95, p99, max).
pub fn latency_table(ops: &[Op]) -> Vec<(String, usize, f64, f64, f64, f64)> {
    let mut by_f: BTreeMap<&'static str, Vec<f64>> = BTreeMap::new();
    for op in ops.iter().filter(|o| o.outcome == Outcome::Ok) {
        if let Some(l) = op.latency_s() {
            by_f.entry(op.f_label()).or_default().push(l * 1e3);
        }
    }
    by_f.into_iter()
        .map(|(f, mut v)| {
            v.sort_unstable_by(f64::total_cmp);
            let max = v.last().copied().unwrap_or(f64::NAN);
            (
                f.to_string(),
                v.len(),
                quantile(&v, 0.5),
                quantile(&v, 0.95),
                quantile(&v, 0.99),
                max,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_widen_for_long_runs() {
        assert_eq!(Buckets::for_duration(60.0).width_s, 1.0);
        let long = Buckets::for_duration(3600.0);
        assert_eq!(long.width_s, 6.0);
        assert!(long.count <= MAX_BUCKETS + 1);
    }

    #[test]
    fn downsampling_keeps_the_slowest_point_of_every_bucket() {
        let b = Buckets::for_duration(100.0);
        let mut points: Vec<(f64, f64)> =
            (0..100_000).map(|i| (i as f64 / 1000.0, 0.001)).collect();
        points[54_321].1 = 9.0;
        let kept = downsample(points, b);
        assert!(kept.len() <= STRIDED_POINTS_PER_CLASS + b.count);
        assert!(kept.iter().any(|p| p.1 == 9.0));
    }

    #[test]
    fn nearest_rank_quantiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), 50.0);
        assert_eq!(quantile(&v, 0.99), 99.0);
        assert_eq!(quantile(&v, 1.0), 100.0);
    }
}
