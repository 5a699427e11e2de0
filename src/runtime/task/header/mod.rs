//! The task header: what the scheduler needs to know about a task, stored in the
//! task's own allocation (see [`raw`](super::raw)).
//!
//! # Who touches which field
//!
//! - `affinity` (and `point`) is written only by the task itself, during its own poll (a hop),
//!   and read by the schedule function, which the task calls after that poll
//!   ends. The state word's transitions (acquire and release) order the two,
//!   so the schedule function always sees the affinity the task asked for.
//! - `cancelled` is written by anyone holding the task's handle and read by the
//!   task body at the start of each poll.
//! - `node` goes once from the spawn location to the task's tree node (made
//!   by the task for its first child, or by another thread for a cancel
//!   handle), and `slot` is set once, when the task first parks.
//! - How `cancel`, `register` and `node` order the flag, the slot and the
//!   node (a fence each, pairwise Dekker) is in
//!   [`cancel_handshake`](super::cancel_handshake), model-checked with loom
//!   there: the methods here only say what is read and written.
//! - everything else is written once, at spawn.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};

use crate::runtime::Shared;
use crate::runtime::task::cancel_handshake;
use crate::runtime::task::node_cell::{NodeCell, NodeRef};
use crate::runtime::task::options::{Options, Priority, Side, Start};
use crate::runtime::task::parked::{Parked, Slot, SlotCell};
use crate::runtime::task::raw::TaskRef;
use crate::runtime::tree::{Node, Site};

mod name;
mod shared_ref;

pub(crate) use shared_ref::SharedRef;

/// Per-task scheduler data, stored in the task allocation.
///
/// Kept to 32 bytes (40 with `trace`): every field a plain spawn does not
/// need (its name, core mask, tree node) lives in a [`Node`] made only for
/// the tasks that use one, and the runtime's `Arc` is held here rather than
/// in the schedule function (a type, nothing stored). With the allocation's
/// own 32 bytes (state word, vtable, the awaiter's waker, see
/// [`raw`](super::raw)) and the body's pointer to this header, a task whose
/// future is 0 bytes and whose output is a word takes 72 bytes, and a
/// 40-byte future 112.
pub(crate) struct Header {
    /// The runtime; the task's one reference count on it (see [`SharedRef`]).
    pub(crate) shared: SharedRef,
    /// Unique for the life of the process (addresses are reused); assigned at
    /// first use (0 until then), as only hops and traces ask for it.
    id: AtomicU64,
    /// The spawn location, or the task's [`Node`] once it has one (which
    /// holds the location then); see [`NodeCell`].
    node: NodeCell,
    /// The task's entry in the parked-task registry, once it parked.
    slot: SlotCell,
    /// Where the task runs now: a [`Side`] as its byte.
    affinity: AtomicU8,
    /// Set by `Task::cancel`; the task ends at its next poll.
    cancelled: AtomicBool,
    /// The resume point the task waits for, plus one (0: none): written by
    /// the task itself, in its poll (as `affinity`), read by the schedule
    /// function. In the header's spare byte.
    point: AtomicU8,
    /// [`LOCAL`], [`HIGH_FLAG`], [`PINNED`]: written once, at spawn.
    flags: u8,
    /// The tracing callsite named after the task, made at its first traced poll.
    #[cfg(feature = "trace")]
    pub(crate) callsite: crate::runtime::diag::trace::CallsiteCell,
}

/// Flag: a `spawn_local` task: its future is `!Send` and must stay on the
/// main thread.
const LOCAL: u8 = 1;
/// Flag: a `High` priority task.
const HIGH_FLAG: u8 = 2;
/// Flag: a task with a core mask (in its node).
const PINNED: u8 = 4;

/// A process-unique task id without a contended counter: each thread takes a
/// block of 2^32 ids from a global counter once, then counts locally.
fn next_id() -> u64 {
    use std::cell::Cell;
    static BLOCKS: AtomicU64 = AtomicU64::new(0);
    thread_local! {
        static NEXT: Cell<u64> = const { Cell::new(0) };
    }
    NEXT.with(|next| {
        let mut id = next.get();
        if id & 0xFFFF_FFFF == 0 {
            id = (BLOCKS.fetch_add(1, Ordering::Relaxed) + 1) << 32;
        }
        next.set(id + 1);
        id
    })
}

