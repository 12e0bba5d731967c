//! One anomaly, one home: an unrepaired replica is a divergent key, not a
//! lost write or a resurrection; the final state is judged per key against
//! what the replicas converged to; an incomplete final state is unknown.
mod support;
use checkers::history::FinalLine;
use checkers::{Validity, check_all};
use support::*;

/// `final_state` with rf 3 recorded, as the harness writes it.
fn with_rf(entries: &[(&str, &str, &[&str])]) -> Vec<FinalLine> {
    let mut fin = final_state(true, entries);
    if let FinalLine::Summary(s) = &mut fin[0] {
        s.nodes = vec!["n1".into(), "n2".into(), "n3".into()];
        s.rf = Some(3);
    }
    fin
}

#[test]
fn an_unrepaired_replica_is_one_divergent_key_not_a_resurrection_or_a_lost_write() {
    let mut h = H::new();
    // k: written, then deleted while n3 was away; j: overwritten while n3
    // was away. With repair off, n3 still holds the old state of both.
    h.write(1, "k", "1-0", 0, 10, End::Ok)
        .delete(2, "k", 20, 30, End::Ok)
        .write(1, "j", "1-1", 0, 10, End::Ok)
        .write(2, "j", "2-1", 20, 30, End::Ok);
    let fin = with_rf(&[
        ("n1", "k", &[]),
        ("n2", "k", &[]),
        ("n3", "k", &["1-0"]),
        ("n1", "j", &["2-1"]),
        ("n2", "j", &["2-1"]),
        ("n3", "j", &["1-1"]),
    ]);
    let r = check_all(&h.build(), &fin, &lww());
    assert_eq!(count(&r, "convergence", "divergent-key"), 2);
    assert_eq!(valid(&r, "convergence"), Validity::False);
    assert_eq!(valid(&r, "resurrection"), Validity::True);
    assert_eq!(count(&r, "resurrection", "resurrected-value"), 0);
    assert_eq!(valid(&r, "lost-updates"), Validity::True);
    assert_eq!(count(&r, "lost-updates", "lost-write"), 0);
    assert_eq!(count(&r, "lost-updates", "lww-siblings"), 0);
}

#[test]
fn a_deleted_value_the_replicas_converged_on_is_a_resurrection() {
    let mut h = H::new();
    h.write(1, "k", "1-0", 0, 10, End::Ok)
        .delete(2, "k", 20, 30, End::Ok);
    let fin = with_rf(&[
        ("n1", "k", &["1-0"]),
        ("n2", "k", &["1-0"]),
        ("n3", "k", &["1-0"]),
    ]);
    let r = check_all(&h.build(), &fin, &lww());
    assert_eq!(valid(&r, "convergence"), Validity::True);
    assert_eq!(count(&r, "resurrection", "resurrected-value"), 1);
    assert_eq!(valid(&r, "resurrection"), Validity::False);
    assert_eq!(valid(&r, "lost-updates"), Validity::True);
}

#[test]
fn a_divergent_key_is_judged_lost_only_when_every_replica_would_lose_the_write() {
    let mut h = H::new();
    h.write(1, "k", "1-0", 0, 10, End::Ok)
        .write(2, "k", "2-0", 20, 30, End::Ok);
    // Two replicas hold the older value, the third holds nothing: whatever
    // repair does next, "2-0" is gone.
    let gone = with_rf(&[("n1", "k", &["1-0"]), ("n2", "k", &["1-0"])]);
    let r = check_all(&h.build(), &gone, &lww());
    assert_eq!(count(&r, "convergence", "divergent-key"), 1);
    assert_eq!(count(&r, "lost-updates", "lost-write"), 1);
    let a = &r.check("lost-updates").unwrap().anomalies[0];
    assert!(
        a.explanation.contains("whichever replica"),
        "{}",
        a.explanation
    );
    // One replica still has it: repair may yet bring it to the others.
    let maybe = with_rf(&[("n1", "k", &["1-0"]), ("n2", "k", &["2-0"])]);
    let r = check_all(&h.build(), &maybe, &lww());
    assert_eq!(count(&r, "convergence", "divergent-key"), 1);
    assert_eq!(count(&r, "lost-updates", "lost-write"), 0);
}

