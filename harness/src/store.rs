//! The run store: `store/<test-name>/<timestamp>/`, and `store/latest`
//! pointing at the newest run.
//!
//! [`RunDir`] gives the paths of a run's files, named once in
//! [`checkers::run_files`] for every crate that writes or reads them.

use checkers::run_files;
use std::path::{Path, PathBuf};

/// Why the store could not be used. Exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("store {path}: {reason}")]
pub struct StoreError {
    path: PathBuf,
    reason: String,
}

/// One run's directory and the names of the files in it.
#[derive(Debug, Clone)]
pub struct RunDir {
    root: PathBuf,
}

impl RunDir {
    /// Creates `store/<name>/<timestamp>/` and repoints `store/latest` at it.
    pub fn create(store: &Path, name: &str) -> Result<RunDir, StoreError> {
        let fail = |path: &Path, e: std::io::Error| StoreError {
            path: path.to_path_buf(),
            reason: format!("{e}; choose a writable directory with --store"),
        };
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ").to_string();
        let relative = Path::new(name).join(&stamp);
        let root = store.join(&relative);
        std::fs::create_dir_all(&root).map_err(|e| fail(&root, e))?;
        std::fs::create_dir_all(root.join("nodes")).map_err(|e| fail(&root, e))?;
        // Replace the link atomically: make a new one beside it, rename over.
        let latest = store.join("latest");
        let tmp = store.join(format!(".latest-{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(&relative, &tmp).map_err(|e| fail(&tmp, e))?;
        std::fs::rename(&tmp, &latest).map_err(|e| fail(&latest, e))?;
        Ok(RunDir { root })
    }

    /// An existing run directory (`converge check`).
    pub fn open(path: &Path) -> Result<RunDir, StoreError> {
        if path.join(run_files::HISTORY).is_file() {
            Ok(RunDir {
                root: path.to_path_buf(),
            })
        } else {
            Err(StoreError {
                path: path.to_path_buf(),
                reason: "no history.jsonl here, so this is not a run directory (try store/latest)"
                    .into(),
            })
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The effective test config, seed included.
    pub fn config(&self) -> PathBuf {
        self.root.join(run_files::CONFIG)
    }

    /// The config file every node is started with.
    pub fn node_config(&self) -> PathBuf {
        self.root.join(run_files::NODE_CONFIG)
    }

    pub fn history(&self) -> PathBuf {
        self.root.join(run_files::HISTORY)
    }

    pub fn final_state(&self) -> PathBuf {
        self.root.join(run_files::FINAL_STATE)
    }

    pub fn metrics(&self) -> PathBuf {
        self.root.join(run_files::METRICS)
    }

    pub fn results(&self) -> PathBuf {
        self.root.join(run_files::RESULTS)
    }

    /// Per node: `nodes/<id>/` holding `data/` and `node.log`.
    pub fn node_dir(&self, node: &str) -> PathBuf {
        self.root.join("nodes").join(node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latest_points_at_the_newest_run() {
        let store = tempfile::tempdir().unwrap();
        let first = RunDir::create(store.path(), "t").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(5));
        let second = RunDir::create(store.path(), "t").unwrap();
        assert_ne!(first.root(), second.root());
        let latest = std::fs::canonicalize(store.path().join("latest")).unwrap();
        assert_eq!(latest, std::fs::canonicalize(second.root()).unwrap());
    }

    #[test]
    fn an_unwritable_store_is_named() {
        let store = tempfile::tempdir().unwrap();
        let file = store.path().join("plain-file");
        std::fs::write(&file, "").unwrap();
        let e = RunDir::create(&file, "t").unwrap_err().to_string();
        assert!(e.contains("plain-file") && e.contains("--store"), "{e}");
    }

    #[test]
    fn opening_a_non_run_directory_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let e = RunDir::open(dir.path()).unwrap_err().to_string();
        assert!(e.contains("no history.jsonl"), "{e}");
    }
}
