//! Tombstone resurrection: deleted data must not come back.
mod support;
use checkers::{Validity, check_all};
use support::*;

fn resurrected(h: &H, fin: &[checkers::history::FinalLine], cfg: &checkers::CheckConfig) -> u64 {
    count(
        &check_all(&h.build(), fin, cfg),
        "resurrection",
        "resurrected-value",
    )
}

#[test]
fn lww_value_written_before_an_acknowledged_delete_is_resurrected() {
    let mut h = H::new();
    h.write(1, "k", "1-0", 0, 10, End::Ok)
        .delete(2, "k", 20, 30, End::Ok);
    let r = check_all(&h.build(), &agreed(&[("k", &["1-0"])]), &lww());
    assert_eq!(valid(&r, "resurrection"), Validity::False);
    // Reported apart from lost writes.
    assert_eq!(valid(&r, "lost-updates"), Validity::True);
    let a = &r.check("resurrection").unwrap().anomalies[0];
    assert_eq!(
        a.ops.len(),
        4,
        "the write and the delete, invoke and completion each"
    );
}

#[test]
fn lww_concurrent_or_indeterminate_delete_does_not_resurrect() {
    let mut h = H::new();
    h.write(1, "k", "1-0", 0, 10, End::Ok)
        .delete(2, "k", 5, 15, End::Ok);
    assert_eq!(resurrected(&h, &agreed(&[("k", &["1-0"])]), &lww()), 0);
    let mut info = H::new();
    info.write(1, "k", "1-0", 0, 10, End::Ok)
        .delete(2, "k", 20, 30, End::Info);
    assert_eq!(resurrected(&info, &agreed(&[("k", &["1-0"])]), &lww()), 0);
    let mut later = H::new();
    later
        .delete(2, "k", 0, 10, End::Ok)
        .write(1, "k", "1-0", 20, 30, End::Ok);
    assert_eq!(resurrected(&later, &agreed(&[("k", &["1-0"])]), &lww()), 0);
}

#[test]
fn dvv_value_observed_by_an_acknowledged_delete_is_resurrected() {
    let mut h = H::new();
    h.write(1, "k", "1-0", 0, 10, End::Ok)
        .write(3, "k", "3-0", 5, 12, End::Ok);
    h.cdelete(2, "k", &["1-0"], 20, 30, End::Ok);
    assert_eq!(
        resurrected(&h, &agreed(&[("k", &["1-0", "3-0"])]), &dvv()),
        1
    );
    // 3-0 was not observed: a concurrent sibling may survive the delete.
    assert_eq!(resurrected(&h, &agreed(&[("k", &["3-0"])]), &dvv()), 0);
    let mut info = H::new();
    info.write(1, "k", "1-0", 0, 10, End::Ok)
        .cdelete(2, "k", &["1-0"], 20, 30, End::Info);
    assert_eq!(resurrected(&info, &agreed(&[("k", &["1-0"])]), &dvv()), 0);
}
