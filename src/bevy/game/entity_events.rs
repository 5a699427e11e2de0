//! [`triggered_on`]: wait for an [`EntityEvent`] triggered on one entity.
//!
//! As [`triggered`](super::triggered), one observer per event type fills
//! the waits, here looked up by the event's target. An entity waited on
//! carries an [`AwaitedEvents`] component whose despawn hook ends its waits
//! with [`GameWaitError::Despawned`]: nothing is looked at per frame.

use std::any::TypeId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bevy_ecs::event::EntityEvent;
use bevy_ecs::lifecycle::HookContext;
use bevy_ecs::prelude::*;
use bevy_ecs::world::DeferredWorld;

use super::slot::{Abandoned, Fill, slot};
use super::wait::{GameWait, GameWaitError};
use super::watchers::{Watcher, register};

type Outcome<E> = Result<E, GameWaitError>;

/// The tasks waiting for an `E` on each entity.
struct ByEntity<E> {
    waits: HashMap<Entity, Vec<Fill<Outcome<E>>>>,
    /// Waits in `waits`, kept so the per-frame report need not count them.
    len: usize,
}

/// [`ByEntity`], shared by the watcher, the observer and the despawn hooks.
struct Waiting<E>(Mutex<ByEntity<E>>);

impl<E> Waiting<E> {
    fn lock(&self) -> MutexGuard<'_, ByEntity<E>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the waits on `entity` out.
    fn take(&self, entity: Entity) -> Vec<Fill<Outcome<E>>> {
        let mut by_entity = self.lock();
        let fills = by_entity.waits.remove(&entity).unwrap_or_default();
        by_entity.len -= fills.len();
        fills
    }
}

/// What the despawn hook of an entity tells: the waits on it of one event
/// type.
trait EndOnDespawn: Send + Sync {
    fn event_type(&self) -> TypeId;
    fn despawned(&self, entity: Entity);
}

impl<E: Send + 'static> EndOnDespawn for Waiting<E> {
    fn event_type(&self) -> TypeId {
        TypeId::of::<E>()
    }

    fn despawned(&self, entity: Entity) {
        // Filled with no lock held: a fill wakes a task.
        for fill in self.take(entity) {
            let _ = fill.fill(Err(GameWaitError::Despawned(entity)));
        }
    }
}

/// On an entity tasks wait for events on: the waits to end when it is
/// despawned, one entry per event type.
#[derive(Component)]
#[component(on_despawn = end_waits)]
struct AwaitedEvents(Vec<Arc<dyn EndOnDespawn>>);

fn end_waits(world: DeferredWorld, context: HookContext) {
    if let Some(awaited) = world.get::<AwaitedEvents>(context.entity) {
        for waiting in &awaited.0 {
            waiting.despawned(context.entity);
        }
    }
}

/// The observer of `E` and the waits on each entity.
struct EntityEventWatcher<E> {
    waiting: Arc<Waiting<E>>,
    abandoned: Abandoned,
    observer: Entity,
}

impl<E: EntityEvent + Clone> EntityEventWatcher<E> {
    fn new(world: &mut World) -> Self {
        let waiting = Arc::new(Waiting(Mutex::new(ByEntity {
            waits: HashMap::new(),
            len: 0,
        })));
        let observer = observe(world, waiting.clone());
        EntityEventWatcher {
            waiting,
            abandoned: Abandoned::default(),
            observer,
        }
    }
}

/// Adds the observer that hands each `E` to the tasks waiting on its target
/// (each entity it reaches, for an event that propagates).
fn observe<E: EntityEvent + Clone>(world: &mut World, waiting: Arc<Waiting<E>>) -> Entity {
    world
        .add_observer(move |event: On<E>| {
            let event = event.event();
            for fill in waiting.take(event.event_target()) {
                // Refused only by a task that gave up.
                let _ = fill.fill(Ok(event.clone()));
            }
        })
        .id()
}

impl<E: EntityEvent + Clone> Watcher for EntityEventWatcher<E> {
    fn check(&mut self, world: &mut World) {
        let mut by_entity = self.waiting.lock();
        if by_entity.len == 0 {
            return;
        }
        if self.abandoned.should_prune(by_entity.len) {
            by_entity.waits.retain(|_, fills| {
                fills.retain(|fill| !fill.is_abandoned());
                !fills.is_empty()
            });
            by_entity.len = by_entity.waits.values().map(Vec::len).sum();
        }
        let waits = by_entity.len > 0;
        drop(by_entity);
        if waits && world.get_entity(self.observer).is_err() {
            // Despawned by the game: without it the tasks would wait forever.
            self.observer = observe(world, self.waiting.clone());
        }
    }

    fn waiting(&self) -> usize {
        self.waiting.lock().len
    }
}

/// Waits for the next `E` triggered on `entity` (or, for an event that
/// propagates, reaching it) and resolves with a clone of it. The wait begins
/// at once in a main-thread task, after a hop to the main thread from a
/// worker task (as [`with_world`](crate::with_world)); an event triggered
/// before does not count. As [`triggered`](crate::triggered), one observer
/// per event type wakes the waiting tasks during the trigger.
///
/// Ends with [`GameWaitError::NoSuchEntity`] if `entity` does not exist when
/// the wait begins, and with [`GameWaitError::Despawned`] as soon as it is
/// despawned while the task waits. (The entity gets a small private
/// component, whose despawn hook ends its waits.)
///
/// ```
/// # use bevy_ecs::prelude::*;
/// # use bevy_coro::prelude::*;
/// #[derive(EntityEvent, Clone)]
/// struct Opened {
///     entity: Entity,
/// }
///
/// async fn wait_for_the_door(door: Entity) {
///     match triggered_on::<Opened>(door).await {
///         Ok(_) => println!("the door is open"),
///         Err(error) => println!("no door to wait for: {error}"),
///     }
/// }
/// ```
///
/// # Panics
///
/// As [`with_world`](crate::with_world): outside a bevy_coro task.
pub fn triggered_on<E: EntityEvent + Clone>(entity: Entity) -> GameWait<Outcome<E>> {
    GameWait::new("entity event", std::any::type_name::<E>(), async move {
        let wait = register(EntityEventWatcher::<E>::new, move |watcher, world| {
            let Ok(mut target) = world.get_entity_mut(entity) else {
                return Err(GameWaitError::NoSuchEntity(entity));
            };
            let waiting: Arc<dyn EndOnDespawn> = watcher.waiting.clone();
            match target.get_mut::<AwaitedEvents>() {
                Some(mut awaited) => {
                    if !awaited
                        .0
                        .iter()
                        .any(|w| w.event_type() == TypeId::of::<E>())
                    {
                        awaited.0.push(waiting);
                    }
                }
                None => {
                    target.insert(AwaitedEvents(vec![waiting]));
                }
            }
            let (fill, wait) = slot(&watcher.abandoned);
            let mut by_entity = watcher.waiting.lock();
            by_entity.waits.entry(entity).or_default().push(fill);
            by_entity.len += 1;
            Ok(wait)
        })
        .await;
        match wait?.await {
            Ok(outcome) => outcome,
            // The World went away with the wait (the App is being dropped):
            // the task never resumes, and is dropped with the scheduler.
            Err(_) => std::future::pending().await,
        }
    })
}
