//! How a worker finds its next task: its pinned queue, `High` tasks (a
//! bounded run of them), its own queue (a bounded run of it), the injector,
//! then stealing half of another worker's queue; and where a yield goes
//! when tasks wait in the injector.

use crate::runtime::task::raw::Runnable;

use super::local_queue::LocalQueue;
use super::{LOCAL_CAPACITY, Workers};
use crate::runtime::queue::{HIGH_BURST, try_pop};
use crate::runtime::task::header::Header;

/// A worker's runs: how many `High` tasks, and how many from its own
/// queue, it took in a row. Kept by the worker's loop (no thread-local on
/// the hot path).
#[derive(Default)]
pub(super) struct Runs {
    high: u32,
    local: u32,
}

/// Tasks a worker takes from its own queue in a row before it looks at the
/// injector first (tokio's number): a task that keeps requeuing itself there
/// (a yield loop, an interval catching up) must not keep the tasks spawned
/// from outside waiting for good.
const LOCAL_RUN_MAX: u32 = 61;

impl Workers {
    /// Finds the next task for worker `index`: its pinned queue, `High` tasks
    /// (at most `HIGH_BURST` in a row while `Normal` ones wait), its own queue
    /// (but the injector first after `LOCAL_RUN_MAX` from it in a row), the
    /// injector, then another worker's queue.
    pub(super) fn find(&self, index: usize, runs: &mut Runs) -> Option<Runnable<Header>> {
        let own = &self.locals[index];
        // Only a worker pinned to a core is given masked tasks.
        if own.core.is_some()
            && let Some(runnable) = try_pop(&own.pinned)
        {
            return Some(runnable);
        }
        if runs.high < HIGH_BURST
            && let Some(runnable) = try_pop(&self.high)
        {
            runs.high += 1;
            return Some(runnable);
        }
        runs.high = 0;
        self.find_normal(index, runs)
            .or_else(|| try_pop(&self.high))
    }

    fn find_normal(&self, index: usize, runs: &mut Runs) -> Option<Runnable<Header>> {
        let local = &self.locals[index].queue;
        if runs.local >= LOCAL_RUN_MAX {
            runs.local = 0;
            // One task, as tokio does: the own queue still holds work, so
            // moving a share here would only overflow it back (a full queue
            // sends half of itself to the injector).
            if let Some(runnable) = try_pop(&self.injector) {
                return Some(runnable);
            }
        }
        if let Some(runnable) = local.pop() {
            runs.local += 1;
            return Some(runnable);
        }
        if let Some(runnable) = self.take_from_injector(local) {
            runs.local = 0;
            return Some(runnable);
        }
        let count = self.count();
        for offset in 1..count {
            let victim = &self.locals[(index + offset) % count].queue;
            if let Some(runnable) = victim.pop() {
                // Half of the rest, into this worker's own queue (its
                // owner: this thread), which is empty.
                let mut moved = 0;
                for _ in 0..victim.len() / 2 {
                    let Some(item) = victim.pop() else { break };
                    if let Err(item) = local.push(item) {
                        self.give_back(item);
                        break;
                    }
                    moved += 1;
                }
                self.locals[index].counters.steals.add(1 + moved);
                return Some(runnable);
            }
        }
        None
    }

    /// A task from the injector, with a fair share of the rest moved to
    /// `local`, so the injector is touched less often.
    fn take_from_injector(&self, local: &LocalQueue<Runnable<Header>>) -> Option<Runnable<Header>> {
        let runnable = try_pop(&self.injector)?;
        let share = (self.injector.len() / self.count()).min(LOCAL_CAPACITY / 2);
        for _ in 0..share {
            let Some(item) = try_pop(&self.injector) else {
                break;
            };
            if let Err(item) = local.push(item) {
                self.give_back(item);
                break;
            }
        }
        if !self.injector.is_empty() {
            // More work than this worker takes: let a sleeper help.
            self.wake(1);
        }
        Some(runnable)
    }

    /// Worker `index`'s own queue, for a push. When `requeue` (a task it
    /// just polled, woken in its poll: a yield) and a task waits in the
    /// injector while the own queue is short, that one moves to the own
    /// queue first, so the yield goes behind it. A task in the injector
    /// waits for at most `LOCAL_RUN_MAX` turns of the own queue; with fewer
    /// tasks in it than that, those turns were the same few tasks again (an
    /// actor's batch of 10 became 610 messages in a row). A longer own
    /// queue is left as it is: each of its tasks runs once in those turns,
    /// and moving tasks on every yield cost a yield loop of 1,000 tasks
    /// twice its time.
    #[inline]
    pub(super) fn requeue_behind_injector(
        &self,
        index: usize,
        requeue: bool,
    ) -> &LocalQueue<Runnable<Header>> {
        let local = &self.locals[index].queue;
        // The own queue first: its lines are this thread's, the injector's
        // are every pushing thread's.
        if requeue
            && local.len() < LOCAL_RUN_MAX as usize
            && let Some(waiting) = try_pop(&self.injector)
        {
            // There is room (`LOCAL_RUN_MAX` is far below the capacity),
            // and only this thread pushes here.
            if let Err(waiting) = local.push(waiting) {
                self.give_back(waiting);
            }
        }
        local
    }

    /// A task a worker took but cannot keep (its own queue is full or
    /// closed): back to the injector; if that is closed too, the scheduler
    /// is shutting down and drops it.
    fn give_back(&self, runnable: Runnable<Header>) {
        let _ = self.injector.push(runnable);
    }

    /// Whether a task waits in a shared queue or a worker's queue (but
    /// worker `except`'s): work another worker, or the rescue thread, could
    /// take. Pinned queues are left out: only their own worker takes from them.
    pub(super) fn work_waiting(&self, except: Option<usize>) -> bool {
        !self.injector.is_empty()
            || !self.high.is_empty()
            || self
                .locals
                .iter()
                .enumerate()
                .any(|(i, local)| Some(i) != except && !local.queue.is_empty())
    }
}
