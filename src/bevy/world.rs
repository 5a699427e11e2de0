//! [`with_world`]: run a closure on the `World` from any task.
//!
//! The pump system lends the `World` to the pump through a thread-local
//! pointer, for exactly the duration of the pump. A main-thread task reaches it
//! directly; a worker task hops to the main thread for the closure and back.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bevy_ecs::world::World;

use crate::runtime::{CoroFutureExt, Main, On, current_task_in_pump, with_current_task};

/// What this thread's pump system lent to `with_world`.
#[derive(Clone, Copy)]
enum Lent {
    /// Nothing: no pump system runs here (a runtime pumped by hand).
    Nothing,
    /// The `World` of the running pump system.
    World(*mut World),
    /// The `World`, taken by a `with_world` closure that runs now.
    InUse,
}

thread_local! {
    /// What the running pump system lent.
    static WORLD: Cell<Lent> = const { Cell::new(Lent::Nothing) };
}

/// Puts the previous value back when dropped, also during unwinding.
struct Restore(Lent);

impl Drop for Restore {
    fn drop(&mut self) {
        WORLD.set(self.0);
    }
}

/// Lends `world` to `with_world` calls made while `f` runs on this thread.
pub(crate) fn lend<R>(world: &mut World, f: impl FnOnce() -> R) -> R {
    let _restore = Restore(WORLD.replace(Lent::World(world)));
    f()
}

/// Runs `f` with the `World` on the main thread, during the pump, and gives
/// back its result. From a main-thread task it runs at once (no hop); from a
/// worker task the task hops to the main thread for the closure and comes back,
/// served by the next pump at the latest (within the running one when it
/// arrives during it).
///
/// ```
/// # use bevy_ecs::prelude::*;
/// # use bevy_coro::prelude::*;
/// #[derive(Resource)]
/// struct Score(u32);
///
/// async fn add_points(points: u32) -> u32 {
///     with_world(move |world| {
///         let mut score = world.resource_mut::<Score>();
///         score.0 += points;
///         score.0
///     })
///     .await
/// }
/// ```
///
/// # Inside `join`, `zip`, `select`, `or`, `race`, `timeout`
///
/// A task has one affinity at a time, and `with_world` moves the whole task
/// to the main thread until its closure has run (see
/// [`on`](CoroFutureExt::on)). So, beside other branches of one combinator:
///
/// - in a task running on the main thread, it is safe beside anything: it
///   runs at its first poll, with no hop;
/// - in a task running on a worker, it is safe beside branches that do not
///   hop, or hop to the main thread too (other `with_world`s,
///   `.on::<Main>()`), but not beside a branch that hops to a worker
///   (`.on::<Worker>()`): that hop sends the task back to a worker before
///   the pump could run the closure, and `with_world` panics saying so.
///   Await `with_world` before or after the combinator, or spawn that branch
///   as a task of its own and await its handle.
///
/// # Panics
///
/// When awaited outside a bevy_coro task; in a runtime pumped by hand
/// without a `World` (outside [`CoroPlugin`](crate::CoroPlugin)); inside
/// another `with_world` closure (driven there by a `block_on`, say), which
/// holds the `&mut World` already: use that one; and when its closure would
/// run off the main thread, as above.
pub fn with_world<F, R>(f: F) -> WithWorld<F, R>
where
    F: FnOnce(&mut World) -> R + Send,
    R: Send,
{
    WithWorld {
        on_main: WorldAccess { f: Some(f) }.on::<Main>(),
    }
}

/// The future returned by [`with_world`].
#[must_use = "futures do nothing unless awaited"]
pub struct WithWorld<F: FnOnce(&mut World) -> R, R> {
    on_main: On<WorldAccess<F>, Main>,
}

impl<F: FnOnce(&mut World) -> R + Send, R: Send> Future for WithWorld<F, R> {
    type Output = R;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<R> {
        if !with_current_task(|task| task.is_some()) {
            panic!(
                "bevy_coro: `with_world` was awaited outside a bevy_coro task; \
                 spawn the future with `coro.spawn::<Main>(..)` or `coro.spawn::<Worker>(..)` first"
            );
        }
        // SAFETY: `on_main` is structurally pinned: never moved out of `self`.
        let poll = unsafe { self.map_unchecked_mut(|this| &mut this.on_main) }.poll(cx);
        if poll.is_pending() {
            crate::runtime::diag::task_list::note(crate::runtime::diag::task_list::Note::World);
        }
        poll
    }
}

/// Runs the closure with the lent `World`; polled on the main thread only.
struct WorldAccess<F> {
    f: Option<F>,
}

impl<F> Unpin for WorldAccess<F> {}

impl<F: FnOnce(&mut World) -> R, R> Future for WorldAccess<F> {
    type Output = R;

    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<R> {
        let f = self
            .f
            .take()
            .expect("`with_world` polled after it completed");
        // `On<_, Main>` polls this on the main side, unless something moved
        // the task after its hop asked for the main thread.
        assert!(
            current_task_in_pump(),
            "bevy_coro: a `with_world` closure was about to run off the main thread: another hop \
             awaited beside it in the same task (an `.on::<Worker>()` in the same `join`/`zip`/\
             `select`) sent the task back to a worker before the pump could run it, or the \
             `with_world` was driven by something else than its task (a `block_on` in the task). \
             A task has one affinity at a time: await `with_world` before or after that \
             combinator, or spawn the worker branch as a task of its own and await its handle"
        );
        Poll::Ready(with_lent_world(f))
    }
}

/// Runs `f` with the `World` the running pump system lent to this thread:
/// for `with_world` closures and cleanups, on the main thread, in the pump.
///
/// # Panics
///
/// Inside another such closure (which holds the `&mut World`), and where no
/// World is lent (a runtime pumped by hand).
pub(crate) fn with_lent_world<R>(f: impl FnOnce(&mut World) -> R) -> R {
    // Taken out while `f` runs, so a nested `with_world` cannot reach it.
    let lent = WORLD.replace(Lent::InUse);
    let _restore = Restore(lent);
    let world = match lent {
        Lent::World(world) => world,
        Lent::InUse => panic!(
            "bevy_coro: `with_world` was awaited inside another `with_world` closure (driven \
             there by a `block_on`, say), which holds the `&mut World` until it returns: use \
             that closure's `World` instead (a second one would alias it)"
        ),
        Lent::Nothing => panic!(
            "bevy_coro: `with_world` needs the World, but this pump was not run by \
             CoroPlugin (a Runtime pumped by hand has no World to lend)"
        ),
    };
    // SAFETY: the pointer was lent by `lend` from a `&mut World` that stays
    // borrowed for the whole pump, on this thread; it was taken out of the
    // cell (which says `InUse` meanwhile), so this is the only reference
    // made from it until `_restore` puts it back after `f` returns (or
    // unwinds).
    f(unsafe { &mut *world })
}
