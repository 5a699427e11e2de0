//! [`Shared`]: the state the runtime, its handles, its workers and its
//! tasks share, and the shutdown that drops it all once. The public face
//! over it, [`Runtime`](super::Runtime), is in `mod.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle, ThreadId};

use concurrent_queue::ConcurrentQueue;

use super::diag::deterministic::Deterministic;
use super::diag::stats::Counters;
use super::diag::task_list::TaskList;
use super::diag::wait_graph::WaitGraph;
use super::graveyard::Graveyard;
use super::main_queue::MainQueue;
use super::main_slice::MainSlice;
use super::task::header::Header;
use super::task::parked::{ParkedTasks, ShardedCount};
use super::task::raw::Runnable;
use super::timer::Timers;
use super::tree::Node;
use super::workers::Workers;
use super::{Owner, points, queue, task};

/// State shared by the runtime, its handles, its workers and its tasks.
///
/// Aligned to 128 bytes so that, in its `Arc`, the reference counts have a
/// cache line pair of their own: every spawn adds a count and every task's
/// end drops one, on different threads, and the workers read the fields
/// below on every turn.
#[repr(align(128))]
pub(crate) struct Shared {
    pub(super) main: MainQueue,
    /// Resume points: extra main-thread queues the driver runs where it
    /// chooses (see `points`).
    pub(super) points: points::Points,
    pub(super) workers: Workers,
    pub(super) parked: ParkedTasks,
    pub(super) timers: Timers,
    /// Tasks the closed scheduler refused, dropped later with no lock held.
    pub(super) graveyard: Graveyard<Runnable<Header>>,
    pub(super) counters: Counters,
    /// Tasks spawned and not yet dropped.
    pub(super) in_flight: ShardedCount,
    /// Tasks spawned with an owner, for the driver to tie to it (see
    /// `Handle::take_owned`).
    pub(super) owned: ConcurrentQueue<(Owner, Arc<Node>)>,
    /// The cleanups of cancelled tasks, for the pump to run (see
    /// `task::cleanup`).
    pub(super) cleanups: ConcurrentQueue<task::cleanup::Cancelled>,
    /// Set at the start of shutdown.
    pub(super) closed: AtomicBool,
    /// Set while the pump runs: the rescue thread starts no poll then, so
    /// as not to take the main thread's core during its budget.
    pub(super) pumping: AtomicBool,
    /// The deterministic scheduler, in deterministic mode.
    pub(super) deterministic: Option<Deterministic>,
    /// Who is alive and who awaits whom: in deterministic mode, or for
    /// stuck-task reports.
    pub(super) wait_graph: Option<WaitGraph>,
    pub(super) report_stuck_after: Option<u64>,
    /// The live task list, with `track_tasks`.
    pub(super) tasks: Option<TaskList>,
    /// Whether an empty pump may return at once (see `pump`): no
    /// deterministic picker to step, no wait graph to report from, no
    /// trace span to open for each pump.
    pub(super) plain_pump: bool,
    /// Whether the wait graph or the task list watches the tasks: the one
    /// flag a poll, a spawn and a task's end check.
    pub(super) watched: bool,
    /// The thread that owns the runtime: the only one that pumps, and the only
    /// one where `spawn_local` futures live.
    pub(super) main_thread: ThreadId,
    /// The main thread's long slice while pumps run long
    /// ([`RuntimeConfig::main_slice`](super::RuntimeConfig::main_slice)).
    pub(super) main_slice: Option<MainSlice>,
}

impl Shared {
    /// Drops a task of the stopped scheduler, which drops its future. A
    /// `spawn_local` task met off the main thread (the runtime was dropped
    /// elsewhere) cannot be dropped there, as its future is `!Send`: it is
    /// kept in the graveyard, and leaks.
    pub(super) fn dispose(&self, runnable: Runnable<Header>) {
        if self.keeps(&runnable) {
            // Kept for good: nobody may drop it off its thread.
            let _ = self.graveyard.keep(runnable);
        } else {
            drop(runnable);
        }
    }

    /// Whether `dispose` must keep this task rather than drop it here.
    pub(super) fn keeps(&self, runnable: &Runnable<Header>) -> bool {
        runnable.metadata().is_local() && thread::current().id() != self.main_thread
    }

    /// Whether tasks spawned with an owner wait to be tied to it.
    pub(crate) fn has_owned(&self) -> bool {
        !self.owned.is_empty()
    }

    /// Whether the pump runs the worker tasks too: no worker threads
    /// (`workers: 0`, or a platform without threads).
    pub(crate) fn is_single_threaded(&self) -> bool {
        self.main.worker_tasks().is_some()
    }

    /// Whether shutdown has begun.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Drops the tasks in the graveyard (but local tasks off their thread,
    /// which must not be dropped here).
    pub(crate) fn bury_graveyard(&self) {
        self.graveyard.bury(|runnable| self.keeps(runnable));
    }

    /// Stops everything: threads joined, every pending future dropped once.
    pub(super) fn shutdown(&self, threads: Threads) {
        // Spawns from here on drop their task at once; a spawn that raced
        // this store and met a closed queue buries the graveyard itself.
        self.closed.store(true, Ordering::SeqCst);
        self.workers.stop(threads.workers);
        // From here on pushes fail and the refused tasks go to the graveyard;
        // the queued ones are dropped now.
        self.workers.close(|runnable| self.dispose(runnable));
        self.main.close(|runnable| self.dispose(runnable));
        self.points.close(|runnable| self.dispose(runnable));
        queue::drain_queue(&self.owned, drop);
        // No pump runs them any more: dropped unrun (and cleanups queued
        // from here on are refused, and dropped).
        queue::drain_queue(&self.cleanups, drop);
        if let Some(deterministic) = &self.deterministic {
            deterministic.close(|runnable| self.dispose(runnable));
        }
        // Tasks parked outside any queue still own their futures: waking them
        // hands them to the closed schedule function, hence the graveyard.
        for waker in self.parked.close() {
            waker.wake();
        }
        // Dropping a task may wake another into the graveyard.
        self.bury_graveyard();
        // The sleeps of the tasks dropped above have removed their timers.
        // Joining the timer thread also ends its wakes, which may have put
        // tasks in the graveyard since.
        self.timers.stop(threads.timer);
        // Last burial; a foreign wake after it buries for itself.
        self.graveyard.seal(|runnable| self.keeps(runnable));
        // The counts this thread's tasks and sleeps gave back (the caller
        // holds one of its own: not the last). Counts given back from here
        // on go straight to the runtime.
        super::bank::release(self);
        // And the task blocks kept for reuse (see `raw::blocks`): the
        // memory of the tasks dropped above goes back with the runtime.
        crate::runtime::task::raw::trim_blocks();
    }
}

/// The threads a runtime owns.
#[derive(Default)]
pub(super) struct Threads {
    pub(super) workers: Vec<JoinHandle<()>>,
    pub(super) timer: Option<JoinHandle<()>>,
}
