//! Lost updates: hand-written histories that must be flagged, and ones that
//! must pass (concurrency and indeterminacy edge cases).
mod support;
use checkers::{Validity, check_all};
use support::*;

fn lost(h: &H, fin: &[checkers::history::FinalLine], cfg: &checkers::CheckConfig) -> u64 {
    count(
        &check_all(&h.build(), fin, cfg),
        "lost-updates",
        "lost-write",
    )
}

#[test]
fn lww_write_overwritten_by_an_earlier_write_is_lost_with_both_ops_shown() {
    let mut h = H::new();
    h.write(1, "k", "1-0", 0, 10, End::Ok)
        .write(2, "k", "2-0", 20, 30, End::Ok);
    let r = check_all(&h.build(), &agreed(&[("k", &["1-0"])]), &lww());
    assert_eq!(valid(&r, "lost-updates"), Validity::False);
    assert_eq!(r.valid, Validity::False);
    let a = &r.check("lost-updates").unwrap().anomalies[0];
    assert_eq!(a.kind, "lost-write");
    assert_eq!(a.key.as_deref(), Some("k"));
    assert!(a.explanation.contains("2-0"), "{}", a.explanation);
    // Both ops' invoke and completion events, in history order.
    let idx: Vec<u64> = a.ops.iter().map(|e| e.index).collect();
    assert_eq!(idx, vec![0, 1, 2, 3]);
}

#[test]
fn lww_concurrent_write_may_win() {
    let mut h = H::new();
    h.write(1, "k", "1-0", 0, 30, End::Ok)
        .write(2, "k", "2-0", 10, 20, End::Ok);
    assert_eq!(lost(&h, &agreed(&[("k", &["1-0"])]), &lww()), 0);
}

#[test]
fn lww_equal_timestamps_are_concurrent() {
    let mut h = H::new();
    h.write(1, "k", "1-0", 0, 10, End::Ok)
        .write(2, "k", "2-0", 10, 20, End::Ok);
    assert_eq!(lost(&h, &agreed(&[("k", &["1-0"])]), &lww()), 0);
}

#[test]
fn indeterminate_writes_are_never_lost_but_explain_values() {
    let mut h = H::new();
    h.write(1, "k", "1-0", 0, 10, End::Ok)
        .write(2, "k", "2-0", 20, 30, End::Info);
    assert_eq!(lost(&h, &agreed(&[("k", &["1-0"])]), &lww()), 0);
    // An info write that strictly "precedes" by its info time may still land
    // later, so it explains the final value.
    let mut h = H::new();
    h.write(1, "k", "1-0", 0, 10, End::Info)
        .write(2, "k", "2-0", 20, 30, End::Ok);
    assert_eq!(lost(&h, &agreed(&[("k", &["1-0"])]), &lww()), 0);
    // So does a write with no completion at all (history cut short).
    let mut h = H::new();
    h.write(1, "k", "1-0", 0, 0, End::None)
        .write(2, "k", "2-0", 20, 30, End::Ok);
    assert_eq!(lost(&h, &agreed(&[("k", &["1-0"])]), &lww()), 0);
}

#[test]
fn lww_absent_key_needs_a_possible_delete_concurrent_or_after() {
    let mut h = H::new();
    h.write(1, "k", "1-0", 20, 30, End::Ok);
    assert_eq!(
        lost(&h, &agreed(&[("k", &[])]), &lww()),
        1,
        "no delete at all"
    );
    let mut before = H::new();
    before
        .delete(2, "k", 0, 10, End::Ok)
        .write(1, "k", "1-0", 20, 30, End::Ok);
    assert_eq!(
        lost(&before, &agreed(&[("k", &[])]), &lww()),
        1,
        "delete strictly before"
    );
    let mut failed = H::new();
    failed
        .write(1, "k", "1-0", 20, 30, End::Ok)
        .delete(2, "k", 40, 50, End::Fail);
    assert_eq!(
        lost(&failed, &agreed(&[("k", &[])]), &lww()),
        1,
        "failed delete explains nothing"
    );
    let mut info = H::new();
    info.write(1, "k", "1-0", 20, 30, End::Ok)
        .delete(2, "k", 40, 50, End::Info);
    assert_eq!(
        lost(&info, &agreed(&[("k", &[])]), &lww()),
        0,
        "info delete may have happened"
    );
    let mut concurrent = H::new();
    concurrent
        .write(1, "k", "1-0", 20, 30, End::Ok)
        .delete(2, "k", 25, 35, End::Ok);
    assert_eq!(
        lost(&concurrent, &agreed(&[]), &lww()),
        0,
        "missing entries count as absent"
    );
}

