//! Online backup: a new data directory holding the store's tables, the alerting stages'
//! key-value tables included, copied from one read snapshot into a new database file, and the
//! day files of that moment; it opens as a store of its own (its write-ahead records replay
//! like after a restart).

use std::fs::File;
use std::path::{Path, PathBuf};

use redb::{Database, Key, ReadableDatabase, ReadableTable, TableDefinition, Value};

use super::dayfile::{BLOCKS_DIR, sync_folder};
use super::keyvalue;
use super::options::{StorageError, db_err};
use super::schema::{CHUNKS, META, METADATA, PERSISTED, SERIES_BATCHES, STATE, WAL};
use super::storage::{DB_FILE, Storage};

/// What a backup wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupReport {
    /// Entries copied across all tables, and day files.
    pub entries: u64,
    /// Size of the backup in bytes.
    pub bytes: u64,
}

impl Storage {
    /// Writes a consistent copy of the store into `dest`, a new directory (an existing one is
    /// not touched) that is a data directory of its own: the database file's tables copied
    /// from one read snapshot, and the day files of that moment, hard-linked when `dest` is on
    /// the same filesystem (they never change in place) and copied otherwise. Appends and
    /// queries go on meanwhile; samples appended up to the call are included.
    pub fn backup(&self, dest: impl AsRef<Path>) -> Result<BackupReport, StorageError> {
        let dest = dest.as_ref();
        if dest.exists() {
            return Err(io_error(
                dest,
                std::io::Error::new(std::io::ErrorKind::AlreadyExists, "refusing to overwrite"),
            ));
        }
        self.sync()?;
        let mut partial = dest.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let _ = std::fs::remove_dir_all(&partial);
        let blocks = partial.join(BLOCKS_DIR);
        std::fs::create_dir_all(&blocks).map_err(|e| io_error(&blocks, e))?;
        let mut entries = 0;
        let mut day_bytes = 0;
        let snapshot = {
            // The day files change only under this lock: the ones listed stay as they are
            // until linked.
            let _maintenance = self.shared.maintenance();
            let (snapshot, days) = {
                let head = self.shared.head();
                let snapshot = self.shared.db.begin_read().map_err(db_err)?;
                (snapshot, head.days.values().cloned().collect::<Vec<_>>())
            };
            for day in &days {
                link_or_copy(day.path(), &blocks)?;
                entries += 1;
                day_bytes += day.bytes();
            }
            snapshot
        };
        let mut target = Database::create(partial.join(DB_FILE)).map_err(db_err)?;
        // The read snapshot pins pages until it ends: keep backups to the copying itself.
        entries += copy(&snapshot, &target, META)?;
        entries += copy(&snapshot, &target, SERIES_BATCHES)?;
        entries += copy(&snapshot, &target, PERSISTED)?;
        entries += copy(&snapshot, &target, CHUNKS)?;
        entries += copy(&snapshot, &target, WAL)?;
        entries += copy(&snapshot, &target, METADATA)?;
        entries += copy(&snapshot, &target, STATE)?;
        for table in keyvalue::TEXT_TABLES {
            entries += copy(&snapshot, &target, table.definition())?;
        }
        for table in keyvalue::NUMBER_TABLES {
            entries += copy(&snapshot, &target, table.definition())?;
        }
        drop(snapshot);
        // Nobody else has the new file open: give back the space its growth reserved.
        target.compact().map_err(db_err)?;
        drop(target);
        let file_bytes = std::fs::metadata(partial.join(DB_FILE))
            .map_err(|e| io_error(&partial, e))?
            .len();
        sync_folder(&blocks)?;
        sync_folder(&partial)?;
        std::fs::rename(&partial, dest).map_err(|e| io_error(dest, e))?;
        Ok(BackupReport {
            entries,
            bytes: file_bytes + day_bytes,
        })
    }
}

/// Hard-links the day file at `path` into `dir`, or copies it when a link cannot be made
/// (another filesystem).
fn link_or_copy(path: &Path, dir: &Path) -> Result<(), StorageError> {
    let to = dir.join(path.file_name().unwrap_or_default());
    if std::fs::hard_link(path, &to).is_err() {
        std::fs::copy(path, &to).map_err(|e| io_error(&to, e))?;
        File::open(&to)
            .and_then(|f| f.sync_all())
            .map_err(|e| io_error(&to, e))?;
    }
    Ok(())
}

/// Copies one table in a single durable transaction of the (unshared) target.
fn copy<K: Key + 'static, V: Value + 'static>(
    snapshot: &redb::ReadTransaction,
    target: &Database,
    table: TableDefinition<K, V>,
) -> Result<u64, StorageError> {
    let source = snapshot.open_table(table).map_err(db_err)?;
    let txn = target.begin_write().map_err(db_err)?;
    let mut n = 0;
    {
        let mut out = txn.open_table(table).map_err(db_err)?;
        for entry in source.iter().map_err(db_err)? {
            let (key, value) = entry.map_err(db_err)?;
            out.insert(key.value(), value.value()).map_err(db_err)?;
            n += 1;
        }
    }
    txn.commit().map_err(db_err)?;
    Ok(n)
}

fn io_error(path: &Path, source: std::io::Error) -> StorageError {
    StorageError::Io {
        context: format!("backup to {}", path.display()),
        source,
    }
}
