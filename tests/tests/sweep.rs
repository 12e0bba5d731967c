//! `converge sweep` end to end: a 2×2 matrix of short real runs whose sweep
//! report must carry the right verdicts, and a second invocation that
//! resumes instead of rerunning; Ctrl-C mid-sweep; a bad matrix.
//!
//! The matrix crosses anti-entropy (off / Merkle every 500 ms) with read
//! repair (off / blocking). Hints are off, so after the partitions only
//! background repair can bring the replicas of cold keys together during
//! the convergence wait (which does no client reads): both anti-entropy-off
//! cells must report divergent keys, both Merkle cells must converge.

use converge_tests::{Harness, binaries, cluster_lock, node_pids_under, wait_with_deadline};
use serde_json::Value;
use std::time::{Duration, Instant};

const BASE: &str = "[test]\nnodes = 3\nrf = 3\nr = 2\nw = 2\ntime_limit = \"4s\"\n\
    concurrency = 6\nrate = 200\nconvergence_timeout = \"6s\"\nop_timeout = \"1s\"\n\n\
    [workload]\nkeys = 400\nzipf = 1.2\nmix = \"read=40,write=60\"\n\n\
    [nemesis]\nfaults = [\"partition\"]\ninterval = \"1s\"\n\n\
    [node.hints]\nenabled = false\n[node.anti_entropy]\ninterval = \"500ms\"\njitter = \"100ms\"\n";

const MATRIX: &str = "name = \"ci\"\nseeds = [3]\nbase = \"base.toml\"\n\n[axes]\n\
    \"anti_entropy.mode\" = [\"off\", \"merkle\"]\n\"read_repair.mode\" = [\"off\", \"blocking\"]\n";

fn sweep_command(h: &Harness, matrix: &std::path::Path, extra: &[&str]) -> std::process::Command {
    let store = h.store();
    let node = &binaries().node;
    let mut args = vec![
        "sweep",
        "--matrix",
        matrix.to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
        "--node-bin",
        node.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    h.command(&args)
}

fn sweep(h: &Harness, matrix: &std::path::Path) -> converge_tests::Finished {
    let child = sweep_command(h, matrix, &[]).spawn().unwrap();
    wait_with_deadline(child, converge_tests::RUN_DEADLINE)
}

fn config<'a>(report: &'a Value, ae: &str, rr: &str) -> &'a Value {
    report["configs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["label"] == format!("anti_entropy.mode={ae}, read_repair.mode={rr}"))
        .unwrap_or_else(|| panic!("no configuration ae={ae} rr={rr} in {report:#}"))
}

#[test]
fn a_two_by_two_sweep_reports_the_right_verdicts_and_resumes() {
    let _one = cluster_lock();
    let h = Harness::new();
    h.file("base.toml", BASE);
    let matrix = h.file("ci.toml", MATRIX);
    let out = sweep(&h, &matrix);
    assert_eq!(
        out.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    assert!(
        node_pids_under(h.dir.path()).is_empty(),
        "node processes outlived the sweep"
    );

    let dir = h.store().join("sweeps").join("ci");
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("sweep.json")).unwrap()).unwrap();
    assert_eq!(report["configs"].as_array().unwrap().len(), 4);
    for rr in ["off", "blocking"] {
        let off = config(&report, "off", rr);
        assert_eq!(off["verdicts"]["invalid"], 1, "{off:#}");
        assert!(off["divergent_keys"].as_u64().unwrap() > 0, "{off:#}");
        assert_eq!(off["convergence"]["converged_runs"], 0, "{off:#}");
        assert_eq!(off["safe"], false);
        let merkle = config(&report, "merkle", rr);
        assert_eq!(merkle["verdicts"]["valid"], 1, "{merkle:#}");
        assert_eq!(merkle["divergent_keys"], 0);
        assert_eq!(merkle["convergence"]["converged_runs"], 1);
        assert!(
            merkle["repair_cost"]["anti_entropy_bytes_per_kop"]
                .as_f64()
                .unwrap()
                > 0.0
        );
        assert_eq!(merkle["safe"], true, "{merkle:#}");
    }
    // The highlights point at anti-entropy configurations.
    for pick in ["safest", "cheapest_safe"] {
        let i = report[pick].as_u64().unwrap() as usize;
        let label = report["configs"][i]["label"].as_str().unwrap();
        assert!(
            label.contains("anti_entropy.mode=merkle"),
            "{pick}: {label}"
        );
    }
    let html = std::fs::read_to_string(dir.join("sweep.html")).unwrap();
    assert!(html.contains("Cheapest safe:") && html.contains("did not converge"));
    let md = std::fs::read_to_string(dir.join("sweep.md")).unwrap();
    assert!(md.contains("(cheapest safe)"), "{md}");
    // Every cell × seed is a normal run in the store, with its own report.
    let cell = report["configs"][0]["runs"][0]["run_dir"].as_str().unwrap();
    assert!(h.store().join(cell).join("results.json").is_file());
    assert!(h.store().join(cell).join("report.html").is_file());

    // Resuming: nothing is rerun, and the report is the same.
    let again = sweep(&h, &matrix);
    assert_eq!(again.code, 0, "stderr:\n{}", again.stderr);
    assert!(
        again
            .stderr
            .contains("4 runs already in the store, 0 to run"),
        "{}",
        again.stderr
    );
    let resumed: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("sweep.json")).unwrap()).unwrap();
    assert_eq!(resumed["configs"], report["configs"]);
}

