//! [`triggered`]: wait for an observer [`Event`] to be triggered.
//!
//! The first wait for an event type adds one observer for it to the World.
//! The observer and the watcher share the list of waiting tasks: the
//! observer fills it as the event is triggered (during the trigger, so a
//! task woken then runs in this frame's pump at the latest), the watcher
//! prunes it and keeps the observer alive. No per-frame cost per wait.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bevy_ecs::event::Event;
use bevy_ecs::prelude::*;

use super::slot::{Abandoned, Fill, slot};
use super::wait::GameWait;
use super::watchers::{Watcher, register};

/// The tasks waiting for the next `E`, shared by the watcher and the
/// observer.
struct Waiting<E>(Mutex<Vec<Fill<E>>>);

impl<E> Waiting<E> {
    fn lock(&self) -> MutexGuard<'_, Vec<Fill<E>>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The observer of `E` and its waiting tasks.
struct EventWatcher<E> {
    waiting: Arc<Waiting<E>>,
    abandoned: Abandoned,
    observer: Entity,
}

impl<E: Event + Clone> EventWatcher<E> {
    fn new(world: &mut World) -> Self {
        let waiting = Arc::new(Waiting(Mutex::new(Vec::new())));
        let observer = observe(world, waiting.clone());
        EventWatcher {
            waiting,
            abandoned: Abandoned::default(),
            observer,
        }
    }
}

/// Adds the observer that hands each `E` triggered to the tasks waiting.
fn observe<E: Event + Clone>(world: &mut World, waiting: Arc<Waiting<E>>) -> Entity {
    world
        .add_observer(move |event: On<E>| {
            let fills = std::mem::take(&mut *waiting.lock());
            // Filled with no lock held: a fill wakes a task.
            for fill in fills {
                // Refused only by a task that gave up.
                let _ = fill.fill(event.event().clone());
            }
        })
        .id()
}

impl<E: Event + Clone> Watcher for EventWatcher<E> {
    fn check(&mut self, world: &mut World) {
        let mut waiting = self.waiting.lock();
        if waiting.is_empty() {
            return;
        }
        if self.abandoned.should_prune(waiting.len()) {
            waiting.retain(|fill| !fill.is_abandoned());
        }
        let waits = !waiting.is_empty();
        drop(waiting);
        if waits && world.get_entity(self.observer).is_err() {
            // Despawned by the game (a sweep of every entity, say): without
            // it the tasks would wait forever.
            self.observer = observe(world, self.waiting.clone());
        }
    }

    fn waiting(&self) -> usize {
        self.waiting.lock().len()
    }
}

/// Waits for the next `E` triggered (`world.trigger(..)`,
/// `commands.trigger(..)`, an entity event on any entity) and resolves with
/// a clone of it. The wait begins at once in a main-thread task, after a
/// hop to the main thread from a worker task (as
/// [`with_world`](crate::with_world)); an event triggered before does not
/// count. The first wait for `E` adds an observer of `E` to the World,
/// which wakes the waiting tasks as the event is triggered: they run in
/// the same frame's pump at the latest.
///
/// ```
/// # use bevy_ecs::prelude::*;
/// # use bevy_coro::prelude::*;
/// #[derive(Event, Clone)]
/// struct BossDefeated {
///     score: u32,
/// }
///
/// async fn roll_the_credits() {
///     let BossDefeated { score } = triggered::<BossDefeated>().await;
///     println!("you won with {score} points");
/// }
/// ```
///
/// # Panics
///
/// As [`with_world`](crate::with_world): outside a bevy_coro task.
pub fn triggered<E: Event + Clone>() -> GameWait<E> {
    GameWait::new("event", std::any::type_name::<E>(), async {
        let wait = register(EventWatcher::<E>::new, |watcher, _| {
            let (fill, wait) = slot(&watcher.abandoned);
            watcher.waiting.lock().push(fill);
            wait
        })
        .await;
        match wait.await {
            Ok(event) => event,
            // The World went away with the wait (the App is being dropped):
            // the task never resumes, and is dropped with the scheduler.
            Err(_) => std::future::pending().await,
        }
    })
}
