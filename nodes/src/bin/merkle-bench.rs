//! `merkle-bench`: measures anti-entropy between two in-memory replicas of one
//! token range (docs/BENCHMARKS.md records its output).
//!
//! Builds two replicas of `--keys` keys that differ in `--diffs` random keys
//! (missing, older, or deleted, on either side), then runs one `merkle` and
//! one `full` session on fresh copies and reports round time, entries and
//! bytes on the wire (postcard encodings) and the ratio to the ideal (the
//! differing entries alone). It also times the per-write cost of keeping the
//! tree current. Run it in release:
//!
//!     cargo run --release -p converge-node --bin merkle-bench

use std::hint::black_box;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use converge_node::merkle::{
    DEFAULT_LEAF_BITS, EntryHash, LwwRecord, LwwRule, MAX_LEAF_BITS, MemoryRangeStore, MerkleTree,
    RangeStore, SessionConfig, SessionStats, entry_hash, key_hash, run_local,
};

#[derive(Parser, Debug)]
#[command(about = "Benchmark Merkle vs full anti-entropy on two in-memory replicas")]
struct Args {
    /// Keys in the range.
    #[arg(long, default_value_t = 1_000_000)]
    keys: u64,
    /// Keys that differ between the replicas.
    #[arg(long, default_value_t = 1_000)]
    diffs: u64,
    /// Bytes per value.
    #[arg(long, default_value_t = 100)]
    value_bytes: usize,
    /// Tree leaves are 2^leaf_bits.
    #[arg(long, default_value_t = DEFAULT_LEAF_BITS)]
    leaf_bits: u8,
    /// Seed of the data and of the session.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// xorshift64*: the benchmark's data generator (deterministic per seed).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn key(i: u64) -> Vec<u8> {
    format!("k{i}").into_bytes()
}

fn value(rng: &mut Rng, bytes: usize) -> Vec<u8> {
    (0..bytes).map(|_| b'a' + (rng.below(26) as u8)).collect()
}

/// How one differing key differs.
#[derive(Clone, Copy, Debug)]
enum Damage {
    MissingOnA,
    MissingOnB,
    OlderOnA,
    OlderOnB,
    DeletedOnA,
    DeletedOnB,
}

const DAMAGES: [Damage; 6] = [
    Damage::MissingOnA,
    Damage::MissingOnB,
    Damage::OlderOnA,
    Damage::OlderOnB,
    Damage::DeletedOnA,
    Damage::DeletedOnB,
];

type Store = MemoryRangeStore<LwwRule>;

/// The two replicas, and the time it took to build one tree from scratch.
fn replicas(args: &Args) -> anyhow::Result<(Store, Store, f64)> {
    let mut rng = Rng(args.seed | 1);
    let records: Vec<(Vec<u8>, LwwRecord)> = (0..args.keys)
        .map(|i| {
            let record = LwwRecord {
                timestamp: 10,
                tombstone: false,
                value: value(&mut rng, args.value_bytes),
            };
            (key(i), record)
        })
        .collect();
    let started = Instant::now();
    let mut a = Store::from_records(LwwRule, args.leaf_bits, records.clone())?;
    let build_secs = started.elapsed().as_secs_f64();
    let mut b = Store::from_records(LwwRule, args.leaf_bits, records)?;
    let mut damaged = std::collections::BTreeSet::new();
    while (damaged.len() as u64) < args.diffs.min(args.keys) {
        damaged.insert(rng.below(args.keys));
    }
    for i in damaged {
        let k = key(i);
        let newer = LwwRecord {
            timestamp: 20,
            tombstone: false,
            value: value(&mut rng, args.value_bytes),
        };
        let deleted = LwwRecord {
            timestamp: 20,
            tombstone: true,
            value: Vec::new(),
        };
        match DAMAGES[rng.below(DAMAGES.len() as u64) as usize] {
            Damage::MissingOnA => a.purge(&k),
            Damage::MissingOnB => b.purge(&k),
            Damage::OlderOnA => b.put(k, newer),
            Damage::OlderOnB => a.put(k, newer),
            Damage::DeletedOnA => a.put(k, deleted),
            Damage::DeletedOnB => b.put(k, deleted),
        }
    }
    Ok((a, b, build_secs))
}

