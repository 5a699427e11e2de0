//! A hierarchical timing wheel: O(1) insert and cancel, expiry in O(1) per
//! timer plus a few bit scans per level.
//!
//! Six levels of 64 slots. A slot of level `l` spans `64^l` ticks, so the
//! levels cover the window of `64^6` ticks (about 2.2 years of 1 ms ticks) that
//! `elapsed` is in; timers beyond it wait in an overflow list that is relinked
//! when the next window starts. A timer lives in the level of the highest 6-bit
//! group in which its tick differs from `elapsed`; when its slot comes due, it
//! fires or moves to a lower level. Timers are entries (see `entries`)
//! linked into per-slot lists by index, so a cancel unlinks and frees its
//! entry at once: churn never grows the wheel. A timer that fires is freed
//! as it fires (its value handed out); its key carries a generation, so a
//! key kept past that finds nothing rather than the timer filed next in the
//! same entry.

mod entries;

use entries::Entries;

const LEVELS: usize = 6;
const SLOT_BITS: u32 = 6;
const SLOTS: usize = 1 << SLOT_BITS;
/// The ticks of one window of the levels, less one.
const WINDOW_MASK: u64 = (1 << (SLOT_BITS as usize * LEVELS)) - 1;
const NIL: u32 = u32::MAX;

/// A timer's handle in the wheel: its entry, and the generation that tells
/// it from the timers filed in the same entry after it fired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TimerKey {
    index: u32,
    generation: u32,
}

struct Entry<T> {
    /// The tick the timer is due at.
    tick: u64,
    value: T,
    /// Which filing of this entry it is (see [`TimerKey`]).
    generation: u32,
    /// Where it is linked: level and slot.
    level: u8,
    slot: u8,
    prev: u32,
    next: u32,
}

#[derive(Clone, Copy)]
struct Level {
    occupied: u64,
    heads: [u32; SLOTS],
}

/// The wheel; `T` is what a timer carries (its waker's slot).
pub(crate) struct Wheel<T> {
    entries: Entries<T>,
    levels: [Level; LEVELS],
    /// Head of the list of timers beyond the current window.
    overflow: u32,
    /// Every tick up to and including this one has been processed.
    elapsed: u64,
    /// The generation of the next timer filed.
    generation: u32,
}

impl<T: Copy> Wheel<T> {
    pub(crate) fn new() -> Self {
        Wheel {
            entries: Entries::new(),
            levels: [Level {
                occupied: 0,
                heads: [NIL; SLOTS],
            }; LEVELS],
            overflow: NIL,
            elapsed: 0,
            generation: 0,
        }
    }

    /// Timers in the wheel (not yet fired or removed).
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The last tick processed.
    pub(crate) fn elapsed(&self) -> u64 {
        self.elapsed
    }

    /// Adds a timer due at `tick`. Returns the value back if `tick` has
    /// already been processed (the caller treats the timer as fired).
    #[inline]
    pub(crate) fn insert(&mut self, tick: u64, value: T) -> Result<TimerKey, T> {
        if tick <= self.elapsed {
            return Err(value);
        }
        let generation = self.generation;
        self.generation = generation.wrapping_add(1);
        // The entry is written once, already linked at the head of its slot.
        let (level, slot) = self.slot_of(tick);
        let head = self.head(level, slot);
        let key = self.entries.insert(Entry {
            tick,
            value,
            generation,
            level: level as u8,
            slot: slot as u8,
            prev: NIL,
            next: head,
        });
        if head != NIL {
            self.entries[head].prev = key;
        }
        self.set_head(level, slot, key);
        Ok(TimerKey {
            index: key,
            generation,
        })
    }

    /// Removes a pending timer and frees its entry at once. `None` if it
    /// fired (or the wheel was drained) since.
    pub(crate) fn remove(&mut self, key: TimerKey) -> Option<T> {
        self.pending_mut(key)?;
        self.unlink(key.index);
        Some(self.entries.remove(key.index))
    }

    /// The value of a pending timer; `None` once it fired (or the wheel was
    /// drained).
    pub(crate) fn pending_mut(&mut self, key: TimerKey) -> Option<&mut T> {
        self.entries
            .get_mut(key.index)
            .filter(|entry| entry.generation == key.generation)
            .map(|entry| &mut entry.value)
    }

    /// Removes every timer and gives back their values.
    pub(crate) fn drain(&mut self) -> Vec<T> {
        let values = self.entries.drain();
        for level in &mut self.levels {
            level.occupied = 0;
            level.heads = [NIL; SLOTS];
        }
        self.overflow = NIL;
        values
    }

