//! Tasks: the [`Task`] handle and [`TaskError`]; the body that wraps every
//! spawned future (`body`), its header (`header`), spawning (`spawn`), the
//! thread's task context (`context`), parked tasks (`parked`) and the cancel
//! handshake (`cancel_handshake`).

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

mod body;
pub(crate) mod cancel_handshake;
pub(crate) mod cleanup;
pub(crate) mod context;
pub(crate) mod header;
mod node_cell;
pub(crate) mod options;
pub(crate) mod parked;
pub(crate) mod raw;
mod shared;
mod spawn;

pub(crate) use body::{Failed, Output, catch_poll, drop_payload, panic_message};
pub use shared::SharedTask;
pub(crate) use spawn::{Parent, spawn_local, spawn_send, spawn_send_in};

use crate::runtime::diag::task_list::Note;
use crate::runtime::owner::Owner;
use crate::runtime::tree::CancelHandle;
use header::Header;

/// Why a task did not produce its output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskError {
    /// The task was cancelled (by [`Task::cancel`], by dropping its [`Task`], or
    /// because the scheduler shut down) before it finished.
    Cancelled,
    /// The task panicked; this is the panic message.
    Panicked(String),
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Cancelled => f.write_str("task was cancelled"),
            TaskError::Panicked(message) => write!(f, "task panicked: {message}"),
        }
    }
}

impl std::error::Error for TaskError {}

/// A handle to a spawned task, and a future of its result.
///
/// Awaiting a `Task<T>` gives `Ok(T)` when the task finished, or a
/// [`TaskError`] when it was cancelled or panicked. A system that cannot await
/// polls it with [`Task::try_take`] once per frame.
///
/// **Dropping a `Task` cancels the task** (like `async-task`'s and `bevy_tasks`');
/// call [`Task::detach`] to let it run to the end on its own. Dropping the
/// handle of a task that has finished cancels nothing: the children it left
/// running run on.
#[must_use = "dropping a Task cancels it; call `.detach()` to let it run"]
pub struct Task<T> {
    /// `None` once the output was taken or the task was detached.
    /// (`Send` when `T` is, `Sync` always: see `raw::JoinHandle`.)
    inner: Option<raw::JoinHandle<Output<Result<T, Failed>>, Header>>,
}

impl<T> Task<T> {
    fn new(inner: raw::JoinHandle<Output<Result<T, Failed>>, Header>) -> Self {
        Task { inner: Some(inner) }
    }

    fn header(&self) -> Option<&Header> {
        self.inner.as_ref().map(raw::JoinHandle::metadata)
    }

    /// Asks the task to stop. Cancellation is cooperative: a poll in progress
    /// finishes, and the task ends at its next await with
    /// [`TaskError::Cancelled`]. Awaiting the handle afterwards gives that error
    /// (or the output, if the task had already finished).
    ///
    /// The task's descendants are cancelled with it while it runs. Once it has
    /// finished, cancelling it does nothing: the children it left running run
    /// on (a task lets go of its children when it finishes).
    pub fn cancel(&self) {
        if let Some(header) = self.header() {
            header.cancel();
        }
    }

    /// Lets the task run to the end without a handle; its output is dropped.
    pub fn detach(mut self) {
        if let Some(inner) = self.inner.take() {
            inner.detach();
        }
    }

    /// The name given at spawn with [`Handle::task`](crate::runtime::Handle::task), if any.
    pub fn name(&self) -> Option<&'static str> {
        self.header().and_then(Header::given_name)
    }

    /// Where the task was spawned (`None` once the result was taken).
    pub fn spawned_at(&self) -> Option<&'static Location<'static>> {
        self.header().map(Header::location)
    }

    /// A handle that cancels this task (and its descendants) without owning
    /// its result, for whoever decides its lifetime: an entity, a group.
    /// `None` once the result was taken.
    pub fn cancel_handle(&self) -> Option<CancelHandle> {
        self.header()
            .map(|header| CancelHandle::new(header.node().clone(), header.shared.to_arc()))
    }

    /// Lists the task for its driver as tied to `owner`
    /// (see `Handle::take_owned`). Nothing happens once the result was taken
    /// or after shutdown.
    pub(crate) fn tie_to(&self, owner: Owner) {
        if let Some(header) = self.header() {
            if let Some(tasks) = &header.shared.tasks {
                tasks.owned(header, owner.clone());
            }
            let _ = header.shared.owned.push((owner, header.node().clone()));
        }
    }

    /// Waits for the task's result, blocking this thread: for plain code
    /// outside the scheduler (setup, tools, tests). The same as
    /// [`block_on(task)`](super::block_on): a task of a scheduler that is
    /// shutting down or shut down gives [`TaskError::Cancelled`] at once.
    ///
    /// # Panics
    ///
    /// Inside a task or the pump, or on a worker thread (it would block a
    /// worker or the frame; await the task instead), and on the runtime's
    /// main thread for an unfinished task only that thread's pump could run
    /// (a main-thread task, or any task in deterministic mode): waiting there
    /// would wait forever. See [`block_on`](super::block_on).
    pub fn block(self) -> Result<T, TaskError> {
        crate::runtime::block_on(self)
    }

    /// Whether the task has finished (completed, panicked or been cancelled).
    /// Also `true` once the output was taken.
    pub fn is_finished(&self) -> bool {
        self.inner.as_ref().is_none_or(|inner| inner.is_finished())
    }

    /// Takes the result if the task has finished, without waiting: for systems
    /// that poll a task once per frame instead of awaiting it. Returns `Some`
    /// once; after that, and while the task runs, it returns `None`.
    ///
    /// ```
    /// # use bevy_coro::runtime::{Runtime, RuntimeConfig};
    /// # use bevy_coro::prelude::*;
    /// # use std::time::Instant;
    /// # let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    /// let mut task = runtime.spawn::<Main>(async { 6 * 7 });
    /// assert!(task.try_take().is_none()); // not run yet
    /// runtime.pump(Instant::now(), None);
    /// assert_eq!(task.try_take(), Some(Ok(42)));
    /// assert_eq!(task.try_take(), None);
    /// ```
    pub fn try_take(&mut self) -> Option<Result<T, TaskError>> {
        let inner = self.inner.as_mut()?;
        if !inner.is_finished() {
            return None;
        }
        let mut cx = Context::from_waker(Waker::noop());
        match Pin::new(inner).poll(&mut cx) {
            Poll::Ready(result) => {
                self.inner = None;
                Some(outcome(result))
            }
            Poll::Pending => None,
        }
    }
}

