//! What the wait graph reports: a [`Stall`] (a deadlock, or tasks blocked on
//! something outside) in deterministic mode, and [`StuckTask`]s.

use std::fmt;

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
    pub(crate) fn of(header: &Header) -> Self {
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
