//! Actors tied to entities: `coro.actor(..).for_entity(e)` stops the actor
//! when the entity is despawned.

use bevy_ecs::prelude::*;

use crate::runtime::{ActorBuilder, Owner};

impl ActorBuilder<'_> {
    /// Ties the actor to `entity`: despawning the entity (or removing its
    /// [`EntityTasks`](crate::EntityTasks)) stops the actor at once, as
    /// [`Actor::stop_now`](crate::Actor::stop_now): a message being handled
    /// is cancelled at its next await, the messages not yet handled are
    /// dropped (their asks answer [`ActorError::Stopped`](crate::ActorError::Stopped)),
    /// the state is dropped and later sends are refused. The actor is tied
    /// by the next pump; if the entity is gone by then, it stops then.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_ecs::prelude::*;
    /// # use bevy_coro::prelude::*;
    /// # use bevy_coro::behavior_fn;
    /// # let mut app = App::new();
    /// # app.add_plugins(CoroPlugin { workers: 1, ..Default::default() });
    /// # let coro = app.world().resource::<Coro>().clone();
    /// let goblin = app.world_mut().spawn_empty().id();
    /// let brain: Actor<&str> = coro
    ///     .actor("goblin brain")
    ///     .for_entity(goblin)
    ///     .spawn::<Main>(behavior_fn((), |_, _order: &str| Box::pin(async {})));
    /// app.update(); // tied
    /// app.world_mut().despawn(goblin);
    /// assert!(brain.is_stopped());
    /// assert!(brain.send("attack").is_err());
    /// ```
    pub fn for_entity(self, entity: Entity) -> Self {
        self.owned_by(Owner::Key(entity.to_bits()))
    }
}
