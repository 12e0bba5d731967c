//! The host image of the docker backend, built locally: no registry can be
//! reached, so nothing is pulled.
//!
//! The image is a minimal root filesystem assembled from this machine's own
//! binaries and the shared libraries `ldd` lists for them — a shell and a
//! few coreutils, sshd, iptables (nft backend, with its extension
//! modules), libfaketime and the libraries the node binary links — tarred
//! and `docker import`ed. The node binary itself is not in the image: it is
//! uploaded per run like on a VM, so a rebuilt node needs no new image.
//!
//! The tag is a content hash of every input file (and of this recipe's
//! version), so a second run finds the image and starts in seconds; a
//! changed input (a system upgrade) builds a new one and drops the old.

use super::cli::docker;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The image repository; the tag is the input hash.
pub const IMAGE_REPO: &str = "converge-host";

/// Bump when the recipe changes, so old caches are not reused.
const RECIPE_VERSION: &str = "1";

/// Host binaries the image needs (merged-/usr paths).
const BINARIES: &[&str] = &[
    "/usr/bin/dash",
    "/usr/bin/cat",
    "/usr/bin/mkdir",
    "/usr/bin/rm",
    "/usr/bin/mv",
    "/usr/bin/chmod",
    "/usr/bin/sleep",
    "/usr/bin/setsid",
    "/usr/bin/env",
    "/usr/bin/id",
    "/usr/bin/uname",
    "/usr/bin/ps",
    "/usr/bin/grep",
    "/usr/sbin/xtables-nft-multi",
    "/usr/sbin/sshd",
    crate::control::FAKETIME_LIB,
];

/// iptables loads its match and target modules at run time (ldd cannot
/// see them), so the whole directory goes in.
const XTABLES_DIR: &str = "/usr/lib/x86_64-linux-gnu/xtables";

/// Why the image could not be built.
#[derive(Debug, thiserror::Error)]
#[error("building the docker image: {0}")]
pub struct ImageError(String);

/// Returns the image tag, building the image only if no image with the
/// same inputs exists.
pub fn ensure_image(node_bin: &Path) -> Result<String, ImageError> {
    let files = input_files(node_bin)?;
    let tag = format!("{IMAGE_REPO}:{}", input_hash(&files)?);
    if docker(&["image", "inspect", &tag]).is_ok() {
        return Ok(tag);
    }
    let staging = std::env::temp_dir().join(format!(
        "converge-image-{}-{}",
        std::process::id(),
        tag.replace(':', "-")
    ));
    let built = build_rootfs(&staging, &files).and_then(|()| import(&staging, &tag));
    let _ = std::fs::remove_dir_all(&staging);
    built?;
    remove_stale_images(&tag);
    Ok(tag)
}

/// Every host file copied into the image: binaries, their libraries, the
/// node binary's libraries and the xtables modules. Sorted, deduplicated.
fn input_files(node_bin: &Path) -> Result<Vec<PathBuf>, ImageError> {
    let mut files = BTreeSet::new();
    for b in BINARIES {
        let p = Path::new(b);
        if !p.exists() {
            return Err(ImageError(format!(
                "{b} is missing on this machine (install openssh-server, iptables, libfaketime; see docs/deploy.md)"
            )));
        }
        files.insert(p.to_path_buf());
        files.extend(libraries(p)?);
    }
    files.extend(libraries(node_bin)?);
    let xt = std::fs::read_dir(XTABLES_DIR)
        .map_err(|e| ImageError(format!("cannot list {XTABLES_DIR}: {e}")))?;
    for entry in xt.flatten() {
        files.insert(entry.path());
    }
    Ok(files.into_iter().collect())
}

/// The shared libraries `ldd` resolves for `bin` (the dynamic loader too).
fn libraries(bin: &Path) -> Result<Vec<PathBuf>, ImageError> {
    let out = Command::new("ldd")
        .arg(bin)
        .output()
        .map_err(|e| ImageError(format!("cannot run ldd: {e}")))?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .split_whitespace()
        .filter(|w| w.starts_with('/'))
        .map(PathBuf::from)
        .collect())
}

fn input_hash(files: &[PathBuf]) -> Result<String, ImageError> {
    let mut h = Sha256::new();
    h.update(RECIPE_VERSION.as_bytes());
    for f in files {
        let bytes = std::fs::read(f)
            .map_err(|e| ImageError(format!("cannot read {}: {e}", f.display())))?;
        h.update(f.to_string_lossy().as_bytes());
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(&bytes);
    }
    let digest = h.finalize();
    Ok(digest.iter().take(8).map(|b| format!("{b:02x}")).collect())
}

