//! A real headless browser (Debian's chromium) loads a generated report, the
//! store index, and pages from the store server. The test fails on any
//! console message (the pages have no JavaScript, so any message is an error:
//! a blocked resource, a CSP violation, a parse problem) or a missing section,
//! and saves screenshots under the test's output directory
//! (`$CARGO_TARGET_TMPDIR/browser/`).
//!
//! Without chromium the test fails when `CI=true` (.ci/run installs it) and
//! is skipped with a message elsewhere.

mod common;

use common::server::TestServer;
use common::{Spec, write_run};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser"] {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

/// What chromium saw: the DOM after load, and its console messages.
struct PageLoad {
    dom: String,
    console: Vec<String>,
}

/// Runs headless chromium on `url` with `mode` (`--dump-dom` or
/// `--screenshot=FILE`), killing it after 90 s.
fn run_chromium(bin: &Path, profile: &Path, url: &str, mode: &str) -> PageLoad {
    let out_dir = profile.with_extension("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let stdout_path = out_dir.join("stdout");
    let stderr_path = out_dir.join("stderr");
    let mut child = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
            "--window-size=1280,2600",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(mode)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_path).unwrap())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish loading {url} within 90 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    PageLoad {
        dom: std::fs::read_to_string(&stdout_path).unwrap_or_default(),
        // Chromium logs page console output as `...:INFO:CONSOLE:<line>] "msg", source: ...`.
        console: stderr
            .lines()
            .filter(|l| l.contains(":CONSOLE"))
            .map(str::to_string)
            .collect(),
    }
}

const REPORT_SECTIONS: [&str; 15] = [
    "id=\"summary\"",
    "id=\"test\"",
    "id=\"faults\"",
    "id=\"checks\"",
    "id=\"charts\"",
    "id=\"files\"",
    "id=\"chart-latency\"",
    "id=\"chart-throughput\"",
    "id=\"chart-availability\"",
    "id=\"chart-divergence\"",
    "id=\"chart-convergence\"",
    "id=\"chart-repair-traffic\"",
    "id=\"chart-repair-events\"",
    "id=\"chart-clock\"",
    "id=\"chart-staleness\"",
];

fn assert_page(
    bin: &Path,
    work: &Path,
    name: &str,
    url: &str,
    must_contain: &[&str],
    shots: &Path,
) {
    let load = run_chromium(
        bin,
        &work.join(format!("profile-{name}")),
        url,
        "--dump-dom",
    );
    assert!(
        load.console.is_empty(),
        "{name}: console messages loading {url}:\n{}",
        load.console.join("\n")
    );
    assert!(load.dom.contains("</html>"), "{name}: no DOM from {url}");
    for needle in must_contain {
        assert!(
            load.dom.contains(needle),
            "{name}: {needle} missing in the DOM of {url}"
        );
    }
    let shot = shots.join(format!("{name}.png"));
    let _ = std::fs::remove_file(&shot);
    let load = run_chromium(
        bin,
        &work.join(format!("profile-{name}-shot")),
        url,
        &format!("--screenshot={}", shot.display()),
    );
    assert!(
        load.console.is_empty(),
        "{name}: console messages:\n{}",
        load.console.join("\n")
    );
    let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    assert!(
        size > 20_000,
        "{name}: screenshot {} is missing or blank ({size} bytes)",
        shot.display()
    );
    eprintln!("screenshot: {}", shot.display());
}

#[test]
fn chromium_renders_report_index_and_served_pages_without_console_errors() {
    let Some(bin) = chromium() else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!(
                "chromium is not installed, but CI=true: .ci/run must install it (apt-get install chromium)"
            );
        }
        eprintln!(
            "SKIPPED: chromium not found on PATH; install it with `apt-get install -y chromium` to run this test"
        );
        return;
    };
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&shots).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();

    // The detector works: a page with a script error is caught.
    let bad = work.join("bad.html");
    std::fs::write(&bad, "<!DOCTYPE html><html><head><link rel=\"icon\" href=\"data:,\"></head><body><script>console.error('boom')</script></body></html>").unwrap();
    let load = run_chromium(
        &bin,
        &work.join("profile-bad"),
        &format!("file://{}", bad.display()),
        "--dump-dom",
    );
    assert!(
        load.console.iter().any(|l| l.contains("boom")),
        "console capture is broken: {:?}",
        load.console
    );

    let store = work.join("store");
    let run = store.join("lww/20261125T100000Z");
    write_run(&run, &Spec::default());
    let report = reports::render_run_report(&run).unwrap();
    let index = reports::render_store_index(&store).unwrap();

    assert_page(
        &bin,
        work,
        "report",
        &format!("file://{}", report.display()),
        &REPORT_SECTIONS,
        &shots,
    );
    assert_page(
        &bin,
        work,
        "index",
        &format!("file://{}", index.display()),
        &["id=\"runs\"", "lww-clock-skew"],
        &shots,
    );

    // Through the server: the index and a report rendered on demand.
    std::fs::remove_file(&report).unwrap();
    let server = TestServer::start(store);
    assert_page(
        &bin,
        work,
        "served-index",
        &server.url("/"),
        &["id=\"runs\""],
        &shots,
    );
    assert_page(
        &bin,
        work,
        "served-report",
        &server.url("/lww/20261125T100000Z/report.html"),
        &REPORT_SECTIONS,
        &shots,
    );
}
