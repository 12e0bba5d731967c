//! Helpers shared by the end-to-end tests in `tests/tests/`.
//!
//! The tests run the real `converge` binary, which starts real
//! `converge-node` processes. [`binaries`] builds both once per test binary
//! (same profile and target dir as the tests; cargo's build lock is free
//! while tests run). [`Harness`] runs `converge` in a private store with a
//! deadline, and [`node_pids_under`] finds node processes by the directory
//! their data lives in, so tests can assert that none outlives the harness.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// The built binaries.
pub struct Binaries {
    pub converge: PathBuf,
    pub node: PathBuf,
}

/// The tests' profile directory (`<target>/<profile>`, this test binary's
/// grandparent).
fn profile_dir() -> PathBuf {
    // <target>/<profile>/deps/<this test binary>
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent()
        .and_then(Path::parent)
        .expect("profile dir")
        .to_path_buf()
}

/// `cargo build ARGS` in the tests' own profile into `target_dir`; a failed
/// build fails the test naming `what`.
fn cargo_build(target_dir: &Path, args: &[&str], what: &str) {
    let profile = if cfg!(debug_assertions) {
        "dev"
    } else {
        "release"
    };
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(workspace)
        .args(["build", "--profile", profile])
        .args(args)
        .env("CARGO_TARGET_DIR", target_dir)
        .status()
        .expect("run cargo build");
    assert!(status.success(), "cargo build of {what} failed");
}

/// Builds converge-node with the `zoo` feature once, into `<target>/zoo/`
/// (as `converge zoo` does), so the default node stays bug-free.
pub fn zoo_node() -> &'static PathBuf {
    static ZOO: OnceLock<PathBuf> = OnceLock::new();
    ZOO.get_or_init(|| {
        let profile_dir = profile_dir();
        let target = profile_dir.parent().expect("target dir").join("zoo");
        cargo_build(
            &target,
            &[
                "-p",
                "converge-node",
                "--bin",
                "converge-node",
                "--features",
                "zoo",
            ],
            "the zoo node",
        );
        let dir = profile_dir.file_name().expect("profile dir name");
        target.join(dir).join("converge-node")
    })
}

/// Builds `converge` and `converge-node` once, in the tests' own profile.
pub fn binaries() -> &'static Binaries {
    static BINS: OnceLock<Binaries> = OnceLock::new();
    BINS.get_or_init(|| {
        let profile_dir = profile_dir();
        cargo_build(
            profile_dir.parent().expect("target dir"),
            &[
                "-p",
                "converge",
                "-p",
                "converge-node",
                "--bin",
                "converge",
                "--bin",
                "converge-node",
            ],
            "converge and converge-node",
        );
        Binaries {
            converge: profile_dir.join("converge"),
            node: profile_dir.join("converge-node"),
        }
    })
}

/// Real clusters share two cores: one at a time per test binary keeps each
/// run's timing (timeouts, faults) meaningful.
pub fn cluster_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// A finished `converge` invocation.
#[derive(Debug)]
pub struct Finished {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    fn from(out: Output) -> Finished {
        Finished {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// `converge` in a private temporary directory holding its store.
pub struct Harness {
    pub dir: tempfile::TempDir,
}

/// The longest any single invocation may take before the test fails.
pub const RUN_DEADLINE: Duration = Duration::from_secs(120);

impl Default for Harness {
    fn default() -> Self {
        Self::new()
    }
}

impl Harness {
    pub fn new() -> Harness {
        Harness {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn store(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    /// A command for `converge ARGS`, run in the temp dir, with `--store` and
    /// `--node-bin` filled in for `run`.
    pub fn command(&self, args: &[&str]) -> Command {
        let bins = binaries();
        let mut cmd = Command::new(&bins.converge);
        cmd.current_dir(self.dir.path()).args(args);
        if args.first() == Some(&"run") {
            if !args.contains(&"--store") {
                cmd.arg("--store").arg(self.store());
            }
            if !args.contains(&"--node-bin") {
                cmd.arg("--node-bin").arg(&bins.node);
            }
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Runs `converge ARGS` to completion (or fails the test at the deadline).
    pub fn run(&self, args: &[&str]) -> Finished {
        let child = self.command(args).spawn().expect("spawn converge");
        wait_with_deadline(child, RUN_DEADLINE)
    }

    /// Writes a file in the temp dir and returns its path.
    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).expect("write test file");
        p
    }

    /// The newest run directory (`store/latest`), resolved.
    pub fn latest(&self) -> PathBuf {
        std::fs::canonicalize(self.store().join("latest")).expect("store/latest exists")
    }

    /// The newest run's results.json.
    pub fn results(&self) -> serde_json::Value {
        let text =
            std::fs::read_to_string(self.latest().join("results.json")).expect("results.json");
        serde_json::from_str(&text).expect("results.json is JSON")
    }
}

/// Waits for `child`, killing it and failing the test past `deadline`.
pub fn wait_with_deadline(mut child: Child, deadline: Duration) -> Finished {
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait converge").is_some() {
            return Finished::from(child.wait_with_output().expect("collect output"));
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("collect output");
            panic!(
                "converge ran past {deadline:?}; stderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The verdict of checker `name` in a results.json: `true`, `false` or `"unknown"`.
pub fn verdict(results: &serde_json::Value, name: &str) -> serde_json::Value {
    results["checks"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["checker"] == name))
        .map(|c| c["valid"].clone())
        .unwrap_or_else(|| panic!("no checker {name} in results"))
}

/// How many anomalies checker `name` reported.
pub fn anomalies(results: &serde_json::Value, name: &str) -> usize {
    results["checks"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["checker"] == name))
        .and_then(|c| c["anomalies"].as_array())
        .map_or(0, Vec::len)
}

/// The count of anomaly `kind` (or any count) checker `name` reported.
pub fn count(results: &serde_json::Value, name: &str, kind: &str) -> u64 {
    results["checks"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["checker"] == name))
        .map(|c| c["counts"][kind].as_u64().unwrap_or(0))
        .unwrap_or_else(|| panic!("no checker {name} in results"))
}

/// The checkers whose verdict is not `true`, for assertion messages and
/// for asserting that nothing but the expected checkers failed.
pub fn failing(results: &serde_json::Value) -> Vec<String> {
    results["checks"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .filter(|c| c["valid"] != true)
                .map(|c| format!("{}={} {}", c["checker"], c["valid"], c["counts"]))
                .collect()
        })
        .unwrap_or_default()
}

/// Pids of live processes whose command line mentions `dir` (node processes
/// get their data dir under the run directory, so this finds a run's nodes).
pub fn node_pids_under(dir: &Path) -> Vec<i32> {
    let needle = dir.to_string_lossy().into_owned();
    let mut pids = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return pids;
    };
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        // Zombies have an empty cmdline; they are not running nodes.
        if cmdline.contains("converge-node") && cmdline.contains(&needle) {
            pids.push(pid);
        }
    }
    pids
}
