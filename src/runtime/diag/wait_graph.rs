//! Watching tasks: which are alive, who awaits whom, and when each last ran.
//! Kept only in deterministic mode (to report deadlocks) or when stuck-task
//! reports are asked for; otherwise no task pays for it.
//!
//! A task awaiting another task's handle files a wait edge. When a
//! deterministic pump ends with nothing ready, no timer pending and no one
//! waiting for a frame, but tasks still in flight, the edges are searched for
//! cycles: a deadlock, reported by task names and spawn locations. Tasks
//! waiting on anything else (a channel fed by another thread) are reported as
//! blocked on external, not as a deadlock.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::runtime::task::header::Header;

/// A task, as a report names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskInfo {
    /// Its name, or its spawn location when it has none.
    pub name: String,
    /// Where it was spawned.
    pub spawned_at: String,
}

impl TaskInfo {
    fn of(header: &Header) -> Self {
        TaskInfo {
            name: header.name().to_string(),
            spawned_at: header.location().to_string(),
        }
    }
}

impl fmt::Display for TaskInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` (spawned at {})", self.name, self.spawned_at)
    }
}

/// Why a deterministic runtime can make no progress: tasks in flight, none
/// ready, no timer pending.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stall {
    /// Tasks awaiting each other in a circle: a deadlock. Each cycle lists its
    /// tasks in await order (each awaits the next, the last the first).
    pub cycles: Vec<Vec<TaskInfo>>,
    /// Tasks waiting on something outside the scheduler (a channel, an
    /// external event): not a deadlock, but nothing here will wake them.
    pub blocked_on_external: Vec<TaskInfo>,
}

impl Stall {
    /// Whether the stall includes a deadlock (an await cycle).
    pub fn is_deadlock(&self) -> bool {
        !self.cycles.is_empty()
    }
}

impl fmt::Display for Stall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for cycle in &self.cycles {
            write!(f, "deadlock: ")?;
            for (i, task) in cycle.iter().enumerate() {
                write!(f, "{task} awaits ")?;
                if i + 1 == cycle.len() {
                    write!(f, "{}; ", cycle[0])?;
                }
            }
        }
        if !self.blocked_on_external.is_empty() {
            write!(f, "blocked on external: ")?;
            for task in &self.blocked_on_external {
                write!(f, "{task}; ")?;
            }
        }
        Ok(())
    }
}

/// The error of a deterministic pump that found a deadlock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoroError {
    /// Tasks await each other in a cycle; nothing can run again.
    Deadlock(Stall),
}

impl fmt::Display for CoroError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CoroError::Deadlock(stall) => write!(f, "bevy_coro: {stall}"),
        }
    }
}

impl std::error::Error for CoroError {}

/// A task that has not run for a while (see `RuntimeConfig::report_stuck_after`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StuckTask {
    /// The task.
    pub task: TaskInfo,
    /// Pumps since it last ran.
    pub frames: u64,
    /// The task whose handle it awaits, if that is what it waits for.
    pub awaiting: Option<TaskInfo>,
}

impl fmt::Display for StuckTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} has not run for {} frames", self.task, self.frames)?;
        if let Some(awaited) = &self.awaiting {
            write!(f, ", awaiting {awaited}")?;
        }
        Ok(())
    }
}

struct Watched {
    info: TaskInfo,
    /// The pump count when it last ran (or was spawned).
    last_frame: u64,
}

#[derive(Default)]
struct State {
    /// Live tasks by header address (ordered, for stable reports).
    live: BTreeMap<usize, Watched>,
    /// Who awaits whom: waiter address -> awaited address.
    waits: HashMap<usize, usize>,
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
            },
        );
    }

    /// A task is being polled during pump `frame`.
    pub(crate) fn polled(&self, header: &Header, frame: u64) {
        if let Some(task) = self.state().live.get_mut(&address(header)) {
            task.last_frame = frame;
        }
    }

    /// A task is gone.
    pub(crate) fn gone(&self, header: &Header) {
        let mut state = self.state();
        state.live.remove(&address(header));
        state.waits.remove(&address(header));
    }

    /// `waiter` awaits `target`'s handle (`None`: it stopped waiting).
    pub(crate) fn waits(&self, waiter: &Header, target: Option<&Header>) {
        let mut state = self.state();
        match target {
            Some(target) => state.waits.insert(address(waiter), address(target)),
            None => state.waits.remove(&address(waiter)),
        };
    }

    /// `waiter` dropped its handle of `target` unfinished: no longer waits on it.
    pub(crate) fn stop_waiting(&self, waiter: &Header, target: &Header) {
        let mut state = self.state();
        if state.waits.get(&address(waiter)) == Some(&address(target)) {
            state.waits.remove(&address(waiter));
        }
    }

    /// Tasks that have not run for `frames` pumps, as of pump `now`.
    pub(crate) fn stuck(&self, now: u64, frames: u64) -> Vec<StuckTask> {
        let state = self.state();
        state
            .live
            .iter()
            .filter(|(_, task)| now.saturating_sub(task.last_frame) >= frames)
            .map(|(id, task)| StuckTask {
                task: task.info.clone(),
                frames: now.saturating_sub(task.last_frame),
                awaiting: state
                    .waits
                    .get(id)
                    .and_then(|target| state.live.get(target))
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
        let mut cycles = Vec::new();
        let mut in_cycle = HashSet::new();
        for &start in state.live.keys() {
            // Follow the await chain from `start`; a return to a task of this
            // walk is a cycle.
            let mut walk = vec![start];
            let mut at = start;
            while let Some(&next) = state.waits.get(&at) {
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
                if !state.live.contains_key(&next) {
                    break;
                }
                walk.push(next);
                at = next;
            }
        }
        let blocked_on_external = state
            .live
            .iter()
            .filter(|(task, _)| !state.waits.contains_key(task) && !in_cycle.contains(task))
            .map(|(_, task)| task.info.clone())
            .collect();
        Some(Stall {
            cycles,
            blocked_on_external,
        })
    }
}
