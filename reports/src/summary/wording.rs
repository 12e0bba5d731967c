//! The words of the summary: what an anomaly kind means in plain language,
//! how a fault reads ("clock skew of up to 4.0 s"), and the likely cause of a
//! kind given the fault its examples overlapped and the tested config.

use super::config_facts::ConfigFacts;
use super::evidence::Evidence;

pub(super) fn describe_kind(kind: &str, n: usize) -> String {
    let k = kind.to_ascii_lowercase();
    let s = |one: &str, many: &str| {
        if n == 1 {
            one.to_string()
        } else {
            many.to_string()
        }
    };
    // The checkers crate's kinds first (checkers/src/*.rs), then by word.
    let phrase = match k.as_str() {
        "lost-write-observed" => s(
            "acknowledged write vanished during the run: a quorum read that began after it completed missed it, and no later read or replica ever showed it",
            "acknowledged writes vanished during the run: quorum reads that began after they completed missed them, and no later read or replica ever showed them",
        ),
        "resurrection-observed" => s(
            "read returned a value an acknowledged delete had already removed",
            "reads returned values acknowledged deletes had already removed",
        ),
        "stale-read-under-quorum-overlap" => s(
            "quorum read missed a write or delete acknowledged before it began, although R + W > N",
            "quorum reads missed writes or deletes acknowledged before they began, although R + W > N",
        ),
        "lww-siblings" => s(
            "replica held several values for one key under lww, which must keep one",
            "replica entries held several values for one key under lww, which must keep one",
        ),
        "superseded-value-survived" => s(
            "value survived although a later causal write superseded it",
            "values survived although later causal writes superseded them",
        ),
        "phantom-final-value" => s(
            "replica holds a value that was never written",
            "replica values were never written",
        ),
        "failed-write-read" => s(
            "read returned a value whose write had failed",
            "reads returned values whose writes had failed",
        ),
        "failed-write-in-final" => s(
            "value whose write had failed is in the final state",
            "values whose writes had failed are in the final state",
        ),
        "future-read" => s(
            "read returned a value before its write was invoked",
            "reads returned values before their writes were invoked",
        ),
        "read-your-writes" => s(
            "read missed its own process's earlier write",
            "reads missed their own process's earlier writes",
        ),
        "monotonic-reads" => s(
            "read went back to an older value than one already seen",
            "reads went back to older values than ones already seen",
        ),
        _ if k.contains("lost") => s(
            "acknowledged write was lost",
            "acknowledged writes were lost",
        ),
        _ if k.contains("resurrect") => s(
            "deleted key came back (resurrection)",
            "deleted keys came back (resurrections)",
        ),
        _ if k.contains("diverg") || k.contains("converg") => s(
            "key still differs between replicas after the final heal",
            "keys still differ between replicas after the final heal",
        ),
        _ if k.contains("stale") => s("read returned a stale value", "reads returned stale values"),
        _ if k.contains("sibling") => s(
            "read returned unexpected siblings",
            "reads returned unexpected siblings",
        ),
        _ if k.contains("phantom") || k.contains("never") => s(
            "read returned a value that was never written",
            "reads returned values that were never written",
        ),
        _ => format!("{kind} {}", s("anomaly", "anomalies")),
    };
    format!("{n} {phrase}.")
}

/// Upper-cases the first letter and ends with a full stop.
pub(super) fn sentence_case(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), c.as_str()),
        None => String::new(),
    }
}

pub(super) fn fault_phrase(fault: &str, offset_ms: Option<f64>) -> String {
    match fault {
        "clock" => match offset_ms {
            Some(ms) if ms >= 1000.0 => format!("clock skew of up to {:.1} s", ms / 1000.0),
            Some(ms) => format!("clock skew of up to {ms:.0} ms"),
            None => "clock skew".into(),
        },
        "partition" => "a network partition".into(),
        "crash" => "a node crash".into(),
        "pause" => "a paused node".into(),
        "wipe" => "a wiped replica".into(),
        other => format!("a {other} fault"),
    }
}

