//! What the test knows of each spawned task and timer, and what a pump
//! does to a timer.

use super::*;

/// What the test knows of one spawned task.
pub(crate) struct TaskModel {
    pub(crate) steps: Vec<Step>,
    /// Absolute deadline (ms on the clock) of each step, 0 for non-sleeps.
    pub(crate) deadlines: Vec<u64>,
    /// Steps done so far, counted by the task itself.
    pub(crate) progress: Arc<AtomicUsize>,
    /// Set if a step ran out of order or twice.
    pub(crate) disorder: Arc<AtomicBool>,
    /// Drops of the task's future.
    pub(crate) drops: Arc<AtomicUsize>,
    pub(crate) handle: Option<Task<usize>>,
    /// At the cancel: the progress, and whether the task had finished.
    pub(crate) cancelled: Option<(usize, bool)>,
    pub(crate) result: Option<Result<usize, TaskError>>,
}

impl TaskModel {
    /// The steps the task can have done by `now`: up to its first sleep
    /// whose deadline is still ahead.
    pub(crate) fn reachable(&self, now: u64) -> usize {
        (0..self.steps.len())
            .find(|&k| matches!(self.steps[k], Step::SleepUntil(_)) && self.deadlines[k] > now)
            .unwrap_or(self.steps.len())
    }
}

/// What the test knows of one delayed or interval task.
pub(crate) struct TimerModel {
    pub(crate) token: TimerHandle,
    pub(crate) cancelled: bool,
    /// The clock (ms) when it was cancelled.
    pub(crate) cancelled_at: Option<u64>,
    /// Drops of the run futures, one per run.
    pub(crate) run_drops: Arc<AtomicUsize>,
    pub(crate) kind: TimerKind,
}

pub(crate) enum TimerKind {
    Delayed {
        due: u64,
        fired: bool,
    },
    Interval {
        origin: u64,
        period: u64,
        /// The index of the next tick to run.
        next: u64,
        runs: u64,
        skipped: u64,
    },
}

impl TimerModel {
    /// What a pump at `now` does to this timer: runs that are due, once each,
    /// and for an interval the grid `origin + k·period` with missed ticks
    /// skipped (the runs take no time, so only clock jumps miss ticks).
    pub(crate) fn pump(&mut self, now: u64) {
        if self.cancelled {
            return;
        }
        match &mut self.kind {
            TimerKind::Delayed { due, fired } => {
                if !*fired && *due <= now {
                    *fired = true;
                }
            }
            TimerKind::Interval {
                origin,
                period,
                next,
                runs,
                skipped,
            } => {
                while *origin + *next * *period <= now {
                    *runs += 1;
                    *next += 1;
                    if *origin + *next * *period < now {
                        let reached = (now - *origin).div_ceil(*period);
                        *skipped += reached - *next;
                        *next = reached;
                    }
                }
            }
        }
    }

    pub(crate) fn runs(&self) -> u64 {
        match &self.kind {
            TimerKind::Delayed { fired, .. } => u64::from(*fired),
            TimerKind::Interval { runs, .. } => *runs,
        }
    }
}