/// Where a host path goes in the image: everything under /usr, with the
/// usual top-level symlinks (this is a merged-/usr layout, as on the host).
fn image_path(root: &Path, host: &Path) -> PathBuf {
    let s = host.to_string_lossy();
    let rel = match s.strip_prefix('/') {
        Some(r) if r.starts_with("usr/") => r.to_string(),
        Some(r) => format!("usr/{r}"),
        None => s.to_string(),
    };
    root.join(rel)
}

fn build_rootfs(root: &Path, files: &[PathBuf]) -> Result<(), ImageError> {
    let io = |what: &str, e: std::io::Error| ImageError(format!("{what}: {e}"));
    for f in files {
        let dest = image_path(root, f);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io("staging", e))?;
        }
        // copy follows symlinks: the image gets the real content.
        std::fs::copy(f, &dest).map_err(|e| io(&format!("copying {}", f.display()), e))?;
    }
    for dir in [
        "tmp",
        "root/.ssh",
        "run/sshd",
        "etc/ssh",
        "var/lib/converge",
        "usr/lib64",
    ] {
        std::fs::create_dir_all(root.join(dir)).map_err(|e| io(dir, e))?;
    }
    let links = [
        ("bin", "usr/bin"),
        ("sbin", "usr/sbin"),
        ("lib", "usr/lib"),
        ("lib64", "usr/lib64"),
        ("usr/bin/sh", "dash"),
        ("usr/sbin/iptables", "xtables-nft-multi"),
    ];
    for (link, target) in links {
        std::os::unix::fs::symlink(target, root.join(link)).map_err(|e| io(link, e))?;
    }
    let etc = [
        (
            "etc/passwd",
            "root:x:0:0:root:/root:/bin/sh\nsshd:x:100:65534::/run/sshd:/usr/sbin/nologin\n",
        ),
        ("etc/group", "root:x:0:\nnogroup:x:65534:\n"),
        // PAM is not in the image; keys only; sshd's own pid file is not needed.
        (
            "etc/ssh/sshd_config",
            "HostKey /etc/ssh/ssh_host_ed25519_key\nPermitRootLogin prohibit-password\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
             PidFile none\nAuthorizedKeysFile /root/.ssh/authorized_keys\n",
        ),
    ];
    for (path, text) in etc {
        std::fs::write(root.join(path), text).map_err(|e| io(path, e))?;
    }
    let key = root.join("etc/ssh/ssh_host_ed25519_key");
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "converge-host", "-f"])
        .arg(&key)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            ImageError(format!(
                "cannot run ssh-keygen (install openssh-client): {e}"
            ))
        })?;
    if !out.status.success() {
        return Err(ImageError(format!(
            "ssh-keygen failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        root.join("root/.ssh"),
        std::fs::Permissions::from_mode(0o700),
    )
    .map_err(|e| io("root/.ssh", e))
}

/// `tar -c root | docker import - tag`.
fn import(root: &Path, tag: &str) -> Result<(), ImageError> {
    let mut tar = Command::new("tar")
        .arg("-C")
        .arg(root)
        .args(["--owner=0", "--group=0", "-c", "."])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| ImageError(format!("cannot run tar: {e}")))?;
    let Some(tar_out) = tar.stdout.take() else {
        return Err(ImageError("tar has no stdout".into()));
    };
    let out = Command::new("docker")
        .args(["import", "-", tag])
        .stdin(tar_out)
        .output()
        .map_err(|e| ImageError(format!("cannot run docker: {e}")))?;
    let tar_ok = tar.wait().map(|s| s.success()).unwrap_or(false);
    if !out.status.success() || !tar_ok {
        return Err(ImageError(format!(
            "docker import failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// Drops images of earlier recipes or inputs (failures, e.g. an image in
/// use by another run, are ignored).
fn remove_stale_images(keep: &str) {
    let Ok(list) = docker(&["images", IMAGE_REPO, "--format", "{{.Repository}}:{{.Tag}}"]) else {
        return;
    };
    for image in list.lines().filter(|i| *i != keep) {
        let _ = docker(&["rmi", image]);
    }
}
