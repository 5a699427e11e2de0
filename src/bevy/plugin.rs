//! What [`CoroPlugin`] adds to an App: the [`CoroScheduler`] resource, the
//! [`CoroSystems`] set and the pump system, the thin Bevy layer over
//! [`Runtime`]. The plugin's settings are in `config`.

use std::time::Duration;

use bevy_app::{App, First, Last, Plugin};
use bevy_ecs::prelude::*;
use bevy_time::{Time, Virtual};

use crate::bevy::config::{CoroClock, CoroMode, CoroPlugin};
use crate::bevy::coro::{Coro, CoroStats, LongestPump};
use crate::bevy::entity::attach_owned;
use crate::bevy::world;
use crate::runtime::diag::cpu_clock::CpuSpan;
use crate::runtime::{Clock, ManualClock, Mode, Runtime, RuntimeConfig};

impl Plugin for CoroPlugin {
    fn build(&self, app: &mut App) {
        let virtual_clock = (self.clock == CoroClock::Virtual).then(ManualClock::new);
        let mode = match self.mode {
            CoroMode::Threaded => Mode::Threaded,
            CoroMode::Deterministic { seed, .. } => Mode::Deterministic {
                seed,
                // Under the virtual clock, Time<Virtual> moves it.
                frame_step: if virtual_clock.is_some() {
                    Duration::ZERO
                } else {
                    Duration::from_secs(1) / 60
                },
            },
        };
        #[cfg(feature = "tokio")]
        let tokio = crate::tokio::TokioContext::new(&self.tokio);
        #[cfg(feature = "tokio")]
        let worker_wrapper = tokio
            .as_ref()
            .map(crate::tokio::TokioContext::worker_wrapper);
        #[cfg(not(feature = "tokio"))]
        let worker_wrapper = None;
        let runtime = Runtime::new(RuntimeConfig {
            workers: self.workers,
            pin_workers: self.pin_workers,
            worker_priority: self.worker_priority,
            clock: virtual_clock.clone().map_or(Clock::Real, Clock::Manual),
            mode,
            report_stuck_after: self.report_stuck_after,
            track_tasks: self.track_tasks,
            worker_wrapper,
            frame_hold: self.frame_hold,
            keep_main_core: self.keep_main_core,
            main_slice: self.main_slice,
        })
        .unwrap_or_else(|error| panic!("CoroPlugin: {error}"));
        crate::bevy::frame_points::add_resume_points(app, &runtime, &self.resume_points);
        app.insert_resource(Coro {
            handle: runtime.handle().clone(),
        })
        .insert_resource(CoroScheduler {
            runtime,
            main_budget: self.main_budget,
            virtual_clock,
            panic_on_deadlock: matches!(
                self.mode,
                CoroMode::Deterministic {
                    panic_on_deadlock: true,
                    ..
                }
            ),
            #[cfg(feature = "tokio")]
            tokio,
        })
        .init_resource::<CoroStats>()
        .add_systems(self.schedule, pump.in_set(CoroSystems::Pump));
        if self.frame_hold.is_some() {
            app.add_systems(First, begin_frame.in_set(CoroSystems::BeginFrame))
                .add_systems(Last, end_frame.in_set(CoroSystems::EndFrame));
        }
    }
}

/// Opens the frame: sleeping workers wait for its end (see
/// [`CoroPlugin::frame_hold`]).
///
/// `begin_frame` and `end_frame` are exclusive systems, though they need
/// only a shared reference: the multi-threaded executor runs an exclusive
/// system on the main thread, where it waits anyway, while a plain one is
/// handed to a task-pool thread, which it may have to wake (a system call
/// and a thread to schedule, in `First` and `Last` of every frame). Four
/// alternating pairs of the showcase (background priority, arena): the
/// median frame 0.655 ms a frame against 0.692 ms.
fn begin_frame(world: &mut World) {
    if let Some(scheduler) = world.get_resource::<CoroScheduler>() {
        scheduler.runtime.begin_frame();
    }
}

/// Closes the frame: the worker wakes it held are given.
fn end_frame(world: &mut World) {
    if let Some(scheduler) = world.get_resource::<CoroScheduler>() {
        scheduler.runtime.end_frame();
    }
}

