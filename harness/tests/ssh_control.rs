//! The SSH control layer against a real sshd: a private daemon on a
//! loopback port with its own host key and authorized key, started for the
//! test. Covers what VM users trip over: unknown host keys (refused, or
//! recorded with accept-new), changed host keys (always refused), a wrong
//! login key, and commands' status/output and file transfer.
//!
//! Needs root (sshd's privilege separation) and openssh-server; elsewhere
//! the tests skip with a message (under `CI=true` they fail instead).

use converge::control::{ControlError, Remote, SshOptions, SshRemote};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SSHD: &str = "/usr/sbin/sshd";

struct Sshd {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn keygen(path: &Path) {
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
}

/// Starts sshd on a free loopback port, or explains why not (None).
fn sshd(test: &str) -> Option<Sshd> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    if !root || !Path::new(SSHD).exists() {
        let why = if root {
            "no /usr/sbin/sshd"
        } else {
            "not root"
        };
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{test}: CI=true but cannot run sshd: {why}");
        }
        eprintln!("skipping {test}: {why}");
        return None;
    }
    std::fs::create_dir_all("/run/sshd").unwrap(); // privilege separation dir
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    keygen(&d.join("host_key"));
    keygen(&d.join("client_key"));
    std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys")).unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = format!(
        "Port {port}\nListenAddress 127.0.0.1\nHostKey {hk}\nAuthorizedKeysFile {ak}\n\
         PermitRootLogin prohibit-password\nPasswordAuthentication no\n\
         KbdInteractiveAuthentication no\nUsePAM no\nPidFile none\nStrictModes no\n",
        hk = d.join("host_key").display(),
        ak = d.join("authorized_keys").display(),
    );
    std::fs::write(d.join("sshd_config"), config).unwrap();
    let child = Command::new(SSHD)
        .args(["-D", "-e", "-f"])
        .arg(d.join("sshd_config"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "sshd did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(Sshd { child, port, dir })
}

impl Sshd {
    fn opts(&self, known_hosts: PathBuf, accept_new: bool) -> SshOptions {
        SshOptions {
            user: "root".into(),
            port: self.port,
            key: self.dir.path().join("client_key"),
            known_hosts,
            accept_new,
            connect_timeout: Duration::from_secs(5),
            op_timeout: Duration::from_secs(10),
        }
    }
}

#[test]
fn host_keys_are_checked_and_accept_new_records_them() {
    let Some(s) = sshd("host_keys_are_checked_and_accept_new_records_them") else {
        return;
    };
    let kh = s.dir.path().join("known_hosts");
    let refused = SshRemote::connect("127.0.0.1", s.opts(kh.clone(), false));
    let e = refused.err().expect("an unknown host must be refused");
    assert!(matches!(e, ControlError::HostKey { .. }), "{e}");
    assert!(e.to_string().contains("--ssh-accept-new"), "{e}");

    let r = SshRemote::connect("127.0.0.1", s.opts(kh.clone(), true)).unwrap();
    let recorded = std::fs::read_to_string(&kh).unwrap();
    assert!(
        recorded.contains(&format!("[127.0.0.1]:{}", s.port)),
        "{recorded}"
    );
    drop(r);
    // Now known: accepted without accept-new.
    SshRemote::connect("127.0.0.1", s.opts(kh.clone(), false)).unwrap();

    // A different key for the same host is refused, accept-new or not.
    let other = s.dir.path().join("other_key");
    keygen(&other);
    let pubkey = std::fs::read_to_string(other.with_extension("pub")).unwrap();
    let mut fields = pubkey.split_whitespace();
    let (kind, blob) = (fields.next().unwrap(), fields.next().unwrap());
    std::fs::write(&kh, format!("[127.0.0.1]:{} {kind} {blob}\n", s.port)).unwrap();
    let e = SshRemote::connect("127.0.0.1", s.opts(kh, true))
        .err()
        .expect("a changed key must be refused");
    assert!(e.to_string().contains("HOST KEY CHANGED"), "{e}");
}

#[test]
fn a_wrong_login_key_is_an_auth_error() {
    let Some(s) = sshd("a_wrong_login_key_is_an_auth_error") else {
        return;
    };
    let mut opts = s.opts(s.dir.path().join("known_hosts"), true);
    let stranger = s.dir.path().join("stranger");
    keygen(&stranger);
    opts.key = stranger;
    let e = SshRemote::connect("127.0.0.1", opts)
        .err()
        .expect("must fail");
    assert!(matches!(e, ControlError::Auth { .. }), "{e}");
}

#[test]
fn an_unreachable_host_is_one_clear_error() {
    let Some(s) = sshd("an_unreachable_host_is_one_clear_error") else {
        return;
    };
    let mut opts = s.opts(s.dir.path().join("known_hosts"), true);
    opts.port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    opts.connect_timeout = Duration::from_millis(500);
    let e = SshRemote::connect("127.0.0.1", opts)
        .err()
        .expect("must fail");
    assert!(matches!(e, ControlError::Unreachable { .. }), "{e}");
    assert!(
        e.to_string().starts_with("host 127.0.0.1 is unreachable"),
        "{e}"
    );
}

#[test]
fn commands_and_files_go_over_ssh() {
    let Some(s) = sshd("commands_and_files_go_over_ssh") else {
        return;
    };
    let r =
        SshRemote::connect("127.0.0.1", s.opts(s.dir.path().join("known_hosts"), true)).unwrap();
    let out = r.exec("echo out; echo err >&2; exit 3").unwrap();
    assert_eq!(
        (out.status, out.stdout.as_str(), out.stderr.as_str()),
        (3, "out\n", "err\n")
    );
    let e = converge::control::exec_ok(&r, "false").unwrap_err();
    assert!(matches!(e, ControlError::Failed { status: 1, .. }), "{e}");

    // A binary file with every byte value survives the round trip.
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let src = s.dir.path().join("src.bin");
    std::fs::write(&src, &data).unwrap();
    let remote_path = s.dir.path().join("remote.bin");
    r.upload(&src, remote_path.to_str().unwrap()).unwrap();
    assert_eq!(std::fs::read(&remote_path).unwrap(), data);
    let back = s.dir.path().join("back.bin");
    r.download(remote_path.to_str().unwrap(), &back).unwrap();
    assert_eq!(std::fs::read(&back).unwrap(), data);
    // Many commands on one session (it is reused, not reopened).
    for i in 0..20 {
        assert_eq!(
            r.exec(&format!("echo {i}")).unwrap().stdout,
            format!("{i}\n")
        );
    }
}
