//! A coroutine scheduler for Bevy.
//!
//! Async tasks run either on the **main thread**, inside a system that pumps
//! them once per frame and may touch the ECS [`World`](bevy_ecs::world::World),
//! or on **worker threads** for heavy work; one task hops between the two with
//! [`.on::<Main>()`](CoroFutureExt::on) / [`.on::<Worker>()`](CoroFutureExt::on).
//!
//! ```
//! use bevy_app::App;
//! use bevy_ecs::prelude::*;
//! use bevy_coro::prelude::*;
//!
//! #[derive(Resource)]
//! struct Answer(u64);
//!
//! let mut app = App::new();
//! app.add_plugins(CoroPlugin { workers: 1, ..Default::default() });
//! let coro = app.world().resource::<Coro>().clone();
//! coro.spawn::<Main>(async {
//!     // Heavy part on a worker...
//!     let sum = async { (1..=100u64).sum::<u64>() }.on::<Worker>().await;
//!     // ...and back on the main thread, in the same task, with the World.
//!     with_world(move |world| world.insert_resource(Answer(sum))).await;
//! })
//! .detach();
//!
//! while !app.world().contains_resource::<Answer>() {
//!     app.update();
//! }
//! assert_eq!(app.world().resource::<Answer>().0, 5050);
//! ```
//!
//! # How it works
//!
//! - Every task carries a header (its affinity, a cancel flag, where it was
//!   spawned). When a task is woken, the header's affinity picks the queue: the
//!   main queue, or a worker's. A hop writes the header and wakes the task.
//! - The main queue is drained by the pump system ([`CoroSystems::Pump`], in
//!   `PreUpdate` by default) until empty or [`CoroPlugin::main_budget`] is spent.
//!   On the main thread, [`yield_now`] resumes in the next frame.
//! - Workers have a local queue each, share an injector, steal from each other,
//!   and sleep on an `event-listener` when idle: an idle pool uses no CPU.
//! - Timers live on one hierarchical timing wheel: [`sleep`], [`timeout`],
//!   `coro.delayed(..)`, `coro.interval(..)` (on the grid `start + k·period`,
//!   never two runs at once), each stopped by its [`TimerHandle`]. They follow
//!   real time, or the game's `Time<Virtual>` with [`CoroClock::Virtual`].
//! - A panicking task ends with [`TaskError::Panicked`]; nothing else stops.
//!   Dropping a [`Task`] cancels it; [`Task::detach`] lets it run on.
//! - Actors: `coro.actor("brain").spawn::<Main>(state)` gives an [`Actor`]
//!   address; its messages are handled one at a time, in order, by the
//!   state's [`Behavior`], a batch per turn, with no task while idle; a
//!   [`WeakActor`] is an address that does not keep it running.
//! - Dropping the App (or the [`Runtime`](runtime::Runtime)) joins the workers
//!   and drops every pending future exactly once.
//!
//! The core scheduler, [`runtime`], knows nothing of Bevy and can be pumped by
//! hand.

#![warn(missing_docs)]

mod bevy;
pub mod runtime;
#[cfg(feature = "tokio")]
mod tokio;

pub use bevy::commands::CoroCommandsExt;
pub use bevy::config::{CoroClock, CoroMode, CoroPlugin};
pub use bevy::coro::{Coro, CoroStats, LongestPump};
pub use bevy::entity::EntityTasks;
pub use bevy::frame_points::{ResumeIn, resume_in};
pub use bevy::game::{
    GameWait, GameWaitError, MessageInbox, MissedMessages, added, changed, despawned, messages,
    next_message, next_message_where, on_cancel, removed, triggered, triggered_on, until,
    until_some,
};
pub use bevy::plugin::{CoroScheduler, CoroSystems};
pub use bevy::world::{WithWorld, with_world};
pub use runtime::{
    Actor, ActorBuilder, ActorError, Behavior, OnPanic, Reply, SendError, SpawnActor, WeakActor,
    behavior_fn,
};
pub use runtime::{
    Affinity, CancelHandle, CoroFutureExt, Elapsed, Join, Joining, Main, MissedTick, NextFrame, On,
    Priority, Race, Racing, SharedTask, SpawnOn, Task, TaskBuilder, TaskError, TaskGroup,
    TimerHandle, TryJoin, Winner, Worker, WorkerPriority, YieldNow, join, join_all, next_frame,
    race, race_all, sleep, sleep_until, timeout, try_join, try_join_all, yield_now,
};
pub use runtime::{Leak, RunsOn, TaskSnapshot, TaskState, WaitingOn, find_leaks};

#[cfg(feature = "tokio")]
pub use crate::tokio::CoroTokio;
#[cfg(feature = "diagnostics")]
pub use bevy::diagnostics::CoroDiagnosticsPlugin;
#[cfg(feature = "asset")]
pub use bevy::game::loaded;
#[cfg(feature = "state")]
pub use bevy::game::{state_entered, state_exited};
#[cfg(feature = "state")]
pub use bevy::state::{CoroAppExt, StateTasks};

/// What a game uses: `use bevy_coro::prelude::*;`. Configuration and report
/// types ([`CoroMode`], [`CoroClock`], [`CoroStats`], [`WorkerPriority`],
/// [`MissedTick`], ...) are at the crate root.
pub mod prelude {
    #[cfg(feature = "asset")]
    pub use crate::loaded;
    pub use crate::{Actor, Behavior, SpawnActor};
    pub use crate::{
        Coro, CoroCommandsExt, CoroFutureExt, CoroPlugin, CoroSystems, GameWaitError, Main,
        Priority, SpawnOn, Task, TaskError, TaskGroup, TimerHandle, Winner, Worker, added, changed,
        despawned, join, messages, next_frame, next_message, next_message_where, on_cancel, race,
        removed, resume_in, sleep, timeout, triggered, triggered_on, try_join, until, until_some,
        with_world, yield_now,
    };
    #[cfg(feature = "state")]
    pub use crate::{CoroAppExt, state_entered, state_exited};
}
