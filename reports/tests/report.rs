//! The per-run report and the store index, rendered from synthetic run
//! directories written in a tempdir.

mod common;

use common::{ANOMALY_KINDS, HOSTILE, Spec, write_run};
use std::path::Path;

fn render(dir: &Path) -> String {
    let path = reports::render_run_report(dir).unwrap();
    assert_eq!(path, dir.join("report.html"));
    std::fs::read_to_string(path).unwrap()
}

/// Text between `<section id="ID"` and the next section of the same level is
/// not needed; presence of the opening tag is the contract the browser test
/// and readers' bookmarks rely on.
fn assert_has_section(html: &str, id: &str) {
    assert!(
        html.contains(&format!("id=\"{id}\"")),
        "section #{id} missing"
    );
}

#[test]
fn a_run_with_every_anomaly_kind_renders_every_section() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store/lww-clock-skew/20261125T100000Z");
    write_run(&dir, &Spec::default());
    let html = render(&dir);

    for id in ["summary", "test", "faults", "checks", "charts", "files"] {
        assert_has_section(&html, id);
    }
    assert!(html.contains("class=\"banner invalid\""), "verdict banner");
    assert!(html.contains("ANOMALIES FOUND"));
    // Key figures under the verdict: 37 lost writes + 10 single examples.
    assert!(
        html.contains("<b>47</b> anomalies"),
        "anomaly total counts every kind"
    );
    assert!(html.contains("<b>0.800 s</b> to converge"));
    // The plain-language summary names the count, the fault and the cause.
    assert!(
        html.contains("37 acknowledged writes were lost."),
        "lost-update finding"
    );
    assert!(html.contains("lww"), "cause mentions the conflict mode");
    assert!(
        html.contains("The example shown happened during clock skew of up to 4.0 s."),
        "lost writes correlated with the clock fault"
    );
    assert!(
        html.contains("lww resolves conflicts by timestamp"),
        "lost writes blamed on lww under clock skew"
    );
    assert!(
        html.contains("1 deleted key came back"),
        "resurrection finding"
    );
    assert!(
        html.contains("purged 3 tombstone(s) during the run (gc_grace 1s)"),
        "resurrection cause names the purges the nodes counted, and gc_grace"
    );
    // Every checker has its section, every anomaly kind its card and timeline.
    for checker in [
        "lost-updates",
        "resurrection",
        "convergence",
        "phantoms",
        "sessions",
        "staleness",
        "perf",
    ] {
        assert_has_section(&html, &format!("check-{checker}"));
    }
    for kind in ANOMALY_KINDS {
        assert!(
            html.contains(&format!("<strong>{kind}</strong>")),
            "anomaly {kind}"
        );
    }
    assert_eq!(
        html.matches("<svg class=\"timeline\"").count(),
        ANOMALY_KINDS.len()
    );
    // Every chart has data here, so none is replaced by a note.
    for chart in [
        "latency",
        "throughput",
        "availability",
        "divergence",
        "convergence",
        "repair-traffic",
        "repair-events",
        "clock",
        "staleness",
    ] {
        let start = html
            .find(&format!("id=\"chart-{chart}\""))
            .unwrap_or_else(|| panic!("chart {chart}"));
        let rest = &html[start..];
        let end = rest[1..]
            .find("<section")
            .map(|e| e + 1)
            .unwrap_or(rest.len());
        assert!(
            rest[..end].contains("<svg class=\"chart\""),
            "chart {chart} has no svg"
        );
    }
    // Each anomaly lists the faults around its ops, with what was done.
    assert!(html.contains("during: clock 18.000–30.000 s {&quot;offsets_ms&quot;"));
    // Every fault kind is shaded and listed.
    for fault in ["partition", "clock", "crash", "pause", "wipe"] {
        assert!(
            html.contains(&format!("<td>{fault}</td>")),
            "fault row {fault}"
        );
    }
    // The test section: reproduce command and the node's repair config.
    assert!(html.contains("converge run --config run.toml --seed 1234"));
    assert!(html.contains("anti_entropy.enabled"));
    // Harness problems are shown next to the verdict; run metadata in the facts.
    assert!(html.contains("could not resume n2 after pause"));
    assert!(html.contains("timings workload s"));
    // Links to the raw files and node logs.
    for href in [
        "history.jsonl",
        "final-state.jsonl",
        "metrics.jsonl",
        "results.json",
        "logs/n1.log",
        "nodes/n2/node.log",
    ] {
        assert!(html.contains(&format!("href=\"{href}\"")), "link {href}");
    }
    assert!(!html.contains("000001.sst"), "node storage is not linked");
    // Self-contained: no external resources, no scripts.
    assert!(!html.contains("<script"));
    assert!(!html.contains("src=\"http"));
}

