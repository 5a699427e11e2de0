//! The [`Coro`] resource, the handle game code spawns with, and
//! [`CoroStats`], what the pump reports every frame.

use std::ops::Deref;
use std::time::Duration;

use bevy_ecs::prelude::*;

use crate::runtime::{Handle, Stall, StuckTask};

/// The scheduler handle: spawn tasks with it from systems, from inside tasks
/// and from any thread. Cheap to clone.
///
/// ```
/// # use bevy_ecs::prelude::*;
/// # use bevy_coro::prelude::*;
/// fn start(coro: Res<Coro>) {
///     coro.spawn::<Worker>(async { /* heavy work */ }).detach();
/// }
/// ```
///
/// Its methods are those of the core [`Handle`] it derefs to (`spawn_local`,
/// `task`, `delayed`, `interval`, `stats`, ...), and
/// [`SpawnOn::spawn`](crate::SpawnOn::spawn).
#[derive(Resource, Clone, Debug)]
pub struct Coro {
    pub(crate) handle: Handle,
}

impl Deref for Coro {
    type Target = Handle;

    fn deref(&self) -> &Handle {
        &self.handle
    }
}

/// What the scheduler did this frame, and where it stands: updated by the pump
/// every frame, for reports, overlays and tests. Reading it costs nothing;
/// filling it costs a few relaxed loads per frame.
#[derive(Resource, Debug, Clone, Default, PartialEq, Eq)]
pub struct CoroStats {
    /// Pumps run so far (frames, with the pump in every frame).
    pub frames: u64,
    /// Task polls on the main thread in this frame's pump.
    pub main_polled: usize,
    /// Time this frame's pump took (timers, main tasks and `with_world` closures).
    pub pump_time: Duration,
    /// Whether this frame's pump stopped at its budget.
    pub out_of_budget: bool,
    /// Timers that came due in this frame's pump.
    pub timers_fired: usize,
    /// Tasks waiting for the main thread after the pump.
    pub main_queue: usize,
    /// Tasks waiting for a worker (injector and local queues) after the pump.
    pub worker_queue: usize,
    /// Tasks spawned and not yet finished.
    pub in_flight: usize,
    /// Interval ticks skipped because a run was still going, since the start.
    pub ticks_skipped: u64,
    /// Panics in task polls and timer runs, since the start.
    pub panics: u64,
    /// In deterministic mode: why tasks are stuck, when nothing can run.
    pub stall: Option<Stall>,
    /// With [`CoroPlugin::report_stuck_after`](crate::CoroPlugin::report_stuck_after): tasks that have not run for
    /// that many frames.
    pub stuck: Vec<StuckTask>,
}
