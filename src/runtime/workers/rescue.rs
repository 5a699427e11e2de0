//! The workers' rescue thread: it sees that work waits while no worker
//! takes it, and steps in.
//!
//! Its two duties, by worker priority:
//!
//! - **Held wakes, at every priority.** The pump holds the wakes of tasks it
//!   moves to the workers until it returns (see `held_wakes`). A pump that
//!   never returns, because a `with_world` closure blocks on one of those
//!   tasks (an anti-pattern), would wait for good. When, at [`STREAK`] looks
//!   in a row, work waited and no worker started a poll, the rescue thread
//!   wakes every worker: a late task, not a stuck one.
//! - **Starved workers, at [`WorkerPriority::Background`] on Linux.**
//!   Background workers run on the CPU time other threads leave, so programs
//!   that keep every core busy would starve them: a pathfinding task could
//!   wait for seconds. The rescue thread runs at normal priority and runs
//!   queued tasks itself when, at [`STREAK`] looks in a row, work waited in
//!   the queues and the workers together ran on a CPU less than half the
//!   time since the previous look (the kernel's own count: a long poll is on
//!   a CPU, so it does not count). A frame that takes the cores for a few
//!   milliseconds does not start it; being kept off the CPU for tens does.
//!   So does a worker blocked in a system call, or asleep, while work waits.
//!   It competes with the frame's threads only while it rescues, and starts
//!   no poll while the pump runs, for up to half a look: a rescued poll (a
//!   pathfinding search of milliseconds) would take the main thread's core
//!   in the middle of its budget. A pump that runs longer is blocked inside
//!   a task, and the rescue goes ahead.
//!
//! It looks every [`CHECK`] while work waits, and backs off to
//! [`IDLE_CHECK`] when none does, so an idle pool wakes it 10 times a second.

use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use super::Workers;
use super::os_priority::{self, WorkerPriority};
use crate::runtime::Shared;
use crate::runtime::queue::try_pop;
use crate::runtime::schedule;

/// How often the rescue thread looks while work waits, and how long it
/// runs tasks before it looks again. The kernel moves a running thread's CPU
/// time at each scheduler tick (every 1 to 4 ms), so a look covers two ticks
/// or more.
pub(crate) const CHECK: Duration = Duration::from_millis(10);

/// How long a rescue waits before it looks again while the pump runs.
const PUMP_WAIT: Duration = Duration::from_micros(500);

/// The longest it sleeps while no work waits.
pub(crate) const IDLE_CHECK: Duration = Duration::from_millis(100);

/// Whether `shared`'s workers need a rescue thread: they all do, as the
/// pump holds their wakes.
pub(crate) fn needed(shared: &Shared) -> bool {
    shared.workers.count() > 0
}

/// Whether the rescue thread runs tasks itself when the workers starve:
/// they are background workers, on a platform that reports their wait for
/// a CPU (Linux).
fn runs_tasks(shared: &Shared) -> bool {
    shared.workers.priority == WorkerPriority::Background && cfg!(target_os = "linux")
}

/// Looks in a row that must find the workers starved before a rescue.
pub(crate) const STREAK: u32 = 2;

/// The rescue thread's loop; returns when the workers stop.
pub(crate) fn run(shared: &Shared) {
    let workers = &shared.workers;
    // It polls and drops worker tasks, as a worker does.
    let _working = crate::runtime::task::context::enter_scheduler_work();
    let runs_tasks = runs_tasks(shared);
    // More workers than cores cannot all run at once: judge them against
    // what the cores can give.
    let cores = thread::available_parallelism().map_or(1, |n| n.get());
    let mut sleep = CHECK;
    let mut streak = 0;
    // The previous look: when, the polls the workers had started, and how
    // long each background worker had run on a CPU.
    let mut last: Option<Look> = None;
    // The main thread's core, which it keeps off as the workers do: at
    // normal priority, a rescued poll there would cost the pump more still.
    let mut avoided = super::main_core::AVOIDING_NONE;
    workers.main_core.register(workers.count());
    loop {
        if streak < STREAK {
            // Woken early by `Workers::stop`.
            thread::park_timeout(sleep);
        }
        if workers.is_stopping() {
            workers.main_core.unregister(workers.count());
            return;
        }
        // Off the main thread's core at every look, not only to rescue:
        // while work waits it wakes 100 times a second, and woken on the
        // main thread's core it took the frame's CPU for its look.
        workers.main_core.keep_off(&mut avoided);
        // A frame that held wakes past its bound, and asked for no wake
        // since, gives them here.
        workers.give_overdue_frame_wakes();
        if !workers.work_waiting(None) {
            (streak, last) = (0, None);
            sleep = (sleep * 2).min(IDLE_CHECK);
            continue;
        }
        sleep = CHECK;
        let now = Look {
            at: Instant::now(),
            polls: workers.stats().polls,
            cpu_times: if runs_tasks {
                workers.cpu_times()
            } else {
                Vec::new()
            },
        };
        let stuck = last.as_ref().is_some_and(|before| {
            if runs_tasks {
                starved(before, &now, cores)
            } else {
                before.polls == now.polls
            }
        });
        streak = if stuck { streak + 1 } else { 0 };
        last = Some(now);
        if streak >= STREAK {
            if runs_tasks {
                workers.rescue(CHECK, &mut avoided, || shared.is_pump_running());
            } else {
                // A held wake the pump could not give: give every worker one.
                workers.rescue_wakes.add(1);
                workers.wake(usize::MAX);
                (streak, last) = (0, None);
            }
        }
    }
}

