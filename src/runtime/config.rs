//! How to build a [`Runtime`](super::Runtime): [`RuntimeConfig`], [`Mode`],
//! and what can go wrong, [`RuntimeError`].

use std::fmt;
use std::io;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use super::WorkerPriority;
use super::timer::Clock;

/// How to build a [`Runtime`](super::Runtime).
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Number of worker threads. Default: available cores − 1, at least 1
    /// (the main thread has the remaining core); 0 on `wasm32`.
    ///
    /// **0 is the single-threaded mode**, for the web and one-core machines:
    /// no thread is started (no worker, no timer thread); the pump runs the
    /// worker-affinity tasks on the main thread, after the main-thread ones
    /// (`.on::<Worker>()` is a hop to the back of that queue), under the same
    /// budget, and fires every timer. A worker task's `yield_now()` resumes
    /// in the next frame, as a main task's does; `pin_workers`,
    /// `worker_priority` and core masks (`TaskBuilder::cores`) do nothing.
    /// Nothing else changes for the tasks, so one game runs in both modes.
    /// On `wasm32`, where there are no threads to start, every value means 0.
    ///
    /// ```
    /// use bevy_coro::prelude::*;
    /// use bevy_coro::runtime::{Instant, Runtime, RuntimeConfig};
    ///
    /// let runtime = Runtime::new(RuntimeConfig { workers: 0, ..Default::default() }).unwrap();
    /// assert_eq!(runtime.worker_count(), 0);
    /// let mut task = runtime.spawn::<Main>(async {
    ///     // Runs in the pump, after the main-thread tasks ready in that frame.
    ///     let sum: u64 = async { (1..=1000u64).sum() }.on::<Worker>().await;
    ///     (sum, std::thread::current().id())
    /// });
    /// runtime.pump(Instant::now(), None); // the whole hop, there and back, in one pump
    /// assert_eq!(task.try_take(), Some(Ok((500_500, std::thread::current().id()))));
    /// ```
    pub workers: usize,
    /// Pin each worker to its own core with `core_affinity`. Default: `false`.
    pub pin_workers: bool,
    /// How the operating system weighs the workers against the game's other
    /// threads. [`WorkerPriority::Background`] keeps long worker polls from
    /// holding a frame back (`CoroPlugin`'s default). Default here:
    /// [`WorkerPriority::Normal`].
    pub worker_priority: WorkerPriority,
    /// The clock timers follow. Default: [`Clock::Real`].
    pub clock: Clock,
    /// Threads, or the deterministic mode. Default: [`Mode::Threaded`].
    pub mode: Mode,
    /// A debugging aid: report, in each [`PumpReport::stuck`](super::PumpReport::stuck), the tasks that
    /// have not run for this many pumps (with the task they await, where
    /// known). Costs a lock per poll; off (`None`) by default.
    pub report_stuck_after: Option<u64>,
    /// A debugging aid: keep the live task list, for
    /// [`Handle::tasks`](super::Handle::tasks) and
    /// [`Handle::leaks`](super::Handle::leaks). Costs a lock, two clock
    /// reads and a waker of its own per poll, and a lock per spawn (see the
    /// README's "Finding stuck and leaked tasks" for measured figures); off
    /// (`false`) by default, when it costs nothing.
    pub track_tasks: bool,
    /// Runs each worker thread's whole loop (and the rescue thread's, see
    /// [`WorkerPriority::Background`]) inside this function, for
    /// context a library needs on every worker, such as a tokio runtime
    /// handle entered (the plugin's `tokio` feature uses it). It must call the
    /// loop it is given, once.
    pub worker_wrapper: Option<WorkerWrapper>,
    /// While the game's frame runs (between
    /// [`Runtime::begin_frame`](super::Runtime::begin_frame) and
    /// [`end_frame`](super::Runtime::end_frame), which the plugin calls in
    /// `First` and `Last`), a *sleeping* worker is not woken for work queued
    /// from outside the scheduler's own threads (the frame's systems, the
    /// pump, any other thread): the wake waits for the frame's end, at most
    /// this long after the frame began, so the worker does not take a core
    /// the frame's systems want. A worker still awake takes the work at
    /// once; the workers' own wakes, timers and a thread that blocks on a
    /// `Task` (`Task::block`) are never held. `None`: never hold.
    /// Default: [`DEFAULT_FRAME_HOLD`]. Nothing is held by a runtime whose
    /// driver never calls `begin_frame`.
    pub frame_hold: Option<Duration>,
    /// Unpinned workers keep off the core the main thread (the thread that
    /// pumps) is on, when there are fewer workers than cores (Linux; a no-op
    /// elsewhere): the kernel otherwise gives a runnable worker, even one at
    /// background priority, whole scheduler ticks (up to 4 ms) of the main
    /// thread's core in the middle of its pump. The pump notes its core; a
    /// worker moves (one system call) only when the main thread has moved.
    /// Default: `true`.
    pub keep_main_core: bool,
    /// The time slice the main thread (the thread that builds the runtime
    /// and pumps) asks the kernel for while pumps run long, so that another
    /// program's thread landing on its core does not take it, at a
    /// scheduler tick, in the middle of a pump: the kernel gives a normal
    /// thread 1.4 ms or so (more on machines with more cores) before it may
    /// hand the core over for a tick or more. Taken after the first pump
    /// whose work passes half the kernel's slice, given back after 120
    /// short pumps in a row (a long slice makes the thread easier to take
    /// for the engine's own threads when it wakes them, so it is not kept
    /// for frames that do not need it); [`RuntimeStats::main_slice_raised`](super::RuntimeStats::main_slice_raised)
    /// counts the changes. Linux 6.12 and later (`sched_setattr`; no
    /// privilege needed; older kernels ignore it; a no-op elsewhere and for
    /// a real-time thread); the kernel keeps it within 0.1 to 100 ms. The
    /// thread's policy and nice value are kept, and dropping the runtime on
    /// the main thread puts its own slice back. Default here: `None` (the
    /// thread is left alone); `CoroPlugin`'s:
    /// [`DEFAULT_MAIN_SLICE`](super::DEFAULT_MAIN_SLICE), 8 ms.
    pub main_slice: Option<Duration>,
}

