//! [`CoroCommandsExt`]: starting tasks from `Commands` and `EntityCommands`,
//! without a `Res<Coro>`.

use std::future::Future;

use bevy_ecs::prelude::*;
use bevy_ecs::system::EntityCommands;

use crate::bevy::coro::Coro;
use crate::bevy::entity::bind;
use crate::runtime::{Affinity, SpawnOn};

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
            if let Some(cancel) = task.cancel_handle() {
                bind(world, entity, cancel);
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
