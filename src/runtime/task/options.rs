//! What a spawn asks for, in the words the header stores: the [`Side`] a
//! task runs on, its [`Priority`], the [`Options`] a task builder collects
//! and where a task [`Start`]s.

use std::panic::Location;

/// The side of the scheduler a task runs on now: the main thread's pump or
/// the workers. Stored in the header as one atomic byte.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Side {
    /// In the pump, on the main thread: [`Main`](crate::Main).
    Main = 0,
    /// On a worker thread: [`Worker`](crate::Worker).
    Worker = 1,
}

impl Side {
    /// The affinity's name: `"Main"` or `"Worker"`.
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Side::Main => "Main",
            Side::Worker => "Worker",
        }
    }

    pub(crate) fn from_u8(code: u8) -> Side {
        if code == Side::Main as u8 {
            Side::Main
        } else {
            Side::Worker
        }
    }
}

/// How urgent a task is. Every queue (the main thread's and the workers')
/// takes `High` tasks first, kept through hops; but after 8 `High` tasks in a
/// row a waiting `Normal` task goes next, so `Normal` work is slowed by a
/// flood of `High` work, never starved by it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Priority {
    /// The default.
    #[default]
    Normal,
    /// Runs before `Normal` tasks: urgent re-plans, input-driven work.
    High,
}

/// What a spawn asks for: what a task builder collects (the defaults for a
/// plain `spawn`).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Options {
    pub(crate) name: Option<&'static str>,
    pub(crate) priority: Priority,
    /// Core mask, already checked against the pinned workers; 0: any.
    pub(crate) cores: u64,
}

/// Where a task starts and where it was spawned.
#[derive(Clone, Copy)]
pub(crate) struct Start {
    pub(crate) side: Side,
    /// A `spawn_local` task: its future is `!Send` and must stay on the
    /// main thread (a core mask means nothing to it).
    pub(crate) local: bool,
    pub(crate) location: &'static Location<'static>,
}
