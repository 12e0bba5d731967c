//! `converge zoo`: the harness measuring its own detection power. For each
//! known-bad variant of converge-node (docs/zoo.md) and for the clean node,
//! N runs of one test with different seeds; then, per bug, how often the
//! verdict named an anomaly, which checker caught it, and how fast.
//!
//! A zoo is a sweep underneath: one axis whose values are the clean node and
//! each bug (the node binary and its `--zoo-bug`), the seeds, and the test.
//! So it resumes like a sweep (runs the store holds are not repeated) and
//! shows the sweep's progress bar with its ETA. Its own files go to
//! `store/zoos/<name>/`: the generated `base.toml` and `matrix.toml`, and
//! the report (`zoo.html`, `zoo.md`, `zoo.json`; [`reports::zoo`]).
//!
//! The seeds are drawn from the zoo's name (or `--seed-base`), so they are
//! spread like random seeds yet the same on a rerun, which is what makes
//! the zoo resumable.

pub mod tally;

use crate::db::binary;
use crate::sweep::{SweepError, SweepOptions, matrix, plan};
use reports::zoo::{BugSummary, ZooReport};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What a zoo is asked to do.
#[derive(Debug, Clone, Default)]
pub struct ZooOptions {
    /// The zoo's name (its directory under `store/zoos/`).
    pub name: String,
    /// Bugs to run; `None`: every bug the zoo build knows.
    pub bugs: Option<Vec<String>>,
    /// Seeds per bug (and for the clean node).
    pub seeds: u32,
    /// Draws the seeds; `None`: derived from the name.
    pub seed_base: Option<u64>,
    /// The test (a `converge run --config` file); `None`: the default test.
    pub config: Option<PathBuf>,
    /// Overrides the test's time limit, e.g. "20s".
    pub time_limit: Option<String>,
    /// Where runs and the zoo report go; `None`: the test's store.
    pub store: Option<PathBuf>,
    /// The clean node; `None`: found or built as for `converge run`.
    pub node_bin: Option<PathBuf>,
    /// A node built with `--features zoo`; `None`: built in the workspace.
    pub zoo_node_bin: Option<PathBuf>,
    /// Only list the runs and which the store already holds.
    pub plan: bool,
}

/// Why a zoo stopped. Exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum ZooError {
    #[error(transparent)]
    Binary(#[from] binary::BinaryError),
    /// A bad option or test file, found before any run.
    #[error("{0}")]
    Input(String),
    #[error(transparent)]
    Sweep(#[from] SweepError),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Report(#[from] reports::ReportError),
}

/// A finished zoo's report files and figures.
pub struct ZooOutcome {
    pub html: PathBuf,
    pub markdown: PathBuf,
    pub report: ZooReport,
}

/// The axis label of the reference node.
const CLEAN: &str = "clean";

/// Runs the zoo; `None` when only the plan was asked for.
pub fn zoo(opts: &ZooOptions) -> Result<Option<ZooOutcome>, ZooError> {
    if opts.seeds == 0 {
        return Err(ZooError::Input("--seeds must be at least 1".into()));
    }
    if opts.name.is_empty() || opts.name.contains('/') || opts.name.starts_with('.') {
        return Err(ZooError::Input(format!(
            "zoo name {:?} must be non-empty, without '/', not starting with '.'",
            opts.name
        )));
    }
    let base = base_test(opts)?;
    let store = opts
        .store
        .clone()
        .or_else(|| {
            base.get("test")
                .and_then(|t| t.get("store"))
                .and_then(toml::Value::as_str)
                .map(PathBuf::from)
        })
        .unwrap_or_else(|| PathBuf::from("store"));
    let clean_bin = absolute(&binary::resolve(opts.node_bin.as_deref())?);
    let zoo_bin = absolute(&binary::resolve_zoo(opts.zoo_node_bin.as_deref())?);
    let known = zoo_bugs(&zoo_bin)?;
    let bugs = match &opts.bugs {
        None => known,
        Some(asked) => {
            if let Some(bad) = asked.iter().find(|b| !known.contains(b)) {
                return Err(ZooError::Input(format!(
                    "unknown zoo bug {bad:?}; the zoo build knows: {}",
                    known.join(", ")
                )));
            }
            asked.clone()
        }
    };
    let dir = zoo_dir(&store, &opts.name);
    let matrix_path = write_matrix(opts, &dir, &base, &clean_bin, &zoo_bin, &bugs)?;
    let sweep = SweepOptions {
        matrix: matrix_path.clone(),
        store: Some(store.clone()),
        node_bin: None,
        plan: opts.plan,
        shard: None,
        report_only: false,
    };
    if crate::sweep::execute::sweep(&sweep)?.is_none() {
        return Ok(None);
    }
    let report = build_report(opts, &matrix_path, &store, &bugs, &base)?;
    let files = reports::zoo::write_zoo_report(&dir, "../..", &report)?;
    Ok(Some(ZooOutcome {
        html: files.html,
        markdown: files.markdown,
        report,
    }))
}

/// `store/zoos/<name>/`.
pub fn zoo_dir(store: &Path, name: &str) -> PathBuf {
    store.join("zoos").join(name)
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// The test every run uses: the config file (or the default test), with
/// the time limit overridden.
fn base_test(opts: &ZooOptions) -> Result<toml::Table, ZooError> {
    let mut base = match &opts.config {
        None => toml::Table::new(),
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                ZooError::Input(format!("cannot read config file {}: {e}", path.display()))
            })?;
            text.parse::<toml::Table>().map_err(|e| {
                ZooError::Input(format!(
                    "config file {} is not valid TOML: {}",
                    path.display(),
                    e.message().trim()
                ))
            })?
        }
    };
    if let Some(limit) = &opts.time_limit {
        limit
            .parse::<crate::config::duration::HumanDuration>()
            .map_err(|e| ZooError::Input(format!("--time-limit {limit:?}: {e}")))?;
        let test = base
            .entry("test")
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        match test {
            toml::Value::Table(t) => {
                t.insert("time_limit".into(), limit.clone().into());
            }
            _ => return Err(ZooError::Input("[test] must be a table".into())),
        }
    }
    Ok(base)
}

