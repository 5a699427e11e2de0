//! Tasks tied to entities (cancelled when the entity is despawned), and
//! `Commands` extensions to start tasks without a `Res<Coro>`.
//!
//! An entity keeps an [`AbortHandle`] per task in its [`EntityTasks`]
//! component; the component's `on_remove` hook (which runs on despawn too)
//! aborts them. Tasks bound from a system (`coro.task(..).for_entity(e)`) are
//! queued and attached by the next pump, before it runs any task; an entity
//! gone by then aborts them at once.

use std::future::Future;
use std::sync::Arc;

use bevy_ecs::lifecycle::HookContext;
use bevy_ecs::prelude::*;
use bevy_ecs::system::EntityCommands;
use bevy_ecs::world::DeferredWorld;
use concurrent_queue::ConcurrentQueue;

use crate::plugin::Coro;
use crate::runtime::{AbortHandle, Affinity, Priority, SpawnOn, Task, TaskBuilder};

/// The tasks tied to an entity; removing the component or despawning the
/// entity cancels them.
#[derive(Component, Debug, Default)]
#[component(on_remove = abort_entity_tasks)]
pub struct EntityTasks(Vec<AbortHandle>);

impl EntityTasks {
    /// Tasks tied to the entity that may still run: not aborted, and not
    /// ended (a task counts as ended once it is freed: finished and its
    /// `Task` handle dropped or detached).
    pub fn len(&self) -> usize {
        self.0.iter().filter(|task| task.is_live()).count()
    }

    /// Whether no live task is tied to the entity.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn bind(&mut self, task: AbortHandle) {
        // Drop the handles of tasks already ended or aborted, so a
        // long-lived entity does not collect one per task it ever had.
        if self.0.len() == self.0.capacity() {
            self.0.retain(AbortHandle::is_live);
        }
        self.0.push(task);
    }
}

fn abort_entity_tasks(world: DeferredWorld, context: HookContext) {
    if let Some(tasks) = world.get::<EntityTasks>(context.entity) {
        for task in &tasks.0 {
            task.abort();
        }
    }
}

/// Tasks spawned for entities from systems, waiting for the pump to attach them.
pub(crate) type Bindings = Arc<ConcurrentQueue<(Entity, AbortHandle)>>;

/// Attaches the queued bindings; called by the pump before it runs tasks.
pub(crate) fn attach_bindings(world: &mut World, bindings: &Bindings) {
    while let Ok((entity, task)) = bindings.pop() {
        bind(world, entity, task);
    }
}

/// Ties `task` to `entity` now, or aborts it if the entity is gone.
fn bind(world: &mut World, entity: Entity, task: AbortHandle) {
    match world.get_entity_mut(entity) {
        Ok(mut entity) => match entity.get_mut::<EntityTasks>() {
            Some(mut tasks) => tasks.bind(task),
            None => {
                entity.insert(EntityTasks(vec![task]));
            }
        },
        Err(_) => task.abort(),
    }
}

/// [`Coro::task`]'s builder: a [`TaskBuilder`] that can also tie the task to
/// an entity.
#[must_use = "a task builder spawns nothing until `.spawn::<A>(fut)`"]
pub struct CoroTaskBuilder<'a> {
    inner: TaskBuilder<'a>,
    bindings: &'a Bindings,
    entity: Option<Entity>,
}

impl<'a> CoroTaskBuilder<'a> {
    pub(crate) fn new(inner: TaskBuilder<'a>, bindings: &'a Bindings) -> Self {
        CoroTaskBuilder {
            inner,
            bindings,
            entity: None,
        }
    }

    /// Ties the task to `entity`: despawning the entity (or removing its
    /// [`EntityTasks`]) cancels the task and its descendants. If the entity
    /// is gone before the next pump, the task is cancelled then.
    pub fn for_entity(mut self, entity: Entity) -> Self {
        self.entity = Some(entity);
        self
    }

    /// See [`TaskBuilder::priority`].
    pub fn priority(mut self, priority: Priority) -> Self {
        self.inner = self.inner.priority(priority);
        self
    }

    /// See [`TaskBuilder::cores`].
    ///
    /// # Panics
    ///
    /// As [`TaskBuilder::cores`].
    #[track_caller]
    pub fn cores(mut self, cores: &[usize]) -> Self {
        self.inner = self.inner.cores(cores);
        self
    }

    fn bound<T>(&self, task: Task<T>) -> Task<T> {
        if let (Some(entity), Some(abort)) = (self.entity, task.abort_handle()) {
            // The queue is never closed.
            let _ = self.bindings.push((entity, abort));
        }
        task
    }
}

impl<F> SpawnOn<F> for CoroTaskBuilder<'_>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    #[track_caller]
    fn spawn<A: Affinity>(&self, future: F) -> Task<F::Output> {
        self.bound(self.inner.spawn::<A>(future))
    }
}

/// Starting tasks from `Commands`, without a `Res<Coro>`. The task is spawned
/// when the commands are applied, and detached: it runs to its end (or, for
/// an entity's task, until the entity is despawned).
pub trait CoroCommandsExt {
    /// Spawns `future` with affinity `A`, detached.
    ///
    /// # Panics
    ///
    /// When the command is applied in a World without [`CoroPlugin`](crate::CoroPlugin).
    fn spawn_task<A: Affinity>(
        &mut self,
        future: impl Future<Output = ()> + Send + 'static,
    ) -> &mut Self;
}

impl CoroCommandsExt for Commands<'_, '_> {
    #[track_caller]
    fn spawn_task<A: Affinity>(
        &mut self,
        future: impl Future<Output = ()> + Send + 'static,
    ) -> &mut Self {
        let location = std::panic::Location::caller();
        self.queue(move |world: &mut World| {
            coro_of(world, location).spawn::<A>(future).detach();
        });
        self
    }
}

impl CoroCommandsExt for EntityCommands<'_> {
    /// Spawns `future` with affinity `A`, detached and tied to this entity:
    /// despawning it cancels the task.
    #[track_caller]
    fn spawn_task<A: Affinity>(
        &mut self,
        future: impl Future<Output = ()> + Send + 'static,
    ) -> &mut Self {
        let location = std::panic::Location::caller();
        let entity = self.id();
        self.commands().queue(move |world: &mut World| {
            let task = coro_of(world, location).spawn::<A>(future);
            if let Some(abort) = task.abort_handle() {
                bind(world, entity, abort);
            }
            task.detach();
        });
        self
    }
}

fn coro_of(world: &World, location: &std::panic::Location<'_>) -> Coro {
    world
        .get_resource::<Coro>()
        .unwrap_or_else(|| {
            panic!("spawn_task at {location}: there is no scheduler; add CoroPlugin to the App")
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use bevy_app::App;

    use crate::prelude::*;

    use super::EntityTasks;

    #[test]
    fn an_entity_keeps_no_handle_of_its_ended_tasks() {
        let mut app = App::new();
        app.add_plugins(CoroPlugin {
            workers: 1,
            ..Default::default()
        });
        let entity = app.world_mut().spawn_empty().id();
        let coro = app.world().resource::<Coro>().clone();
        for _ in 0..1_000 {
            coro.task("step")
                .for_entity(entity)
                .spawn::<Main>(async {})
                .detach();
            // Binds the task, then runs it to its end.
            app.update();
        }
        let tasks = app.world().get::<EntityTasks>(entity).unwrap();
        assert_eq!(tasks.len(), 0);
        // Pruned as it grows: bounded by the live tasks, not the 1,000 ended.
        assert!(tasks.0.len() <= 2, "{} handles kept", tasks.0.len());
    }
}
