//! Watching tasks: which are alive, who awaits whom, and when each last ran.
//! Kept only in deterministic mode (to report deadlocks) or when stuck-task
//! reports are asked for; otherwise no task pays for it.
//!
//! # The wait graph
//!
//! A task's wait edges are those of its last poll: they are cleared when a
//! poll starts, and each task handle polled pending in that poll files one
//! (a handle that finished, or that the task dropped, removes its own). So a
//! task awaiting `join(b, c)` waits on both, and one that looked at a
//! handle once and went on to await something else no longer waits on it.
//!
//! Edges alone cannot say that a task waits *only* on tasks: `or(handle,
//! channel)` waits on both, and a channel is no edge. In deterministic mode a
//! task's future is therefore polled with a waker of its own (a [`Tracker`]),
//! and a task handle polled with it is given another waker instead (which
//! wakes the task just the same). After the poll, whatever still holds a
//! clone of the tracker is something other than a task handle that can wake
//! the task: a channel, an event, a foreign timer. A task waits only on
//! tasks when it has edges and no clone of its tracker is left.
//!
//! When a deterministic pump ends with nothing ready, no timer pending and no
//! one waiting for a frame, but tasks still in flight, the deadlocked tasks
//! are those that wait only on tasks, all of them deadlocked too (the
//! largest such set: a task awaiting one that might still run could be
//! woken). Each waits on another in the set, so the set holds await cycles,
//! reported by task names and spawn locations. Tasks waiting on anything
//! else (a channel fed by another thread) are reported as blocked on
//! external, not as a deadlock.
//!
//! This errs on the side of silence: a task awaiting handles through a
//! combinator that polls them with wakers of its own (`FuturesUnordered`,
//! say) keeps a clone of the tracker, so it counts as waiting on something
//! outside, and a deadlock through it goes unreported; and a `join` of two
//! handles counts as waiting on either, so a task joined with one that can
//! still finish is not reported either. A future that parks without leaving
//! a waker anywhere counts as waiting outside.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::ptr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::task::{Wake, Waker};

use super::report::{Stall, StuckTask, TaskInfo};
use crate::runtime::task::header::Header;

struct Watched {
    info: TaskInfo,
    /// The pump count when it last ran (or was spawned).
    last_frame: u64,
    /// The tasks (header addresses) whose handles it polled pending in its
    /// last poll, in poll order, each once.
    waits: Vec<usize>,
    /// In deterministic mode, the tracker of its last poll: while anything
    /// holds a clone of it, the task waits on something else than tasks.
    tracker: Option<Weak<Tracker>>,
}

impl Watched {
    /// Whether the task waits on task handles and nothing else.
    fn waits_only_on_tasks(&self) -> bool {
        !self.waits.is_empty()
            && self
                .tracker
                .as_ref()
                .is_some_and(|tracker| tracker.strong_count() == 0)
    }
}

#[derive(Default)]
struct State {
    /// Live tasks by header address (ordered, for stable reports).
    live: BTreeMap<usize, Watched>,
}

/// The waker a task's future is polled with in deterministic mode: it wakes
/// the task, and a clone of it kept after the poll is a wait on something
/// else than a task (see the module's docs).
pub(crate) struct Tracker {
    task: Waker,
}

impl Wake for Tracker {
    fn wake(self: Arc<Self>) {
        self.task.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.task.wake_by_ref();
    }
}

/// The waker a task handle is given in place of a [`Tracker`]: it wakes the
/// same task, and is not counted.
struct ForHandle(Waker);

impl Wake for ForHandle {
    fn wake(self: Arc<Self>) {
        self.0.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.wake_by_ref();
    }
}

thread_local! {
    /// The tracker of the task being polled on this thread, or null.
    static TRACKER: Cell<*const Tracker> = const { Cell::new(ptr::null()) };
}

/// Lends a tracker to the poll it is made for: keeps it alive, and puts the
/// previous one back when dropped (also during unwinding).
pub(crate) struct Tracking {
    previous: *const Tracker,
    _tracker: Arc<Tracker>,
}

impl Drop for Tracking {
    fn drop(&mut self) {
        TRACKER.set(self.previous);
    }
}

/// The waker a task handle polled with `waker` should register instead, so
/// that the task's tracker counts only waits on something else: `Some` when
/// `waker` is the tracker of the task being polled here.
pub(crate) fn waker_for_handle(waker: &Waker) -> Option<Waker> {
    let tracker = TRACKER.get();
    if tracker.is_null() || !ptr::eq(waker.data(), tracker.cast()) {
        return None;
    }
    // SAFETY: `TRACKER` is non-null only while a `Tracking` guard lives,
    // which holds an `Arc` of this tracker, and the guard lives on this
    // thread's stack around the poll that runs this call.
    let tracker = unsafe { &*tracker };
    Some(Waker::from(Arc::new(ForHandle(tracker.task.clone()))))
}

/// The watch over a runtime's tasks.
#[derive(Default)]
pub(crate) struct WaitGraph {
    state: Mutex<State>,
}

fn address(header: &Header) -> usize {
    header as *const Header as usize
}

