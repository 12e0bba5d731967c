//! The sweep's matrix file: a base test plus axes, expanded into cells.
//!
//! ```toml
//! name = "repair"                    # optional; default: the file's stem
//! seeds = [1, 2, 3]                  # or a count: seeds = 3 (1, 2, 3)
//! base = "base.toml"                 # a `converge run --config` file
//!                                    # (relative to this file), or an
//!                                    # inline [base] table
//! t_visibility_points = ["10ms", "100ms", "1s"]   # optional
//!
//! [axes]
//! "read_repair.mode" = ["off", "blocking"]          # one field per axis
//! "tombstones.gc_grace" = ["2s", "10d"]
//! repair = [                                        # or named presets that
//!   { label = "rr only", "anti_entropy.mode" = "off" },     # set several
//!   { label = "merkle", "anti_entropy.mode" = "merkle", "anti_entropy.interval" = "1s" },
//! ]
//! ```
//!
//! A field path starting with `test.`, `workload.`, `nemesis.`, `checks.`,
//! `deploy.` or `node.` addresses that table of the test file; `cluster.rf`,
//! `cluster.r`, `cluster.w` and `cluster.conflict` are the harness's own
//! `test.*` settings (which it writes into the node's `[cluster]`); any
//! other path is a node config field (`read_repair.mode` means
//! `node.read_repair.mode`), so an operator's node config keys work as is.
//!
//! Axes keep their file order (read from the TOML spans, since TOML tables
//! are unordered); the first axis varies slowest.

use super::SweepError;
use crate::config::duration::HumanDuration;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use toml::{Table, Value};

/// A parsed matrix: the base test and every cell.
#[derive(Debug, Clone)]
pub struct Matrix {
    pub name: String,
    pub file: PathBuf,
    pub seeds: Vec<u64>,
    pub t_visibility_points: Vec<HumanDuration>,
    /// The base test's `test.store`, if it sets one.
    pub base_store: Option<PathBuf>,
    pub axes: Vec<Axis>,
    pub cells: Vec<Cell>,
}

/// One axis and its values, in file order.
#[derive(Debug, Clone)]
pub struct Axis {
    /// The field path, or the preset axis's name.
    pub name: String,
    pub values: Vec<AxisValue>,
}

/// One value of an axis: its label and the fields it sets.
#[derive(Debug, Clone)]
pub struct AxisValue {
    pub label: String,
    /// Resolved paths within the test file (`node.read_repair.mode`).
    pub assignments: Vec<(Vec<String>, Value)>,
}

/// One configuration: the base test with one value of every axis applied.
#[derive(Debug, Clone)]
pub struct Cell {
    /// Its test name in the store, unique per effective config.
    pub id: String,
    /// Axis name → value label.
    pub settings: Vec<(String, String)>,
    /// The whole test file of this cell (seed and store left out).
    pub test: Table,
}

