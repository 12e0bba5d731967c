//! Finds the `converge-node` binary to deploy.
//!
//! Order: `--node-bin PATH`; else `converge-node` next to the running
//! `converge` executable (where cargo puts both); else, when run inside the
//! converge workspace, `cargo build -p converge-node` in the same profile and
//! target dir as this harness. Anything else is a one-line error (exit 2).
//!
//! `converge zoo` also needs a node built with the `zoo` feature
//! ([`resolve_zoo`]): `--zoo-node-bin PATH`, else built in the workspace into
//! its own target dir (`<target>/zoo/`), so the default node next to the
//! harness never carries a zoo bug.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Why no node binary could be found.
#[derive(Debug, thiserror::Error)]
pub enum BinaryError {
    #[error(
        "node binary {0} does not exist or is not executable; pass a built converge-node with --node-bin"
    )]
    NotExecutable(PathBuf),
    #[error(
        "cannot find converge-node next to {0} and not inside the converge workspace; build it or pass --node-bin PATH"
    )]
    NotFound(PathBuf),
    #[error(
        "building converge-node with cargo failed ({0}); fix the build or pass --node-bin PATH"
    )]
    BuildFailed(String),
    #[error("cannot run cargo to build converge-node ({0}); install Rust or pass --node-bin PATH")]
    CargoNotRun(#[source] std::io::Error),
}

/// Resolves the node binary as described in the module docs.
pub fn resolve(explicit: Option<&Path>) -> Result<PathBuf, BinaryError> {
    if let Some(path) = explicit {
        return checked(path);
    }
    let exe =
        std::env::current_exe().map_err(|_| BinaryError::NotFound(PathBuf::from("converge")))?;
    let sibling = exe.with_file_name("converge-node");
    if is_executable(&sibling) {
        return Ok(sibling);
    }
    let workspace = std::env::current_dir()
        .ok()
        .and_then(|d| find_workspace(&d))
        .ok_or_else(|| BinaryError::NotFound(exe.clone()))?;
    build_in_workspace(&workspace, &exe)?;
    if is_executable(&sibling) {
        Ok(sibling)
    } else {
        Err(BinaryError::NotFound(exe))
    }
}

/// A binary the operator named: it must be there and executable.
fn checked(path: &Path) -> Result<PathBuf, BinaryError> {
    if is_executable(path) {
        Ok(path.to_path_buf())
    } else {
        Err(BinaryError::NotExecutable(path.to_path_buf()))
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The nearest ancestor holding the converge workspace (its Cargo.toml and
/// the node crate).
fn find_workspace(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|d| d.join("Cargo.toml").is_file() && d.join("nodes/Cargo.toml").is_file())
        .map(Path::to_path_buf)
}

/// The node built with the `zoo` feature: `explicit`, else built inside the
/// workspace into `<target>/zoo/<profile>/converge-node`.
pub fn resolve_zoo(explicit: Option<&Path>) -> Result<PathBuf, BinaryError> {
    if let Some(path) = explicit {
        return checked(path);
    }
    let exe =
        std::env::current_exe().map_err(|_| BinaryError::NotFound(PathBuf::from("converge")))?;
    let workspace = std::env::current_dir()
        .ok()
        .and_then(|d| find_workspace(&d))
        .ok_or_else(|| BinaryError::NotFound(exe.clone()))?;
    let (target_dir, profile, profile_dir) = build_dirs(&exe)?;
    let zoo_target = target_dir.join("zoo");
    cargo_build(&workspace, &zoo_target, &profile, &["--features", "zoo"])?;
    let built = zoo_target.join(profile_dir).join("converge-node");
    if is_executable(&built) {
        Ok(built)
    } else {
        Err(BinaryError::NotFound(built))
    }
}

/// The target dir (the executable's grandparent), the cargo profile and the
/// profile's directory name (the executable's parent).
fn build_dirs(exe: &Path) -> Result<(PathBuf, String, String), BinaryError> {
    let profile_dir = exe
        .parent()
        .ok_or_else(|| BinaryError::NotFound(exe.into()))?;
    let target_dir = profile_dir
        .parent()
        .ok_or_else(|| BinaryError::NotFound(exe.into()))?;
    let dir_name = profile_dir
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| BinaryError::NotFound(exe.into()))?;
    let profile = if dir_name == "debug" { "dev" } else { dir_name };
    Ok((target_dir.to_path_buf(), profile.into(), dir_name.into()))
}

/// Builds the node into the directory this harness runs from: the target dir
/// is the executable's grandparent and the profile its parent's name.
fn build_in_workspace(workspace: &Path, exe: &Path) -> Result<(), BinaryError> {
    let (target_dir, profile, _) = build_dirs(exe)?;
    cargo_build(workspace, &target_dir, &profile, &[])
}

fn cargo_build(
    workspace: &Path,
    target_dir: &Path,
    profile: &str,
    extra: &[&str],
) -> Result<(), BinaryError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let features = if extra.is_empty() {
        ""
    } else {
        " with the zoo"
    };
    eprintln!("converge: building converge-node{features} (profile {profile})...");
    let status = Command::new(cargo)
        .current_dir(workspace)
        .args([
            "build",
            "-p",
            "converge-node",
            "--bin",
            "converge-node",
            "--profile",
            profile,
        ])
        .args(extra)
        .env("CARGO_TARGET_DIR", target_dir)
        .stdin(Stdio::null())
        .status()
        .map_err(BinaryError::CargoNotRun)?;
    if status.success() {
        Ok(())
    } else {
        Err(BinaryError::BuildFailed(status.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_missing_binary_is_named_in_the_error() {
        let e = resolve(Some(Path::new("/nonexistent/converge-node"))).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/converge-node"));
    }

    #[test]
    fn workspace_is_found_from_a_subdirectory() {
        let here = Path::new(env!("CARGO_MANIFEST_DIR"));
        let ws = find_workspace(here).unwrap();
        assert!(ws.join("nodes/Cargo.toml").is_file());
    }
}
