//! What the run's own data says about a cause, beyond the config: how many
//! tombstones the nodes purged (their purge counters in metrics.jsonl), and
//! which data-loss faults exempted quorum reads (the staleness checker's
//! details). A cause sentence may name a mechanism only when this, the
//! config or the fault windows support it.

use crate::metrics::{FamilyMatcher, MetricSample, gauge_per_node};
use checkers::metrics_file::counter_increase;
use checkers::results_file::tolerant::ResultsView;
use checkers::staleness::{ReadBased, StalenessDetails};

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
            .and_then(ResultsView::details::<StalenessDetails>)
            .map(|d| d.read_based);
        let (exempt_reads, exempting_faults) = match read_based {
            Some(ReadBased::Judged {
                exempt_reads,
                exemptions,
                ..
            }) => (
                exempt_reads,
                exemptions
                    .iter()
                    .map(|f| format!("{} of {} at {:.1} s", f.fault, f.node, f.at_ns as f64 / 1e9))
                    .collect(),
            ),
            _ => (0, Vec::new()),
        };
        Evidence {
            tombstones_purged,
            exempt_reads,
            exempting_faults,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_faults_that_exempted_quorum_reads_come_from_the_staleness_details() {
        // The checkers' golden results: a wipe of n2 at 5 µs exempted a read.
        let text = include_str!("../../../checkers/tests/fixtures/golden/results.json");
        let results: ResultsView = serde_json::from_str(text).unwrap();
        let e = Evidence::gather(&[], Some(&results));
        assert_eq!(e.exempt_reads, 1);
        assert_eq!(e.exempting_faults, ["wipe of n2 at 0.0 s"]);
        let none = Evidence::gather(&[], None);
        assert_eq!((none.exempt_reads, none.exempting_faults.len()), (0, 0));
    }
}