pub(super) fn likely_cause(
    kind: &str,
    fault: Option<&str>,
    facts: &ConfigFacts,
    evidence: &Evidence,
) -> Option<String> {
    let k = kind.to_ascii_lowercase();
    let lww = facts.conflict.as_deref() == Some("lww");
    if k.contains("lost") {
        return Some(match (fault, lww) {
            (Some("clock"), true) => "lww resolves conflicts by timestamp, so a write stamped by a node whose clock runs behind \
                                      loses to an older write from a node whose clock runs ahead."
                .into(),
            (Some("wipe"), _) => "a replica lost its data; a write acknowledged by too few surviving replicas cannot be recovered.".into(),
            _ => match quorum_cause(facts) {
                Some(q) => q,
                None if overlapping(facts) => format!(
                    "no clock skew overlapped it and R + W > N, so the node acknowledged a write that a later quorum did not hold: \
                     it acknowledged before W replicas durably had it, or a repair, hint or {} overwrote it.",
                    if lww { "write with a higher timestamp" } else { "merge that dropped its dot" }
                ),
                None => return None,
            },
        });
    }
    if k.contains("resurrect") {
        let grace = facts.gc_grace.as_deref().unwrap_or("its configured value");
        let away = if fault == Some("partition") {
            "a replica partitioned away"
        } else {
            "a replica that missed the delete"
        };
        return Some(match evidence.tombstones_purged {
            Some(n) if n > 0 => format!(
                "the nodes purged {n} tombstone(s) during the run (gc_grace {grace}); {away} still held the old value, and repair copied it back once its tombstone was gone."
            ),
            Some(_) if fault == Some("clock") && lww => "no tombstone was purged (the nodes' purge counters stayed at 0): a node whose clock ran ahead stamped the old value later than the delete's tombstone, so lww kept the value.".into(),
            Some(_) => "no tombstone was purged (the nodes' purge counters stayed at 0), so the tombstone itself lost to the old value: a repair, hint or write carried the value over it without a correct version comparison.".into(),
            None => format!(
                "the delete's tombstone did not prevail: it was purged (gc_grace {grace}) or lost to the old value in repair; the nodes expose no purge counter to tell which."
            ),
        });
    }
    if k.contains("diverg") || k.contains("converg") {
        return divergence_cause(facts);
    }
    if k == "lww-siblings" {
        return Some("a replica stored siblings although conflict = \"lww\" must resolve every conflict to one value.".into());
    }
    if k == "failed-write-read" || k == "failed-write-in-final" {
        return Some("an op recorded as failed had taken effect: only requests surely never applied may be recorded as fail, others as info.".into());
    }
    if k == "stale-read-under-quorum-overlap" {
        return Some("R + W > N, so every read quorum meets every write quorum: a replica answered without a write it had acknowledged, or the read did not wait for R replicas.".into());
    }
    if k.contains("stale") || k == "read-your-writes" || k == "monotonic-reads" {
        return quorum_cause(facts).or_else(|| {
            Some("reads were answered by replicas that had not yet received the newer write, which a fault kept from them until hinted handoff or repair delivered it.".into())
        });
    }
    None
}

/// Whether the config's quorums are known to overlap.
fn overlapping(facts: &ConfigFacts) -> bool {
    matches!((facts.r, facts.w, facts.rf), (Some(r), Some(w), Some(rf)) if r + w > rf)
}

fn quorum_cause(facts: &ConfigFacts) -> Option<String> {
    match (facts.r, facts.w, facts.rf) {
        (Some(r), Some(w), Some(rf)) if r + w <= rf => Some(format!(
            "R + W ≤ RF (R={r}, W={w}, RF={rf}), so a read quorum need not include any replica that acknowledged the write."
        )),
        _ => None,
    }
}

pub(super) fn divergence_cause(facts: &ConfigFacts) -> Option<String> {
    if facts.repairs_off.is_empty() {
        Some("repair did not finish before the convergence timeout; see the divergence and repair charts.".into())
    } else {
        Some(format!(
            "not converged; {} {} off in the node config, so replicas that missed writes are never brought up to date.",
            join_and(&facts.repairs_off),
            if facts.repairs_off.len() == 1 {
                "was"
            } else {
                "were"
            }
        ))
    }
}

/// "a", "a and b", "a, b and c".
fn join_and(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}
