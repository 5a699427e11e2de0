//! The live-task registry: one waker per task that has not finished yet.
//!
//! It exists for two reasons. At shutdown, a task parked on a future that will
//! never wake it still owns that future; waking every registered task lets the
//! (closed) schedule function drop each future exactly once. And cancelling from
//! a handle needs a way to wake the task so its next poll sees the flag.
//!
//! Entries are spread over shards picked by the spawning thread, so spawners on
//! different threads do not contend. No lock is held while a waker runs or a
//! future drops: both would re-enter the registry.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::Waker;

use slab::Slab;

/// Number of shards; a power of two above the thread counts we expect.
const SHARDS: usize = 16;

/// A task's place in the registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Slot {
    shard: u32,
    key: u32,
}

impl Slot {
    /// The slot of a task that was never registered (spawned after shutdown).
    pub(crate) const NONE: Slot = Slot {
        shard: u32::MAX,
        key: u32::MAX,
    };
}

/// Keeps a shard on its own cache lines.
#[repr(align(128))]
#[derive(Default)]
struct Shard(Mutex<ShardState>);

#[derive(Default)]
struct ShardState {
    tasks: Slab<Waker>,
    closed: bool,
}

impl Shard {
    fn lock(&self) -> MutexGuard<'_, ShardState> {
        // A panic never happens while a shard is locked (we only touch the slab),
        // but if one did the slab is still consistent.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The registry of live tasks.
pub(crate) struct Registry {
    shards: Box<[Shard]>,
    live: AtomicUsize,
}

thread_local! {
    /// The shard this thread registers into, chosen round-robin on first use.
    static HOME_SHARD: usize = {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS
    };
}

impl Registry {
    pub(crate) fn new() -> Self {
        Registry {
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
            live: AtomicUsize::new(0),
        }
    }

    /// Registers the task that `spawn` creates. `spawn` gets the task's slot, or
    /// [`Slot::NONE`] when the registry is closed, and returns the task's waker
    /// (`None` when it was handed `Slot::NONE`) with whatever else it builds.
    pub(crate) fn register<R>(&self, spawn: impl FnOnce(Slot) -> (Option<Waker>, R)) -> R {
        let shard = HOME_SHARD.with(|s| *s);
        let mut state = self.shards[shard].lock();
        if state.closed {
            drop(state);
            return spawn(Slot::NONE).1;
        }
        let entry = state.tasks.vacant_entry();
        let slot = Slot {
            shard: shard as u32,
            key: u32::try_from(entry.key()).expect("more than 4 billion live tasks in one shard"),
        };
        let (waker, out) = spawn(slot);
        entry.insert(waker.expect("a registered task has a waker"));
        // Counted under the lock, so `close` never subtracts it first.
        self.live.fetch_add(1, Ordering::Relaxed);
        drop(state);
        out
    }

    /// Removes a finished task. Returns whether it was still registered.
    pub(crate) fn remove(&self, slot: Slot) -> bool {
        if slot == Slot::NONE {
            return false;
        }
        let removed = self.shards[slot.shard as usize]
            .lock()
            .tasks
            .try_remove(slot.key as usize);
        // Dropped after the lock is released: dropping a waker may free a task.
        let was_live = removed.is_some();
        drop(removed);
        if was_live {
            self.live.fetch_sub(1, Ordering::Relaxed);
        }
        was_live
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

    /// Number of registered tasks.
    pub(crate) fn live(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    /// Closes the registry and takes every waker out of it. Later spawns are not
    /// registered. The caller wakes the returned wakers with no lock held.
    pub(crate) fn close(&self) -> Vec<Waker> {
        let mut all = Vec::new();
        for shard in self.shards.iter() {
            let mut state = shard.lock();
            state.closed = true;
            let taken = std::mem::take(&mut state.tasks);
            drop(state);
            self.live.fetch_sub(taken.len(), Ordering::Relaxed);
            all.extend(taken.into_iter().map(|(_, waker)| waker));
        }
        all
    }
}
