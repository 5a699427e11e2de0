//! [`CoroPlugin`], the [`CoroSystems`] set and the pump system: the thin
//! Bevy layer over [`Runtime`].

use std::time::Duration;

use bevy_app::{App, First, Last, Plugin, PreUpdate};
use bevy_ecs::intern::Interned;
use bevy_ecs::prelude::*;
use bevy_ecs::schedule::{InternedScheduleLabel, ScheduleLabel};
use bevy_time::{Time, Virtual};

use crate::bevy::coro::{Coro, CoroStats, LongestPump};
use crate::bevy::entity::attach_owned;
use crate::bevy::world;
use crate::runtime::diag::cpu_clock::CpuSpan;
use crate::runtime::{
    Clock, DEFAULT_FRAME_HOLD, DEFAULT_MAIN_SLICE, ManualClock, Mode, Runtime, RuntimeConfig,
    WorkerPriority, default_workers,
};

/// Adds the coroutine scheduler to an App: worker threads, the [`Coro`]
/// resource to spawn with, and the pump system in [`CoroSystems::Pump`].
///
/// ```
/// # use bevy_app::App;
/// # use bevy_coro::prelude::*;
/// # use std::time::Duration;
/// App::new().add_plugins(CoroPlugin {
///     workers: 2,
///     main_budget: Some(Duration::from_millis(4)),
///     ..Default::default()
/// });
/// ```
#[derive(Debug, Clone)]
pub struct CoroPlugin {
    /// Worker threads. Default: available cores − 1, at least 1 (0 on
    /// `wasm32`). **0 is the single-threaded mode**, for the web and
    /// one-core machines: the pump runs the worker tasks on the main thread,
    /// after the main-thread ones and under the same `main_budget`, and fires
    /// every timer; no thread is started. On `wasm32` every value means 0.
    /// See [`RuntimeConfig::workers`](crate::runtime::RuntimeConfig::workers).
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_coro::prelude::*;
    /// # use std::time::Duration;
    /// let mut app = App::new();
    /// app.add_plugins(CoroPlugin {
    ///     workers: 0,
    ///     main_budget: Some(Duration::from_millis(4)), // for main and worker tasks together
    ///     ..Default::default()
    /// });
    /// let coro = app.world().resource::<Coro>().clone();
    /// let mut task = coro.spawn::<Worker>(async { 6 * 7 });
    /// app.update();
    /// assert_eq!(task.try_take(), Some(Ok(42)));
    /// ```
    pub workers: usize,
    /// Pin each worker to its own core (with `core_affinity`). Default: `false`.
    pub pin_workers: bool,
    /// How the operating system weighs the workers against the frame's
    /// threads. Default: [`WorkerPriority::Background`]: the main thread and
    /// Bevy's task pools take a core from a worker at once, so a worker in a
    /// long poll does not hold a frame back, and a rescue thread keeps the
    /// workers from starving when other programs fill every core (see the
    /// README's "Frame health"). [`WorkerPriority::Normal`] gives workers the
    /// same weight as every other thread.
    pub worker_priority: WorkerPriority,
    /// The longest the pump may spend running main-thread tasks in one frame
    /// (checked between polls; at least one poll runs per frame, even with a
    /// zero budget). What is left runs in the next frames: ready tasks (new
    /// ones, wakes, worker `with_world` calls) and last frame's yielders take
    /// turns, so per-frame coroutines cannot keep the others waiting.
    /// Default: `None`, drain the queue.
    pub main_budget: Option<Duration>,
    /// The schedule the pump runs in. Default: `PreUpdate`, so what tasks do
    /// with the World is seen by `Update` systems in the same frame.
    pub schedule: Interned<dyn ScheduleLabel>,
    /// Schedules where a main-thread task can choose to resume, with
    /// [`resume_in`](crate::resume_in): the plugin adds an extra pump in each
    /// ([`CoroSystems::ResumePoint`]) that runs only the tasks waiting for
    /// it. Default: none.
    ///
    /// ```
    /// # use bevy_app::{App, FixedUpdate, PostUpdate};
    /// # use bevy_ecs::schedule::{InternedScheduleLabel, ScheduleLabel};
    /// # use bevy_coro::prelude::*;
    /// App::new().add_plugins(CoroPlugin {
    ///     resume_points: vec![FixedUpdate.intern(), PostUpdate.intern()],
    ///     ..Default::default()
    /// });
    /// ```
    pub resume_points: Vec<InternedScheduleLabel>,
    /// The clock timers (`sleep`, `delayed`, `interval`, `timeout`) follow.
    /// Default: [`CoroClock::Real`].
    pub clock: CoroClock,
    /// Worker threads, or the deterministic mode for replayable runs and
    /// deadlock reports. Default: [`CoroMode::Threaded`].
    pub mode: CoroMode,
    /// A debugging aid: list in [`CoroStats::stuck`] the tasks that have not
    /// run for this many frames, with the task they await where known. Costs
    /// a lock per poll. Default: `None` (off).
    pub report_stuck_after: Option<u64>,
    /// While the frame runs (from [`CoroSystems::BeginFrame`] in `First` to
    /// [`CoroSystems::EndFrame`] in `Last`), a *sleeping* worker is not
    /// woken for tasks the frame spawns or sends back (the plan a system
    /// starts, the rest of a task after its `with_world`, a wake from
    /// another thread of the game's): the wake waits
    /// for the frame's end, at most this long after the frame began, so the
    /// worker does not take a core the frame's systems want. A worker still
    /// awake takes the work at once; timers, the workers' own wakes and a
    /// system blocking on a `Task` (`Task::block`) are never held. `None`:
    /// wake at once. Default:
    /// [`DEFAULT_FRAME_HOLD`](crate::runtime::DEFAULT_FRAME_HOLD), 8 ms (see
    /// the README's "Frame health").
    pub frame_hold: Option<Duration>,
    /// Workers keep off the core the main thread is on, while there are
    /// fewer workers than cores (Linux): otherwise the kernel hands a
    /// runnable worker, even at background priority, whole scheduler ticks
    /// (up to 4 ms) of the main thread's core in the middle of the frame.
    /// See [`RuntimeConfig::keep_main_core`](crate::runtime::RuntimeConfig::keep_main_core).
    /// Default: `true`.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_coro::prelude::*;
    /// let mut app = App::new();
    /// app.add_plugins(CoroPlugin {
    ///     keep_main_core: false, // the workers may run on the main thread's core too
    ///     ..Default::default()
    /// });
    /// app.update();
    /// let workers = app.world().resource::<Coro>().stats().workers;
    /// assert_eq!(workers.main_core, None); // no core is kept for the main thread
    /// ```
    pub keep_main_core: bool,
    /// The time slice the main thread asks the kernel for (Linux 6.12 and
    /// later), so that another program's thread on its core does not take
    /// it in the middle of the frame's work: see
    /// [`RuntimeConfig::main_slice`](crate::runtime::RuntimeConfig::main_slice).
    /// `None`: leave the thread as it is. Default:
    /// [`DEFAULT_MAIN_SLICE`](crate::runtime::DEFAULT_MAIN_SLICE), 8 ms.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_coro::prelude::*;
    /// # use std::time::Duration;
    /// let mut app = App::new();
    /// app.add_plugins(CoroPlugin {
    ///     // A game whose frames are all short can ask for less: the main
    ///     // thread then takes its core back sooner when it wakes.
    ///     main_slice: Some(Duration::from_millis(3)),
    ///     ..Default::default()
    /// });
    /// app.update();
    /// ```
    pub main_slice: Option<Duration>,
    /// A debugging aid: keep the live task list, for
    /// [`Coro::tasks`](crate::runtime::Handle::tasks) (every live task:
    /// its state, what it waits for, its age and polls) and
    /// [`Coro::leaks`](crate::runtime::Handle::leaks) (long-lived tasks
    /// grouped by spawn location). Costs a lock, two clock reads and a
    /// waker per poll while on. Default: `false` (off, and free).
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_coro::prelude::*;
    /// let mut app = App::new();
    /// app.add_plugins(CoroPlugin { track_tasks: true, workers: 0, ..Default::default() });
    /// let coro = app.world().resource::<Coro>().clone();
    /// coro.task("forever").spawn::<Main>(std::future::pending::<()>()).detach();
    /// app.update();
    /// assert_eq!(coro.tasks()[0].name, Some("forever"));
    /// ```
    pub track_tasks: bool,
    /// The tokio runtime the scheduler's threads enter (feature `tokio`).
    /// Default: [`CoroTokio::Owned`](crate::CoroTokio::Owned).
    #[cfg(feature = "tokio")]
    pub tokio: crate::CoroTokio,
}

