//! Day files: each compacted day lives in its own immutable file, `DATA_DIR/blocks/<day>.day`,
//! holding the day's groups (see `group.rs`) back to back and an index of them. A day file is
//! written once under a temporary name, synced and renamed into place; compaction and deletion
//! replace it whole (rename over the old one), retention deletes it. So the space a day held
//! returns to the filesystem the moment it goes, which a single database file never does.
//!
//! Layout (integers little-endian): the magic `OSPRYDAY`, a version byte, the day start
//! (`i64`); the groups; the index (group count varint, then per group the difference of its
//! first series id from the previous group's (varint), its byte length (varint) and the xxh3
//! hash of its bytes (`u64`)); the footer: index offset (`u64`), index length (`u32`), xxh3 of
//! the index (`u64`), the oldest and newest timestamp the file may hold (`i64` each: bounds,
//! no sample lies outside them), the magic again.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use xxhash_rust::xxh3::xxh3_64;

use super::block::{get_varint, put_varint};
use super::group;
use super::interface::Sample;
use super::options::StorageError;
use super::schema::GROUP_ID_SPAN;

/// The folder of day files inside the data directory.
pub const BLOCKS_DIR: &str = "blocks";

const MAGIC: &[u8; 8] = b"OSPRYDAY";
const VERSION: u8 = 1;
const HEADER_BYTES: u64 = 8 + 1 + 8;
const FOOTER_BYTES: u64 = 8 + 4 + 8 + 8 + 8 + 8;
const EXTENSION: &str = "day";
const PARTIAL_EXTENSION: &str = "day.partial";

/// Where one group sits in its file.
#[derive(Debug, Clone, Copy)]
struct GroupEntry {
    first_id: u64,
    offset: u64,
    len: u32,
    hash: u64,
}

/// Bounds of the timestamps a file (or a group written into it) holds: no sample lies outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// At most the oldest timestamp.
    pub min_t: i64,
    /// At least the newest timestamp.
    pub max_t: i64,
}

impl Span {
    /// The span of time-ordered samples; `None` when there are none.
    pub fn of(samples: &[Sample]) -> Option<Span> {
        Some(Span {
            min_t: samples.first()?.t,
            max_t: samples.last()?.t,
        })
    }

    /// The smallest span holding both.
    pub fn union(self, other: Span) -> Span {
        Span {
            min_t: self.min_t.min(other.min_t),
            max_t: self.max_t.max(other.max_t),
        }
    }
}

/// An open day file: its index in memory, its groups read on demand.
#[derive(Debug)]
pub struct DayFile {
    day: i64,
    span: Span,
    path: PathBuf,
    file: File,
    groups: Vec<GroupEntry>,
    bytes: u64,
}

/// The path of the file holding `day` in the blocks folder `dir`.
pub fn day_path(dir: &Path, day: i64) -> PathBuf {
    dir.join(format!("{day}.{EXTENSION}"))
}

impl DayFile {
    /// Opens and checks the day file at `path` (its header, footer and index).
    pub fn open(path: &Path) -> Result<DayFile, StorageError> {
        let file = File::open(path).map_err(|e| io_error("opening", path, e))?;
        let bytes = file
            .metadata()
            .map_err(|e| io_error("reading the size of", path, e))?
            .len();
        let corrupt = |detail: &str| corrupt(path, detail);
        if bytes < HEADER_BYTES + FOOTER_BYTES {
            return Err(corrupt("shorter than its header and footer"));
        }
        let mut header = [0u8; HEADER_BYTES as usize];
        read_at(&file, path, &mut header, 0)?;
        if &header[..8] != MAGIC || header[8] != VERSION {
            return Err(corrupt("not a day file of this version"));
        }
        let day = i64::from_le_bytes(header[9..17].try_into().unwrap_or_default());
        let mut footer = [0u8; FOOTER_BYTES as usize];
        read_at(&file, path, &mut footer, bytes - FOOTER_BYTES)?;
        let number = |range: Range<usize>| {
            let mut le = [0u8; 8];
            le[..range.len()].copy_from_slice(&footer[range]);
            u64::from_le_bytes(le)
        };
        let (index_at, index_len, index_hash) = (number(0..8), number(8..12), number(12..20));
        let span = Span {
            min_t: number(20..28) as i64,
            max_t: number(28..36) as i64,
        };
        if &footer[36..] != MAGIC || index_at.saturating_add(index_len) != bytes - FOOTER_BYTES {
            return Err(corrupt("bad footer (an interrupted write?)"));
        }
        let mut index = vec![0u8; index_len as usize];
        read_at(&file, path, &mut index, index_at)?;
        if xxh3_64(&index) != index_hash {
            return Err(corrupt("index checksum mismatch"));
        }
        let groups = decode_index(&index, index_at).ok_or_else(|| corrupt("bad index"))?;
        Ok(DayFile {
            day,
            span,
            path: path.to_owned(),
            file,
            groups,
            bytes,
        })
    }

