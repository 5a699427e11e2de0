//! The task allocation: one block per task holding its state word, the
//! waker of whoever awaits its handle, the scheduler's header, and its
//! future (then its output).
//!
//! Why not async-task's, which this follows in its states and transitions:
//! - **Memory.** async-task adds a panic flag after the header (8 bytes with
//!   padding) and keeps a panic payload beside the output (16 bytes for any
//!   output); our tasks catch their panics in their body. And the registry
//!   of parked tasks (see `parked`) needs a reference that can wake a task;
//!   with async-task that is a 16-byte `Waker`, here a one-word [`TaskRef`],
//!   as every task shares one waker vtable. A parked task of a small future
//!   takes 72 bytes and 8 in the registry (async-task: 88 and 16).
//! - **No schedule closure.** The schedule function is a type ([`Schedule`]),
//!   so nothing of it is stored.
//!
//! The states (see `state.rs`) are async-task's; their transitions are in
//! `run.rs` (a run), `waker.rs` (a wake, the last reference), `runnable.rs`
//! (a runnable dropped unrun) and `handle.rs` (the handle's poll, close and
//! drop). `loom/tasks.rs` model-checks them with loom's atomics and cells.

use std::future::Future;

mod blocks;
mod cell;
mod handle;
mod run;
mod runnable;
mod state;
mod waker;

// (The loom models use no `TaskRef`: they build the raw module alone.)
#[cfg_attr(loom, allow(unused_imports))]
pub(crate) use blocks::trim as trim_blocks;
#[cfg_attr(loom, allow(unused_imports))]
pub(crate) use handle::{JoinHandle, TaskRef};
pub(crate) use runnable::Runnable;

use cell::Ops;

/// Where a task goes when it is woken: the scheduler's routing.
pub(crate) trait Schedule<M>: 'static {
    /// Takes a task that was woken (or spawned, or yielded).
    fn schedule(runnable: Runnable<M>, info: ScheduleInfo);
}

/// What the schedule function is told about a wake.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ScheduleInfo {
    /// The task woke itself during its own poll (a yield), and is scheduled
    /// as that poll ends.
    pub(crate) woken_while_running: bool,
}

/// Allocates a task with header `meta` and the future `body` makes from the
/// header (in place: it may keep a pointer to it). Returns its first
/// runnable (not scheduled yet) and its handle.
///
/// # Safety
///
/// The future and its output may be used on whichever thread runs the
/// runnables and holds the handle: if `F` or its output is not `Send`, or
/// not `'static`, the caller keeps every runnable and the handle where they
/// may be used, for as long as they may.
pub(crate) unsafe fn spawn<F, S, M>(
    meta: M,
    body: impl FnOnce(&M) -> F,
) -> (Runnable<M>, JoinHandle<F::Output, M>)
where
    F: Future,
    S: Schedule<M>,
{
    let ptr = Ops::<F, S, M>::allocate(meta, body);
    // SAFETY: a new task holds one reference (the runnable's) and `HANDLE`,
    // and its output and header are of these types.
    unsafe { (Runnable::from_raw(ptr), JoinHandle::new(ptr)) }
}

/// Runs `f`, aborting the process if it panics: for drops and wakes inside
/// a state transition, which a panic would leave half done.
#[inline]
fn abort_on_panic<T>(f: impl FnOnce() -> T) -> T {
    struct Abort;
    impl Drop for Abort {
        fn drop(&mut self) {
            std::process::abort();
        }
    }
    let abort = Abort;
    let value = f();
    std::mem::forget(abort);
    value
}

/// A reference on a task that was closed at once: for tests of what keeps
/// references (its wakes do nothing).
#[cfg(all(test, not(loom)))]
pub(crate) fn closed_task_ref() -> TaskRef {
    struct Drops;
    impl Schedule<()> for Drops {
        fn schedule(runnable: Runnable<()>, _: ScheduleInfo) {
            drop(runnable);
        }
    }
    // SAFETY: the future is `Send` and `'static`.
    let (runnable, handle) = unsafe { spawn::<_, Drops, ()>((), |_| std::future::pending::<()>()) };
    // SAFETY: the runnable's header is a live task's.
    let task = unsafe { TaskRef::new(runnable.metadata()) };
    drop(runnable);
    drop(handle);
    task
}

#[cfg(all(test, not(loom)))]
mod tests;
