//! Write-ahead-log checkpoints on a thread of their own.
//!
//! SQLite copies its write-ahead log back into the database file (a checkpoint) inside the
//! commit that grew the log past its limit, and syncs both files to disk as it does. On the
//! bridge's one connection that happens while the store's lock is held, so every query waits
//! behind one commit's checkpoint, disk syncs included. Here a second connection checkpoints
//! in the background every [`EVERY`] instead. The main connection still checkpoints by itself
//! once the log reaches [`BACKSTOP_PAGES`], should this thread ever fall behind.

use std::{
    path::Path,
    sync::mpsc::{self, RecvTimeoutError},
    thread::JoinHandle,
    time::Duration,
};

use super::StoreError;

/// How often the log is copied back.
const EVERY: Duration = Duration::from_millis(100);
/// The log size (in pages) at which the main connection checkpoints by itself.
pub(super) const BACKSTOP_PAGES: i64 = 10_000;
/// Passes per round: a pass copies what was in the log when it started, and writers may have
/// added more meanwhile. Only a log copied to its end is started over by the next writer.
const PASSES: usize = 4;

/// The background checkpointer of one SQLite file; stops when dropped.
#[derive(Debug)]
pub(super) struct Checkpointer {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Opens a connection of its own to `path` and starts checkpointing it.
    pub fn start(path: &Path) -> Result<Self, StoreError> {
        let connection = rusqlite::Connection::open(path)?;
        // The main connection's own checkpoint may hold the lock; this one then waits for the
        // next round instead of for it.
        connection.busy_timeout(Duration::ZERO)?;
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || run(connection, stopped))
            .map_err(StoreError::Thread)?;
        Ok(Self { stop: Some(stop), thread: Some(thread) })
    }

    /// Stops the thread and closes its connection (after a last round).
    pub fn stop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::warn!("the SQLite checkpoint thread panicked");
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(connection: rusqlite::Connection, stopped: mpsc::Receiver<()>) {
    let mut warned = false;
    loop {
        let stopping = match stopped.recv_timeout(EVERY) {
            Err(RecvTimeoutError::Timeout) => false,
            Ok(()) | Err(RecvTimeoutError::Disconnected) => true,
        };
        match checkpoint(&connection) {
            Ok(()) => warned = false,
            // Once per spell of failures: the backstop keeps the log bounded meanwhile.
            Err(error) if !warned => {
                warned = true;
                tracing::warn!(%error, "background checkpoint failed; SQLite's own takes over");
            }
            Err(_) => {}
        }
        if stopping {
            return;
        }
    }
}

/// Copies the log into the database until it is copied to its end, or [`PASSES`] passes.
fn checkpoint(connection: &rusqlite::Connection) -> Result<(), rusqlite::Error> {
    for _ in 0..PASSES {
        // (busy, pages in the log, pages copied back)
        let (busy, logged, copied): (i64, i64, i64) =
            connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })?;
        if busy != 0 || copied >= logged {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wal_pages(connection: &rusqlite::Connection) -> i64 {
        // A checkpoint of nothing: reports the log's size without copying.
        connection
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| row.get::<_, i64>(1))
            .unwrap()
    }

    #[test]
    fn the_log_is_copied_back_in_the_background() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let writer = rusqlite::Connection::open(&path).unwrap();
        writer.pragma_update(None, "journal_mode", "WAL").unwrap();
        writer.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        writer.execute_batch("CREATE TABLE t (x BLOB)").unwrap();
        let mut checkpointer = Checkpointer::start(&path).unwrap();
        for _ in 0..50 {
            writer.execute("INSERT INTO t VALUES (zeroblob(8000))", []).unwrap();
        }
        // Copied back within a few rounds: the next write starts the log over, so it stays
        // small although the writer never checkpoints.
        std::thread::sleep(EVERY * 5);
        writer.execute("INSERT INTO t VALUES (1)", []).unwrap();
        let pages = wal_pages(&writer);
        assert!(pages < 10, "the log still holds {pages} pages");
        checkpointer.stop();
        let rows: i64 = writer.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(rows, 51);
    }
}
