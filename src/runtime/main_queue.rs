//! The main queue and the pump that drains it once per frame.
//!
//! Main-affinity tasks only ever run inside [`MainQueue::pump`], on the thread
//! that owns the runtime (in Bevy, inside an exclusive system), in the order
//! [`FrameQueue`] gives them: on the main thread, a yield means "resume next
//! frame", as a game coroutine's `yield` does. A task that asked for a turn
//! in this pump (`context::wait_for_turn`: an interval whose next tick was
//! already due) wakes itself into the back of the ready tasks instead, so
//! the budget is checked before it runs again.
//!
//! In the single-threaded mode (`workers: 0`) the pump runs the worker tasks
//! too, from a queue of their own, once no main task is ready: main tasks
//! keep their latency, and one budget bounds the whole pump.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Waker;
use std::time::Duration;

use crate::runtime::task::raw::Runnable;
use concurrent_queue::ConcurrentQueue;

use crate::runtime::Shared;
use crate::runtime::diag::cpu_clock::CpuSpan;
use crate::runtime::diag::deterministic::Deterministic;
use crate::runtime::diag::report::{CoroError, Stall, StuckTask};
use crate::runtime::frame_queue::{FrameQueue, Turn};
use crate::runtime::queue::drain_queue;
use crate::runtime::schedule::run;
use crate::runtime::task::context;
use crate::runtime::task::header::Header;
use crate::runtime::timer::clock::{self, Instant};
use crate::runtime::workers::held_wakes;

/// What one pump did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PumpReport {
    /// Task polls run by this pump.
    pub polled: usize,
    /// Whether the pump stopped because its budget was spent, leaving tasks for
    /// the next frame.
    pub out_of_budget: bool,
    /// Timers that came due and woke their tasks at the start of this pump.
    pub timers_fired: usize,
    /// In deterministic mode: what keeps tasks in flight when nothing can
    /// run any more (an await cycle, or waits on external events). Shared,
    /// as `stuck` is: a report costs nothing to drop when both are `None`
    /// (an empty frame's report is returned and dropped every frame).
    pub stall: Option<Arc<Stall>>,
    /// With `RuntimeConfig::report_stuck_after`: tasks that have not run for
    /// that many pumps; `None` when there are none.
    pub stuck: Option<Arc<[StuckTask]>>,
    /// The CPU time the pump's thread used in this pump (firing timers,
    /// polling tasks, giving held wakes), from the thread's own CPU clock: the
    /// pump's wall time minus this is time the operating system kept the
    /// thread off the CPU (another thread had the core), not the pump's own
    /// work. Counted from the first timer fired or task polled, so `None`
    /// when the pump did neither (an empty pump reads no clock: on Linux a
    /// read is a system call, about 0.5 µs), and where there is no
    /// per-thread CPU clock (not unix).
    pub cpu_time: Option<Duration>,
    /// With a budget: the longest single task poll of this pump, in wall
    /// time as the budget is (so it includes any time the OS took the core
    /// mid-poll). The pump checks its budget between polls, so its own work
    /// ends at most this long after the budget is spent. `None` without a
    /// budget (polls are not timed then) or when no task ran.
    pub longest_poll: Option<Duration>,
}

impl PumpReport {
    /// `Err(CoroError::Deadlock)` when the pump found tasks awaiting each
    /// other in a cycle (deterministic mode only).
    pub fn deadlock(&self) -> Result<(), CoroError> {
        match &self.stall {
            Some(stall) if stall.is_deadlock() => Err(CoroError::Deadlock(Stall::clone(stall))),
            _ => Ok(()),
        }
    }
}

/// The main-thread side of the scheduler.
pub(crate) struct MainQueue {
    /// Main-affinity (and `spawn_local`) tasks.
    main: FrameQueue,
    /// In the single-threaded mode: worker-affinity tasks, which the pump
    /// runs after the main ones.
    workers: Option<FrameQueue>,
    /// `next_frame()` futures waiting for the next pump to start.
    frame_waiters: ConcurrentQueue<Waker>,
    /// Pumps started so far; `next_frame()` compares against it.
    frame: AtomicU64,
}

/// Where a pump is in its queues.
struct Turns {
    main: Turn,
    workers: Option<Turn>,
}

impl MainQueue {
    /// `single_threaded`: the pump runs worker tasks too.
    pub(crate) fn new(single_threaded: bool) -> Self {
        MainQueue {
            main: FrameQueue::new(),
            workers: single_threaded.then(FrameQueue::new),
            frame_waiters: ConcurrentQueue::unbounded(),
            frame: AtomicU64::new(0),
        }
    }

    /// Queues a main-affinity task; returns it back if the scheduler is closed.
    /// `yielded`: the task woke itself during a pump and waits for the next one.
    pub(crate) fn push(
        &self,
        runnable: Runnable<Header>,
        yielded: bool,
    ) -> Option<Runnable<Header>> {
        self.main.push(runnable, yielded)
    }

    /// In the single-threaded mode, the queue of worker tasks the pump runs.
    #[inline]
    pub(crate) fn worker_tasks(&self) -> Option<&FrameQueue> {
        self.workers.as_ref()
    }

    /// Number of pumps started so far.
    pub(crate) fn frame(&self) -> u64 {
        self.frame.load(Ordering::Acquire)
    }

