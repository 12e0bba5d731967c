//! Golden files: a run directory as the harness writes it (every fault
//! action, client ops with their nodes, a final state with and without a
//! missing dump, a converged one) reads back to the same bytes, and its results.json is
//! pinned byte for byte. The fixtures under `tests/fixtures/golden/` were
//! written by the harness's formats before the history's node, fault and
//! detail fields were typed; a change to how a run directory is read or
//! written that moves a byte fails here.
//!
//! To re-pin results.json after an intended change of the results, run with
//! `CONVERGE_BLESS=1` and review the diff.

use checkers::convergence::ConvergenceDetails;
use checkers::history::{read_final_state, read_history, write_line};
use checkers::perf::PerfDetails;
use checkers::results_file::{RunMeta, RunResults};
use checkers::staleness::StalenessDetails;
use checkers::{CheckConfig, CheckDetails, Conflict, Quorum, Results, check_all, check_files};
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/golden")
        .join(name)
}

fn read(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).unwrap()
}

fn cfg() -> CheckConfig {
    CheckConfig {
        conflict: Conflict::Lww,
        quorum: Some(Quorum { n: 3, r: 2, w: 2 }),
        crash_loss_window_ns: Some(u64::MAX),
        ..CheckConfig::default()
    }
}

/// results.json's text as `results_file::write` writes it.
fn results_text(results: checkers::Results) -> String {
    let r = RunResults {
        results,
        run: RunMeta::default(),
    };
    serde_json::to_string_pretty(&r).unwrap() + "\n"
}

fn rewritten<T: serde::Serialize>(items: &[T]) -> String {
    let mut out = Vec::new();
    for i in items {
        write_line(&mut out, i).unwrap();
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn a_harness_written_history_reads_back_to_the_same_bytes() {
    let text = read("history.jsonl");
    assert_eq!(rewritten(&read_history(text.as_bytes()).unwrap()), text);
}

#[test]
fn harness_written_final_states_read_back_to_the_same_bytes() {
    for name in [
        "final-state.jsonl",
        "final-state-missing.jsonl",
        "final-state-converged.jsonl",
    ] {
        let text = read(name);
        assert_eq!(
            rewritten(&read_final_state(text.as_bytes()).unwrap()),
            text,
            "{name}"
        );
    }
}

#[test]
fn results_json_is_pinned_byte_for_byte() {
    for (final_state, pinned) in [
        ("final-state.jsonl", "results.json"),
        ("final-state-missing.jsonl", "results-missing.json"),
        ("final-state-converged.jsonl", "results-converged.json"),
    ] {
        let streamed = check_files(
            &fixture("history.jsonl"),
            Some(&fixture(final_state)),
            &cfg(),
        )
        .unwrap();
        let text = results_text(streamed);
        // The in-memory entry point reads the same files the same way.
        let history = read_history(read("history.jsonl").as_bytes()).unwrap();
        let fin = read_final_state(read(final_state).as_bytes()).unwrap();
        assert_eq!(results_text(check_all(&history, &fin, &cfg())), text);
        if std::env::var_os("CONVERGE_BLESS").is_some() {
            std::fs::write(fixture(pinned), &text).unwrap();
        }
        assert_eq!(text, read(pinned), "{pinned} moved");
    }
}

/// `D` reads its checker's details back and writes them as they were.
fn reads_back<D: CheckDetails>(r: &Results) {
    let c = r.check(D::CHECKER).unwrap();
    let typed: D = r.details::<D>().unwrap().unwrap();
    assert_eq!(
        serde_json::to_value(&typed).unwrap(),
        c.details,
        "{}",
        D::CHECKER
    );
}

#[test]
fn the_typed_details_read_back_what_the_checkers_wrote() {
    let history = read_history(read("history.jsonl").as_bytes()).unwrap();
    let configs = [
        cfg(),
        CheckConfig::default(),
        CheckConfig {
            quorum: Some(Quorum { n: 3, r: 1, w: 1 }),
            stale_read_threshold: Some(0.5),
            ..CheckConfig::default()
        },
    ];
    for final_state in [
        "final-state.jsonl",
        "final-state-missing.jsonl",
        "final-state-converged.jsonl",
    ] {
        let fin = read_final_state(read(final_state).as_bytes()).unwrap();
        for cfg in &configs {
            let r = check_all(&history, &fin, cfg);
            reads_back::<ConvergenceDetails>(&r);
            reads_back::<StalenessDetails>(&r);
            reads_back::<PerfDetails>(&r);
        }
    }
    let r = check_all(&history, &[], &cfg());
    reads_back::<ConvergenceDetails>(&r);
    let converged = |name: &str| {
        let fin = read_final_state(read(name).as_bytes()).unwrap();
        let d = check_all(&history, &fin, &cfg())
            .details::<ConvergenceDetails>()
            .unwrap()
            .unwrap();
        (d.converged(), d.time_to_converge_ms())
    };
    assert_eq!(
        converged("final-state-converged.jsonl"),
        (true, Some(0.0015))
    );
    assert_eq!(converged("final-state-missing.jsonl"), (false, None));
}
