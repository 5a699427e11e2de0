//! The watcher of one component type's waits ([`added`](super::added),
//! [`changed`](super::changed), [`removed`](super::removed)), checked once
//! per frame at a cost that follows the game's activity, not the waits:
//!
//! - added and changed: the component's change ticks. With many waits, one
//!   `Changed<C>` query over the entities that have `C`, looking the changed
//!   ones up among the waits; with few, each waited entity's ticks directly:
//!   whichever visits fewer entities.
//! - removed: `C`'s removal messages, which Bevy writes anyway, read with a
//!   cursor of the watcher's own.
//! - despawned entities: the removal messages of the [`Watched`] marker.
//!
//! Ticks: the watcher bumps the World's change tick after each check and at
//! each registration, so a change made in the same tick as a check (by a task
//! in the same pump) or before a wait began is told apart from one after.

use std::marker::PhantomData;

use bevy_ecs::change_detection::{ComponentTicks, Tick};
use bevy_ecs::entity::EntityHashMap;
use bevy_ecs::prelude::*;

use super::despawn::{Outcome, Removals, Watched, gone_since, prune, watch};
use super::slot::{Abandoned, Fill, Wait, slot};
use super::wait::GameWaitError;
use super::watchers::Watcher;

/// What a wait on a component waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Added,
    Changed,
    Removed,
}

/// An added or changed wait: it holds once `C`'s tick is newer than `since`.
struct Ticked {
    added: bool,
    since: Tick,
    fill: Fill<Outcome>,
}

impl Ticked {
    fn holds(&self, ticks: ComponentTicks, this_run: Tick) -> bool {
        if self.added {
            ticks.is_added(self.since, this_run)
        } else {
            ticks.is_changed(self.since, this_run)
        }
    }
}

/// A `Changed<C>` scan costs about this many times less per entity than a
/// look-up of one waited entity's ticks.
const SCAN_PER_LOOKUP: usize = 8;

/// Waits older than this many ticks have their `since` moved up, before the
/// World's tick could wrap around past them.
const MAX_AGE: u32 = 1 << 30;

/// The waits on component `C`, by entity.
pub(crate) struct ComponentWaits<C: Component> {
    ticked: EntityHashMap<Vec<Ticked>>,
    removed: EntityHashMap<Vec<Fill<Outcome>>>,
    changes: QueryState<Entity, Changed<C>>,
    removals: Removals,
    despawns: Removals,
    /// The World's tick at the last check: changes up to it were seen.
    last_check: Tick,
    /// The oldest `since` that may be waiting, for the wrap-around guard.
    oldest: Tick,
    len: usize,
    abandoned: Abandoned,
    _component: PhantomData<fn() -> C>,
}

impl<C: Component> ComponentWaits<C> {
    pub(crate) fn new(world: &mut World) -> Self {
        let component = world.register_component::<C>();
        let marker = world.register_component::<Watched>();
        let now = world.change_tick();
        ComponentWaits {
            ticked: EntityHashMap::default(),
            removed: EntityHashMap::default(),
            changes: QueryState::new(world),
            removals: Removals::new(world, component),
            despawns: Removals::new(world, marker),
            last_check: now,
            oldest: now,
            len: 0,
            abandoned: Abandoned::default(),
            _component: PhantomData,
        }
    }

    /// A wait for `kind` on `entity`, or `Err` if the entity does not exist.
    pub(crate) fn add(
        &mut self,
        world: &mut World,
        entity: Entity,
        kind: Kind,
    ) -> Result<Wait<Outcome>, GameWaitError> {
        watch(world, entity)?;
        let (fill, wait) = slot(&self.abandoned);
        match kind {
            Kind::Removed => {
                // Removals made before this wait began are not its own: take
                // them in first.
                self.take_removals(world);
                self.removed.entry(entity).or_default().push(fill);
            }
            Kind::Added | Kind::Changed => {
                // Changes from here on get a newer tick than `since`.
                let since = world.increment_change_tick();
                if self.ticked.is_empty() {
                    self.oldest = since;
                }
                self.ticked.entry(entity).or_default().push(Ticked {
                    added: kind == Kind::Added,
                    since,
                    fill,
                });
            }
        }
        self.len += 1;
        Ok(wait)
    }