impl Header {
    pub(crate) fn new(shared: &Arc<Shared>, start: Start, options: Options) -> Self {
        let cores = if start.local { 0 } else { options.cores };
        let mut flags = 0;
        if start.local {
            flags |= LOCAL;
        }
        if options.priority == Priority::High {
            flags |= HIGH_FLAG;
        }
        if cores != 0 {
            flags |= PINNED;
        }
        let header = Header {
            shared: SharedRef::new(shared),
            id: AtomicU64::new(0),
            node: NodeCell::new(start.location),
            slot: SlotCell::default(),
            affinity: AtomicU8::new(start.side as u8),
            cancelled: AtomicBool::new(false),
            point: AtomicU8::new(0),
            flags,
            #[cfg(feature = "trace")]
            callsite: Default::default(),
        };
        if options.name.is_some() || cores != 0 {
            // Not yet shared with anyone: no cancel or registration to order with.
            header.node.set(Node::new(
                Slot::NONE,
                false,
                Site {
                    location: start.location,
                    name: options.name,
                    cores,
                },
            ));
        }
        header
    }

    /// The task's id, unique for the life of the process.
    #[inline]
    pub(crate) fn id(&self) -> u64 {
        let id = self.id.load(Ordering::Relaxed);
        if id != 0 {
            return id;
        }
        // `next_id` never returns 0. Two threads asking at once (a trace and
        // a hop cannot, they run in the task's poll; this is for safety) agree
        // on the first one stored.
        match self
            .id
            .compare_exchange(0, next_id(), Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => self.id.load(Ordering::Relaxed),
            Err(id) => id,
        }
    }

    /// Cores the task may run on (bit `c` for core id `c`); 0: any.
    #[inline]
    pub(crate) fn cores(&self) -> u64 {
        if self.flags & PINNED == 0 {
            return 0;
        }
        self.node.get().map_or(0, |node| node.site.cores)
    }

    /// The side the task runs on now.
    #[inline]
    pub(crate) fn affinity(&self) -> Side {
        Side::from_u8(self.affinity.load(Ordering::Acquire))
    }

    /// Moves the task: its next schedule goes to `side`'s queue.
    #[inline]
    pub(crate) fn set_affinity(&self, side: Side) {
        self.affinity.store(side as u8, Ordering::Release);
    }

    /// The resume point the task waits for, if any (see `points`).
    #[inline]
    pub(crate) fn point(&self) -> Option<usize> {
        let point = self.point.load(Ordering::Acquire);
        (point != 0).then(|| usize::from(point) - 1)
    }

    /// Sends the task's wakes to resume point `point` (`None`: where its
    /// affinity says).
    pub(crate) fn set_point(&self, point: Option<usize>) {
        let byte = point.map_or(0, |point| {
            u8::try_from(point + 1).expect("at most 255 resume points")
        });
        self.point.store(byte, Ordering::Release);
    }

    /// Whether only the pump can run the task now: a main-thread task (or
    /// one hopped to the main thread), a `spawn_local` one, or any task in
    /// deterministic or single-threaded mode.
    pub(crate) fn only_the_pump_runs_it(&self) -> bool {
        self.affinity() == Side::Main
            || self.is_local()
            || self.shared.deterministic.is_some()
            || self.shared.is_single_threaded()
    }

    /// Whether the task was spawned with `spawn_local`.
    #[inline]
    pub(crate) fn is_local(&self) -> bool {
        self.flags & LOCAL != 0
    }

