//! Spawning: a header, a body and the task's allocation (`raw`); a parent
//! found in the thread's context; the first schedule.

use std::future::Future;
use std::panic::Location;
use std::sync::Arc;

use super::Task;
use super::body::TaskBody;
use super::context;
use super::header::Header;
use super::options::{Options, Side, Start};
use super::raw;
use crate::runtime::Shared;
use crate::runtime::schedule::Route;
use crate::runtime::tree::Node;

/// Which tree a new task joins.
#[derive(Clone, Copy)]
pub(crate) enum Parent<'a> {
    /// The task being polled on this thread, if any (a plain spawn).
    Current,
    /// `node`'s: a task that belongs to a scope rather than to its spawner
    /// (an actor's turns: a sender's cancel must not stop the actor).
    Node(&'a Arc<Node>),
    /// None: a root of its own.
    Root,
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
    spawn_send_in(shared, side, options, location, Parent::Current, future)
}

/// [`spawn_send`], in the tree `parent` says.
pub(crate) fn spawn_send_in<F>(
    shared: &Arc<Shared>,
    side: Side,
    options: Options,
    location: &'static Location<'static>,
    parent: Parent<'_>,
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
    unsafe { spawn(shared, start, options, parent, future) }
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
    unsafe { spawn(shared, start, options, Parent::Current, future) }
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
    parent: Parent<'_>,
    future: F,
) -> Task<F::Output>
where
    F: Future + 'static,
{
    let header = Header::new(shared, start, options);
    let body = |header: &Header| TaskBody::new(header, future);
    // SAFETY: the future is `'static`; if it is not `Send`, our caller
    // guarantees it stays on the main thread (see this function's contract,
    // and `schedule::route`, which keeps local tasks on the main queue), and
    // so does its output: `Task` is `Send` only for a `Send` output.
    let (runnable, inner) = unsafe { raw::spawn::<_, Route, Header>(header, body) };
    // Counted until its body is dropped.
    shared.in_flight.add();
    match parent {
        // Spawned while a task of this runtime is polled: a child of that task.
        Parent::Current => context::with_current_task(|parent| {
            if let Some(parent) = parent.filter(|parent| std::ptr::eq(&*parent.shared, &**shared)) {
                inner.metadata().set_parent(parent);
            }
        }),
        Parent::Node(node) => inner.metadata().set_parent_node(node),
        Parent::Root => {}
    }
    if shared.watched {
        watch(shared, inner.metadata());
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
    Task::new(inner)
}

/// Files a new task with the wait graph and the task list, whichever watch.
#[cold]
#[inline(never)]
fn watch(shared: &Shared, header: &Header) {
    let frame = shared.main.frame();
    if let Some(wait_graph) = &shared.wait_graph {
        wait_graph.spawned(header, frame);
    }
    if let Some(tasks) = &shared.tasks {
        let parent = context::with_current_task(|parent| {
            parent
                .filter(|parent| std::ptr::eq(&*parent.shared, shared))
                .map(Header::id)
        });
        tasks.spawned(header, parent, shared.timers.now(), frame);
    }
}
