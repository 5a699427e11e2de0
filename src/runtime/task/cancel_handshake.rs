//! The handshake between a cancel, a task's first park, and the making of
//! its tree node.
//!
//! A task registers a waker (gets a registry slot) only when it first parks,
//! and gets a tree node only when something needs one: its first child, a
//! cancel handle, an owner. A cancel from another thread raises the task's
//! flag, cascades through the node (so that its children, and any child
//! adopted later, are cancelled) and wakes the task through the slot. The
//! three race: a cancel may read the node cell or the slot before they are
//! stored, and a node may be made before or after the slot is stored.
//!
//! Each of the three writes its own word (the flag, the slot, the node
//! cell), issues a SeqCst fence, then reads the others' (Dekker's pattern,
//! pairwise), so of any two, at least one sees the other:
//!
//! - cancel / first park: the cancel finds the slot and wakes the task, or
//!   the parking task finds the flag and polls itself again;
//! - cancel / node: the cancel finds the node and cascades through it, or
//!   whoever made the node finds the flag and cascades itself (before the
//!   task adopts a child into it: the child is refused, it starts cancelled);
//! - first park / node: the parking task finds the node and copies its slot
//!   there, or whoever made the node finds the slot and copies it, so a
//!   cancel through the node (a cancel handle, an ancestor) can wake the task.
//!
//! These are functions over the header's own fields, with closures for what
//! is done with the node and the slot (a struct of its own would cost the
//! 32-byte header its padding). The loom models in `loom/` run this file as
//! it is, over a model node (the tree's flag, slot and child list).
//!
//! Not modelled: a cancel through the node itself (a cancel handle, an
//! ancestor's cascade) racing the first park. That pair is the node's flag
//! and slot, ordered by SeqCst accesses alone (no fence on the cancel side),
//! which C++20 orders but loom 0.7 does not model: it treats SeqCst accesses
//! as AcqRel, and reports a lost wake there that cannot happen.

use crate::runtime::sync::{AtomicBool, Ordering, fence};

/// A cancel: raises the task's flag. `true` for the first cancel only, which
/// then, after the fence, reads the node cell (`node`), `cascade`s through
/// the node if there is one, and `wake`s the task through its slot (which
/// `wake` reads).
#[inline]
pub(crate) fn cancel<N>(
    cancelled: &AtomicBool,
    node: impl FnOnce() -> Option<N>,
    cascade: impl FnOnce(N),
    wake: impl FnOnce(),
) -> bool {
    if cancelled.swap(true, Ordering::SeqCst) {
        return false;
    }
    fence(Ordering::SeqCst);
    if let Some(node) = node() {
        cascade(node);
    }
    wake();
    true
}

/// A task's first park: `store_slot` stores its registry slot; after the
/// fence, if the task has a node (`node`), `copy_slot` copies the slot there,
/// then the flags are read. Returns whether the task was cancelled (its flag,
/// or its node's: `node_cancelled`): then a cancel may have missed the slot,
/// and the task must poll itself again.
///
/// The node cell is read after the fence, not before it: read before, the
/// read may pass the slot's store, and a node made meanwhile on another
/// thread may miss the slot too (the node model fails so).
#[inline]
pub(crate) fn register<N>(
    cancelled: &AtomicBool,
    store_slot: impl FnOnce(),
    node: impl FnOnce() -> Option<N>,
    copy_slot: impl FnOnce(&N),
    node_cancelled: impl FnOnce(&N) -> bool,
) -> bool {
    store_slot();
    fence(Ordering::SeqCst);
    let node = node();
    if let Some(node) = &node {
        copy_slot(node);
    }
    cancelled.load(Ordering::SeqCst) || node.as_ref().is_some_and(node_cancelled)
}

/// Making (or getting) a task's node: `publish` stores it in the node cell,
/// or returns the one there; after the fence, `copy_slot` copies the task's
/// slot into it if the task has parked (it reads the slot), and if the flag
/// is up, `cascade` cancels the node's tree (a cancel may have missed the
/// node). Called by the task (its first child) or by another thread (a
/// cancel handle).
#[inline]
pub(crate) fn node<N>(
    cancelled: &AtomicBool,
    publish: impl FnOnce() -> N,
    copy_slot: impl FnOnce(&N),
    cascade: impl FnOnce(&N),
) -> N {
    let node = publish();
    fence(Ordering::SeqCst);
    copy_slot(&node);
    if cancelled.load(Ordering::SeqCst) {
        cascade(&node);
    }
    node
}