    /// The start of the day this file holds.
    pub fn day(&self) -> i64 {
        self.day
    }

    /// Bounds of the timestamps the file holds.
    pub fn span(&self) -> Span {
        self.span
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's size in bytes.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Positions of the groups whose first series id is in `ids`.
    pub fn groups_in(&self, ids: Range<u64>) -> Range<usize> {
        let from = self.groups.partition_point(|g| g.first_id < ids.start);
        let to = self.groups.partition_point(|g| g.first_id < ids.end);
        from..to
    }

    /// The group that may hold series `id`: the last one starting at or before it within its
    /// aligned run of ids (groups never straddle runs).
    fn group_of(&self, id: u64) -> Option<usize> {
        let at = self
            .groups
            .partition_point(|g| g.first_id <= id)
            .checked_sub(1)?;
        (self.groups[at].first_id >= id - id % GROUP_ID_SPAN).then_some(at)
    }

    /// The first series id of group number `at`.
    pub fn first_id(&self, at: usize) -> u64 {
        self.groups[at].first_id
    }

    /// The bytes of group number `at`, checked against the hash the index keeps.
    pub fn read_group(&self, at: usize) -> Result<Vec<u8>, StorageError> {
        let entry = self.groups[at];
        let mut bytes = vec![0u8; entry.len as usize];
        read_at(&self.file, &self.path, &mut bytes, entry.offset)?;
        if xxh3_64(&bytes) != entry.hash {
            return Err(corrupt(
                &self.path,
                &format!("group at byte {}: checksum mismatch", entry.offset),
            ));
        }
        Ok(bytes)
    }
}

/// Reads series from one day file, keeping the last group read: callers asking for series in
/// ascending id order read each group once.
pub struct DayReader<'a> {
    file: &'a DayFile,
    cached: Option<(usize, Vec<u8>)>,
}

impl<'a> DayReader<'a> {
    /// A reader of `file` with nothing cached.
    pub fn new(file: &'a DayFile) -> Self {
        DayReader { file, cached: None }
    }

    /// The samples series `id` holds in this day, if any.
    pub fn find(&mut self, id: u64) -> Result<Option<Vec<Sample>>, StorageError> {
        let Some(at) = self.file.group_of(id) else {
            return Ok(None);
        };
        if self.cached.as_ref().is_none_or(|(cached, _)| *cached != at) {
            self.cached = Some((at, self.file.read_group(at)?));
        }
        let (_, bytes) = self.cached.as_ref().expect("just filled");
        group::find(bytes, id).map_err(|e| corrupt(&self.file.path, &e.to_string()))
    }
}

/// Writes a new day file group by group (ascending first ids), then swaps it in.
pub struct DayWriter {
    day: i64,
    path: PathBuf,
    partial: PathBuf,
    out: BufWriter<File>,
    groups: Vec<GroupEntry>,
    offset: u64,
    span: Option<Span>,
}

impl DayWriter {
    /// Starts the file for `day` in the blocks folder `dir` under a temporary name.
    pub fn create(dir: &Path, day: i64) -> Result<DayWriter, StorageError> {
        std::fs::create_dir_all(dir).map_err(|e| io_error("creating", dir, e))?;
        let path = day_path(dir, day);
        let partial = path.with_extension(PARTIAL_EXTENSION);
        let file = File::create(&partial).map_err(|e| io_error("creating", &partial, e))?;
        let mut writer = DayWriter {
            day,
            path,
            partial,
            out: BufWriter::with_capacity(1 << 20, file),
            groups: Vec::new(),
            offset: 0,
            span: None,
        };
        let mut header = Vec::with_capacity(HEADER_BYTES as usize);
        header.extend_from_slice(MAGIC);
        header.push(VERSION);
        header.extend_from_slice(&day.to_le_bytes());
        writer.write(&header)?;
        Ok(writer)
    }

    /// The day being written.
    pub fn day(&self) -> i64 {
        self.day
    }

    /// Appends a group whose first member is `first_id` and whose samples lie in `span`.
    pub fn push(&mut self, first_id: u64, group: &[u8], span: Span) -> Result<(), StorageError> {
        self.span = Some(self.span.map_or(span, |s| s.union(span)));
        let len = u32::try_from(group.len())
            .map_err(|_| corrupt(&self.partial, &format!("a group of {} bytes", group.len())))?;
        self.groups.push(GroupEntry {
            first_id,
            offset: self.offset,
            len,
            hash: xxh3_64(group),
        });
        self.write(group)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), StorageError> {
        self.out
            .write_all(bytes)
            .map_err(|e| io_error("writing", &self.partial, e))?;
        self.offset += bytes.len() as u64;
        Ok(())
    }

