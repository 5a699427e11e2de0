//! Worker threads: a local queue each, a shared injector, stealing, and parking.
//!
//! Where a pushed task goes (which queue, which wake) is in [`push`].
//!
//! # Parking
//!
//! An idle worker parks (see [`park`]): it blocks in the kernel
//! and burns no CPU, and a task pushed while it goes to sleep is never missed.
//! A task for one given worker (a core mask) wakes every sleeper, since only
//! that one can take it.

use std::io;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::runtime::task::raw::Runnable;
use concurrent_queue::ConcurrentQueue;

mod counters;
mod find;
mod frame_hold;
pub(crate) mod held_wakes;
mod local_queue;
pub(crate) mod main_core;
pub(crate) mod os_priority;
mod park;
mod pin;
mod push;
mod rescue;

use crate::runtime::queue::drain_queue;
use crate::runtime::schedule::run;
use crate::runtime::task::context;
use crate::runtime::task::header::Header;
use crate::runtime::{Shared, WorkerWrapper};
use counters::{OwnCounter, SharedCounter, WorkerCounters};
use frame_hold::{FrameClock, FrameHold};
use local_queue::{LocalQueue, Raw};
use os_priority::WorkerPriority;
use park::Parking;

pub use counters::WorkerStats;

/// Capacity of each worker's local queue; overflow goes to the injector.
pub(super) const LOCAL_CAPACITY: usize = 256;

/// One worker's queues, on their own cache lines (their heads are written by
/// different threads).
#[repr(align(128))]
pub(super) struct Local {
    /// Pushed to by this worker only (see `local_queue`).
    pub(super) queue: LocalQueue<Runnable<Header>>,
    /// Tasks whose core mask picked this worker; never stolen.
    pub(super) pinned: ConcurrentQueue<Runnable<Header>>,
    /// The core this worker is pinned to, if pinning is on.
    core: Option<usize>,
    /// What this worker did; written by this worker only.
    pub(super) counters: WorkerCounters,
    /// This worker's CPU clock (background workers on Linux only; the
    /// rescue thread reads it).
    pub(super) cpu_clock: OnceLock<os_priority::CpuClock>,
}

/// The worker side of the scheduler.
pub(crate) struct Workers {
    pub(super) high: ConcurrentQueue<Runnable<Header>>,
    pub(super) injector: ConcurrentQueue<Runnable<Header>>,
    pub(super) locals: Box<[Local]>,
    parking: Parking,
    injector_pushes: SharedCounter,
    pub(super) priority: WorkerPriority,
    /// Workers the OS runs at background priority.
    pub(super) background: AtomicU64,
    /// Polls run by the rescue thread; written by it only.
    pub(super) rescued: OwnCounter,
    /// Times the rescue thread woke every worker for work nobody took (a
    /// wake the pump held, see `held_wakes`); written by it only.
    pub(super) rescue_wakes: OwnCounter,
    /// Wakes held while the game's frame runs (see `frame_hold`).
    frame: FrameHold,
    frame_clock: FrameClock,
    /// Wakes the frame held (bumped by the frame's threads).
    frame_held: SharedCounter,
    /// The main thread's core, which unpinned workers keep off.
    main_core: main_core::MainCore,
}

impl Workers {
    /// Workers to start; with `pin`, worker `i` is pinned to a core of its own
    /// (the first core is left to the main thread while there are enough).
    /// A frame holds their wakes for at most `frame_hold` (see `frame_hold`).
    /// With `keep_main_core`, unpinned workers keep off the main thread's
    /// core while they are fewer than the cores (see `main_core`).
    pub(crate) fn new(
        count: usize,
        pin: bool,
        priority: WorkerPriority,
        frame_hold: Option<Duration>,
        keep_main_core: bool,
    ) -> Self {
        let cores = if pin { pin::core_ids() } else { Vec::new() };
        Workers {
            high: ConcurrentQueue::unbounded(),
            injector: ConcurrentQueue::unbounded(),
            locals: (0..count)
                .map(|index| Local {
                    queue: LocalQueue::new(LOCAL_CAPACITY),
                    pinned: ConcurrentQueue::unbounded(),
                    core: (!cores.is_empty()).then(|| cores[(index + 1) % cores.len()]),
                    counters: WorkerCounters::default(),
                    cpu_clock: OnceLock::new(),
                })
                .collect(),
            parking: Parking::new(),
            injector_pushes: SharedCounter::default(),
            priority,
            background: AtomicU64::new(0),
            rescued: OwnCounter::default(),
            rescue_wakes: OwnCounter::default(),
            frame: FrameHold::default(),
            frame_clock: FrameClock::new(frame_hold),
            frame_held: SharedCounter::default(),
            main_core: main_core::MainCore::new(keep_main_core && !pin, count),
        }
    }

    /// Number of worker threads.
    pub(crate) fn count(&self) -> usize {
        self.locals.len()
    }

