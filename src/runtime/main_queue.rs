//! The main queue and the pump that drains it once per frame.
//!
//! Main-affinity tasks only ever run inside [`MainQueue::pump`], on the thread
//! that owns the runtime (in Bevy, inside an exclusive system). A task that
//! wakes itself while the pump polls it (a `yield_now()`, or any foreign
//! "yield" future) goes to `next_frame` instead of `ready`, so the pump cannot
//! spin on it: on the main thread, a yield means "resume next frame", as a game
//! coroutine's `yield` does. Wakes from anywhere else go to `ready` and are
//! served by the running pump if it is still draining. A task that asked
//! for a turn in this pump (`context::wait_for_turn`: an interval whose next
//! tick was already due) wakes itself into the back of `ready` instead, so
//! the budget is checked before it runs again.
//!
//! Last frame's yielders and the ready tasks take turns (one of each, while
//! both wait), and the turn carries over to the next pump, so when a budget
//! cuts a pump short neither kind can starve the other: what the budget left
//! runs in the next frames.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::Waker;
use std::time::{Duration, Instant};

use async_task::Runnable;
use concurrent_queue::ConcurrentQueue;

use crate::runtime::Shared;
use crate::runtime::diag::cpu_clock::CpuSpan;
use crate::runtime::diag::deterministic::Deterministic;
use crate::runtime::diag::report::{CoroError, Stall, StuckTask};
use crate::runtime::queue::{HIGH_BURST, drain_queue, try_pop};
use crate::runtime::schedule::run;
use crate::runtime::task::context;
use crate::runtime::task::header::Header;
use crate::runtime::task::options::Priority;
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
    /// run any more (an await cycle, or waits on external events).
    pub stall: Option<Stall>,
    /// With `RuntimeConfig::report_stuck_after`: tasks that have not run for
    /// that many pumps.
    pub stuck: Vec<StuckTask>,
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
            Some(stall) if stall.is_deadlock() => Err(CoroError::Deadlock(stall.clone())),
            _ => Ok(()),
        }
    }
}

/// Where a pump is in its queues.
struct Turn {
    /// Last frame's yielders still to run in this pump.
    yielded: usize,
    /// `High` tasks run in a row.
    high_run: u32,
}

/// The main-thread side of the scheduler.
pub(crate) struct MainQueue {
    /// `High` tasks to poll in this pump, before `ready` ones (but see
    /// `HIGH_BURST`).
    high: ConcurrentQueue<Runnable<Header>>,
    /// Tasks to poll in this pump.
    ready: ConcurrentQueue<Runnable<Header>>,
    /// Tasks that yielded during a pump: polled in the next one, taking
    /// turns with `ready`.
    next_frame: ConcurrentQueue<Runnable<Header>>,
    /// Whether the next `Normal` task comes from last frame's yielders (else
    /// from `ready`). Kept across pumps: a pump cut short by its budget
    /// resumes the alternation where it stopped. Only the pump touches it.
    yielder_next: AtomicBool,
    /// `next_frame()` futures waiting for the next pump to start.
    frame_waiters: ConcurrentQueue<Waker>,
    /// Pumps started so far; `next_frame()` compares against it.
    frame: AtomicU64,
}

