//! The task body that wraps every spawned future: the task context around
//! each poll, a cancel flag turned into [`TaskError::Cancelled`], a panic
//! into [`TaskError::Panicked`] (whatever its payload), and the task
//! deregistered once its future is gone.

use std::any::Any;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll};

use super::TaskError;
use super::context;
use super::header::Header;
use crate::runtime::diag::task_list::Polling;

/// Polls `future`, turning a panic into its message.
pub(crate) fn catch_poll<F: Future>(
    future: Pin<&mut F>,
    cx: &mut Context<'_>,
) -> Poll<Result<F::Output, String>> {
    match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
        Ok(poll) => poll.map(Ok),
        Err(payload) => Poll::Ready(Err(panic_message(payload))),
    }
}

/// The text of a panic payload, as the default panic hook would print it.
/// Takes the payload to drop it safely (see [`drop_payload`]).
pub(crate) fn panic_message(payload: Box<dyn Any + Send>) -> String {
    let message = if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "Box<dyn Any>".to_owned()
    };
    drop_payload(payload);
    message
}

/// Drops a caught panic's payload without letting a panic out: a payload is
/// any value (`panic_any`), and its `Drop` may panic too. That second panic
/// is caught, and its own payload leaked rather than risk a third.
pub(crate) fn drop_payload(payload: Box<dyn Any + Send>) {
    if let Err(again) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        std::mem::forget(again);
    }
}

/// Wraps every spawned future: sets the task context around each poll, turns a
/// cancel flag into [`TaskError::Cancelled`] and a panic into
/// [`TaskError::Panicked`], and deregisters the task once its future is gone.
pub(crate) struct TaskBody<F> {
    header: NonNull<Header>,
    future: ManuallyDrop<F>,
}

impl<F> TaskBody<F> {
    /// The body of the task whose header is `header`.
    pub(crate) fn new(header: &Header, future: F) -> Self {
        TaskBody {
            header: NonNull::from(header),
            future: ManuallyDrop::new(future),
        }
    }
}

/// A task's failure as stored in its allocation: one pointer, so that with
/// a `()` output the task's output slot is one word, not 24 bytes (a
/// `TaskError` holds a `String`). Only a cancelled or panicked task
/// allocates it.
pub(crate) struct Failed(Box<TaskError>);

impl Failed {
    /// The error, out of its box.
    pub(crate) fn into_error(self) -> TaskError {
        *self.0
    }
}

impl<F: Future> Future for TaskBody<F> {
    type Output = Output<Result<F::Output, Failed>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let header = self.header;
        // SAFETY: the header is the task's metadata, kept in the same
        // allocation as this body and dropped only when the allocation is
        // freed, after the body has been dropped; so it outlives this poll. The
        // copied pointer does not borrow `self`, so the future can be pinned below.
        let header = unsafe { header.as_ref() };
        if header.is_cancelled() {
            #[cfg(feature = "trace")]
            tracing::debug!(target: "bevy_coro", task = %header.name(), "task cancelled");
            return Poll::Ready(Output::new(Err(Failed(Box::new(TaskError::Cancelled)))));
        }
        let _task = context::enter_task(header);
        #[cfg(feature = "trace")]
        let _span = crate::runtime::diag::trace::enter_poll(&header.callsite, || {
            crate::runtime::diag::trace::PollInfo {
                key: header.name_key(),
                id: header.id(),
                affinity: header.affinity().name(),
            }
        });
        // SAFETY: `future` is structurally pinned: it is never moved out of the
        // body, and it is dropped in place (in `Drop`), never after a move.
        let future = unsafe { self.map_unchecked_mut(|body| &mut *body.future) };
        // Deterministic mode: the future gets a waker whose clones left after
        // the poll tell whether the task waits on anything else than task
        // handles (see `wait_graph`); with the task list, one that marks the
        // task queued (see `task_list`). Elsewhere the common case stays one
        // call.
        let poll = if header.shared.watched {
            poll_watched(header, future, cx)
        } else {
            catch_poll(future, cx)
        };
        // Parking for the first time: file a waker, so shutdown and cancels
        // reach the task (see `parked`).
        if poll.is_pending() && header.register() {
            cx.waker().wake_by_ref();
        }
        if poll.is_ready() {
            // Before the task is marked finished: from then on no
            // cancel of this task may reach the children it leaves running.
            header.finish();
        }
        poll.map(|result| {
            Output::new(result.map_err(|message| {
                header.shared.counters.panic();
                #[cfg(feature = "trace")]
                tracing::error!(target: "bevy_coro", task = %header.name(), panic = %message, "task panicked");
                Failed(Box::new(TaskError::Panicked(message)))
            }))
        })
    }
}

