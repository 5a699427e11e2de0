//! The wakers of filed timers, one per task rather than one per timer.
//!
//! A task awaiting many timers at once (a `join` of sleeps, a `timeout`
//! around a sleep, a batch of delayed runs) files them all with its own
//! waker. Each timer holding a clone of it would cost two atomic operations
//! on the task (the clone, and its drop or wake) per timer; here the timers of
//! one task share one clone, counted without atomics under the wheel's lock.
//! A task that files a timer right after another task's gets a slot of its
//! own: only the slot filed last is matched, a compare and no search.

use std::task::Waker;

use slab::Slab;

/// No slot.
const NONE: u32 = u32::MAX;

/// A waker and how many timers share it.
struct Slot {
    waker: Waker,
    timers: u32,
    /// The firing that last queued this waker to be woken (see
    /// [`Wakers::fired`]): each firing wakes a task once.
    queued_in: u64,
}

/// The wakers of the filed timers, each counted by the timers that share it.
pub(super) struct Wakers {
    slots: Slab<Slot>,
    /// The slot filed into last, or `NONE`.
    last: u32,
    /// The current firing, counted from 1.
    firing: u64,
    /// Slots queued in the current firing.
    queued: Vec<u32>,
}

impl Wakers {
    pub(super) fn new() -> Self {
        Wakers {
            slots: Slab::new(),
            last: NONE,
            firing: 0,
            queued: Vec::new(),
        }
    }

    /// A slot holding `waker` for one more timer: the last slot filed if its
    /// waker wakes the same task, else a new slot with a clone.
    pub(super) fn share(&mut self, waker: &Waker) -> u32 {
        if let Some(slot) = self.slots.get_mut(self.last as usize)
            && slot.waker.will_wake(waker)
        {
            slot.timers += 1;
            return self.last;
        }
        let index = self.slots.insert(Slot {
            waker: waker.clone(),
            timers: 1,
            queued_in: 0,
        });
        self.last = u32::try_from(index).expect("more than 4 billion timers");
        self.last
    }

    /// Whether slot `index` holds a waker that wakes the same task as `waker`.
    pub(super) fn wakes(&self, index: u32, waker: &Waker) -> bool {
        self.slots[index as usize].waker.will_wake(waker)
    }

    /// One timer of slot `index` left the wheel unfired. Returns the waker
    /// if that was the slot's last timer: the caller drops it once the lock
    /// is released (dropping a waker can drop a task).
    #[must_use = "dropped outside the lock"]
    pub(super) fn release(&mut self, index: u32) -> Option<Waker> {
        let slot = &mut self.slots[index as usize];
        slot.timers -= 1;
        (slot.timers == 0).then(|| self.free(index))
    }

    fn free(&mut self, index: u32) -> Waker {
        if self.last == index {
            self.last = NONE;
        }
        self.slots.remove(index as usize).waker
    }

    /// Starts a firing: the timers that fire until [`wake_list`](Self::wake_list)
    /// are reported with [`fired`](Self::fired).
    pub(super) fn begin_firing(&mut self) {
        self.firing += 1;
    }

    /// A timer of slot `index` fired: its task is queued to be woken (once
    /// per firing, however many of its timers fire).
    pub(super) fn fired(&mut self, index: u32) {
        let slot = &mut self.slots[index as usize];
        slot.timers -= 1;
        if slot.queued_in != self.firing {
            slot.queued_in = self.firing;
            self.queued.push(index);
        }
    }

    /// The wakers to wake for this firing, one per task, in the order their
    /// first timer fired. A slot none of whose timers are left gives its
    /// waker up; one that still has timers filed (later ones of the same
    /// task) gives a clone.
    pub(super) fn wake_list(&mut self) -> Vec<Waker> {
        let mut queued = std::mem::take(&mut self.queued);
        let mut wakers = Vec::with_capacity(queued.len());
        for &index in &queued {
            let slot = &self.slots[index as usize];
            wakers.push(if slot.timers == 0 {
                self.free(index)
            } else {
                slot.waker.clone()
            });
        }
        // Kept for the next firing, emptied.
        queued.clear();
        self.queued = queued;
        wakers
    }

    /// Timers sharing a waker (every filed timer).
    #[cfg(test)]
    pub(super) fn timers(&self) -> usize {
        self.slots
            .iter()
            .map(|(_, slot)| slot.timers as usize)
            .sum()
    }

    /// Empties the table and gives back its wakers.
    pub(super) fn drain(&mut self) -> Vec<Waker> {
        self.last = NONE;
        self.queued.clear();
        std::mem::take(&mut self.slots)
            .into_iter()
            .map(|(_, slot)| slot.waker)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::task::Wake;

    struct Nothing;

    impl Wake for Nothing {
        fn wake(self: Arc<Self>) {}
    }

    fn waker() -> (Arc<Nothing>, Waker) {
        let arc = Arc::new(Nothing);
        (arc.clone(), Waker::from(arc))
    }

    #[test]
    fn one_copy_per_run_of_a_task_s_timers_and_one_wake_per_firing() {
        let mut wakers = Wakers::new();
        let (a, wa) = waker();
        let (b, wb) = waker();
        let first = wakers.share(&wa);
        assert_eq!(wakers.share(&wa), first);
        assert_eq!(wakers.share(&wa), first);
        let other = wakers.share(&wb);
        // A waker filed after another task's gets a slot of its own.
        let again = wakers.share(&wa);
        assert!(again != first && again != other);
        assert_eq!(wakers.timers(), 5);
        assert_eq!((Arc::strong_count(&a), Arc::strong_count(&b)), (4, 3));
        // Removed unfired: the copy goes with the slot's last timer.
        assert!(wakers.release(again).is_some());
        assert!(wakers.release(first).is_none());
        wakers.begin_firing();
        wakers.fired(first);
        wakers.fired(other);
        wakers.fired(first);
        let woken = wakers.wake_list();
        assert_eq!(woken.len(), 2, "one wake per task");
        assert!(woken[0].will_wake(&wa) && woken[1].will_wake(&wb));
        drop(woken);
        // Both slots' last timers fired: their copies were the wakes.
        assert_eq!(wakers.timers(), 0);
        assert_eq!((Arc::strong_count(&a), Arc::strong_count(&b)), (2, 2));
    }

    #[test]
    fn a_slot_with_timers_left_wakes_with_a_copy() {
        let mut wakers = Wakers::new();
        let (a, wa) = waker();
        let slot = wakers.share(&wa);
        assert_eq!(wakers.share(&wa), slot);
        wakers.begin_firing();
        wakers.fired(slot);
        let woken = wakers.wake_list();
        assert_eq!(woken.len(), 1);
        assert_eq!(
            Arc::strong_count(&a),
            4,
            "ours, the waker, the slot, the wake"
        );
        drop(woken);
        wakers.begin_firing();
        wakers.fired(slot);
        assert_eq!(wakers.wake_list().len(), 1, "a new firing wakes again");
        assert_eq!(Arc::strong_count(&a), 2);
        assert!(wakers.drain().is_empty());
    }
}
