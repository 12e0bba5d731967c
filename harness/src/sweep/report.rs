//! The sweep report's data: every finished run measured, each
//! configuration's safety analysed and its seeds aggregated, the highlights
//! picked. Rendering is [`reports::sweep`]'s job.

use super::aggregate::{self, ConfigRuns};
use super::matrix::Matrix;
use super::{SweepError, SweepOptions, measure, safety};
use crate::config::TestConfig;
use reports::sweep::SweepReport;
use std::path::{Path, PathBuf};

/// Measures every run, analyses and aggregates each configuration, and
/// picks the highlights. `runs` pairs a cell index with a run directory.
pub fn build(
    args: &SweepOptions,
    matrix: &Matrix,
    store: &Path,
    configs: &[TestConfig],
    runs: &[(usize, PathBuf)],
) -> Result<SweepReport, SweepError> {
    let points_ms: Vec<u64> = matrix
        .t_visibility_points
        .iter()
        .map(|d| d.get().as_millis() as u64)
        .collect();
    let mut summaries = Vec::new();
    for (i, cell) in matrix.cells.iter().enumerate() {
        let cell_runs = runs
            .iter()
            .filter(|(c, _)| *c == i)
            .map(|(_, dir)| {
                measure::summarize(store, dir, &points_ms).map_err(|source| SweepError::Measure {
                    cell: cell.label(),
                    source,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let safety = safety::analyze(&configs[i], &cell_runs);
        summaries.push(aggregate::summarize(ConfigRuns {
            id: cell.id.clone(),
            label: cell.label(),
            settings: cell.settings.clone(),
            runs: cell_runs,
            safety,
        }));
    }
    let mut command = format!("converge sweep --matrix {}", args.matrix.display());
    if let Some(s) = &args.store {
        command.push_str(&format!(" --store {}", s.display()));
    }
    let mut report = SweepReport {
        name: matrix.name.clone(),
        matrix_file: args.matrix.display().to_string(),
        command,
        generated_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        axes: matrix
            .axes
            .iter()
            .map(|a| reports::sweep::AxisSummary {
                name: a.name.clone(),
                values: a.values.iter().map(|v| v.label.clone()).collect(),
            })
            .collect(),
        seeds: matrix.seeds.clone(),
        t_visibility_points_ms: points_ms,
        configs: summaries,
        ..Default::default()
    };
    aggregate::highlight(&mut report);
    Ok(report)
}
