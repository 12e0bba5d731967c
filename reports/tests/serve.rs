//! `converge serve` over real HTTP on loopback: the index, on-demand
//! reports, raw files with their content types, and no way out of the store.

mod common;

use common::server::{TestServer, get};
use common::{HOSTILE, Spec, write_run};

fn store_with_one_run() -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    write_run(
        &store.join("lww/20261125T100000Z"),
        &Spec {
            ops: 500,
            ..Spec::default()
        },
    );
    // A file outside the store that traversal attempts aim for.
    std::fs::write(tmp.path().join("secret.txt"), "TOP-SECRET").unwrap();
    (tmp, store)
}

#[test]
fn serves_the_index_reports_and_raw_files_with_their_content_types() {
    let (_tmp, store) = store_with_one_run();
    let server = TestServer::start(store.clone());

    let index = get(server.addr, "/");
    assert_eq!(index.status, 200);
    assert_eq!(
        index.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(
        index
            .header("content-security-policy")
            .unwrap()
            .contains("default-src 'none'")
    );
    // The report was never written, so the index links to an on-demand one.
    assert!(
        index
            .body
            .contains("href=\"lww/20261125T100000Z/report.html\"")
    );

    let report = get(server.addr, "/lww/20261125T100000Z/report.html");
    assert_eq!(report.status, 200);
    assert!(report.body.contains("id=\"summary\"") && report.body.contains("id=\"chart-latency\""));
    assert!(
        !store.join("lww/20261125T100000Z/report.html").exists(),
        "serve never writes into the store"
    );

    let history = get(server.addr, "/lww/20261125T100000Z/history.jsonl");
    assert_eq!(history.status, 200);
    assert_eq!(
        history.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    let on_disk =
        std::fs::read_to_string(store.join("lww/20261125T100000Z/history.jsonl")).unwrap();
    assert_eq!(history.body, on_disk);

    let results = get(server.addr, "/lww/20261125T100000Z/results.json");
    assert_eq!(results.header("content-type"), Some("application/json"));

    // A directory without its slash redirects, so relative links work.
    let dir = get(server.addr, "/lww/20261125T100000Z");
    assert_eq!(dir.status, 301);
    assert_eq!(dir.header("location"), Some("/lww/20261125T100000Z/"));
    let listing = get(server.addr, "/lww/20261125T100000Z/");
    assert_eq!(listing.status, 200);
    assert!(listing.body.contains("href=\"history.jsonl\""));
    assert!(listing.body.contains("report.html (rendered on demand)"));

    assert_eq!(get(server.addr, "/lww/nope.json").status, 404);
}

#[test]
fn paths_leaving_the_store_are_not_found() {
    let (_tmp, store) = store_with_one_run();
    let server = TestServer::start(store);
    for path in [
        "/../secret.txt",
        "/lww/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/lww/%2e%2e%2f%2e%2e%2fsecret.txt",
        "/lww/..%5c..%5csecret.txt",
        "//etc/passwd",
        "/%00",
    ] {
        let r = get(server.addr, path);
        assert_eq!(r.status, 404, "{path}");
        assert!(
            !r.body.contains("TOP-SECRET") && !r.body.contains("root:"),
            "{path}"
        );
    }
}

#[test]
fn html_and_script_in_names_are_escaped_when_served() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let test_dir = format!("t{}", HOSTILE.replace('/', "_"));
    write_run(
        &store.join(&test_dir).join("20261125T100000Z"),
        &Spec {
            hostile: true,
            ops: 500,
            ..Spec::default()
        },
    );
    let server = TestServer::start(store);
    let encoded: String = test_dir
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    for path in [
        "/".to_string(),
        format!("/{encoded}/"),
        format!("/{encoded}/20261125T100000Z/"),
        format!("/{encoded}/20261125T100000Z/report.html"),
    ] {
        let r = get(server.addr, &path);
        assert_eq!(r.status, 200, "{path}");
        let lower = r.body.to_ascii_lowercase();
        assert!(
            !lower.contains("<script") && !lower.contains("<img"),
            "unescaped markup at {path}"
        );
        assert!(
            r.body.contains("&lt;script&gt;"),
            "escaped markup shown at {path}"
        );
    }
}
