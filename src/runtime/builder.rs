//! [`TaskBuilder`]: spawning with options (name, priority, core mask, and in
//! a Bevy app the entity the task is tied to).

use std::future::Future;
use std::panic::Location;

use crate::runtime::affinity::Affinity;
use crate::runtime::handle::{Handle, SpawnOn};
use crate::runtime::owner::Owner;
use crate::runtime::task::options::{Options, Priority};
use crate::runtime::task::{Task, spawn_local, spawn_send};

impl Handle {
    /// A builder for a named task, with more options:
    /// `coro.task("pathfind").priority(Priority::High).spawn::<Worker>(fut)`.
    /// Unnamed tasks are named after their spawn location (`file:line`).
    pub fn task(&self, name: &'static str) -> TaskBuilder<'_> {
        TaskBuilder::new(self, name)
    }
}

/// Spawns a task with options; made by [`Handle::task`]:
///
/// ```
/// # use bevy_coro::prelude::*;
/// # use bevy_coro::runtime::{Runtime, RuntimeConfig, Priority};
/// # let coro = Runtime::new(RuntimeConfig::default()).unwrap();
/// let task = coro
///     .task("pathfind")
///     .priority(Priority::High)
///     .spawn::<Worker>(async { 42 });
/// # drop(task);
/// ```
#[must_use = "a task builder spawns nothing until `.spawn::<A>(fut)`"]
#[derive(Debug, Clone)]
pub struct TaskBuilder<'a> {
    handle: &'a Handle,
    options: Options,
    /// The owner, from `owned_by`.
    owner: Option<Owner>,
}

impl<'a> TaskBuilder<'a> {
    pub(crate) fn new(handle: &'a Handle, name: &'static str) -> Self {
        TaskBuilder {
            handle,
            options: Options {
                name: Some(name),
                ..Options::default()
            },
            owner: None,
        }
    }

    /// The task's priority; default [`Priority::Normal`].
    pub fn priority(mut self, priority: Priority) -> Self {
        self.options.priority = priority;
        self
    }

    /// Runs the task's worker polls only on workers pinned to these cores
    /// (core ids as `core_affinity` numbers them). Main-thread polls are
    /// unaffected. In the single-threaded mode (`workers: 0`, the web) it
    /// does nothing: the pump runs every worker poll, so a game that names
    /// cores runs there too.
    ///
    /// # Panics
    ///
    /// When the runtime does not pin its workers (`pin_workers: false`), when
    /// `cores` is empty, or when no worker is pinned to any of them: such a
    /// task could never run, so it is refused here rather than left waiting.
    #[track_caller]
    pub fn cores(mut self, cores: &[usize]) -> Self {
        if self.handle.shared.is_single_threaded() {
            return self;
        }
        let pinned: Vec<usize> = self.handle.shared.workers.cores().flatten().collect();
        assert!(
            !pinned.is_empty(),
            "bevy_coro: `.cores(..)` needs workers pinned to cores: set `pin_workers: true`"
        );
        assert!(
            !cores.is_empty(),
            "bevy_coro: `.cores(&[])` names no core; the task could never run"
        );
        let mask = cores
            .iter()
            .filter(|&&core| core < 64 && pinned.contains(&core))
            .fold(0u64, |mask, &core| mask | (1 << core));
        assert!(
            mask != 0,
            "bevy_coro: no worker is pinned to any of the cores {cores:?}; workers are pinned to {pinned:?}"
        );
        self.options.cores = mask;
        self
    }

    /// Ties the task to `owner`: the task is listed by
    /// [`Handle::take_owned`] after its spawn, for the driver to cancel when
    /// the owner goes. In a Bevy app, `for_entity` and `in_state` do this.
    pub(crate) fn owned_by(mut self, owner: Owner) -> Self {
        self.owner = Some(owner);
        self
    }

    /// `task`, tied to the owner if one was given.
    fn tied<T>(&self, task: Task<T>) -> Task<T> {
        if let Some(owner) = &self.owner {
            task.tie_to(owner.clone());
        }
        task
    }

    /// [`Handle::spawn_local`] with these options (the core mask does not
    /// apply: a local task never leaves the main thread).
    ///
    /// # Panics
    ///
    /// When called on another thread than the runtime's main thread.
    #[track_caller]
    pub fn spawn_local<F>(self, future: F) -> Task<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.tied(spawn_local(
            &self.handle.shared,
            self.options,
            Location::caller(),
            future,
        ))
    }
}

impl<F> SpawnOn<F> for TaskBuilder<'_>
where
    // Not `Send`? `.spawn_local(fut)` runs it on the main thread for good.
    F: Future<Output: Send + 'static> + Send + 'static,
{
    #[track_caller]
    fn spawn<A: Affinity>(&self, future: F) -> Task<F::Output> {
        self.tied(spawn_send(
            &self.handle.shared,
            A::SIDE,
            self.options,
            Location::caller(),
            future,
        ))
    }
}