/// Loom models of the handshake (run from `loom/`): the functions above over
/// loom's atomics, with a model of the header's fields and of a tree node
/// (`tree::Node`: its flag, slot, and child list under a lock).
#[cfg(all(test, loom))]
mod loom_models {
    use loom::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
    use loom::sync::{Arc, Mutex};
    use loom::thread;

    const NO_SLOT: u32 = u32::MAX;
    /// The slot the task gets when it parks.
    const SLOT: u32 = 7;
    /// Who makes a node: the task (for its first child), or another thread
    /// (a cancel handle).
    const BY_TASK: usize = 0;
    const BY_OTHER: usize = 1;

    /// `tree::Node`, as far as the handshake goes.
    struct Node {
        cancelled: AtomicBool,
        slot: AtomicU32,
        children: Mutex<Vec<Arc<Node>>>,
    }

    impl Node {
        fn new() -> Arc<Node> {
            Arc::new(Node {
                cancelled: AtomicBool::new(false),
                slot: AtomicU32::new(NO_SLOT),
                children: Mutex::new(Vec::new()),
            })
        }

        /// `Node::adopt`: `false` (adds nothing) if this node is cancelled.
        fn adopt(&self, child: &Arc<Node>) -> bool {
            let mut children = self.children.lock().unwrap();
            if self.cancelled.load(Ordering::SeqCst) {
                return false;
            }
            children.push(child.clone());
            true
        }

        /// `Node::cancel_tree`, one level deep (a child here has no
        /// children, and has not parked: there is no one to wake).
        fn cancel_tree(&self) {
            self.cancelled.store(true, Ordering::SeqCst);
            let children = std::mem::take(&mut *self.children.lock().unwrap());
            for child in children {
                child.cancelled.swap(true, Ordering::SeqCst);
            }
        }
    }

    /// A task's header fields: the flag, the slot, and the node cell.
    struct Task {
        cancelled: AtomicBool,
        slot: AtomicU32,
        /// The node cell: 0 until the task has a node, then 1 + the index in
        /// `made` of the node that stays (`NodeCell` goes from location to
        /// node once, by a compare-exchange).
        node: AtomicUsize,
        /// The node each maker would install, `BY_TASK` and `BY_OTHER`.
        made: [Arc<Node>; 2],
    }

    impl Task {
        fn new() -> Arc<Task> {
            Arc::new(Task {
                cancelled: AtomicBool::new(false),
                slot: AtomicU32::new(NO_SLOT),
                node: AtomicUsize::new(0),
                made: [Node::new(), Node::new()],
            })
        }

        /// `NodeCell::get`.
        fn get_node(&self) -> Option<&Node> {
            match self.node.load(Ordering::Acquire) {
                0 => None,
                made => Some(&self.made[made - 1]),
            }
        }

        /// `NodeCell::get_or_init`, with `Node::new(self.slot.get(), ..)`.
        fn get_or_make_node(&self, by: usize) -> &Node {
            if let Some(node) = self.get_node() {
                return node;
            }
            let mine = &self.made[by];
            // Not shared until installed.
            mine.slot
                .store(self.slot.load(Ordering::SeqCst), Ordering::Relaxed);
            match self
                .node
                .compare_exchange(0, by + 1, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => mine,
                Err(made) => &self.made[made - 1],
            }
        }

        /// `Header::cancel`. `(first, woken)`: whether this was the first
        /// cancel, and whether it found the slot to wake the task through.
        fn cancel(&self) -> (bool, bool) {
            let mut woken = false;
            let first = super::cancel(
                &self.cancelled,
                || self.get_node(),
                |node| node.cancel_tree(),
                || woken = self.slot.load(Ordering::SeqCst) != NO_SLOT,
            );
            (first, woken)
        }

        /// `Header::register`: whether the task must poll itself again.
        fn register(&self) -> bool {
            super::register(
                &self.cancelled,
                || self.slot.store(SLOT, Ordering::SeqCst),
                || self.get_node(),
                |node| node.slot.store(SLOT, Ordering::SeqCst),
                |node| node.cancelled.load(Ordering::SeqCst),
            )
        }

        /// `Header::node`, called by `by`.
        fn node(&self, by: usize) -> &Node {
            super::node(
                &self.cancelled,
                || self.get_or_make_node(by),
                |node| {
                    let slot = self.slot.load(Ordering::SeqCst);
                    if slot != NO_SLOT {
                        node.slot.store(slot, Ordering::SeqCst);
                    }
                },
                |node| {
                    if !node.cancelled.load(Ordering::SeqCst) {
                        node.cancel_tree();
                    }
                },
            )
        }

