//! The first 32 bytes of every task: its state word, its vtable and the
//! waker of whoever awaits its handle; and the awaiter's little lock, kept in
//! two bits of the state word.
//!
//! The bits and their transitions are async-task's (see `cell.rs` for who
//! sets which): a task is `SCHEDULED` while a [`Runnable`](super::Runnable)
//! of it exists, `RUNNING` while polled, `COMPLETED` once its output is
//! stored, `CLOSED` once its future is gone (or its output taken), `HANDLE`
//! while its [`JoinHandle`](super::JoinHandle) lives. The count above the
//! flags is the number of wakers, plus one while it is scheduled; the task is
//! freed when that count is zero and no handle is left.

use std::task::Waker;

use super::abort_on_panic;
use super::cell::VTable;
use crate::runtime::sync::{AtomicUsize, Ordering, UnsafeCell};

/// A [`Runnable`](super::Runnable) of the task exists (or is being made).
pub(super) const SCHEDULED: usize = 1 << 0;
/// The task's future is being polled.
pub(super) const RUNNING: usize = 1 << 1;
/// The future finished; its output is in the task until taken.
pub(super) const COMPLETED: usize = 1 << 2;
/// The future was dropped, or will be at the next run; or the output taken.
pub(super) const CLOSED: usize = 1 << 3;
/// The task's [`JoinHandle`](super::JoinHandle) exists.
pub(super) const HANDLE: usize = 1 << 4;
/// A waker is in the awaiter slot.
pub(super) const AWAITER: usize = 1 << 5;
/// The handle is storing a waker in the awaiter slot.
pub(super) const REGISTERING: usize = 1 << 6;
/// Someone is taking the waker out of the awaiter slot.
pub(super) const NOTIFYING: usize = 1 << 7;
/// One reference: a waker, or the scheduled task's own.
pub(super) const REFERENCE: usize = 1 << 8;

/// The part of a task's allocation that does not depend on its future or
/// its header, so the wakers and [`TaskRef`](super::TaskRef) need no types.
#[repr(C)]
pub(super) struct Core {
    pub(super) state: AtomicUsize,
    pub(super) vtable: &'static VTable,
    /// The waker of whoever awaits the handle, guarded by `REGISTERING` and
    /// `NOTIFYING`.
    awaiter: UnsafeCell<Option<Waker>>,
}

impl Core {
    pub(super) fn new(state: usize, vtable: &'static VTable) -> Self {
        Core {
            state: AtomicUsize::new(state),
            vtable,
            awaiter: UnsafeCell::new(None),
        }
    }

    /// Wakes the awaiter, if any (and if it is not `current`).
    pub(super) fn notify(&self, current: Option<&Waker>) {
        if let Some(waker) = self.take(current) {
            abort_on_panic(|| waker.wake());
        }
    }

    /// Takes the awaiter's waker out, unless a registration or another
    /// notification holds the slot (that one sees our `NOTIFYING` and wakes
    /// the waker itself). `None` also when the waker would wake `current`.
    pub(super) fn take(&self, current: Option<&Waker>) -> Option<Waker> {
        let state = self.state.fetch_or(NOTIFYING, Ordering::AcqRel);
        if state & (NOTIFYING | REGISTERING) != 0 {
            return None;
        }
        // SAFETY: we set `NOTIFYING` while neither bit was set, so we hold
        // the slot: a registration waits for the bit to clear (it wakes its
        // own waker instead), and another notification backs off above.
        let waker = unsafe { self.take_awaiter() };
        self.state
            .fetch_and(!NOTIFYING & !AWAITER, Ordering::Release);
        match (waker, current) {
            (Some(waker), Some(current)) if waker.will_wake(current) => {
                abort_on_panic(|| drop(waker));
                None
            }
            (waker, _) => waker,
        }
    }

    /// Stores `waker` as the awaiter's: called by the handle's poll only
    /// (one at a time: a poll takes the handle by `&mut`).
    pub(super) fn register(&self, waker: &Waker) {
        let mut state = self.state.fetch_or(0, Ordering::Acquire);
        loop {
            debug_assert!(state & REGISTERING == 0);
            // A notification is running: it may have missed the slot, so
            // wake now rather than register.
            if state & NOTIFYING != 0 {
                abort_on_panic(|| waker.wake_by_ref());
                return;
            }
            match self.state.compare_exchange_weak(
                state,
                state | REGISTERING,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    state |= REGISTERING;
                    break;
                }
                Err(actual) => state = actual,
            }
        }
        // SAFETY: `REGISTERING` is ours, so no notification touches the slot
        // until we clear it below.
        self.awaiter
            .with_mut(|slot| unsafe { abort_on_panic(|| *slot = Some(waker.clone())) });
        // A notification that came in meanwhile left its `NOTIFYING` set and
        // backed off: we wake for it.
        let mut missed = None;
        loop {
            if state & NOTIFYING != 0 {
                // SAFETY: as above, `REGISTERING` is still ours.
                if let Some(waker) = unsafe { self.take_awaiter() } {
                    missed = Some(waker);
                }
            }
            let new = if missed.is_none() {
                (state & !NOTIFYING & !REGISTERING) | AWAITER
            } else {
                state & !NOTIFYING & !REGISTERING & !AWAITER
            };
            match self
                .state
                .compare_exchange_weak(state, new, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => break,
                Err(actual) => state = actual,
            }
        }
        if let Some(waker) = missed {
            abort_on_panic(|| waker.wake());
        }
    }

    /// Drops the awaiter's waker, if one is left, as the task is freed.
    pub(super) fn drop_awaiter(&mut self) {
        // SAFETY: `&mut self`: the task is being freed, nobody else has it.
        let waker = unsafe { self.take_awaiter() };
        abort_on_panic(|| drop(waker));
    }

    /// Takes the waker out of the awaiter slot (through the cell, so loom
    /// checks the access).
    ///
    /// # Safety
    ///
    /// The caller holds the slot: `NOTIFYING` or `REGISTERING` set by it,
    /// or the only access to the task.
    unsafe fn take_awaiter(&self) -> Option<Waker> {
        // SAFETY: the caller's: nobody else touches the slot meanwhile.
        self.awaiter.with_mut(|slot| unsafe { (*slot).take() })
    }
}
