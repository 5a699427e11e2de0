//! [`TaskGroup`]: tasks that end together.

use std::fmt;

use crate::runtime::task::{Task, TaskError};

/// Tasks that end together: dropping the group cancels every task still in
/// it (and their descendants), like tokio's `JoinSet`.
///
/// A task's children outlive it when it finishes normally; to have children
/// end with their parent, keep them in a group the parent owns:
///
/// ```
/// # use bevy_coro::prelude::*;
/// # use bevy_coro::runtime::{Handle, TaskGroup};
/// async fn patrol(coro: Handle) {
///     let mut squad = TaskGroup::new();
///     for _ in 0..3 {
///         squad.push(coro.spawn::<Worker>(async { /* one soldier's work */ }));
///     }
///     // ... when `patrol` ends or is cancelled, `squad` is dropped: the
///     // soldiers still running are cancelled with it.
///     let results = squad.join_all().await;
///     assert!(results.iter().all(Result::is_ok));
/// }
/// ```
pub struct TaskGroup<T> {
    tasks: Vec<Task<T>>,
}

impl<T> TaskGroup<T> {
    /// An empty group.
    pub fn new() -> Self {
        TaskGroup { tasks: Vec::new() }
    }

    /// Adds a task; the group now decides when it is cancelled.
    pub fn push(&mut self, task: Task<T>) {
        self.tasks.push(task);
    }

    /// Tasks in the group (finished ones included until taken).
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Whether the group holds no task.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Cancels every task in the group.
    pub fn cancel_all(&self) {
        for task in &self.tasks {
            task.cancel();
        }
    }

    /// Takes the results of the tasks that have finished, without waiting:
    /// for systems that poll once per frame.
    pub fn take_finished(&mut self) -> Vec<Result<T, TaskError>> {
        let mut finished = Vec::new();
        self.tasks.retain_mut(|task| match task.try_take() {
            Some(result) => {
                finished.push(result);
                false
            }
            None => true,
        });
        finished
    }

    /// Waits for every task, in the order they were pushed, and empties the
    /// group.
    pub async fn join_all(&mut self) -> Vec<Result<T, TaskError>> {
        let mut results = Vec::with_capacity(self.tasks.len());
        for task in self.tasks.drain(..) {
            results.push(task.await);
        }
        results
    }
}

impl<T> Default for TaskGroup<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> fmt::Debug for TaskGroup<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskGroup")
            .field("tasks", &self.tasks.len())
            .finish()
    }
}
