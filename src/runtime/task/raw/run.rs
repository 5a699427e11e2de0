//! Running a task: one poll of its future, and the state word's steps
//! around it (a closed task's future dropped instead, the output stored, a
//! wake during the poll rescheduling it, an unwinding poll closing it).

use std::future::Future;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::task::{Context, Poll, RawWaker, Waker};

use super::cell::{Ops, core};
use super::state::*;
use super::waker::{RAW_WAKER, drop_ref};
use super::{Schedule, ScheduleInfo, abort_on_panic};
use crate::runtime::sync::Ordering;

impl<F, S, M> Ops<F, S, M>
where
    F: Future,
    S: Schedule<M>,
{
    /// Polls the future once. The runnable's reference comes with the call.
    pub(super) unsafe fn run(ptr: *const ()) -> bool {
        // SAFETY: the caller's (`ptr` is a live task, ours to run).
        let core = unsafe { core(ptr) };
        // The waker passed to the poll borrows the runnable's reference.
        // SAFETY: `ptr` is a task, as `RAW_WAKER` expects.
        let waker = ManuallyDrop::new(unsafe { Waker::from_raw(RawWaker::new(ptr, &RAW_WAKER)) });
        let mut cx = Context::from_waker(&waker);

        let mut state = core.state.load(Ordering::Acquire);
        loop {
            // Closed while scheduled: drop the future instead of polling it.
            if state & CLOSED != 0 {
                // SAFETY: closed and scheduled by us: the future is ours.
                unsafe { Self::drop_future(ptr) };
                let state = core.state.fetch_and(!SCHEDULED, Ordering::AcqRel);
                // SAFETY: the runnable's reference, ours to give up.
                unsafe { release(ptr, state) };
                return false;
            }
            match core.state.compare_exchange_weak(
                state,
                (state & !SCHEDULED) | RUNNING,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    state = (state & !SCHEDULED) | RUNNING;
                    break;
                }
                Err(actual) => state = actual,
            }
        }

        // If the poll unwinds, the guard closes the task and drops the future.
        let guard = Unwinding::<F, S, M>(ptr, PhantomData);
        // SAFETY: the future is pinned in the allocation (never moved) and
        // only polled while `RUNNING`, which we hold.
        let future = unsafe { Pin::new_unchecked(&mut *(*Self::stage(ptr)).future) };
        let poll = future.poll(&mut cx);
        std::mem::forget(guard);

        match poll {
            Poll::Ready(output) => {
                // SAFETY: the future is ours and finished; the output takes
                // its place.
                unsafe {
                    Self::drop_future(ptr);
                    (&raw mut (*Self::stage(ptr)).output).write(ManuallyDrop::new(output));
                }
                let mut output_dropped = false;
                loop {
                    // No handle, or the handle closed meanwhile: the output
                    // is nobody's. Dropped before the task is marked done
                    // (neither bit ever goes back), so a closed handle that
                    // sees it done knows its output is gone too.
                    if (state & HANDLE == 0 || state & CLOSED != 0) && !output_dropped {
                        // SAFETY: just written, never to be taken.
                        unsafe { Self::drop_output(ptr) };
                        output_dropped = true;
                    }
                    // Without a handle nobody takes the output: closed at once.
                    let new = if state & HANDLE == 0 {
                        (state & !RUNNING & !SCHEDULED) | COMPLETED | CLOSED
                    } else {
                        (state & !RUNNING & !SCHEDULED) | COMPLETED
                    };
                    match core.state.compare_exchange_weak(
                        state,
                        new,
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    ) {
                        Ok(_) => {
                            // SAFETY: the runnable's reference, ours to give up.
                            unsafe { release(ptr, state) };
                            return false;
                        }
                        Err(actual) => state = actual,
                    }
                }
            }
            Poll::Pending => {
                let mut future_dropped = false;
                loop {
                    // Closed during the poll: the future goes now.
                    if state & CLOSED != 0 && !future_dropped {
                        // SAFETY: still ours (`RUNNING`).
                        unsafe { Self::drop_future(ptr) };
                        future_dropped = true;
                    }
                    let new = if state & CLOSED != 0 {
                        state & !RUNNING & !SCHEDULED
                    } else {
                        state & !RUNNING
                    };
                    match core.state.compare_exchange_weak(
                        state,
                        new,
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    ) {
                        Ok(state) => {
                            if state & CLOSED != 0 {
                                // SAFETY: the runnable's reference, ours to give up.
                                unsafe { release(ptr, state) };
                                return false;
                            } else if state & SCHEDULED != 0 {
                                // Woken during the poll: the runnable's
                                // reference goes to the new runnable.
                                // SAFETY: we own that reference.
                                unsafe {
                                    Self::schedule(
                                        ptr,
                                        ScheduleInfo {
                                            woken_while_running: true,
                                        },
                                    )
                                };
                                return true;
                            } else {
                                // SAFETY: the runnable's reference, given up.
                                unsafe { drop_ref(ptr) };
                                return false;
                            }
                        }
                        Err(actual) => state = actual,
                    }
                }
            }
        }
    }
}

/// Closes a task whose poll unwound, drops its future and gives up the
/// runnable's reference.
struct Unwinding<F, S, M>(*const (), PhantomData<(F, S, M)>)
where
    F: Future,
    S: Schedule<M>;

impl<F, S, M> Drop for Unwinding<F, S, M>
where
    F: Future,
    S: Schedule<M>,
{
    fn drop(&mut self) {
        let ptr = self.0;
        // SAFETY: made by `run` while it held `RUNNING` and a reference.
        let core = unsafe { core(ptr) };
        core.state.fetch_or(CLOSED, Ordering::AcqRel);
        // SAFETY: still `RUNNING`: the future is ours; dropped once.
        unsafe { Ops::<F, S, M>::drop_future(ptr) };
        // The awaiter is read with `RUNNING` cleared: a handle that
        // registers later sees the task closed and not running, and stops.
        let state = core
            .state
            .fetch_and(!RUNNING & !SCHEDULED, Ordering::AcqRel);
        // SAFETY: the runnable's reference, ours to give up (a wake during
        // the poll left `SCHEDULED` set and no runnable: cleared above).
        unsafe { release(ptr, state) };
    }
}

/// Ends a run: takes the handle's awaiter if `state` (read as the run let
/// go of the task) says one waits, gives up the runnable's reference, then
/// wakes the awaiter, once the task may be gone.
///
/// # Safety
///
/// `ptr` is a live task and the caller owns the runnable's reference.
unsafe fn release(ptr: *const (), state: usize) {
    let awaiter = if state & AWAITER != 0 {
        // SAFETY: our reference keeps the task alive here.
        unsafe { core(ptr) }.take(None)
    } else {
        None
    };
    // SAFETY: the caller's reference, given up; the task is not used after.
    unsafe { drop_ref(ptr) };
    if let Some(waker) = awaiter {
        abort_on_panic(|| waker.wake());
    }
}