#[test]
fn a_bad_matrix_is_named_before_any_run() {
    let h = Harness::new();
    let matrix = h.file(
        "bad.toml",
        "seeds = 1\n[base.test]\nnodes = 2\n[axes]\n\"test.rf\" = [3]\n",
    );
    let out = sweep(&h, &matrix);
    assert_eq!(out.code, 2, "stderr:\n{}", out.stderr);
    assert!(out.stderr.contains("nodes (2) < rf (3)"), "{}", out.stderr);
    assert!(!h.store().join("latest").exists(), "a run started");
    let missing = h.dir.path().join("missing.toml");
    let out = sweep(&h, &missing);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("cannot read the matrix file"),
        "{}",
        out.stderr
    );
}

#[test]
fn sigint_mid_sweep_stops_the_cluster_and_keeps_finished_runs_for_resuming() {
    let _one = cluster_lock();
    let h = Harness::new();
    let matrix = h.file(
        "short.toml",
        "name = \"short\"\nseeds = [1, 2]\n[base.test]\nnodes = 3\ntime_limit = \"2s\"\n\
         convergence_timeout = \"3s\"\n[base.nemesis]\nfaults = [\"partition\"]\ninterval = \"1s\"\n\
         [axes]\n\"read_repair.mode\" = [\"blocking\"]\n",
    );
    let child = sweep_command(&h, &matrix, &[]).spawn().unwrap();
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    // Interrupt once the first run is finished and the second is running.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let finished = std::fs::read_dir(h.store())
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("short."))
            .flat_map(|cell| {
                std::fs::read_dir(cell.path())
                    .into_iter()
                    .flatten()
                    .flatten()
            })
            .filter(|run| run.path().join("results.json").is_file())
            .count();
        if finished == 1 && !node_pids_under(h.dir.path()).is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "the second run never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let out = wait_with_deadline(child, Duration::from_secs(30));
    assert_eq!(out.code, 2, "stderr:\n{}", out.stderr);
    assert!(
        out.stderr.contains("rerun the same command to resume"),
        "{}",
        out.stderr
    );
    assert!(
        node_pids_under(h.dir.path()).is_empty(),
        "nodes outlived the sweep"
    );

    let child = sweep_command(&h, &matrix, &["--plan"]).spawn().unwrap();
    let plan = wait_with_deadline(child, Duration::from_secs(30));
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(
        plan.stdout.contains("1 runs already in the store"),
        "{}",
        plan.stdout
    );
    assert_eq!(
        plan.stdout.matches("to run: ").count(),
        1,
        "{}",
        plan.stdout
    );
}

/// No faults, so every run's verdict is decided by the node alone: the
/// same for a run made by a shard and by a single process.
const QUIET_BASE: &str = "[test]\nnodes = 3\nrf = 3\nr = 2\nw = 2\ntime_limit = \"2s\"\n\
    concurrency = 4\nrate = 200\nconvergence_timeout = \"6s\"\nop_timeout = \"1s\"\n\n\
    [workload]\nkeys = 50\n\n[nemesis]\nfaults = []\n";

