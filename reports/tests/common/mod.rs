//! Synthetic run directories for the report tests and the benchmark.
//!
//! Hand-written, deterministic run files in the harness's formats: a history
//! with client ops and every nemesis kind, final state, metrics with every
//! charted family, and results.json with every anomaly kind and the details
//! the report knows how to chart. `hostile` puts HTML and script into every
//! string that reaches a page (keys, values, names, explanations, details).

#![allow(dead_code)]

pub mod server;

use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

/// Markup that must come out escaped wherever it is shown.
pub const HOSTILE: &str = "<script>alert(\"x\")</script><img src=x onerror=alert(1)>&'";

/// Every anomaly kind the checkers crate reports, with its checker and the
/// tenth of the run (a fault window, see `write_run`) its example sits in.
pub const ANOMALIES: [(&str, &str, u64); 11] = [
    ("lost-updates", "lost-write", 3),
    ("lost-updates", "lww-siblings", 3),
    ("resurrection", "resurrected-value", 1),
    ("convergence", "divergent-key", 8),
    ("phantoms", "phantom-read", 5),
    ("phantoms", "failed-write-read", 5),
    ("phantoms", "future-read", 6),
    ("phantoms", "phantom-final-value", 8),
    ("staleness", "stale-read", 1),
    ("sessions", "read-your-writes", 6),
    ("sessions", "monotonic-reads", 6),
];

/// The anomaly kinds, for assertions.
pub const ANOMALY_KINDS: [&str; 11] = {
    let mut out = [""; 11];
    let mut i = 0;
    while i < 11 {
        out[i] = ANOMALIES[i].1;
        i += 1;
    }
    out
};

/// What to generate.
#[derive(Debug, Clone)]
pub struct Spec {
    pub ops: usize,
    pub processes: u32,
    pub nodes: u32,
    pub hostile: bool,
    pub test_name: String,
    pub started_at: String,
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            ops: 2_000,
            processes: 5,
            nodes: 3,
            hostile: false,
            test_name: "lww-clock-skew".into(),
            started_at: "2026-11-25T10:00:00Z".into(),
        }
    }
}

/// A tiny deterministic generator; enough for plausible spreads.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

const S: u64 = 1_000_000_000;

