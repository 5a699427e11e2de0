//! [`JoinHandle`]: the task's output, awaited; and [`TaskRef`]: a one-word
//! reference that can wake the task (the parked-task registry's).

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll, RawWaker, Waker};

use super::cell::{core, from_meta, meta};
use super::state::*;
use super::waker::{RAW_WAKER, add_reference, schedule_woken};
use crate::runtime::sync::Ordering;

/// The handle of a task: awaiting it gives `Some(output)`, or `None` when
/// the task was closed before it finished. Dropping it closes the task (its
/// future is dropped where the scheduler drops futures).
pub(crate) struct JoinHandle<T, M> {
    /// The task; the handle holds it through the `HANDLE` bit.
    ptr: NonNull<()>,
    _marker: PhantomData<(T, M)>,
}

// SAFETY: the handle takes the output (`T: Send`) and reads the header
// (`M: Sync`) and the state word (atomic) from whichever thread holds it.
unsafe impl<T: Send, M: Send + Sync> Send for JoinHandle<T, M> {}
// SAFETY: `&JoinHandle` only reads the header and the state word.
unsafe impl<T, M: Sync> Sync for JoinHandle<T, M> {}

impl<T, M> JoinHandle<T, M> {
    /// # Safety
    ///
    /// `ptr` is a new task whose `HANDLE` bit this handle takes over, with
    /// an output of type `T` and a header of type `M`.
    pub(super) unsafe fn new(ptr: NonNull<()>) -> Self {
        JoinHandle {
            ptr,
            _marker: PhantomData,
        }
    }

    /// The scheduler's header of the task.
    pub(crate) fn metadata(&self) -> &M {
        // SAFETY: the `HANDLE` bit keeps the task alive; its header is an `M`.
        unsafe { meta(self.ptr.as_ptr()) }
    }

    /// Whether the task completed or was closed.
    pub(crate) fn is_finished(&self) -> bool {
        // SAFETY: the `HANDLE` bit keeps the task alive.
        let state = unsafe { core(self.ptr.as_ptr()) }
            .state
            .load(Ordering::Acquire);
        state & (COMPLETED | CLOSED) != 0
    }

    /// Lets the task run on without a handle; its output will be dropped.
    pub(crate) fn detach(self) {
        let mut this = std::mem::ManuallyDrop::new(self);
        drop(this.let_go());
    }

    /// Closes the task unless it finished: a scheduled or running task drops
    /// its future at its next run, an idle one is scheduled to do so.
    fn close(&mut self) {
        let ptr = self.ptr.as_ptr();
        // SAFETY: the `HANDLE` bit keeps the task alive.
        let core = unsafe { core(ptr) };
        let mut state = core.state.load(Ordering::Acquire);
        loop {
            if state & (COMPLETED | CLOSED) != 0 {
                return;
            }
            let new = if state & (SCHEDULED | RUNNING) == 0 {
                (state | SCHEDULED | CLOSED) + REFERENCE
            } else {
                state | CLOSED
            };
            match core
                .state
                .compare_exchange_weak(state, new, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    if state & (SCHEDULED | RUNNING) == 0 {
                        // SAFETY: the reference added above is the runnable's.
                        unsafe { schedule_woken(ptr) };
                    }
                    if state & AWAITER != 0 {
                        core.notify(None);
                    }
                    return;
                }
                Err(actual) => state = actual,
            }
        }
    }

    /// Gives up the `HANDLE` bit, taking the output if it is there and not
    /// taken; frees the task if nothing else holds it.
    fn let_go(&mut self) -> Option<T> {
        let ptr = self.ptr.as_ptr();
        // SAFETY: the `HANDLE` bit keeps the task alive until we clear it.
        let core = unsafe { core(ptr) };
        let mut output = None;
        // The common case: still scheduled from its spawn, nothing else.
        let Err(mut state) = core.state.compare_exchange_weak(
            SCHEDULED | HANDLE | REFERENCE,
            SCHEDULED | REFERENCE,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) else {
            return None;
        };
        loop {
            if state & COMPLETED != 0 && state & CLOSED == 0 {
                // Completed and not taken: take it, marking it taken.
                match core.state.compare_exchange_weak(
                    state,
                    state | CLOSED,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => {
                        // SAFETY: completed, and `CLOSED` set by us: the
                        // output is ours, read once.
                        output = Some(unsafe { ((core.vtable.output)(ptr) as *mut T).read() });
                        state |= CLOSED;
                    }
                    Err(actual) => state = actual,
                }
            } else {
                // No reference left and not closed: schedule it once more,
                // closed, so its future is dropped by the scheduler.
                let new = if state & (!(REFERENCE - 1) | CLOSED) == 0 {
                    SCHEDULED | CLOSED | REFERENCE
                } else {
                    state & !HANDLE
                };
                match core.state.compare_exchange_weak(
                    state,
                    new,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => {
                        if state & !(REFERENCE - 1) == 0 {
                            if state & CLOSED == 0 {
                                // SAFETY: the reference stored above is the
                                // runnable's.
                                unsafe { schedule_woken(ptr) };
                            } else {
                                // SAFETY: no reference, no handle: ours to free.
                                unsafe { (core.vtable.destroy)(ptr) };
                            }
                        }
                        return output;
                    }
                    Err(actual) => state = actual,
                }
            }
        }
    }

    /// Polls for the output: `Some` once it is there, `None` if the task was
    /// closed first.
    fn poll_output(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let ptr = self.ptr.as_ptr();
        // SAFETY: the `HANDLE` bit keeps the task alive.
        let core = unsafe { core(ptr) };
        let mut state = core.state.load(Ordering::Acquire);
        loop {
            if state & CLOSED != 0 {
                // Closed: its future may still be dropping, on another
                // thread; wait for that to end, so that whatever it drops
                // is gone when the handle says so.
                if state & (SCHEDULED | RUNNING) != 0 {
                    core.register(cx.waker());
                    state = core.state.load(Ordering::Acquire);
                    if state & (SCHEDULED | RUNNING) != 0 {
                        return Poll::Pending;
                    }
                }
                core.notify(Some(cx.waker()));
                return Poll::Ready(None);
            }
            if state & COMPLETED == 0 {
                core.register(cx.waker());
                state = core.state.load(Ordering::Acquire);
                if state & CLOSED != 0 {
                    continue;
                }
                if state & COMPLETED == 0 {
                    return Poll::Pending;
                }
            }
            match core.state.compare_exchange(
                state,
                state | CLOSED,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    if state & AWAITER != 0 {
                        core.notify(Some(cx.waker()));
                    }
                    // SAFETY: completed, and `CLOSED` set by us: the output
                    // is ours, read once.
                    let output = unsafe { ((core.vtable.output)(ptr) as *mut T).read() };
                    return Poll::Ready(Some(output));
                }
                Err(actual) => state = actual,
            }
        }
    }
}