/// The bug names a zoo build accepts, read from its `--help` (clap lists
/// the possible values of `--zoo-bug`).
fn zoo_bugs(zoo_bin: &Path) -> Result<Vec<String>, ZooError> {
    let out = Command::new(zoo_bin)
        .arg("--help")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| ZooError::Input(format!("cannot run {}: {e}", zoo_bin.display())))?;
    let help = String::from_utf8_lossy(&out.stdout);
    let bugs = possible_values(&help, "--zoo-bug");
    if bugs.is_empty() {
        return Err(ZooError::Input(format!(
            "{} lists no --zoo-bug values: is it built with --features zoo?",
            zoo_bin.display()
        )));
    }
    Ok(bugs)
}

/// The values clap lists after `flag` in a help text: `[possible values:
/// a, b, c]` (short help), or a `Possible values:` block of `- name: what`
/// lines (long help, when the values are documented).
fn possible_values(help: &str, flag: &str) -> Vec<String> {
    let Some(at) = help.find(flag) else {
        return Vec::new();
    };
    let rest = &help[at..];
    if let Some(start) = rest.find("Possible values:") {
        return rest[start + "Possible values:".len()..]
            .lines()
            .map(str::trim)
            .skip_while(|l| l.is_empty())
            .take_while(|l| l.starts_with("- "))
            .filter_map(|l| {
                let item = &l[2..];
                let name = item.split(':').next().unwrap_or(item).trim();
                (!name.is_empty()).then(|| name.to_string())
            })
            .collect();
    }
    let Some(start) = rest.find("[possible values: ") else {
        return Vec::new();
    };
    let list = &rest[start + "[possible values: ".len()..];
    let Some(end) = list.find(']') else {
        return Vec::new();
    };
    list[..end]
        .split(',')
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect()
}

/// The zoo's seeds: drawn from `--seed-base`, else from a hash (FNV-1a) of
/// its name, so a rerun resumes.
fn seeds(opts: &ZooOptions) -> Vec<u64> {
    let base = opts.seed_base.unwrap_or_else(|| {
        opts.name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
    });
    matrix::drawn_seeds(base, opts.seeds)
}

/// Writes `base.toml` and `matrix.toml` into the zoo's directory.
fn write_matrix(
    opts: &ZooOptions,
    dir: &Path,
    base: &toml::Table,
    clean_bin: &Path,
    zoo_bin: &Path,
    bugs: &[String],
) -> Result<PathBuf, ZooError> {
    let write = |path: PathBuf, text: String| -> Result<PathBuf, ZooError> {
        std::fs::create_dir_all(dir).map_err(|source| ZooError::Write {
            path: dir.to_path_buf(),
            source,
        })?;
        std::fs::write(&path, text).map_err(|source| ZooError::Write {
            path: path.clone(),
            source,
        })?;
        Ok(path)
    };
    let base_text = toml::to_string(base)
        .map_err(|e| ZooError::Input(format!("cannot write the zoo's base test: {e}")))?;
    write(dir.join("base.toml"), base_text)?;
    let preset = |label: &str, bin: &Path, bug: Option<&str>| {
        let mut t = toml::Table::new();
        t.insert("label".into(), label.into());
        t.insert("deploy.node_bin".into(), bin.display().to_string().into());
        if let Some(bug) = bug {
            t.insert("deploy.zoo_bug".into(), bug.into());
        }
        toml::Value::Table(t)
    };
    let mut values = vec![preset(CLEAN, clean_bin, None)];
    values.extend(bugs.iter().map(|b| preset(b, zoo_bin, Some(b))));
    let mut axes = toml::Table::new();
    axes.insert("node".into(), toml::Value::Array(values));
    let mut m = toml::Table::new();
    m.insert("name".into(), format!("zoo-{}", opts.name).into());
    m.insert(
        "seeds".into(),
        toml::Value::Array(
            seeds(opts)
                .into_iter()
                .map(|s| toml::Value::Integer(s as i64))
                .collect(),
        ),
    );
    m.insert("base".into(), "base.toml".into());
    m.insert("axes".into(), toml::Value::Table(axes));
    let text = toml::to_string(&m)
        .map_err(|e| ZooError::Input(format!("cannot write the zoo's matrix: {e}")))?;
    write(dir.join("matrix.toml"), text)
}

