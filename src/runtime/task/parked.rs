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

use std::mem::ManuallyDrop;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicIsize, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::Waker;

use super::raw::TaskRef;

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

/// Parked tasks in chunks of a fixed size, reached by key: a slab that
/// grows a chunk at a time rather than doubling one vector. Each parked task
/// costs its one-word entry and no more than a chunk of slack per shard (a
/// doubled vector left a third to a half of it empty on average), and
/// growing never copies the entries under the shard's lock.
#[derive(Default)]
struct Wakers {
    chunks: Vec<Box<[Entry]>>,
    /// Entries handed out so far (occupied or vacant): keys below it exist.
    used: usize,
    /// The first vacant entry below `used` (its entry holds the next one);
    /// `used` when none.
    free: usize,
}

/// Entries per chunk: 8 KiB.
const CHUNK: usize = 1024;

/// What the registry wakes: a parked task, or another waker (an actor's
/// scope, see `actor/scope.rs`), boxed to fit the entry's word.
pub(crate) enum Parked {
    Task(TaskRef),
    Waker(Box<Waker>),
}

impl Parked {
    fn wake(self) {
        match self {
            Parked::Task(task) => task.wake_by_ref(),
            Parked::Waker(waker) => waker.wake(),
        }
    }

    fn into_waker(self) -> Waker {
        match self {
            Parked::Task(task) => task.into_waker(),
            Parked::Waker(waker) => *waker,
        }
    }
}

/// One word, told apart by its two low bits (a task and a boxed waker are
/// aligned to a pointer, at least 4): `00` a [`TaskRef`]'s pointer, `10` a
/// boxed waker's, `01` vacant, the next free key above them.
struct Entry(usize);

const _: () = assert!(std::mem::align_of::<Waker>() >= 4 && std::mem::align_of::<usize>() >= 4);

const VACANT: usize = 0b01;
const BOXED: usize = 0b10;
const TAGS: usize = 0b11;

impl Entry {
    fn vacant(next: usize) -> Entry {
        Entry((next << 2) | VACANT)
    }

    fn occupied(parked: Parked) -> Entry {
        let word = match parked {
            Parked::Task(task) => task.into_raw().as_ptr() as usize,
            Parked::Waker(waker) => Box::into_raw(waker) as usize | BOXED,
        };
        Entry(word)
    }

    /// The next free key, if vacant.
    fn next_free(&self) -> Option<usize> {
        (self.0 & TAGS == VACANT).then_some(self.0 >> 2)
    }

    /// What it holds, if occupied, leaving `next` as the next free key.
    fn take(&mut self, next: usize) -> Option<Parked> {
        let word = self.0;
        let parked = match word & TAGS {
            0 => {
                // SAFETY: made by `occupied` from `TaskRef::into_raw` (not
                // null), taken back once: the entry is vacant from here on.
                Parked::Task(unsafe { TaskRef::from_raw(NonNull::new_unchecked(word as *mut ())) })
            }
            // SAFETY: made by `occupied` from `Box::into_raw`, taken back once.
            BOXED => Parked::Waker(unsafe { Box::from_raw((word & !TAGS) as *mut Waker) }),
            _ => return None,
        };
        *self = Entry::vacant(next);
        Some(parked)
    }

    /// Another reference on what it holds, if occupied.
    fn get(&self) -> Option<Parked> {
        let word = self.0;
        match word & TAGS {
            0 => {
                // SAFETY: an occupied entry owns a `TaskRef`, which we
                // borrow to clone (and forget, so the entry keeps its own).
                let task = ManuallyDrop::new(unsafe {
                    TaskRef::from_raw(NonNull::new_unchecked(word as *mut ()))
                });
                Some(Parked::Task((*task).clone()))
            }
            BOXED => {
                // SAFETY: an occupied entry owns its box, alive until taken.
                let waker = unsafe { &*((word & !TAGS) as *const Waker) };
                Some(Parked::Waker(Box::new(waker.clone())))
            }
            _ => None,
        }
    }
}

impl Drop for Wakers {
    fn drop(&mut self) {
        // The entries' references (a registry dropped without being closed).
        self.drain().for_each(drop);
    }
}

impl Wakers {
    fn entry(&mut self, key: usize) -> Option<&mut Entry> {
        if key >= self.used {
            return None;
        }
        Some(&mut self.chunks[key / CHUNK][key % CHUNK])
    }