    /// Whether the task was asked to stop, itself or through an ancestor.
    #[inline]
    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Acquire)
            || self.node.get().is_some_and(|node| node.is_cancelled())
    }

    /// Asks the task and its descendants to stop at their next poll, and wakes
    /// them so that poll comes.
    pub(crate) fn cancel(&self) {
        // A node made concurrently is seen here, or sees the flag; a slot
        // stored concurrently is seen here, or the parking task sees the flag.
        cancel_handshake::cancel(
            &self.cancelled,
            || self.node.get(),
            |node| node.cancel_tree(&self.shared.parked),
            || self.shared.parked.wake(self.slot.get()),
        );
    }

    /// The task's future has ended (returned or panicked): its children run
    /// on without it, and a later cancel of this task does not reach them.
    #[inline]
    pub(crate) fn finish(&self) {
        if let Some(node) = self.node.get() {
            node.finish();
        }
    }

    /// The cleanups the task filed and has not run nor dropped (`None`: none).
    #[inline]
    pub(crate) fn take_cleanups(&self) -> Option<Vec<super::cleanup::Cleanup>> {
        self.node.get().and_then(|node| node.take_cleanups())
    }

    /// The task's registry slot ([`Slot::NONE`] until it parks).
    pub(crate) fn slot(&self) -> Slot {
        self.slot.get()
    }

    /// Registers the parking task, once. Returns `true` if the task must be
    /// polled again at once: it was cancelled while it had no slot, so no
    /// cancel could wake it.
    pub(crate) fn register(&self) -> bool {
        if self.slot.get() != Slot::NONE {
            return false;
        }
        // SAFETY: a `Header` lives only in its task's allocation (it is made
        // for `raw::spawn`), which is alive: its task is being polled.
        let task = unsafe { TaskRef::new(self) };
        let Some(slot) = self.shared.parked.register(Parked::Task(task)) else {
            return false; // shutting down: the task is about to be dropped
        };
        // A cancel sees the slot, or its flag is seen here; a node made
        // concurrently is seen here (and given the slot), or sees the slot.
        cancel_handshake::register(
            &self.cancelled,
            || self.slot.set(slot),
            || self.node.get(),
            |node| node.slot.set(slot),
            |node| node.is_cancelled(),
        )
    }

    /// The task's tree node, made on first use (when it spawns a child, or
    /// for a cancel handle, maybe from another thread).
    pub(crate) fn node(&self) -> NodeRef<'_> {
        // A cancel sees the node, or its flag is seen here and cascaded now
        // (before a child is adopted into the node); a registration sees the
        // node, or its slot is seen here and copied, so the node can wake
        // the task.
        cancel_handshake::node(
            &self.cancelled,
            || {
                self.node
                    .get_or_init(|| Node::new(self.slot.get(), false, self.site()))
            },
            |node| {
                let slot = self.slot.get();
                if slot != Slot::NONE {
                    node.slot.set(slot);
                }
            },
            |node| {
                if !node.is_cancelled() {
                    node.cancel_tree(&self.shared.parked);
                }
            },
        )
    }

    /// Joins the tree under `parent` (at spawn, before the task first runs).
    pub(crate) fn set_parent(&self, parent: &Header) {
        self.set_parent_node(&parent.node());
    }

    /// Joins the tree under the node `parent` (a task's, or a scope's such
    /// as an actor's), at spawn, before the task first runs.
    pub(crate) fn set_parent_node(&self, parent: &Node) {
        // A named or pinned task has its node from `new`.
        let node = match self.node.get() {
            Some(node) => Arc::clone(&node),
            None => Node::new(self.slot.get(), false, self.site()),
        };
        if !parent.adopt(&node) {
            self.cancelled.store(true, Ordering::SeqCst);
        }
        self.node.set(node);
    }

    /// What the task was spawned with.
    fn site(&self) -> Site {
        match self.node.get() {
            Some(node) => node.site,
            None => Site {
                location: self.node.location(),
                name: None,
                cores: 0,
            },
        }
    }

    /// The task's priority.
    #[inline]
    pub(crate) fn priority(&self) -> Priority {
        if self.flags & HIGH_FLAG != 0 {
            Priority::High
        } else {
            Priority::Normal
        }
    }
}

#[cfg(test)]
mod tests {
    /// The header's size is what every task pays (see `Header`).
    #[test]
    #[cfg(not(feature = "trace"))]
    fn header_is_32_bytes() {
        assert_eq!(std::mem::size_of::<super::Header>(), 32);
    }

    /// A task's stored result is one pointer when its output is `()`, so its
    /// output slot is one word (async-task's, `Result<T, Box<dyn Any>>`,
    /// would be 16 bytes).
    #[test]
    fn failure_is_one_pointer() {
        use crate::runtime::task::Failed;
        assert_eq!(std::mem::size_of::<Result<(), Failed>>(), 8);
        assert_eq!(
            std::mem::size_of::<Result<Result<(), Failed>, Box<dyn std::any::Any + Send>>>(),
            16
        );
    }
}
