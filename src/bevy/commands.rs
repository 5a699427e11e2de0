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

    /// Spawns `future` with affinity `A`, detached and scoped to `state`
    /// (feature `state`): cancelled when `S` leaves it, or at once if `S` is
    /// not in it when the command is applied. See
    /// [`TaskBuilder::in_state`](crate::TaskBuilder::in_state).
    ///
    /// ```
    /// # use bevy_ecs::prelude::*;
    /// # use bevy_state::prelude::*;
    /// # use bevy_coro::prelude::*;
    /// #[derive(States, Default, Debug, Clone, PartialEq, Eq, Hash)]
    /// enum Screen { #[default] Menu, Game }
    ///
    /// fn start_menu_music(mut commands: Commands) {
    ///     commands.spawn_task_in_state::<Main, _>(Screen::Menu, async {
    ///         loop { next_frame().await }
    ///     });
    /// }
    /// ```
    ///
    /// # Panics
    ///
    /// When the command is applied in a World without [`CoroPlugin`](crate::CoroPlugin),
    /// or whose App does not scope tasks to `S` (see
    /// [`CoroAppExt::add_coro_state`](crate::CoroAppExt::add_coro_state)).
    #[cfg(feature = "state")]
    fn spawn_task_in_state<A: Affinity, S: bevy_state::state::States>(
        &mut self,
        state: S,
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

    #[cfg(feature = "state")]
    #[track_caller]
    fn spawn_task_in_state<A: Affinity, S: bevy_state::state::States>(
        &mut self,
        state: S,
        future: impl Future<Output = ()> + Send + 'static,
    ) -> &mut Self {
        let location = std::panic::Location::caller();
        self.queue(move |world: &mut World| {
            spawn_in_state::<A, S>(world, None, state, future, location);
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

    /// Spawns `future` with affinity `A`, detached, tied to this entity and
    /// scoped to `state`: despawning the entity or leaving the state cancels
    /// it.
    #[cfg(feature = "state")]
    #[track_caller]
    fn spawn_task_in_state<A: Affinity, S: bevy_state::state::States>(
        &mut self,
        state: S,
        future: impl Future<Output = ()> + Send + 'static,
    ) -> &mut Self {
        let location = std::panic::Location::caller();
        let entity = self.id();
        self.commands().queue(move |world: &mut World| {
            spawn_in_state::<A, S>(world, Some(entity), state, future, location);
        });
        self
    }
}

/// Spawns a detached task scoped to `state` (and tied to `entity`, if any).
#[cfg(feature = "state")]
fn spawn_in_state<A: Affinity, S: bevy_state::state::States>(
    world: &mut World,
    entity: Option<Entity>,
    state: S,
    future: impl Future<Output = ()> + Send + 'static,
    location: &'static std::panic::Location<'static>,
) {
    let task = coro_of(world, location).spawn::<A>(future);
    if let Some(cancel) = task.cancel_handle() {
        if let Some(entity) = entity {
            bind(world, entity, cancel.clone());
        }
        crate::bevy::state::bind_to_state(world, &state, cancel, location);
    }
    task.detach();
}

fn coro_of(world: &World, location: &std::panic::Location<'_>) -> Coro {
    world
        .get_resource::<Coro>()
        .unwrap_or_else(|| {
            panic!("spawn_task at {location}: there is no scheduler; add CoroPlugin to the App")
        })
        .clone()
}
