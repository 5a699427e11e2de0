//! A hierarchical timing wheel: O(1) insert and cancel, expiry in O(1) per
//! timer plus a few bit scans per level.
//!
//! Six levels of 64 slots. A slot of level `l` spans `64^l` ticks, so the
//! levels cover the window of `64^6` ticks (about 2.2 years of 1 ms ticks) that
//! `elapsed` is in; timers beyond it wait in an overflow list that is relinked
//! when the next window starts. A timer lives in the level of the highest 6-bit
//! group in which its tick differs from `elapsed`; when its slot comes due, it
//! fires or moves to a lower level. Timers are slab entries linked into per-slot lists by index, so a
//! cancel unlinks and frees its entry at once: churn never grows the wheel. A
//! timer that fires is freed as it fires (its value handed out); its key
//! carries a generation, so a key kept past that finds nothing rather than
//! the timer filed next in the same entry.

use slab::Slab;

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
    entries: Slab<Entry<T>>,
    levels: [Level; LEVELS],
    /// Head of the list of timers beyond the current window.
    overflow: u32,
    /// Every tick up to and including this one has been processed.
    elapsed: u64,
    /// The generation of the next timer filed.
    generation: u32,
}

impl<T> Wheel<T> {
    pub(crate) fn new() -> Self {
        Wheel {
            entries: Slab::new(),
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
    pub(crate) fn insert(&mut self, tick: u64, value: T) -> Result<TimerKey, T> {
        if tick <= self.elapsed {
            return Err(value);
        }
        let generation = self.generation;
        self.generation = generation.wrapping_add(1);
        let key = self.entries.insert(Entry {
            tick,
            value,
            generation,
            level: 0,
            slot: 0,
            prev: NIL,
            next: NIL,
        });
        let key = u32::try_from(key).expect("more than 4 billion timers");
        self.link(key);
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
        Some(self.entries.remove(key.index as usize).value)
    }

    /// The value of a pending timer; `None` once it fired (or the wheel was
    /// drained).
    pub(crate) fn pending_mut(&mut self, key: TimerKey) -> Option<&mut T> {
        self.entries
            .get_mut(key.index as usize)
            .filter(|entry| entry.generation == key.generation)
            .map(|entry| &mut entry.value)
    }

    /// Removes every timer and gives back their values.
    pub(crate) fn drain(&mut self) -> Vec<T> {
        let values = std::mem::take(&mut self.entries)
            .into_iter()
            .map(|(_, e)| e.value)
            .collect();
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
                let entry = &mut self.entries[at as usize];
                let next = entry.next;
                if entry.tick <= now {
                    fire(self.entries.remove(at as usize).value);
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

    /// Links entry `key` into the slot its tick belongs to, seen from `elapsed`.
    fn link(&mut self, key: u32) {
        let tick = self.entries[key as usize].tick;
        let differing = (self.elapsed ^ tick) | (SLOTS as u64 - 1);
        let level = ((63 - differing.leading_zeros()) / SLOT_BITS) as usize;
        let (level, slot) = if level >= LEVELS {
            // Beyond this window: the overflow list, relinked when the next
            // window starts.
            (LEVELS, 0)
        } else {
            (
                level,
                ((tick >> (SLOT_BITS as usize * level)) as usize) & (SLOTS - 1),
            )
        };
        let head = self.head(level, slot);
        let entry = &mut self.entries[key as usize];
        entry.level = level as u8;
        entry.slot = slot as u8;
        entry.prev = NIL;
        entry.next = head;
        if head != NIL {
            self.entries[head as usize].prev = key;
        }
        self.set_head(level, slot, key);
    }

    fn unlink(&mut self, key: u32) {
        let entry = &self.entries[key as usize];
        let (level, slot, prev, next) = (
            entry.level as usize,
            entry.slot as usize,
            entry.prev,
            entry.next,
        );
        if prev == NIL {
            self.set_head(level, slot, next);
        } else {
            self.entries[prev as usize].next = next;
        }
        if next != NIL {
            self.entries[next as usize].prev = prev;
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
mod tests {
    use super::*;

    /// Advances to `now` and returns what fired, sorted.
    fn fired(wheel: &mut Wheel<u64>, now: u64) -> Vec<u64> {
        let mut out = Vec::new();
        wheel.advance(now, |v| out.push(v));
        out.sort();
        out
    }

    #[test]
    fn fires_each_timer_at_its_tick_and_not_before() {
        let mut wheel = Wheel::new();
        let ticks = [1, 2, 63, 64, 65, 100, 4095, 4096, 4097, 300_000, 20_000_000];
        for &t in &ticks {
            wheel.insert(t, t).unwrap();
        }
        let mut now = 0;
        for &t in &ticks {
            assert_eq!(
                fired(&mut wheel, t - 1),
                Vec::<u64>::new(),
                "fired early before {t} (now {now})"
            );
            assert_eq!(fired(&mut wheel, t), vec![t]);
            now = t;
        }
        assert_eq!(wheel.len(), 0);
        assert_eq!(wheel.next_due(), None);
    }

    #[test]
    fn a_big_jump_fires_everything_due() {
        let mut wheel = Wheel::new();
        for t in (1..10_000u64).step_by(7) {
            wheel.insert(t, t).unwrap();
        }
        let all = fired(&mut wheel, 1_000_000);
        assert_eq!(all.len(), (1..10_000u64).step_by(7).count());
        assert!(all.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn matches_a_sorted_model_under_random_steps() {
        let mut wheel = Wheel::new();
        let mut model: Vec<u64> = Vec::new();
        let mut seed = 0x1234_5678_u64;
        let mut rand = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut now = 0;
        let mut keys = Vec::new();
        for round in 0..20_000 {
            match rand() % 4 {
                0 | 1 => {
                    let tick =
                        now + 1 + rand() % [10, 1_000, 100_000, 10_000_000][(round % 4) as usize];
                    keys.push((wheel.insert(tick, tick).unwrap(), tick));
                    model.push(tick);
                }
                2 if !keys.is_empty() => {
                    let (key, tick) = keys.swap_remove((rand() as usize) % keys.len());
                    assert_eq!(wheel.remove(key), Some(tick));
                    let at = model.iter().position(|&t| t == tick).unwrap();
                    model.swap_remove(at);
                }
                _ => {
                    now += rand() % 5_000;
                    let got = fired(&mut wheel, now);
                    let mut want: Vec<u64> = model.iter().copied().filter(|&t| t <= now).collect();
                    want.sort();
                    model.retain(|&t| t > now);
                    keys.retain(|&(_, t)| t > now);
                    assert_eq!(got, want, "at {now}");
                }
            }
            assert_eq!(wheel.len(), model.len());
            if let (Some(due), Some(&min)) = (wheel.next_due(), model.iter().min()) {
                assert!(due <= min, "next_due {due} after the earliest timer {min}");
            }
        }
    }

    #[test]
    fn far_timers_wait_and_past_ticks_are_refused() {
        let mut wheel = Wheel::new();
        let far = WINDOW_MASK * 3;
        wheel.insert(far, 1).unwrap();
        wheel.insert(far + 5, 2).unwrap();
        // Step through the far future in uneven strides, crossing the top
        // level's wrap several times.
        let mut now = 0;
        while now < far - 1 {
            now = (now + WINDOW_MASK / 7 + 12_345).min(far - 1);
            assert_eq!(fired(&mut wheel, now), Vec::<u64>::new(), "early at {now}");
        }
        assert_eq!(fired(&mut wheel, far), vec![1]);
        assert_eq!(fired(&mut wheel, far + 5), vec![2]);
        assert_eq!(wheel.insert(far, 3), Err(3));
    }

    #[test]
    fn timers_near_the_top_window_edge() {
        let mut wheel = Wheel::new();
        let edge = WINDOW_MASK; // the last tick of the first top-level rotation
        wheel.advance(edge - 3, |_| {});
        for offset in [1, 2, 3, 4, 64, 4096, WINDOW_MASK - 1, WINDOW_MASK] {
            wheel.insert(edge - 3 + offset, edge - 3 + offset).unwrap();
        }
        let mut got = Vec::new();
        for now in [edge, edge + 1, edge + 61, edge + 4093, edge + WINDOW_MASK] {
            got.extend(fired(&mut wheel, now));
        }
        got.extend(fired(&mut wheel, edge * 3));
        let mut want: Vec<u64> = [1, 2, 3, 4, 64, 4096, WINDOW_MASK - 1, WINDOW_MASK]
            .iter()
            .map(|o| edge - 3 + o)
            .collect();
        want.sort();
        assert_eq!(got, want);
    }

    #[test]
    fn a_key_kept_past_its_fire_finds_nothing_in_the_reused_entry() {
        let mut wheel = Wheel::new();
        let old = wheel.insert(1, 1).unwrap();
        assert_eq!(fired(&mut wheel, 1), vec![1]);
        assert_eq!(wheel.len(), 0, "freed as it fired");
        let new = wheel.insert(5, 5).unwrap();
        assert_eq!(new.index, old.index, "the entry is reused");
        assert_eq!(wheel.remove(old), None);
        assert!(wheel.pending_mut(old).is_none());
        assert_eq!(wheel.len(), 1);
        assert_eq!(wheel.remove(new), Some(5));
        assert_eq!(wheel.remove(new), None, "removed once");
    }

    #[test]
    fn churn_keeps_memory_flat() {
        let mut wheel = Wheel::new();
        for i in 0..1_000_000u64 {
            let key = wheel.insert(1 + i % 5_000, i).unwrap();
            wheel.remove(key);
        }
        assert_eq!(wheel.len(), 0);
        assert!(
            wheel.entries.capacity() <= 4,
            "capacity grew to {}",
            wheel.entries.capacity()
        );
    }
}
