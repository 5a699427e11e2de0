//! Seeing entities go: the [`Watched`] marker on every entity a task waits
//! on, whose removal messages (Bevy writes one for each component of a
//! despawned entity) tell the watchers which of their entities are gone, at a
//! cost per despawn of a watched entity, not per wait; and the watcher of
//! [`despawned`](super::despawned).

use bevy_ecs::component::ComponentId;
use bevy_ecs::entity::EntityHashMap;
use bevy_ecs::lifecycle::RemovedComponentEntity;
use bevy_ecs::message::MessageCursor;
use bevy_ecs::prelude::*;

use super::slot::{Abandoned, Fill, Wait, slot};
use super::wait::GameWaitError;
use super::watchers::Watcher;

/// What a wait on an entity ends with.
pub(crate) type Outcome = Result<(), GameWaitError>;

/// On every entity some task waits on. Sparse-set stored, so adding it moves
/// no component data; it stays after the waits end (taking it off would move
/// the entity again, and the next wait would put it back).
#[derive(Component)]
#[component(storage = "SparseSet")]
pub(crate) struct Watched;

/// Puts [`Watched`] on `entity` if it is not there yet. `Err` if the entity
/// does not exist.
pub(crate) fn watch(world: &mut World, entity: Entity) -> Result<(), GameWaitError> {
    let mut entity_mut = world
        .get_entity_mut(entity)
        .map_err(|_| GameWaitError::NoSuchEntity(entity))?;
    if !entity_mut.contains::<Watched>() {
        entity_mut.insert(Watched);
    }
    Ok(())
}

/// A reader of one component's removal messages, read once per check.
pub(crate) struct Removals {
    component: ComponentId,
    cursor: MessageCursor<RemovedComponentEntity>,
}

impl Removals {
    /// Reads `component`'s removals from now on.
    pub(crate) fn new(world: &World, component: ComponentId) -> Self {
        let cursor = world
            .removed_components()
            .get(component)
            .map(|messages| messages.get_cursor_current())
            // None yet: every later one is new.
            .unwrap_or_default();
        Removals { component, cursor }
    }

    /// Reads the entities that lost the component since the last read, into
    /// `out`. `true` if some were lost unread (the pump skipped frames):
    /// the caller then checks all of its entities.
    pub(crate) fn read(&mut self, world: &World, out: &mut Vec<Entity>) -> bool {
        let Some(messages) = world.removed_components().get(self.component) else {
            return false;
        };
        let missed = self.cursor.missed_messages(messages) > 0;
        out.extend(
            self.cursor
                .read(messages)
                .map(|removed| Entity::from(removed.clone())),
        );
        missed
    }
}

/// The entities gone (despawned) among those whose [`Watched`] marker went
/// since the last read; a marker taken off a living entity (`clear`,
/// `retain`) is put back if `keep(entity)` says it is still waited on. With
/// `missed`, every entity of `all` is checked instead.
pub(crate) fn gone_since(
    world: &mut World,
    despawns: &mut Removals,
    all: impl FnOnce() -> Vec<Entity>,
    keep: impl Fn(Entity) -> bool,
) -> Vec<Entity> {
    let mut lost = Vec::new();
    if despawns.read(world, &mut lost) {
        lost = all();
    }
    lost.retain(|&entity| match world.get_entity_mut(entity) {
        Ok(mut living) => {
            if keep(entity) && !living.contains::<Watched>() {
                living.insert(Watched);
            }
            false
        }
        Err(_) => true,
    });
    lost
}

/// The [`despawned`](super::despawned) waits, by entity.
pub(crate) struct DespawnWaits {
    waits: EntityHashMap<Vec<Fill<Outcome>>>,
    despawns: Removals,
    len: usize,
    abandoned: Abandoned,
}

impl DespawnWaits {
    pub(crate) fn new(world: &mut World) -> Self {
        let marker = world.register_component::<Watched>();
        DespawnWaits {
            waits: EntityHashMap::default(),
            despawns: Removals::new(world, marker),
            len: 0,
            abandoned: Abandoned::default(),
        }
    }

    /// A wait for `entity`'s despawn, or `Err` if it does not exist.
    pub(crate) fn add(
        &mut self,
        world: &mut World,
        entity: Entity,
    ) -> Result<Wait<Outcome>, GameWaitError> {
        watch(world, entity)?;
        let (fill, wait) = slot(&self.abandoned);
        self.waits.entry(entity).or_default().push(fill);
        self.len += 1;
        Ok(wait)
    }
}

impl Watcher for DespawnWaits {
    fn check(&mut self, world: &mut World) {
        let waits = &self.waits;
        let gone = gone_since(
            world,
            &mut self.despawns,
            || waits.keys().copied().collect(),
            |entity| waits.contains_key(&entity),
        );
        for entity in gone {
            for fill in self.waits.remove(&entity).into_iter().flatten() {
                self.len -= 1;
                // Refused only by a task that gave up meanwhile.
                let _ = fill.fill(Ok(()));
            }
        }
        if self.abandoned.should_prune(self.len) {
            self.len = prune(&mut self.waits, |fill| fill.is_abandoned());
        }
    }

    fn waiting(&self) -> usize {
        self.len
    }
}

/// Drops the waits `abandoned` says were given up, and the entities left
/// with none; gives the number of waits left.
pub(crate) fn prune<W>(waits: &mut EntityHashMap<Vec<W>>, abandoned: impl Fn(&W) -> bool) -> usize {
    let mut left = 0;
    waits.retain(|_, list| {
        list.retain(|wait| !abandoned(wait));
        left += list.len();
        !list.is_empty()
    });
    left
}