/// Reads every run of the zoo back from the store.
fn build_report(
    opts: &ZooOptions,
    matrix_path: &Path,
    store: &Path,
    bugs: &[String],
    base: &toml::Table,
) -> Result<ZooReport, ZooError> {
    let m = matrix::load(matrix_path)?;
    let planned = plan::plan(store, &m);
    let mut summaries: Vec<BugSummary> = Vec::new();
    for (i, cell) in m.cells.iter().enumerate() {
        let label = cell
            .settings
            .first()
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| CLEAN.into());
        let runs = planned
            .iter()
            .filter(|p| p.cell == i)
            .map(|p| {
                let results = p.done.as_ref().and_then(|d| {
                    checkers::results_file::read(&d.join(checkers::run_files::RESULTS)).ok()
                });
                let rel = p
                    .done
                    .as_ref()
                    .and_then(|d| d.strip_prefix(store).ok().map(Path::to_path_buf))
                    .unwrap_or_else(|| PathBuf::from(&cell.id));
                tally::zoo_run(p.seed, rel.display().to_string(), results.as_ref())
            })
            .collect();
        summaries.push(tally::summarize(&label, label == CLEAN, runs));
    }
    // The clean node first, then the bugs in the order asked for.
    summaries.sort_by_key(|s| {
        if s.clean {
            0
        } else {
            1 + bugs.iter().position(|b| *b == s.bug).unwrap_or(bugs.len())
        }
    });
    Ok(ZooReport {
        name: opts.name.clone(),
        test: describe(base),
        seeds: opts.seeds,
        command: command(opts),
        generated_at: chrono::Utc::now().to_rfc3339(),
        bugs: summaries,
    })
}

/// The test in one line: its file's settings that matter for detection.
fn describe(base: &toml::Table) -> String {
    let get = |section: &str, key: &str| {
        base.get(section)
            .and_then(|t| t.get(key))
            .map(|v| v.to_string().trim_matches('"').to_string())
    };
    let limit = get("test", "time_limit").unwrap_or_else(|| "60s".into());
    let faults = get("nemesis", "faults").unwrap_or_else(|| "default faults".into());
    let conflict = get("test", "conflict").unwrap_or_else(|| "lww".into());
    format!("{limit}, {faults}, {conflict}")
}

/// The command that reruns or resumes this zoo.
fn command(opts: &ZooOptions) -> String {
    let mut cmd = format!("converge zoo --name {} --seeds {}", opts.name, opts.seeds);
    if let Some(b) = &opts.bugs {
        cmd.push_str(&format!(" --bugs {}", b.join(",")));
    }
    if let Some(s) = opts.seed_base {
        cmd.push_str(&format!(" --seed-base {s}"));
    }
    if let Some(c) = &opts.config {
        cmd.push_str(&format!(" --config {}", c.display()));
    }
    if let Some(t) = &opts.time_limit {
        cmd.push_str(&format!(" --time-limit {t}"));
    }
    if let Some(s) = &opts.store {
        cmd.push_str(&format!(" --store {}", s.display()));
    }
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bug_list_comes_from_clap_help() {
        let help = "Options:\n      --zoo-bug <BUG>\n          The bug\n\n          [possible values: early-ack, read-repair-overwrites,\n          gc-ignores-grace]\n\n  -h, --help";
        assert_eq!(
            possible_values(help, "--zoo-bug"),
            vec!["early-ack", "read-repair-overwrites", "gc-ignores-grace"]
        );
        assert!(possible_values("no such flag", "--zoo-bug").is_empty());
        let long = "      --zoo-bug <NAME>\n          Zoo builds only\n\n          Possible values:\n          - early-ack:  The coordinator acks early\n          - doomstone:  kv679's doomstone\n\n  -h, --help";
        assert_eq!(
            possible_values(long, "--zoo-bug"),
            vec!["early-ack", "doomstone"]
        );
    }

    #[test]
    fn seeds_are_stable_distinct_and_below_two_to_the_53() {
        let opts = ZooOptions {
            name: "nightly".into(),
            seeds: 20,
            ..Default::default()
        };
        let a = seeds(&opts);
        assert_eq!(a, seeds(&opts));
        assert!(a.iter().all(|s| *s < 1 << 53));
        let mut d = a.clone();
        d.sort_unstable();
        d.dedup();
        assert_eq!(d.len(), 20);
        let other = ZooOptions {
            name: "other".into(),
            ..opts
        };
        assert_ne!(seeds(&other), a);
    }
}