    /// The earliest tick at which some slot comes due, if any timer is pending.
    /// Timers fire at or after it; never before.
    pub(crate) fn next_due(&self) -> Option<u64> {
        self.next_slot().map(|(_, _, start)| start)
    }

    /// Processes every tick up to `now`: each due timer is removed and its
    /// value handed to `fire`, in order of their slots. Afterwards no timer
    /// due at or before `now` is left.
    pub(crate) fn advance(&mut self, now: u64, mut fire: impl FnMut(T)) {
        while let Some((level, slot, start)) = self.next_slot() {
            if start > now {
                break;
            }
            self.elapsed = self.elapsed.max(start);
            let mut at = self.head(level, slot);
            self.set_head(level, slot, NIL);
            while at != NIL {
                let entry = &mut self.entries[at];
                let next = entry.next;
                if entry.tick <= now {
                    fire(self.entries.remove(at));
                } else {
                    // Due later than this slot's start: down to a lower level
                    // (or, from the overflow list, into the new window).
                    self.link(at);
                }
                at = next;
            }
        }
        self.elapsed = self.elapsed.max(now);
    }

    /// The level, slot and start tick of the next slot holding timers (level
    /// `LEVELS`: the overflow list, due when the next window starts). The start
    /// may be at or before `elapsed`: that slot is due at once.
    fn next_slot(&self) -> Option<(usize, usize, u64)> {
        // Lower levels come due first: a slot of level l starts before any
        // occupied slot of level l + 1 can (their ticks share the higher bits).
        let in_window = (0..LEVELS).find_map(|level| {
            let occupied = self.levels[level].occupied;
            if occupied == 0 {
                return None;
            }
            let shift = SLOT_BITS as usize * level;
            let now_slot = ((self.elapsed >> shift) as usize) & (SLOTS - 1);
            // Timers are filed at or ahead of `elapsed`'s digit in their level.
            let slot = (occupied.rotate_right(now_slot as u32).trailing_zeros() as usize
                + now_slot)
                % SLOTS;
            let level_start = self.elapsed & !((1u64 << (shift + SLOT_BITS as usize)) - 1);
            Some((level, slot, level_start + ((slot as u64) << shift)))
        });
        in_window.or_else(|| {
            (self.overflow != NIL).then(|| (LEVELS, 0, (self.elapsed | WINDOW_MASK) + 1))
        })
    }

    /// The level and slot a timer due at `tick` belongs to, seen from
    /// `elapsed` (level `LEVELS`: the overflow list).
    #[inline]
    fn slot_of(&self, tick: u64) -> (usize, usize) {
        let differing = (self.elapsed ^ tick) | (SLOTS as u64 - 1);
        let level = ((63 - differing.leading_zeros()) / SLOT_BITS) as usize;
        if level >= LEVELS {
            // Beyond this window: the overflow list, relinked when the next
            // window starts.
            (LEVELS, 0)
        } else {
            (
                level,
                ((tick >> (SLOT_BITS as usize * level)) as usize) & (SLOTS - 1),
            )
        }
    }

    /// Links entry `key` into the slot its tick belongs to, seen from `elapsed`.
    fn link(&mut self, key: u32) {
        let (level, slot) = self.slot_of(self.entries[key].tick);
        let head = self.head(level, slot);
        let entry = &mut self.entries[key];
        entry.level = level as u8;
        entry.slot = slot as u8;
        entry.prev = NIL;
        entry.next = head;
        if head != NIL {
            self.entries[head].prev = key;
        }
        self.set_head(level, slot, key);
    }

    fn unlink(&mut self, key: u32) {
        let entry = &self.entries[key];
        let (level, slot, prev, next) = (
            entry.level as usize,
            entry.slot as usize,
            entry.prev,
            entry.next,
        );
        if prev == NIL {
            self.set_head(level, slot, next);
        } else {
            self.entries[prev].next = next;
        }
        if next != NIL {
            self.entries[next].prev = prev;
        }
    }

    /// The first timer of a slot (level `LEVELS`: the overflow list).
    fn head(&self, level: usize, slot: usize) -> u32 {
        if level == LEVELS {
            self.overflow
        } else {
            self.levels[level].heads[slot]
        }
    }

    /// Sets the first timer of a slot, keeping the occupied bits in step.
    fn set_head(&mut self, level: usize, slot: usize, key: u32) {
        if level == LEVELS {
            self.overflow = key;
            return;
        }
        let level = &mut self.levels[level];
        level.heads[slot] = key;
        if key == NIL {
            level.occupied &= !(1 << slot);
        } else {
            level.occupied |= 1 << slot;
        }
    }
}

#[cfg(test)]
mod tests;
