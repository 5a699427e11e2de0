//! One pump, the main thread's turn in a frame: fire the timers that are
//! due, run the main queue (and, single-threaded or deterministic, the
//! worker tasks) within the budget, give the worker wakes held meanwhile,
//! and report. The pump's state (running, wakes held) lives in guards, so
//! a pump that unwinds leaves none behind.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::runtime::diag::cpu_clock::CpuSpan;
use crate::runtime::main_queue::PumpReport;
use crate::runtime::timer::clock::Instant;
use crate::runtime::{Shared, task, workers};

impl Shared {
    /// Runs one pump on the main thread: fires due timers, then runs the main
    /// queue.
    #[inline]
    pub(crate) fn pump(&self, now: Instant, budget: Option<Duration>) -> PumpReport {
        assert!(
            task::context::thread_id() == self.main_thread,
            "bevy_coro: the runtime must be pumped on the thread that created it \
             (main-thread tasks, including `spawn_local` ones, live there)"
        );
        // An empty frame (nothing in flight, or all of it waiting): a few
        // loads and the frame count, no clock read but for a pending timer.
        // What raced past these looks is the next pump's, as what comes
        // just after a full pump is.
        if self.plain_pump
            && self.cleanups.is_empty()
            && self.main.is_idle()
            && !self.timers.any_due()
        {
            // Counted before the `next_frame()` waiters are looked at (see
            // `MainQueue::count_frame`); if some wait, the full pump wakes them.
            if !self.main.count_frame() {
                if let Some(slice) = &self.main_slice {
                    slice.after_short_pump();
                }
                return PumpReport::default();
            }
            return self.full_pump(now, budget, true);
        }
        self.full_pump(now, budget, false)
    }

    /// [`pump`](Self::pump), past its look for an empty frame. `counted`:
    /// that look has counted this frame already.
    #[inline(never)]
    fn full_pump(&self, now: Instant, budget: Option<Duration>, counted: bool) -> PumpReport {
        // Timers, task polls and drops, held wakes: all scheduler work.
        let _working = task::context::enter_scheduler_work();
        let _pumping = Pumping::enter(&self.pumping);
        self.workers.note_main_core();
        #[cfg(feature = "trace")]
        let span = tracing::info_span!(target: "bevy_coro", "pump").entered();
        if let Some(deterministic) = &self.deterministic {
            deterministic.step_clock();
        }
        // The thread's CPU clock, from the first timer fired or task polled
        // to the end (an empty pump reads no clock).
        let mut cpu = CpuSpan::default();
        // The cleanups of the tasks cancelled since the last pump, first.
        if !self.cleanups.is_empty() {
            cpu.begin();
            self.run_cleanups();
        }
        let timers_fired = self.timers.fire_due_with(|| cpu.begin());
        let mut report = {
            // Wakes of workers held during the pump are given at its end,
            // also if it unwinds.
            let _release = ReleaseWakes(self);
            PumpReport {
                timers_fired,
                ..self.main.pump(
                    self,
                    now,
                    budget,
                    counted,
                    self.deterministic.as_ref(),
                    &mut cpu,
                )
            }
        };
        // Those of the tasks this pump dropped (cancelled ones it polled).
        if !self.cleanups.is_empty() {
            cpu.begin();
            self.run_cleanups();
        }
        report.cpu_time = cpu.end();
        if let Some(slice) = &self.main_slice {
            slice.after_pump(report.cpu_time.unwrap_or_default());
        }
        if let Some(wait_graph) = &self.wait_graph {
            if self.deterministic.is_some()
                && !report.out_of_budget
                && self.timers.pending() == 0
                && !self.main.waits_for_next_frame()
                && self.points.waiting() == 0
            {
                report.stall = wait_graph.stall().map(Arc::new);
            }
            if let Some(frames) = self.report_stuck_after {
                let stuck = wait_graph.stuck(self.main.frame(), frames);
                report.stuck = (!stuck.is_empty()).then(|| stuck.into());
            }
        }
        #[cfg(feature = "trace")]
        {
            drop(span);
            // tracing-tracy turns this field into a Tracy frame mark.
            tracing::info!(tracy.frame_mark = true);
        }
        report
    }

    /// One run of resume point `index` (see `points`), on the main thread,
    /// as a pump: the World is lent as there, and a task's self-wake goes to
    /// the next frame's main pump.
    pub(crate) fn pump_point(
        &self,
        index: usize,
        now: Instant,
        budget: Option<Duration>,
    ) -> crate::runtime::points::PointReport {
        assert!(
            task::context::thread_id() == self.main_thread,
            "bevy_coro: a resume point must run on the thread that created the runtime"
        );
        let _working = task::context::enter_scheduler_work();
        let _pumping = Pumping::enter(&self.pumping);
        #[cfg(feature = "trace")]
        let _span = tracing::info_span!(target: "bevy_coro", "resume point", index).entered();
        let _release = ReleaseWakes(self);
        let _in_pump = task::context::enter_pump(self);
        self.run_point(index, now, budget)
    }

    /// Whether the pump is running now (on the main thread; a hint, read
    /// from other threads without ordering).
    pub(crate) fn is_pump_running(&self) -> bool {
        self.pumping.load(Ordering::Relaxed)
    }
}

/// Marks the pump as running while it lives (also if the pump unwinds).
struct Pumping<'a>(&'a AtomicBool);

impl<'a> Pumping<'a> {
    fn enter(flag: &'a AtomicBool) -> Self {
        flag.store(true, Ordering::Relaxed);
        Pumping(flag)
    }
}

impl Drop for Pumping<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Relaxed);
    }
}

/// Gives the worker wakes the pump held back (see `held_wakes`) when dropped.
struct ReleaseWakes<'a>(&'a Shared);

impl Drop for ReleaseWakes<'_> {
    fn drop(&mut self) {
        let held = workers::held_wakes::release(self.0);
        self.0.workers.release_pump_wakes(held);
    }
}
