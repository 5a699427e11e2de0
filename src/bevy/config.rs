//! How to configure the scheduler in an App: [`CoroPlugin`]'s fields and
//! their defaults, [`CoroMode`] and [`CoroClock`]. What the plugin adds to
//! the App is in `plugin`.

use std::time::Duration;

use bevy_app::PreUpdate;
use bevy_ecs::intern::Interned;
use bevy_ecs::schedule::{InternedScheduleLabel, ScheduleLabel};

use crate::runtime::{DEFAULT_FRAME_HOLD, DEFAULT_MAIN_SLICE, WorkerPriority, default_workers};
// Named by the fields' docs only.
#[cfg(doc)]
use crate::bevy::{
    coro::{Coro, CoroStats},
    plugin::CoroSystems,
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
    /// The time slice the main thread asks the kernel for while the pump
    /// runs long (Linux 6.12 and later), so that another program's thread
    /// on its core does not take it in the middle of the frame's work: see
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
