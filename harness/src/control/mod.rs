//! The control layer: run commands on, and move files to and from, the hosts
//! a remote cluster lives on.
//!
//! Every remote backend (node lifecycle, iptables partitions, faketime
//! clocks) talks to hosts only through the [`Remote`] trait, so the same
//! code drives VMs over SSH ([`SshRemote`]) and containers through
//! `docker exec` ([`DockerExecRemote`]). Calls are blocking: the teardown
//! guard runs them from `Drop`, and every backend seam is synchronous.

pub mod docker_exec;
pub mod ssh;

pub use docker_exec::DockerExecRemote;
pub use ssh::{SshOptions, SshRemote};

use std::path::Path;
use std::sync::Arc;

/// What a finished command left behind.
#[derive(Debug, Clone)]
pub struct CmdOutput {
    /// Exit status (non-zero when killed by a signal).
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Why a host could not be driven. Each renders as one line naming the host.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("host {host} is unreachable: {reason}")]
    Unreachable { host: String, reason: String },
    #[error("host {host} refused authentication as {user}: {reason}")]
    Auth {
        host: String,
        user: String,
        reason: String,
    },
    #[error("host {host}: {reason}")]
    HostKey { host: String, reason: String },
    #[error("host {host}: `{command}` exited with {status}: {stderr}")]
    Failed {
        host: String,
        command: String,
        status: i32,
        stderr: String,
    },
    #[error("host {host}: {reason}")]
    Io { host: String, reason: String },
}

/// One host the harness controls.
pub trait Remote: Send + Sync {
    /// The host's name as the operator wrote it (for messages).
    fn host(&self) -> &str;
    /// Runs `script` with `/bin/sh -c` as root and waits for it.
    fn exec(&self, script: &str) -> Result<CmdOutput, ControlError>;
    /// Copies the local file to `remote_path` (parent directory must exist).
    fn upload(&self, local: &Path, remote_path: &str) -> Result<(), ControlError>;
    /// Copies `remote_path` to the local file.
    fn download(&self, remote_path: &str, local: &Path) -> Result<(), ControlError>;
}

/// Runs `script` and returns its stdout, or an error if it exited non-zero.
pub fn exec_ok(remote: &dyn Remote, script: &str) -> Result<String, ControlError> {
    let out = remote.exec(script)?;
    if out.status == 0 {
        Ok(out.stdout)
    } else {
        Err(ControlError::Failed {
            host: remote.host().to_string(),
            command: first_line(script),
            status: out.status,
            stderr: first_line(out.stderr.trim()),
        })
    }
}

/// Runs `f` on every remote at once (one thread each) and returns the
/// results in the same order.
pub fn parallel<T, F>(remotes: &[Arc<dyn Remote>], f: F) -> Vec<Result<T, ControlError>>
where
    T: Send,
    F: Fn(&dyn Remote) -> Result<T, ControlError> + Sync,
{
    std::thread::scope(|s| {
        let handles: Vec<_> = remotes
            .iter()
            .map(|r| {
                let f = &f;
                s.spawn(move || f(r.as_ref()))
            })
            .collect();
        handles
            .into_iter()
            .zip(remotes)
            .map(|(h, r)| {
                h.join().unwrap_or_else(|_| {
                    Err(ControlError::Io {
                        host: r.host().to_string(),
                        reason: "the control thread panicked".into(),
                    })
                })
            })
            .collect()
    })
}

/// Quotes `s` for a POSIX shell.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").chars().take(200).collect()
}

/// What a host must have for a remote cluster; checked before anything
/// is uploaded so the operator gets one clear line per problem.
pub fn check_host(remote: &dyn Remote, need_faketime: bool) -> Result<(), ControlError> {
    let script = format!(
        "echo uid=$(id -u); echo arch=$(uname -m); \
         command -v iptables >/dev/null 2>&1 && echo iptables=yes; \
         [ -e {FAKETIME_LIB} ] && echo faketime=yes; true"
    );
    let out = exec_ok(remote, &script)?;
    let get = |k: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")).map(str::to_string))
    };
    let fail = |reason: String| {
        Err(ControlError::Io {
            host: remote.host().to_string(),
            reason,
        })
    };
    if get("uid").as_deref() != Some("0") {
        return fail(
            "commands do not run as root (log in as root or give the user passwordless sudo)"
                .into(),
        );
    }
    let want = std::env::consts::ARCH;
    match get("arch") {
        Some(a) if a == want => {}
        other => {
            return fail(format!(
                "wrong architecture {} (the node binary is built for {want})",
                other.unwrap_or_else(|| "unknown".into())
            ));
        }
    }
    if get("iptables").is_none() {
        return fail("iptables is missing (install the iptables package)".into());
    }
    if need_faketime && get("faketime").is_none() {
        return fail(format!(
            "libfaketime is missing ({FAKETIME_LIB}; install the libfaketime package)"
        ));
    }
    Ok(())
}

/// Where Debian and Ubuntu install libfaketime.
pub const FAKETIME_LIB: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_single_quotes() {
        assert_eq!(shell_quote("a'b"), r"'a'\''b'");
    }
}
