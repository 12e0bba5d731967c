//! Read-based detection: with R + W > N a read that misses an acknowledged
//! write or delete that completed before it began is decisive, classified
//! as a lost write, a resurrection or a stale read under quorum overlap;
//! with R + W ≤ N it stays a staleness measurement; wipes and unsynced
//! crashes of a key's replica exempt what they could have taken.
mod support;
use checkers::history::Function;
use checkers::{Validity, check_all};
use serde_json::json;
use support::*;

/// A write lost mid-run and overwritten later: the final state shows
/// nothing wrong, the read at 40 does.
fn lost_then_overwritten() -> H {
    let mut h = H::new();
    h.write(1, "k", "1-0", 0, 10, End::Ok)
        .write(2, "k", "2-0", 20, 30, End::Ok)
        .read(3, "k", &["1-0"], 40, 50)
        .write(1, "k", "1-1", 60, 70, End::Ok);
    h
}

#[test]
fn a_write_lost_mid_run_and_overwritten_later_is_caught_by_the_read_that_missed_it() {
    let fin = agreed(&[("k", &["1-1"])]);
    let r = check_all(
        &lost_then_overwritten().build(),
        &fin,
        &quorum(lww(), 3, 2, 2),
    );
    assert_eq!(count(&r, "lost-updates", "lost-write-observed"), 1);
    assert_eq!(count(&r, "lost-updates", "lost-write"), 0);
    assert_eq!(valid(&r, "lost-updates"), Validity::False);
    let a = &r.check("lost-updates").unwrap().anomalies[0];
    assert_eq!(a.kind, "lost-write-observed");
    let values: Vec<_> = a.ops.iter().filter_map(|e| e.value.clone()).collect();
    assert!(
        values.contains(&"2-0".to_string()),
        "the lost write is shown"
    );
    // The final state converged and nothing was resurrected: the run fails
    // for the lost write alone.
    assert_eq!(valid(&r, "convergence"), Validity::True);
    assert_eq!(valid(&r, "resurrection"), Validity::True);
    assert_eq!(count(&r, "staleness", "stale-read-under-quorum-overlap"), 0);
}

#[test]
fn without_quorum_overlap_the_same_read_is_only_a_stale_read_measurement() {
    let fin = agreed(&[("k", &["1-1"])]);
    let r = check_all(
        &lost_then_overwritten().build(),
        &fin,
        &quorum(lww(), 3, 1, 1),
    );
    assert_eq!(count(&r, "staleness", "stale-read"), 1);
    assert_eq!(valid(&r, "staleness"), Validity::True);
    assert_eq!(count(&r, "lost-updates", "lost-write-observed"), 0);
    assert_eq!(r.valid, Validity::True);
}

#[test]
fn a_missed_write_seen_again_later_is_a_stale_read_under_quorum_overlap() {
    let mut h = H::new();
    h.write(1, "k", "1-0", 0, 10, End::Ok)
        .write(2, "k", "2-0", 20, 30, End::Ok)
        .read(3, "k", &["1-0"], 40, 50)
        .read(3, "k", &["2-0"], 60, 70);
    let r = check_all(
        &h.build(),
        &agreed(&[("k", &["2-0"])]),
        &quorum(lww(), 3, 2, 2),
    );
    assert_eq!(count(&r, "staleness", "stale-read-under-quorum-overlap"), 1);
    assert_eq!(valid(&r, "staleness"), Validity::False);
    assert_eq!(count(&r, "lost-updates", "lost-write-observed"), 0);
    assert_eq!(valid(&r, "lost-updates"), Validity::True);
}

