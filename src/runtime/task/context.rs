//! Thread-local context: which task is being polled, and whether this thread is
//! one of a runtime's workers or inside its pump.
//!
//! The context is what lets `.on::<A>()`, `yield_now()` and `with_world` find the
//! task they run in without being handed anything. It is set by the task body
//! around each poll (see `task::TaskBody`) and by the drivers (worker loop,
//! rescue loop, pump), and by `block_on` around the future it waits for.

use std::cell::Cell;
use std::ptr;
use std::thread::ThreadId;

use crate::runtime::Shared;
use crate::runtime::task::header::Header;
use crate::runtime::task::options::Side;

thread_local! {
    /// The header of the task being polled on this thread, or null.
    static CURRENT_TASK: Cell<*const Header> = const { Cell::new(ptr::null()) };
    /// The runtime this thread is a worker of, or null.
    static WORKER_OF: Cell<*const Shared> = const { Cell::new(ptr::null()) };
    /// This worker's index in its runtime (meaningful when `WORKER_OF` is set).
    static WORKER_INDEX: Cell<usize> = const { Cell::new(0) };
    /// The runtime whose pump is running on this thread, or null.
    static PUMPING: Cell<*const Shared> = const { Cell::new(ptr::null()) };
    /// Whether that pump is polling a worker task (the single-threaded mode).
    static WORKER_IN_PUMP: Cell<bool> = const { Cell::new(false) };
    /// The main task that asked, during its poll, to wait for its turn in
    /// this pump rather than the next frame (see [`wait_for_turn`]), or null.
    static TURN: Cell<*const Header> = const { Cell::new(ptr::null()) };
    /// Scheduler loops and pumps running on this thread (nested pumps count
    /// twice): all this thread does meanwhile is scheduler work, task polls
    /// and also the drops of futures outside any poll (a cancelled task's).
    static SCHEDULER_WORK: Cell<u32> = const { Cell::new(0) };
    /// The resume point whose run is polling tasks on this thread, plus one
    /// (0: none); meaningful while `PUMPING` is set.
    static POINT: Cell<usize> = const { Cell::new(0) };
    /// Whether `block_on` is waiting on this thread.
    static BLOCKING: Cell<bool> = const { Cell::new(false) };
    /// This thread's id, kept: `thread::current()` takes a reference on
    /// the thread's handle, a pair of atomic operations every pump.
    static THREAD_ID: ThreadId = std::thread::current().id();
}

/// The calling thread's id (what `thread::current().id()` gives).
#[inline]
pub(crate) fn thread_id() -> ThreadId {
    THREAD_ID.with(|id| *id)
}

/// Restores the previous current task when dropped, also during unwinding.
pub(crate) struct TaskGuard(*const Header);

impl Drop for TaskGuard {
    fn drop(&mut self) {
        CURRENT_TASK.set(self.0);
    }
}

/// Marks `header` as the task being polled until the guard drops.
#[inline]
pub(crate) fn enter_task(header: &Header) -> TaskGuard {
    TaskGuard(CURRENT_TASK.replace(header))
}

/// Calls `f` with the header of the task being polled on this thread, if any.
#[inline]
pub(crate) fn with_current_task<R>(f: impl FnOnce(Option<&Header>) -> R) -> R {
    let ptr = CURRENT_TASK.get();
    // SAFETY: `CURRENT_TASK` is non-null only between `enter_task` and the drop of
    // its guard, which both happen inside `TaskBody::poll`. The header lives in the
    // same allocation as the task body and outlives it, so it is alive for the whole
    // poll, and the reference does not escape `f`.
    f(unsafe { ptr.as_ref() })
}

/// Whether a task is being polled on this thread right now (its own code
/// runs, rather than the scheduler around it).
#[inline]
pub(crate) fn in_task_poll() -> bool {
    !CURRENT_TASK.get().is_null()
}

/// Marks this thread as worker `index` of `shared` for the rest of its life.
pub(crate) fn set_worker(shared: &Shared, index: usize) {
    WORKER_OF.set(shared);
    WORKER_INDEX.set(index);
}

/// The index of this thread among `shared`'s workers, if it is one.
#[inline]
pub(crate) fn worker_index(shared: &Shared) -> Option<usize> {
    ptr::eq(WORKER_OF.get(), shared).then(|| WORKER_INDEX.get())
}

/// Restores the previous pump marker when dropped.
pub(crate) struct PumpGuard(*const Shared, bool);

impl Drop for PumpGuard {
    fn drop(&mut self) {
        PUMPING.set(self.0);
        WORKER_IN_PUMP.set(self.1);
    }
}

/// Marks this thread as running `shared`'s pump until the guard drops.
pub(crate) fn enter_pump(shared: &Shared) -> PumpGuard {
    // A pump nested in a worker task's poll polls its own tasks as main ones.
    PumpGuard(PUMPING.replace(shared), WORKER_IN_PUMP.replace(false))
}