#[test]
fn lww_key_with_siblings_is_flagged() {
    let mut h = H::new();
    h.write(1, "k", "1-0", 0, 10, End::Ok)
        .write(2, "k", "2-0", 5, 15, End::Ok);
    let r = check_all(&h.build(), &agreed(&[("k", &["1-0", "2-0"])]), &lww());
    assert_eq!(count(&r, "lost-updates", "lww-siblings"), 1);
    assert_eq!(count(&r, "lost-updates", "lost-write"), 0);
}

#[test]
fn dvv_missing_value_is_lost_unless_some_possible_context_observed_it() {
    let mut h = H::new();
    h.write(1, "k", "1-0", 0, 10, End::Ok);
    assert_eq!(lost(&h, &agreed(&[("k", &[])]), &dvv()), 1);
    let mut failed = H::new();
    failed
        .write(1, "k", "1-0", 0, 10, End::Ok)
        .cdelete(2, "k", &["1-0"], 20, 30, End::Fail);
    assert_eq!(
        lost(&failed, &agreed(&[("k", &[])]), &dvv()),
        1,
        "a failed op's context removed nothing"
    );
    let mut info = H::new();
    info.write(1, "k", "1-0", 0, 10, End::Ok)
        .cwrite(2, "k", "2-0", &["1-0"], 20, 30, End::Info);
    assert_eq!(lost(&info, &agreed(&[("k", &["2-0"])]), &dvv()), 0);
    // Concurrent blind writes are siblings: both must survive.
    let mut sibs = H::new();
    sibs.write(1, "k", "1-0", 0, 10, End::Ok)
        .write(2, "k", "2-0", 5, 15, End::Ok);
    assert_eq!(lost(&sibs, &agreed(&[("k", &["1-0", "2-0"])]), &dvv()), 0);
    assert_eq!(lost(&sibs, &agreed(&[("k", &["2-0"])]), &dvv()), 1);
}

#[test]
fn dvv_superseded_value_must_not_survive_an_acknowledged_write() {
    let mut h = H::new();
    h.write(1, "k", "1-0", 0, 10, End::Ok)
        .cwrite(2, "k", "2-0", &["1-0"], 20, 30, End::Ok);
    let r = check_all(&h.build(), &agreed(&[("k", &["1-0", "2-0"])]), &dvv());
    assert_eq!(count(&r, "lost-updates", "superseded-value-survived"), 1);
    assert_eq!(valid(&r, "lost-updates"), Validity::False);
    let mut info = H::new();
    info.write(1, "k", "1-0", 0, 10, End::Ok)
        .cwrite(2, "k", "2-0", &["1-0"], 20, 30, End::Info);
    let r = check_all(&info.build(), &agreed(&[("k", &["1-0", "2-0"])]), &dvv());
    assert_eq!(valid(&r, "lost-updates"), Validity::True);
}

#[test]
fn without_a_final_state_lost_updates_are_unknown() {
    let mut h = H::new();
    h.write(1, "k", "1-0", 0, 10, End::Ok);
    let r = check_all(&h.build(), &[], &lww());
    assert_eq!(valid(&r, "lost-updates"), Validity::Unknown);
    assert_eq!(valid(&r, "convergence"), Validity::Unknown);
    assert_eq!(r.valid, Validity::Unknown);
}
