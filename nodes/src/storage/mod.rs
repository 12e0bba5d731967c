//! Durable per-key storage on redb, one database file per data dir.
//!
//! redb is a pure-Rust, ACID, copy-on-write B-tree store: no C toolchain, a
//! single file, MVCC readers that never block the writer, and explicit
//! per-commit durability (`Immediate` fsyncs, `None` does not), which maps
//! directly onto `storage.fsync`. See docs/architecture.md.
//!
//! Reads open a read transaction on the caller's thread. Every mutation goes
//! through the single [`writer`] thread, which applies a read-merge-write per
//! key inside one transaction per batch (group commit). Because it is the
//! only mutator, per-key merges need no locks and the live-key / tombstone
//! gauges it maintains are exact. It also owns this replica's DVV actor
//! ([`incarnation`]), since only it mints and purges.
//!
//! A writer that dies (a panic) cannot be replaced: the node would keep
//! answering reads while every write fails. The store reports it
//! ([`Store::writer_failure`], [`Store::writer_failed`]) so `/health` fails
//! and the node shuts down.

mod incarnation;
mod writer;

pub use incarnation::Incarnation;

use crate::clock::HlcTimestamp;
use crate::config::FsyncPolicy;
use crate::metrics::Metrics;
use crate::types::{ConflictMode, Key};
use crate::version::dvv::MintError;
use crate::version::{CausalContext, Record, RecordState};
use incarnation::{META_CLEAN_SHUTDOWN, META_INCARNATION, rotation_reason};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, mpsc};
use std::time::Duration;
use tokio::sync::{oneshot, watch};

pub(crate) const RECORDS: TableDefinition<&str, &[u8]> = TableDefinition::new("records");
pub(crate) const META: TableDefinition<&str, &str> = TableDefinition::new("meta");
/// Hinted handoff queue: `target id, 0x00, big-endian sequence` → hint.
pub(crate) const HINTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("hints");
const META_CONFLICT_MODE: &str = "conflict_mode";

/// A storage failure; the node answers the request as failed (the replica
/// does not ack) and logs it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StorageError {
    #[error("storage engine: {0}")]
    Engine(String),
    #[error("corrupt record for key {key:?}: {reason}")]
    Corrupt { key: String, reason: String },
    #[error("data dir was written in {stored} mode; this cluster runs {configured}")]
    ModeMismatch {
        stored: String,
        configured: ConflictMode,
    },
    #[error("the storage writer has stopped")]
    WriterGone,
    #[error("a {record} record cannot be stored in a {store} store")]
    WrongRecordMode {
        record: ConflictMode,
        store: ConflictMode,
    },
    #[error("cannot mint: {0}")]
    Mint(#[from] MintError),
}

pub(crate) fn engine<E: std::fmt::Display>(e: E) -> StorageError {
    StorageError::Engine(e.to_string())
}

/// Told about every committed change to a key, from the writer thread; it
/// must be quick and must not wait on anything that waits on the writer.
/// Anti-entropy keeps its Merkle trees current through this.
pub trait ChangeObserver: Send + Sync {
    /// `key` now holds `new` (`None`: purged).
    fn changed(&self, key: &Key, new: Option<&Record>);
}

/// One stored hint as (id, encoded hint); [`crate::hints`] owns the format.
pub type StoredHintBytes = (Vec<u8>, Vec<u8>);