fn report(name: &str, stats: &SessionStats, secs: f64, ideal: u64) {
    println!(
        "{name:>6}: {secs:>8.3} s  entries {:>8} (sent {}, received {})  ratio to ideal {:>7.3}  \
         bytes {:>11} (entries {}, hashes/digests/framing {})  round trips {}  passes {}",
        stats.keys_moved(),
        stats.keys_sent,
        stats.keys_received,
        stats.keys_moved() as f64 / ideal.max(1) as f64,
        stats.bytes_sent + stats.bytes_received,
        stats.entry_bytes(),
        stats.hash_bytes(),
        stats.round_trips,
        stats.passes,
    );
}

/// One session on fresh replicas; checks that both ended equal.
fn session(args: &Args, config: SessionConfig, name: &str, ideal: u64) -> anyhow::Result<()> {
    let (mut a, mut b, _) = replicas(args)?;
    let started = Instant::now();
    let stats = run_local(config, &mut a, &mut b)?;
    let secs = started.elapsed().as_secs_f64();
    if a.tree().root() != b.tree().root() || a.snapshot() != b.snapshot() {
        anyhow::bail!("{name} session left the replicas different");
    }
    report(name, &stats, secs, ideal);
    Ok(())
}

/// ns per write of keeping the tree current: hashing the entry and walking
/// the update up the tree, on random keys of a tree already holding `keys`.
fn maintenance_cost(args: &Args) -> anyhow::Result<()> {
    let mut rng = Rng(args.seed.wrapping_add(7) | 1);
    let writes = 1_000_000u64;
    let mut tree = MerkleTree::from_entries(
        args.leaf_bits,
        (0..args.keys).map(|i| {
            let k = key(i);
            (
                key_hash(&k),
                entry_hash(&k, &10u64.to_be_bytes(), &[b"v"], false),
            )
        }),
    )?;
    let inputs: Vec<(Vec<u8>, Vec<u8>)> = (0..writes)
        .map(|_| (key(rng.below(args.keys)), value(&mut rng, args.value_bytes)))
        .collect();

    let started = Instant::now();
    for (k, v) in &inputs {
        let kh = key_hash(k);
        let old = entry_hash(k, &10u64.to_be_bytes(), &[v], false);
        let new = entry_hash(k, &11u64.to_be_bytes(), &[v], false);
        tree.update(kh, Some(old), Some(new));
    }
    let with_hashing = started.elapsed().as_nanos() as f64 / writes as f64;

    let hashed: Vec<_> = inputs
        .iter()
        .map(|(k, v)| (key_hash(k), entry_hash(k, b"x", &[v], false)))
        .collect();
    let started = Instant::now();
    for (kh, h) in &hashed {
        tree.update(*kh, Some(*h), Some(EntryHash(h.0 ^ 1)));
    }
    let tree_only = started.elapsed().as_nanos() as f64 / writes as f64;
    black_box(tree.root());
    println!(
        "maintenance: {with_hashing:.0} ns/write (key hash + old and new entry hash of a \
         {}-byte value + tree update), {tree_only:.0} ns/write tree update alone, \
         tree memory {} KiB at leaf_bits {}",
        args.value_bytes,
        tree.memory_bytes() / 1024,
        args.leaf_bits
    );
    Ok(())
}

fn run(args: &Args) -> anyhow::Result<()> {
    if args.leaf_bits > MAX_LEAF_BITS {
        anyhow::bail!(
            "--leaf-bits {} is out of range; use 0..={MAX_LEAF_BITS}",
            args.leaf_bits
        );
    }
    let (_, _, build_secs) = replicas(args)?;
    println!(
        "range: {} keys, {} differing, {}-byte values, leaf_bits {}; tree built from scratch in {:.3} s",
        args.keys, args.diffs, args.value_bytes, args.leaf_bits, build_secs
    );
    // Every damage here has one newer side (or one missing), so the ideal is
    // one entry per differing key.
    let ideal = args.diffs.min(args.keys);
    session(args, SessionConfig::merkle(args.seed), "merkle", ideal)?;
    session(args, SessionConfig::full(args.seed), "full", ideal)?;
    maintenance_cost(args)
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("merkle-bench: {e}");
            ExitCode::from(1)
        }
    }
}
