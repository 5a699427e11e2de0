//! The wheel's timer entries: a vector and a list of the free ones, threaded
//! through their `next` links.
//!
//! What `slab` does, less its per-entry enum: a free entry keeps its fields
//! and is only marked, so filing a timer writes one entry and firing one
//! reads it, with no tag to match (19 of a timer's 445 instructions in the
//! `timers` bench).

use std::ops::{Index, IndexMut};

use super::{Entry, NIL};

/// `Entry::level` of a free entry.
const FREE: u8 = u8::MAX;

pub(super) struct Entries<T> {
    entries: Vec<Entry<T>>,
    /// The first free entry (`NIL`: none), the rest linked by `next`.
    free: u32,
    /// Entries in use.
    len: usize,
}

impl<T: Copy> Entries<T> {
    pub(super) const fn new() -> Self {
        Entries {
            entries: Vec::new(),
            free: NIL,
            len: 0,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Entries allocated, free ones included (churn must not grow it).
    #[cfg(test)]
    pub(super) fn capacity(&self) -> usize {
        self.entries.capacity()
    }

    /// Stores `entry` (whose `level` is not `FREE`) and returns its index.
    #[inline]
    pub(super) fn insert(&mut self, entry: Entry<T>) -> u32 {
        debug_assert_ne!(entry.level, FREE);
        self.len += 1;
        if self.free != NIL {
            let index = self.free;
            let slot = &mut self.entries[index as usize];
            self.free = slot.next;
            *slot = entry;
            index
        } else {
            let index = u32::try_from(self.entries.len())
                .ok()
                .filter(|&index| index != NIL)
                .expect("more than 4 billion timers");
            self.entries.push(entry);
            index
        }
    }

    /// Frees entry `index` (in use) and returns its value.
    #[inline]
    pub(super) fn remove(&mut self, index: u32) -> T {
        let entry = &mut self.entries[index as usize];
        debug_assert_ne!(entry.level, FREE);
        entry.level = FREE;
        entry.next = self.free;
        self.free = index;
        self.len -= 1;
        entry.value
    }

    /// Entry `index` if it is in use.
    pub(super) fn get_mut(&mut self, index: u32) -> Option<&mut Entry<T>> {
        self.entries
            .get_mut(index as usize)
            .filter(|entry| entry.level != FREE)
    }

    /// Frees every entry and gives back the values of those in use.
    pub(super) fn drain(&mut self) -> Vec<T> {
        let values = self
            .entries
            .iter()
            .filter(|entry| entry.level != FREE)
            .map(|entry| entry.value)
            .collect();
        *self = Entries::new();
        values
    }
}

impl<T> Index<u32> for Entries<T> {
    type Output = Entry<T>;

    fn index(&self, index: u32) -> &Entry<T> {
        &self.entries[index as usize]
    }
}

impl<T> IndexMut<u32> for Entries<T> {
    fn index_mut(&mut self, index: u32) -> &mut Entry<T> {
        &mut self.entries[index as usize]
    }
}