/// A mutation queued for the writer thread.
pub(crate) enum WriteOp {
    /// Merge `record` into the stored version; reply with the result.
    Merge {
        key: Key,
        record: Record,
        /// Under `fsync = "always"`, whether the reply must wait for a
        /// durable commit. Anti-entropy repairs need not (a lost repair is
        /// redone next round), which keeps a big repair from paying one
        /// fsync per entry.
        durable: bool,
        /// `(now_ms, grace_ms)` by which a tombstone is purgeable: such a
        /// tombstone is not stored for a key this replica holds nothing of
        /// ([`PurgeHorizon`]). `None`: store whatever arrives.
        purge: Option<(u64, u64)>,
        reply: oneshot::Sender<Result<Record, StorageError>>,
    },
    /// Mint a DVV write on top of the stored version (this node is a replica
    /// of `key`) under the writer's current incarnation; reply with the new
    /// record and the client's new context.
    Mint {
        key: Key,
        client_context: CausalContext,
        value: Option<String>,
        written_ms: u64,
        reply: oneshot::Sender<Result<(Record, CausalContext), StorageError>>,
    },
    /// Delete the record if it still equals `expected` (tombstone GC).
    Purge {
        key: Key,
        expected: Record,
        reply: oneshot::Sender<Result<bool, StorageError>>,
    },
    /// Queue a hint (hinted handoff).
    PutHint {
        id: Vec<u8>,
        hint: Vec<u8>,
        reply: oneshot::Sender<Result<(), StorageError>>,
    },
    /// Remove replayed or expired hints.
    DeleteHints {
        ids: Vec<Vec<u8>>,
        reply: oneshot::Sender<Result<(), StorageError>>,
    },
    /// Make everything durable, then stop.
    Shutdown {
        reply: oneshot::Sender<Result<(), StorageError>>,
    },
}

/// Handle to one node's store. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: Arc<Database>,
    writes: mpsc::Sender<WriteOp>,
    mode: ConflictMode,
    /// `Some(why)` once the writer thread has died.
    writer_health: watch::Receiver<Option<String>>,
    /// The largest LWW timestamp stored when the store was opened.
    max_timestamp: Option<HlcTimestamp>,
    /// The incarnation the store was opened with (the writer may move on).
    opened_as: Incarnation,
    purge_horizon: Option<PurgeHorizon>,
    /// Whether the data dir already held a store (a restart, not a new or
    /// wiped node).
    reopened: bool,
}

/// The compactor's judgement of a tombstone, applied when one arrives.
///
/// Why it exists: replicas purge a tombstone at moments up to one scan
/// interval apart, and anti-entropy between one that purged and one that has
/// not yet copies the tombstone back, where it waits for the next scan while
/// it is copied on again. Tombstones then outlive `gc_grace` by as long as
/// that chase lasts (tens of seconds past grace in a one-minute test), so
/// when a key is truly gone is chance, not configuration. Cassandra had the
/// same chase and stopped it by leaving purgeable tombstones out of repair
/// (CASSANDRA-4905). Here a merge stores nothing for a tombstone the
/// compactor would purge at once, where this replica holds no record of the
/// key: the same outcome as storing it and purging it on the spot. Where
/// the replica holds a record, the tombstone merges as always (it may delete
/// an older value) and the next scan purges it.
#[derive(Clone)]
pub struct PurgeHorizon {
    /// The clock the compactor reads.
    pub clock: Arc<crate::clock::NodeClock>,
    /// `tombstones.gc_grace`.
    pub gc_grace: Duration,
}

impl PurgeHorizon {
    fn now(&self) -> (u64, u64) {
        (
            self.clock.wall_ms(),
            self.gc_grace.as_millis().try_into().unwrap_or(u64::MAX),
        )
    }
}

/// What [`Store::open`] needs to know about the node.
pub struct StoreOptions<'a> {
    pub dir: &'a Path,
    /// This node's id: the stem of its DVV actors.
    pub id: &'a crate::types::NodeId,
    pub mode: ConflictMode,
    pub fsync: FsyncPolicy,
    pub fsync_interval: Duration,
    /// `None`: every merged tombstone is stored, whatever its age.
    pub purge_horizon: Option<PurgeHorizon>,
}

