//! [`TaskBuilder`]: spawning with options (name, priority, core mask), and
//! [`Priority`].

use std::future::Future;
use std::panic::Location;

use super::affinity::Affinity;
use super::handle::{Handle, SpawnOn, Spec, spawn_local, spawn_send};
use super::header::{HIGH, NORMAL};
use super::task::Task;

/// How urgent a task is. Every queue (the main thread's and the workers')
/// takes `High` tasks first, kept through hops; but after 8 `High` tasks in a
/// row a waiting `Normal` task goes next, so `Normal` work is slowed by a
/// flood of `High` work, never starved by it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Priority {
    /// The default.
    #[default]
    Normal,
    /// Runs before `Normal` tasks: urgent re-plans, input-driven work.
    High,
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
#[derive(Debug, Clone, Copy)]
pub struct TaskBuilder<'a> {
    handle: &'a Handle,
    spec: Spec,
}

impl<'a> TaskBuilder<'a> {
    pub(crate) fn new(handle: &'a Handle, name: &'static str) -> Self {
        TaskBuilder {
            handle,
            spec: Spec {
                name: Some(name),
                ..Spec::default()
            },
        }
    }

    /// The task's priority; default [`Priority::Normal`].
    pub fn priority(mut self, priority: Priority) -> Self {
        self.spec.priority = match priority {
            Priority::Normal => NORMAL,
            Priority::High => HIGH,
        };
        self
    }

    /// Runs the task's worker polls only on workers pinned to these cores
    /// (core ids as `core_affinity` numbers them). Main-thread polls are
    /// unaffected.
    ///
    /// # Panics
    ///
    /// When the runtime does not pin its workers (`pin_workers: false`), when
    /// `cores` is empty, or when no worker is pinned to any of them: such a
    /// task could never run, so it is refused here rather than left waiting.
    #[track_caller]
    pub fn cores(mut self, cores: &[usize]) -> Self {
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
        self.spec.cores = mask;
        self
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
        spawn_local(&self.handle.shared, self.spec, Location::caller(), future)
    }
}

impl<F> SpawnOn<F> for TaskBuilder<'_>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    #[track_caller]
    fn spawn<A: Affinity>(&self, future: F) -> Task<F::Output> {
        spawn_send::<A, F>(&self.handle.shared, self.spec, Location::caller(), future)
    }
}