impl Cell {
    /// `read_repair.mode=off, anti_entropy.mode=merkle`.
    pub fn label(&self) -> String {
        let parts: Vec<String> = self
            .settings
            .iter()
            .map(|(axis, value)| format!("{axis}={value}"))
            .collect();
        if parts.is_empty() {
            "base".into()
        } else {
            parts.join(", ")
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MatrixFile {
    name: Option<String>,
    seeds: Seeds,
    base: Option<Base>,
    t_visibility_points: Option<Vec<HumanDuration>>,
    #[serde(default)]
    axes: BTreeMap<String, toml::Spanned<Vec<Value>>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Seeds {
    Count(u64),
    List(Vec<u64>),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Base {
    File(PathBuf),
    Inline(Table),
}

/// The t-visibility points reported when the matrix names none.
const DEFAULT_POINTS_MS: [u64; 3] = [10, 100, 1000];
/// Sections of the test file a path may start with.
const TEST_SECTIONS: [&str; 6] = ["test", "workload", "nemesis", "checks", "deploy", "node"];
/// Set by the sweep itself, per cell and per run.
const RESERVED: [&str; 3] = ["test.name", "test.seed", "test.store"];

/// `n` seeds spread like random ones — SplitMix64 draws from `base` —
/// below 2^53 as matrices require, and the same for the same base on every
/// machine and every rerun (what fleets and zoos need to resume and slice).
pub fn drawn_seeds(base: u64, n: u32) -> Vec<u64> {
    let mut state = base;
    (0..n)
        .map(|_| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            (z ^ (z >> 31)) >> 11
        })
        .collect()
}

/// Reads and expands a matrix file. Every error names the file and the
/// offending key.
pub fn load(path: &Path) -> Result<Matrix, SweepError> {
    let bad = |msg: String| SweepError::Input(format!("matrix {}: {msg}", path.display()));
    let text = std::fs::read_to_string(path)
        .map_err(|e| bad(format!("cannot read the matrix file: {e}")))?;
    let file: MatrixFile =
        toml::from_str(&text).map_err(|e| bad(e.message().trim().replace('\n', " ")))?;
    let name = match file.name {
        Some(n) => n,
        None => path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "sweep".into()),
    };
    if name.is_empty() || name.contains('/') || name.starts_with('.') || name == "sweeps" {
        return Err(bad(format!(
            "name {name:?} must be non-empty, without '/', not starting with '.', and not \"sweeps\""
        )));
    }
    let seeds = match file.seeds {
        Seeds::Count(0) => return Err(bad("seeds must be at least 1".into())),
        Seeds::Count(n) => (1..=n).collect(),
        Seeds::List(v) if v.is_empty() => {
            return Err(bad("seeds must list at least one seed".into()));
        }
        Seeds::List(v) => v,
    };
    if seeds.iter().any(|s| *s >= 1 << 53) {
        return Err(bad("seeds must be below 2^53".into()));
    }
    let base = match file.base {
        None => Table::new(),
        Some(Base::Inline(t)) => t,
        Some(Base::File(rel)) => {
            let p = path.parent().unwrap_or(Path::new(".")).join(rel);
            let text = std::fs::read_to_string(&p)
                .map_err(|e| bad(format!("cannot read base test {}: {e}", p.display())))?;
            text.parse::<Table>().map_err(|e| {
                bad(format!(
                    "base test {} is not valid TOML: {}",
                    p.display(),
                    e.message().trim()
                ))
            })?
        }
    };
    let base_store = base
        .get("test")
        .and_then(|t| t.get("store"))
        .and_then(Value::as_str)
        .map(PathBuf::from);
    let mut spanned: Vec<(String, toml::Spanned<Vec<Value>>)> = file.axes.into_iter().collect();
    spanned.sort_by_key(|(_, v)| v.span().start);
    let mut axes = Vec::new();
    for (name, values) in spanned {
        axes.push(
            axis(&name, values.into_inner()).map_err(|e| bad(format!("axis {name:?}: {e}")))?,
        );
    }
    let cells = expand(&name, &base, &axes).map_err(|e| bad(e.to_string()))?;
    let t_visibility_points = file.t_visibility_points.unwrap_or_else(|| {
        DEFAULT_POINTS_MS
            .iter()
            .map(|ms| HumanDuration::from_millis(*ms))
            .collect()
    });
    Ok(Matrix {
        name,
        file: path.to_path_buf(),
        seeds,
        t_visibility_points,
        base_store,
        axes,
        cells,
    })
}

/// What is wrong with an axis or a cell (named with the file by [`load`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum AxisError {
    #[error("needs at least one value")]
    Empty,
    #[error("two values share the label {0:?}")]
    SharedLabel(String),
    #[error("a preset's label must be a string")]
    LabelNotString,
    #[error("a preset must set at least one field")]
    EmptyPreset,
    #[error("{0:?} is not a field path (write e.g. read_repair.mode)")]
    NotAPath(String),
    #[error("{0:?} names a whole section, not a field")]
    WholeSection(String),
    #[error("{0:?} is set by the sweep itself (use `seeds`)")]
    Reserved(String),
    #[error("cannot set {path}: {parent} in the base test is not a table")]
    NotATable { path: String, parent: String },
}

fn axis(name: &str, values: Vec<Value>) -> Result<Axis, AxisError> {
    if values.is_empty() {
        return Err(AxisError::Empty);
    }
    let values = values
        .into_iter()
        .map(|v| match v {
            Value::Table(preset) => preset_value(preset),
            scalar => Ok(AxisValue {
                label: label_of(&scalar),
                assignments: vec![(resolve(name)?, scalar)],
            }),
        })
        .collect::<Result<Vec<_>, AxisError>>()?;
    let mut seen = std::collections::BTreeSet::new();
    for v in &values {
        if !seen.insert(v.label.as_str()) {
            return Err(AxisError::SharedLabel(v.label.clone()));
        }
    }
    Ok(Axis {
        name: name.to_string(),
        values,
    })
}

/// A preset: `{ label = "...", "a.b" = 1, c = { d = 2 } }`.
fn preset_value(mut preset: Table) -> Result<AxisValue, AxisError> {
    let label = match preset.remove("label") {
        Some(Value::String(s)) => Some(s),
        Some(_) => return Err(AxisError::LabelNotString),
        None => None,
    };
    let mut leaves = Vec::new();
    flatten("", &preset, &mut leaves);
    if leaves.is_empty() {
        return Err(AxisError::EmptyPreset);
    }
    let label = label.unwrap_or_else(|| {
        leaves
            .iter()
            .map(|(k, v)| format!("{k}={}", label_of(v)))
            .collect::<Vec<_>>()
            .join(",")
    });
    let assignments = leaves
        .into_iter()
        .map(|(k, v)| Ok((resolve(&k)?, v)))
        .collect::<Result<_, AxisError>>()?;
    Ok(AxisValue { label, assignments })
}

/// Dotted paths to every non-table value (quoted dotted keys stay dotted).
fn flatten(prefix: &str, t: &Table, out: &mut Vec<(String, Value)>) {
    for (k, v) in t {
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            Value::Table(inner) => flatten(&path, inner, out),
            leaf => out.push((path, leaf.clone())),
        }
    }
}

/// A field path as a path within the test file.
fn resolve(path: &str) -> Result<Vec<String>, AxisError> {
    let parts: Vec<String> = path.split('.').map(str::to_string).collect();
    if parts.iter().any(String::is_empty) {
        return Err(AxisError::NotAPath(path.to_string()));
    }
    let resolved = match parts.as_slice() {
        [first, ..] if TEST_SECTIONS.contains(&first.as_str()) => parts.clone(),
        [cluster, field]
            if cluster == "cluster" && ["rf", "r", "w", "conflict"].contains(&field.as_str()) =>
        {
            vec!["test".into(), field.clone()]
        }
        _ => std::iter::once("node".to_string()).chain(parts).collect(),
    };
    if resolved.len() < 2 {
        return Err(AxisError::WholeSection(path.to_string()));
    }
    if RESERVED.contains(&resolved.join(".").as_str()) {
        return Err(AxisError::Reserved(path.to_string()));
    }
    Ok(resolved)
}

/// A value's short label: strings bare, lists joined with `+`.
fn label_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) if items.is_empty() => "none".into(),
        Value::Array(items) => items.iter().map(label_of).collect::<Vec<_>>().join("+"),
        other => other.to_string(),
    }
}