#[test]
fn lww_siblings_means_one_replica_holding_several_values() {
    let mut h = H::new();
    h.write(1, "k", "1-0", 0, 10, End::Ok)
        .write(2, "k", "2-0", 5, 15, End::Ok);
    let apart = with_rf(&[
        ("n1", "k", &["1-0"]),
        ("n2", "k", &["2-0"]),
        ("n3", "k", &["2-0"]),
    ]);
    let r = check_all(&h.build(), &apart, &lww());
    assert_eq!(count(&r, "lost-updates", "lww-siblings"), 0);
    assert_eq!(count(&r, "convergence", "divergent-key"), 1);
    let crowded = with_rf(&[
        ("n1", "k", &["1-0", "2-0"]),
        ("n2", "k", &["2-0"]),
        ("n3", "k", &["2-0"]),
    ]);
    let r = check_all(&h.build(), &crowded, &lww());
    assert_eq!(count(&r, "lost-updates", "lww-siblings"), 1);
    let a = &r.check("lost-updates").unwrap().anomalies[0];
    assert!(a.explanation.contains("n1's entry"), "{}", a.explanation);
}

#[test]
fn a_missing_dump_makes_final_state_checks_unknown_not_every_write_lost() {
    let mut h = H::new();
    h.write(1, "k", "1-0", 0, 10, End::Ok)
        .write(1, "j", "1-1", 20, 30, End::Ok)
        .delete(2, "j", 40, 50, End::Ok);
    // No dump round succeeded: nothing but the summary.
    let mut fin = with_rf(&[]);
    if let FinalLine::Summary(s) = &mut fin[0] {
        s.missing = vec!["n1".into(), "n2".into(), "n3".into()];
        s.entries = Some(0);
    }
    let r = check_all(&h.build(), &fin, &lww());
    for checker in ["convergence", "lost-updates", "resurrection"] {
        let c = r.check(checker).unwrap();
        assert_eq!(c.valid, Validity::Unknown, "{checker}");
        assert!(
            c.details["reason"].as_str().unwrap().contains("n1, n2, n3"),
            "{checker}: {}",
            c.details
        );
    }
    assert_eq!(count(&r, "lost-updates", "lost-write"), 0);
    assert_eq!(r.valid, Validity::Unknown);
}

#[test]
fn a_final_state_with_fewer_entries_than_announced_is_torn_and_unknown() {
    let mut h = H::new();
    h.write(1, "k", "1-0", 0, 10, End::Ok)
        .write(1, "j", "1-1", 0, 10, End::Ok);
    let mut fin = with_rf(&[
        ("n1", "k", &["1-0"]),
        ("n2", "k", &["1-0"]),
        ("n3", "k", &["1-0"]),
    ]);
    if let FinalLine::Summary(s) = &mut fin[0] {
        // j's three entries were announced but never made it to the file.
        s.entries = Some(6);
    }
    let r = check_all(&h.build(), &fin, &lww());
    let lost = r.check("lost-updates").unwrap();
    assert_eq!(lost.valid, Validity::Unknown);
    assert!(
        lost.details["reason"]
            .as_str()
            .unwrap()
            .contains("torn or truncated"),
        "{}",
        lost.details
    );
    assert_eq!(lost.counts["lost-write"], 0, "j must not look lost");
    assert_eq!(valid(&r, "convergence"), Validity::Unknown);
}

