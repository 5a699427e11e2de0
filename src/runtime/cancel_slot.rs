//! A task's cancel flag and its registry slot, and the handshake between a
//! cancel and the task's first park.
//!
//! A task registers a waker (gets a slot) only when it first parks; a cancel
//! from another thread wakes it through that slot. The two race: the cancel
//! may read the slot before the task stored it. Each side stores its own
//! word, issues a SeqCst fence, then reads the other's (Dekker's pattern), so
//! at least one side sees the other: either the cancel finds the slot and
//! wakes the task, or the parking task finds the flag and polls itself again.
//! A cancelled task is never left asleep.
//!
//! The loom models in `loom/` run this file as it is.

use super::sync::{AtomicBool, AtomicU64, Ordering, fence};

/// The slot of a task that has not parked yet.
pub(crate) const NO_SLOT: u64 = u64::MAX;

/// A task's cancel flag and registry slot.
pub(crate) struct CancelSlot {
    cancelled: AtomicBool,
    /// The task's registry slot, as bits; [`NO_SLOT`] until it parks.
    slot: AtomicU64,
}

impl Default for CancelSlot {
    fn default() -> Self {
        CancelSlot {
            cancelled: AtomicBool::new(false),
            slot: AtomicU64::new(NO_SLOT),
        }
    }
}

impl CancelSlot {
    /// Raises the flag. `true` for the first cancel only: its caller must then
    /// wake the task through [`slot`](CancelSlot::slot), read after this
    /// returns (the fence here orders that read after the flag).
    pub(crate) fn cancel(&self) -> bool {
        if self.cancelled.swap(true, Ordering::SeqCst) {
            return false;
        }
        fence(Ordering::SeqCst);
        true
    }

    /// Raises the flag of a task that has never run (a child of a cancelled
    /// parent): nobody needs waking.
    pub(crate) fn start_cancelled(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
    }

    /// Whether the flag is up.
    #[inline]
    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Acquire)
    }

    /// The slot, as bits ([`NO_SLOT`] before the first park).
    #[inline]
    pub(crate) fn slot(&self) -> u64 {
        self.slot.load(Ordering::SeqCst)
    }

    /// Records the slot at the task's first park; `publish` copies it where
    /// else a cancel may look (the task's tree node) before the fence. Returns
    /// whether the flag was up: then a cancel may have missed the slot, and
    /// the task must poll itself again.
    pub(crate) fn register(&self, slot: u64, publish: impl FnOnce()) -> bool {
        self.slot.store(slot, Ordering::SeqCst);
        publish();
        fence(Ordering::SeqCst);
        self.cancelled.load(Ordering::SeqCst)
    }
}

/// Loom models of the cancel / first-park handshake (run from `loom/`).
#[cfg(all(test, loom))]
mod loom_models {
    use loom::sync::Arc;
    use loom::thread;

    use super::{CancelSlot, NO_SLOT};

    /// A cancel from another thread racing the task's first park: the cancel
    /// finds the slot (and wakes the task through it), or the task finds the
    /// flag (and polls itself again). Never neither.
    #[test]
    fn a_cancel_racing_the_first_park_always_reaches_the_task() {
        crate::model(
            "a_cancel_racing_the_first_park_always_reaches_the_task",
            || {
                let cell = Arc::new(CancelSlot::default());
                let canceller = {
                    let cell = cell.clone();
                    thread::spawn(move || cell.cancel() && cell.slot() != NO_SLOT)
                };
                let polls_again = cell.register(7, || {});
                let woken = canceller.join().unwrap();
                assert!(woken || polls_again, "a cancelled task was left asleep");
                assert!(cell.is_cancelled());
            },
        );
    }

    /// Two cancels racing: exactly one of them wakes the task.
    #[test]
    fn two_racing_cancels_wake_the_task_once() {
        crate::model("two_racing_cancels_wake_the_task_once", || {
            let cell = Arc::new(CancelSlot::default());
            cell.register(3, || {});
            let other = {
                let cell = cell.clone();
                thread::spawn(move || cell.cancel())
            };
            let mine = cell.cancel();
            let theirs = other.join().unwrap();
            assert!(mine ^ theirs, "one cancel wakes, the other does nothing");
            assert_eq!(cell.slot(), 3);
        });
    }
}
