//! [`SshRemote`]: a host driven over SSH (libssh2 via the `ssh2` crate).
//!
//! Decisions:
//! - Host keys are always checked against a known_hosts file. An unknown
//!   host is refused unless the operator asked for accept-new (then its key
//!   is recorded, as `ssh -o StrictHostKeyChecking=accept-new` does); a
//!   changed key is refused always.
//! - Connecting retries for a while (a VM or container that just booted may
//!   not listen yet); commands do not retry, since they are not all
//!   idempotent.
//! - One session per host, reconnected after an error; calls on one host
//!   are serialized through it (libssh2 sessions are not safe to drive from
//!   several threads at once in blocking mode).
//! - Files move over plain exec channels (`cat > file`, `cat file`), so the
//!   host needs no scp or sftp binary.
//! - A non-root user runs everything through `sudo -n`.

use super::{CmdOutput, ControlError, Remote, shell_quote};
use ssh2::{CheckResult, KnownHostFileKind, Session};
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How to reach and log in to hosts.
#[derive(Debug, Clone)]
pub struct SshOptions {
    pub user: String,
    pub port: u16,
    /// Private key file.
    pub key: PathBuf,
    pub known_hosts: PathBuf,
    /// Record the key of a host not yet in known_hosts instead of refusing.
    pub accept_new: bool,
    /// How long to keep retrying the TCP connect and handshake.
    pub connect_timeout: Duration,
    /// Limit on any one blocking SSH operation.
    pub op_timeout: Duration,
}

pub struct SshRemote {
    host: String,
    opts: SshOptions,
    session: Mutex<Option<Session>>,
}