/// What one look of the rescue thread saw.
struct Look {
    at: Instant,
    /// Polls the workers had started.
    polls: u64,
    /// How long each background worker had run on a CPU (rescuing only).
    cpu_times: Vec<Duration>,
}

/// Whether the workers, together, ran on a CPU less than half what they
/// could have between `before` and `now`: the time, once per worker, but
/// for no more workers than there are `cores`.
fn starved(before: &Look, now: &Look, cores: usize) -> bool {
    let period = now.at - before.at;
    let ran: Duration = before
        .cpu_times
        .iter()
        .zip(&now.cpu_times)
        .map(|(before, now)| now.saturating_sub(*before))
        .sum();
    let could = now.cpu_times.len().min(cores) as u32;
    // A worker that started or stopped reporting between the looks: no verdict.
    could > 0 && before.cpu_times.len() == now.cpu_times.len() && ran * 2 < period * could
}

/// What the rescue thread needs of the workers.
impl Workers {
    /// Gives worker `index` (the calling thread) the configured priority.
    /// Only a worker whose CPU time the rescue thread can read is lowered: one
    /// it could not watch could starve unseen.
    pub(super) fn set_priority(&self, index: usize) {
        if self.priority != WorkerPriority::Background {
            return;
        }
        let Some(clock) = os_priority::CpuClock::of_this_thread() else {
            return;
        };
        if os_priority::lower_this_thread(self.main_core.enabled()) {
            self.background.fetch_add(1, Ordering::Relaxed);
            let _ = self.locals[index].cpu_clock.set(clock);
        }
    }

    /// How long each background worker has run on a CPU, in total (workers
    /// the kernel does not report on are left out).
    pub(crate) fn cpu_times(&self) -> Vec<Duration> {
        self.locals
            .iter()
            .filter_map(|local| local.cpu_clock.get()?.read())
            .collect()
    }

    /// Runs queued worker tasks on the calling (rescue) thread until none is
    /// left, `stop` is called, or `time` has passed. While `pump_running`
    /// says the pump runs, it starts none: at normal priority, a rescued
    /// poll would take the main thread's core in the middle of its budget.
    /// A pump still running after half of `time` is blocked inside a task
    /// (or far over its budget): the rescue goes ahead. Meanwhile it wakes
    /// the workers once, in case what they miss is a wake the pump holds.
    /// Like a worker, it keeps off the main thread's core (`avoided`: the
    /// core it keeps off now, see `main_core`).
    pub(crate) fn rescue(
        &self,
        time: Duration,
        avoided: &mut usize,
        pump_running: impl Fn() -> bool,
    ) {
        let start = Instant::now();
        let until = start + time;
        let mut woken = false;
        while !self.is_stopping() && Instant::now() < until {
            if pump_running() && start.elapsed() < time / 2 {
                if !woken {
                    // Counted: it is how a held wake reaches a background
                    // worker, whose rescue would otherwise leave no trace.
                    self.rescue_wakes.add(1);
                    self.wake(usize::MAX);
                    woken = true;
                }
                // Looks again shortly: the pump keeps to its budget.
                thread::sleep(PUMP_WAIT);
                continue;
            }
            // Not the pinned queues: only their worker may run those.
            let Some(runnable) = try_pop(&self.high)
                .or_else(|| try_pop(&self.injector))
                .or_else(|| self.locals.iter().find_map(|local| local.queue.pop()))
            else {
                return;
            };
            self.rescued.add(1);
            self.main_core.keep_off(avoided);
            schedule::run(runnable);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(start: Instant, ms: u64, waits: &[u64]) -> Look {
        Look {
            at: start + Duration::from_millis(ms),
            polls: 0,
            cpu_times: waits.iter().map(|&w| Duration::from_millis(w)).collect(),
        }
    }

    #[test]
    fn starved_when_the_workers_ran_less_than_half_the_period() {
        let t = Instant::now();
        assert!(starved(&at(t, 0, &[0]), &at(t, 10, &[4]), 16));
        assert!(starved(&at(t, 0, &[10, 0]), &at(t, 10, &[10, 0]), 16));
        assert!(starved(&at(t, 0, &[10, 0]), &at(t, 10, &[19, 0]), 16));
    }

    #[test]
    fn not_starved_when_the_workers_ran() {
        let t = Instant::now();
        // Long polls: on a CPU the whole time (up to a tick behind).
        assert!(!starved(&at(t, 0, &[3, 3]), &at(t, 10, &[11, 9]), 16));
        // One of two workers on a CPU the whole time is half the pool.
        assert!(!starved(&at(t, 0, &[0, 0]), &at(t, 10, &[10, 0]), 16));
        // A worker started or stopped reporting between the looks; none does.
        assert!(!starved(&at(t, 0, &[0]), &at(t, 10, &[0, 0]), 16));
        assert!(!starved(&at(t, 0, &[]), &at(t, 10, &[]), 16));
    }

    #[test]
    fn more_workers_than_cores_are_judged_against_the_cores() {
        let t = Instant::now();
        // Four workers sharing two cores, each on a CPU a quarter of the
        // time: the cores were all theirs half the time.
        assert!(!starved(
            &at(t, 0, &[0, 0, 0, 0]),
            &at(t, 10, &[3, 3, 2, 2]),
            2
        ));
        assert!(starved(
            &at(t, 0, &[0, 0, 0, 0]),
            &at(t, 10, &[3, 3, 2, 2]),
            4
        ));
        assert!(starved(
            &at(t, 0, &[0, 0, 0, 0]),
            &at(t, 10, &[2, 2, 2, 2]),
            2
        ));
    }
}