    /// Ends the removed waits of the entities that lost `C` since the last
    /// read (with `Despawned` for those gone).
    fn take_removals(&mut self, world: &World) {
        let mut lost = Vec::new();
        if self.removals.read(world, &mut lost) {
            // Some went unread: every waited entity without `C` counts.
            lost = self.removed.keys().copied().collect();
            lost.retain(|&entity| {
                world
                    .get_entity(entity)
                    .map_or(true, |e| !e.contains::<C>())
            });
        }
        for entity in lost {
            let Some(fills) = self.removed.remove(&entity) else {
                continue;
            };
            let outcome = match world.get_entity(entity) {
                Ok(_) => Ok(()),
                Err(_) => Err(GameWaitError::Despawned(entity)),
            };
            for fill in fills {
                self.len -= 1;
                let _ = fill.fill(outcome.clone());
            }
        }
    }

    /// Ends every wait on `entity` with `Despawned`.
    fn despawned(&mut self, entity: Entity) {
        let ticked = self
            .ticked
            .remove(&entity)
            .into_iter()
            .flatten()
            .map(|w| w.fill);
        let removed = self.removed.remove(&entity).into_iter().flatten();
        for fill in ticked.chain(removed) {
            self.len -= 1;
            let _ = fill.fill(Err(GameWaitError::Despawned(entity)));
        }
    }

    /// Ends the added and changed waits whose change came, visiting the
    /// fewer of: the waited entities, the entities with `C`.
    fn take_changes(&mut self, world: &mut World, this_run: Tick) {
        if self.ticked.is_empty() {
            return;
        }
        if this_run.get().wrapping_sub(self.oldest.get()) > MAX_AGE {
            self.rebase(this_run);
        }
        let waited = self.ticked.len();
        let (ticked, changes, len) = (&mut self.ticked, &mut self.changes, &mut self.len);
        let mut emptied = Vec::new();
        let mut settle = |entity: Entity, ticks: ComponentTicks, waits: &mut Vec<Ticked>| {
            for wait in waits.extract_if(.., |wait| wait.holds(ticks, this_run)) {
                *len -= 1;
                let _ = wait.fill.fill(Ok(()));
            }
            if waits.is_empty() {
                emptied.push(entity);
            }
        };
        world.last_change_tick_scope(self.last_check, |world| {
            let scan = changes.iter(world);
            let with_c = scan.size_hint().1.unwrap_or(usize::MAX);
            if with_c <= waited.saturating_mul(SCAN_PER_LOOKUP) {
                for entity in scan {
                    if let Some(waits) = ticked.get_mut(&entity)
                        && let Some(ticks) = world.entity(entity).get_change_ticks::<C>()
                    {
                        settle(entity, ticks, waits);
                    }
                }
            } else {
                for (&entity, waits) in ticked.iter_mut() {
                    // Gone entities are ended by the despawn pass.
                    if let Ok(living) = world.get_entity(entity)
                        && let Some(ticks) = living.get_change_ticks::<C>()
                    {
                        settle(entity, ticks, waits);
                    }
                }
            }
        });
        for entity in emptied {
            self.ticked.remove(&entity);
        }
    }

    /// Moves every wait's `since` up to at most `MAX_AGE` ticks old: older
    /// ones are equivalent to it for Bevy's tick comparisons, and would be
    /// misread once the World's tick wraps around past them.
    fn rebase(&mut self, this_run: Tick) {
        let floor = Tick::new(this_run.get().wrapping_sub(MAX_AGE / 2));
        for wait in self.ticked.values_mut().flatten() {
            if this_run.get().wrapping_sub(wait.since.get()) > MAX_AGE / 2 {
                wait.since = floor;
            }
        }
        self.oldest = floor;
    }
}

impl<C: Component> Watcher for ComponentWaits<C> {
    fn check(&mut self, world: &mut World) {
        let this_run = world.change_tick();
        let (ticked, removed) = (&self.ticked, &self.removed);
        let gone = gone_since(
            world,
            &mut self.despawns,
            || ticked.keys().chain(removed.keys()).copied().collect(),
            |entity| ticked.contains_key(&entity) || removed.contains_key(&entity),
        );
        for entity in gone {
            self.despawned(entity);
        }
        self.take_removals(world);
        self.take_changes(world, this_run);
        // Changes from here on (by tasks in this pump) are newer.
        self.last_check = world.increment_change_tick();
        if self.abandoned.should_prune(self.len) {
            self.len = prune(&mut self.ticked, |wait| wait.fill.is_abandoned())
                + prune(&mut self.removed, Fill::is_abandoned);
        }
    }

    fn waiting(&self) -> usize {
        self.len
    }
}