/// Every combination of axis values, the first axis slowest.
fn expand(name: &str, base: &Table, axes: &[Axis]) -> Result<Vec<Cell>, AxisError> {
    let mut combos: Vec<Vec<&AxisValue>> = vec![vec![]];
    for axis in axes {
        combos = combos
            .into_iter()
            .flat_map(|c| {
                axis.values.iter().map(move |v| {
                    let mut c = c.clone();
                    c.push(v);
                    c
                })
            })
            .collect();
    }
    let mut cells = Vec::new();
    for combo in combos {
        let mut test = base.clone();
        for v in &combo {
            for (path, value) in &v.assignments {
                set(&mut test, path, value.clone())?;
            }
        }
        if let Some(Value::Table(t)) = test.get_mut("test") {
            for k in ["name", "seed", "store"] {
                t.remove(k);
            }
        }
        let settings: Vec<(String, String)> = axes
            .iter()
            .zip(&combo)
            .map(|(a, v)| (a.name.clone(), v.label.clone()))
            .collect();
        let id = cell_id(name, &settings, &test);
        cells.push(Cell { id, settings, test });
    }
    Ok(cells)
}

fn set(root: &mut Table, path: &[String], value: Value) -> Result<(), AxisError> {
    let Some((last, parents)) = path.split_last() else {
        return Ok(());
    };
    let mut t = root;
    for (i, p) in parents.iter().enumerate() {
        let entry = t
            .entry(p.clone())
            .or_insert_with(|| Value::Table(Table::new()));
        t = match entry {
            Value::Table(inner) => inner,
            _ => {
                return Err(AxisError::NotATable {
                    path: path.join("."),
                    parent: path[..=i].join("."),
                });
            }
        };
    }
    t.insert(last.clone(), value);
    Ok(())
}

/// `<sweep>.<labels>.<hash>`: readable in the store, and different whenever
/// the cell's effective test differs, so a changed base is never mistaken
/// for a finished cell when resuming.
fn cell_id(sweep: &str, settings: &[(String, String)], test: &Table) -> String {
    let labels: Vec<&str> = settings.iter().map(|(_, v)| v.as_str()).collect();
    let mut slug: String = labels
        .join("_")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(60)
        .collect();
    if slug.is_empty() {
        slug = "base".into();
    }
    format!(
        "{sweep}.{slug}.{:08x}",
        fnv1a(&Value::Table(test.clone()).to_string())
    )
}