impl MainQueue {
    pub(crate) fn new() -> Self {
        MainQueue {
            high: ConcurrentQueue::unbounded(),
            ready: ConcurrentQueue::unbounded(),
            next_frame: ConcurrentQueue::unbounded(),
            yielder_next: AtomicBool::new(true),
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
        let queue = if yielded {
            &self.next_frame
        } else if runnable.metadata().priority() == Priority::High {
            &self.high
        } else {
            &self.ready
        };
        queue.push(runnable).err().map(|error| error.into_inner())
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

    /// Runs main-queue tasks until none is ready or `budget` (counted from
    /// `now`) is spent. At least one task runs per pump when any is ready, so
    /// a budget too small for one task still makes progress. In deterministic
    /// mode, `deterministic` picks the next task among the ready main and worker tasks.
    /// `cpu` is begun before the first poll.
    pub(crate) fn pump(
        &self,
        shared: &Shared,
        now: Instant,
        budget: Option<Duration>,
        deterministic: Option<&Deterministic>,
        cpu: &mut CpuSpan,
    ) -> PumpReport {
        let _pumping = context::enter_pump(shared);
        self.frame.fetch_add(1, Ordering::AcqRel);
        // Only those waiting now: a `next_frame()` registered during this pump
        // waits for the next one.
        for _ in 0..self.frame_waiters.len() {
            let Ok(waker) = self.frame_waiters.pop() else {
                break;
            };
            waker.wake();
        }
        let deadline = budget.map(|budget| now + budget);
        let mut turn = Turn {
            yielded: self.next_frame.len(),
            high_run: 0,
        };
        let mut report = PumpReport::default();
        loop {
            // With a budget, the clock read that checks it also starts the
            // next poll's timing.
            let checked = deadline.map(|deadline| (deadline, Instant::now()));
            if report.polled > 0 && checked.is_some_and(|(deadline, at)| at >= deadline) {
                report.out_of_budget = !self.ready.is_empty()
                    || !self.high.is_empty()
                    || turn.yielded > 0
                    || deterministic.is_some_and(Deterministic::has_ready);
                break;
            }
            let next = match deterministic {
                None => self.pop(&mut turn),
                Some(deterministic) => deterministic.pick(|| self.pop(&mut turn)),
            };
            let Some(runnable) = next else {
                // The deterministic picker stops at its poll cap with tasks
                // still ready: that is a full frame, not a stall.
                report.out_of_budget |= deterministic.is_some_and(Deterministic::has_ready);
                break;
            };
            cpu.begin();
            run(runnable);
            if let Some((_, started)) = checked {
                let took = started.elapsed();
                report.longest_poll = Some(report.longest_poll.map_or(took, |t| t.max(took)));
            }
            context::forget_turn();
            report.polled += 1;
            // Worker wakes this pump held for a millisecond are due now.
            shared.workers.wake(held_wakes::overdue(shared));
        }
        report
    }

    /// The next main task: `High` first, but a waiting `Normal` one after every
    /// `HIGH_BURST`; among `Normal` ones, last frame's yielders and this
    /// frame's ready tasks in turn.
    fn pop(&self, turn: &mut Turn) -> Option<Runnable<Header>> {
        if turn.high_run < HIGH_BURST {
            match try_pop(&self.high) {
                Some(runnable) => {
                    turn.high_run += 1;
                    Some(runnable)
                }
                None => self.pop_normal(turn),
            }
        } else {
            turn.high_run = 0;
            self.pop_normal(turn).or_else(|| try_pop(&self.high))
        }
    }

    /// A yielder or a ready task, whichever's turn it is (the other if that
    /// queue is empty). Serving yielders first every frame would let a frame
    /// full of per-frame coroutines keep every other task waiting for good.
    fn pop_normal(&self, turn: &mut Turn) -> Option<Runnable<Header>> {
        let (runnable, was_yielder) = if self.yielder_next.load(Ordering::Relaxed) {
            match self.pop_yielder(turn) {
                Some(runnable) => (runnable, true),
                None => (try_pop(&self.ready)?, false),
            }
        } else {
            match try_pop(&self.ready) {
                Some(runnable) => (runnable, false),
                None => (self.pop_yielder(turn)?, true),
            }
        };
        self.yielder_next.store(!was_yielder, Ordering::Relaxed);
        Some(runnable)
    }

    /// One of last frame's yielders, if this pump has not served them all
    /// (those yielding during this pump wait for the next).
    fn pop_yielder(&self, turn: &mut Turn) -> Option<Runnable<Header>> {
        if turn.yielded == 0 {
            return None;
        }
        turn.yielded -= 1;
        try_pop(&self.next_frame)
    }

    /// Whether tasks wait for the next frame (yielders or `next_frame()`).
    pub(crate) fn waits_for_next_frame(&self) -> bool {
        !self.next_frame.is_empty() || !self.frame_waiters.is_empty()
    }

    /// Refuses further pushes, hands every queued task to `dispose` and drops
    /// the waiters.
    pub(crate) fn close(&self, mut dispose: impl FnMut(Runnable<Header>)) {
        drain_queue(&self.high, &mut dispose);
        drain_queue(&self.ready, &mut dispose);
        drain_queue(&self.next_frame, &mut dispose);
        drain_queue(&self.frame_waiters, drop);
    }

    /// Number of tasks waiting to run on the main thread.
    pub(crate) fn len(&self) -> usize {
        self.high.len() + self.ready.len() + self.next_frame.len()
    }
}
