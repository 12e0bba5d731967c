//! `converge run --seeds N`: a fleet — one test, N seeds — the nightly
//! chaos job that wants dozens of random schedules rather than one.
//!
//! A fleet is a sweep of one cell (the test as loaded, flags applied) and
//! N seeds, so it resumes, shows the sweep's progress bar and ETA, slices
//! with `--shard I/N` and merges with `converge merge` like any sweep. Its
//! files go to `store/fleets/<test>/` (the generated `base.toml` and
//! `matrix.toml`); the runs are ordinary run directories under
//! `store/fleet-<test>.base.<hash>/`. The seeds are SplitMix64 draws from
//! the base seed (`--seed`), the same on every machine that slices it.

use super::shard::Shard;
use super::verdicts::RunVerdict;
use super::{SweepError, SweepOptions, execute, matrix};
use crate::config::TestConfig;
use std::path::{Path, PathBuf};

/// What a fleet is asked to do.
#[derive(Debug, Clone)]
pub struct FleetOptions {
    /// The test, as `converge run` loaded it.
    pub test: TestConfig,
    /// How many seeds.
    pub seeds: u32,
    /// Draws the seeds (`--seed`).
    pub seed_base: u64,
    /// Only this slice of the seeds.
    pub shard: Option<Shard>,
}

/// A finished fleet (or slice of one).
pub struct FleetOutcome {
    /// The runs in view, in the order the seeds were drawn.
    pub runs: Vec<RunVerdict>,
    /// The sweep report (whole fleets only).
    pub report: Option<reports::sweep::SweepFiles>,
}

/// Runs the fleet (or its slice).
pub fn fleet(opts: &FleetOptions) -> Result<FleetOutcome, SweepError> {
    if opts.seeds == 0 {
        return Err(SweepError::Input("--seeds must be at least 1".into()));
    }
    let store = opts.test.test.store.clone();
    let name = opts.test.test.name.clone();
    let dir = store.join("fleets").join(&name);
    let matrix_path = write_matrix(opts, &dir)?;
    let sweep = SweepOptions {
        matrix: matrix_path.clone(),
        store: Some(store.clone()),
        node_bin: None,
        plan: false,
        shard: opts.shard,
        report_only: false,
    };
    let outcome = execute::run(&sweep)?;
    Ok(FleetOutcome {
        runs: outcome.verdicts,
        report: outcome.report,
    })
}

/// Writes `base.toml` (the loaded test, without what the sweep sets per
/// run) and `matrix.toml` (its seeds, no axes).
fn write_matrix(opts: &FleetOptions, dir: &Path) -> Result<PathBuf, SweepError> {
    let io = |path: &Path, source| SweepError::Write {
        path: path.to_path_buf(),
        source,
    };
    let serialize = |what: &str| {
        let what = what.to_string();
        move |source| SweepError::Serialize { what, source }
    };
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let mut base = toml::Table::try_from(&opts.test).map_err(serialize("the fleet's test"))?;
    if let Some(toml::Value::Table(t)) = base.get_mut("test") {
        for k in ["name", "seed", "store", "junit"] {
            t.remove(k);
        }
    }
    let base_path = dir.join("base.toml");
    let text = toml::to_string(&base).map_err(serialize("the fleet's test"))?;
    std::fs::write(&base_path, text).map_err(|e| io(&base_path, e))?;
    let mut m = toml::Table::new();
    m.insert(
        "name".into(),
        format!("fleet-{}", opts.test.test.name).into(),
    );
    m.insert(
        "seeds".into(),
        toml::Value::Array(
            matrix::drawn_seeds(opts.seed_base, opts.seeds)
                .into_iter()
                .map(|s| toml::Value::Integer(s as i64))
                .collect(),
        ),
    );
    m.insert("base".into(), "base.toml".into());
    let path = dir.join("matrix.toml");
    let text = toml::to_string(&m).map_err(serialize("the fleet's matrix"))?;
    std::fs::write(&path, text).map_err(|e| io(&path, e))?;
    Ok(path)
}
