//! What the run's own data says about a cause, beyond the config: how many
//! tombstones the nodes purged (their purge counters in metrics.jsonl), and
//! which data-loss faults exempted quorum reads (the staleness checker's
//! details). A cause sentence may name a mechanism only when this, the
//! config or the fault windows support it.

use crate::metrics::{FamilyMatcher, MetricSample, gauge_per_node};
use checkers::metrics_file::counter_increase;
use checkers::results_file::tolerant::ResultsView;

/// Facts read off the run, for the summary's cause sentences.
#[derive(Debug, Default, Clone)]
pub struct Evidence {
    /// Tombstones the nodes purged during the run, summed over nodes (a
    /// counter reset by a restart counts from zero again); `None` when no
    /// node exposes a purge counter.
    pub tombstones_purged: Option<u64>,
    /// Quorum reads exempted because a wipe or an unsynced crash took
    /// acknowledged data from a replica, and those faults in words.
    pub exempt_reads: u64,
    pub exempting_faults: Vec<String>,
}

impl Evidence {
    pub fn gather(samples: &[MetricSample], results: Option<&ResultsView>) -> Evidence {
        let purged = gauge_per_node(
            samples,
            FamilyMatcher {
                all: &["tombstones", "purged"],
                any: &[],
                none: &[],
            },
        );
        let tombstones_purged = (!purged.is_empty()).then(|| {
            purged
                .values()
                .map(|series| {
                    // Sum the increases; a drop is a restart from zero.
                    let mut total = 0.0;
                    let mut last = 0.0;
                    for &(_, v) in series {
                        total += counter_increase(last, v);
                        last = v;
                    }
                    total as u64
                })
                .sum()
        });
        let read_based = results
            .and_then(|r| r.checks.iter().find(|c| c.checker == "staleness"))
            .map(|c| &c.details["read_based"]);
        let exempt_reads = read_based
            .and_then(|d| d["exempt_reads"].as_u64())
            .unwrap_or(0);
        let exempting_faults = read_based
            .and_then(|d| d["exemptions"].as_array())
            .map(|used| {
                used.iter()
                    .map(|f| {
                        format!(
                            "{} of {} at {:.1} s",
                            f["fault"].as_str().unwrap_or("fault"),
                            f["node"].as_str().unwrap_or("?"),
                            f["at_ns"].as_u64().unwrap_or(0) as f64 / 1e9
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        Evidence {
            tombstones_purged,
            exempt_reads,
            exempting_faults,
        }
    }
}
