//! The scheduler core. It knows nothing of Bevy: a [`Runtime`] owns the worker
//! threads and is pumped by hand (`pump(now, budget)`) by whatever runs the
//! frame loop, so engines with their own loop, and tests, can use it without an
//! `App`. [`CoroPlugin`](crate::CoroPlugin) is a thin layer over it.
//!
//! ```
//! use bevy_coro::prelude::*;
//! use bevy_coro::runtime::{Runtime, RuntimeConfig};
//! use std::time::Instant;
//!
//! let runtime = Runtime::new(RuntimeConfig { workers: 2, ..Default::default() }).unwrap();
//! let mut task = runtime.spawn::<Main>(async {
//!     // Heavy work on a worker, then back on the main thread, in one task.
//!     let sum: u64 = async { (1..=1000u64).sum() }.on::<Worker>().await;
//!     sum * 2
//! });
//! // The frame loop: pump once per frame until the task is done.
//! let result = loop {
//!     runtime.pump(Instant::now(), None);
//!     if let Some(result) = task.try_take() {
//!         break result;
//!     }
//!     std::thread::yield_now();
//! };
//! assert_eq!(result, Ok(1_001_000));
//! ```

mod actor;
mod affinity;
mod bank;
mod block;
mod builder;
mod config;
pub(crate) mod diag;
mod frame_queue;
mod graveyard;
mod handle;
mod main_queue;
mod main_slice;
mod owner;
pub(crate) mod points;
mod pump;
mod queue;
mod schedule;
mod shared;
mod sync;
pub(crate) mod task;
mod timer;
mod tree;
mod workers;
mod yields;

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::thread;
use std::time::Duration;

use concurrent_queue::ConcurrentQueue;

pub use actor::{
    Actor, ActorBuilder, ActorError, Behavior, DEFAULT_BATCH, FnBehavior, HandlerFuture, OnPanic,
    Reply, SendError, SpawnActor, WeakActor, behavior_fn,
};
pub use affinity::{Affinity, CoroFutureExt, Main, On, Worker};
pub use block::block_on;
pub use builder::TaskBuilder;
pub(crate) use config::default_workers;
pub use config::{
    DEFAULT_FRAME_HOLD, Mode, RuntimeConfig, RuntimeError, WorkerWrapper, WrapWorker,
};
pub use diag::report::{CoroError, Stall, StuckTask, TaskInfo};
pub use diag::snapshot::{Leak, RunsOn, TaskSnapshot, TaskState, WaitingOn, find_leaks};
pub use diag::stats::RuntimeStats;
pub use handle::{Handle, SpawnOn};
pub use main_queue::PumpReport;
pub use main_slice::DEFAULT_MAIN_SLICE;
pub use owner::Owner;
pub(crate) use task::context::{current_task_in_pump, with_current_task};
pub use task::options::Priority;
pub use task::{SharedTask, Task, TaskError};
pub use timer::{
    After, Clock, Elapsed, Every, Instant, ManualClock, MissedTick, Sleep, Timeout, TimerHandle,
    sleep, sleep_until, timeout,
};
pub use tree::{
    CancelHandle, Join, Joining, Race, Racing, TaskGroup, TryJoin, Winner, join, join_all, race,
    race_all, try_join, try_join_all,
};
// Named by the hidden methods of `Racing` and `Joining`, not by users.
#[doc(hidden)]
pub use tree::{Branch, BranchSet, Claim, RaceStart, Spawner, TryBranches};
pub use workers::WorkerStats;
#[cfg(feature = "tokio")]
pub(crate) use workers::main_core::run_anywhere;
pub use workers::os_priority::WorkerPriority;
#[cfg(feature = "tokio")]
pub(crate) use workers::os_priority::restore_this_thread;
pub use yields::{NextFrame, YieldNow, next_frame, yield_now};

use diag::deterministic::Deterministic;
use diag::stats::Counters;
use diag::task_list::TaskList;
use diag::wait_graph::WaitGraph;
use graveyard::Graveyard;
use main_queue::MainQueue;
use task::parked::{ParkedTasks, ShardedCount};
use timer::Timers;
use workers::Workers;

pub(crate) use shared::Shared;
use shared::Threads;

/// The scheduler: owns the worker threads, and is pumped once per frame on the
/// thread that created it. Dropping it shuts the scheduler down: workers stop
/// after their current poll and are joined, and every pending future is dropped
/// exactly once. [`Handle`]s (and `Coro`) that outlive it still work: what they
/// spawn resolves to [`TaskError::Cancelled`].
///
/// `Runtime` derefs to its [`Handle`], so it spawns like one.
pub struct Runtime {
    handle: Handle,
    threads: Threads,
}

