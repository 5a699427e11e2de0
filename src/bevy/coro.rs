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
    /// Time this frame's pump took, in wall time (tying tasks to their
    /// entities, timers, main tasks and `with_world` closures).
    pub pump_time: Duration,
    /// The part of `pump_time` the main thread spent on a CPU, from its own
    /// CPU clock: the pump's own work. The rest, [`CoroStats::pump_off_cpu`],
    /// is time the operating system gave the core to another thread. `None`
    /// when the pump had nothing to do (no clock is read then) and where
    /// there is no per-thread CPU clock (not unix); see
    /// [`PumpReport::cpu_time`](crate::runtime::PumpReport::cpu_time).
    pub pump_cpu_time: Option<Duration>,
    /// With a [`main_budget`](crate::CoroPlugin::main_budget): this frame's
    /// longest single task poll. The budget is checked between polls, so the
    /// pump's own work ends at most this long after the budget is spent.
    /// `None` without a budget (polls are not timed) or when no task ran.
    pub longest_poll: Option<Duration>,
    /// The longest pump so far (in wall time), with its on-CPU part and
    /// longest poll. Kept across frames; write `LongestPump::default()` to
    /// start over (after loading, say).
    pub longest_pump: LongestPump,
    /// Whether this frame's pump stopped at its budget.
    pub out_of_budget: bool,
    /// Timers that came due in this frame's pump.
    pub timers_fired: usize,
    /// Timers filed and not yet fired or cancelled, after the pump
    /// (sleeps, timeouts, `delayed` and `interval` runs to come).
    pub timers_pending: usize,
    /// Tasks waiting for the main thread after the pump.
    pub main_queue: usize,
    /// Tasks waiting for a worker (injector and local queues) after the pump.
    pub worker_queue: usize,
    /// Tasks spawned and not yet finished.
    pub in_flight: usize,
    /// Interval ticks skipped because a run was still going, since the start.
    pub ticks_skipped: u64,
    /// Panics in task polls, timer runs and [`on_cancel`](crate::on_cancel)
    /// cleanups, since the start.
    pub panics: u64,
    /// Waits on the game ([`until`](crate::until), ...) registered with the
    /// World after this frame's check: tasks asleep until the game does what
    /// they wait for. Waits given up (their task cancelled) leave with the
    /// next check of their kind.
    pub game_waits: usize,
    /// In deterministic mode: why tasks are stuck, when nothing can run.
    pub stall: Option<Stall>,
    /// With [`CoroPlugin::report_stuck_after`](crate::CoroPlugin::report_stuck_after): tasks that have not run for
    /// that many frames.
    pub stuck: Vec<StuckTask>,
}

impl CoroStats {
    /// The part of this frame's [`pump_time`](CoroStats::pump_time) the main
    /// thread spent off the CPU (waiting for a core the operating system gave
    /// another thread): `pump_time - pump_cpu_time`, `None` with no CPU time.
    pub fn pump_off_cpu(&self) -> Option<Duration> {
        Some(self.pump_time.saturating_sub(self.pump_cpu_time?))
    }
}

/// The longest pump so far, in [`CoroStats::longest_pump`]: tells "the pump
/// overran" (`cpu_time` long) from "the OS took the core" ([`off_cpu`](LongestPump::off_cpu) long).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LongestPump {
    /// The frame of that pump ([`CoroStats::frames`] then); 0: none yet.
    pub frame: u64,
    /// Its wall time, as [`CoroStats::pump_time`].
    pub time: Duration,
    /// Its on-CPU part, as [`CoroStats::pump_cpu_time`].
    pub cpu_time: Option<Duration>,
    /// Its longest poll, as [`CoroStats::longest_poll`].
    pub longest_poll: Option<Duration>,
}

impl LongestPump {
    /// The part of that pump the main thread spent off the CPU.
    pub fn off_cpu(&self) -> Option<Duration> {
        Some(self.time.saturating_sub(self.cpu_time?))
    }
}