#[test]
fn a_torn_final_state_file_is_unknown_through_check_files() {
    use checkers::history::write_line;
    let dir = std::env::temp_dir().join(format!("converge-torn-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut h = H::new();
    h.write(1, "k", "1-0", 0, 10, End::Ok)
        .write(1, "j", "1-1", 0, 10, End::Ok);
    let hp = dir.join("history.jsonl");
    let mut text = Vec::new();
    for e in h.build() {
        write_line(&mut text, &e).unwrap();
    }
    std::fs::write(&hp, text).unwrap();
    let mut fin = with_rf(&[
        ("n1", "j", &["1-1"]),
        ("n1", "k", &["1-0"]),
        ("n2", "k", &["1-0"]),
    ]);
    if let FinalLine::Summary(s) = &mut fin[0] {
        s.entries = Some(3);
    }
    let mut text = Vec::new();
    for l in &fin {
        write_line(&mut text, l).unwrap();
    }
    // Killed mid-write: the last line is cut short.
    text.truncate(text.len() - 20);
    let fp = dir.join("final-state.jsonl");
    std::fs::write(&fp, text).unwrap();
    let r = checkers::check_files(&hp, Some(&fp), &lww()).unwrap();
    assert_eq!(valid(&r, "lost-updates"), Validity::Unknown);
    assert_eq!(valid(&r, "convergence"), Validity::Unknown);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_undone_chain_of_acknowledged_ops_is_one_anomaly_of_its_latest_op() {
    let three = |v: &[&'static str]| with_rf(&[("n1", "k", v), ("n2", "k", v), ("n3", "k", v)]);
    // "2-0" was deleted after it was written; the old "1-0" came back. That
    // is a resurrection, and "2-0" is not also lost.
    let mut h = H::new();
    h.write(1, "k", "1-0", 0, 10, End::Ok)
        .write(2, "k", "2-0", 20, 30, End::Ok)
        .delete(3, "k", 40, 50, End::Ok);
    let r = check_all(&h.build(), &three(&["1-0"]), &lww());
    assert_eq!(count(&r, "resurrection", "resurrected-value"), 1);
    assert_eq!(count(&r, "lost-updates", "lost-write"), 0);
    // Written again after the delete: the final state lost that write.
    let mut h = H::new();
    h.write(1, "k", "1-0", 0, 10, End::Ok)
        .delete(3, "k", 20, 30, End::Ok)
        .write(2, "k", "2-0", 40, 50, End::Ok);
    let r = check_all(&h.build(), &three(&["1-0"]), &lww());
    assert_eq!(count(&r, "lost-updates", "lost-write"), 1);
    assert_eq!(count(&r, "resurrection", "resurrected-value"), 0);
    // Two writes, the later lost: only the later is the loss.
    let mut h = H::new();
    h.write(1, "k", "1-0", 0, 10, End::Ok)
        .write(2, "k", "2-0", 20, 30, End::Ok)
        .write(3, "k", "3-0", 40, 50, End::Ok);
    let r = check_all(&h.build(), &three(&["1-0"]), &lww());
    assert_eq!(count(&r, "lost-updates", "lost-write"), 1);
    let a = &r.check("lost-updates").unwrap().anomalies[0];
    assert!(a.explanation.contains("\"3-0\""), "{}", a.explanation);
}

#[test]
fn dvv_a_value_a_delete_observed_is_a_resurrection_not_also_a_superseded_survivor() {
    let mut h = H::new();
    h.cwrite(1, "k", "1-0", &[], 0, 10, End::Ok)
        .cwrite(2, "k", "2-0", &["1-0"], 20, 30, End::Ok)
        .cdelete(3, "k", &["1-0", "2-0"], 40, 50, End::Ok);
    let r = check_all(&h.build(), &agreed(&[("k", &["1-0"])]), &dvv());
    assert_eq!(count(&r, "resurrection", "resurrected-value"), 1);
    assert_eq!(count(&r, "lost-updates", "superseded-value-survived"), 0);
}

/// Found by the zoo (`gc-ignores-grace`): a write concurrent with a delete,
/// the delete's tombstone purged, an older value back. One root cause, one
/// anomaly: the resurrection; the concurrent write may have been deleted
/// by that delete, so its absence is not also a lost write.
#[test]
fn a_write_concurrent_with_an_undone_delete_is_not_also_lost() {
    let mut h = H::new();
    h.write(1, "k", "1-0", 0, 10, End::Ok)
        .write(2, "k", "2-0", 20, 40, End::Ok)
        .delete(3, "k", 30, 50, End::Ok);
    let fin = with_rf(&[
        ("n1", "k", &["1-0"]),
        ("n2", "k", &["1-0"]),
        ("n3", "k", &["1-0"]),
    ]);
    let r = check_all(&h.build(), &fin, &lww());
    assert_eq!(count(&r, "resurrection", "resurrected-value"), 1);
    assert_eq!(count(&r, "lost-updates", "lost-write"), 0);
    assert_eq!(valid(&r, "lost-updates"), Validity::True);
    assert_eq!(valid(&r, "convergence"), Validity::True);
    // A write that strictly follows the delete is lost, not deleted: the
    // resurrection checker leaves that state to the lost-updates checker.
    let mut h = H::new();
    h.write(1, "k", "1-0", 0, 10, End::Ok)
        .delete(3, "k", 20, 30, End::Ok)
        .write(2, "k", "2-0", 40, 50, End::Ok);
    let r = check_all(&h.build(), &fin, &lww());
    assert_eq!(count(&r, "lost-updates", "lost-write"), 1);
    assert_eq!(count(&r, "resurrection", "resurrected-value"), 0);
}
