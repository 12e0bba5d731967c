//! Perf: latency percentiles by op and outcome, per-second series, windows.
mod support;
use checkers::check_all;
use checkers::history::Function;
use support::*;

const MS: u64 = 1_000_000;

#[test]
fn latency_throughput_availability_and_windows_are_reported() {
    let mut h = H::new();
    h.write(1, "k", "1-0", 0, MS, End::Ok)
        .write(1, "k", "1-1", 2 * MS, 4 * MS, End::Ok)
        .write(1, "k", "1-2", 5 * MS, 8 * MS, End::Ok)
        .read(2, "k", &["1-2"], 1_000 * MS, 1_001 * MS)
        .delete(3, "k", 1_100 * MS, 1_200 * MS, End::Info)
        .write(4, "k", "4-0", 1_300 * MS, 0, End::None)
        .nemesis(Function::Start, "partition", 900 * MS)
        .nemesis(Function::Stop, "partition", 1_500 * MS);
    let r = check_all(&h.build(), &[], &lww());
    let p = r.check("perf").unwrap();
    let w = &p.details["latency"]["write"]["ok"];
    assert_eq!(w["count"], 3);
    assert_eq!(w["max_ms"], 3.0);
    let p50 = w["p50_ms"].as_f64().unwrap();
    assert!((1.5..=2.5).contains(&p50), "p50 {p50}");
    assert_eq!(p.counts["pending"], 1);
    assert_eq!(p.counts["delete-info"], 1);
    let secs = p.details["per_second"].as_array().unwrap();
    assert_eq!(secs[0]["ok"], 3);
    assert_eq!(secs[1]["ok"], 1);
    assert_eq!(secs[1]["info"], 1);
    assert_eq!(secs[1]["availability"], 0.5);
    let win = &p.details["nemesis_windows"][0];
    assert_eq!(win["fault"], "partition");
    assert_eq!(win["stop_ns"], 1_500 * MS);
    assert!(win["detail"]["grudge"].is_object());
}

#[test]
fn a_bogus_far_future_timestamp_widens_buckets_instead_of_exhausting_memory() {
    let mut h = H::new();
    h.write(1, "k", "1-0", 0, MS, End::Ok)
        .write(2, "k", "2-0", 5, u64::MAX / 2, End::Ok);
    let r = check_all(&h.build(), &[], &lww());
    let p = r.check("perf").unwrap();
    let secs = p.details["per_second"].as_array().unwrap();
    assert!(secs.len() <= 100_000);
    assert!(p.details["bucket_seconds"].as_u64().unwrap() > 1);
    assert_eq!(secs[0]["ok"], 1);
}
