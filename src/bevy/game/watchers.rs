//! The watchers: one per kind of thing tasks wait for (a message type, a
//! component type, World conditions, ...), kept in the [`GameWaits`]
//! resource and checked by the pump once per frame, before it runs tasks.
//!
//! A watcher's check costs what its kind costs (a message counter compared,
//! a changed-components query), not a poll per waiting task: the tasks stay
//! asleep until their slot is filled.

use std::any::{Any, TypeId};
use std::collections::HashMap;

use bevy_ecs::prelude::*;

use crate::bevy::world::with_world;

/// One kind of wait, checked once per frame.
pub(crate) trait Watcher: Any + Send + Sync {
    /// Fills the slots of the waits that hold now.
    fn check(&mut self, world: &mut World);

    /// Waits still registered (abandoned ones not yet pruned included).
    fn waiting(&self) -> usize;
}

/// The watchers of this World, in the order they were first used (so a
/// deterministic run checks, and wakes, in the same order every time).
#[derive(Resource, Default)]
pub(crate) struct GameWaits {
    watchers: Vec<Box<dyn Watcher>>,
    index: HashMap<TypeId, usize>,
}

impl GameWaits {
    /// The watcher of type `W`, made by `new` the first time.
    pub(crate) fn watcher<W: Watcher>(
        &mut self,
        world: &mut World,
        new: impl FnOnce(&mut World) -> W,
    ) -> &mut W {
        let index = *self.index.entry(TypeId::of::<W>()).or_insert_with(|| {
            self.watchers.push(Box::new(new(world)));
            self.watchers.len() - 1
        });
        let watcher: &mut dyn Any = self.watchers[index].as_mut();
        watcher
            .downcast_mut::<W>()
            .expect("a watcher is filed under its own type")
    }

    /// Waits registered with every watcher.
    pub(crate) fn waiting(&self) -> usize {
        self.watchers.iter().map(|w| w.waiting()).sum()
    }
}

/// Checks every watcher once: called by the pump before it runs tasks.
pub(crate) fn check(world: &mut World) {
    if !world.contains_resource::<GameWaits>() {
        return;
    }
    world.resource_scope(|world, mut waits: Mut<GameWaits>| {
        for watcher in &mut waits.bypass_change_detection().watchers {
            watcher.check(world);
        }
    });
}

/// Waits registered with this World's watchers.
pub(crate) fn waiting(world: &World) -> usize {
    world
        .get_resource::<GameWaits>()
        .map_or(0, GameWaits::waiting)
}

/// Runs `register` with the watcher `W` (made by `new` the first time) and
/// the World, on the main thread: at once from a main-thread task, after a
/// hop from a worker task (as [`with_world`] does).
pub(crate) async fn register<W, R>(
    new: impl FnOnce(&mut World) -> W + Send,
    register: impl FnOnce(&mut W, &mut World) -> R + Send,
) -> R
where
    W: Watcher,
    R: Send,
{
    with_world(move |world| {
        world.init_resource::<GameWaits>();
        world.resource_scope(|world, mut waits: Mut<GameWaits>| {
            let watcher = waits.bypass_change_detection().watcher(world, new);
            register(watcher, world)
        })
    })
    .await
}
