//! Tasks: the body that wraps every spawned future, the [`Task`] handle, and
//! [`TaskError`].

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::{AssertUnwindSafe, Location, catch_unwind};
use std::pin::Pin;
use std::ptr::NonNull;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use async_task::{Builder, FallibleTask, WithInfo};

pub(crate) mod cancel_handshake;
pub(crate) mod context;
pub(crate) mod header;
pub(crate) mod parked;

use crate::runtime::Shared;
use crate::runtime::schedule::schedule;
use crate::runtime::tree::CancelHandle;
use header::{Header, Options, Side, Start};

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
struct TaskBody<F> {
    header: NonNull<Header>,
    future: ManuallyDrop<F>,
}

/// A task's failure as stored in its allocation: one pointer, so that with
/// a small output the slot async-task keeps for the output (or a panic) is
/// 16 bytes, not 24 (a `TaskError` holds a `String`). Only a cancelled or
/// panicked task allocates it.
pub(crate) struct Failed(Box<TaskError>);

impl<F: Future> Future for TaskBody<F> {
    type Output = Output<Result<F::Output, Failed>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let header = self.header;
        // SAFETY: the header is the task's metadata. async-task keeps it in the
        // same allocation as this body and drops it only when the allocation is
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
        let poll = match &header.shared.wait_graph {
            // Deterministic mode: the future gets a waker whose clones left
            // after the poll tell whether the task waits on anything else
            // than task handles (see `watch`).
            Some(watch) if header.shared.deterministic.is_some() => {
                let (waker, _tracking) =
                    watch.polled_tracked(header, header.shared.main.frame(), cx.waker());
                catch_poll(future, &mut Context::from_waker(&waker))
            }
            Some(watch) => {
                watch.polled(header, header.shared.main.frame());
                catch_poll(future, cx)
            }
            None => catch_poll(future, cx),
        };
        // Parking for the first time: file a waker, so shutdown and cancels
        // reach the task (see `registry`).
        if poll.is_pending() && header.register(cx.waker()) {
            cx.waker().wake_by_ref();
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

/// A task's output as async-task keeps it: its `Drop` never unwinds.
/// async-task drops an output nobody took (a detached task's, or one whose
/// handle was dropped) inside an abort-on-panic guard, so an output whose
/// `Drop` panics would abort the process; here that panic is contained.
pub(crate) struct Output<T>(ManuallyDrop<T>);

impl<T> Output<T> {
    fn new(value: T) -> Self {
        Output(ManuallyDrop::new(value))
    }

    fn into_inner(self) -> T {
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
                if let Some(watch) = &self.0.shared.wait_graph {
                    watch.gone(self.0);
                }
                self.0.shared.parked.remove(self.0.slot());
                self.0.shared.in_flight.sub();
            }
        }
        let header = self.header;
        // SAFETY: the header outlives the body (see `poll`).
        let _deregister = Deregister(unsafe { header.as_ref() });
        // A panic escaping here would abort the process (async-task drops
        // futures in an abort-on-panic guard); a panicking `Drop` of the future
        // only loses what it did not finish dropping.
        let dropped = catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: the future is dropped exactly once, here, in place, and
            // the body is never used after its `Drop`.
            unsafe { ManuallyDrop::drop(&mut self.future) }
        }));
        if let Err(payload) = dropped {
            drop_payload(payload);
        }
    }
}

/// A handle to a spawned task, and a future of its result.
///
/// Awaiting a `Task<T>` gives `Ok(T)` when the task finished, or a
/// [`TaskError`] when it was cancelled or panicked. A system that cannot await
/// polls it with [`Task::try_take`] once per frame.
///
/// **Dropping a `Task` cancels the task** (like `async-task` and `bevy_tasks`);
/// call [`Task::detach`] to let it run to the end on its own.
#[must_use = "dropping a Task cancels it; call `.detach()` to let it run"]
pub struct Task<T> {
    /// `None` once the output was taken or the task was detached.
    inner: Option<FallibleTask<Output<Result<T, Failed>>, Header>>,
    header: NonNull<Header>,
}

// SAFETY: `Task` is an `async_task::Task` plus a pointer to that task's header.
// The async-task handle is `Send` when its output is, and `Header` is `Sync` (it
// holds atomics, an `Arc` of a `Sync` type and `'static` data), so reading it
// from any thread is fine.
unsafe impl<T: Send> Send for Task<T> {}
// SAFETY: `&Task` only reads the header (`Sync`) and asks async-task whether the
// task finished, which `async_task::Task` allows from any thread.
unsafe impl<T> Sync for Task<T> {}

impl<T> Task<T> {
    fn header(&self) -> Option<&Header> {
        // SAFETY: while `inner` is `Some`, the async-task handle holds a reference
        // on the task allocation, which keeps the header alive.
        self.inner.as_ref().map(|_| unsafe { self.header.as_ref() })
    }

    /// Asks the task to stop. Cancellation is cooperative: a poll in progress
    /// finishes, and the task ends at its next await with
    /// [`TaskError::Cancelled`]. Awaiting the handle afterwards gives that error
    /// (or the output, if the task had already finished).
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