/// Polls a task's future with the wait graph (deterministic mode, or
/// stuck-task reports) or the task list (`track_tasks`) watching: kept out
/// of line, off the common path.
#[cold]
#[inline(never)]
fn poll_watched<F: Future>(
    header: &Header,
    future: Pin<&mut F>,
    cx: &mut Context<'_>,
) -> Poll<Result<F::Output, String>> {
    let polling = header
        .shared
        .tasks
        .as_ref()
        .and_then(|tasks| tasks.poll_starts(header, cx.waker()));
    let tracked_waker = polling.as_ref().map(Polling::waker);
    let waker = tracked_waker.as_ref().unwrap_or(cx.waker());
    let poll = match &header.shared.wait_graph {
        None => catch_poll(future, &mut Context::from_waker(waker)),
        Some(wait_graph) => {
            let frame = header.shared.main.frame();
            if header.shared.deterministic.is_some() {
                let (waker, _tracking) = wait_graph.polled_tracked(header, frame, waker);
                catch_poll(future, &mut Context::from_waker(&waker))
            } else {
                wait_graph.polled(header, frame);
                catch_poll(future, &mut Context::from_waker(waker))
            }
        }
    };
    if let Some(polling) = polling {
        polling.end(poll.is_pending(), header.affinity());
    }
    poll
}

/// A task's output as the task keeps it: its `Drop` never unwinds. An
/// output nobody took (a detached task's, or one whose handle was dropped)
/// is dropped inside an abort-on-panic guard (a state transition), so an
/// output whose `Drop` panics would abort the process; here that panic is
/// contained.
pub(crate) struct Output<T>(ManuallyDrop<T>);

impl<T> Output<T> {
    pub(crate) fn new(value: T) -> Self {
        Output(ManuallyDrop::new(value))
    }

    pub(crate) fn into_inner(self) -> T {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` is never dropped (it is in a `ManuallyDrop`), so the
        // value is taken exactly once and never dropped by `Output::drop`.
        unsafe { ManuallyDrop::take(&mut this.0) }
    }
}

impl<T> Drop for Output<T> {
    fn drop(&mut self) {
        let dropped = catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: dropped exactly once, here; the value is never used
            // after (`into_inner` forgets the wrapper instead of dropping it).
            unsafe { ManuallyDrop::drop(&mut self.0) }
        }));
        if let Err(payload) = dropped {
            drop_payload(payload);
        }
    }
}

impl<F> Drop for TaskBody<F> {
    fn drop(&mut self) {
        /// Deregisters after the future is dropped, even if its `Drop` panics.
        struct Deregister<'a>(&'a Header);
        impl Drop for Deregister<'_> {
            fn drop(&mut self) {
                let shared = &self.0.shared;
                if shared.watched {
                    if let Some(wait_graph) = &shared.wait_graph {
                        wait_graph.gone(self.0);
                    }
                    if let Some(tasks) = &shared.tasks {
                        tasks.gone(self.0);
                    }
                }
                self.0.shared.parked.remove(self.0.slot());
                self.0.shared.in_flight.sub();
            }
        }
        let header = self.header;
        // SAFETY: the header outlives the body (see `poll`).
        let _deregister = Deregister(unsafe { header.as_ref() });
        // A panic escaping here would abort the process (futures are dropped
        // in an abort-on-panic guard); a panicking `Drop` of the future
        // only loses what it did not finish dropping.
        let dropped = catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: the future is dropped exactly once, here, in place, and
            // the body is never used after its `Drop`.
            unsafe { ManuallyDrop::drop(&mut self.future) }
        }));
        if let Err(payload) = dropped {
            drop_payload(payload);
        }
        // Its cleanups were dropped if it ended: any left are a cancelled
        // task's (or a shutdown's, which drops them).
        super::cleanup::future_dropped(_deregister.0);
    }
}