impl Store {
    /// Opens (or creates) `dir/converge.redb`, checks it belongs to this
    /// conflict mode, decides this run's incarnation, initialises the gauges
    /// and starts the writer thread.
    pub fn open(
        options: StoreOptions<'_>,
        metrics: Arc<Metrics>,
        observer: Option<Arc<dyn ChangeObserver>>,
    ) -> Result<Store, StorageError> {
        let StoreOptions {
            dir,
            id,
            mode,
            fsync,
            fsync_interval,
            purge_horizon,
        } = options;
        std::fs::create_dir_all(dir)
            .map_err(|e| engine(format!("create {}: {e}", dir.display())))?;
        let db = Database::create(dir.join("converge.redb")).map_err(engine)?;
        let txn = db.begin_write().map_err(engine)?;
        let incarnation;
        let reopened;
        {
            txn.open_table(RECORDS).map_err(engine)?;
            txn.open_table(HINTS).map_err(engine)?;
            let mut meta = txn.open_table(META).map_err(engine)?;
            let stored = meta
                .get(META_CONFLICT_MODE)
                .map_err(engine)?
                .map(|g| g.value().to_owned());
            reopened = stored.is_some();
            match stored {
                Some(s) if s != mode.to_string() => {
                    return Err(StorageError::ModeMismatch {
                        stored: s,
                        configured: mode,
                    });
                }
                Some(_) => {}
                None => {
                    meta.insert(META_CONFLICT_MODE, mode.to_string().as_str())
                        .map_err(engine)?;
                }
            }
            let stored_epoch = meta
                .get(META_INCARNATION)
                .map_err(engine)?
                .map(|g| g.value().to_owned());
            let clean = meta
                .get(META_CLEAN_SHUTDOWN)
                .map_err(engine)?
                .is_some_and(|g| g.value() == "1");
            incarnation = match (
                rotation_reason(stored_epoch.as_deref(), clean, fsync),
                stored_epoch,
            ) {
                (None, Some(epoch)) => Incarnation::new(id, epoch),
                (reason, _) => {
                    let fresh = Incarnation::fresh(id);
                    tracing::info!(
                        actor = %fresh.actor(),
                        reason = reason.unwrap_or("no stored incarnation"),
                        "starting a new DVV incarnation"
                    );
                    meta.insert(META_INCARNATION, fresh.epoch())
                        .map_err(engine)?;
                    fresh
                }
            };
            // Durable (redb's default) before anything is served: a crash
            // from here on is an unclean shutdown.
            meta.insert(META_CLEAN_SHUTDOWN, "0").map_err(engine)?;
        }
        txn.commit().map_err(engine)?;
        // zoo: actor-reuse — one fixed actor per node id, whatever was
        // lost: a wiped node mints its old actor's dots from 1 again.
        #[cfg(feature = "zoo")]
        let incarnation = if crate::zoo::active(crate::zoo::Bug::ActorReuse) {
            Incarnation::new(id, "0".to_owned())
        } else {
            incarnation
        };
        let db = Arc::new(db);
        let (mut live, mut tombstones) = (0i64, 0i64);
        let mut max_timestamp: Option<HlcTimestamp> = None;
        scan_db(&db, |_, record| {
            match record.state() {
                RecordState::Live => live += 1,
                RecordState::Tombstone => tombstones += 1,
            }
            if let Record::Lww(r) = &record {
                max_timestamp = max_timestamp.max(Some(r.timestamp));
            }
        })?;
        metrics.keys_live.store(live, Ordering::Relaxed);
        metrics.tombstones_live.store(tombstones, Ordering::Relaxed);
        let (writes, writer_health) = writer::spawn(
            db.clone(),
            writer::Settings {
                fsync,
                fsync_interval,
                incarnation: incarnation.clone(),
            },
            metrics,
            observer,
        )?;
        Ok(Store {
            db,
            writes,
            mode,
            writer_health,
            max_timestamp,
            opened_as: incarnation,
            purge_horizon,
            reopened,
        })
    }

    /// Whether this data dir already held a store when it was opened: the
    /// node restarted, rather than starting new or wiped.
    pub fn reopened(&self) -> bool {
        self.reopened
    }

    /// The incarnation this run started with (logged; tombstone GC may move
    /// the writer on to a newer one).
    pub fn incarnation(&self) -> &Incarnation {
        &self.opened_as
    }

