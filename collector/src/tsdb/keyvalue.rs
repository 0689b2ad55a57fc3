//! Small tables the alerting stages keep in the store next to the samples (alert state,
//! silences, the notification queue and log, alert history), reached through
//! [`KeyValueStore`] only, so that their writes pass the samples' free-space guard and writer
//! lock and the online backup copies them.

use std::borrow::Borrow;
use std::sync::{Arc, MutexGuard};

use redb::{
    Database, Durability, ReadTransaction, ReadableDatabase, ReadableTable, ReadableTableMetadata,
    TableDefinition, WriteTransaction,
};

use super::flush::{check_free_space, durable_txn};
use super::options::{StorageError, db_err};
use super::storage::Shared;

/// A key type of these tables: ascending numbers (`u64`) or text (`&str`).
pub trait TableKey: redb::Key + 'static {
    /// The key as reads hand it out.
    type Owned;
    /// Copies a key out of the database's buffer.
    fn to_owned_key(key: Self::SelfType<'_>) -> Self::Owned;
}

impl TableKey for u64 {
    type Owned = u64;

    fn to_owned_key(key: u64) -> u64 {
        key
    }
}

impl TableKey for &'static str {
    type Owned = String;

    fn to_owned_key(key: &str) -> String {
        key.to_owned()
    }
}

/// A key and its value, as reads hand them out.
pub type Entry<K> = (<K as TableKey>::Owned, Vec<u8>);

/// A named table of byte values (JSON, as the owning module writes them) under keys `K`.
pub struct Table<K: TableKey>(TableDefinition<'static, K, &'static [u8]>);

impl<K: TableKey> Clone for Table<K> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K: TableKey> Copy for Table<K> {}

impl<K: TableKey> Table<K> {
    /// The table as redb knows it, for the backup.
    pub(super) fn definition(self) -> TableDefinition<'static, K, &'static [u8]> {
        self.0
    }
}

/// Each alerting rule's active alerts: rule key (`file\0group\0rule`) -> JSON array of alerts.
pub const ALERT_STATE: Table<&str> = Table(TableDefinition::new("alert_state"));
/// Silences: id -> JSON silence.
pub const SILENCES: Table<&str> = Table(TableDefinition::new("silences"));
/// What each receiver was last told: `group key \0 receiver \0 integration` -> JSON entry.
pub const NOTIFICATION_LOG: Table<&str> = Table(TableDefinition::new("notification_log"));
/// Notifications waiting for delivery: id (ascending = order of creation) -> JSON delivery.
pub const NOTIFICATION_QUEUE: Table<u64> = Table(TableDefinition::new("notification_queue"));
/// Alert firings: record id (ascending = order of firing) -> JSON record.
pub const ALERT_HISTORY: Table<u64> = Table(TableDefinition::new("alert_history"));

/// The text-keyed tables, for creating them and for the backup.
pub(super) const TEXT_TABLES: [Table<&str>; 3] = [ALERT_STATE, SILENCES, NOTIFICATION_LOG];
/// The number-keyed tables, for creating them and for the backup.
pub(super) const NUMBER_TABLES: [Table<u64>; 2] = [NOTIFICATION_QUEUE, ALERT_HISTORY];

/// Creates the tables that do not exist yet, so that reads find every one of them.
pub(super) fn create_tables(db: &Database) -> Result<(), StorageError> {
    let txn = durable_txn(db)?;
    for table in TEXT_TABLES {
        txn.open_table(table.0).map_err(db_err)?;
    }
    for table in NUMBER_TABLES {
        txn.open_table(table.0).map_err(db_err)?;
    }
    txn.commit().map_err(db_err)
}

/// When a write transaction's changes reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commit {
    /// When `commit` returns.
    Durable,
    /// With the next durable commit of the store, whoever makes it: for records that a durable
    /// write follows right after, keeping an fsync off the alerting path.
    Lazy,
}

/// The tables of [`Table`] in the store; cheap to clone. Keep transactions short: a write
/// holds the store's writer lock, which the samples' durability tick waits for.
#[derive(Clone)]
pub struct KeyValueStore {
    shared: Arc<Shared>,
}

impl KeyValueStore {
    pub(super) fn new(shared: Arc<Shared>) -> KeyValueStore {
        KeyValueStore { shared }
    }