    /// The core each worker is pinned to (`None`: not pinned).
    pub(crate) fn cores(&self) -> impl Iterator<Item = Option<usize>> + '_ {
        self.locals.iter().map(|local| local.core)
    }

    /// Tasks waiting for a worker, in every queue.
    pub(crate) fn queued(&self) -> usize {
        self.high.len()
            + self.injector.len()
            + self
                .locals
                .iter()
                .map(|local| local.queue.len() + local.pinned.len())
                .sum::<usize>()
    }

    /// The workers' counters, summed.
    pub(crate) fn stats(&self) -> WorkerStats {
        let sum = |field: fn(&WorkerCounters) -> &OwnCounter| {
            self.locals
                .iter()
                .map(|local| field(&local.counters).get())
                .sum()
        };
        WorkerStats {
            polls: sum(|c| &c.polls),
            local_pushes: sum(|c| &c.local_pushes),
            injector_pushes: self.injector_pushes.0.load(Ordering::Relaxed),
            steals: sum(|c| &c.steals),
            parks: sum(|c| &c.parks),
            rescued: self.rescued.get(),
            rescue_wakes: self.rescue_wakes.get(),
            frame_held: self.frame_held.0.load(Ordering::Relaxed),
            background: self.background.load(Ordering::Relaxed),
            main_core: self.main_core.get(),
        }
    }

    /// Wakes `n` sleeping workers after a push (none for 0).
    #[inline]
    pub(crate) fn wake(&self, n: usize) {
        if n > 0 {
            self.parking.notify(n);
        }
    }

    /// Starts the worker threads, and the rescue thread of background
    /// workers where there is one.
    pub(crate) fn start(
        shared: &Arc<Shared>,
        wrapper: Option<WorkerWrapper>,
    ) -> io::Result<Vec<JoinHandle<()>>> {
        let mut threads = (0..shared.workers.count())
            .map(|index| {
                let shared = shared.clone();
                let core = shared.workers.locals[index].core;
                let wrapper = wrapper.clone();
                thread::Builder::new()
                    .name(format!("bevy_coro worker {index}"))
                    .spawn(move || {
                        if let Some(core) = core {
                            pin::pin_this_thread(core);
                        }
                        shared.workers.set_priority(index);
                        run_wrapped(wrapper, || shared.workers.run(&shared, index));
                    })
            })
            .collect::<io::Result<Vec<_>>>()?;
        if rescue::needed(shared) {
            let shared = shared.clone();
            threads.push(
                thread::Builder::new()
                    .name("bevy_coro rescue".into())
                    // It polls worker tasks: the same context as a worker.
                    .spawn(move || run_wrapped(wrapper, || rescue::run(&shared)))?,
            );
        }
        Ok(threads)
    }

    /// Notes the core the calling (main) thread runs on: unpinned workers
    /// keep off it (see `main_core`).
    #[inline]
    pub(crate) fn note_main_core(&self) {
        self.main_core.note();
    }

    /// A thread of the game's is about to block on a task: the workers may
    /// use the main thread's core until the next pump (see `main_core`).
    pub(crate) fn lend_main_core(&self) {
        self.main_core.lend();
    }

    /// Whether `stop` was called.
    pub(crate) fn is_stopping(&self) -> bool {
        self.parking.is_stopping()
    }

    /// A worker thread's loop.
    fn run(&self, shared: &Shared, index: usize) {
        context::set_worker(shared, index);
        // All the loop does is scheduler work: polls, and drops of cancelled
        // tasks' futures outside any poll; `block_on` refuses to wait here.
        let _working = context::enter_scheduler_work();
        let counters = &self.locals[index].counters;
        let mut runs = find::Runs::default();
        let mut avoided = main_core::AVOIDING_NONE;
        self.main_core.register(index);
        while let Some(runnable) = self.parking.next(
            || self.find(index, &mut runs),
            || self.work_waiting(Some(index)),
            || counters.parks.add(1),
        ) {
            counters.polls.add(1);
            self.main_core.keep_off(&mut avoided);
            run(runnable);
        }
        self.main_core.unregister(index);
    }

    /// Stops the workers (after their current poll) and waits for them.
    pub(crate) fn stop(&self, threads: Vec<JoinHandle<()>>) {
        self.parking.stop();
        let me = thread::current().id();
        // The rescue thread sleeps in `park_timeout`: end its wait now.
        for thread in &threads {
            thread.thread().unpark();
        }
        for thread in threads {
            // A worker dropping the runtime cannot wait for itself.
            if thread.thread().id() != me {
                let _ = thread.join();
            }
        }
    }

    /// Refuses further pushes and hands every queued task to `dispose`. Call
    /// after `stop`.
    pub(crate) fn close(&self, mut dispose: impl FnMut(Runnable<Header>)) {
        drain_queue(&self.high, &mut dispose);
        drain_queue(&self.injector, &mut dispose);
        for local in self.locals.iter() {
            // Every worker has ended (`stop`), but the one calling, if any.
            local.queue.drain(&mut dispose);
            drain_queue(&local.pinned, &mut dispose);
        }
    }
}

impl Raw for Runnable<Header> {
    fn into_raw(self) -> NonNull<()> {
        Runnable::into_raw(self)
    }

    unsafe fn from_raw(ptr: NonNull<()>) -> Self {
        // SAFETY: the caller's promise: `ptr` came from `into_raw`, once.
        unsafe { Runnable::from_raw(ptr) }
    }
}

/// Runs a scheduler thread's loop inside the configured wrapper, if any.
fn run_wrapped(wrapper: Option<WorkerWrapper>, mut run: impl FnMut()) {
    match wrapper {
        Some(wrapper) => (wrapper.0)(&mut run),
        None => run(),
    }
}
