//! The parked-task registry: one waker per task that has parked (returned
//! `Pending`) and not finished yet.
//!
//! It exists for two reasons. At shutdown, a task parked on a future that will
//! never wake it still owns that future; waking every registered task lets the
//! (closed) schedule function drop each future exactly once. And cancelling from
//! a handle needs a way to wake the task so its next poll sees the flag.
//!
//! A task registers at its first `Pending`, not at spawn: one that finishes in
//! its first poll (most short tasks) never takes a lock here. Until it parks,
//! a task is always in a queue or being polled, where shutdown and cancel
//! reach it without a waker.
//!
//! Entries are spread over shards picked by the spawning thread, so spawners on
//! different threads do not contend. No lock is held while a waker runs or a
//! future drops: both would re-enter the registry.

use std::sync::atomic::{AtomicIsize, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::Waker;

/// Number of shards; a power of two above the thread counts we expect.
const SHARDS: usize = 16;

/// A task's place in the registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Slot {
    shard: u32,
    key: u32,
}

impl Slot {
    /// The slot of a task that is not registered.
    pub(crate) const NONE: Slot = Slot {
        shard: u32::MAX,
        key: u32::MAX,
    };

    /// The slot in 32 bits: 4 for the shard, 28 for the key (all ones:
    /// [`Slot::NONE`]).
    pub(crate) fn to_bits(self) -> u32 {
        if self == Slot::NONE {
            return u32::MAX;
        }
        (self.shard << KEY_BITS) | self.key
    }

    pub(crate) fn from_bits(bits: u32) -> Slot {
        if bits == u32::MAX {
            return Slot::NONE;
        }
        Slot {
            shard: bits >> KEY_BITS,
            key: bits & MAX_KEY,
        }
    }
}

/// Bits of a slot's key; the 4 others pick one of the [`SHARDS`].
const KEY_BITS: u32 = 28;
/// Largest key (the all-ones key of the last shard would read as `NONE`).
const MAX_KEY: u32 = (1 << KEY_BITS) - 1;
const _: () = assert!(SHARDS <= 1 << (32 - KEY_BITS));

/// A slot that is set once the task parks; 4 bytes, as every task has one.
pub(crate) struct SlotCell(AtomicU32);

impl Default for SlotCell {
    fn default() -> Self {
        SlotCell(AtomicU32::new(Slot::NONE.to_bits()))
    }
}

impl SlotCell {
    #[inline]
    pub(crate) fn get(&self) -> Slot {
        Slot::from_bits(self.0.load(Ordering::SeqCst))
    }

    pub(crate) fn set(&self, slot: Slot) {
        self.0.store(slot.to_bits(), Ordering::SeqCst);
    }
}

/// A count spread over cache lines, so threads that add and subtract do not
/// fight over one.
pub(crate) struct ShardedCount {
    shards: Box<[PaddedCount]>,
}

#[repr(align(128))]
#[derive(Default)]
struct PaddedCount(AtomicIsize);

impl ShardedCount {
    pub(crate) fn new() -> Self {
        ShardedCount {
            shards: (0..SHARDS).map(|_| PaddedCount::default()).collect(),
        }
    }

    #[inline]
    pub(crate) fn add(&self) {
        self.shards[home_shard()].0.fetch_add(1, Ordering::Relaxed);
    }