impl Runtime {
    /// Starts a runtime with `config.workers` worker threads (none: the
    /// single-threaded mode, see [`RuntimeConfig::workers`]). The calling
    /// thread becomes its main thread.
    pub fn new(config: RuntimeConfig) -> Result<Self, RuntimeError> {
        let single_threaded =
            config.mode == Mode::Threaded && (config.workers == 0 || !config::THREADS);
        let (workers, clock, deterministic) = match config.mode {
            // The pump runs the worker tasks: no threads to start.
            Mode::Threaded if single_threaded => (
                Workers::new(0, false, WorkerPriority::Normal, None, false),
                config.clock,
                None,
            ),
            Mode::Threaded => (
                Workers::new(
                    config.workers,
                    config.pin_workers,
                    config.worker_priority,
                    config.frame_hold,
                    config.keep_main_core,
                ),
                config.clock,
                None,
            ),
            Mode::Deterministic { seed, frame_step } => {
                // Time must not move by itself: a manual clock, moved by the
                // pump or by the caller.
                let clock = match config.clock {
                    Clock::Manual(clock) => clock,
                    Clock::Real => ManualClock::new(),
                };
                let step = (!frame_step.is_zero()).then(|| (clock.clone(), frame_step));
                (
                    Workers::new(0, false, WorkerPriority::Normal, None, false),
                    Clock::Manual(clock),
                    Some(Deterministic::new(seed, step)),
                )
            }
        };
        let wait_graph = (deterministic.is_some() || config.report_stuck_after.is_some())
            .then(WaitGraph::default);
        let tasks = config.track_tasks.then(TaskList::new);
        let shared = Arc::new(Shared {
            main: MainQueue::new(single_threaded),
            points: points::Points::default(),
            workers,
            parked: ParkedTasks::new(),
            timers: Timers::new(clock),
            graveyard: Graveyard::new(),
            counters: Counters::default(),
            in_flight: ShardedCount::new(),
            owned: ConcurrentQueue::unbounded(),
            cleanups: ConcurrentQueue::unbounded(),
            closed: AtomicBool::new(false),
            pumping: AtomicBool::new(false),
            watched: wait_graph.is_some() || tasks.is_some(),
            plain_pump: deterministic.is_none() && wait_graph.is_none() && !cfg!(feature = "trace"),
            wait_graph,
            report_stuck_after: config.report_stuck_after,
            tasks,
            deterministic,
            main_thread: thread::current().id(),
            main_slice: config.main_slice.and_then(main_slice::MainSlice::new),
        });
        let started = Workers::start(&shared, config.worker_wrapper).and_then(|workers| {
            // No timer thread in deterministic mode (the clock is manual) nor
            // in the single-threaded mode (the pump fires the timers).
            let timer = Timers::start(&shared)?;
            Ok(Threads { workers, timer })
        });
        let threads = started.map_err(|error| {
            shared.shutdown(Threads::default());
            RuntimeError::Spawn(error)
        })?;
        Ok(Runtime {
            handle: Handle::new(shared),
            threads,
        })
    }

    /// Fires the timers that are due, then runs the main queue: every
    /// main-affinity task that is ready, until none is left or `budget`
    /// (counted from `now`, checked between polls, at least one poll) is
    /// spent; then the rest wait for the next pump. Tasks that yielded in the
    /// previous pump and the other ready tasks take turns, carried over from
    /// pump to pump, so neither kind waits for good under a budget.
    /// Call it once per frame, on the thread that created the runtime.
    ///
    /// A pump with nothing to do (no task ready, no timer due, no cleanup)
    /// costs a few loads and the frame count, and reads no clock unless a
    /// timer is pending.
    ///
    /// # Panics
    ///
    /// When called on another thread than the one that created the runtime.
    #[inline]
    pub fn pump(&self, now: Instant, budget: Option<Duration>) -> PumpReport {
        self.handle.shared.pump(now, budget)
    }

    /// The game's frame begins: until [`end_frame`](Runtime::end_frame),
    /// sleeping workers are woken at the frame's end (or after
    /// [`RuntimeConfig::frame_hold`]) for work the frame queues, rather than
    /// in the middle of it (see there). Call it where the frame's work
    /// starts, on any thread; the plugin does, in `First`.
    ///
    /// ```
    /// use bevy_coro::prelude::*;
    /// use bevy_coro::runtime::{Instant, Runtime, RuntimeConfig};
    ///
    /// let runtime = Runtime::new(RuntimeConfig { workers: 1, ..Default::default() }).unwrap();
    /// runtime.begin_frame();
    /// // Queued now; a sleeping worker starts it when the frame ends.
    /// let task = runtime.spawn::<Worker>(async { 6 * 7 });
    /// runtime.pump(Instant::now(), None);
    /// runtime.end_frame();
    /// assert_eq!(task.block(), Ok(42));
    /// ```
    pub fn begin_frame(&self) {
        self.handle.shared.workers.begin_frame();
    }

    /// The game's frame ends: the worker wakes it held are given now.
    pub fn end_frame(&self) {
        self.handle.shared.workers.end_frame();
    }

    /// A cheap, cloneable handle for spawning from anywhere.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }
}

impl Deref for Runtime {
    type Target = Handle;

    fn deref(&self) -> &Handle {
        &self.handle
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.handle
            .shared
            .shutdown(std::mem::take(&mut self.threads));
        // Only the main thread's own slice can be put back from here.
        if let Some(slice) = &self.handle.shared.main_slice
            && thread::current().id() == self.handle.shared.main_thread
        {
            slice.give_back();
        }
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("workers", &self.worker_count())
            .field("in_flight", &self.in_flight())
            .finish()
    }
}
