//! What the live task list reports: a [`TaskSnapshot`] per live task, and
//! the [`Leak`]s found among them (long-lived tasks grouped by where they
//! were spawned).

use std::collections::HashMap;
use std::fmt;
use std::panic::Location;
use std::time::Duration;

use crate::runtime::Owner;
use crate::runtime::task::options::Priority;

/// Where a task runs now: on the main thread (in the pump) or on a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunsOn {
    /// In the pump, on the main thread: [`Main`](crate::Main).
    Main,
    /// On a worker thread: [`Worker`](crate::Worker).
    Worker,
}

/// What a task is doing, as of a [`Handle::tasks`](crate::runtime::Handle::tasks) snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskState {
    /// Ready: in a queue (or about to be), waiting for its next poll. A task
    /// that just hopped with `.on::<A>()`, or that awaits `with_world` from a
    /// worker, is queued on the other side.
    Queued,
    /// Being polled right now.
    Running,
    /// Parked: its last poll returned `Pending` and nothing has woken it
    /// since. [`TaskSnapshot::waiting_on`] says on what, where known.
    Waiting,
}

/// What a waiting task waits for, noted by the awaitables it polled pending
/// in its last poll. A future that is none of these (a channel, an external
/// event) notes nothing: its task is listed as waiting, on nothing known.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WaitingOn {
    /// Another task's result (its [`Task`](crate::Task) handle).
    Task {
        /// That task's id (see [`TaskSnapshot::id`]).
        id: u64,
        /// Its name or spawn location; `None` when it ended after the wait
        /// was noted.
        name: Option<String>,
    },
    /// A timer: `sleep`, `sleep_until`, `timeout`, or an `interval` or
    /// `delayed` task waiting for its next run.
    Timer {
        /// Time left until it fires, on the runtime's clock (zero: due).
        due_in: Duration,
    },
    /// A wait on the game (`next_message`, `until`, `added`, ...).
    Game {
        /// The kind of wait: `"message"`, `"condition"`, `"added"`, ...
        kind: &'static str,
        /// The type waited on (a message, component, event, state or asset
        /// type), empty where there is none (a condition).
        of: &'static str,
    },
    /// The World: a `with_world` closure, run by the next pump.
    World,
}

impl fmt::Display for WaitingOn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaitingOn::Task {
                id,
                name: Some(name),
            } => write!(f, "task #{id} {name}"),
            WaitingOn::Task { id, name: None } => write!(f, "task #{id} (ended)"),
            WaitingOn::Timer { due_in } => write!(f, "timer in {:.3}s", due_in.as_secs_f64()),
            WaitingOn::Game { kind, of: "" } => f.write_str(kind),
            WaitingOn::Game { kind, of } => write!(f, "{kind} {}", short_type(of)),
            WaitingOn::World => f.write_str("the World"),
        }
    }
}

/// A type name without its module paths: `Vec<game::Hit>` → `Vec<Hit>`.
fn short_type(name: &str) -> String {
    let mut short = String::with_capacity(name.len());
    for (i, part) in name.split("::").enumerate() {
        if i > 0 && short.ends_with(|c: char| c.is_alphanumeric() || c == '_') {
            // The previous part was a module: drop it.
            let cut = short
                .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
                .map_or(0, |at| at + 1);
            short.truncate(cut);
        }
        short.push_str(part);
    }
    short
}

/// One live task, as [`Handle::tasks`](crate::runtime::Handle::tasks) saw it.
///
/// ```
/// use bevy_coro::prelude::*;
/// use bevy_coro::runtime::{Instant, Runtime, RuntimeConfig, TaskState};
///
/// let runtime = Runtime::new(RuntimeConfig { track_tasks: true, ..Default::default() }).unwrap();
/// let task = runtime.task("idle").spawn::<Main>(std::future::pending::<()>());
/// runtime.pump(Instant::now(), None);
/// let tasks = runtime.tasks();
/// assert_eq!(tasks.len(), 1);
/// assert_eq!(tasks[0].name, Some("idle"));
/// assert_eq!(tasks[0].state, TaskState::Waiting);
/// assert_eq!(tasks[0].polls, 1);
/// # drop(task);
/// ```
#[derive(Debug, Clone)]
pub struct TaskSnapshot {
    /// Unique for the life of the process.
    pub id: u64,
    /// The name given at spawn (`coro.task("name")`), if any.
    pub name: Option<&'static str>,
    /// Where it was spawned (for `interval`, `delayed` and the like: where
    /// those were called).
    pub spawned_at: &'static Location<'static>,
    /// The task it was spawned in, if any (its parent in the task tree).
    pub parent: Option<u64>,
    /// Where it runs now (after its last hop).
    pub runs_on: RunsOn,
    /// Spawned with `spawn_local`: it never leaves the main thread.
    pub local: bool,
    /// Its priority.
    pub priority: Priority,
    /// Queued, running or waiting.
    pub state: TaskState,
    /// What it waits for, noted in its last poll (empty while it is queued
    /// or running, and where nothing known was polled pending).
    pub waiting_on: Vec<WaitingOn>,
    /// Time since its spawn, on the runtime's clock.
    pub age: Duration,
    /// Pumps (frames) since its spawn.
    pub age_frames: u64,
    /// Polls so far.
    pub polls: u64,
    /// Time spent in its polls, in wall time.
    pub poll_time: Duration,
    /// Its longest single poll.
    pub longest_poll: Duration,
    /// What it is tied to, if anything: in a Bevy app `Owner::Key` is an
    /// entity's bits (`for_entity`, `spawn_task`), `Owner::Value` a game
    /// state (`in_state`).
    pub owner: Option<Owner>,
}

