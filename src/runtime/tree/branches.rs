//! What [`race`](super::race) and [`join`](super::join) share: each branch
//! is a child task of the task that awaits them, spawned at their first poll
//! on that task's side, and followed through its [`Task`] handle.

use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::runtime::Shared;
use crate::runtime::task::context::with_current_task;
use crate::runtime::task::options::{Options, Side};
use crate::runtime::task::{Task, TaskError, spawn_send};

/// Spawns the branches of a race or join as children of the task polling
/// it, on that task's side. Not named by users: it appears in the hidden
/// methods of [`Racing`](super::Racing) and [`Joining`](super::Joining).
#[doc(hidden)]
pub struct Spawner {
    shared: Arc<Shared>,
    side: Side,
    location: &'static Location<'static>,
}

impl Spawner {
    /// The spawner of the task being polled now, for `what` (`race`,
    /// `join`, ..) called at `location`.
    ///
    /// # Panics
    ///
    /// Outside a task of this scheduler: the branches have no parent.
    pub(crate) fn here(what: &str, location: &'static Location<'static>) -> Spawner {
        with_current_task(|task| {
            let task = task.unwrap_or_else(|| outside_task(what, location));
            Spawner {
                shared: task.shared.to_arc(),
                // Where the task is now (also within a hop): its branches
                // start there, and may hop on their own.
                side: task.affinity(),
                location,
            }
        })
    }

    /// Spawns one branch: a child task (spawned in the parent's poll), named
    /// after the combinator's call site.
    pub(crate) fn spawn<F>(&self, future: F) -> Branch<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Branch {
            task: Some(spawn_send(
                &self.shared,
                self.side,
                Options::default(),
                self.location,
                future,
            )),
            result: None,
        }
    }
}

/// The panic for a race or join awaited where there is no task to be the
/// parent of its branches.
#[cold]
fn outside_task(what: &str, location: &Location<'_>) -> ! {
    panic!(
        "bevy_coro: `{what}` (at {location}) was awaited outside a bevy_coro task; its \
         branches are child tasks of the task that awaits it: await it inside \
         `coro.spawn::<Main>(..)` or `coro.spawn::<Worker>(..)`"
    )
}

/// One branch: its task while it runs, then its result.
#[doc(hidden)]
pub struct Branch<T> {
    task: Option<Task<T>>,
    result: Option<Result<T, TaskError>>,
}

impl<T> Branch<T> {
    /// Polls the branch's task if it still runs; whether it has ended. An
    /// ended branch's future has been dropped.
    pub(crate) fn poll_ended(&mut self, cx: &mut Context<'_>) -> bool {
        if let Some(task) = &mut self.task
            && let Poll::Ready(result) = Pin::new(task).poll(cx)
        {
            self.task = None;
            self.result = Some(result);
        }
        self.task.is_none()
    }

    /// Asks the branch's task to stop (its subtree with it).
    pub(crate) fn cancel(&self) {
        if let Some(task) = &self.task {
            task.cancel();
        }
    }

    /// The branch's result, once it has ended.
    pub(crate) fn result(&self) -> Option<&Result<T, TaskError>> {
        self.result.as_ref()
    }

    /// Takes the result of an ended branch.
    pub(crate) fn take(&mut self) -> Result<T, TaskError> {
        self.result
            .take()
            .expect("taken once, after the branch ended")
    }
}

impl<T, E> Branch<Result<T, E>> {
    /// Whether the branch ended with an `Err`, a panic or a cancel.
    pub(crate) fn failed(&self) -> bool {
        matches!(self.result, Some(Err(_) | Ok(Err(_))))
    }

    /// The failure of a branch that [`failed`](Self::failed), in the shape
    /// of `try_join`'s output.
    pub(crate) fn take_failure<U>(&mut self) -> Result<Result<U, E>, TaskError> {
        match self.take() {
            Ok(Err(error)) => Ok(Err(error)),
            Err(error) => Err(error),
            Ok(Ok(_)) => unreachable!("only a failed branch is asked for its failure"),
        }
    }

    /// The value of a branch that ended with `Ok(Ok(_))`.
    pub(crate) fn take_value(&mut self) -> T {
        match self.take() {
            Ok(Ok(value)) => value,
            _ => unreachable!("only taken when no branch failed"),
        }
    }
}
