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

mod count;
mod slab;

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::Waker;

pub(crate) use count::ShardedCount;
pub(crate) use slab::Parked;
use slab::Wakers;

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

/// Keeps a shard on its own cache lines.
#[repr(align(128))]
#[derive(Default)]
struct Shard(Mutex<ShardState>);

#[derive(Default)]
struct ShardState {
    tasks: Wakers,
    closed: bool,
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
