//! `check_files` (streamed from disk, examples fetched in a second pass) must
//! agree exactly with `check_all` (events in memory).
mod support;
use checkers::history::write_line;
use checkers::{CheckConfig, Conflict, check_all, check_files};
use std::io::Write;
use support::sim::{SimConfig, history};
use workloads::{WorkloadConfig, WorkloadKind};

fn temp_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("converge-checkers-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn streamed_check_equals_in_memory_check_including_example_events() {
    let cfg = SimConfig {
        workload: WorkloadConfig {
            kind: WorkloadKind::Register,
            keys: 5,
            seed: 3,
            ..WorkloadConfig::default()
        },
        processes: 6,
        ops: 2_000,
        conflict: Conflict::Lww,
        info_share: 0.1,
        fail_share: 0.05,
        skew_ns: 30_000_000,
        nemesis_every_ns: Some(50_000_000),
        seed: 3,
    };
    let (events, fin) = history(&cfg);
    let dir = temp_dir("stream");
    let (hp, fp) = (dir.join("history.jsonl"), dir.join("final-state.jsonl"));
    let mut h = std::fs::File::create(&hp).unwrap();
    for e in &events {
        write_line(&mut h, e).unwrap();
    }
    let mut f = std::fs::File::create(&fp).unwrap();
    for l in &fin {
        write_line(&mut f, l).unwrap();
    }
    let check = CheckConfig::default();
    let mem = check_all(&events, &fin, &check);
    let disk = check_files(&hp, Some(&fp), &check).unwrap();
    assert_eq!(mem, disk);
    assert!(mem.checks.iter().any(|c| !c.anomalies.is_empty()));

    // A torn last line (harness killed mid-write) is skipped.
    drop(h);
    let mut torn = std::fs::OpenOptions::new().append(true).open(&hp).unwrap();
    torn.write_all(b"{\"index\":99,\"pro").unwrap();
    drop(torn);
    assert_eq!(check_files(&hp, Some(&fp), &check).unwrap(), mem);
    // No final state: the checks that need it are unknown, not errors.
    let partial = check_files(&hp, None, &check).unwrap();
    assert_eq!(partial.valid, checkers::Validity::Unknown);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn streamed_dvv_check_with_contexts_equals_in_memory_check() {
    let cfg = SimConfig {
        workload: WorkloadConfig {
            kind: WorkloadKind::Causal,
            keys: 5,
            seed: 4,
            ..WorkloadConfig::default()
        },
        processes: 6,
        ops: 2_000,
        conflict: Conflict::Dvv,
        info_share: 0.1,
        fail_share: 0.05,
        skew_ns: 0,
        nemesis_every_ns: Some(50_000_000),
        seed: 4,
    };
    let (events, mut fin) = history(&cfg);
    // Drop every sibling of one key so there are anomalies to fetch.
    for l in &mut fin {
        if let checkers::history::FinalLine::Entry(e) = l
            && e.key == "k0"
        {
            e.values.clear();
            e.tombstone = true;
        }
    }
    assert!(
        events
            .iter()
            .any(|e| e.observed.as_ref().is_some_and(|o| !o.is_empty()))
    );
    let dir = temp_dir("dvv");
    let (hp, fp) = (dir.join("history.jsonl"), dir.join("final-state.jsonl"));
    let mut h = std::fs::File::create(&hp).unwrap();
    for e in &events {
        write_line(&mut h, e).unwrap();
    }
    let mut f = std::fs::File::create(&fp).unwrap();
    for l in &fin {
        write_line(&mut f, l).unwrap();
    }
    let check = CheckConfig {
        conflict: Conflict::Dvv,
        ..CheckConfig::default()
    };
    let mem = check_all(&events, &fin, &check);
    assert_eq!(check_files(&hp, Some(&fp), &check).unwrap(), mem);
    assert!(!mem.check("lost-updates").unwrap().anomalies.is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn missing_file_is_a_clear_error() {
    let err = check_files(
        std::path::Path::new("/nonexistent/history.jsonl"),
        None,
        &CheckConfig::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("/nonexistent/history.jsonl"),
        "{err}"
    );
}