    /// Lists the task for its driver as tied to the owner it knows by `key`
    /// (see `Handle::take_owned`). Nothing happens once the result was taken
    /// or after shutdown.
    pub(crate) fn tie_to(&self, key: u64) {
        if let Some(header) = self.header() {
            let _ = header.shared.owned.push((key, header.node().clone()));
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
        // descendants (async-task's own cancel, on dropping `inner`, does not
        // know of them). A finished task's children run on.
        if let Some(header) = self.header()
            && !self.is_finished()
        {
            header.cancel();
            // A waiter that gives up on this handle (a lost `select!`) no
            // longer waits on this task.
            if let Some(watch) = &header.shared.wait_graph {
                context::with_current_task(|waiter| {
                    if let Some(waiter) = waiter {
                        watch.stop_waiting(waiter, header);
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
        // SAFETY: `inner` holds a reference on the task allocation, which
        // keeps the header alive; `target` is not used after `inner` is
        // dropped below.
        let target = unsafe { this.header.as_ref() };
        // In deterministic mode the task polled with its tracker registers
        // a waker of its own here (see `watch`).
        let poll = match crate::runtime::diag::wait_graph::waker_for_handle(cx.waker()) {
            Some(waker) => Pin::new(inner).poll(&mut Context::from_waker(&waker)),
            None => Pin::new(inner).poll(cx),
        };
        // With a watch, the task awaiting this one files a wait edge for
        // this poll (and drops it when the wait is over).
        if let Some(watch) = &target.shared.wait_graph {
            context::with_current_task(|waiter| {
                if let Some(waiter) = waiter {
                    if poll.is_pending() {
                        watch.waits(waiter, target);
                    } else {
                        watch.stop_waiting(waiter, target);
                    }
                }
            });
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
                assert!(
                    !(context::in_block_on()
                        && target.only_the_pump_runs_it()
                        && std::thread::current().id() == target.shared.main_thread),
                    "bevy_coro: `block_on` (or `Task::block()`) on the main thread would wait forever \
                     for a task that runs in the pump (a main-thread task, or any task in \
                     deterministic mode): the pump cannot run while this thread blocks; pump \
                     frames until `Task::try_take` gives the result, or await the task in a task"
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
        Some(Err(Failed(error))) => Err(*error),
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

/// Spawns a `Send` future that starts on `side`.
pub(crate) fn spawn_send<F>(
    shared: &Arc<Shared>,
    side: Side,
    options: Options,
    location: &'static Location<'static>,
    future: F,
) -> Task<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let start = Start {
        side,
        local: false,
        location,
    };
    // SAFETY: the future is `Send`, so it may be polled and dropped anywhere.
    unsafe { spawn(shared, start, options, future) }
}

/// Spawns a `!Send` future that lives on the main thread for good.
///
/// # Panics
///
/// Off the runtime's main thread.
pub(crate) fn spawn_local<F>(
    shared: &Arc<Shared>,
    options: Options,
    location: &'static Location<'static>,
    future: F,
) -> Task<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    assert!(
        std::thread::current().id() == shared.main_thread,
        "bevy_coro: `spawn_local` must be called on the main thread, \
         where its !Send future will live; use `spawn::<Main>` from other threads"
    );
    let start = Start {
        side: Side::Main,
        local: true,
        location,
    };
    // SAFETY: we are on the main thread, and `local = true` keeps the task
    // there: the schedule function routes local tasks to the main queue
    // whatever their header says, and `.on::<Worker>()` refuses to move them.
    unsafe { spawn(shared, start, options, future) }
}

/// Spawns `future` on `shared` as `start` and `options` say, and schedules it.
///
/// # Safety
///
/// If `F` is not `Send`, the caller must be on the runtime's main thread and pass
/// `start.local = true`, so the task is only ever polled and dropped there.
unsafe fn spawn<F>(
    shared: &Arc<Shared>,
    start: Start,
    options: Options,
    future: F,
) -> Task<F::Output>
where
    F: Future + 'static,
{
    let header = Header::new(shared, start, options);
    let schedule = WithInfo(schedule);
    let body = |header: &Header| TaskBody {
        header: NonNull::from(header),
        future: ManuallyDrop::new(future),
    };
    // SAFETY: `spawn_unchecked` drops the `Send` and `'static` checks of
    // `spawn`. The future is `'static`; if it is not `Send`, our caller
    // guarantees it stays on the main thread (see this function's contract,
    // and `Shared::schedule`, which keeps local tasks on the main queue).
    let (runnable, inner) = unsafe {
        Builder::new()
            .metadata(header)
            .spawn_unchecked(body, schedule)
    };
    // Counted until its body is dropped.
    shared.in_flight.add();
    let header = NonNull::from(inner.metadata());
    // Spawned while a task of this runtime is polled: a child of that task.
    context::with_current_task(|parent| {
        if let Some(parent) = parent.filter(|parent| std::ptr::eq(&*parent.shared, &**shared)) {
            inner.metadata().set_parent(parent);
        }
    });
    if let Some(wait_graph) = &shared.wait_graph {
        wait_graph.spawned(inner.metadata(), shared.main.frame());
    }
    if shared.is_closed() {
        // Spawned after shutdown: never runs. Dropped here, where no lock of
        // anyone's is held, which drops the future; the handle then resolves
        // to `Cancelled`.
        drop(runnable);
    } else {
        runnable.schedule();
    }
    // A spawn racing shutdown: its push met a closed queue and the task went
    // to the graveyard, maybe after shutdown's last burial; or the future
    // dropped above woke another task into it. Our own push is visible to
    // us, so a non-empty graveyard here is all we need to check (no fence on
    // the hot path); this is no foreign `wake`, so dropping here is safe.
    // (The loom model in `graveyard.rs` found the second case.)
    if !shared.graveyard.is_empty() {
        shared.bury_graveyard();
    }
    Task {
        inner: Some(inner.fallible()),
        header,
    }
}
