//! Counters the scheduler keeps for reports: relaxed atomics, bumped where
//! things happen and read once per frame.

use std::sync::atomic::{AtomicU64, Ordering};

/// Running totals.
#[derive(Default)]
pub(crate) struct Counters {
    panics: AtomicU64,
    ticks_skipped: AtomicU64,
}

impl Counters {
    pub(crate) fn panic(&self) {
        self.panics.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn skipped(&self, ticks: u64) {
        if ticks > 0 {
            self.ticks_skipped.fetch_add(ticks, Ordering::Relaxed);
        }
    }

    /// Panics and skipped ticks so far.
    pub(crate) fn snapshot(&self) -> (u64, u64) {
        (
            self.panics.load(Ordering::Relaxed),
            self.ticks_skipped.load(Ordering::Relaxed),
        )
    }
}

/// A snapshot of the scheduler's queues and totals, from
/// [`Handle::stats`](crate::runtime::Handle::stats). Cheap: a few relaxed loads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RuntimeStats {
    /// Tasks spawned and not yet finished.
    pub in_flight: usize,
    /// Tasks waiting for the main thread (this pump or the next).
    pub main_queue: usize,
    /// Tasks waiting for a worker: the injector and every local queue (in the
    /// single-threaded mode, the worker tasks waiting for the pump).
    pub worker_queue: usize,
    /// Tasks waiting for a resume point's next run (`resume_in`), or woken
    /// for it (a lock per resume point to count).
    pub at_resume_points: usize,
    /// Task polls, timer runs and cleanups (`on_cancel`) that panicked,
    /// since the start.
    pub panics: u64,
    /// Interval ticks skipped because a run was still going, since the start.
    pub ticks_skipped: u64,
    /// Times the main thread took its long time slice since the start (a
    /// pump ran long: see
    /// [`RuntimeConfig::main_slice`](crate::runtime::RuntimeConfig::main_slice)).
    pub main_slice_raised: u64,
    /// What the workers did since the start (polls, pushes, steals, parks).
    pub workers: crate::runtime::WorkerStats,
}