        /// The task spawns its first child (`Header::set_parent`). Returns
        /// the child's flag (raised if it was refused: it starts cancelled)
        /// and its node.
        fn spawn_child(&self) -> (bool, Arc<Node>) {
            let child = Node::new();
            let refused = !self.node(BY_TASK).adopt(&child);
            (refused, child)
        }
    }

    /// A cancel from another thread racing the task's first park: the cancel
    /// finds the slot (and wakes the task through it), or the task finds the
    /// flag (and polls itself again). Never neither.
    #[test]
    fn a_cancel_racing_the_first_park_always_reaches_the_task() {
        crate::model(
            "a_cancel_racing_the_first_park_always_reaches_the_task",
            || {
                let task = Task::new();
                let canceller = {
                    let task = task.clone();
                    thread::spawn(move || task.cancel().1)
                };
                let polls_again = task.register();
                let woken = canceller.join().unwrap();
                assert!(woken || polls_again, "a cancelled task was left asleep");
            },
        );
    }

    /// Two cancels racing: exactly one of them wakes the task.
    #[test]
    fn two_racing_cancels_wake_the_task_once() {
        crate::model("two_racing_cancels_wake_the_task_once", || {
            let task = Task::new();
            let other = {
                let task = task.clone();
                thread::spawn(move || task.cancel().0)
            };
            let mine = task.cancel().0;
            let theirs = other.join().unwrap();
            assert!(mine ^ theirs, "one cancel wakes, the other does nothing");
        });
    }

    /// A cancel racing the task's first child spawn (which makes its node)
    /// and then its first park: the task is woken or polls again, and the
    /// child is cancelled (the cancel cascades through the node it found, or
    /// the task found the flag and cascaded before adopting the child, which
    /// is then refused).
    #[test]
    fn a_cancel_racing_a_first_child_and_the_first_park_reaches_both() {
        crate::model(
            "a_cancel_racing_a_first_child_and_the_first_park_reaches_both",
            || {
                let task = Task::new();
                let canceller = {
                    let task = task.clone();
                    thread::spawn(move || task.cancel().1)
                };
                let (refused, child) = task.spawn_child();
                let polls_again = task.register();
                let woken = canceller.join().unwrap();
                assert!(woken || polls_again, "a cancelled task was left asleep");
                assert!(
                    refused || child.cancelled.load(Ordering::SeqCst),
                    "the child of a cancelled task was left running"
                );
            },
        );
    }

    /// A node made by another thread (a cancel handle) racing the task's
    /// first park: the node ends up holding the task's slot (the park finds
    /// the node and copies the slot, or the maker finds the slot), so a
    /// cancel through the node can wake the task.
    #[test]
    fn a_node_made_racing_the_first_park_can_wake_the_task() {
        crate::model(
            "a_node_made_racing_the_first_park_can_wake_the_task",
            || {
                let task = Task::new();
                let maker = {
                    let task = task.clone();
                    thread::spawn(move || {
                        task.node(BY_OTHER);
                    })
                };
                task.register();
                maker.join().unwrap();
                let node = task.get_node().expect("made");
                assert_eq!(
                    node.slot.load(Ordering::SeqCst),
                    SLOT,
                    "the node of a parked task cannot wake it"
                );
            },
        );
    }

    /// All three at once: a cancel, a cancel handle made by another thread,
    /// and the task parking for the first time, then (polled again) spawning
    /// its first child into whichever node stays. The task is reached, its
    /// child is cancelled, and the node holds the task's slot.
    #[test]
    fn a_cancel_and_a_cancel_handle_racing_the_first_park_and_child() {
        crate::model(
            "a_cancel_and_a_cancel_handle_racing_the_first_park_and_child",
            || {
                let task = Task::new();
                let canceller = {
                    let task = task.clone();
                    thread::spawn(move || task.cancel().1)
                };
                let maker = {
                    let task = task.clone();
                    thread::spawn(move || {
                        task.node(BY_OTHER);
                    })
                };
                let polls_again = task.register();
                let (refused, child) = task.spawn_child();
                let woken = canceller.join().unwrap();
                maker.join().unwrap();
                assert!(woken || polls_again, "a cancelled task was left asleep");
                assert!(
                    refused || child.cancelled.load(Ordering::SeqCst),
                    "the child of a cancelled task was left running"
                );
                let node = task.get_node().expect("made");
                assert_eq!(
                    node.slot.load(Ordering::SeqCst),
                    SLOT,
                    "the node of a parked task cannot wake it"
                );
            },
        );
    }
}