    /// Wakes `waker` when the next pump starts. Returns `false` if the scheduler
    /// is closed (the waker is dropped: nothing will pump again).
    pub(crate) fn wake_next_frame(&self, waker: Waker) -> bool {
        self.frame_waiters.push(waker).is_ok()
    }

    /// Whether no task waits for the pump: no main task ready or yielded,
    /// and in the single-threaded mode no worker task (`next_frame()`
    /// waiters aside, see [`count_frame`](Self::count_frame)).
    #[inline]
    pub(crate) fn is_idle(&self) -> bool {
        self.main.is_empty() && self.workers.as_ref().is_none_or(FrameQueue::is_empty)
    }

    /// Counts a pump started; returns whether `next_frame()` futures wait
    /// for it. Counted first: a worker task registering meanwhile either is
    /// seen here or sees the new count (it re-reads it after registering).
    #[inline]
    pub(crate) fn count_frame(&self) -> bool {
        self.frame.fetch_add(1, Ordering::AcqRel);
        !self.frame_waiters.is_empty()
    }

    /// Runs main-queue tasks until none is ready or `budget` (counted from
    /// `now`) is spent; in the single-threaded mode, then worker tasks, under
    /// the same budget. At least one task runs per pump when any is ready, so
    /// a budget too small for one task still makes progress. In deterministic
    /// mode, `deterministic` picks the next task among the ready main and worker tasks.
    /// `cpu` is begun before the first poll. `counted`: the pump was counted
    /// already ([`count_frame`](Self::count_frame)).
    pub(crate) fn pump(
        &self,
        shared: &Shared,
        now: Instant,
        budget: Option<Duration>,
        counted: bool,
        deterministic: Option<&Deterministic>,
        cpu: &mut CpuSpan,
    ) -> PumpReport {
        let _pumping = context::enter_pump(shared);
        if !counted {
            self.frame.fetch_add(1, Ordering::AcqRel);
        }
        // Only those waiting now: a `next_frame()` registered during this pump
        // waits for the next one.
        for _ in 0..self.frame_waiters.len() {
            let Ok(waker) = self.frame_waiters.pop() else {
                break;
            };
            waker.wake();
        }
        let deadline = budget.map(|budget| now + budget);
        let mut turns = Turns {
            main: self.main.turn(),
            workers: self.workers.as_ref().map(FrameQueue::turn),
        };
        let mut report = PumpReport::default();
        loop {
            // With a budget, the clock read that checks it also starts the
            // next poll's timing.
            let checked = deadline.map(|deadline| (deadline, clock::now()));
            if report.polled > 0 && checked.is_some_and(|(deadline, at)| at >= deadline) {
                report.out_of_budget =
                    self.has_ready(&turns) || deterministic.is_some_and(Deterministic::has_ready);
                break;
            }
            let next = match deterministic {
                None => self.pop(&mut turns),
                Some(deterministic) => deterministic
                    .pick(|| self.main.pop(&mut turns.main))
                    .map(|runnable| (runnable, false)),
            };
            let Some((runnable, worker_task)) = next else {
                // The deterministic picker stops at its poll cap with tasks
                // still ready: that is a full frame, not a stall.
                report.out_of_budget |= deterministic.is_some_and(Deterministic::has_ready);
                break;
            };
            cpu.begin();
            if worker_task {
                // Its hops and yields are routed as a worker's (`schedule`).
                let _worker = context::enter_worker_in_pump();
                run(runnable);
            } else {
                run(runnable);
            }
            if let Some((_, started)) = checked {
                let took = started.elapsed();
                report.longest_poll = Some(report.longest_poll.map_or(took, |t| t.max(took)));
            }
            context::forget_turn();
            report.polled += 1;
            // Worker wakes this pump held for a millisecond are due now.
            shared
                .workers
                .wake_or_hold(shared, held_wakes::overdue(shared));
        }
        report
    }

    /// The next task, and whether it is a worker task: main tasks first.
    fn pop(&self, turns: &mut Turns) -> Option<(Runnable<Header>, bool)> {
        if let Some(runnable) = self.main.pop(&mut turns.main) {
            return Some((runnable, false));
        }
        let (queue, turn) = self.workers.as_ref().zip(turns.workers.as_mut())?;
        queue.pop(turn).map(|runnable| (runnable, true))
    }

    /// Whether tasks wait that this pump would still run.
    fn has_ready(&self, turns: &Turns) -> bool {
        self.main.has_ready(&turns.main)
            || self
                .workers
                .as_ref()
                .zip(turns.workers.as_ref())
                .is_some_and(|(queue, turn)| queue.has_ready(turn))
    }

    /// Whether tasks wait for the next frame (yielders or `next_frame()`).
    pub(crate) fn waits_for_next_frame(&self) -> bool {
        self.main.has_yielders() || !self.frame_waiters.is_empty()
    }

    /// Refuses further pushes, hands every queued task to `dispose` and drops
    /// the waiters.
    pub(crate) fn close(&self, mut dispose: impl FnMut(Runnable<Header>)) {
        self.main.close(&mut dispose);
        if let Some(workers) = &self.workers {
            workers.close(&mut dispose);
        }
        drain_queue(&self.frame_waiters, drop);
    }

    /// Number of tasks waiting to run on the main thread.
    pub(crate) fn len(&self) -> usize {
        self.main.len()
    }

    /// In the single-threaded mode, the worker tasks waiting for the pump.
    pub(crate) fn worker_len(&self) -> usize {
        self.workers.as_ref().map_or(0, FrameQueue::len)
    }
}