    /// The largest LWW timestamp stored when the store was opened: the node
    /// seeds its clock with it, so a node that ran skewed forward and
    /// restarted never stamps new writes below the ones it already holds.
    pub fn max_stored_timestamp(&self) -> Option<HlcTimestamp> {
        self.max_timestamp
    }

    /// Why the writer thread died, if it has.
    pub fn writer_failure(&self) -> Option<String> {
        self.writer_health.borrow().clone()
    }

    /// Resolves (with the reason) when the writer thread dies; never
    /// resolves while it runs or after a clean shutdown.
    pub async fn writer_failed(&self) -> String {
        let mut health = self.writer_health.clone();
        let failed = health
            .wait_for(Option::is_some)
            .await
            .map(|why| why.clone().unwrap_or_default());
        match failed {
            Ok(why) => why,
            Err(_) => std::future::pending().await,
        }
    }

    /// Records of the other conflict mode never reach the writer: merging one
    /// would keep the stored record (or store a record no mint can build on).
    fn check_mode(&self, record: &Record) -> Result<(), StorageError> {
        if record.mode() == self.mode {
            Ok(())
        } else {
            Err(StorageError::WrongRecordMode {
                record: record.mode(),
                store: self.mode,
            })
        }
    }

    /// The conflict mode of this store.
    pub fn mode(&self) -> ConflictMode {
        self.mode
    }

    /// The stored record of `key`, if any (tombstones included).
    pub fn read(&self, key: &Key) -> Result<Option<Record>, StorageError> {
        let txn = self.db.begin_read().map_err(engine)?;
        let table = txn.open_table(RECORDS).map_err(engine)?;
        let guard = table.get(key.as_str()).map_err(engine)?;
        guard
            .map(|g| {
                Record::from_bytes(g.value()).map_err(|e| StorageError::Corrupt {
                    key: key.as_str().to_owned(),
                    reason: e.to_string(),
                })
            })
            .transpose()
    }

    /// Calls `visit` for every stored record, in key order, from one
    /// consistent snapshot.
    pub fn scan(&self, visit: impl FnMut(Key, Record)) -> Result<(), StorageError> {
        scan_db(&self.db, visit)
    }

    /// Merges `record` into `key`'s stored version; returns the merged
    /// record once committed (durably, under `fsync = "always"`).
    pub async fn merge(&self, key: Key, record: Record) -> Result<Record, StorageError> {
        self.check_mode(&record)?;
        let (reply, rx) = oneshot::channel();
        self.submit(WriteOp::Merge {
            key,
            record,
            durable: true,
            purge: self.purge_horizon.as_ref().map(|h| h.now()),
            reply,
        })?;
        rx.await.map_err(|_| StorageError::WriterGone)?
    }

    /// [`Store::merge`] for anti-entropy sessions on a blocking thread (never
    /// call it from an async task: it parks the thread until the commit).
    /// The commit is not forced to disk even under `fsync = "always"`: a
    /// repair lost in a crash is simply found and redone by the next round.
    pub fn merge_blocking(&self, key: Key, record: Record) -> Result<Record, StorageError> {
        self.check_mode(&record)?;
        let (reply, rx) = oneshot::channel();
        self.submit(WriteOp::Merge {
            key,
            record,
            durable: false,
            purge: self.purge_horizon.as_ref().map(|h| h.now()),
            reply,
        })?;
        rx.blocking_recv().map_err(|_| StorageError::WriterGone)?
    }

    /// Mints a DVV write on this replica under its current incarnation (see
    /// [`crate::version::DvvRecord::mint`]).
    pub async fn mint(
        &self,
        key: Key,
        client_context: CausalContext,
        value: Option<String>,
        written_ms: u64,
    ) -> Result<(Record, CausalContext), StorageError> {
        let (reply, rx) = oneshot::channel();
        self.submit(WriteOp::Mint {
            key,
            client_context,
            value,
            written_ms,
            reply,
        })?;
        rx.await.map_err(|_| StorageError::WriterGone)?
    }

