//! Session guarantees per process: read-your-writes and monotonic reads.
mod support;
use checkers::{CheckConfig, Validity, check_all};
use support::*;

fn sessions(h: &H, cfg: &CheckConfig) -> checkers::CheckResult {
    check_all(&h.build(), &[], cfg)
        .check("sessions")
        .unwrap()
        .clone()
}

#[test]
fn reading_an_older_value_after_your_own_write_violates_read_your_writes() {
    let mut h = H::new();
    h.write(2, "k", "2-0", 0, 10, End::Ok)
        .write(1, "k", "1-0", 20, 30, End::Ok)
        .read(1, "k", &["2-0"], 40, 50);
    let s = sessions(&h, &lww());
    assert_eq!(s.counts["read-your-writes"], 1);
    assert_eq!(
        s.valid,
        Validity::True,
        "violations fail only when configured"
    );
    assert_eq!(
        s.details["violations_by_process"]["1"]["read_your_writes"],
        1
    );
    let strict = CheckConfig {
        sessions_fail: true,
        ..lww()
    };
    assert_eq!(sessions(&h, &strict).valid, Validity::False);
}

#[test]
fn concurrent_newer_values_and_explained_absence_satisfy_read_your_writes() {
    let mut h = H::new();
    h.write(1, "k", "1-0", 20, 30, End::Ok)
        .write(2, "k", "2-0", 25, 35, End::Ok)
        .read(1, "k", &["2-0"], 40, 50)
        .delete(3, "k", 45, 48, End::Info)
        .read(1, "k", &[], 51, 55);
    let s = sessions(&h, &lww());
    assert_eq!(s.counts["read-your-writes"], 0, "{:?}", s.anomalies);
    let mut unexplained = H::new();
    unexplained
        .write(1, "k", "1-0", 20, 30, End::Ok)
        .read(1, "k", &[], 40, 50);
    assert_eq!(sessions(&unexplained, &lww()).counts["read-your-writes"], 1);
}

#[test]
fn going_back_to_an_older_value_violates_monotonic_reads() {
    let mut h = H::new();
    h.write(2, "k", "2-0", 0, 10, End::Ok)
        .write(3, "k", "3-0", 20, 30, End::Ok)
        .read(1, "k", &["3-0"], 40, 50)
        .read(1, "k", &["2-0"], 60, 70);
    let s = sessions(&h, &lww());
    assert_eq!(s.counts["monotonic-reads"], 1);
    assert_eq!(s.anomalies[0].ops.len(), 4);
    // Another process reading the old value breaks no session of its own.
    let mut other = H::new();
    other
        .write(2, "k", "2-0", 0, 10, End::Ok)
        .write(3, "k", "3-0", 20, 30, End::Ok)
        .read(1, "k", &["3-0"], 40, 50)
        .read(4, "k", &["2-0"], 60, 70);
    assert_eq!(sessions(&other, &lww()).counts["monotonic-reads"], 0);
}

#[test]
fn dvv_sessions_use_contexts() {
    let mut h = H::new();
    h.write(1, "k", "1-0", 0, 10, End::Ok)
        .read(1, "k", &[], 20, 30);
    assert_eq!(sessions(&h, &dvv()).counts["read-your-writes"], 1);
    let mut observed = H::new();
    observed
        .write(1, "k", "1-0", 0, 10, End::Ok)
        .cdelete(2, "k", &["1-0"], 12, 25, End::Info)
        .read(1, "k", &[], 20, 30);
    assert_eq!(sessions(&observed, &dvv()).counts["read-your-writes"], 0);
    let mut back = H::new();
    back.write(2, "k", "2-0", 0, 10, End::Ok)
        .cwrite(3, "k", "3-0", &["2-0"], 20, 30, End::Ok)
        .read(1, "k", &["3-0"], 40, 50)
        .read(1, "k", &["2-0"], 60, 70);
    assert_eq!(sessions(&back, &dvv()).counts["monotonic-reads"], 1);
}

#[test]
fn lww_value_vanishing_without_a_delete_violates_monotonic_reads() {
    let mut h = H::new();
    h.write(2, "k", "2-0", 0, 10, End::Ok)
        .read(1, "k", &["2-0"], 20, 30)
        .read(1, "k", &[], 40, 50);
    assert_eq!(sessions(&h, &lww()).counts["monotonic-reads"], 1);
    let mut deleted = H::new();
    deleted
        .write(2, "k", "2-0", 0, 10, End::Ok)
        .read(1, "k", &["2-0"], 20, 30)
        .delete(3, "k", 25, 45, End::Ok)
        .read(1, "k", &[], 40, 50);
    assert_eq!(sessions(&deleted, &lww()).counts["monotonic-reads"], 0);
}

#[test]
fn dvv_reading_what_your_own_write_superseded_or_losing_a_seen_sibling_is_flagged() {
    let mut h = H::new();
    h.write(2, "k", "2-0", 0, 10, End::Ok)
        .cwrite(1, "k", "1-0", &["2-0"], 20, 30, End::Ok)
        .read(1, "k", &["1-0", "2-0"], 40, 50);
    assert_eq!(sessions(&h, &dvv()).counts["read-your-writes"], 1);
    let mut vanished = H::new();
    vanished
        .write(2, "k", "2-0", 0, 10, End::Ok)
        .write(3, "k", "3-0", 0, 10, End::Ok)
        .read(1, "k", &["2-0", "3-0"], 20, 30)
        .read(1, "k", &["3-0"], 40, 50);
    assert_eq!(sessions(&vanished, &dvv()).counts["monotonic-reads"], 1);
    let mut superseded = H::new();
    superseded
        .write(2, "k", "2-0", 0, 10, End::Ok)
        .write(3, "k", "3-0", 0, 10, End::Ok)
        .read(1, "k", &["2-0", "3-0"], 20, 30)
        .cdelete(4, "k", &["2-0"], 32, 38, End::Ok)
        .read(1, "k", &["3-0"], 40, 50);
    assert_eq!(sessions(&superseded, &dvv()).counts["monotonic-reads"], 0);
}