/// The longest a frame holds worker wakes by default: half a frame at 60
/// fps, so late frames (the ones it protects) are covered too, while a
/// long frame (a load) does not idle the workers for long. On the
/// showcase, 4, 8 and 16 ms gave the same figures within noise.
pub const DEFAULT_FRAME_HOLD: Duration = Duration::from_millis(8);

/// The function a [`WorkerWrapper`] holds: it gets the worker's loop to call.
pub type WrapWorker = dyn Fn(&mut dyn FnMut()) + Send + Sync;

/// A wrapper around each worker's loop; see [`RuntimeConfig::worker_wrapper`].
#[derive(Clone)]
pub struct WorkerWrapper(pub Arc<WrapWorker>);

impl fmt::Debug for WorkerWrapper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WorkerWrapper(..)")
    }
}

/// How a runtime runs its worker-affinity tasks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Mode {
    /// On `workers` threads. The default.
    #[default]
    Threaded,
    /// On the main thread, inside the pump, in an order drawn from `seed`: a
    /// run replays exactly from its seed (given the same inputs), and the pump
    /// reports deadlocks. No worker thread and no timer thread are started;
    /// `workers`, `pin_workers` and `worker_priority` are ignored. The clock is manual: the pump
    /// moves it by `frame_step` per frame (zero: the caller moves it, with the
    /// `ManualClock` passed as `clock`).
    Deterministic {
        /// The seed of the order in which ready tasks run.
        seed: u64,
        /// How far the clock moves at each pump.
        frame_step: Duration,
    },
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            workers: default_workers(),
            pin_workers: false,
            worker_priority: WorkerPriority::Normal,
            clock: Clock::Real,
            mode: Mode::Threaded,
            report_stuck_after: None,
            track_tasks: false,
            worker_wrapper: None,
            frame_hold: Some(DEFAULT_FRAME_HOLD),
            keep_main_core: true,
            main_slice: None,
        }
    }
}

/// Whether this platform can start threads: not `wasm32` (the web), where
/// every runtime is single-threaded.
pub(crate) const THREADS: bool = cfg!(not(target_arch = "wasm32"));

/// Available cores − 1, at least 1; 0 (single-threaded) where there are no
/// threads.
pub(crate) fn default_workers() -> usize {
    if !THREADS {
        return 0;
    }
    thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1))
}

/// Why a [`Runtime`](super::Runtime) could not be built.
#[derive(Debug)]
pub enum RuntimeError {
    /// The operating system refused to start a worker thread.
    Spawn(io::Error),
}

impl fmt::Display for RuntimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuntimeError::Spawn(error) => {
                write!(f, "bevy_coro could not start a worker thread: {error}")
            }
        }
    }
}

impl std::error::Error for RuntimeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RuntimeError::Spawn(error) => Some(error),
        }
    }
}