#[test]
fn a_read_of_a_deleted_value_is_a_resurrection_observed() {
    let mut h = H::new();
    h.write(1, "k", "1-0", 0, 10, End::Ok)
        .delete(2, "k", 20, 30, End::Ok)
        .read(3, "k", &["1-0"], 40, 50)
        .write(1, "k", "1-1", 60, 70, End::Ok);
    let r = check_all(
        &h.build(),
        &agreed(&[("k", &["1-1"])]),
        &quorum(lww(), 3, 2, 2),
    );
    assert_eq!(count(&r, "resurrection", "resurrection-observed"), 1);
    assert_eq!(count(&r, "resurrection", "resurrected-value"), 0);
    assert_eq!(valid(&r, "resurrection"), Validity::False);
    assert_eq!(count(&r, "lost-updates", "lost-write-observed"), 0);
    assert_eq!(count(&r, "staleness", "stale-read-under-quorum-overlap"), 0);
}

#[test]
fn a_loss_the_final_state_proves_too_is_counted_once_as_lost_write() {
    let mut h = H::new();
    h.write(1, "k", "1-0", 0, 10, End::Ok)
        .read(3, "k", &[], 20, 30);
    let r = check_all(&h.build(), &agreed(&[]), &quorum(lww(), 3, 2, 2));
    assert_eq!(count(&r, "lost-updates", "lost-write"), 1);
    assert_eq!(count(&r, "lost-updates", "lost-write-observed"), 0);
}

#[test]
fn concurrent_and_indeterminate_writes_never_make_a_quorum_read_wrong() {
    let mut h = H::new();
    h.write(1, "k", "1-0", 0, 10, End::Ok)
        // Concurrent with the read: it may land after the read.
        .write(2, "k", "2-0", 15, 45, End::Ok)
        .read(3, "k", &["1-0"], 40, 50)
        // Indeterminate: may land at any time, even after the read.
        .write(4, "k", "4-0", 20, 25, End::Info)
        .read(3, "k", &["2-0"], 60, 70);
    let r = check_all(
        &h.build(),
        &agreed(&[("k", &["2-0"])]),
        &quorum(lww(), 3, 2, 2),
    );
    assert_eq!(r.valid, Validity::True, "{:?}", r.checks);
}

/// Two writes, then a wipe or crash of `node` (its detail as the harness
/// writes it) at 35, then a read at 40 that misses the second write.
fn missed_after(fault: &str, node: &str) -> H {
    let detail = match fault {
        "wipe" => json!({"action": "wipe", "node": node}),
        _ => json!({"action": fault, "nodes": [node]}),
    };
    let mut h = H::new();
    h.write(1, "k", "1-0", 0, 10, End::Ok)
        .write(2, "k", "2-0", 20, 30, End::Ok)
        .fault(Function::Start, fault, 35, detail.clone())
        .fault(Function::Stop, fault, 36, detail.clone())
        .read(3, "k", &["1-0"], 40, 50)
        .read(3, "k", &["2-0"], 60, 70);
    h
}

#[test]
fn a_wipe_of_one_of_the_keys_replicas_exempts_the_read_and_the_verdict_names_it() {
    let fin = agreed(&[("k", &["2-0"])]);
    let r = check_all(
        &missed_after("wipe", "n2").build(),
        &fin,
        &quorum(lww(), 3, 2, 2),
    );
    assert_eq!(r.valid, Validity::True, "{:?}", r.checks);
    let s = r.check("staleness").unwrap();
    assert_eq!(s.counts["exempt-reads"], 1);
    let used = &s.details["read_based"]["exemptions"][0];
    assert_eq!(used["fault"], "wipe");
    assert_eq!(used["node"], "n2");
    // A node that holds none of the key's replicas exempts nothing.
    let r = check_all(
        &missed_after("wipe", "n9").build(),
        &fin,
        &quorum(lww(), 3, 2, 2),
    );
    assert_eq!(count(&r, "staleness", "stale-read-under-quorum-overlap"), 1);
}