    /// Removes `key` if its record still equals `expected`; true if removed.
    pub async fn purge_if_unchanged(
        &self,
        key: Key,
        expected: Record,
    ) -> Result<bool, StorageError> {
        let (reply, rx) = oneshot::channel();
        self.submit(WriteOp::Purge {
            key,
            expected,
            reply,
        })?;
        rx.await.map_err(|_| StorageError::WriterGone)?
    }

    /// Stores one hint under `id` (see [`crate::hints`] for the layout).
    pub async fn put_hint(&self, id: Vec<u8>, hint: Vec<u8>) -> Result<(), StorageError> {
        let (reply, rx) = oneshot::channel();
        self.submit(WriteOp::PutHint { id, hint, reply })?;
        rx.await.map_err(|_| StorageError::WriterGone)?
    }

    /// Removes hints by id.
    pub async fn delete_hints(&self, ids: Vec<Vec<u8>>) -> Result<(), StorageError> {
        let (reply, rx) = oneshot::channel();
        self.submit(WriteOp::DeleteHints { ids, reply })?;
        rx.await.map_err(|_| StorageError::WriterGone)?
    }

    /// Up to `limit` hints whose id starts with `prefix`, in id order.
    pub fn hints_with_prefix(
        &self,
        prefix: &[u8],
        limit: usize,
    ) -> Result<Vec<StoredHintBytes>, StorageError> {
        let txn = self.db.begin_read().map_err(engine)?;
        let table = txn.open_table(HINTS).map_err(engine)?;
        let mut out = Vec::new();
        for entry in table.range(prefix..).map_err(engine)? {
            let (id, hint) = entry.map_err(engine)?;
            if !id.value().starts_with(prefix) || out.len() >= limit {
                break;
            }
            out.push((id.value().to_vec(), hint.value().to_vec()));
        }
        Ok(out)
    }

    /// Every hint id (startup backlog count).
    pub fn hint_ids(&self) -> Result<Vec<Vec<u8>>, StorageError> {
        let txn = self.db.begin_read().map_err(engine)?;
        let table = txn.open_table(HINTS).map_err(engine)?;
        let mut out = Vec::new();
        for entry in table.iter().map_err(engine)? {
            let (id, _) = entry.map_err(engine)?;
            out.push(id.value().to_vec());
        }
        Ok(out)
    }

    /// Makes every commit durable and stops the writer (clean shutdown).
    pub async fn shutdown(&self) -> Result<(), StorageError> {
        let (reply, rx) = oneshot::channel();
        self.submit(WriteOp::Shutdown { reply })?;
        rx.await.map_err(|_| StorageError::WriterGone)?
    }

    fn submit(&self, op: WriteOp) -> Result<(), StorageError> {
        self.writes.send(op).map_err(|_| StorageError::WriterGone)
    }
}

