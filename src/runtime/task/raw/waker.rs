//! The wakers' side of a task: one waker vtable for every task (a waker is
//! a task pointer and one reference), the reference count, and the wakes
//! that move a task to its schedule function. They need only the task's
//! [`Core`], never its future's type, so a [`TaskRef`](super::TaskRef) is a
//! bare pointer.

use std::task::{RawWaker, RawWakerVTable};

use super::ScheduleInfo;
use super::cell::core;
use super::state::*;
use crate::runtime::sync::Ordering;

/// Hands the task to its schedule function as a wake does (not from its
/// own poll).
///
/// # Safety
///
/// `ptr` is a live task, `SCHEDULED` was set by the caller, and the caller
/// owns the reference the new runnable takes over.
pub(super) unsafe fn schedule_woken(ptr: *const ()) {
    let info = ScheduleInfo {
        woken_while_running: false,
    };
    // SAFETY: the caller's.
    unsafe { (core(ptr).vtable.schedule)(ptr, info) }
}

/// The waker vtable of every task: a waker is a task pointer and one
/// reference.
pub(super) static RAW_WAKER: RawWakerVTable =
    RawWakerVTable::new(clone_waker, wake, wake_by_ref, drop_waker);

unsafe fn clone_waker(ptr: *const ()) -> RawWaker {
    // SAFETY: a waker's task is alive while the waker is.
    unsafe { add_reference(ptr) };
    RawWaker::new(ptr, &RAW_WAKER)
}

/// Adds a reference to the task, for a new waker or `TaskRef`. Relaxed, as
/// `Arc::clone`: whoever adds one holds one already, so the task cannot go
/// meanwhile. Aborts if the count could overflow into the state's bits
/// (only leaked references, by the billion, get there).
///
/// # Safety
///
/// `ptr` is a live task, and the caller holds a reference on it (or knows
/// it alive by other means, as a task's own body does).
#[inline]
pub(super) unsafe fn add_reference(ptr: *const ()) {
    // SAFETY: the caller's.
    let state = unsafe { core(ptr) }
        .state
        .fetch_add(REFERENCE, Ordering::Relaxed);
    if state > isize::MAX as usize {
        std::process::abort();
    }
}

/// Wakes the task, consuming one reference.
///
/// # Safety (for the waker functions below)
///
/// `ptr` is a live task, and the caller owns one reference on it (a
/// waker's, a `TaskRef`'s or a runnable's), which the function takes
/// (`wake`, `drop_waker`, `drop_ref`) or keeps (`wake_by_ref`, `clone_waker`).
pub(super) unsafe fn wake(ptr: *const ()) {
    // SAFETY: a waker's task is alive while the waker is.
    let core = unsafe { core(ptr) };
    let mut state = core.state.load(Ordering::Acquire);
    loop {
        if state & (COMPLETED | CLOSED) != 0 {
            // SAFETY: our reference.
            unsafe { drop_waker(ptr) };
            return;
        }
        if state & SCHEDULED != 0 {
            // Already scheduled: a no-op write orders this wake after the
            // one that scheduled it.
            match core.state.compare_exchange_weak(
                state,
                state,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    // SAFETY: our reference.
                    unsafe { drop_waker(ptr) };
                    return;
                }
                Err(actual) => state = actual,
            }
        } else {
            match core.state.compare_exchange_weak(
                state,
                state | SCHEDULED,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    if state & RUNNING == 0 {
                        // Our reference becomes the runnable's.
                        // SAFETY: the task is ours to schedule.
                        unsafe { schedule_woken(ptr) };
                    } else {
                        // The poll running now schedules it when it ends.
                        // SAFETY: our reference.
                        unsafe { drop_waker(ptr) };
                    }
                    return;
                }
                Err(actual) => state = actual,
            }
        }
    }
}

/// Wakes the task, keeping the caller's reference.
pub(super) unsafe fn wake_by_ref(ptr: *const ()) {
    // SAFETY: a waker's task is alive while the waker is.
    let core = unsafe { core(ptr) };
    let mut state = core.state.load(Ordering::Acquire);
    loop {
        if state & (COMPLETED | CLOSED) != 0 {
            return;
        }
        if state & SCHEDULED != 0 {
            match core.state.compare_exchange_weak(
                state,
                state,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return,
                Err(actual) => state = actual,
            }
        } else {
            // Not running: the new runnable needs a reference of its own.
            let new = if state & RUNNING == 0 {
                (state | SCHEDULED) + REFERENCE
            } else {
                state | SCHEDULED
            };
            match core
                .state
                .compare_exchange_weak(state, new, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    if state & RUNNING == 0 {
                        if state > isize::MAX as usize {
                            std::process::abort();
                        }
                        // SAFETY: the reference just added is the runnable's.
                        unsafe { schedule_woken(ptr) };
                    }
                    return;
                }
                Err(actual) => state = actual,
            }
        }
    }
}

/// Drops a waker's reference. The last one, with no handle and the future
/// still there, schedules the task once more so its future is dropped where
/// the scheduler drops futures.
pub(super) unsafe fn drop_waker(ptr: *const ()) {
    // SAFETY: a waker's task is alive while the waker is.
    let core = unsafe { core(ptr) };
    let new = core.state.fetch_sub(REFERENCE, Ordering::AcqRel) - REFERENCE;
    if new & !(REFERENCE - 1) == 0 && new & HANDLE == 0 {
        if new & (COMPLETED | CLOSED) == 0 {
            core.state
                .store(SCHEDULED | CLOSED | REFERENCE, Ordering::Release);
            // SAFETY: nobody else holds the task; the reference stored above
            // is the runnable's.
            unsafe { schedule_woken(ptr) };
        } else {
            // SAFETY: the last reference, no handle: nobody can reach it.
            unsafe { (core.vtable.destroy)(ptr) };
        }
    }
}

/// Drops a reference that is not a waker's (a runnable's, a handle's
/// borrow): the last one with no handle frees the task.
pub(super) unsafe fn drop_ref(ptr: *const ()) {
    // SAFETY: the caller holds a reference, so the task is alive.
    let core = unsafe { core(ptr) };
    let new = core.state.fetch_sub(REFERENCE, Ordering::AcqRel) - REFERENCE;
    if new & !(REFERENCE - 1) == 0 && new & HANDLE == 0 {
        // SAFETY: the last reference, no handle: nobody can reach it.
        unsafe { (core.vtable.destroy)(ptr) };
    }
}
