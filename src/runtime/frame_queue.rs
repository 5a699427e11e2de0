//! [`FrameQueue`]: the tasks one pump runs, in the order it runs them.
//!
//! The pump keeps one for main-thread tasks and, in the single-threaded mode
//! (`workers: 0`), a second one for worker tasks, which it runs once the
//! first is empty. A task that wakes itself while the pump polls it (a
//! `yield_now()`, any foreign "yield" future) goes to `next_frame`, so the
//! pump cannot spin on it; other wakes go to `ready` and are served by the
//! running pump if it is still draining.
//!
//! Last frame's yielders and the ready tasks take turns (one of each, while
//! both wait), and the turn carries over to the next pump, so when a budget
//! cuts a pump short neither kind can starve the other: what the budget left
//! runs in the next frames.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::runtime::task::raw::Runnable;
use concurrent_queue::ConcurrentQueue;

use crate::runtime::queue::{HIGH_BURST, drain_queue, try_pop};
use crate::runtime::task::header::Header;
use crate::runtime::task::options::Priority;

/// Where a pump is in one queue.
pub(crate) struct Turn {
    /// Last frame's yielders still to run in this pump.
    yielded: usize,
    /// `High` tasks run in a row.
    high_run: u32,
}

/// Tasks for the pump: `High`, ready, and last frame's yielders.
pub(crate) struct FrameQueue {
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
}

impl FrameQueue {
    pub(crate) fn new() -> Self {
        FrameQueue {
            high: ConcurrentQueue::unbounded(),
            ready: ConcurrentQueue::unbounded(),
            next_frame: ConcurrentQueue::unbounded(),
            yielder_next: AtomicBool::new(true),
        }
    }

    /// Queues a task; returns it back if the scheduler is closed.
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

    /// A pump's turn in this queue, taken as the pump starts: the yielders
    /// waiting now are this pump's, later ones the next pump's.
    pub(crate) fn turn(&self) -> Turn {
        Turn {
            yielded: self.next_frame.len(),
            high_run: 0,
        }
    }

    /// Whether tasks wait that this pump would still run.
    pub(crate) fn has_ready(&self, turn: &Turn) -> bool {
        !self.ready.is_empty() || !self.high.is_empty() || turn.yielded > 0
    }

    /// The next task: `High` first, but a waiting `Normal` one after every
    /// `HIGH_BURST`; among `Normal` ones, last frame's yielders and this
    /// frame's ready tasks in turn.
    pub(crate) fn pop(&self, turn: &mut Turn) -> Option<Runnable<Header>> {
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

    /// Whether tasks yielded and wait for the next frame.
    pub(crate) fn has_yielders(&self) -> bool {
        !self.next_frame.is_empty()
    }

    /// Refuses further pushes and hands every queued task to `dispose`.
    pub(crate) fn close(&self, mut dispose: impl FnMut(Runnable<Header>)) {
        drain_queue(&self.high, &mut dispose);
        drain_queue(&self.ready, &mut dispose);
        drain_queue(&self.next_frame, &mut dispose);
    }

    /// Whether no task waits in this queue.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.ready.is_empty() && self.high.is_empty() && self.next_frame.is_empty()
    }

    /// Number of tasks waiting in this queue.
    pub(crate) fn len(&self) -> usize {
        self.high.len() + self.ready.len() + self.next_frame.len()
    }
}
