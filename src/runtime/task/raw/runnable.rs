//! [`Runnable`]: a task that is scheduled, as the queues hold it.

use std::marker::PhantomData;
use std::ptr::NonNull;

use super::cell::{core, meta};
use super::state::*;
use super::waker::schedule_woken;
use crate::runtime::sync::Ordering;

/// A scheduled task: running it polls the future once. Made by a wake (or
/// the spawn) and consumed by [`run`](Runnable::run); dropping it instead
/// closes the task and drops its future there.
pub(crate) struct Runnable<M> {
    /// The task; the runnable owns one reference on it.
    ptr: NonNull<()>,
    _meta: PhantomData<M>,
}

// SAFETY: a runnable moves between threads as the scheduler routes it. Its
// future may be `!Send` only when the spawner promised to keep every
// runnable of it on one thread (see `spawn`); what else it reaches is the
// header (`M: Sync`) and the state word (atomic).
unsafe impl<M: Send + Sync> Send for Runnable<M> {}
// SAFETY: `&Runnable` only reads the header.
unsafe impl<M: Sync> Sync for Runnable<M> {}

impl<M> Runnable<M> {
    /// Takes back a runnable from [`Runnable::into_raw`].
    ///
    /// # Safety
    ///
    /// `ptr` came from `into_raw` of a runnable with the same `M`, and is
    /// taken back once.
    #[inline]
    pub(crate) unsafe fn from_raw(ptr: NonNull<()>) -> Self {
        Runnable {
            ptr,
            _meta: PhantomData,
        }
    }

    /// The task pointer, keeping the runnable's reference.
    #[inline]
    pub(crate) fn into_raw(self) -> NonNull<()> {
        let ptr = self.ptr;
        std::mem::forget(self);
        ptr
    }

    /// The scheduler's header of the task.
    #[inline]
    pub(crate) fn metadata(&self) -> &M {
        // SAFETY: our reference keeps the task alive; its header is an `M`.
        unsafe { meta(self.ptr.as_ptr()) }
    }

    /// Hands the task to the schedule function again (as a yield does).
    pub(crate) fn schedule(self) {
        let ptr = self.into_raw().as_ptr();
        // SAFETY: a runnable's task is `SCHEDULED`; our reference goes with
        // the call.
        unsafe { schedule_woken(ptr) }
    }

    /// Polls the future once; `true` when it was woken during the poll and
    /// is scheduled again.
    pub(crate) fn run(self) -> bool {
        let ptr = self.into_raw().as_ptr();
        // SAFETY: our reference goes with the call, and so does the
        // `SCHEDULED` bit: the task is ours to run.
        unsafe { (core(ptr).vtable.run)(ptr) }
    }
}

impl<M> Drop for Runnable<M> {
    /// Closes the task and drops its future here (shutdown, a closed queue).
    fn drop(&mut self) {
        let ptr = self.ptr.as_ptr();
        // SAFETY: our reference keeps the task alive.
        let core = unsafe { core(ptr) };
        let mut state = core.state.load(Ordering::Acquire);
        loop {
            if state & (COMPLETED | CLOSED) != 0 {
                break;
            }
            match core.state.compare_exchange_weak(
                state,
                state | CLOSED,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(actual) => state = actual,
            }
        }
        // SAFETY: a runnable exists only for a task that is scheduled and
        // not completed; its future is ours to drop (once: the task is not
        // run after this).
        unsafe { (core.vtable.drop_future)(ptr) };
        let state = core.state.fetch_and(!SCHEDULED, Ordering::AcqRel);
        if state & AWAITER != 0 {
            core.notify(None);
        }
        // SAFETY: our reference, given up.
        unsafe { super::waker::drop_ref(ptr) };
    }
}

impl<M> std::fmt::Debug for Runnable<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runnable").field("ptr", &self.ptr).finish()
    }
}
