//! `converge merge`: the stores of a sweep's slices (`--shard`), made on
//! other machines, gathered into one store, then the sweep report rebuilt
//! from it as if one machine had run everything.
//!
//! A run is taken only if it belongs to the matrix: it sits under a cell's
//! id, its seed is one of the matrix's, and its effective config
//! (`config.toml`) is exactly what the cell gives for that seed — apart from
//! where it ran (`test.store`, `deploy.node_bin`), which differs between
//! machines. Anything else is refused by name, so a shard run from a stale
//! matrix or an edited base cannot slip into the aggregates. A run the
//! destination already holds (same cell, same seed) is not copied again, so
//! merging is idempotent and can run after every shard.

use super::execute::{self, SweepOutcome, load_cells};
use super::matrix::{self, Matrix};
use super::{SweepError, SweepOptions, plan};
use crate::config::TestConfig;
use std::path::{Path, PathBuf};

/// What `converge merge` is asked to do.
#[derive(Debug, Clone, Default)]
pub struct MergeOptions {
    /// The sweep's matrix file.
    pub matrix: PathBuf,
    /// The store the runs are gathered into (and the report written to).
    pub into: PathBuf,
    /// The slices' stores.
    pub sources: Vec<PathBuf>,
    /// As for `converge sweep --node-bin`.
    pub node_bin: Option<PathBuf>,
}

/// A finished merge.
pub struct MergeOutcome {
    /// Runs copied into the destination.
    pub copied: usize,
    /// Runs the destination already held.
    pub present: usize,
    /// Runs refused, each with the reason.
    pub refused: Vec<String>,
    /// The rebuilt sweep report and the runs still missing.
    pub sweep: SweepOutcome,
}

/// Gathers and rebuilds.
pub fn merge(opts: &MergeOptions) -> Result<MergeOutcome, SweepError> {
    if opts.sources.is_empty() {
        return Err(SweepError::Input(
            "converge merge needs at least one store to merge from".into(),
        ));
    }
    let m = matrix::load(&opts.matrix)?;
    let sweep_opts = SweepOptions {
        matrix: opts.matrix.clone(),
        store: Some(opts.into.clone()),
        node_bin: opts.node_bin.clone(),
        plan: false,
        shard: None,
        report_only: true,
    };
    plan::write_cell_configs(&opts.into, &m)?;
    let configs = load_cells(&m, &opts.into, &sweep_opts)?;
    let (mut copied, mut present, mut refused) = (0, 0, Vec::new());
    for source in &opts.sources {
        if !source.is_dir() {
            return Err(SweepError::Input(format!(
                "store {} does not exist",
                source.display()
            )));
        }
        for (cell_index, cell) in m.cells.iter().enumerate() {
            for run in run_dirs(&source.join(&cell.id)) {
                match judge(&m, &configs[cell_index], &run) {
                    Err(why) => refused.push(format!("{}: {why}", run.display())),
                    Ok(seed) => {
                        let dest_test = opts.into.join(&cell.id);
                        if plan::finished_run(&dest_test, seed).is_some() {
                            present += 1;
                            continue;
                        }
                        copy_dir(&run, &free_name(&dest_test, &run)).map_err(|source| {
                            SweepError::Copy {
                                from: run.clone(),
                                into: opts.into.clone(),
                                source,
                            }
                        })?;
                        copied += 1;
                    }
                }
            }
        }
    }
    let sweep = execute::run(&sweep_opts)?;
    Ok(MergeOutcome {
        copied,
        present,
        refused,
        sweep,
    })
}

/// Finished run directories under a test's directory.
fn run_dirs(test_dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(test_dir) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir() && p.join(checkers::run_files::RESULTS).is_file())
        .collect();
    dirs.sort();
    dirs
}

