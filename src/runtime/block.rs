//! [`block_on`]: waiting for a future from plain code, outside the scheduler.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

use crate::runtime::task::context;

/// Wakes a thread parked in `block_on`.
struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs `future` to its end on this thread, sleeping while it waits: for
/// setup code, tools and tests, outside the scheduler.
///
/// ```
/// # use bevy_coro::runtime::{Runtime, RuntimeConfig, block_on};
/// # use bevy_coro::prelude::*;
/// let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
/// let answer = block_on(runtime.spawn::<Worker>(async { 6 * 7 }));
/// assert_eq!(answer, Ok(42));
/// ```
///
/// A [`Task`](super::Task) it waits for, directly or inside the future
/// (`block_on(async { task.await })`, a `join` of tasks), gives
/// [`TaskError::Cancelled`](super::TaskError::Cancelled) at once if its
/// scheduler is shutting down or shut down: nothing will run it again. So a
/// `Drop` that waits for a sibling task does not hang the runtime's (or the
/// App's) drop.
///
/// # Panics
///
/// - Inside a bevy_coro task or pump, or on a worker thread, also outside a
///   poll (the `Drop` of a cancelled worker task's future runs there):
///   blocking there stalls a worker or the frame, and can wait forever for
///   work that only this thread would run. Await the future instead.
/// - On a runtime's main thread, when the future awaits a
///   [`Task`](super::Task) of that runtime that only its pump can run (a
///   main-thread task, a task hopped to the main thread, or any task in
///   deterministic or single-threaded mode) and that is not finished: the pump cannot run while
///   this thread blocks, so the wait would never end. Pump frames instead,
///   until [`Task::try_take`](super::Task::try_take) gives the result. (A
///   worker task that hops to the main thread only after the wait began is
///   not seen: that wait lasts until the next pump, which never comes.)
pub fn block_on<F: Future>(future: F) -> F::Output {
    assert!(
        !context::in_scheduler(),
        "bevy_coro: `block_on` (or `Task::block`) was called inside a task or the pump, or on a \
         worker thread (in the `Drop` of a task's future, say); it would block this worker or the \
         frame, maybe forever: `.await` the future instead"
    );
    // Tasks polled below check for a wait only the pump could end.
    let _blocking = context::enter_block_on();
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        thread::park();
    }
}
