//! `converge check RUN_DIR`: re-runs every checker on a stored run, also a
//! partial one left by a killed harness (a torn last history line is skipped;
//! without a final state the checks that need one say `unknown`).

use crate::config::{ConfigError, TestConfig};
use crate::store::{RunDir, StoreError};
use checkers::Results;
use checkers::results_file::{self, ResultsFileError, RunMeta, RunResults};
use std::path::{Path, PathBuf};

/// Why `converge check` could not produce results. Exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum CheckCommandError {
    #[error(transparent)]
    NotARun(#[from] StoreError),
    #[error("{} is not a valid test config: {message}", path.display())]
    BadConfig { path: PathBuf, message: String },
    #[error(
        "{} has no config.toml, so the conflict mode and quorums of the run are unknown; \
         pass --conflict lww or --conflict dvv to check it anyway",
        run.display()
    )]
    UnknownConflict { run: PathBuf },
    #[error("cannot read {}: {source}", path.display())]
    ReadConfig {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Check(#[from] checkers::CheckError),
    #[error(transparent)]
    Results(#[from] ResultsFileError),
}

/// Runs every checker over the run's history and final state, streaming the
/// files (memory stays near one compact record per op, even for 10M-op runs).
pub fn check_dir(
    run: &RunDir,
    cfg: &checkers::CheckConfig,
) -> Result<Results, checkers::CheckError> {
    let final_state = run.final_state();
    // A run cut short has no final state; the checks that need one say unknown.
    let final_state = final_state.is_file().then_some(final_state.as_path());
    checkers::check_files(&run.history(), final_state, cfg)
}

/// The whole `check` command: results.json rewritten, the results returned.
///
/// The checkers' rules depend on the conflict mode and quorums the run was
/// made with, which come from its config.toml. Without one, `conflict`
/// must say the mode (quorums are then unknown, so reads stay a
/// measurement); guessing lww would judge a dvv run by the wrong rules.
pub fn check_command(
    path: &Path,
    conflict: Option<&str>,
) -> Result<(RunDir, RunResults), CheckCommandError> {
    let run = RunDir::open(path)?;
    let (mut cfg, known): (TestConfig, bool) = match std::fs::read_to_string(run.config()) {
        Ok(text) => (
            toml::from_str(&text).map_err(|e| CheckCommandError::BadConfig {
                path: run.config(),
                message: e.message().to_string(),
            })?,
            true,
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if conflict.is_none() {
                return Err(CheckCommandError::UnknownConflict {
                    run: run.root().to_path_buf(),
                });
            }
            (TestConfig::default(), false)
        }
        Err(source) => {
            return Err(CheckCommandError::ReadConfig {
                path: run.config(),
                source,
            });
        }
    };
    if let Some(c) = conflict {
        cfg.test.conflict = c.to_string();
    }
    let mut check_cfg = cfg.check_config()?;
    if !known {
        check_cfg.quorum = None;
        check_cfg.crash_loss_window_ns = None;
    }
    let results = check_dir(&run, &check_cfg)?;
    // Keep the metadata `converge run` wrote, if it got that far.
    let mut meta = results_file::read(&run.results())
        .map(|r| r.run)
        .ok()
        .unwrap_or_else(|| RunMeta {
            name: cfg.test.name.clone(),
            seed: cfg.test.seed,
            reproduce: format!("converge run --config {}", run.config().display()),
            config: serde_json::to_value(&cfg).unwrap_or_default(),
            ..Default::default()
        });
    meta.checked_by = "converge check".into();
    let out = RunResults { results, run: meta };
    results_file::write(&run.results(), &out)?;
    Ok((run, out))
}