impl TaskSnapshot {
    /// Its name, or its spawn location (`file:line:column`) when it has none.
    pub fn label(&self) -> String {
        match self.name {
            Some(name) => name.to_owned(),
            None => self.spawned_at.to_string(),
        }
    }
}

impl fmt::Display for TaskSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "#{} {} ({:?} on {:?}, {} frames old, {} polls",
            self.id,
            self.label(),
            self.state,
            self.runs_on,
            self.age_frames,
            self.polls
        )?;
        for (i, wait) in self.waiting_on.iter().enumerate() {
            f.write_str(if i == 0 { ", waiting on " } else { " or " })?;
            write!(f, "{wait}")?;
        }
        f.write_str(")")
    }
}

/// Long-lived tasks spawned at one place: what
/// [`Handle::leaks`](crate::runtime::Handle::leaks) and [`find_leaks`] report.
/// An `interval` nobody cancels, or a task that waits forever, shows up as
/// a group whose count grows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leak {
    /// Where they were spawned.
    pub spawned_at: &'static Location<'static>,
    /// The name of the oldest, if it has one.
    pub name: Option<&'static str>,
    /// How many live tasks spawned there are older than the threshold.
    pub count: usize,
    /// The oldest one's id.
    pub oldest: u64,
    /// The oldest one's age, on the runtime's clock.
    pub oldest_age: Duration,
    /// The oldest one's age in frames.
    pub oldest_frames: u64,
    /// How many of them are waiting (parked), the others being queued or running.
    pub waiting: usize,
}

impl fmt::Display for Leak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} task{} spawned at {}",
            self.count,
            if self.count == 1 { "" } else { "s" },
            self.spawned_at
        )?;
        if let Some(name) = self.name {
            write!(f, " (`{name}`)")?;
        }
        write!(
            f,
            ", {} waiting, oldest #{} {:.1}s ({} frames)",
            self.waiting,
            self.oldest,
            self.oldest_age.as_secs_f64(),
            self.oldest_frames
        )
    }
}

/// The tasks of `tasks` older than `older_than`, grouped by spawn location:
/// most tasks first, then the oldest.
///
/// ```
/// use bevy_coro::runtime::find_leaks;
/// use std::time::Duration;
///
/// assert!(find_leaks(&[], Duration::from_secs(10)).is_empty());
/// ```
pub fn find_leaks(tasks: &[TaskSnapshot], older_than: Duration) -> Vec<Leak> {
    let mut groups: HashMap<&'static Location<'static>, Leak> = HashMap::new();
    for task in tasks.iter().filter(|task| task.age > older_than) {
        let leak = groups.entry(task.spawned_at).or_insert(Leak {
            spawned_at: task.spawned_at,
            name: task.name,
            count: 0,
            oldest: task.id,
            oldest_age: task.age,
            oldest_frames: task.age_frames,
            waiting: 0,
        });
        leak.count += 1;
        leak.waiting += usize::from(task.state == TaskState::Waiting);
        if task.age > leak.oldest_age {
            leak.oldest = task.id;
            leak.oldest_age = task.age;
            leak.oldest_frames = task.age_frames;
            leak.name = task.name;
        }
    }
    let mut leaks: Vec<Leak> = groups.into_values().collect();
    leaks.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then(b.oldest_age.cmp(&a.oldest_age))
            .then_with(|| a.spawned_at.to_string().cmp(&b.spawned_at.to_string()))
    });
    leaks
}

#[cfg(test)]
mod tests {
    #[test]
    fn short_type_drops_module_paths() {
        assert_eq!(super::short_type("game::Hit"), "Hit");
        assert_eq!(super::short_type("alloc::vec::Vec<game::Hit>"), "Vec<Hit>");
        assert_eq!(super::short_type("Plain"), "Plain");
    }
}
