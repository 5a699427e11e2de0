//! Routing: where a woken task goes. The task calls [`schedule`] every
//! time a task is woken; it reads the task's header and pushes the task onto
//! the queue of the side it runs on now (the main queue, a resume point's,
//! the workers', the pump's worker queue in the single-threaded mode, or the
//! deterministic picker's). A hop is only a header write and a wake: the
//! routing here does the rest. [`run`] polls what a queue gives back.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::thread;

use crate::runtime::Shared;
use crate::runtime::task::context;
use crate::runtime::task::header::Header;
use crate::runtime::task::options::Side;
use crate::runtime::task::raw::{Runnable, Schedule, ScheduleInfo};

/// The schedule function of every task, as a type: [`schedule`].
pub(crate) struct Route;

impl Schedule<Header> for Route {
    #[inline]
    fn schedule(runnable: Runnable<Header>, info: ScheduleInfo) {
        schedule(runnable, info)
    }
}

/// The schedule function of every task. It captures nothing (the runtime is
/// in the header), so nothing of it is stored in the task.
pub(crate) fn schedule(runnable: Runnable<Header>, info: ScheduleInfo) {
    let shared: *const Shared = &*runnable.metadata().shared;
    // SAFETY: while `runnable` lives, its header's `Arc` keeps `Shared`
    // alive. Once `route` has handed the runnable to a queue,
    // the task may run and be freed on another thread at once, so that `Arc`
    // may be gone; but every thread that takes runnables out of the queues
    // holds an `Arc` of its own for as long as it may: each worker and the
    // rescue thread (cloned in `Workers::start`), the pump and shutdown
    // (called through a `Runtime`).
    // A refused runnable comes back to this call, still alive. So `Shared`
    // outlives this call.
    route(unsafe { &*shared }, runnable, info)
}

/// Routes a woken task by the side in its header.
fn route(this: &Shared, runnable: Runnable<Header>, info: ScheduleInfo) {
    let header = runnable.metadata();
    // A local task goes to the main queue whatever its header says: its
    // future must never be polled anywhere else.
    // Woken in its own poll, in the pump: a yield, unless the task changed
    // sides (a hop, in the single-threaded mode, where both are the pump).
    // (Read only where it matters: a worker's yield reads no thread-local.)
    let in_pump = || info.woken_while_running && context::is_pumping(this);
    let rejected = if let Some(point) = header.point()
        && context::at_point(this) == Some(point)
    {
        // Woken by the run of the resume point it waits for: that run polls
        // it. Other wakes (a cancel, a timeout's timer) go where its affinity
        // says, as ever.
        this.points.push(point, runnable)
    } else if header.affinity() == Side::Main || header.is_local() {
        // A self-wake in the pump waits for the next frame, unless the task
        // asked for a turn in this one (an interval catching up).
        let yielded = in_pump() && !context::is_worker_in_pump() && !context::takes_turn(header);
        this.main.push(runnable, yielded)
    } else if let Some(deterministic) = &this.deterministic {
        deterministic.push(runnable)
    } else if let Some(worker_tasks) = this.main.worker_tasks() {
        // The single-threaded mode: the pump runs worker tasks too.
        worker_tasks.push(runnable, in_pump() && context::is_worker_in_pump())
    } else {
        this.workers.push(this, runnable, info.woken_while_running)
    };
    if let Some(runnable) = rejected {
        refused(runnable);
    }
}

/// A task the closed scheduler refused: to the graveyard. Out of line, so
/// that a yield's path through `route` stays short.
#[cold]
#[inline(never)]
fn refused(runnable: Runnable<Header>) {
    // A counted reference, for a burial that may have to outlive this call.
    let shared = runnable.metadata().shared.to_arc();
    if !shared.graveyard.keep(runnable) {
        return;
    }
    // A wake after shutdown's last burial (a foreign thread's): bury
    // on a thread of our own, as this `wake` may hold its caller's
    // lock, which the task's `Drop` may want.
    let _ = thread::Builder::new()
        .name("bevy_coro burial".into())
        .spawn(move || shared.bury_graveyard());
}

/// Polls a task once. A panic in the task's poll is caught by the task body; a
/// panic escaping here (from a future's `Drop`) must not end a worker or the pump.
pub(crate) fn run(runnable: Runnable<Header>) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(|| runnable.run())) {
        crate::runtime::task::drop_payload(payload);
    }
}
