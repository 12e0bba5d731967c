//! Staleness (PBS): stale reads, k-staleness, t-visibility, fault windows.
mod support;
use checkers::history::Function;
use checkers::{CheckConfig, Validity, check_all};
use support::*;

fn stale(h: &H, cfg: &CheckConfig) -> checkers::CheckResult {
    check_all(&h.build(), &[], cfg)
        .check("staleness")
        .unwrap()
        .clone()
}

const MS: u64 = 1_000_000;

#[test]
fn read_of_a_value_superseded_before_it_began_is_stale_with_k() {
    let mut h = H::new();
    h.write(1, "k", "1-0", 0, 10, End::Ok)
        .write(2, "k", "2-0", 20, 30, End::Ok)
        .delete(2, "k", 31, 35, End::Ok)
        .read(3, "k", &["1-0"], 40, 50);
    let s = stale(&h, &lww());
    assert_eq!(s.counts["stale-read"], 1);
    assert_eq!(
        s.details["all"]["k_max"], 2,
        "a write and a delete were newer"
    );
    assert_eq!(s.valid, Validity::True, "not a failure without a threshold");
    assert_eq!(
        s.anomalies[0].ops.len(),
        6,
        "read, stale write, newest superseding op"
    );
}

#[test]
fn concurrent_or_indeterminate_newer_writes_do_not_make_a_read_stale() {
    let mut h = H::new();
    h.write(1, "k", "1-0", 0, 10, End::Ok)
        .write(2, "k", "2-0", 20, 45, End::Ok)
        .write(4, "k", "4-0", 20, 30, End::Info)
        .read(3, "k", &["1-0"], 40, 50);
    assert_eq!(stale(&h, &lww()).counts["stale-read"], 0);
}

#[test]
fn empty_read_is_stale_only_when_no_possible_delete_explains_it() {
    let mut h = H::new();
    h.write(1, "k", "1-0", 0, 10, End::Ok)
        .read(3, "k", &[], 20, 30);
    assert_eq!(stale(&h, &lww()).counts["stale-read"], 1);
    let mut d = H::new();
    d.write(1, "k", "1-0", 0, 10, End::Ok)
        .delete(2, "k", 15, 100, End::Info)
        .read(3, "k", &[], 20, 30);
    assert_eq!(stale(&d, &lww()).counts["stale-read"], 0);
    let mut old = H::new();
    old.delete(2, "k", 0, 5, End::Ok)
        .write(1, "k", "1-0", 6, 10, End::Ok)
        .read(3, "k", &[], 20, 30);
    assert_eq!(stale(&old, &lww()).counts["stale-read"], 1);
    let mut fresh = H::new();
    fresh.read(3, "k", &[], 20, 30);
    assert_eq!(stale(&fresh, &lww()).counts["stale-read"], 0);
}

#[test]
fn threshold_makes_staleness_a_failure() {
    let mut h = H::new();
    h.write(1, "k", "1-0", 0, 10, End::Ok)
        .write(2, "k", "2-0", 20, 30, End::Ok)
        .read(3, "k", &["1-0"], 40, 50)
        .read(3, "k", &["2-0"], 60, 70);
    let cfg = |th| CheckConfig {
        stale_read_threshold: Some(th),
        ..lww()
    };
    assert_eq!(stale(&h, &cfg(0.4)).valid, Validity::False);
    assert_eq!(stale(&h, &cfg(0.5)).valid, Validity::True);
    assert_eq!(stale(&H::new(), &cfg(0.5)).valid, Validity::Unknown);
}

#[test]
fn reads_during_fault_windows_are_excluded_from_outside_figures_and_t_visibility_buckets() {
    let mut h = H::new();
    h.write(1, "k", "1-0", 0, MS, End::Ok)
        .write(2, "k", "2-0", 2 * MS, 3 * MS, End::Ok)
        .nemesis(Function::Start, "partition", 3 * MS + 500)
        .read(3, "k", &["1-0"], 4 * MS, 5 * MS)
        .nemesis(Function::Stop, "partition", 6 * MS)
        .read(3, "k", &["2-0"], 700 * MS, 701 * MS);
    let s = stale(&h, &lww());
    assert_eq!(s.details["all"]["stale_reads"], 1);
    assert_eq!(s.details["outside_faults"]["reads"], 1);
    assert_eq!(s.details["outside_faults"]["stale_reads"], 0);
    let vis = s.details["all"]["t_visibility"].as_array().unwrap();
    assert_eq!(vis.len(), 2);
    assert_eq!(vis[0]["from_ms"], 1);
    assert_eq!(vis[0]["fresh_share"], 0.0);
    assert_eq!(vis[1]["from_ms"], 500);
    assert_eq!(vis[1]["fresh_share"], 1.0);
}

#[test]
fn dvv_read_of_a_value_a_completed_context_superseded_is_stale() {
    let mut h = H::new();
    h.write(1, "k", "1-0", 0, 10, End::Ok)
        .cwrite(2, "k", "2-0", &["1-0"], 20, 30, End::Ok)
        .read(3, "k", &["1-0"], 40, 50)
        .read(3, "k", &["1-0", "2-0"], 25, 28);
    let s = stale(&h, &dvv());
    assert_eq!(s.counts["stale-read"], 1);
    assert_eq!(s.anomalies[0].ops.len(), 6);
}
