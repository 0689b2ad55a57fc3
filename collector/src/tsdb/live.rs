//! The ids of the live series as a bit set readable without the head's lock, so that an
//! appender can tell a cached handle of a deleted series from a live one without looking the
//! series up for every sample.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

/// Ids one segment covers: series ids are handed out in sequence, so segments fill up in turn.
const SEGMENT_IDS: u64 = 1 << 18;
const SEGMENT_WORDS: usize = (SEGMENT_IDS / 64) as usize;

/// A segment's bits; a segment is never moved or freed while the set lives, so a snapshot of
/// the segment list sees every later insert and removal within it.
type Segment = Arc<[AtomicU64]>;

/// Which series ids are live. Changed only under the head's lock; read from anywhere.
#[derive(Default)]
pub struct LiveIds {
    segments: RwLock<Vec<Segment>>,
}

/// Where an id's bit is: segment, word in the segment, bit in the word.
fn position(id: u64) -> (usize, usize, u64) {
    let segment = (id / SEGMENT_IDS) as usize;
    let word = ((id % SEGMENT_IDS) / 64) as usize;
    (segment, word, 1 << (id % 64))
}

impl LiveIds {
    /// Marks `id` live, adding segments up to its own if needed.
    pub fn insert(&self, id: u64) {
        let (segment, word, bit) = position(id);
        if let Some(words) = self
            .segments
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(segment)
        {
            words[word].fetch_or(bit, Ordering::Release);
            return;
        }
        let mut segments = self
            .segments
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        while segments.len() <= segment {
            segments.push((0..SEGMENT_WORDS).map(|_| AtomicU64::new(0)).collect());
        }
        segments[segment][word].fetch_or(bit, Ordering::Release);
    }

    /// Marks `id` gone.
    pub fn remove(&self, id: u64) {
        let (segment, word, bit) = position(id);
        let segments = self.segments.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(words) = segments.get(segment) {
            words[word].fetch_and(!bit, Ordering::Release);
        }
    }

    /// A view for one appender: it sees removals as they happen, and ids up to the segments
    /// that exist now.
    pub fn snapshot(&self) -> LiveSnapshot {
        LiveSnapshot(
            self.segments
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        )
    }
}

impl std::fmt::Debug for LiveIds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let segments = self.segments.read().map_or(0, |s| s.len());
        f.debug_struct("LiveIds")
            .field("segments", &segments)
            .finish()
    }
}

/// The segments of a [`LiveIds`] at one moment.
pub struct LiveSnapshot(Vec<Segment>);

impl LiveSnapshot {
    /// Whether `id` is live; `None` if its segment came after the snapshot was taken.
    pub fn contains(&self, id: u64) -> Option<bool> {
        let (segment, word, bit) = position(id);
        let words = self.0.get(segment)?;
        Some(words[word].load(Ordering::Acquire) & bit != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_see_removals_but_not_segments_added_after_them() {
        let live = LiveIds::default();
        live.insert(3);
        live.insert(SEGMENT_IDS - 1);
        let before = live.snapshot();
        assert_eq!(before.contains(3), Some(true));
        assert_eq!(before.contains(4), Some(false));
        assert_eq!(before.contains(SEGMENT_IDS - 1), Some(true));
        live.remove(3);
        live.insert(SEGMENT_IDS + 5);
        assert_eq!(before.contains(3), Some(false));
        assert_eq!(before.contains(SEGMENT_IDS + 5), None);
        let after = live.snapshot();
        assert_eq!(after.contains(SEGMENT_IDS + 5), Some(true));
        assert_eq!(after.contains(SEGMENT_IDS + 6), Some(false));
        live.remove(10 * SEGMENT_IDS);
        assert_eq!(live.snapshot().contains(10 * SEGMENT_IDS), None);
    }
}