/// Writes a complete run directory; returns the run length in ns.
pub fn write_run(dir: &Path, spec: &Spec) -> u64 {
    std::fs::create_dir_all(dir).unwrap();
    let key_prefix = if spec.hostile { HOSTILE } else { "k" };
    let node = |i: u64| {
        if spec.hostile && i == 0 {
            format!("n1{HOSTILE}")
        } else {
            format!("n{}", i + 1)
        }
    };
    // 1000 ops/s overall, like a default run; at least 60 s.
    let duration = ((spec.ops as u64 * S) / 1000).max(60 * S);
    let step = duration / spec.ops.max(1) as u64;
    let mut rng = Lcg(42);
    let mut h = std::io::BufWriter::new(std::fs::File::create(dir.join("history.jsonl")).unwrap());
    let mut index = 0u64;
    let mut line = |h: &mut std::io::BufWriter<std::fs::File>, text: String| {
        let text = text.replacen("{IDX}", &index.to_string(), 1);
        h.write_all(text.as_bytes()).unwrap();
        h.write_all(b"\n").unwrap();
        index += 1;
    };
    let json = |s: &str| serde_json::to_string(s).unwrap();
    // Nemesis schedule: one window per fault kind, in the middle of the run.
    let tenth = duration / 10;
    let faults = [
        (
            "partition",
            1,
            2,
            serde_json::json!({"grudge": {node(0): [node(1), node(2)]}, "note": if spec.hostile { HOSTILE } else { "" }}),
        ),
        (
            "clock",
            3,
            5,
            serde_json::json!({"offsets_ms": {node(0): -4000, node(1): 1500}}),
        ),
        ("crash", 5, 6, serde_json::json!({"nodes": [node(2)]})),
        ("pause", 6, 7, serde_json::json!({"nodes": [node(1)]})),
        ("wipe", 8, 9, serde_json::json!({"nodes": [node(0)]})),
    ];
    let mut pending_nemesis: Vec<(u64, String)> = Vec::new();
    for (fault, from, to, detail) in &faults {
        pending_nemesis.push((from * tenth, format!(
            r#"{{"index":{{IDX}},"process":"nemesis","type":"info","f":"start","time":{},"fault":"{fault}","detail":{detail}}}"#,
            from * tenth
        )));
        pending_nemesis.push((to * tenth, format!(
            r#"{{"index":{{IDX}},"process":"nemesis","type":"info","f":"stop","time":{},"fault":"{fault}"}}"#,
            to * tenth
        )));
    }
    pending_nemesis.sort_by_key(|p| p.0);
    let mut nem = pending_nemesis.into_iter().peekable();
    let mut seq = vec![0u64; spec.processes as usize];
    for i in 0..spec.ops as u64 {
        let t = i * step;
        while let Some((nt, _)) = nem.peek() {
            if *nt > t {
                break;
            }
            let (_, text) = nem.next().unwrap();
            line(&mut h, text);
        }
        let p = (i % spec.processes as u64) as u32;
        let n = node(p as u64 % spec.nodes as u64);
        let key = format!("{key_prefix}{}", rng.below(1000).min(rng.below(1000)));
        let in_fault = faults
            .iter()
            .any(|(_, a, b, _)| t >= a * tenth && t < b * tenth);
        let latency =
            200_000 + rng.below(2_000_000) + if in_fault { rng.below(50_000_000) } else { 0 };
        let outcome = match rng.below(100) {
            0..=1 if in_fault => "info",
            2 if in_fault => "fail",
            _ => "ok",
        };
        match rng.below(10) {
            0..=4 => {
                line(
                    &mut h,
                    format!(
                        r#"{{"index":{{IDX}},"process":{p},"type":"invoke","f":"read","time":{t},"key":{},"node":{}}}"#,
                        json(&key),
                        json(&n)
                    ),
                );
                let values = if outcome == "ok" {
                    format!(r#","values":[{}]"#, json(&format!("{p}-{}", rng.below(50))))
                } else {
                    String::new()
                };
                let err = if outcome != "ok" {
                    r#","error":"timeout""#
                } else {
                    ""
                };
                line(
                    &mut h,
                    format!(
                        r#"{{"index":{{IDX}},"process":{p},"type":"{outcome}","f":"read","time":{},"key":{},"node":{}{values}{err}}}"#,
                        t + latency,
                        json(&key),
                        json(&n)
                    ),
                );
            }
            5..=8 => {
                let v = if spec.hostile {
                    format!("{p}-{}{HOSTILE}", seq[p as usize])
                } else {
                    format!("{p}-{}", seq[p as usize])
                };
                seq[p as usize] += 1;
                line(
                    &mut h,
                    format!(
                        r#"{{"index":{{IDX}},"process":{p},"type":"invoke","f":"write","time":{t},"key":{},"value":{},"node":{}}}"#,
                        json(&key),
                        json(&v),
                        json(&n)
                    ),
                );
                let err = if outcome != "ok" {
                    r#","error":"503 unavailable""#
                } else {
                    ""
                };
                line(
                    &mut h,
                    format!(
                        r#"{{"index":{{IDX}},"process":{p},"type":"{outcome}","f":"write","time":{},"key":{},"value":{},"node":{}{err}}}"#,
                        t + latency,
                        json(&key),
                        json(&v),
                        json(&n)
                    ),
                );
            }
            _ => {
                line(
                    &mut h,
                    format!(
                        r#"{{"index":{{IDX}},"process":{p},"type":"invoke","f":"delete","time":{t},"key":{},"node":{}}}"#,
                        json(&key),
                        json(&n)
                    ),
                );
                line(
                    &mut h,
                    format!(
                        r#"{{"index":{{IDX}},"process":{p},"type":"{outcome}","f":"delete","time":{},"key":{},"node":{}}}"#,
                        t + latency,
                        json(&key),
                        json(&n)
                    ),
                );
            }
        }
    }
    for (_, text) in nem {
        line(&mut h, text);
    }
    h.flush().unwrap();
    drop(h);

    write_final_state(dir, spec, duration, &node, key_prefix);
    write_metrics(dir, spec, duration, &node);
    write_results(dir, spec, &node, key_prefix);
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    std::fs::write(dir.join("logs").join("n1.log"), "node n1 started\n").unwrap();
    // The harness's layout: nodes/<id>/node.log beside nodes/<id>/data/.
    std::fs::create_dir_all(dir.join("nodes/n2/data")).unwrap();
    std::fs::write(dir.join("nodes/n2/node.log"), "node n2 started\n").unwrap();
    std::fs::write(dir.join("nodes/n2/data/000001.sst"), "storage").unwrap();
    if spec.hostile {
        // A file name with markup must be listed and linked escaped.
        std::fs::write(
            dir.join(format!("note{}.txt", HOSTILE.replace('/', "_"))),
            "x",
        )
        .unwrap();
    }
    duration
}

fn write_final_state(
    dir: &Path,
    spec: &Spec,
    duration: u64,
    node: &dyn Fn(u64) -> String,
    key_prefix: &str,
) {
    let nodes: Vec<String> = (0..spec.nodes as u64).map(node).collect();
    let mut out = format!(
        "{}\n",
        serde_json::json!({"kind": "summary", "nodes": nodes, "converged": true, "healed_at": duration, "converged_at": duration + 800_000_000})
    );
    for k in 0..20 {
        for n in &nodes {
            let _ = writeln!(
                out,
                "{}",
                serde_json::json!({"kind": "entry", "node": n, "key": format!("{key_prefix}{k}"), "values": [format!("0-{k}")], "tombstone": false, "version": {"ts": k}})
            );
        }
    }
    std::fs::write(dir.join("final-state.jsonl"), out).unwrap();
}

fn write_metrics(dir: &Path, spec: &Spec, duration: u64, node: &dyn Fn(u64) -> String) {
    let mut out = String::new();
    let seconds = duration / S + 3;
    for s in 0..=seconds {
        for n in 0..spec.nodes as u64 {
            let fault = s * 10 / (duration / S).max(1);
            let skew = if (3..5).contains(&fault) {
                if n == 0 {
                    -4000.0
                } else if n == 1 {
                    1500.0
                } else {
                    0.0
                }
            } else {
                0.0
            };
            let backlog = if (1..3).contains(&fault) {
                (s % 7) as f64 * 10.0
            } else {
                0.0
            };
            let line = serde_json::json!({
                "time": s * S,
                "node": node(n),
                "metrics": {
                    "converge_ops_total{op=\"get\",result=\"ok\"}": (s * 300) as f64,
                    "converge_hints_backlog": backlog,
                    "converge_anti_entropy_mismatched_ranges": if fault == 9 { 4.0 } else { 0.0 },
                    "converge_anti_entropy_keys_repaired_total": (s * 2) as f64,
                    "converge_anti_entropy_bytes_total": (s * 40_000) as f64,
                    "converge_read_repairs_total": (s * 5) as f64,
                    "converge_hints_replayed_total": (s * 3) as f64,
                    // One tombstone purged per node late in the run: the
                    // evidence a resurrection's gc_grace cause needs.
                    "converge_tombstones_purged_total": if fault >= 8 { 1.0 } else { 0.0 },
                    "converge_clock_offset_ms": skew,
                    "converge_op_latency_seconds_bucket{op=\"get\",le=\"0.01\"}": 5.0,
                }
            });
            let _ = writeln!(out, "{line}");
        }
    }
    std::fs::write(dir.join("metrics.jsonl"), out).unwrap();
}

fn write_results(dir: &Path, spec: &Spec, node: &dyn Fn(u64) -> String, key_prefix: &str) {
    // Anomalies cite real events, placed inside the fault window that
    // plausibly caused them (the summary correlates the two).
    let history = std::fs::read_to_string(dir.join("history.jsonl")).unwrap();
    let last_time = history
        .lines()
        .last()
        .and_then(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .and_then(|e| e["time"].as_u64())
        .unwrap_or(0);
    // The time field read without a JSON parse: this scans most of a
    // million-line history six times.
    let time_of = |line: &str| -> u64 {
        let at = line.find("\"time\":").unwrap() + 7;
        line[at..]
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let ops_from = |t: u64| -> Vec<serde_json::Value> {
        history
            .lines()
            .filter(|l| !l.contains("\"nemesis\"") && time_of(l) >= t)
            .take(4)
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .collect()
    };
    let explain = |kind: &str| {
        if spec.hostile {
            format!("{kind} explained {HOSTILE}")
        } else {
            format!("{kind}: see the ops below")
        }
    };
    let checkers = [
        "lost-updates",
        "resurrection",
        "convergence",
        "phantoms",
        "staleness",
        "sessions",
        "perf",
    ];
    let mut checks = Vec::new();
    for checker in checkers {
        let mut counts = serde_json::Map::new();
        let mut anomalies = Vec::new();
        for (i, (c, kind, tenth)) in ANOMALIES.iter().enumerate() {
            if *c != checker {
                continue;
            }
            let ops = ops_from(last_time / 10 * tenth + S / 2 + i as u64 * S / 4);
            // 37 lost writes but only one example: counts exceed examples.
            counts.insert(
                kind.to_string(),
                serde_json::json!(if *kind == "lost-write" { 37 } else { 1 }),
            );
            anomalies.push(serde_json::json!({
                "kind": kind,
                "key": ops.first().and_then(|e| e["key"].as_str()).unwrap_or(key_prefix),
                "explanation": explain(kind),
                "ops": ops,
            }));
        }
        counts.insert("reads".into(), serde_json::json!(spec.ops / 2));
        let details = match checker {
            "staleness" => serde_json::json!({
                "conflict": "lww",
                "all": {"reads": spec.ops / 2, "t_visibility": [
                    {"from_ms": 0, "to_ms": 1, "reads": 100, "fresh": 62, "fresh_share": 0.62},
                    {"from_ms": 1, "to_ms": 10, "reads": 100, "fresh": 85, "fresh_share": 0.85},
                    {"from_ms": 10, "to_ms": 100, "reads": 100, "fresh": 97, "fresh_share": 0.97},
                    {"from_ms": 100, "to_ms": null, "reads": 100, "fresh": 100, "fresh_share": 1.0}]},
                "outside_faults": {"reads": spec.ops / 4, "t_visibility": [
                    {"from_ms": 0, "to_ms": 1, "reads": 50, "fresh": 45, "fresh_share": 0.9},
                    {"from_ms": 100, "to_ms": null, "reads": 50, "fresh": 50, "fresh_share": 1.0}]},
            }),
            "perf" => serde_json::json!({
                "latency": {"read": {"ok": {"count": 10, "p50_ms": 1.1, "p99_ms": 40.0}}},
                "note": if spec.hostile { HOSTILE } else { "" },
            }),
            _ => serde_json::json!({}),
        };
        let has_anomalies = !anomalies.is_empty();
        checks.push(serde_json::json!({
            "checker": checker, "valid": !has_anomalies, "counts": counts, "anomalies": anomalies, "details": details,
        }));
    }
    let name = if spec.hostile {
        format!("{}{HOSTILE}", spec.test_name)
    } else {
        spec.test_name.clone()
    };
    let results = serde_json::json!({
        "valid": false,
        "checks": checks,
        // The harness's RunMeta (checkers/src/results_file.rs).
        "run": {
            "name": name,
            "seed": 1234,
            "checked_by": "converge run",
            "started_at": spec.started_at,
            "timings": {"setup_s": 1.5, "workload_s": 60.0, "heal_s": 0.2, "convergence_s": 0.8, "check_s": 0.4},
            "ops": {"ok": spec.ops - spec.ops / 50, "info": spec.ops / 100, "fail": spec.ops / 100},
            "problems": [format!("could not resume n2 after pause: connection refused{}", if spec.hostile { HOSTILE } else { "" })],
            "reproduce": format!("converge run --config run.toml --seed 1234 --nemesis partition,clock {}", if spec.hostile { HOSTILE } else { "" }),
            "config": {
                "test": {"name": name, "time_limit": "60s", "nodes": spec.nodes, "rf": 3, "r": 2, "w": 2, "conflict": "lww"},
                "workload": {"kind": "register", "keys": 1000, "mix": "read=50,write=40,delete=10"},
                "nemesis": {"faults": ["partition", "clock", "crash", "pause", "wipe"], "clock_skew": "4s"},
                "checks": {"conflict": "lww"},
                "deploy": {"kind": "local"},
                "node": {"cluster": {"rf": 3, "r": 2, "w": 2, "conflict": "lww"},
                         "tombstones": {"gc_grace": "1s"},
                         "anti_entropy": {"enabled": true, "interval": if spec.hostile { HOSTILE } else { "1s" }},
                         "read_repair": {"enabled": true}, "hints": {"enabled": true}},
            },
            "node_names": (0..spec.nodes as u64).map(node).collect::<Vec<_>>(),
        }
    });
    std::fs::write(
        dir.join("results.json"),
        serde_json::to_vec_pretty(&results).unwrap(),
    )
    .unwrap();
}