#[test]
fn html_and_script_in_keys_values_and_names_are_escaped_in_report_and_index() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let dir = store
        .join(format!("t{}", HOSTILE.replace('/', "_")))
        .join("20261125T100000Z");
    write_run(
        &dir,
        &Spec {
            hostile: true,
            ..Spec::default()
        },
    );
    let report = render(&dir);
    let index = std::fs::read_to_string(reports::render_store_index(&store).unwrap()).unwrap();
    for (name, html) in [("report", &report), ("index", &index)] {
        let lower = html.to_ascii_lowercase();
        assert!(!lower.contains("<script"), "{name} contains a raw <script");
        assert!(!lower.contains("<img"), "{name} contains a raw <img");
        assert!(
            html.contains("&lt;script&gt;"),
            "{name} shows the escaped markup"
        );
    }
    // The hostile file name is linked percent-encoded and shown escaped.
    assert!(report.contains("href=\"note%3Cscript%3Ealert(%22x%22)%3C_script%3E"));
}

#[test]
fn missing_and_corrupt_files_degrade_to_visible_notes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    write_run(&dir, &Spec::default());
    std::fs::remove_file(dir.join("results.json")).unwrap();
    std::fs::remove_file(dir.join("metrics.jsonl")).unwrap();
    // A corrupt line in the middle of the history is skipped, not fatal.
    let mut history = std::fs::read_to_string(dir.join("history.jsonl")).unwrap();
    history.insert_str(history.find('\n').unwrap() + 1, "{not json\n");
    std::fs::write(dir.join("history.jsonl"), history).unwrap();

    let html = render(&dir);
    assert!(html.contains("class=\"banner unknown\""));
    assert!(html.contains("results.json is missing"));
    assert!(html.contains("metrics.jsonl is missing"));
    assert!(html.contains("1 unreadable line(s) skipped"));
    // The history-based charts still render.
    assert!(html.contains("id=\"chart-latency\""));
    assert!(html.matches("<svg class=\"chart\"").count() >= 3);
}

#[test]
fn an_empty_run_directory_still_renders() {
    let tmp = tempfile::tempdir().unwrap();
    let html = render(tmp.path());
    assert!(html.contains("history.jsonl is missing"));
    assert!(html.contains("No nemesis events"));
}

#[test]
fn a_missing_run_directory_is_an_error_naming_it() {
    let err = reports::render_run_report(Path::new("/nonexistent/run")).unwrap_err();
    assert!(
        err.to_string()
            .contains("/nonexistent/run is not a directory"),
        "{err}"
    );
}

#[test]
fn the_index_lists_runs_newest_first_with_key_figures() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path();
    let older = store.join("alpha/20261124T090000Z");
    let newer = store.join("beta/20261125T090000Z");
    write_run(
        &older,
        &Spec {
            test_name: "alpha".into(),
            ops: 500,
            ..Spec::default()
        },
    );
    write_run(
        &newer,
        &Spec {
            test_name: "beta".into(),
            ops: 500,
            ..Spec::default()
        },
    );
    reports::render_run_report(&newer).unwrap();
    // `latest` points at the newest run; it must not be listed twice.
    std::os::unix::fs::symlink(&newer, store.join("latest")).unwrap();

    let html = std::fs::read_to_string(reports::render_store_index(store).unwrap()).unwrap();
    let beta = html.find("<td>beta</td>").expect("beta listed");
    let alpha = html.find("<td>alpha</td>").expect("alpha listed");
    assert!(beta < alpha, "newest first");
    assert_eq!(html.matches("<td>beta</td>").count(), 1);
    assert!(html.contains("href=\"beta/20261125T090000Z/report.html\""));
    // alpha has no report.html yet, so no dead link to it.
    assert!(!html.contains("alpha/20261124T090000Z/report.html"));
    assert!(
        html.contains("<td class=\"num\">37</td>"),
        "lost updates figure"
    );
    assert!(html.contains("0.80 s"), "convergence time");
    assert!(html.contains("62.9 s"), "duration from the phase timings");
    assert!(
        html.contains("<td class=\"num\">500</td>"),
        "ops from the harness's op counts"
    );
    assert!(html.contains("2 run(s)"));
}