#[test]
fn a_crash_exempts_only_when_the_store_acknowledges_before_fsync() {
    let fin = agreed(&[("k", &["2-0"])]);
    let h = missed_after("crash", "n1").build();
    let synced = quorum(lww(), 3, 2, 2);
    let r = check_all(&h, &fin, &synced);
    assert_eq!(count(&r, "staleness", "stale-read-under-quorum-overlap"), 1);
    let unsynced = checkers::CheckConfig {
        crash_loss_window_ns: Some(100),
        ..synced.clone()
    };
    let r = check_all(&h, &fin, &unsynced);
    assert_eq!(r.valid, Validity::True, "{:?}", r.checks);
    assert_eq!(count(&r, "staleness", "exempt-reads"), 1);
    // A write acknowledged longer than the window before the crash was on
    // disk: missing it is an anomaly again.
    let short = checkers::CheckConfig {
        crash_loss_window_ns: Some(2),
        ..synced
    };
    let r = check_all(&h, &fin, &short);
    assert_eq!(count(&r, "staleness", "stale-read-under-quorum-overlap"), 1);
}

#[test]
fn dvv_siblings_omitting_an_acknowledged_write_nothing_observed_is_a_lost_write_observed() {
    let mut h = H::new();
    h.cwrite(1, "k", "1-0", &[], 0, 10, End::Ok)
        .cwrite(2, "k", "2-0", &[], 20, 30, End::Ok)
        .read(3, "k", &["1-0"], 40, 50)
        // Supersedes both later on: the final state alone shows nothing.
        .cwrite(1, "k", "1-1", &["1-0", "2-0"], 60, 70, End::Ok);
    let r = check_all(
        &h.build(),
        &agreed(&[("k", &["1-1"])]),
        &quorum(dvv(), 3, 2, 2),
    );
    assert_eq!(count(&r, "lost-updates", "lost-write-observed"), 1);
    assert_eq!(count(&r, "lost-updates", "lost-write"), 0);
    // Had nothing observed "2-0" ever, the final state would prove the loss
    // too, and it is counted once, there.
    let mut blind = H::new();
    blind
        .cwrite(1, "k", "1-0", &[], 0, 10, End::Ok)
        .cwrite(2, "k", "2-0", &[], 20, 30, End::Ok)
        .read(3, "k", &["1-0"], 40, 50);
    let r = check_all(
        &blind.build(),
        &agreed(&[("k", &["1-0"])]),
        &quorum(dvv(), 3, 2, 2),
    );
    assert_eq!(count(&r, "lost-updates", "lost-write"), 1);
    assert_eq!(count(&r, "lost-updates", "lost-write-observed"), 0);
}

#[test]
fn dvv_a_write_a_concurrent_context_observed_may_be_missing() {
    let mut h = H::new();
    h.cwrite(1, "k", "1-0", &[], 0, 10, End::Ok)
        .cwrite(2, "k", "2-0", &[], 20, 30, End::Ok)
        // Invoked before the read completed, observing "2-0": it may have
        // superseded it before the read.
        .cwrite(4, "k", "4-0", &["2-0"], 35, 60, End::Info)
        .read(3, "k", &["1-0"], 40, 50);
    let r = check_all(
        &h.build(),
        &agreed(&[("k", &["1-0", "4-0"])]),
        &quorum(dvv(), 3, 2, 2),
    );
    assert_eq!(r.valid, Validity::True, "{:?}", r.checks);
}

#[test]
fn dvv_reading_a_value_an_acknowledged_delete_removed_is_a_resurrection_observed() {
    let mut h = H::new();
    h.cwrite(1, "k", "1-0", &[], 0, 10, End::Ok)
        .cdelete(2, "k", &["1-0"], 20, 30, End::Ok)
        .read(3, "k", &["1-0"], 40, 50);
    let r = check_all(&h.build(), &agreed(&[]), &quorum(dvv(), 3, 2, 2));
    assert_eq!(count(&r, "resurrection", "resurrection-observed"), 1);
    assert_eq!(count(&r, "lost-updates", "lost-write-observed"), 0);
}
