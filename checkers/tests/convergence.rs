//! Convergence: replicas must agree after the final heal.
mod support;
use checkers::{Validity, check_all};
use support::*;

#[test]
fn divergent_key_is_flagged_with_each_replicas_view_and_the_writes() {
    let mut h = H::new();
    h.write(1, "k", "1-0", 0, 10, End::Ok);
    let fin = final_state(
        true,
        &[("n1", "k", &["1-0"]), ("n2", "k", &[]), ("n3", "j", &[])],
    );
    let r = check_all(&h.build(), &fin, &lww());
    let c = r.check("convergence").unwrap();
    assert_eq!(c.valid, Validity::False);
    assert_eq!(c.counts["divergent-key"], 1);
    let a = &c.anomalies[0];
    assert!(
        a.explanation.contains("n1: [\"1-0\"]") && a.explanation.contains("n2: absent"),
        "{}",
        a.explanation
    );
    assert_eq!(a.ops.len(), 2);
}

#[test]
fn tombstones_missing_entries_and_sibling_order_all_agree() {
    let fin = final_state(
        true,
        &[
            ("n1", "k", &["a", "b"]),
            ("n2", "k", &["b", "a"]),
            ("n3", "k", &["a", "b"]),
            ("n1", "gone", &[]),
        ],
    );
    let r = check_all(&[], &fin, &dvv());
    let c = r.check("convergence").unwrap();
    assert_eq!(c.valid, Validity::True, "{:?}", c.anomalies);
    assert_eq!(c.details["time_to_converge_ns"], 500_000);
}

#[test]
fn summary_that_did_not_converge_fails_and_no_summary_is_unknown() {
    let r = check_all(
        &[],
        &final_state(false, &[("n1", "k", &["a"]), ("n2", "k", &["a"])]),
        &lww(),
    );
    assert_eq!(valid(&r, "convergence"), Validity::False);
    assert_eq!(count(&r, "convergence", "summary-not-converged"), 1);
    assert_eq!(
        valid(&check_all(&[], &[], &lww()), "convergence"),
        Validity::Unknown
    );
}

/// Replicas that agree while hints still wait for replay are not yet the
/// end state: the verdict is `unknown`, never "diverged" (no divergent key
/// is claimed) and never "valid"; with the backlog drained it is valid.
#[test]
fn agreeing_replicas_with_hints_still_waiting_are_unknown_not_divergent() {
    use checkers::history::FinalLine;
    let agreeing: &[(&str, &str, &[&str])] = &[("n1", "k", &["a"]), ("n2", "k", &["a"])];
    let mut fin = final_state(true, agreeing);
    let FinalLine::Summary(s) = &mut fin[0] else {
        panic!("the summary comes first")
    };
    s.hints_waiting = [("n1".into(), 135), ("n3".into(), 869)].into();
    let r = check_all(&[], &fin, &lww());
    let c = r.check("convergence").unwrap();
    assert_eq!(c.valid, Validity::Unknown);
    assert_eq!(c.counts["hints-not-drained"], 1004);
    assert_eq!(c.counts["divergent-key"], 0);
    assert_eq!(c.counts.get("summary-not-converged"), None);
    assert_eq!(c.details["hints_waiting"]["n3"], 869);

    let drained = check_all(&[], &final_state(true, agreeing), &lww());
    assert_eq!(valid(&drained, "convergence"), Validity::True);

    // Disagreeing replicas stay a failure whatever the hints.
    let mut fin = final_state(false, &[("n1", "k", &["a"]), ("n2", "k", &["b"])]);
    let FinalLine::Summary(s) = &mut fin[0] else {
        panic!("the summary comes first")
    };
    s.hints_waiting = [("n1".into(), 5)].into();
    assert_eq!(
        valid(&check_all(&[], &fin, &lww()), "convergence"),
        Validity::False
    );
}

#[test]
fn with_rf_only_a_keys_holders_must_agree_and_number_at_least_rf() {
    let with_rf = |entries: &[(&str, &str, &[&str])]| {
        let mut fin = final_state(true, entries);
        if let checkers::history::FinalLine::Summary(s) = &mut fin[0] {
            s.nodes = vec!["n1".into(), "n2".into(), "n3".into(), "n4".into()];
            s.rf = Some(2);
        }
        valid(&check_all(&[], &fin, &lww()), "convergence")
    };
    // k lives on n1 and n2 only: n3 and n4 hold nothing of it.
    assert_eq!(
        with_rf(&[("n1", "k", &["a"]), ("n2", "k", &["a"])]),
        Validity::True
    );
    assert_eq!(
        with_rf(&[("n1", "k", &["a"]), ("n2", "k", &["b"])]),
        Validity::False
    );
    assert_eq!(
        with_rf(&[("n1", "k", &["a"])]),
        Validity::False,
        "fewer holders than rf"
    );
}