    /// Drops the file being written, leaving the day's old file as it was.
    pub fn abandon(self) -> Result<(), StorageError> {
        drop(self.out);
        remove_if_present(&self.partial)
    }

    /// Writes the index, syncs the file and renames it over the day's old file (or, when no
    /// group was pushed, removes both). Returns the new file, open.
    pub fn finish(mut self) -> Result<Option<DayFile>, StorageError> {
        if self.groups.is_empty() {
            drop(self.out);
            remove_if_present(&self.partial)?;
            remove_if_present(&self.path)?;
            sync_dir(&self.path)?;
            return Ok(None);
        }
        let index_at = self.offset;
        let index = encode_index(&self.groups);
        let span = self.span.unwrap_or(Span {
            min_t: self.day,
            max_t: self.day,
        });
        let mut footer = Vec::with_capacity(FOOTER_BYTES as usize);
        footer.extend_from_slice(&index_at.to_le_bytes());
        footer.extend_from_slice(&(index.len() as u32).to_le_bytes());
        footer.extend_from_slice(&xxh3_64(&index).to_le_bytes());
        footer.extend_from_slice(&span.min_t.to_le_bytes());
        footer.extend_from_slice(&span.max_t.to_le_bytes());
        footer.extend_from_slice(MAGIC);
        self.write(&index)?;
        self.write(&footer)?;
        let file = self
            .out
            .into_inner()
            .map_err(|e| io_error("writing", &self.partial, e.into_error()))?;
        file.sync_all()
            .map_err(|e| io_error("syncing", &self.partial, e))?;
        drop(file);
        std::fs::rename(&self.partial, &self.path)
            .map_err(|e| io_error("renaming", &self.partial, e))?;
        sync_dir(&self.path)?;
        let opened = DayFile::open(&self.path)?;
        debug_assert_eq!(opened.day, self.day);
        Ok(Some(opened))
    }
}

/// Opens every day file in the blocks folder `dir` (missing: none), removing what interrupted
/// writes left behind; a file that fails its checks is renamed aside (`.corrupt`) and reported,
/// so one bad day never keeps the store from opening.
pub fn open_all(dir: &Path) -> Result<Vec<DayFile>, StorageError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_error("listing", dir, e)),
    };
    let mut days = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| io_error("listing", dir, e))?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.ends_with(&format!(".{PARTIAL_EXTENSION}")) {
            remove_if_present(&path)?;
            continue;
        }
        if path.extension().and_then(|e| e.to_str()) != Some(EXTENSION) {
            continue;
        }
        match DayFile::open(&path) {
            Ok(day) => days.push(day),
            Err(StorageError::Corrupt { detail, .. }) => {
                let aside = path.with_extension("day.corrupt");
                std::fs::rename(&path, &aside).map_err(|e| io_error("renaming", &path, e))?;
                tracing::error!(
                    file = %aside.display(),
                    "a day file failed its checks and was set aside; its samples are not \
                     served: {detail}"
                );
            }
            Err(e) => return Err(e),
        }
    }
    days.sort_by_key(|d| d.day);
    Ok(days)
}

/// Deletes the file of a day retention dropped.
pub fn remove(file: &DayFile) -> Result<(), StorageError> {
    remove_if_present(&file.path)
}

fn encode_index(groups: &[GroupEntry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(groups.len() * 14 + 4);
    put_varint(&mut out, groups.len() as u64);
    let mut previous = 0;
    for g in groups {
        put_varint(&mut out, g.first_id - previous);
        put_varint(&mut out, u64::from(g.len));
        out.extend_from_slice(&g.hash.to_le_bytes());
        previous = g.first_id;
    }
    out
}

fn decode_index(mut bytes: &[u8], end: u64) -> Option<Vec<GroupEntry>> {
    let input = &mut bytes;
    let count = get_varint(input).ok()?;
    let mut groups = Vec::with_capacity(count.min(1 << 20) as usize);
    let (mut first_id, mut offset) = (0u64, HEADER_BYTES);
    for _ in 0..count {
        first_id = first_id.checked_add(get_varint(input).ok()?)?;
        let len = u32::try_from(get_varint(input).ok()?).ok()?;
        let hash = u64::from_le_bytes(input.get(..8)?.try_into().ok()?);
        *input = &input[8..];
        groups.push(GroupEntry {
            first_id,
            offset,
            len,
            hash,
        });
        offset = offset.checked_add(u64::from(len))?;
    }
    (offset == end && input.is_empty()).then_some(groups)
}

fn read_at(file: &File, path: &Path, buf: &mut [u8], at: u64) -> Result<(), StorageError> {
    file.read_exact_at(buf, at)
        .map_err(|e| io_error("reading", path, e))
}

fn remove_if_present(path: &Path) -> Result<(), StorageError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_error("removing", path, e)),
        _ => Ok(()),
    }
}