    #[inline]
    pub(crate) fn sub(&self) {
        self.shards[home_shard()].0.fetch_sub(1, Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> usize {
        let sum: isize = self
            .shards
            .iter()
            .map(|shard| shard.0.load(Ordering::Relaxed))
            .sum();
        sum.max(0) as usize
    }
}

/// Keeps a shard on its own cache lines.
#[repr(align(128))]
#[derive(Default)]
struct Shard(Mutex<ShardState>);

#[derive(Default)]
struct ShardState {
    tasks: Wakers,
    closed: bool,
}

/// Wakers in chunks of a fixed size, reached by key: a slab that grows a
/// chunk at a time rather than doubling one vector. Each parked task costs
/// its 16-byte entry and no more than a chunk of slack per shard (a doubled
/// vector left a third to a half of it empty on average), and growing never
/// copies the entries under the shard's lock.
#[derive(Default)]
struct Wakers {
    chunks: Vec<Box<[Entry]>>,
    /// Entries handed out so far (occupied or vacant): keys below it exist.
    used: usize,
    /// The first vacant entry below `used` (its `Vacant` holds the next
    /// one); `used` when none.
    free: usize,
}

/// Entries per chunk: 16 KiB of wakers.
const CHUNK: usize = 1024;

enum Entry {
    /// Free; holds the next free key.
    Vacant(usize),
    Occupied(Waker),
}

impl Wakers {
    fn entry(&mut self, key: usize) -> Option<&mut Entry> {
        if key >= self.used {
            return None;
        }
        Some(&mut self.chunks[key / CHUNK][key % CHUNK])
    }

    fn insert(&mut self, waker: Waker) -> usize {
        let key = self.free;
        if key < self.used {
            let entry = &mut self.chunks[key / CHUNK][key % CHUNK];
            let Entry::Vacant(next) = *entry else {
                unreachable!("the free list holds vacant entries only")
            };
            self.free = next;
            *entry = Entry::Occupied(waker);
        } else {
            if key == self.chunks.len() * CHUNK {
                self.chunks
                    .push((0..CHUNK).map(|_| Entry::Vacant(usize::MAX)).collect());
            }
            self.chunks[key / CHUNK][key % CHUNK] = Entry::Occupied(waker);
            self.used += 1;
            self.free = self.used;
        }
        key
    }

    fn try_remove(&mut self, key: usize) -> Option<Waker> {
        let free = self.free;
        let entry = self.entry(key)?;
        if !matches!(entry, Entry::Occupied(_)) {
            return None;
        }
        let Entry::Occupied(waker) = std::mem::replace(entry, Entry::Vacant(free)) else {
            unreachable!("checked above")
        };
        self.free = key;
        Some(waker)
    }

    fn get(&mut self, key: usize) -> Option<&Waker> {
        match self.entry(key)? {
            Entry::Occupied(waker) => Some(waker),
            Entry::Vacant(_) => None,
        }
    }

    /// Every waker, leaving the slab empty.
    fn drain(&mut self) -> impl Iterator<Item = Waker> + use<> {
        let chunks = std::mem::take(&mut self.chunks);
        *self = Wakers::default();
        chunks
            .into_iter()
            .flat_map(|chunk| chunk.into_vec())
            .filter_map(|entry| match entry {
                Entry::Occupied(waker) => Some(waker),
                Entry::Vacant(_) => None,
            })
    }
}

impl Shard {
    fn lock(&self) -> MutexGuard<'_, ShardState> {
        // A panic never happens while a shard is locked (we only touch the slab),
        // but if one did the slab is still consistent.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The registry of parked tasks.
pub(crate) struct ParkedTasks {
    shards: Box<[Shard]>,
}

thread_local! {
    /// The shard this thread registers into, chosen round-robin on first use.
    static HOME_SHARD: usize = {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS
    };
}

/// The shard of this thread.
#[inline]
fn home_shard() -> usize {
    HOME_SHARD.with(|s| *s)
}

impl ParkedTasks {
    pub(crate) fn new() -> Self {
        ParkedTasks {
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
        }
    }

    /// Registers a parking task's waker. `None` when the registry is closed.
    pub(crate) fn register(&self, waker: Waker) -> Option<Slot> {
        let shard = home_shard();
        let mut state = self.shards[shard].lock();
        if state.closed {
            return None;
        }
        let key = state.tasks.insert(waker);
        // Keys below `MAX_KEY` only, so no slot reads as `NONE`.
        assert!(
            key < MAX_KEY as usize,
            "bevy_coro: more than 268 million parked tasks in one registry shard"
        );
        Some(Slot {
            shard: shard as u32,
            key: key as u32,
        })
    }

    /// Removes a finished task (nothing to do for one that never parked,
    /// most short tasks: inlined into the task's end).
    #[inline]
    pub(crate) fn remove(&self, slot: Slot) {
        if slot != Slot::NONE {
            self.remove_registered(slot);
        }
    }

    fn remove_registered(&self, slot: Slot) {
        let removed = self.shards[slot.shard as usize]
            .lock()
            .tasks
            .try_remove(slot.key as usize);
        // Dropped after the lock is released: dropping a waker may free a task.
        drop(removed);
    }

    /// Wakes a registered task (for cancellation). A finished task is not woken;
    /// a reused slot gets a spurious wake, which every future must tolerate.
    pub(crate) fn wake(&self, slot: Slot) {
        if slot == Slot::NONE {
            return;
        }
        let waker = self.shards[slot.shard as usize]
            .lock()
            .tasks
            .get(slot.key as usize)
            .cloned();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Closes the registry and takes every waker out of it. Later tasks are
    /// not registered. The caller wakes the returned wakers with no lock held.
    pub(crate) fn close(&self) -> Vec<Waker> {
        let mut all = Vec::new();
        for shard in self.shards.iter() {
            let mut state = shard.lock();
            state.closed = true;
            let taken = state.tasks.drain();
            drop(state);
            all.extend(taken);
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_wakers_reuse_keys_and_drain() {
        let mut wakers = Wakers::default();
        let keys: Vec<usize> = (0..CHUNK + 10)
            .map(|_| wakers.insert(Waker::noop().clone()))
            .collect();
        assert_eq!(keys, (0..CHUNK + 10).collect::<Vec<_>>());
        assert_eq!(wakers.chunks.len(), 2);
        assert!(wakers.try_remove(5).is_some());
        assert!(wakers.try_remove(5).is_none());
        assert!(wakers.get(5).is_none());
        assert!(wakers.try_remove(CHUNK + 3).is_some());
        assert!(wakers.get(CHUNK + 10).is_none());
        assert!(wakers.try_remove(usize::MAX).is_none());
        // Freed keys are reused, last freed first.
        assert_eq!(wakers.insert(Waker::noop().clone()), CHUNK + 3);
        assert_eq!(wakers.insert(Waker::noop().clone()), 5);
        assert_eq!(wakers.insert(Waker::noop().clone()), CHUNK + 10);
        assert!(wakers.get(7).is_some());
        assert_eq!(wakers.drain().count(), CHUNK + 11);
        assert!(wakers.get(0).is_none());
        assert_eq!(wakers.insert(Waker::noop().clone()), 0);
    }
}