impl WaitGraph {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A task was spawned (during pump `frame`).
    pub(crate) fn spawned(&self, header: &Header, frame: u64) {
        let info = TaskInfo::of(header);
        self.state().live.insert(
            address(header),
            Watched {
                info,
                last_frame: frame,
                waits: Vec::new(),
                tracker: None,
            },
        );
    }

    /// A task's poll starts, during pump `frame`: its wait edges are those
    /// this poll will file.
    pub(crate) fn polled(&self, header: &Header, frame: u64) {
        if let Some(task) = self.state().live.get_mut(&address(header)) {
            task.last_frame = frame;
            task.waits.clear();
            task.tracker = None;
        }
    }

    /// [`polled`](Self::polled), for a poll whose waits are tracked: gives
    /// the waker to poll the task's future with (a [`Tracker`] of the task's
    /// `waker`), and the guard to keep until the poll ends.
    pub(crate) fn polled_tracked(
        &self,
        header: &Header,
        frame: u64,
        waker: &Waker,
    ) -> (Waker, Tracking) {
        let tracker = Arc::new(Tracker {
            task: waker.clone(),
        });
        if let Some(task) = self.state().live.get_mut(&address(header)) {
            task.last_frame = frame;
            task.waits.clear();
            task.tracker = Some(Arc::downgrade(&tracker));
        }
        let tracking = Tracking {
            previous: TRACKER.replace(Arc::as_ptr(&tracker)),
            _tracker: tracker.clone(),
        };
        (Waker::from(tracker), tracking)
    }

    /// A task is gone.
    pub(crate) fn gone(&self, header: &Header) {
        let gone = self.state().live.remove(&address(header));
        // Dropped with no lock held.
        drop(gone);
    }

    /// `waiter`, in its poll, polled `target`'s handle, which is not finished.
    pub(crate) fn waits(&self, waiter: &Header, target: &Header) {
        if let Some(task) = self.state().live.get_mut(&address(waiter))
            && !task.waits.contains(&address(target))
        {
            task.waits.push(address(target));
        }
    }

    /// `waiter` no longer waits on `target`: the handle gave its result, or
    /// was dropped unfinished.
    pub(crate) fn stop_waiting(&self, waiter: &Header, target: &Header) {
        if let Some(task) = self.state().live.get_mut(&address(waiter)) {
            task.waits.retain(|&awaited| awaited != address(target));
        }
    }

    /// Tasks that have not run for `frames` pumps, as of pump `now`.
    pub(crate) fn stuck(&self, now: u64, frames: u64) -> Vec<StuckTask> {
        let state = self.state();
        state
            .live
            .iter()
            .filter(|(_, task)| now.saturating_sub(task.last_frame) >= frames)
            .map(|(_, task)| StuckTask {
                task: task.info.clone(),
                frames: now.saturating_sub(task.last_frame),
                awaiting: task
                    .waits
                    .iter()
                    .find_map(|target| state.live.get(target))
                    .map(|target| target.info.clone()),
            })
            .collect()
    }

    /// What stalls the runtime when nothing can run: await cycles, and tasks
    /// waiting on something outside. `None` when no task is in flight.
    pub(crate) fn stall(&self) -> Option<Stall> {
        let state = self.state();
        if state.live.is_empty() {
            return None;
        }
        // The deadlocked tasks: the largest set of tasks that wait only on
        // tasks of the set. Start from all that wait only on tasks, and drop
        // those awaiting one outside the set (it might run, and wake them)
        // until none is left to drop.
        let mut deadlocked: BTreeSet<usize> = state
            .live
            .iter()
            .filter(|(_, task)| task.waits_only_on_tasks())
            .map(|(&task, _)| task)
            .collect();
        loop {
            let free: Vec<usize> = deadlocked
                .iter()
                .copied()
                .filter(|task| {
                    state.live[task]
                        .waits
                        .iter()
                        .any(|target| !deadlocked.contains(target))
                })
                .collect();
            if free.is_empty() {
                break;
            }
            for task in free {
                deadlocked.remove(&task);
            }
        }
        // Each deadlocked task awaits another: following the first one each
        // awaits leads into a cycle.
        let mut cycles = Vec::new();
        let mut in_cycle = HashSet::new();
        for &start in &deadlocked {
            // Follow the await chain from `start`; a return to a task of this
            // walk is a cycle.
            let mut walk = vec![start];
            let mut at = start;
            while let Some(&next) = state.live[&at].waits.first() {
                if let Some(position) = walk.iter().position(|&task| task == next) {
                    let cycle = &walk[position..];
                    // Reported once: from its smallest member.
                    if position == 0 && cycle.iter().min() == Some(&start) {
                        cycles.push(
                            cycle
                                .iter()
                                .map(|task| state.live[task].info.clone())
                                .collect(),
                        );
                        in_cycle.extend(cycle.iter().copied());
                    }
                    break;
                }
                walk.push(next);
                at = next;
            }
        }
        let blocked_on_external = state
            .live
            .iter()
            .filter(|(task, watched)| !watched.waits_only_on_tasks() && !in_cycle.contains(task))
            .map(|(_, task)| task.info.clone())
            .collect();
        Some(Stall {
            cycles,
            blocked_on_external,
        })
    }
}
