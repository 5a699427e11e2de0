//! Tasks tied to entities: cancelled when the entity is despawned.
//!
//! An entity keeps an [`CancelHandle`] per task in its [`EntityTasks`]
//! component; the component's `on_remove` hook (which runs on despawn too)
//! cancels them. Tasks bound from a system (`coro.task(..).for_entity(e)`) are
//! queued and attached by the next pump, before it runs any task; an entity
//! gone by then cancels them at once.

use bevy_ecs::lifecycle::HookContext;
use bevy_ecs::prelude::*;
use bevy_ecs::world::DeferredWorld;

use crate::runtime::{CancelHandle, Handle, Owner, TaskBuilder};

/// The tasks tied to an entity; removing the component or despawning the
/// entity cancels them (a task that has finished is left alone, and so are
/// the children it left running).
#[derive(Component, Debug, Default)]
#[component(on_remove = cancel_entity_tasks)]
pub struct EntityTasks(Vec<CancelHandle>);

impl EntityTasks {
    /// Tasks tied to the entity that may still run: not cancelled, and not
    /// ended (a task counts as ended once it is freed: finished and its
    /// `Task` handle dropped or detached).
    pub fn len(&self) -> usize {
        self.0.iter().filter(|task| task.is_live()).count()
    }

    /// Whether no live task is tied to the entity.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn bind(&mut self, task: CancelHandle) {
        // Drop the handles of tasks already ended or cancelled, so a
        // long-lived entity does not collect one per task it ever had.
        if self.0.len() == self.0.capacity() {
            self.0.retain(CancelHandle::is_live);
        }
        self.0.push(task);
    }
}

fn cancel_entity_tasks(world: DeferredWorld, context: HookContext) {
    if let Some(tasks) = world.get::<EntityTasks>(context.entity) {
        for task in &tasks.0 {
            task.cancel();
        }
    }
}

/// Ties the tasks spawned with `for_entity` since the last pump to their
/// entities; called by the pump before it runs tasks.
pub(crate) fn attach_owned(world: &mut World, handle: &Handle) {
    for (owner, task) in handle.take_owned() {
        match owner {
            Owner::Key(bits) => match Entity::try_from_bits(bits) {
                Some(entity) => bind(world, entity, task),
                None => task.cancel(),
            },
            Owner::Value(value) => match value.downcast_ref::<BindTo>() {
                Some(bind_to) => (bind_to.0)(world, task),
                None => task.cancel(),
            },
        }
    }
}

/// An owner the pump ties a task to by calling it with the World (a game
/// state's scope, say).
pub(crate) struct BindTo(pub(crate) Box<Bind>);

/// How a [`BindTo`] ties a task.
pub(crate) type Bind = dyn Fn(&mut World, CancelHandle) + Send + Sync;

/// Ties `task` to `entity` now, or cancels it if the entity is gone.
pub(crate) fn bind(world: &mut World, entity: Entity, task: CancelHandle) {
    match world.get_entity_mut(entity) {
        Ok(mut entity) => match entity.get_mut::<EntityTasks>() {
            Some(mut tasks) => tasks.bind(task),
            None => {
                entity.insert(EntityTasks(vec![task]));
            }
        },
        Err(_) => task.cancel(),
    }
}

impl TaskBuilder<'_> {
    /// Ties the task to `entity`: despawning the entity (or removing its
    /// [`EntityTasks`]) cancels the task and its descendants. The task is
    /// tied by the next pump, before it runs any task; if the entity is gone
    /// by then, the task is cancelled. Once the task has finished, despawning
    /// the entity cancels nothing: the children the task left running run on
    /// (tie them to the entity too, if they should end with it).
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_ecs::prelude::*;
    /// # use bevy_coro::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CoroPlugin { workers: 1, ..Default::default() });
    /// # let coro = app.world().resource::<Coro>().clone();
    /// let enemy = app.world_mut().spawn_empty().id();
    /// coro.task("brain")
    ///     .for_entity(enemy)
    ///     .spawn::<Main>(async { loop { next_frame().await } })
    ///     .detach();
    /// app.update(); // tied
    /// app.world_mut().despawn(enemy); // cancelled with it
    /// ```
    pub fn for_entity(self, entity: Entity) -> Self {
        self.owned_by(Owner::Key(entity.to_bits()))
    }
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
