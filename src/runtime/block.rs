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
/// # Panics
///
/// Inside a bevy_coro task or pump: blocking there stalls a worker or the
/// frame, and can wait forever for work that only this thread would run.
/// Await the future instead.
pub fn block_on<F: Future>(future: F) -> F::Output {
    assert!(
        !context::in_scheduler(),
        "bevy_coro: `block_on` (or `Task::block`) was called inside a task or the pump; \
         it would block this worker or the frame, maybe forever: `.await` the future instead"
    );
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