/// System sets of the scheduler, to order systems around it.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CoroSystems {
    /// The pump: runs the main-thread tasks that are ready (and the `with_world`
    /// closures of worker tasks). Systems after it see what they did this frame.
    Pump,
    /// The extra pumps of [`CoroPlugin::resume_points`], one in each of those
    /// schedules, after `Pump` where they share its schedule: each runs the
    /// tasks that [`resume_in`](crate::resume_in) its schedule.
    ResumePoint,
    /// In `First`: the frame begins, and sleeping workers wait for its end
    /// (see [`CoroPlugin::frame_hold`]). Order systems that should count as
    /// the frame after it.
    BeginFrame,
    /// In `Last`: the frame ends, and the worker wakes it held are given.
    /// Order the frame's last systems before it.
    EndFrame,
}

/// The scheduler the plugin owns. It lives in the World, so dropping the App
/// shuts it down: workers joined, every pending future dropped once.
#[derive(Resource, Debug)]
pub struct CoroScheduler {
    runtime: Runtime,
    /// The pump's per-frame budget, from [`CoroPlugin::main_budget`]; may be
    /// changed while the App runs.
    pub main_budget: Option<Duration>,
    /// Under [`CoroClock::Virtual`]: the runtime's clock, set from
    /// `Time<Virtual>` before each pump.
    virtual_clock: Option<ManualClock>,
    panic_on_deadlock: bool,
    /// Declared after `runtime`, so dropped after it: tasks holding tokio
    /// resources are dropped while tokio still runs.
    #[cfg(feature = "tokio")]
    tokio: Option<crate::tokio::TokioContext>,
}

impl CoroScheduler {
    /// The core runtime.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }
}

/// The pump system: lends the World to the scheduler's main-thread tasks and
/// runs them.
fn pump(world: &mut World) {
    let Some(scheduler) = world.get_resource::<CoroScheduler>() else {
        return;
    };
    let (handle, budget) = (scheduler.runtime.handle().clone(), scheduler.main_budget);
    let panic_on_deadlock = scheduler.panic_on_deadlock;
    // Main-thread tasks (and, in deterministic mode, worker tasks) run here.
    #[cfg(feature = "tokio")]
    let tokio = scheduler.tokio.as_ref().map(|tokio| tokio.handle.clone());
    #[cfg(feature = "tokio")]
    let _tokio = tokio.as_ref().map(tokio::runtime::Handle::enter);
    if let Some(clock) = &scheduler.virtual_clock {
        let time = world.get_resource::<Time<Virtual>>().expect(
            "CoroPlugin { clock: CoroClock::Virtual } needs `Time<Virtual>`: \
             add bevy_time's TimePlugin (part of MinimalPlugins and DefaultPlugins)",
        );
        clock.set(time.elapsed());
    }
    // The budget counts from here: tying tasks to their entities is the
    // pump's work too (on its clocks, though it cannot be cut short).
    let start = crate::runtime::Instant::now();
    // Entity bindings first: a task whose entity is gone must not run again.
    let mut ties_cpu = CpuSpan::default();
    if handle.shared.has_owned() {
        ties_cpu.begin();
        attach_owned(world, &handle);
    }
    let ties_cpu = ties_cpu.end();
    // Then the game waits: the tasks whose wait holds are woken into this pump.
    crate::bevy::game::watchers::check(world);
    let report = world::lend(world, || handle.shared.pump(start, budget));
    let pump_time = start.elapsed();
    let pump_cpu_time = match (ties_cpu, report.cpu_time) {
        (Some(ties), Some(pump)) => Some(ties + pump),
        (ties, pump) => ties.or(pump),
    };
    let runtime = handle.stats();
    let game_waits = crate::bevy::game::watchers::waiting(world);
    if let Some(mut stats) = world.get_resource_mut::<CoroStats>() {
        let frame = stats.frames + 1;
        let longest_pump = if pump_time > stats.longest_pump.time {
            LongestPump {
                frame,
                time: pump_time,
                cpu_time: pump_cpu_time,
                longest_poll: report.longest_poll,
            }
        } else {
            stats.longest_pump
        };
        *stats = CoroStats {
            frames: frame,
            main_polled: report.polled,
            pump_time,
            pump_cpu_time,
            longest_poll: report.longest_poll,
            longest_pump,
            out_of_budget: report.out_of_budget,
            timers_fired: report.timers_fired,
            timers_pending: handle.pending_timers(),
            main_queue: runtime.main_queue,
            worker_queue: runtime.worker_queue,
            in_flight: runtime.in_flight,
            ticks_skipped: runtime.ticks_skipped,
            panics: runtime.panics,
            stall: report.stall.as_deref().cloned(),
            stuck: report
                .stuck
                .as_deref()
                .map(<[_]>::to_vec)
                .unwrap_or_default(),
            game_waits,
        };
    }
    if panic_on_deadlock && let Err(deadlock) = report.deadlock() {
        panic!("{deadlock}");
    }
}
