//! Waits on an entity: [`added`], [`changed`], [`removed`] (a component) and
//! [`despawned`].
//!
//! Each waits for the **next** time it happens, after the wait began (as
//! Bevy's `Added`, `Changed` and `RemovedComponents` report what happened
//! since a system last ran): a component added before the wait is not its
//! addition. Each is settled by the pump's once-a-frame check, before it runs
//! tasks, so a task resumes in the frame after the game did it (or in the
//! same frame, for what the game did before the pump).

use bevy_ecs::prelude::*;

use super::component_waits::{ComponentWaits, Kind};
use super::despawn::{DespawnWaits, Outcome};
use super::wait::{GameWait, GameWaitError};
use super::watchers::register;

/// Waits until component `C` is next added to `entity` (inserted while the
/// entity did not have it).
///
/// Resolves with `Ok(())`; with [`GameWaitError::NoSuchEntity`] at once if
/// `entity` does not exist, and with [`GameWaitError::Despawned`] if it is
/// despawned before `C` is added (or in the same frame, before the check saw
/// it). A `C` added and removed again between two checks is not seen: the
/// check reads the component's change ticks, so the wait costs the game
/// nothing when nothing happens (where an observer would run on every
/// addition of `C` in the World, waited on or not).
///
/// ```
/// # use bevy_ecs::prelude::*;
/// # use bevy_coro::prelude::*;
/// #[derive(Component)]
/// struct Grounded;
///
/// async fn land(player: Entity) -> Result<(), GameWaitError> {
///     added::<Grounded>(player).await
/// }
/// ```
///
/// # Panics
///
/// As [`with_world`](crate::with_world): outside a bevy_coro task, or in a
/// runtime pumped by hand without a World.
pub fn added<C: Component>(entity: Entity) -> GameWait<Outcome> {
    on_component::<C>(entity, Kind::Added)
}

/// Waits until component `C` of `entity` next changes: mutably dereferenced
/// (a `Mut<C>`, `get_mut`), re-inserted, or added, after the wait began.
/// A change made before the wait began, in the same frame or by the same
/// task just before, is not seen; a change by a system after the pump is
/// seen in the next frame.
///
/// Resolves as [`added`] does: `Ok(())`, [`GameWaitError::NoSuchEntity`] at
/// once, [`GameWaitError::Despawned`]. With many waits on `C`, the check is one
/// `Changed<C>` query over the entities with `C` per frame, whatever the
/// number of waits; with few, a look-up of each waited entity's ticks.
///
/// ```
/// # use bevy_ecs::prelude::*;
/// # use bevy_coro::prelude::*;
/// #[derive(Component)]
/// struct Health(u32);
///
/// async fn flash_on_hit(enemy: Entity) {
///     while changed::<Health>(enemy).await.is_ok() {
///         // Flash the sprite...
///     }
/// }
/// ```
pub fn changed<C: Component>(entity: Entity) -> GameWait<Outcome> {
    on_component::<C>(entity, Kind::Changed)
}

/// Waits until component `C` is next removed from `entity` (taken off; a
/// despawn ends the wait with [`GameWaitError::Despawned`] instead).
/// Read from the removal messages Bevy writes anyway: a removal made before
/// the wait began is not seen, one made after it is, even if `C` is put back
/// before the check.
///
/// Resolves as [`added`] does: `Ok(())`, [`GameWaitError::NoSuchEntity`] at
/// once, [`GameWaitError::Despawned`] (also when `C` was removed and the
/// entity despawned between two checks).
///
/// ```
/// # use bevy_ecs::prelude::*;
/// # use bevy_coro::prelude::*;
/// #[derive(Component)]
/// struct Shield;
///
/// async fn shield_down(boss: Entity) -> bool {
///     removed::<Shield>(boss).await.is_ok()
/// }
/// ```
pub fn removed<C: Component>(entity: Entity) -> GameWait<Outcome> {
    on_component::<C>(entity, Kind::Removed)
}

/// Waits until `entity` is despawned: `Ok(())` then, or
/// [`GameWaitError::NoSuchEntity`] at once if it does not exist (it was
/// despawned already, or never was).
///
/// ```
/// # use bevy_ecs::prelude::*;
/// # use bevy_coro::prelude::*;
/// async fn after_the_boss(boss: Entity) {
///     let _ = despawned(boss).await;
///     // Open the door...
/// }
/// ```
///
/// How: the entities tasks wait on carry a private sparse-set marker
/// component (added at the first wait, left in place); the removal messages
/// Bevy writes for it when the entity is despawned are read once per frame,
/// so the check costs in proportion to the despawns of waited entities, not
/// to the waits.
pub fn despawned(entity: Entity) -> GameWait<Outcome> {
    GameWait::new("despawn", "", async move {
        let waiting = register(DespawnWaits::new, move |waits: &mut DespawnWaits, world| {
            waits.add(world, entity)
        })
        .await;
        settle(waiting).await
    })
}

fn on_component<C: Component>(entity: Entity, kind: Kind) -> GameWait<Outcome> {
    let what = match kind {
        Kind::Added => "added",
        Kind::Changed => "changed",
        Kind::Removed => "removed",
    };
    GameWait::new(what, std::any::type_name::<C>(), async move {
        let waiting = register(
            ComponentWaits::<C>::new,
            move |waits: &mut ComponentWaits<C>, world| waits.add(world, entity, kind),
        )
        .await;
        settle(waiting).await
    })
}

async fn settle(waiting: Result<super::slot::Wait<Outcome>, GameWaitError>) -> Outcome {
    match waiting {
        Ok(wait) => wait.await.unwrap_or(Err(GameWaitError::WorldGone)),
        Err(error) => Err(error),
    }
}
