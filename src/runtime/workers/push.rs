//! The push path: which queue a task goes to, and the wake after a push.
//!
//! # Where a task goes
//!
//! - a task with a core mask: the `pinned` queue of a worker pinned to one of
//!   its cores; only that worker takes from it;
//! - a `High` task: the shared `high` queue, which every worker checks first;
//! - otherwise, on a worker: that worker's local queue (hot in its cache, no
//!   contention); elsewhere, or when the local queue is full: the injector.
//!
//! A worker runs at most `HIGH_BURST` `High` tasks in a row before it takes
//! a `Normal` one if any waits, so `Normal` work is never starved for good.
//! How a worker finds its next task is in [`find`](super::find).

use std::sync::atomic::Ordering;

use concurrent_queue::PushError;

use super::{LOCAL_CAPACITY, Local, Workers, held_wakes};
use crate::runtime::Shared;
use crate::runtime::task::context;
use crate::runtime::task::header::Header;
use crate::runtime::task::options::Priority;
use crate::runtime::task::raw::Runnable;

impl Workers {
    /// Queues a worker-affinity task; returns it back if the scheduler is closed.
    /// `requeue`: the task was woken while it ran, and is queued by the
    /// thread that polled it, right after the poll (a yield, as a rule).
    pub(crate) fn push(
        &self,
        shared: &Shared,
        runnable: Runnable<Header>,
        requeue: bool,
    ) -> Option<Runnable<Header>> {
        let header = runnable.metadata();
        let cores = header.cores();
        // A task the pump reschedules to a worker after its poll waits for
        // the pump's end to wake one (see `held_wakes`); a push from a task's
        // own code, which may wait for the worker, wakes at once.
        let hold = || context::is_pumping(shared) && !context::in_task_poll();
        if cores != 0 {
            let pushed = self.pinned_for(cores).pinned.push(runnable);
            // Only one worker can take it: wake them all so it is among them.
            return self.pushed(shared, pushed, usize::MAX, hold());
        }
        if header.priority() == Priority::High {
            let pushed = self.high.push(runnable);
            return self.pushed(shared, pushed, 1, hold());
        }
        let pushed = match context::worker_index(shared) {
            // Worker `index`'s queue, on worker thread `index`: its owner.
            Some(index) => match self.requeue_behind_injector(index, requeue).push(runnable) {
                // Full (or closed, at shutdown: the injector refuses it too).
                Err(runnable) => self.overflow(index, runnable),
                Ok(()) if requeue => {
                    self.locals[index].counters.local_pushes.add(1);
                    // A task this worker just polled, back in this worker's
                    // queue: no new work, so no worker to wake (and no
                    // `SeqCst` fence to pay on every yield). This worker
                    // takes it, or another steals it on its way to sleep;
                    // a worker that slept already found every queue empty,
                    // and only wakes of other tasks (which notify) have
                    // filled them since.
                    return None;
                }
                Ok(()) => {
                    self.locals[index].counters.local_pushes.add(1);
                    Ok(())
                }
            },
            None => self.push_injector(runnable),
        };
        self.pushed(shared, pushed, 1, hold())
    }

    /// Worker `index`'s queue is full: half of it moves to the injector, for
    /// the other workers, and the task takes one of the freed places, so the
    /// next pushes stay local (as tokio does) instead of each going to the
    /// shared injector.
    #[cold]
    #[inline(never)]
    fn overflow(
        &self,
        index: usize,
        runnable: Runnable<Header>,
    ) -> Result<(), PushError<Runnable<Header>>> {
        let local = &self.locals[index];
        let mut moved = 0;
        while moved < LOCAL_CAPACITY / 2
            && let Some(item) = local.queue.pop()
        {
            if let Err(error) = self.injector.push(item) {
                // The injector is closed: back where it came from; if that
                // is closed too, the scheduler is shutting down and drops it.
                let _ = local.queue.push(error.into_inner());
                break;
            }
            moved += 1;
        }
        self.injector_pushes
            .0
            .fetch_add(moved as u64, Ordering::Relaxed);
        match local.queue.push(runnable) {
            Ok(()) => {
                local.counters.local_pushes.add(1);
                Ok(())
            }
            Err(runnable) => self.push_injector(runnable),
        }
    }

    fn push_injector(&self, runnable: Runnable<Header>) -> Result<(), PushError<Runnable<Header>>> {
        self.injector_pushes.0.fetch_add(1, Ordering::Relaxed);
        self.injector.push(runnable)
    }

    /// After a push: wakes `wake` sleeping workers, or with `hold`, leaves
    /// the wakes to the end of the pump; while the game's frame runs, to
    /// its end (see `frame_hold`). Not inlined: it keeps the yield's path
    /// through `push` (no wake) short.
    #[inline(never)]
    fn pushed(
        &self,
        shared: &Shared,
        pushed: Result<(), PushError<Runnable<Header>>>,
        wake: usize,
        hold: bool,
    ) -> Option<Runnable<Header>> {
        match pushed {
            Ok(()) => {
                // With every worker awake (a busy pool: hops under load),
                // there is no wake to hold; holding one costs clock reads.
                if hold && wake == 1 && !self.parking.has_sleeper() {
                    return None;
                }
                let now = if hold {
                    held_wakes::hold(shared, wake)
                } else {
                    wake
                };
                self.wake_or_hold(shared, now);
                None
            }
            Err(error) => Some(error.into_inner()),
        }
    }

    /// The worker a masked task goes to: the least busy one pinned to one of
    /// its cores (the mask was checked at spawn: there is one).
    fn pinned_for(&self, mask: u64) -> &Local {
        self.locals
            .iter()
            .filter(|local| {
                local
                    .core
                    .is_some_and(|core| core < 64 && mask & (1 << core) != 0)
            })
            .min_by_key(|local| local.pinned.len())
            .expect("core masks are checked at spawn")
    }
}