#[test]
fn a_large_run_is_downsampled_but_keeps_every_anomaly() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let ops = 60_000;
    write_run(
        &dir,
        &Spec {
            ops,
            processes: 20,
            ..Spec::default()
        },
    );
    let html = render(&dir);
    // Far fewer dots than ops: at most ~800 strided points plus one per
    // time bucket for each (op, outcome) class.
    let dots = html.matches("h0").count();
    assert!(dots < ops / 4, "{dots} latency dots for {ops} ops");
    assert!(
        dots > 1_000,
        "the latency chart still shows the distribution ({dots} dots)"
    );
    for kind in ANOMALY_KINDS {
        assert!(
            html.contains(&format!("<strong>{kind}</strong>")),
            "anomaly {kind}"
        );
    }
    assert!(html.len() < 1_000_000, "report is {} bytes", html.len());
}

/// A valid results.json and a final state that converged `after_s` after
/// the heal (or never), replacing what `write_run` made.
fn make_valid(dir: &Path, after_s: Option<f64>) {
    let results = std::fs::read_to_string(dir.join("results.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&results).unwrap();
    v["valid"] = serde_json::Value::Bool(true);
    for c in v["checks"].as_array_mut().unwrap() {
        c["valid"] = serde_json::Value::Bool(true);
        c["anomalies"] = serde_json::json!([]);
    }
    std::fs::write(dir.join("results.json"), v.to_string()).unwrap();
    let summary = match after_s {
        Some(s) => serde_json::json!({"kind": "summary", "nodes": ["n1"], "converged": true,
            "healed_at": 1_000_000_000u64, "converged_at": 1_000_000_000u64 + (s * 1e9) as u64}),
        None => serde_json::json!({"kind": "summary", "nodes": ["n1"], "converged": false,
            "healed_at": 1_000_000_000u64}),
    };
    std::fs::write(dir.join("final-state.jsonl"), format!("{summary}\n")).unwrap();
}

#[test]
fn the_index_shows_each_tests_trend_and_when_it_started_failing() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    // Test "nightly": two valid nights, then two with anomalies; test
    // "other": one valid night that never converged.
    let nights = [
        "20261120T020000Z",
        "20261121T020000Z",
        "20261122T020000Z",
        "20261123T020000Z",
    ];
    for (i, night) in nights.iter().enumerate() {
        let dir = store.join("nightly").join(night);
        write_run(
            &dir,
            &Spec {
                ops: 200,
                test_name: "nightly".into(),
                started_at: format!("2026-11-2{}T02:00:00Z", i),
                ..Spec::default()
            },
        );
        if i < 2 {
            make_valid(&dir, Some(0.5 + i as f64));
        }
        std::fs::write(dir.join("report.html"), "").unwrap();
    }
    let other = store.join("other").join("20261122T030000Z");
    write_run(
        &other,
        &Spec {
            ops: 200,
            test_name: "other".into(),
            ..Spec::default()
        },
    );
    make_valid(&other, None);

    let html = std::fs::read_to_string(reports::render_store_index(&store).unwrap()).unwrap();
    let trends = &html
        [html.find("id=\"trends\"").expect("a trends table")..html.find("id=\"runs\"").unwrap()];
    let nightly = &trends[trends.find("<th scope=\"row\">nightly</th>").unwrap()
        ..trends.find("<th scope=\"row\">other</th>").unwrap()];
    // The latest night failed, since the third night.
    assert!(nightly.contains("pill invalid"));
    assert!(nightly.contains("since 2026-11-22T02:00:00Z"), "{nightly}");
    assert!(nightly.contains("2/4 valid"));
    // Each verdict cell links to its night's report, oldest first.
    let links: Vec<usize> = nights
        .iter()
        .map(|n| {
            nightly
                .find(&format!("href=\"nightly/{n}/report.html\""))
                .unwrap()
        })
        .collect();
    assert!(links.windows(2).all(|w| w[0] < w[1]), "{links:?}");
    // Valid nights: no anomalies and a convergence time; failing nights: a count.
    assert!(nightly.contains("2026-11-20T02:00:00Z — 0 anomalies"));
    assert!(nightly.contains("2026-11-21T02:00:00Z — converged in 1.50 s"));
    assert!(!nightly.contains("2026-11-23T02:00:00Z — 0 anomalies"));
    let other = &trends[trends.find("<th scope=\"row\">other</th>").unwrap()..];
    assert!(other.contains("pill valid"));
    assert!(other.contains("did not converge"));
    assert!(!other.contains("since "));
}