    fn insert(&mut self, parked: Parked) -> usize {
        let key = self.free;
        if key < self.used {
            let entry = &mut self.chunks[key / CHUNK][key % CHUNK];
            self.free = entry
                .next_free()
                .expect("the free list holds vacant entries only");
            *entry = Entry::occupied(parked);
        } else {
            if key == self.chunks.len() * CHUNK {
                self.chunks
                    .push((0..CHUNK).map(|_| Entry::vacant(usize::MAX >> 2)).collect());
            }
            self.chunks[key / CHUNK][key % CHUNK] = Entry::occupied(parked);
            self.used += 1;
            self.free = self.used;
        }
        key
    }

    fn try_remove(&mut self, key: usize) -> Option<Parked> {
        let free = self.free;
        let task = self.entry(key)?.take(free)?;
        self.free = key;
        Some(task)
    }

    /// Whether `key` holds a task.
    #[cfg(test)]
    fn contains(&mut self, key: usize) -> bool {
        self.entry(key)
            .is_some_and(|entry| entry.next_free().is_none())
    }

    /// Every task, leaving the slab empty.
    fn drain(&mut self) -> impl Iterator<Item = Parked> + use<> {
        let chunks = std::mem::take(&mut self.chunks);
        self.used = 0;
        self.free = 0;
        chunks
            .into_iter()
            .flat_map(|chunk| chunk.into_vec())
            .filter_map(|mut entry| entry.take(0))
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

    /// Registers a parking task (or another waker, boxed). `None` when the
    /// registry is closed.
    pub(crate) fn register(&self, parked: Parked) -> Option<Slot> {
        let shard = home_shard();
        let mut state = self.shards[shard].lock();
        if state.closed {
            return None;
        }
        let key = state.tasks.insert(parked);
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
        let task = self.shards[slot.shard as usize]
            .lock()
            .tasks
            .entry(slot.key as usize)
            .and_then(|entry| entry.get());
        // Woken, and its reference dropped, with no lock held: either may
        // drop the task, which deregisters it.
        if let Some(parked) = task {
            parked.wake();
        }
    }

    /// Closes the registry and takes every task out of it, as wakers. Later
    /// tasks are not registered. The caller wakes the returned wakers with no
    /// lock held.
    pub(crate) fn close(&self) -> Vec<Waker> {
        let mut all = Vec::new();
        for shard in self.shards.iter() {
            let mut state = shard.lock();
            state.closed = true;
            let taken = state.tasks.drain();
            drop(state);
            all.extend(taken.map(Parked::into_waker));
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_entries_reuse_keys_and_drain() {
        use crate::runtime::task::raw::closed_task_ref;
        let mut wakers = Wakers::default();
        let keys: Vec<usize> = (0..CHUNK + 10)
            .map(|_| wakers.insert(Parked::Task(closed_task_ref())))
            .collect();
        assert_eq!(keys, (0..CHUNK + 10).collect::<Vec<_>>());
        assert_eq!(wakers.chunks.len(), 2);
        assert!(wakers.try_remove(5).is_some());
        assert!(wakers.try_remove(5).is_none());
        assert!(!wakers.contains(5));
        assert!(wakers.try_remove(CHUNK + 3).is_some());
        assert!(!wakers.contains(CHUNK + 10));
        assert!(wakers.try_remove(usize::MAX).is_none());
        // Freed keys are reused, last freed first.
        assert_eq!(wakers.insert(Parked::Task(closed_task_ref())), CHUNK + 3);
        assert_eq!(wakers.insert(Parked::Task(closed_task_ref())), 5);
        assert_eq!(wakers.insert(Parked::Task(closed_task_ref())), CHUNK + 10);
        assert!(wakers.contains(7));
        // A boxed waker shares the slab.
        let boxed = wakers.insert(Parked::Waker(Box::new(Waker::noop().clone())));
        assert!(matches!(wakers.try_remove(boxed), Some(Parked::Waker(_))));
        assert!(matches!(wakers.try_remove(7), Some(Parked::Task(_))));
        assert_eq!(wakers.drain().count(), CHUNK + 10);
        assert!(!wakers.contains(0));
        assert_eq!(wakers.insert(Parked::Task(closed_task_ref())), 0);
    }

    #[test]
    fn an_entry_is_one_word() {
        assert_eq!(std::mem::size_of::<Entry>(), 8);
    }
}
