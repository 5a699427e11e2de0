//! Task trees: a task spawned while another task of the same runtime is being
//! polled is that task's child. Cancelling a task cancels its descendants at
//! any depth; a child registered after its parent was cancelled starts
//! cancelled. A parent that finishes (returns or panics) lets go of its
//! children: they run on, and no cancel of the finished parent, nor of its
//! ancestors, reaches them any more (the same as once its memory is freed).
//!
//! Only tasks in a tree pay for it: a node is made for a child at spawn and
//! for a parent when it spawns its first child. Cancelling walks the tree
//! with a stack of its own (no recursion, so a 100,000-deep chain is fine),
//! holds a node's lock only to take its child list, and only wakes the tasks:
//! their futures are dropped by whoever polls them next, under no lock of ours.

use std::panic::Location;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use crate::runtime::Shared;
use crate::runtime::task::cleanup::Cleanup;
use crate::runtime::task::parked::{ParkedTasks, Slot, SlotCell};

mod branches;
mod group;
mod join;
mod race;

pub use branches::{Branch, Spawner};
pub use group::TaskGroup;
pub use join::{
    BranchSet, Join, Joining, TryBranches, TryJoin, join, join_all, try_join, try_join_all,
};
pub use race::{Claim, Race, RaceStart, Racing, Winner, race, race_all};

/// What a task was spawned with, kept in its [`Node`]: only named or pinned
/// tasks, and tasks in a tree, have one.
#[derive(Clone, Copy)]
pub(crate) struct Site {
    pub(crate) location: &'static Location<'static>,
    pub(crate) name: Option<&'static str>,
    /// Cores the task may run on (bit `c` for core id `c`); 0: any.
    pub(crate) cores: u64,
}

/// A task's place in its tree.
///
/// `repr(C)`, the flag first: it then shares a cache line with the `Arc`'s
/// counts, and the look of [`CancelHandle::is_live`] (an entity pruning its
/// ended tasks) is one line, not two.
#[repr(C)]
pub(crate) struct Node {
    cancelled: AtomicBool,
    /// Whether `cleanups` may hold any: spares a lock when a task in a tree
    /// ends (set by the task itself, read after its last poll).
    has_cleanups: AtomicBool,
    /// The task's registry slot, to wake it when an ancestor is cancelled
    /// (unset while the task has not parked: then a poll is coming anyway).
    pub(crate) slot: SlotCell,
    /// What the task was spawned with (kept here rather than in every
    /// task's header: see `Header`).
    pub(crate) site: Site,
    /// Children, weakly: a finished child is pruned when the list grows.
    children: Mutex<Vec<Weak<Node>>>,
    /// What to run if the task is cancelled (see `task::cleanup`); boxed,
    /// so a node without any is 16 bytes larger, not 32 (every task in a
    /// tree has a node, few file cleanups).
    #[allow(clippy::box_collection)]
    cleanups: Mutex<Option<Box<Vec<Cleanup>>>>,
}

impl Node {
    pub(crate) fn new(slot: Slot, cancelled: bool, site: Site) -> Arc<Node> {
        let cell = SlotCell::default();
        cell.set(slot);
        Arc::new(Node {
            site,
            cancelled: AtomicBool::new(cancelled),
            has_cleanups: AtomicBool::new(false),
            slot: cell,
            children: Mutex::new(Vec::new()),
            cleanups: Mutex::new(None),
        })
    }