impl<T, M> Future for JoinHandle<T, M> {
    type Output = Option<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.poll_output(cx)
    }
}

impl<T, M> Unpin for JoinHandle<T, M> {}

impl<T, M> Drop for JoinHandle<T, M> {
    fn drop(&mut self) {
        self.close();
        drop(self.let_go());
    }
}

impl<T, M> std::fmt::Debug for JoinHandle<T, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinHandle")
            .field("ptr", &self.ptr)
            .finish()
    }
}

/// One reference on a task, in one word, that can become its waker: what
/// the parked-task registry keeps of each parked task.
pub(crate) struct TaskRef(NonNull<()>);

// SAFETY: a `TaskRef` is a waker in one word: wakers are `Send + Sync`.
unsafe impl Send for TaskRef {}
// SAFETY: as above.
unsafe impl Sync for TaskRef {}

impl TaskRef {
    /// A reference on the task whose header is `meta`.
    ///
    /// # Safety
    ///
    /// `meta` is a task's header (from a `Runnable`, a `JoinHandle`, or a
    /// pointer the task's body keeps to it), and the task is alive. The
    /// last reference may drop the header on any thread: `M` must be
    /// `Send + Sync`, or every reference stay on one thread.
    pub(crate) unsafe fn new<M>(meta: &M) -> Self {
        // SAFETY: the caller's.
        let ptr = unsafe { from_meta(meta) };
        // SAFETY: the task is alive; the reference added is the new `TaskRef`'s.
        unsafe { add_reference(ptr) };
        // SAFETY: a task pointer is never null.
        TaskRef(unsafe { NonNull::new_unchecked(ptr as *mut ()) })
    }

    /// The task's waker, taking over this reference.
    pub(crate) fn into_waker(self) -> Waker {
        let ptr = self.into_raw().as_ptr() as *const ();
        // SAFETY: a waker of `RAW_WAKER` is a task pointer owning one
        // reference, which we hand over.
        unsafe { Waker::from_raw(RawWaker::new(ptr, &RAW_WAKER)) }
    }

    /// Wakes the task, keeping this reference.
    pub(crate) fn wake_by_ref(&self) {
        // SAFETY: our reference keeps the task alive.
        unsafe { super::waker::wake_by_ref(self.0.as_ptr()) }
    }

    /// The task pointer (aligned to at least a pointer's alignment),
    /// keeping the reference.
    pub(crate) fn into_raw(self) -> NonNull<()> {
        let ptr = self.0;
        std::mem::forget(self);
        ptr
    }

    /// Takes back a `TaskRef` from [`TaskRef::into_raw`].
    ///
    /// # Safety
    ///
    /// `ptr` came from `into_raw` and is taken back once.
    pub(crate) unsafe fn from_raw(ptr: NonNull<()>) -> Self {
        TaskRef(ptr)
    }
}

impl Clone for TaskRef {
    fn clone(&self) -> Self {
        // SAFETY: our reference keeps the task alive; the one added is the
        // clone's.
        unsafe { add_reference(self.0.as_ptr()) };
        TaskRef(self.0)
    }
}

impl Drop for TaskRef {
    fn drop(&mut self) {
        // SAFETY: our reference, given up as a waker's would be.
        unsafe { super::waker::drop_waker(self.0.as_ptr()) }
    }
}
