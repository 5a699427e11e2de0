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
            self.prune();
        }
        self.0.push(task);
    }

    /// Drops the handles of tasks no longer live. An ended task's state was
    /// last written by the worker it ended on, so each first look is a miss
    /// to another core: the looks come first, in a loop of loads alone, so
    /// the misses overlap (dropping a handle is an atomic write, which would
    /// make each look wait for the one before).
    fn prune(&mut self) {
        let Some(live) = live_mask(&self.0) else {
            self.0.retain(CancelHandle::is_live);
            return;
        };
        let mut index = 0;
        // `retain` visits each element once, in order.
        self.0.retain(|_| {
            let keep = (live >> index) & 1 == 1;
            index += 1;
            keep
        });
    }
}

/// Bit `i` set where `tasks[i]` is live; `None` past 64 handles.
fn live_mask(tasks: &[CancelHandle]) -> Option<u64> {
    if tasks.len() > 64 {
        return None;
    }
    Some(
        tasks
            .iter()
            .enumerate()
            .fold(0, |mask, (i, task)| mask | u64::from(task.is_live()) << i),
    )
}

/// Handles an entity's list starts with: it is pruned each time it fills,
/// so a list of eight looks at its ended tasks once per seven binds.
const FIRST_CAPACITY: usize = 8;

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
                let mut tasks = Vec::with_capacity(FIRST_CAPACITY);
                tasks.push(task);
                entity.insert(EntityTasks(tasks));
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

    /// An App with the plugin (one worker), and its `Coro`.
    fn app() -> (App, Coro) {
        let mut app = App::new();
        app.add_plugins(CoroPlugin {
            workers: 1,
            ..Default::default()
        });
        let coro = app.world().resource::<Coro>().clone();
        (app, coro)
    }

    #[test]
    fn an_entity_keeps_no_handle_of_its_ended_tasks() {
        let (mut app, coro) = app();
        let entity = app.world_mut().spawn_empty().id();
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
        // Pruned as it fills: bounded by the live tasks and the first
        // capacity, not the 1,000 ended.
        assert!(
            tasks.0.len() <= super::FIRST_CAPACITY,
            "{} handles kept",
            tasks.0.len()
        );
    }

    /// Pruning keeps exactly the live handles, on both of its
    /// paths: a list of up to 64 (looks first, then drops) and a longer one.
    #[test]
    fn pruning_keeps_the_live_tasks_and_only_them() {
        let (mut app, coro) = app();
        for count in [8, 64, 65, 200] {
            let mut tasks = EntityTasks::default();
            let mut kept = Vec::new();
            for i in 0..count {
                // Every third task never ends, the others end in the pump.
                let task = if i % 3 == 0 {
                    coro.spawn::<Main>(std::future::pending::<()>())
                } else {
                    coro.spawn::<Main>(async {})
                };
                tasks.0.push(task.cancel_handle().expect("not taken"));
                if i % 3 == 0 {
                    kept.push(task);
                } else {
                    task.detach();
                }
            }
            app.update();
            tasks.prune();
            assert_eq!(tasks.0.len(), kept.len(), "{count} handles");
            assert!(tasks.0.iter().all(|handle| handle.is_live()));
            for task in &kept {
                task.cancel();
            }
            app.update();
            tasks.prune();
            assert!(tasks.0.is_empty(), "{count} handles: cancelled ones go");
        }
    }
}
