//! Online backup: copies the store's tables, the alerting stages' key-value tables included,
//! from one read snapshot into a new database file that opens as a store of its own (its
//! write-ahead records replay like after a restart).

use std::path::Path;

use redb::{Database, Key, ReadableDatabase, ReadableTable, TableDefinition, Value};

use super::keyvalue;
use super::options::{StorageError, db_err};
use super::schema::{BLOCKS, CHUNKS, META, METADATA, PERSISTED, SERIES, STATE, WAL};
use super::storage::Storage;

/// What a backup wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupReport {
    /// Entries copied across all tables.
    pub entries: u64,
    /// Size of the backup file in bytes.
    pub bytes: u64,
}

impl Storage {
    /// Writes a consistent copy of the store to `dest` (a new file, not overwritten if it
    /// exists) while appends and queries go on. Samples appended up to the call are included.
    pub fn backup(&self, dest: impl AsRef<Path>) -> Result<BackupReport, StorageError> {
        let dest = dest.as_ref();
        if dest.exists() {
            return Err(io_error(
                dest,
                std::io::Error::new(std::io::ErrorKind::AlreadyExists, "refusing to overwrite"),
            ));
        }
        self.sync()?;
        let partial = dest.with_extension("partial");
        let _ = std::fs::remove_file(&partial);
        let mut target = Database::create(&partial).map_err(db_err)?;
        // The read snapshot pins pages until it ends: keep backups to the copying itself.
        let snapshot = self.shared.db.begin_read().map_err(db_err)?;
        let mut entries = 0;
        entries += copy(&snapshot, &target, META)?;
        entries += copy(&snapshot, &target, SERIES)?;
        entries += copy(&snapshot, &target, PERSISTED)?;
        entries += copy(&snapshot, &target, CHUNKS)?;
        entries += copy(&snapshot, &target, BLOCKS)?;
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
        std::fs::rename(&partial, dest).map_err(|e| io_error(dest, e))?;
        let bytes = std::fs::metadata(dest)
            .map_err(|e| io_error(dest, e))?
            .len();
        Ok(BackupReport { entries, bytes })
    }
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
