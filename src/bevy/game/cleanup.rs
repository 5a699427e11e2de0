//! [`on_cancel`]: undo what a task did to the World if it is cancelled.

use bevy_ecs::world::World;

use crate::bevy::world::with_lent_world;
use crate::runtime::task::cleanup;

/// Registers `cleanup` to run once, with the `World`, if the task calling
/// this is **cancelled**: its [`Task`](crate::Task) dropped or
/// [`cancel`](crate::Task::cancel)ed, its entity despawned
/// ([`for_entity`](crate::TaskBuilder::for_entity)), an ancestor cancelled
/// (a [`race`](crate::race) it lost, a cancelled [`TaskGroup`](crate::TaskGroup)),
/// or anything else that cancels it. The registration lasts the task's
/// life; it costs the task nothing until then, and needs no hop from a
/// worker task.
///
/// ```
/// # use bevy_ecs::prelude::*;
/// # use bevy_coro::prelude::*;
/// #[derive(Component)]
/// struct Banner;
///
/// async fn show_banner() {
///     let banner = with_world(|world| {
///         let banner = world.spawn(Banner).id();
///         // If the task is cancelled from here on, the banner goes with it.
///         on_cancel(move |world| {
///             world.despawn(banner);
///         });
///         banner
///     })
///     .await;
///     sleep(std::time::Duration::from_secs(3)).await;
///     with_world(move |world| world.despawn(banner)).await;
/// }
/// ```
///
/// Register the cleanup in the `with_world` closure that makes what it
/// undoes, as above: a task cancelled between that closure and its next
/// line (a worker task hopping back from the main thread, say) never runs
/// that line.
///
/// - **When:** on the main thread, in the pump ([`CoroSystems::Pump`](crate::CoroSystems::Pump))
///   that follows the task's end: a cancelled task ends at its next poll
///   (cancelling is cooperative), then the pump runs its cleanups at its
///   start (tasks ended since the last pump, on a worker say) or at its end
///   (tasks ended in that pump, as main-thread ones are). So a main-thread
///   task cancelled by a system is cleaned up by the next frame's pump.
///   Cleanups do not count against [`main_budget`](crate::CoroPlugin::main_budget):
///   the pump runs all of them.
/// - **Not** when the task returns, nor when it panics: the cleanup is
///   dropped unrun (its handle gives the value, or
///   [`TaskError::Panicked`](crate::TaskError::Panicked), for whoever
///   awaits it to act on). It runs exactly when the task's handle gives
///   [`TaskError::Cancelled`](crate::TaskError::Cancelled), but at shutdown.
/// - **Not at shutdown:** dropping the App cancels every task, but there is
///   no World left to clean: the cleanups of tasks still running then, and
///   those not yet run, are dropped unrun (each exactly once).
/// - **Order:** a task's cleanups run last registered first, as drops do
///   (what was set up last is undone first); cleanups of different tasks
///   run in the order the tasks ended.
/// - **Panics:** a panic in a cleanup is caught and counted in
///   [`CoroStats::panics`](crate::CoroStats::panics) (and logged with the
///   `trace` feature), as a task panic; the task's other cleanups, and
///   everyone else's, still run.
///
/// # Panics
///
/// Outside a bevy_coro task: there is no task to be cancelled.
#[track_caller]
pub fn on_cancel(cleanup: impl FnOnce(&mut World) + Send + 'static) {
    let filed = cleanup::on_cancel(Box::new(move || with_lent_world(cleanup)));
    assert!(
        filed,
        "bevy_coro: `on_cancel` was called outside a bevy_coro task; call it from the \
         task's own code (inside `coro.spawn::<Main>(..)` or `coro.spawn::<Worker>(..)`)"
    );
}
