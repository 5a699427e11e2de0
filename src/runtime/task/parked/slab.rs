//! The slab a registry shard keeps its parked tasks in.

use std::mem::ManuallyDrop;
use std::ptr::NonNull;
use std::task::Waker;

use crate::runtime::task::raw::TaskRef;

/// Parked tasks in chunks of a fixed size, reached by key: a slab that
/// grows a chunk at a time rather than doubling one vector. Each parked task
/// costs its one-word entry and no more than a chunk of slack per shard (a
/// doubled vector left a third to a half of it empty on average), and
/// growing never copies the entries under the shard's lock.
#[derive(Default)]
pub(super) struct Wakers {
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
    pub(super) fn wake(self) {
        match self {
            Parked::Task(task) => task.wake_by_ref(),
            Parked::Waker(waker) => waker.wake(),
        }
    }

    pub(super) fn into_waker(self) -> Waker {
        match self {
            Parked::Task(task) => task.into_waker(),
            Parked::Waker(waker) => *waker,
        }
    }
}

/// One word, told apart by its two low bits (a task and a boxed waker are
/// aligned to a pointer, at least 4): `00` a [`TaskRef`]'s pointer, `10` a
/// boxed waker's, `01` vacant, the next free key above them.
pub(super) struct Entry(usize);

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
    pub(super) fn get(&self) -> Option<Parked> {
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
    pub(super) fn entry(&mut self, key: usize) -> Option<&mut Entry> {
        if key >= self.used {
            return None;
        }
        Some(&mut self.chunks[key / CHUNK][key % CHUNK])
    }

    pub(super) fn insert(&mut self, parked: Parked) -> usize {
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

    pub(super) fn try_remove(&mut self, key: usize) -> Option<Parked> {
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
    pub(super) fn drain(&mut self) -> impl Iterator<Item = Parked> + use<> {
        let chunks = std::mem::take(&mut self.chunks);
        self.used = 0;
        self.free = 0;
        chunks
            .into_iter()
            .flat_map(|chunk| chunk.into_vec())
            .filter_map(|mut entry| entry.take(0))
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