/// Why a run does not belong to the matrix.
#[derive(Debug, thiserror::Error)]
enum Refusal {
    #[error(transparent)]
    Results(#[from] checkers::results_file::ResultsFileError),
    #[error("seed {0} is not one of the matrix's seeds")]
    Seed(u64),
    #[error("cannot read its config.toml: {0}")]
    Config(#[source] std::io::Error),
    #[error("its config.toml is not TOML: {0}")]
    NotToml(String),
    #[error("cannot compare configs: {0}")]
    Compare(#[source] toml::ser::Error),
    #[error("its effective config differs from the matrix's cell at `{0}`")]
    Differs(String),
}

/// The run's seed if it belongs to the cell whose effective config (for
/// the matrix's first seed) is `cell_cfg`; otherwise why not.
fn judge(m: &Matrix, cell_cfg: &TestConfig, run: &Path) -> Result<u64, Refusal> {
    let results = checkers::results_file::read(&run.join(checkers::run_files::RESULTS))?;
    let seed = results.run.seed;
    if !m.seeds.contains(&seed) {
        return Err(Refusal::Seed(seed));
    }
    let text =
        std::fs::read_to_string(run.join(checkers::run_files::CONFIG)).map_err(Refusal::Config)?;
    let stored: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| Refusal::NotToml(e.message().to_string()))?;
    let mut expected = cell_cfg.clone();
    expected.test.seed = seed;
    let expected = toml::Table::try_from(&expected).map_err(Refusal::Compare)?;
    match first_difference(&normalized(stored), &normalized(expected), "") {
        None => Ok(seed),
        Some(path) => Err(Refusal::Differs(path)),
    }
}

/// The config without what depends on the machine that ran it.
fn normalized(mut t: toml::Table) -> toml::Table {
    for (section, key) in [("test", "store"), ("deploy", "node_bin")] {
        if let Some(toml::Value::Table(s)) = t.get_mut(section) {
            s.remove(key);
        }
    }
    t
}

/// The dotted path of the first key whose values differ.
fn first_difference(a: &toml::Table, b: &toml::Table, prefix: &str) -> Option<String> {
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    for k in keys {
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match (a.get(k), b.get(k)) {
            (Some(toml::Value::Table(x)), Some(toml::Value::Table(y))) => {
                if let Some(p) = first_difference(x, y, &path) {
                    return Some(p);
                }
            }
            (x, y) if x != y => return Some(path),
            _ => {}
        }
    }
    None
}

/// Where `run` goes under `dest_test`: its own name (a timestamp), or, if
/// a run of another machine already took that name — two slices can start
/// runs of one cell in the same millisecond — the name with `.1`, `.2`, ...
/// appended (still sorting after it, as the store's newest-first order
/// wants).
fn free_name(dest_test: &Path, run: &Path) -> PathBuf {
    let name = run
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "run".into());
    let mut candidate = dest_test.join(&name);
    let mut n = 1;
    while candidate.exists() {
        candidate = dest_test.join(format!("{name}.{n}"));
        n += 1;
    }
    candidate
}

/// Copies a run directory (files and subdirectories) to `to`.
fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_of_two_machines_with_one_timestamp_both_keep_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("shard0/cell/20261201T160000.000Z");
        std::fs::create_dir_all(&run).unwrap();
        let dest = dir.path().join("merged/cell");
        let first = free_name(&dest, &run);
        assert_eq!(first, dest.join("20261201T160000.000Z"));
        std::fs::create_dir_all(&first).unwrap();
        assert_eq!(free_name(&dest, &run), dest.join("20261201T160000.000Z.1"));
    }

    #[test]
    fn differences_are_named_by_path_and_machine_paths_ignored() {
        let a: toml::Table = "[test]\nstore = \"/a\"\nw = 2\n[node.read_repair]\nmode = \"off\"\n"
            .parse()
            .unwrap();
        let b: toml::Table =
            "[test]\nstore = \"/b\"\nw = 2\n[node.read_repair]\nmode = \"blocking\"\n"
                .parse()
                .unwrap();
        assert_eq!(
            first_difference(&normalized(a.clone()), &normalized(b), ""),
            Some("node.read_repair.mode".into())
        );
        let c: toml::Table = "[test]\nstore = \"/c\"\nw = 2\n[node.read_repair]\nmode = \"off\"\n"
            .parse()
            .unwrap();
        assert_eq!(first_difference(&normalized(a), &normalized(c), ""), None);
    }
}
