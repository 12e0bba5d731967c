//! [`DockerExecRemote`]: a container driven with `docker exec` and
//! `docker cp` — no SSH daemon or keys needed, the quickest way to run a
//! cluster in containers on this machine.

use super::{CmdOutput, ControlError, Remote};
use std::path::Path;
use std::process::{Command, Stdio};

pub struct DockerExecRemote {
    container: String,
}

impl DockerExecRemote {
    pub fn new(container: impl Into<String>) -> DockerExecRemote {
        DockerExecRemote {
            container: container.into(),
        }
    }

    fn io(&self, reason: String) -> ControlError {
        ControlError::Io {
            host: self.container.clone(),
            reason,
        }
    }

    fn docker(&self, args: &[&str]) -> Result<CmdOutput, ControlError> {
        let out = Command::new("docker")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| self.io(format!("cannot run docker: {e}")))?;
        Ok(CmdOutput {
            status: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    fn docker_ok(&self, args: &[&str]) -> Result<(), ControlError> {
        let out = self.docker(args)?;
        if out.status == 0 {
            Ok(())
        } else {
            Err(self.io(format!(
                "docker {} failed: {}",
                args.first().copied().unwrap_or(""),
                out.stderr.trim()
            )))
        }
    }
}

impl Remote for DockerExecRemote {
    fn host(&self) -> &str {
        &self.container
    }

    fn exec(&self, script: &str) -> Result<CmdOutput, ControlError> {
        let out = self.docker(&["exec", &self.container, "/bin/sh", "-c", script])?;
        // 125-127 from docker itself mean the container is gone or stopped.
        if out.status >= 125 && out.stderr.contains("rror") && out.stdout.is_empty() {
            return Err(ControlError::Unreachable {
                host: self.container.clone(),
                reason: out.stderr.trim().to_string(),
            });
        }
        Ok(out)
    }

    fn upload(&self, local: &Path, remote_path: &str) -> Result<(), ControlError> {
        let local = local.to_string_lossy();
        self.docker_ok(&["cp", &local, &format!("{}:{remote_path}", self.container)])
    }

    fn download(&self, remote_path: &str, local: &Path) -> Result<(), ControlError> {
        let local = local.to_string_lossy();
        self.docker_ok(&["cp", &format!("{}:{remote_path}", self.container), &local])
    }
}
