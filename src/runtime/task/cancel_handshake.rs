//! The handshake between a cancel and a task's first park.
//!
//! A task registers a waker (gets a registry slot) only when it first parks;
//! a cancel from another thread wakes it through that slot. The two race: the
//! cancel may read the slot before the task stored it. Each side writes its
//! own word, issues a SeqCst fence, then reads the other's (Dekker's
//! pattern), so at least one side sees the other: either the cancel finds the
//! slot and wakes the task, or the parking task finds the flag and polls
//! itself again. A cancelled task is never left asleep.
//!
//! These are functions over the header's own fields (a struct of its own
//! would cost the 32-byte header its padding). The loom models in `loom/`
//! run this file as it is.

use crate::runtime::sync::{AtomicBool, Ordering, fence};

/// Raises a task's cancel flag. `true` for the first cancel only: its caller
/// must then wake the task through its slot, read after this returns (the
/// fence here orders that read after the flag).
#[inline]
pub(crate) fn cancel(cancelled: &AtomicBool) -> bool {
    if cancelled.swap(true, Ordering::SeqCst) {
        return false;
    }
    fence(Ordering::SeqCst);
    true
}

/// A task's first park: `store_slot` stores its registry slot (and copies it
/// where else a cancel may look, the task's tree node), then the flag is
/// read. Returns whether it was up: then a cancel may have missed the slot,
/// and the task must poll itself again.
#[inline]
pub(crate) fn register(cancelled: &AtomicBool, store_slot: impl FnOnce()) -> bool {
    store_slot();
    fence(Ordering::SeqCst);
    cancelled.load(Ordering::SeqCst)
}

/// Loom models of the cancel / first-park handshake (run from `loom/`).
#[cfg(all(test, loom))]
mod loom_models {
    use loom::sync::Arc;
    use loom::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    use loom::thread;

    use super::{cancel, register};

    const NO_SLOT: u32 = u32::MAX;

    /// A task's two fields, as the header has them.
    struct Task {
        cancelled: AtomicBool,
        slot: AtomicU32,
    }

    fn task() -> Arc<Task> {
        Arc::new(Task {
            cancelled: AtomicBool::new(false),
            slot: AtomicU32::new(NO_SLOT),
        })
    }

    /// A cancel from another thread racing the task's first park: the cancel
    /// finds the slot (and wakes the task through it), or the task finds the
    /// flag (and polls itself again). Never neither.
    #[test]
    fn a_cancel_racing_the_first_park_always_reaches_the_task() {
        crate::model(
            "a_cancel_racing_the_first_park_always_reaches_the_task",
            || {
                let task = task();
                let canceller = {
                    let task = task.clone();
                    thread::spawn(move || {
                        cancel(&task.cancelled) && task.slot.load(Ordering::SeqCst) != NO_SLOT
                    })
                };
                let polls_again = register(&task.cancelled, || {
                    task.slot.store(7, Ordering::SeqCst);
                });
                let woken = canceller.join().unwrap();
                assert!(woken || polls_again, "a cancelled task was left asleep");
            },
        );
    }

    /// Two cancels racing: exactly one of them wakes the task.
    #[test]
    fn two_racing_cancels_wake_the_task_once() {
        crate::model("two_racing_cancels_wake_the_task_once", || {
            let task = task();
            let other = {
                let task = task.clone();
                thread::spawn(move || cancel(&task.cancelled))
            };
            let mine = cancel(&task.cancelled);
            let theirs = other.join().unwrap();
            assert!(mine ^ theirs, "one cancel wakes, the other does nothing");
        });
    }
}