/// How the scheduler runs worker-affinity tasks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum CoroMode {
    /// On worker threads. The default.
    #[default]
    Threaded,
    /// No worker threads: worker tasks run on the main thread inside the
    /// pump, in an order drawn from `seed`, so a run replays exactly and
    /// different seeds explore different interleavings. Under
    /// [`CoroClock::Real`] the clock moves 1/60 s per frame (under `Virtual`,
    /// with `Time<Virtual>`). When the pump finds tasks awaiting each other in
    /// a cycle it reports the deadlock in [`CoroStats::stall`], and panics
    /// with the report if `panic_on_deadlock` is set.
    Deterministic {
        /// The seed of the order in which ready tasks run.
        seed: u64,
        /// Panic with the deadlock report (for tests) instead of only
        /// recording it.
        panic_on_deadlock: bool,
    },
}

/// The clock the scheduler's timers follow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum CoroClock {
    /// Real time. Worker timers fire on time even when frames are slow.
    #[default]
    Real,
    /// Bevy's `Time<Virtual>`, read by the pump each frame: while the game is
    /// paused timers stand still, at speed 2.0 they run twice as fast. Timers
    /// fire in the pump (virtual time only moves between frames). Needs
    /// `bevy_time`'s `TimePlugin` (part of `MinimalPlugins` and `DefaultPlugins`).
    Virtual,
}

impl Default for CoroPlugin {
    fn default() -> Self {
        CoroPlugin {
            workers: default_workers(),
            pin_workers: false,
            worker_priority: WorkerPriority::Background,
            main_budget: None,
            schedule: PreUpdate.intern(),
            resume_points: Vec::new(),
            clock: CoroClock::Real,
            mode: CoroMode::Threaded,
            report_stuck_after: None,
            frame_hold: Some(DEFAULT_FRAME_HOLD),
            keep_main_core: true,
            main_slice: Some(DEFAULT_MAIN_SLICE),
            track_tasks: false,
            #[cfg(feature = "tokio")]
            tokio: crate::CoroTokio::Owned,
        }
    }
}

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
fn begin_frame(scheduler: Res<CoroScheduler>) {
    scheduler.runtime.begin_frame();
}

/// Closes the frame: the worker wakes it held are given.
fn end_frame(scheduler: Res<CoroScheduler>) {
    scheduler.runtime.end_frame();
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
            stall: report.stall.clone(),
            stuck: report.stuck.clone(),
            game_waits,
        };
    }
    if panic_on_deadlock && let Err(deadlock) = report.deadlock() {
        panic!("{deadlock}");
    }
}