/// FNV-1a, 32 bits: stable across Rust versions, unlike std's hasher.
fn fnv1a(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drawn_seeds_are_a_pure_function_of_the_base() {
        let a = drawn_seeds(5, 10);
        assert_eq!(a, drawn_seeds(5, 10));
        assert_ne!(a, drawn_seeds(6, 10));
        assert!(a.iter().all(|s| *s < 1 << 53));
        let mut d = a.clone();
        d.sort_unstable();
        d.dedup();
        assert_eq!(d.len(), 10);
    }
    use std::io::Write;

    fn matrix(text: &str) -> Result<Matrix, SweepError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.toml");
        std::fs::File::create(&path)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        load(&path)
    }

    #[test]
    fn axes_expand_in_file_order_with_node_paths_resolved() {
        let m = matrix(
            "seeds = 2\n[base.test]\nnodes = 3\n[axes]\n\"read_repair.mode\" = [\"off\", \"blocking\"]\n\"cluster.conflict\" = [\"lww\", \"dvv\"]\n\"nemesis.faults\" = [[\"partition\"], [\"partition\", \"clock\"]]\n",
        )
        .unwrap();
        assert_eq!(m.name, "m");
        assert_eq!(m.seeds, vec![1, 2]);
        assert_eq!(m.cells.len(), 8);
        let first = &m.cells[0];
        assert_eq!(
            first.label(),
            "read_repair.mode=off, cluster.conflict=lww, nemesis.faults=partition"
        );
        assert_eq!(
            first.test["node"]["read_repair"]["mode"].as_str(),
            Some("off")
        );
        assert_eq!(first.test["test"]["conflict"].as_str(), Some("lww"));
        assert_eq!(first.test["test"]["nodes"].as_integer(), Some(3));
        assert_eq!(m.cells[1].settings[2].1, "partition+clock");
        assert_eq!(m.cells[7].settings[0].1, "blocking");
        let ids: std::collections::BTreeSet<_> = m.cells.iter().map(|c| &c.id).collect();
        assert_eq!(ids.len(), 8);
        assert!(first.id.starts_with("m.off_lww_partition."), "{}", first.id);
    }

    #[test]
    fn presets_set_several_fields_under_one_label() {
        let m = matrix(
            "seeds = [7]\n[axes]\nrepair = [{ label = \"rr only\", \"anti_entropy.mode\" = \"off\" }, { anti_entropy = { mode = \"merkle\", interval = \"1s\" } }]\n",
        )
        .unwrap();
        assert_eq!(m.cells.len(), 2);
        assert_eq!(m.cells[0].settings[0], ("repair".into(), "rr only".into()));
        assert_eq!(
            m.cells[1].settings[0].1,
            "anti_entropy.interval=1s,anti_entropy.mode=merkle"
        );
        assert_eq!(
            m.cells[1].test["node"]["anti_entropy"]["interval"].as_str(),
            Some("1s")
        );
    }

    #[test]
    fn a_changed_base_changes_the_cell_ids() {
        let a = matrix("seeds = 1\n[base.test]\nnodes = 3\n[axes]\n\"test.r\" = [1]\n").unwrap();
        let b = matrix("seeds = 1\n[base.test]\nnodes = 4\n[axes]\n\"test.r\" = [1]\n").unwrap();
        assert_ne!(a.cells[0].id, b.cells[0].id);
        let again =
            matrix("seeds = 1\n[base.test]\nnodes = 3\n[axes]\n\"test.r\" = [1]\n").unwrap();
        assert_eq!(a.cells[0].id, again.cells[0].id);
    }

    #[test]
    fn bad_matrices_are_named() {
        let err = |t: &str| matrix(t).unwrap_err().to_string();
        assert!(err("[axes]\n").contains("seeds"));
        assert!(err("seeds = 0\n").contains("seeds must be at least 1"));
        assert!(err("seeds = 1\nbase = \"missing.toml\"\n").contains("cannot read base test"));
        assert!(err("seeds = 1\n[axes]\nx = []\n").contains("needs at least one value"));
        assert!(err("seeds = 1\n[axes]\n\"test.seed\" = [1]\n").contains("set by the sweep"));
        assert!(err("seeds = 1\n[axes]\n\"a..b\" = [1]\n").contains("not a field path"));
        assert!(err("seeds = 1\n[axes]\n\"m\" = [1, 1]\n").contains("share the label"));
        assert!(
            err("seeds = 1\n[base.node]\nhints = 3\n[axes]\n\"hints.enabled\" = [true]\n")
                .contains("node.hints in the base test is not a table")
        );
        assert!(err("seeds = 1\nbogus = 2\n").contains("bogus"));
    }
}
