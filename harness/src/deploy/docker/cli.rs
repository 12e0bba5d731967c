//! The `docker` command line, run as a child process: the engine's API
//! would need another client crate for a handful of calls, and the CLI's
//! stderr is already the one clear line an operator needs.

use std::process::{Command, Stdio};

/// Why a docker command failed.
#[derive(Debug, thiserror::Error)]
pub enum DockerCliError {
    #[error("cannot run docker: {0}")]
    Spawn(#[source] std::io::Error),
    /// docker ran and failed; its stderr.
    #[error("{0}")]
    Failed(String),
}

/// Runs docker and returns its stdout.
pub fn docker(args: &[&str]) -> Result<String, DockerCliError> {
    let out = Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(DockerCliError::Spawn)?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(DockerCliError::Failed(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ))
    }
}
