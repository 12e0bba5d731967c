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
        let test_dir = store.join(name);
        std::fs::create_dir_all(&test_dir).map_err(|e| fail(&test_dir, e))?;
        // The directory must be new: two runs of one test started in the
        // same millisecond (parallel processes on one store) would otherwise
        // share it. The later one gets `.1`, `.2`, ... after the timestamp.
        let base = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ").to_string();
        let mut stamp = base.clone();
        let mut n = 1;
        let root = loop {
            let root = test_dir.join(&stamp);
            match std::fs::create_dir(&root) {
                Ok(()) => break root,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    stamp = format!("{base}.{n}");
                    n += 1;
                }
                Err(e) => return Err(fail(&root, e)),
            }
        };
        let relative = Path::new(name).join(&stamp);
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
    fn runs_started_in_the_same_millisecond_get_their_own_directories() {
        let store = tempfile::tempdir().unwrap();
        let runs: Vec<RunDir> = (0..20)
            .map(|_| RunDir::create(store.path(), "t").unwrap())
            .collect();
        let mut roots: Vec<&Path> = runs.iter().map(|r| r.root()).collect();
        roots.sort();
        roots.dedup();
        assert_eq!(roots.len(), 20);
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
