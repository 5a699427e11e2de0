//! [`with_world`]: run a closure on the `World` from any task.
//!
//! The pump system lends the `World` to the pump through a thread-local
//! pointer, for exactly the duration of the pump. A main-thread task reaches it
//! directly; a worker task hops to the main thread for the closure and back.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::ptr::{self, NonNull};
use std::task::{Context, Poll};

use bevy_ecs::world::World;

use crate::runtime::{CoroFutureExt, Main, On, with_current_task};

thread_local! {
    /// The `World` lent by the running pump system, or null.
    static WORLD: Cell<*mut World> = const { Cell::new(ptr::null_mut()) };
}

/// Puts the previous value back when dropped, also during unwinding.
struct Restore(*mut World);

impl Drop for Restore {
    fn drop(&mut self) {
        WORLD.set(self.0);
    }
}

/// Lends `world` to `with_world` calls made while `f` runs on this thread.
pub(crate) fn lend<R>(world: &mut World, f: impl FnOnce() -> R) -> R {
    let _restore = Restore(WORLD.replace(world));
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
/// # Panics
///
/// When awaited outside a bevy_coro task, or in a runtime pumped by hand
/// without a `World` (outside [`CoroPlugin`](crate::CoroPlugin)).
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
        unsafe { self.map_unchecked_mut(|this| &mut this.on_main) }.poll(cx)
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
        // Taken out while `f` runs, so a nested pump cannot lend it twice.
        let world = NonNull::new(WORLD.replace(ptr::null_mut())).expect(
            "bevy_coro: `with_world` needs the World, but this pump was not run by \
             CoroPlugin (a Runtime pumped by hand has no World to lend)",
        );
        let _restore = Restore(world.as_ptr());
        // SAFETY: the pointer was lent by `lend` from a `&mut World` that stays
        // borrowed for the whole pump, on this thread; it was taken out of the
        // cell, so this is the only reference made from it until `_restore`
        // puts it back after `f` returns (or unwinds).
        Poll::Ready(f(unsafe { &mut *world.as_ptr() }))
    }
}
