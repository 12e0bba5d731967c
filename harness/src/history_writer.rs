//! The history as it happens: `history.jsonl`, append-only, flushed at least
//! every second (docs/history.md).
//!
//! Clients and the nemesis record through one [`HistoryWriter`]; it stamps
//! each event's `index` under a lock, so file order and index order agree.
//! Flushing on a timer rather than per event keeps the writer off the ops'
//! critical path while bounding what a killed harness can lose to one second.

use checkers::history::{Event, write_line};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often buffered events reach the file.
pub const FLUSH_EVERY: Duration = Duration::from_millis(500);

/// Why the history could not be made durable.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// An earlier buffered write failed (kept, and shared by every later
    /// flush, since an I/O error cannot be cloned).
    #[error("writing the history failed: {0}")]
    Write(#[source] Arc<std::io::Error>),
    #[error("flushing the history failed: {0}")]
    Flush(#[source] std::io::Error),
}

/// Appends events to `history.jsonl`.
pub struct HistoryWriter {
    /// Time zero of the test: every event's `time` is measured from here.
    start: Instant,
    /// A std Mutex: held for one buffered write, never across an await.
    inner: Mutex<Inner>,
}

struct Inner {
    out: BufWriter<File>,
    next_index: u64,
    /// The first write error; later writes are skipped and the run reports it.
    error: Option<Arc<std::io::Error>>,
}

impl HistoryWriter {
    pub fn create(path: &Path, start: Instant) -> std::io::Result<Arc<HistoryWriter>> {
        let file = File::create(path)?;
        Ok(Arc::new(HistoryWriter {
            start,
            inner: Mutex::new(Inner {
                out: BufWriter::new(file),
                next_index: 0,
                error: None,
            }),
        }))
    }

    /// Nanoseconds since the test started, on the monotonic clock.
    pub fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic mid-write can at worst tear one line, which readers skip.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends `event` with the next index, which it returns.
    pub fn record(&self, mut event: Event) -> u64 {
        let mut inner = self.inner();
        let index = inner.next_index;
        event.index = index;
        inner.next_index += 1;
        if inner.error.is_none()
            && let Err(e) = write_line(&mut inner.out, &event)
        {
            inner.error = Some(Arc::new(e));
        }
        index
    }

    /// Events recorded so far.
    pub fn len(&self) -> u64 {
        self.inner().next_index
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Pushes buffered events to the file (and the file to disk).
    pub fn flush(&self) -> Result<(), HistoryError> {
        let mut inner = self.inner();
        if let Some(e) = &inner.error {
            return Err(HistoryError::Write(Arc::clone(e)));
        }
        let result = inner
            .out
            .flush()
            .and_then(|()| inner.out.get_ref().sync_data());
        result.map_err(HistoryError::Flush)
    }

    /// Flushes every [`FLUSH_EVERY`] until the returned task is aborted.
    pub fn spawn_flusher(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let me = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(FLUSH_EVERY);
            loop {
                tick.tick().await;
                let _ = me.flush();
            }
        })
    }
}

impl Drop for HistoryWriter {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use checkers::history::{EventType, Function, Process, read_history};

    fn event(f: Function) -> Event {
        Event {
            index: 99,
            process: Process::Client(0),
            kind: EventType::Invoke,
            f,
            time: 1,
            key: Some("k".into()),
            value: None,
            values: None,
            observed: None,
            node: None,
            error: None,
            fault: None,
            detail: None,
        }
    }

    #[test]
    fn indices_are_assigned_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        let w = HistoryWriter::create(&path, Instant::now()).unwrap();
        assert_eq!(w.record(event(Function::Read)), 0);
        assert_eq!(w.record(event(Function::Write)), 1);
        w.flush().unwrap();
        let got = read_history(std::io::BufReader::new(File::open(&path).unwrap())).unwrap();
        assert_eq!(got.iter().map(|e| e.index).collect::<Vec<_>>(), [0, 1]);
    }

    #[tokio::test]
    async fn the_flusher_makes_events_readable_without_an_explicit_flush() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        let w = HistoryWriter::create(&path, Instant::now()).unwrap();
        let flusher = w.spawn_flusher();
        w.record(event(Function::Read));
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let text = std::fs::read_to_string(&path).unwrap();
            if text.lines().count() == 1 {
                break;
            }
            assert!(Instant::now() < deadline, "history never flushed");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        flusher.abort();
    }
}