/// Makes a rename or removal in the folder holding `path` durable.
fn sync_dir(path: &Path) -> Result<(), StorageError> {
    sync_folder(path.parent().unwrap_or(Path::new(".")))
}

/// Makes the entries of folder `dir` (files created, renamed or removed in it) durable.
pub fn sync_folder(dir: &Path) -> Result<(), StorageError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error("syncing", dir, e))
}

fn io_error(action: &str, path: &Path, source: std::io::Error) -> StorageError {
    StorageError::Io {
        context: format!("{action} {}", path.display()),
        source,
    }
}

fn corrupt(path: &Path, detail: &str) -> StorageError {
    StorageError::Corrupt {
        table: "blocks",
        detail: format!("{}: {detail}", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(id: u64) -> Vec<Sample> {
        (0..50)
            .map(|i| Sample {
                t: i * 15_000 + id as i64,
                v: (i * id as i64) as f64,
            })
            .collect()
    }

    fn write_day(dir: &Path, ids: &[u64]) -> DayFile {
        let mut writer = DayWriter::create(dir, 86_400_000).unwrap();
        let span = Span {
            min_t: 0,
            max_t: 50 * 15_000 + 9_999,
        };
        // Groups never straddle an aligned run of ids: each run is built on its own.
        for run in ids.chunk_by(|a, b| a / GROUP_ID_SPAN == b / GROUP_ID_SPAN) {
            let series = run.iter().map(|&id| (id, samples(id))).collect();
            for (first, bytes) in group::build(series) {
                writer.push(first, &bytes, span).unwrap();
            }
        }
        writer.finish().unwrap().unwrap()
    }

    #[test]
    fn written_days_reopen_and_find_their_series() {
        let dir = tempfile::tempdir().unwrap();
        let ids: Vec<u64> = (0..3000).chain(5000..5010).collect();
        let written = write_day(dir.path(), &ids);
        assert!(written.groups.len() > 1, "the test wants several groups");
        let reopened = open_all(dir.path()).unwrap();
        assert_eq!(reopened.len(), 1);
        assert_eq!(reopened[0].day(), 86_400_000);
        assert_eq!(reopened[0].span(), written.span());
        let mut reader = DayReader::new(&reopened[0]);
        for id in [0, 1, 2999, 5000, 5009] {
            assert_eq!(reader.find(id).unwrap(), Some(samples(id)), "series {id}");
        }
        for id in [3000, 4999, 5010, 9000] {
            assert_eq!(reader.find(id).unwrap(), None, "series {id}");
        }
    }

    #[test]
    fn an_empty_rewrite_removes_the_day() {
        let dir = tempfile::tempdir().unwrap();
        let written = write_day(dir.path(), &[1, 2]);
        let empty = DayWriter::create(dir.path(), written.day()).unwrap();
        assert!(empty.finish().unwrap().is_none());
        assert!(!written.path().exists());
    }

    #[test]
    fn damaged_files_are_set_aside_and_leftovers_removed() {
        let dir = tempfile::tempdir().unwrap();
        let written = write_day(dir.path(), &[1, 2, 3]);
        let mut bytes = std::fs::read(written.path()).unwrap();
        let last = bytes.len() - 30;
        bytes[last] ^= 0xff;
        std::fs::write(written.path(), &bytes).unwrap();
        std::fs::write(dir.path().join("5.day.partial"), b"half").unwrap();
        assert!(open_all(dir.path()).unwrap().is_empty());
        assert!(dir.path().join("86400000.day.corrupt").exists());
        assert!(!dir.path().join("5.day.partial").exists());
    }

    #[test]
    fn a_flipped_byte_in_a_group_is_reported_not_decoded() {
        let dir = tempfile::tempdir().unwrap();
        let written = write_day(dir.path(), &[7]);
        let mut bytes = std::fs::read(written.path()).unwrap();
        bytes[HEADER_BYTES as usize + 3] ^= 0x01;
        std::fs::write(written.path(), &bytes).unwrap();
        let reopened = DayFile::open(written.path()).unwrap();
        let error = DayReader::new(&reopened).find(7).unwrap_err();
        assert!(error.to_string().contains("checksum"), "{error}");
    }
}