fn scan_db(db: &Database, mut visit: impl FnMut(Key, Record)) -> Result<(), StorageError> {
    let txn = db.begin_read().map_err(engine)?;
    let table = txn.open_table(RECORDS).map_err(engine)?;
    for entry in table.iter().map_err(engine)? {
        let (k, v) = entry.map_err(engine)?;
        let key = k.value().to_owned();
        let record = Record::from_bytes(v.value()).map_err(|e| StorageError::Corrupt {
            key: key.clone(),
            reason: e.to_string(),
        })?;
        visit(Key::from_stored(key), record);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::HlcTimestamp;
    use crate::types::NodeId;
    use crate::version::LwwRecord;

    static N1: std::sync::LazyLock<NodeId> = std::sync::LazyLock::new(|| NodeId::new("n1"));

    fn options(dir: &Path, mode: ConflictMode, fsync: FsyncPolicy) -> StoreOptions<'_> {
        StoreOptions {
            dir,
            id: &N1,
            mode,
            fsync,
            fsync_interval: Duration::from_millis(10),
            purge_horizon: None,
        }
    }

    fn lww(ts: u64, value: Option<&str>) -> Record {
        Record::Lww(LwwRecord {
            timestamp: HlcTimestamp {
                physical_us: ts,
                logical: 0,
            },
            coordinator: NodeId::new("n1"),
            value: value.map(str::to_owned),
        })
    }

    #[tokio::test]
    async fn a_tombstone_past_grace_is_not_stored_where_the_key_is_absent() {
        let dir = tempfile::tempdir().unwrap();
        let metrics = Arc::new(Metrics::new());
        let clock = Arc::new(crate::clock::NodeClock::new());
        let store = Store::open(
            StoreOptions {
                purge_horizon: Some(PurgeHorizon {
                    clock: clock.clone(),
                    gc_grace: Duration::from_secs(30),
                }),
                ..options(dir.path(), ConflictMode::Lww, FsyncPolicy::Always)
            },
            metrics.clone(),
            None,
        )
        .unwrap();
        let us_ago = |secs: u64| (clock.wall_ms() - secs * 1_000) * 1_000;
        let (absent, older, fresh) = (
            Key::parse("absent").unwrap(),
            Key::parse("older").unwrap(),
            Key::parse("fresh").unwrap(),
        );

        // Past grace, nothing stored: as if stored and purged at once.
        store
            .merge(absent.clone(), lww(us_ago(60), None))
            .await
            .unwrap();
        assert_eq!(store.read(&absent).unwrap(), None);
        assert_eq!(metrics.tombstones_purged.load(Ordering::Relaxed), 1);

        // Past grace over an older value: it still deletes the value.
        store
            .merge(older.clone(), lww(us_ago(90), Some("v")))
            .await
            .unwrap();
        store
            .merge(older.clone(), lww(us_ago(60), None))
            .await
            .unwrap();
        assert_eq!(
            store.read(&older).unwrap().map(|r| r.state()),
            Some(RecordState::Tombstone)
        );

        // Within grace: stored as always.
        store
            .merge(fresh.clone(), lww(us_ago(10), None))
            .await
            .unwrap();
        assert_eq!(
            store.read(&fresh).unwrap().map(|r| r.state()),
            Some(RecordState::Tombstone)
        );
        assert_eq!(metrics.tombstones_purged.load(Ordering::Relaxed), 1);
        assert_eq!(metrics.tombstones_live.load(Ordering::Relaxed), 2);
    }

    #[tokio::test]
    async fn merges_persist_across_reopen_and_gauges_follow() {
        let dir = tempfile::tempdir().unwrap();
        let metrics = Arc::new(Metrics::new());
        let open = |m: Arc<Metrics>| {
            Store::open(
                options(dir.path(), ConflictMode::Lww, FsyncPolicy::Always),
                m,
                None,
            )
        };
        let store = open(metrics.clone()).unwrap();
        let key = Key::parse("k").unwrap();
        store.merge(key.clone(), lww(2, Some("new"))).await.unwrap();
        let merged = store.merge(key.clone(), lww(1, Some("old"))).await.unwrap();
        assert_eq!(merged.values(), vec!["new".to_string()]);
        store
            .merge(Key::parse("gone").unwrap(), lww(3, None))
            .await
            .unwrap();
        assert_eq!(metrics.keys_live.load(Ordering::Relaxed), 1);
        assert_eq!(metrics.tombstones_live.load(Ordering::Relaxed), 1);
        store.shutdown().await.unwrap();
        drop(store);

        let metrics = Arc::new(Metrics::new());
        let store = open(metrics.clone()).unwrap();
        assert_eq!(
            store.read(&key).unwrap().unwrap().values(),
            vec!["new".to_string()]
        );
        assert_eq!(metrics.keys_live.load(Ordering::Relaxed), 1);
        assert_eq!(metrics.tombstones_live.load(Ordering::Relaxed), 1);
        assert!(
            store
                .purge_if_unchanged(Key::parse("gone").unwrap(), lww(3, None))
                .await
                .unwrap()
        );
        assert!(
            !store
                .purge_if_unchanged(key.clone(), lww(9, None))
                .await
                .unwrap()
        );
        assert_eq!(metrics.tombstones_live.load(Ordering::Relaxed), 0);
        store.shutdown().await.unwrap();
    }

    #[tokio::test]
    async fn refuses_a_data_dir_of_the_other_conflict_mode() {
        let dir = tempfile::tempdir().unwrap();
        let m = Arc::new(Metrics::new());
        let store = Store::open(
            options(dir.path(), ConflictMode::Lww, FsyncPolicy::Never),
            m.clone(),
            None,
        )
        .unwrap();
        store.shutdown().await.unwrap();
        drop(store);
        let err = Store::open(
            options(dir.path(), ConflictMode::Dvv, FsyncPolicy::Never),
            m,
            None,
        )
        .err();
        assert!(matches!(err, Some(StorageError::ModeMismatch { .. })));
    }

    fn dvv_store(
        dir: &Path,
        fsync: FsyncPolicy,
        observer: Option<Arc<dyn ChangeObserver>>,
    ) -> Store {
        Store::open(
            options(dir, ConflictMode::Dvv, fsync),
            Arc::new(Metrics::new()),
            observer,
        )
        .unwrap()
    }

    fn dots(record: &Record) -> Vec<crate::version::dvv::Dot> {
        match record {
            Record::Dvv(r) => r.siblings.keys().cloned().collect(),
            Record::Lww(_) => panic!("not a DVV record"),
        }
    }

    async fn blind_write(store: &Store, key: &str, value: Option<&str>) -> Record {
        let (record, _) = store
            .mint(
                Key::parse(key).unwrap(),
                CausalContext::new(),
                value.map(str::to_owned),
                1,
            )
            .await
            .unwrap();
        record
    }

    #[tokio::test]
    async fn a_wiped_data_dir_mints_as_a_new_actor_and_a_clean_restart_keeps_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = dvv_store(dir.path(), FsyncPolicy::Interval, None);
        let first = dots(&blind_write(&store, "k", Some("a")).await);
        store.shutdown().await.unwrap();
        drop(store);

        let store = dvv_store(dir.path(), FsyncPolicy::Interval, None);
        let second = dots(&blind_write(&store, "k2", Some("b")).await);
        assert_eq!(
            first[0].node, second[0].node,
            "a clean restart keeps the actor"
        );
        store.shutdown().await.unwrap();
        drop(store);

        std::fs::remove_dir_all(dir.path()).unwrap();
        let store = dvv_store(dir.path(), FsyncPolicy::Interval, None);
        let after_wipe = dots(&blind_write(&store, "k", Some("c")).await);
        assert_ne!(
            after_wipe[0], first[0],
            "the wiped node re-issued dot {:?}",
            first[0]
        );
        store.shutdown().await.unwrap();
    }

    #[tokio::test]
    async fn an_unclean_stop_without_fsync_always_starts_a_new_actor() {
        for (fsync, rotates) in [(FsyncPolicy::Interval, true), (FsyncPolicy::Always, false)] {
            let dir = tempfile::tempdir().unwrap();
            let store = dvv_store(dir.path(), fsync, None);
            let before = dots(&blind_write(&store, "k", Some("a")).await);
            // No shutdown: what kill -9 leaves (the writer thread just stops,
            // and closes the file once it notices the queue is gone).
            drop(store);
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            let store = loop {
                let opened = Store::open(
                    options(dir.path(), ConflictMode::Dvv, fsync),
                    Arc::new(Metrics::new()),
                    None,
                );
                match opened {
                    Ok(store) => break store,
                    Err(e) => assert!(std::time::Instant::now() < deadline, "reopen: {e}"),
                }
                std::thread::yield_now();
            };
            let after = dots(&blind_write(&store, "k2", Some("b")).await);
            assert_eq!(before[0].node != after[0].node, rotates, "{fsync:?}");
            store.shutdown().await.unwrap();
        }
    }

    #[tokio::test]
    async fn purging_a_tombstone_with_our_dots_never_lets_them_be_reissued() {
        let dir = tempfile::tempdir().unwrap();
        let store = dvv_store(dir.path(), FsyncPolicy::Never, None);
        let key = Key::parse("k").unwrap();
        let tombstone = blind_write(&store, "k", None).await;
        let purged_dots = dots(&tombstone);
        // Peers still hold the tombstone when this replica's GC purges it.
        assert!(
            store
                .purge_if_unchanged(key.clone(), tombstone.clone())
                .await
                .unwrap()
        );
        let rewritten = blind_write(&store, "k", Some("v")).await;
        assert!(!purged_dots.contains(&dots(&rewritten)[0]));
        let Record::Dvv(at_peer) = tombstone.merge(&rewritten) else {
            unreachable!()
        };
        assert_eq!(
            at_peer.values(),
            vec!["v".to_string()],
            "the peer dropped the write"
        );
        store.shutdown().await.unwrap();
    }

    #[tokio::test]
    async fn records_of_the_other_conflict_mode_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = dvv_store(dir.path(), FsyncPolicy::Never, None);
        let key = Key::parse("k").unwrap();
        let err = store.merge(key.clone(), lww(1, Some("v"))).await.err();
        assert!(
            matches!(err, Some(StorageError::WrongRecordMode { .. })),
            "{err:?}"
        );
        assert_eq!(store.read(&key).unwrap(), None);
        store.shutdown().await.unwrap();
    }

    /// Reads the store back from inside the change hook.
    struct ReadBack {
        store: std::sync::OnceLock<Store>,
        saw_uncommitted: std::sync::atomic::AtomicBool,
        calls: std::sync::atomic::AtomicUsize,
    }

    impl ChangeObserver for ReadBack {
        fn changed(&self, key: &Key, new: Option<&Record>) {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if let Some(store) = self.store.get()
                && store.read(key).ok().flatten().as_ref() != new
            {
                self.saw_uncommitted.store(true, Ordering::SeqCst);
            }
        }
    }

    #[tokio::test]
    async fn the_observer_hears_of_a_change_only_once_it_is_committed() {
        let dir = tempfile::tempdir().unwrap();
        let observer = Arc::new(ReadBack {
            store: std::sync::OnceLock::new(),
            saw_uncommitted: Default::default(),
            calls: Default::default(),
        });
        let store = Store::open(
            options(dir.path(), ConflictMode::Lww, FsyncPolicy::Never),
            Arc::new(Metrics::new()),
            Some(observer.clone()),
        )
        .unwrap();
        let _ = observer.store.set(store.clone());
        for i in 0..20 {
            store
                .merge(Key::parse(&format!("k{i}")).unwrap(), lww(i + 1, Some("v")))
                .await
                .unwrap();
        }
        assert_eq!(observer.calls.load(Ordering::SeqCst), 20);
        assert!(
            !observer.saw_uncommitted.load(Ordering::SeqCst),
            "the Merkle hook ran before the commit"
        );
        store.shutdown().await.unwrap();
    }

    struct Explodes;

    impl ChangeObserver for Explodes {
        fn changed(&self, _: &Key, _: Option<&Record>) {
            panic!("injected writer failure");
        }
    }

    #[tokio::test]
    async fn a_dead_writer_is_reported_and_later_writes_fail_fast() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(
            options(dir.path(), ConflictMode::Lww, FsyncPolicy::Never),
            Arc::new(Metrics::new()),
            Some(Arc::new(Explodes)),
        )
        .unwrap();
        assert_eq!(store.writer_failure(), None);
        let key = Key::parse("k").unwrap();
        assert!(store.merge(key.clone(), lww(1, Some("v"))).await.is_err());
        let why = tokio::time::timeout(Duration::from_secs(10), store.writer_failed())
            .await
            .expect("the writer's death is announced");
        assert!(why.contains("injected writer failure"), "{why}");
        assert!(store.writer_failure().is_some());
        assert!(matches!(
            store.merge(key, lww(2, Some("v"))).await,
            Err(StorageError::WriterGone)
        ));
    }
}