/// Restores the previous worker-in-pump marker when dropped.
pub(crate) struct WorkerInPumpGuard(bool);

impl Drop for WorkerInPumpGuard {
    fn drop(&mut self) {
        WORKER_IN_PUMP.set(self.0);
    }
}

/// Marks the pump as polling a worker task (the single-threaded mode) until
/// the guard drops: the poll runs on the worker side, so a hop to the main
/// thread is a hop, and a self-wake with worker affinity is a yield.
pub(crate) fn enter_worker_in_pump() -> WorkerInPumpGuard {
    WorkerInPumpGuard(WORKER_IN_PUMP.replace(true))
}

/// Whether the pump running on this thread polls a worker task now.
#[inline]
pub(crate) fn is_worker_in_pump() -> bool {
    WORKER_IN_PUMP.get()
}

/// Whether this thread is inside `shared`'s pump right now.
#[inline]
pub(crate) fn is_pumping(shared: &Shared) -> bool {
    ptr::eq(PUMPING.get(), shared)
}

/// Which side of `shared` this thread is running: [`Side::Main`] inside its
/// pump (but [`Side::Worker`] while it polls a worker task, in the
/// single-threaded mode), [`Side::Worker`] on one of its workers, `None`
/// elsewhere.
pub(crate) fn side(shared: &Shared) -> Option<Side> {
    if is_pumping(shared) {
        Some(if is_worker_in_pump() {
            Side::Worker
        } else {
            Side::Main
        })
    } else if worker_index(shared).is_some() {
        Some(Side::Worker)
    } else {
        None
    }
}

/// Restores the previous resume point marker when dropped.
pub(crate) struct PointGuard(usize);

impl Drop for PointGuard {
    fn drop(&mut self) {
        POINT.set(self.0);
    }
}

/// Marks this thread's pump as the run of resume point `index` until the
/// guard drops.
pub(crate) fn enter_point(index: usize) -> PointGuard {
    PointGuard(POINT.replace(index + 1))
}

/// The resume point whose run polls tasks on this thread for `shared`, if any.
pub(crate) fn at_point(shared: &Shared) -> Option<usize> {
    if is_pumping(shared) {
        POINT.get().checked_sub(1)
    } else {
        None
    }
}

/// Marks the main task being polled as waiting for a turn later in this
/// pump: its self-wake goes to the back of the ready queue, not to the next
/// frame. Only pointer equality is used: the header is never read through it.
pub(crate) fn wait_for_turn() {
    TURN.set(CURRENT_TASK.get());
}

/// Whether `header`'s self-wake asked for a turn in this pump; consumes the
/// request.
#[inline]
pub(crate) fn takes_turn(header: &Header) -> bool {
    let asked = ptr::eq(TURN.get(), header);
    if asked {
        TURN.set(ptr::null());
    }
    asked
}

/// Drops a turn request nobody consumed (the task was not rescheduled), so
/// a later task at the same address cannot inherit it.
#[inline]
pub(crate) fn forget_turn() {
    TURN.set(ptr::null());
}

/// Ends a stretch of scheduler work when dropped, also during unwinding.
pub(crate) struct WorkGuard(());

impl Drop for WorkGuard {
    fn drop(&mut self) {
        SCHEDULER_WORK.set(SCHEDULER_WORK.get() - 1);
    }
}

/// Marks this thread as running scheduler work (a worker's or the rescue
/// thread's loop, a pump) until the guard drops.
pub(crate) fn enter_scheduler_work() -> WorkGuard {
    SCHEDULER_WORK.set(SCHEDULER_WORK.get() + 1);
    WorkGuard(())
}

/// Whether this thread is polling a task, running a pump, or running a
/// scheduler loop (a worker dropping a cancelled task's future is one): a
/// wait here would hold up the scheduler, maybe forever.
pub(crate) fn in_scheduler() -> bool {
    !CURRENT_TASK.get().is_null() || !PUMPING.get().is_null() || SCHEDULER_WORK.get() > 0
}

/// Restores the previous `block_on` marker when dropped.
pub(crate) struct BlockGuard(bool);

impl Drop for BlockGuard {
    fn drop(&mut self) {
        BLOCKING.set(self.0);
    }
}

/// Marks this thread as waiting in `block_on` until the guard drops.
pub(crate) fn enter_block_on() -> BlockGuard {
    BlockGuard(BLOCKING.replace(true))
}

/// Whether what is polled now is polled by a `block_on` of this thread, for
/// plain code: not by a task or a pump (which a `block_on`'s future might
/// run, however odd).
pub(crate) fn in_block_on() -> bool {
    BLOCKING.get() && !in_scheduler()
}

/// Whether the task being polled on this thread is polled by its own
/// runtime's pump, on the main thread (where the `World` is lent).
pub(crate) fn current_task_in_pump() -> bool {
    with_current_task(|task| task.is_some_and(|task| is_pumping(&task.shared)))
}