impl SshRemote {
    /// Connects (with retries) and logs in, so a bad host, key or user is
    /// reported before anything else happens.
    pub fn connect(host: &str, opts: SshOptions) -> Result<SshRemote, ControlError> {
        let remote = SshRemote {
            host: host.to_string(),
            opts,
            session: Mutex::new(None),
        };
        let s = remote.open()?;
        *remote.lock() = Some(s);
        Ok(remote)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Session>> {
        self.session.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn io(&self, reason: impl std::fmt::Display) -> ControlError {
        ControlError::Io {
            host: self.host.clone(),
            reason: reason.to_string(),
        }
    }

    fn open(&self) -> Result<Session, ControlError> {
        let deadline = Instant::now() + self.opts.connect_timeout;
        loop {
            match self.try_open() {
                Ok(s) => return Ok(s),
                Err(e @ ControlError::Unreachable { .. }) if Instant::now() < deadline => {
                    tracing::debug!("retrying: {e}");
                    std::thread::sleep(Duration::from_millis(300));
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn try_open(&self) -> Result<Session, ControlError> {
        let unreachable = |reason: String| ControlError::Unreachable {
            host: self.host.clone(),
            reason,
        };
        let addr = (self.host.as_str(), self.opts.port)
            .to_socket_addrs()
            .map_err(|e| unreachable(format!("cannot resolve: {e}")))?
            .next()
            .ok_or_else(|| unreachable("no address".into()))?;
        let tcp = TcpStream::connect_timeout(&addr, Duration::from_secs(3))
            .map_err(|e| unreachable(format!("{addr}: {e}")))?;
        let mut s = Session::new().map_err(|e| self.io(e))?;
        s.set_timeout(u32::try_from(self.opts.op_timeout.as_millis()).unwrap_or(u32::MAX));
        s.set_tcp_stream(tcp);
        s.handshake()
            .map_err(|e| unreachable(format!("SSH handshake: {e}")))?;
        self.check_host_key(&s)?;
        s.userauth_pubkey_file(&self.opts.user, None, &self.opts.key, None)
            .map_err(|e| ControlError::Auth {
                host: self.host.clone(),
                user: self.opts.user.clone(),
                reason: format!("key {}: {e}", self.opts.key.display()),
            })?;
        Ok(s)
    }

    fn check_host_key(&self, s: &Session) -> Result<(), ControlError> {
        let bad = |reason: String| ControlError::HostKey {
            host: self.host.clone(),
            reason,
        };
        let path = &self.opts.known_hosts;
        let (key, kind) = s
            .host_key()
            .ok_or_else(|| bad("the server sent no host key".into()))?;
        let mut kh = s.known_hosts().map_err(|e| self.io(e))?;
        if path.exists() {
            kh.read_file(path, KnownHostFileKind::OpenSSH)
                .map_err(|e| bad(format!("cannot read {}: {e}", path.display())))?;
        }
        match kh.check_port(&self.host, self.opts.port, key) {
            CheckResult::Match => Ok(()),
            CheckResult::Mismatch => Err(bad(format!(
                "HOST KEY CHANGED (known_hosts {}); refusing to connect — remove the old entry if the host was reinstalled",
                path.display()
            ))),
            CheckResult::NotFound if self.opts.accept_new => {
                let name = if self.opts.port == 22 {
                    self.host.clone()
                } else {
                    format!("[{}]:{}", self.host, self.opts.port)
                };
                kh.add(&name, key, "added by converge", kind.into())
                    .and_then(|()| kh.write_file(path, KnownHostFileKind::OpenSSH))
                    .map_err(|e| {
                        bad(format!(
                            "cannot record the host key in {}: {e}",
                            path.display()
                        ))
                    })
            }
            CheckResult::NotFound => Err(bad(format!(
                "host key unknown (not in {}); add it (ssh-keyscan) or pass --ssh-accept-new",
                path.display()
            ))),
            CheckResult::Failure => Err(bad("host key check failed".into())),
        }
    }

    /// Runs `f` on a live session, reconnecting once if the old one broke.
    fn with_session<T>(
        &self,
        f: impl Fn(&Session) -> Result<T, ControlError>,
    ) -> Result<T, ControlError> {
        let mut guard = self.lock();
        if guard.is_none() {
            *guard = Some(self.open()?);
        }
        let first = match guard.as_ref() {
            Some(s) => f(s),
            None => return Err(self.io("no session")),
        };
        match first {
            Err(ControlError::Unreachable { .. }) => {
                *guard = None;
                let s = self.open()?;
                let r = f(&s);
                *guard = Some(s);
                r
            }
            other => other,
        }
    }

    fn wrap(&self, script: &str) -> String {
        if self.opts.user == "root" {
            script.to_string()
        } else {
            format!("sudo -n /bin/sh -c {}", shell_quote(script))
        }
    }

    /// One exec channel: feeds `input` (if any), collects stdout (into
    /// `sink`) and stderr, and returns the exit status.
    fn run(
        &self,
        s: &Session,
        script: &str,
        input: Option<&Path>,
        sink: &mut dyn Write,
    ) -> Result<(i32, String), ControlError> {
        let broken = |e: ssh2::Error| ControlError::Unreachable {
            host: self.host.clone(),
            reason: e.to_string(),
        };
        let mut ch = s.channel_session().map_err(broken)?;
        ch.exec(&self.wrap(script)).map_err(broken)?;
        if let Some(path) = input {
            let mut f = std::fs::File::open(path)
                .map_err(|e| self.io(format!("cannot read {}: {e}", path.display())))?;
            std::io::copy(&mut f, &mut ch).map_err(|e| self.io(format!("upload: {e}")))?;
        }
        ch.send_eof().map_err(broken)?;
        std::io::copy(&mut ch, sink).map_err(|e| self.io(format!("reading output: {e}")))?;
        let mut stderr = String::new();
        ch.stderr()
            .read_to_string(&mut stderr)
            .map_err(|e| self.io(format!("reading stderr: {e}")))?;
        ch.wait_close().map_err(broken)?;
        let status = ch.exit_status().map_err(broken)?;
        Ok((status, stderr))
    }
}

impl Remote for SshRemote {
    fn host(&self) -> &str {
        &self.host
    }

    fn exec(&self, script: &str) -> Result<CmdOutput, ControlError> {
        self.with_session(|s| {
            let mut stdout = Vec::new();
            let (status, stderr) = self.run(s, script, None, &mut stdout)?;
            if status != 0 && stderr.contains("sudo:") {
                return Err(self.io(format!(
                    "user {} has no passwordless sudo: {}",
                    self.opts.user,
                    stderr.trim()
                )));
            }
            Ok(CmdOutput {
                status,
                stdout: String::from_utf8_lossy(&stdout).into_owned(),
                stderr,
            })
        })
    }

    fn upload(&self, local: &Path, remote_path: &str) -> Result<(), ControlError> {
        let script = format!("cat > {}", shell_quote(remote_path));
        self.with_session(|s| {
            let (status, stderr) = self.run(s, &script, Some(local), &mut std::io::sink())?;
            match status {
                0 => Ok(()),
                _ => Err(self.io(format!("upload to {remote_path} failed: {}", stderr.trim()))),
            }
        })
    }

    fn download(&self, remote_path: &str, local: &Path) -> Result<(), ControlError> {
        let script = format!("cat {}", shell_quote(remote_path));
        self.with_session(|s| {
            let mut f = std::fs::File::create(local)
                .map_err(|e| self.io(format!("cannot create {}: {e}", local.display())))?;
            let (status, stderr) = self.run(s, &script, None, &mut f)?;
            match status {
                0 => Ok(()),
                _ => Err(self.io(format!(
                    "download of {remote_path} failed: {}",
                    stderr.trim()
                ))),
            }
        })
    }
}
