//! [`until`] and [`until_some`]: wait for a condition on the World.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use bevy_ecs::prelude::*;
use bevy_platform::cell::SyncCell;

use super::slot::{Abandoned, Fill, slot};
use super::wait::GameWait;
use super::watchers::{Watcher, register};

/// One waiting condition: evaluates it, fills its slot when it holds.
/// Returns `true` once the entry can go (filled, or its task gave up).
type Check = Box<dyn FnMut(&mut World) -> bool + Send>;

/// The conditions tasks wait on, each evaluated once per frame.
#[derive(Default)]
struct Conditions {
    checks: Vec<SyncCell<Check>>,
    abandoned: Abandoned,
}

impl Watcher for Conditions {
    fn check(&mut self, world: &mut World) {
        // In registration order; a condition that holds leaves the list.
        self.checks.retain_mut(|check| !(check.get())(world));
    }

    fn waiting(&self) -> usize {
        self.checks.len()
    }
}

/// Waits until `condition` holds. It is evaluated with the `World` at once
/// (resolving without waiting a frame if it holds already), then by the pump
/// once per frame, before it runs tasks, until it does; the task is not
/// woken meanwhile. From a worker task this is one hop to the main thread
/// and back, as [`with_world`](crate::with_world).
///
/// Each waiting task costs its condition's evaluation every frame: for
/// something the game announces (a message, a component change, a state),
/// prefer the wait made for it.
///
/// ```
/// # use bevy_ecs::prelude::*;
/// # use bevy_coro::prelude::*;
/// #[derive(Resource)]
/// struct Health(u32);
///
/// async fn wait_for_death() {
///     until(|world| world.resource::<Health>().0 == 0).await
/// }
/// ```
///
/// # Panics
///
/// As [`with_world`](crate::with_world): outside a bevy_coro task, or in a
/// runtime pumped by hand without a World. A panic in `condition` ends the
/// task that waits, as a panic in its own code would.
pub fn until(mut condition: impl FnMut(&mut World) -> bool + Send + 'static) -> GameWait<()> {
    until_some(move |world| condition(world).then_some(()))
}

/// Waits until `f` gives `Some`, and resolves with its value: [`until`]
/// for a condition that finds something.
///
/// ```
/// # use bevy_ecs::prelude::*;
/// # use bevy_coro::prelude::*;
/// #[derive(Component)]
/// struct Boss;
///
/// async fn wait_for_the_boss() -> Entity {
///     until_some(|world| {
///         world.query_filtered::<Entity, With<Boss>>().iter(world).next()
///     })
///     .await
/// }
/// ```
pub fn until_some<T, F>(mut f: F) -> GameWait<T>
where
    T: Send + 'static,
    F: FnMut(&mut World) -> Option<T> + Send + 'static,
{
    GameWait::new("condition", "", async move {
        let waiting = register(
            |_| Conditions::default(),
            move |conditions: &mut Conditions, world| {
                if let Some(value) = f(world) {
                    return Ok(value);
                }
                let (fill, wait) = slot(&conditions.abandoned);
                let mut fill = Some(fill);
                let check: Check = Box::new(move |world| {
                    if fill.as_ref().is_none_or(Fill::is_abandoned) {
                        return true;
                    }
                    // A panic is the waiting task's: it resumes and panics
                    // with it, and no other wait is disturbed.
                    let found = match catch_unwind(AssertUnwindSafe(|| f(world))) {
                        Ok(None) => return false,
                        Ok(Some(value)) => Ok(value),
                        Err(payload) => Err(payload),
                    };
                    // Refused only if the task gave up meanwhile.
                    let _ = fill.take().expect("checked above").fill(found);
                    true
                });
                conditions.checks.push(SyncCell::new(check));
                Err(wait)
            },
        )
        .await;
        match waiting {
            Ok(value) => value,
            Err(wait) => match wait.await {
                Ok(Ok(value)) => value,
                Ok(Err(payload)) => resume_unwind(payload),
                // The World went away with the wait (the App is being
                // dropped): the task never resumes, and is dropped with the
                // scheduler.
                Err(_) => std::future::pending().await,
            },
        }
    })
}