impl<T> Drop for Task<T> {
    fn drop(&mut self) {
        // Dropping the handle of a running task cancels it, and so its
        // descendants (the handle's own close, on dropping `inner`, does not
        // know of them). A finished task's children run on.
        if let Some(header) = self.header()
            && !self.is_finished()
        {
            header.cancel();
            // A waiter that gives up on this handle (a lost `select!`) no
            // longer waits on this task.
            if let Some(wait_graph) = &header.shared.wait_graph {
                context::with_current_task(|waiter| {
                    if let Some(waiter) = waiter {
                        wait_graph.stop_waiting(waiter, header);
                    }
                });
            }
        }
    }
}

impl<T> Future for Task<T> {
    type Output = Result<T, TaskError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let inner = this
            .inner
            .as_mut()
            .expect("`Task` polled after it returned its result");
        // In deterministic mode the task polled with its tracker registers
        // a waker of its own here (see `wait_graph`).
        let poll = match crate::runtime::diag::wait_graph::waker_for_handle(cx.waker()) {
            Some(waker) => Pin::new(&mut *inner).poll(&mut Context::from_waker(&waker)),
            None => Pin::new(&mut *inner).poll(cx),
        };
        let target = inner.metadata();
        // With a wait graph, the task awaiting this one files a wait edge for
        // this poll (and drops it when the wait is over).
        if let Some(wait_graph) = &target.shared.wait_graph {
            context::with_current_task(|waiter| {
                if let Some(waiter) = waiter {
                    if poll.is_pending() {
                        wait_graph.waits(waiter, target);
                    } else {
                        wait_graph.stop_waiting(waiter, target);
                    }
                }
            });
        }
        if poll.is_pending() && target.shared.tasks.is_some() {
            // For the live task list: the awaiting task waits on this one.
            crate::runtime::diag::task_list::note(Note::Task(target.id()));
        }
        match poll {
            Poll::Ready(result) => {
                this.inner = None;
                // `None`: the task was closed before it produced an output (its
                // handle was cancelled or the scheduler shut down).
                Poll::Ready(outcome(result))
            }
            Poll::Pending if target.shared.is_closed() => {
                // Its scheduler is shutting down: no poll of the task starts
                // again, and its future is dropped by the shutdown, which
                // may be what runs this poll (a `Drop` blocking on a sibling
                // task): waiting here could wait forever. A task that ends
                // in a poll already running on a worker loses its output.
                target.cancel();
                this.inner = None;
                Poll::Ready(Err(TaskError::Cancelled))
            }
            Poll::Pending => {
                if context::in_block_on() {
                    // This thread waits for the task: a frame holding the
                    // wake of the worker that would run it must give it.
                    // And the main thread's core to the workers: the game's
                    // threads wait for them (a system blocking on a task
                    // runs on the main thread or holds it up).
                    target.shared.workers.give_frame_wakes();
                    target.shared.workers.lend_main_core();
                }
                assert!(
                    !(context::in_block_on()
                        && target.only_the_pump_runs_it()
                        && std::thread::current().id() == target.shared.main_thread),
                    "bevy_coro: `block_on` (or `Task::block()`) on the main thread would wait forever \
                     for a task that runs in the pump (a main-thread task, or any task in \
                     deterministic or single-threaded mode, `workers: 0`): the pump cannot run \
                     while this thread blocks; pump frames until `Task::try_take` gives the \
                     result, or await the task in a task"
                );
                Poll::Pending
            }
        }
    }
}

/// A task's result as its handle gives it. `None`: the task was closed before
/// it produced an output (its handle was cancelled or the scheduler shut down).
fn outcome<T>(result: Option<Output<Result<T, Failed>>>) -> Result<T, TaskError> {
    match result.map(Output::into_inner) {
        Some(Ok(output)) => Ok(output),
        Some(Err(failed)) => Err(failed.into_error()),
        None => Err(TaskError::Cancelled),
    }
}

impl<T> fmt::Debug for Task<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Task");
        if let Some(header) = self.header() {
            d.field("name", &format_args!("{}", header.name()));
        }
        d.field("finished", &self.is_finished()).finish()
    }
}

#[cfg(test)]
mod tests {
    /// A `Task` handle is one pointer (games keep them in components and
    /// vectors), `Send` for a `Send` output, and `Sync`.
    #[test]
    fn a_task_handle_is_one_pointer() {
        assert_eq!(
            std::mem::size_of::<super::Task<()>>(),
            std::mem::size_of::<usize>()
        );
        fn send_and_sync<T: Send + Sync>() {}
        send_and_sync::<super::Task<Vec<u32>>>();
    }
}
