//! The files users copy to run sweeps on other engines
//! (harness/examples/kubernetes, harness/examples/github-actions) stay
//! valid: the Kubernetes manifests against the API's own schema, and every
//! converge command in them against converge's own command line.
//!
//! Schema: each YAML document is deserialized into its k8s-openapi type
//! (generated from the Kubernetes OpenAPI spec), which checks kinds, types
//! and required fields, while serde_ignored reports every field the schema
//! does not have — a misspelt `completionMode` would otherwise be dropped
//! silently, by us as by the API server.

use converge_tests::binaries;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use serde::Deserialize;
use std::path::{Path, PathBuf};

fn example(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../harness/examples")
        .join(path)
}

/// Deserializes one document as `T`, failing on any field `T` lacks.
fn strictly<T: for<'de> Deserialize<'de>>(doc: serde_yaml_ng::Value, what: &str) -> T {
    let mut unknown = Vec::new();
    let parsed = serde_ignored::deserialize(doc, |path| unknown.push(path.to_string()))
        .unwrap_or_else(|e| panic!("{what} does not match the Kubernetes schema: {e}"));
    assert!(
        unknown.is_empty(),
        "{what} has fields the Kubernetes schema does not know: {unknown:?}"
    );
    parsed
}

/// Every document of a multi-document YAML file.
fn documents(path: &Path) -> Vec<serde_yaml_ng::Value> {
    let text = std::fs::read_to_string(path).unwrap();
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| serde_yaml_ng::Value::deserialize(d).unwrap())
        .collect()
}

/// The `converge` command lines of a container (its shell script).
fn container_script(job: &Job) -> String {
    let spec = job.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
    spec.containers
        .iter()
        .flat_map(|c| c.args.iter().flatten().chain(c.command.iter().flatten()))
        .cloned()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Asserts every `--flag` following `converge <sub>` in `script` is one
/// of that subcommand's flags, as the built binary's `--help` lists them.
fn flags_exist(script: &str) {
    let words: Vec<&str> = script.split_whitespace().collect();
    // The binary, as a command: not the package name of `cargo build -p`.
    let is_converge = |i: usize| {
        (words[i] == "converge" || words[i].ends_with("/converge"))
            && (i == 0 || words[i - 1] != "-p")
    };
    let mut checked = 0;
    for i in 0..words.len() {
        if !is_converge(i) || i + 1 >= words.len() {
            continue;
        }
        let sub = words[i + 1];
        let help = std::process::Command::new(&binaries().converge)
            .args([sub, "--help"])
            .output()
            .unwrap();
        assert!(help.status.success(), "converge {sub} is not a command");
        let help = String::from_utf8_lossy(&help.stdout);
        let args = words[i + 2..]
            .iter()
            .enumerate()
            .take_while(|(j, w)| !is_converge(i + 2 + j) && !w.contains(';'))
            .map(|(_, w)| w);
        for flag in args.filter(|w| w.starts_with("--")) {
            let flag = flag.split('=').next().unwrap();
            assert!(
                help.contains(&format!("{flag} ")) || help.contains(&format!("{flag}\n")),
                "converge {sub} has no flag {flag}"
            );
            checked += 1;
        }
    }
    assert!(checked > 0, "no converge command found in {script:?}");
}

#[test]
fn the_kubernetes_indexed_job_matches_the_api_schema_and_converges_cli() {
    let path = example("kubernetes/sweep-indexed-job.yaml");
    let mut jobs = Vec::new();
    let mut claims = Vec::new();
    for (i, doc) in documents(&path).into_iter().enumerate() {
        let what = format!("{} document {}", path.display(), i + 1);
        match doc["kind"].as_str() {
            Some("Job") => jobs.push(strictly::<Job>(doc, &what)),
            Some("PersistentVolumeClaim") => {
                claims.push(strictly::<PersistentVolumeClaim>(doc, &what))
            }
            other => panic!("{what}: unexpected kind {other:?}"),
        }
    }
    assert_eq!((jobs.len(), claims.len()), (2, 1));

    // The sweep: an Indexed Job whose pod count is the N of --shard I/N.
    let sweep = &jobs[0];
    let spec = sweep.spec.as_ref().unwrap();
    assert_eq!(spec.completion_mode.as_deref(), Some("Indexed"));
    let script = container_script(sweep);
    let n = spec.completions.unwrap();
    assert_eq!(spec.parallelism, Some(n), "one pod per slice at once");
    assert!(
        script.contains(&format!("--shard \"${{JOB_COMPLETION_INDEX}}/{n}\"")),
        "the shard count is not the completions ({n}): {script}"
    );
    flags_exist(&script);

    // The merge gathers exactly the N slices' stores from the shared claim.
    let merge = container_script(&jobs[1]);
    for i in 0..n {
        assert!(merge.contains(&format!("/store/shard-{i}")), "{merge}");
    }
    assert!(!merge.contains(&format!("/store/shard-{n}")), "{merge}");
    flags_exist(&merge);
    let claim = claims[0].metadata.name.as_deref().unwrap();
    for job in &jobs {
        let pod = job.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
        let volumes = pod.volumes.as_ref().unwrap();
        assert!(
            volumes.iter().any(|v| v
                .persistent_volume_claim
                .as_ref()
                .is_some_and(|c| c.claim_name == claim)),
            "a Job does not mount the shared claim {claim}"
        );
        assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
    }
}

#[test]
fn a_misspelt_field_is_caught_by_the_schema_check() {
    // The check above must be able to fail: a Job with `completionMod`.
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(
        "apiVersion: batch/v1\nkind: Job\nmetadata: {name: x}\nspec:\n  completionMod: Indexed\n  \
         template:\n    spec:\n      containers: [{name: c, image: i}]\n",
    )
    .unwrap();
    let caught = std::panic::catch_unwind(|| strictly::<Job>(doc, "the misspelt Job"));
    assert!(caught.is_err());
}

#[test]
fn the_github_actions_workflow_slices_and_merges_the_same_matrix() {
    let path = example("github-actions/sweep.yml");
    let doc = &documents(&path)[0];
    let shards = doc["env"]["SHARDS"].as_u64().unwrap();
    let index = doc["jobs"]["slice"]["strategy"]["matrix"]["index"]
        .as_sequence()
        .unwrap();
    let indices: Vec<u64> = index.iter().map(|v| v.as_u64().unwrap()).collect();
    assert_eq!(
        indices,
        (0..shards).collect::<Vec<_>>(),
        "one job per slice"
    );
    let steps = |job: &str| -> String {
        doc["jobs"][job]["steps"]
            .as_sequence()
            .unwrap()
            .iter()
            .filter_map(|s| s["run"].as_str())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let slice = steps("slice");
    assert!(
        slice.contains("--shard \"${{ matrix.index }}/$SHARDS\""),
        "{slice}"
    );
    flags_exist(&slice.replace('\\', " "));
    let merge = steps("merge");
    assert_eq!(doc["jobs"]["merge"]["needs"].as_str(), Some("slice"));
    flags_exist(&merge.replace('\\', " "));
}