    /// A consistent snapshot of every table.
    pub fn read(&self) -> Result<ReadTxn, StorageError> {
        Ok(ReadTxn(self.shared.db.begin_read().map_err(db_err)?))
    }

    /// A write transaction; refused while the filesystem is nearly full, as appends are.
    pub fn write(&self, commit: Commit) -> Result<WriteTxn<'_>, StorageError> {
        let writer = self.shared.writer();
        check_free_space(&self.shared)?;
        let mut txn = durable_txn(&self.shared.db)?;
        if commit == Commit::Lazy {
            txn.set_durability(Durability::None).map_err(db_err)?;
        }
        Ok(WriteTxn {
            txn,
            _writer: writer,
        })
    }
}

impl std::fmt::Debug for KeyValueStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyValueStore")
            .field("path", &self.shared.path)
            .finish()
    }
}

/// A read snapshot of the tables.
pub struct ReadTxn(ReadTransaction);

impl ReadTxn {
    /// The value under `key`, if any.
    pub fn get<'k, K: TableKey>(
        &self,
        table: Table<K>,
        key: impl Borrow<K::SelfType<'k>>,
    ) -> Result<Option<Vec<u8>>, StorageError> {
        let table = self.0.open_table(table.0).map_err(db_err)?;
        Ok(table.get(key).map_err(db_err)?.map(|v| v.value().to_vec()))
    }

    /// The greatest key, if the table holds any.
    pub fn last_key<K: TableKey>(&self, table: Table<K>) -> Result<Option<K::Owned>, StorageError> {
        let table = self.0.open_table(table.0).map_err(db_err)?;
        Ok(table
            .last()
            .map_err(db_err)?
            .map(|(key, _)| K::to_owned_key(key.value())))
    }

    /// How many entries the table holds.
    pub fn len<K: TableKey>(&self, table: Table<K>) -> Result<u64, StorageError> {
        let table = self.0.open_table(table.0).map_err(db_err)?;
        table.len().map_err(db_err)
    }

    /// Every entry in key order.
    pub fn entries<K: TableKey>(&self, table: Table<K>) -> Result<Vec<Entry<K>>, StorageError> {
        let table = self.0.open_table(table.0).map_err(db_err)?;
        let mut out = Vec::new();
        for entry in table.iter().map_err(db_err)? {
            let (key, value) = entry.map_err(db_err)?;
            out.push((K::to_owned_key(key.value()), value.value().to_vec()));
        }
        Ok(out)
    }
}

/// A write transaction on the tables; dropped without [`WriteTxn::commit`], it changes nothing.
pub struct WriteTxn<'a> {
    // Declared before the lock, so it ends before the lock is released.
    txn: WriteTransaction,
    _writer: MutexGuard<'a, ()>,
}

impl WriteTxn<'_> {
    /// Stores `value` under `key`, replacing what was there.
    pub fn put<'k, K: TableKey>(
        &mut self,
        table: Table<K>,
        key: impl Borrow<K::SelfType<'k>>,
        value: &[u8],
    ) -> Result<(), StorageError> {
        let mut table = self.txn.open_table(table.0).map_err(db_err)?;
        table.insert(key, value).map_err(db_err)?;
        Ok(())
    }

    /// Removes `key` if present.
    pub fn delete<'k, K: TableKey>(
        &mut self,
        table: Table<K>,
        key: impl Borrow<K::SelfType<'k>>,
    ) -> Result<(), StorageError> {
        let mut table = self.txn.open_table(table.0).map_err(db_err)?;
        table.remove(key).map_err(db_err)?;
        Ok(())
    }

    /// Keeps only the entries whose value `keep` accepts.
    pub fn retain<K: TableKey>(
        &mut self,
        table: Table<K>,
        mut keep: impl FnMut(&[u8]) -> bool,
    ) -> Result<(), StorageError> {
        let mut table = self.txn.open_table(table.0).map_err(db_err)?;
        table.retain(|_, value| keep(value)).map_err(db_err)
    }

    /// Commits the changes.
    pub fn commit(self) -> Result<(), StorageError> {
        let WriteTxn { txn, _writer } = self;
        txn.commit().map_err(db_err)
    }
}
