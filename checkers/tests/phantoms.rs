//! Phantoms: values no write produced, failed writes that show up, and reads
//! from the future.
mod support;
use checkers::{Validity, check_all};
use support::*;

#[test]
fn each_impossible_value_is_flagged_by_kind() {
    let mut h = H::new();
    h.write(1, "k", "1-0", 0, 10, End::Fail)
        .write(1, "j", "1-1", 12, 14, End::Ok)
        .read(2, "k", &["9-9"], 20, 30)
        .read(2, "k", &["1-0"], 31, 32)
        .read(2, "k", &["1-1"], 33, 34)
        .read(3, "k", &["4-0"], 35, 36)
        .write(4, "k", "4-0", 40, 50, End::Ok);
    let fin = agreed(&[("k", &["1-0"]), ("j", &["7-7"])]);
    let r = check_all(&h.build(), &fin, &lww());
    assert_eq!(valid(&r, "phantoms"), Validity::False);
    assert_eq!(
        count(&r, "phantoms", "phantom-read"),
        2,
        "unknown value, and a value of another key"
    );
    assert_eq!(count(&r, "phantoms", "failed-write-read"), 1);
    assert_eq!(count(&r, "phantoms", "future-read"), 1);
    assert_eq!(count(&r, "phantoms", "phantom-final-value"), 1);
    assert_eq!(count(&r, "phantoms", "failed-write-in-final"), 1);
}

#[test]
fn values_of_indeterminate_and_concurrent_writes_are_not_phantoms() {
    let mut h = H::new();
    h.write(1, "k", "1-0", 0, 10, End::Info)
        .read(2, "k", &["1-0"], 20, 30)
        .write(3, "k", "3-0", 40, 60, End::None)
        .read(2, "k", &["3-0"], 50, 55);
    let r = check_all(&h.build(), &agreed(&[("k", &["3-0"])]), &lww());
    assert_eq!(valid(&r, "phantoms"), Validity::True);
}