    // Inline: every poll of a task with a node reads it, and most polls are
    // of futures generic over the game's code, compiled in the game's crate.
    #[inline]
    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }

    /// Adds `child`. Returns `false`, and adds nothing, if this node is
    /// already cancelled: the child must start cancelled.
    pub(crate) fn adopt(&self, child: &Arc<Node>) -> bool {
        let mut children = self.children.lock().unwrap_or_else(PoisonError::into_inner);
        // Checked under the lock `cancel_tree` takes after setting the flag:
        // either the child is in the list it takes, or we see the flag.
        if self.is_cancelled() {
            return false;
        }
        if children.len() == children.capacity() {
            // Amortised pruning keeps a long-lived parent's list bounded by
            // its live children.
            children.retain(|child| child.strong_count() > 0);
        }
        children.push(Arc::downgrade(child));
        true
    }

    /// The task's future has ended: its children are on their own from now
    /// on. Taken under the lock `cancel_tree` takes: a cancel that came first
    /// has already cascaded, one that comes later finds no child.
    pub(crate) fn finish(&self) {
        let children =
            std::mem::take(&mut *self.children.lock().unwrap_or_else(PoisonError::into_inner));
        drop(children);
        // A task that ends this way was not cancelled: its cleanups go unrun.
        drop(self.take_cleanups());
    }

    /// Files a cleanup of the task (called by the task, in its poll).
    pub(crate) fn add_cleanup(&self, cleanup: Cleanup) {
        self.cleanups
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert_default()
            .push(cleanup);
        self.has_cleanups.store(true, Ordering::Release);
    }

    /// The task's cleanups, taken (`None` if it filed none).
    pub(crate) fn take_cleanups(&self) -> Option<Vec<Cleanup>> {
        if !self.has_cleanups.swap(false, Ordering::Acquire) {
            return None;
        }
        let cleanups = self
            .cleanups
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        cleanups.map(|cleanups| *cleanups)
    }

    /// Cancels this node and every descendant, waking each task so its next
    /// poll ends it. The task owning `self` is woken by the caller. A
    /// finished task has no children left (see `finish`): the cascade stops
    /// there.
    pub(crate) fn cancel_tree(self: &Arc<Self>, parked: &ParkedTasks) {
        let mut stack = vec![self.clone()];
        while let Some(node) = stack.pop() {
            node.cancelled.store(true, Ordering::SeqCst);
            let children =
                std::mem::take(&mut *node.children.lock().unwrap_or_else(PoisonError::into_inner));
            for child in children.iter().filter_map(Weak::upgrade) {
                if !child.cancelled.swap(true, Ordering::SeqCst) {
                    parked.wake(child.slot.get());
                }
                stack.push(child);
            }
        }
    }
}

/// Cancels a task (and its descendants) without owning its result: what an
/// entity keeps of the tasks tied to it. Made by
/// [`Task::cancel_handle`](crate::runtime::Task::cancel_handle).
#[derive(Clone)]
pub struct CancelHandle {
    node: Arc<Node>,
    shared: Arc<Shared>,
}

impl CancelHandle {
    pub(crate) fn new(node: Arc<Node>, shared: Arc<Shared>) -> Self {
        CancelHandle { node, shared }
    }

    /// Cancels the task and its descendants, as [`Task::cancel`](crate::runtime::Task::cancel)
    /// does. Nothing happens if the task has finished: the children it left
    /// running run on (a task lets go of its children when it finishes).
    pub fn cancel(&self) {
        if !self.node.cancelled.load(Ordering::SeqCst) {
            self.node.cancel_tree(&self.shared.parked);
            self.shared.parked.wake(self.node.slot.get());
        }
    }

    /// Whether `cancel` was called, here or on the task or an ancestor.
    #[inline]
    pub fn is_cancelled(&self) -> bool {
        self.node.is_cancelled()
    }

    /// Whether the task may still run: not cancelled, and not ended and freed
    /// (the task's memory holds the other count of its node; a clone of
    /// this handle keeps an ended task counted as live, which is safe).
    #[inline]
    pub(crate) fn is_live(&self) -> bool {
        !self.is_cancelled() && Arc::strong_count(&self.node) > 1
    }
}

impl std::fmt::Debug for CancelHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CancelHandle")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    /// A node is what a task in a tree (or a named one) pays on top of its
    /// allocation: 72 bytes, and 16 for the cleanups' list.
    #[test]
    fn node_is_88_bytes() {
        assert_eq!(std::mem::size_of::<super::Node>(), 88);
    }
}