/// Seeds 11 and 12 are arbitrary: with no faults every seed gives the same
/// verdicts; two seeds make four runs, one per shard.
const SHARDED: &str = "name = \"sharded\"\nseeds = [11, 12]\nbase = \"base.toml\"\n\n[axes]\n\
    \"read_repair.mode\" = [\"off\", \"blocking\"]\n";

/// sweep.json without what depends on when and where it was made.
fn aggregates(store: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(store.join("sweeps/sharded/sweep.json")).unwrap();
    let mut v: Value = serde_json::from_str(&text).unwrap();
    v.as_object_mut().unwrap().remove("generated_at");
    v
}

/// Verdicts and anomaly sums per configuration: what must not depend on
/// how the runs were spread over machines.
fn verdicts(store: &std::path::Path) -> Vec<(String, Value, Value, Value)> {
    let v = aggregates(store);
    v["configs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["label"].as_str().unwrap().to_string(),
                c["verdicts"].clone(),
                c["lost_updates"].clone(),
                c["divergent_keys"].clone(),
            )
        })
        .collect()
}

#[test]
fn four_shards_in_parallel_merge_into_the_single_machine_report() {
    let _one = cluster_lock();
    let h = Harness::new();
    h.file("base.toml", QUIET_BASE);
    let matrix = h.file("sharded.toml", SHARDED);
    let node = binaries().node.to_str().unwrap().to_string();
    let m = matrix.to_str().unwrap().to_string();
    let shard_store = |i: usize| h.dir.path().join(format!("shard{i}"));
    // Four slices at once, each into its own store, as four pods would.
    let children: Vec<_> = (0..4)
        .map(|i| {
            let store = shard_store(i);
            let shard = format!("{i}/4");
            h.command(&[
                "sweep",
                "--matrix",
                &m,
                "--store",
                store.to_str().unwrap(),
                "--node-bin",
                &node,
                "--shard",
                &shard,
            ])
            .spawn()
            .unwrap()
        })
        .collect();
    for (i, child) in children.into_iter().enumerate() {
        let out = wait_with_deadline(child, converge_tests::RUN_DEADLINE);
        assert_eq!(out.code, 0, "shard {i}:\n{}\n{}", out.stdout, out.stderr);
        assert!(
            out.stdout.contains(&format!("shard {i}/4: 1 runs")),
            "{}",
            out.stdout
        );
    }
    let merged = h.dir.path().join("merged");
    let junit = h.dir.path().join("merged.xml");
    let mut args = vec![
        "merge",
        "--matrix",
        &m,
        "--into",
        merged.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
    ];
    let stores: Vec<String> = (0..4)
        .map(|i| shard_store(i).to_str().unwrap().to_string())
        .collect();
    args.extend(stores.iter().map(String::as_str));
    let out = h.run(&args);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("4 runs copied, 0 already present, 0 refused, 0 missing"),
        "{}",
        out.stdout
    );
    // One JUnit case per cell x seed, all passing.
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("name=\"converge.sweep.sharded\" tests=\"4\" failures=\"0\" errors=\"0\""),
        "{xml}"
    );
    assert_eq!(xml.matches("<testcase ").count(), 4, "{xml}");
    // A merge of one slice so far is incomplete: exit 2, the three runs it
    // lacks are JUnit errors.
    let partial = h.dir.path().join("partial");
    let partial_junit = h.dir.path().join("partial.xml");
    let out = h.run(&[
        "merge",
        "--matrix",
        &m,
        "--into",
        partial.to_str().unwrap(),
        "--junit",
        partial_junit.to_str().unwrap(),
        &stores[0],
    ]);
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("1 runs copied, 0 already present, 0 refused, 3 missing"),
        "{}",
        out.stdout
    );
    let xml = std::fs::read_to_string(&partial_junit).unwrap();
    assert!(
        xml.contains("tests=\"4\" failures=\"0\" errors=\"3\""),
        "{xml}"
    );
    // Merging again copies nothing: merging is idempotent.
    let again = h.run(&args);
    assert!(
        again.stdout.contains("0 runs copied, 4 already present"),
        "{}",
        again.stdout
    );

    // The merged report is exactly the report over the union of the runs...
    let union = h.dir.path().join("union");
    // (Built by hand: every shard's run directories side by side, a name
    // two shards share kept twice, as two slices can start runs of one cell
    // in the same millisecond.)
    for store in &stores {
        for cell in std::fs::read_dir(store).unwrap().flatten() {
            let cell_name = cell.file_name();
            if !cell.path().is_dir() || cell_name == "sweeps" {
                continue;
            }
            for run in std::fs::read_dir(cell.path()).unwrap().flatten() {
                if !run.path().is_dir() {
                    continue;
                }
                let dest_cell = union.join(&cell_name);
                std::fs::create_dir_all(&dest_cell).unwrap();
                let mut dest = dest_cell.join(run.file_name());
                let mut n = 1;
                while dest.exists() {
                    dest = dest_cell.join(format!("{}.{n}", run.file_name().to_string_lossy()));
                    n += 1;
                }
                let status = std::process::Command::new("cp")
                    .arg("-a")
                    .arg(run.path())
                    .arg(&dest)
                    .status();
                assert!(status.is_ok_and(|s| s.success()));
            }
        }
    }
    let out = h.run(&[
        "sweep",
        "--matrix",
        &m,
        "--store",
        union.to_str().unwrap(),
        "--node-bin",
        &node,
        "--report-only",
    ]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let strip_store = |v: Value, store: &std::path::Path| {
        serde_json::from_str::<Value>(&v.to_string().replace(store.to_str().unwrap(), "STORE"))
            .unwrap()
    };
    assert_eq!(
        strip_store(aggregates(&merged), &merged),
        strip_store(aggregates(&union), &union)
    );
    // ...and says what one machine running the whole sweep says.
    let single = h.dir.path().join("single");
    let out = h.run(&[
        "sweep",
        "--matrix",
        &m,
        "--store",
        single.to_str().unwrap(),
        "--node-bin",
        &node,
    ]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(verdicts(&merged), verdicts(&single));

    // A run whose config is not the matrix's is refused by name.
    let stale = h.dir.path().join("stale");
    let status = std::process::Command::new("cp")
        .args(["-a", &stores[0], stale.to_str().unwrap()])
        .status();
    assert!(status.is_ok_and(|s| s.success()));
    for entry in walk(&stale) {
        if entry.file_name().is_some_and(|n| n == "config.toml") {
            let text = std::fs::read_to_string(&entry).unwrap();
            std::fs::write(&entry, text.replace("w = 2", "w = 3")).unwrap();
        }
    }
    let fresh = h.dir.path().join("fresh");
    let out = h.run(&[
        "merge",
        "--matrix",
        &m,
        "--into",
        fresh.to_str().unwrap(),
        stale.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("test.w"), "{}", out.stderr);
    assert!(
        out.stderr.contains("missing from the store"),
        "{}",
        out.stderr
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_fleet_runs_one_test_over_seeds_with_a_junit_case_per_run_and_resumes() {
    let _one = cluster_lock();
    let h = Harness::new();
    let test = h.file("quiet.toml", QUIET_BASE);
    let junit = h.dir.path().join("fleet.xml");
    let node = binaries().node.to_str().unwrap().to_string();
    // --seed 5 is the base the three seeds are drawn from; with no faults
    // any base gives valid runs.
    let args = [
        "run",
        "--config",
        test.to_str().unwrap(),
        "--node-bin",
        &node,
        "--seeds",
        "3",
        "--seed",
        "5",
        "--junit",
        junit.to_str().unwrap(),
    ];
    let child = h.command(&args).spawn().unwrap();
    let out = wait_with_deadline(child, converge_tests::RUN_DEADLINE * 3);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("fleet quiet: 3 runs, 0 with anomalies, 0 undecided"),
        "{}",
        out.stdout
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("tests=\"3\" failures=\"0\" errors=\"0\""),
        "{xml}"
    );
    assert_eq!(xml.matches("<testcase ").count(), 3, "{xml}");
    // The same command again runs nothing new: the fleet resumes.
    let again = h.run(&args);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again
            .stderr
            .contains("3 runs already in the store, 0 to run"),
        "{}",
        again.stderr
    );
    // A slice needs the base seed, so that every slice draws the same seeds.
    let no_base = h.run(&[
        "run",
        "--config",
        test.to_str().unwrap(),
        "--seeds",
        "3",
        "--shard",
        "0/2",
    ]);
    assert_eq!(no_base.code, 2, "{}", no_base.stderr);
    assert!(no_base.stderr.contains("--seed"), "{}", no_base.stderr);
}
