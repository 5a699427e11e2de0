//! The task header: what the scheduler needs to know about a task, stored in the
//! task's own allocation through `async_task::Builder::metadata`.
//!
//! # Who touches which field
//!
//! - `affinity` is written only by the task itself, during its own poll (a hop),
//!   and read by the schedule function, which async-task calls after that poll
//!   ends. async-task's state transitions order the two, so the schedule function
//!   always sees the affinity the task asked for.
//! - `cancel` (flag and registry slot) is raised by anyone holding the task's
//!   handle and read by the task body at the start of each poll; the slot is
//!   set once, at the task's first park (see [`cancel_slot`](super::cancel_slot)).
//! - everything else is written once, at spawn.

use std::panic::Location;
use std::sync::atomic::{AtomicU8, Ordering, fence};
use std::sync::{Arc, OnceLock};
use std::task::Waker;

use super::Shared;
use super::cancel_slot::CancelSlot;
use super::registry::Slot;
use super::tree::Node;

/// Affinity code of [`Main`](crate::Main).
pub(crate) const MAIN: u8 = 0;
/// Affinity code of [`Worker`](crate::Worker).
pub(crate) const WORKER: u8 = 1;

/// Per-task scheduler data, stored in the task allocation.
pub(crate) struct Header {
    /// The runtime, without a reference count of its own (see [`SharedRef`]).
    pub(crate) shared: SharedRef,
    /// Unique for the life of the process (addresses are reused).
    id: u64,
    /// Where the task runs now: [`MAIN`] or [`WORKER`].
    affinity: AtomicU8,
    /// Set by `Task::cancel` (the task ends at its next poll), with the
    /// task's entry in the parked-task registry once it parked.
    cancel: CancelSlot,
    /// The task's place in a task tree, if it is in one (see `tree`).
    node: OnceLock<Arc<Node>>,
    /// [`NORMAL`] or [`HIGH`].
    priority: u8,
    /// Cores the task may run on (bit `c` for core id `c`); 0: any.
    pub(crate) cores: u64,
    /// A `spawn_local` task: its future is `!Send` and must stay on the main thread.
    local: bool,
    /// The name given at spawn, if any (else the spawn location names it).
    name: Option<&'static str>,
    /// Where the task was spawned.
    location: &'static Location<'static>,
    /// The tracing callsite named after the task, made at its first traced poll.
    #[cfg(feature = "trace")]
    pub(crate) callsite: super::trace::CallsiteCell,
}

/// A process-unique task id without a contended counter: each thread takes a
/// block of 2^32 ids from a global counter once, then counts locally.
fn next_id() -> u64 {
    use std::cell::Cell;
    use std::sync::atomic::AtomicU64;
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

/// Priority code of `Priority::Normal`.
pub(crate) const NORMAL: u8 = 0;
/// Priority code of `Priority::High`.
pub(crate) const HIGH: u8 = 1;

/// The runtime of a task, borrowed from the `Arc<Shared>` its schedule
/// function holds. One reference count per task instead of two: every spawn
/// and every task's end touch that count, from different threads.
pub(crate) struct SharedRef(std::ptr::NonNull<Shared>);

// SAFETY: a `SharedRef` is a shared reference to `Shared`, which is `Sync`.
unsafe impl Send for SharedRef {}
// SAFETY: as above.
unsafe impl Sync for SharedRef {}

impl std::ops::Deref for SharedRef {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        // SAFETY: the header lives in the task's allocation, whose schedule
        // function (dropped after the header, in async-task's `destroy`) holds
        // an `Arc` of this `Shared` (`Header::new`'s contract); the header is
        // only reached while the allocation lives, so `Shared` is alive.
        unsafe { self.0.as_ref() }
    }
}

impl SharedRef {
    /// A counted reference, for what may outlive the task (sleeps, handles).
    pub(crate) fn to_arc(&self) -> Arc<Shared> {
        let ptr = self.0.as_ptr().cast_const();
        // SAFETY: `ptr` came from an `Arc<Shared>` that is alive (see `Deref`);
        // adding a count before making a second `Arc` from it keeps the counts
        // balanced.
        unsafe {
            Arc::increment_strong_count(ptr);
            Arc::from_raw(ptr)
        }
    }
}

/// What a spawn asks for.
#[derive(Clone, Copy)]
pub(crate) struct Options {
    pub(crate) affinity: u8,
    /// A `spawn_local` task.
    pub(crate) local: bool,
    pub(crate) name: Option<&'static str>,
    pub(crate) location: &'static Location<'static>,
    pub(crate) priority: u8,
    /// Core mask, already checked against the pinned workers; 0: any.
    pub(crate) cores: u64,
}

impl Header {
    /// # Safety
    ///
    /// The task's schedule function must hold an `Arc` of `shared` (see
    /// [`SharedRef`]).
    pub(crate) unsafe fn new(shared: &Arc<Shared>, options: Options) -> Self {
        Header {
            shared: SharedRef(std::ptr::NonNull::from(&**shared)),
            id: next_id(),
            affinity: AtomicU8::new(options.affinity),
            cancel: CancelSlot::default(),
            node: OnceLock::new(),
            priority: options.priority,
            cores: options.cores,
            local: options.local,
            name: options.name,
            location: options.location,
            #[cfg(feature = "trace")]
            callsite: Default::default(),
        }
    }

    /// The task's id, unique for the life of the process.
    #[inline]
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// The affinity the task runs with now.
    #[inline]
    pub(crate) fn affinity(&self) -> u8 {
        self.affinity.load(Ordering::Acquire)
    }

    /// Moves the task: its next schedule goes to `affinity`'s queue.
    #[inline]
    pub(crate) fn set_affinity(&self, affinity: u8) {
        self.affinity.store(affinity, Ordering::Release);
    }

    /// Whether the task was spawned with `spawn_local`.
    #[inline]
    pub(crate) fn is_local(&self) -> bool {
        self.local
    }

    /// Whether the task was asked to stop, itself or through an ancestor.
    #[inline]
    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled() || self.node.get().is_some_and(|node| node.is_cancelled())
    }

    /// Asks the task and its descendants to stop at their next poll, and wakes
    /// them so that poll comes.
    pub(crate) fn cancel(&self) {
        // Its fence pairs with the one in `node` (a node made concurrently
        // either is seen here, or sees the flag) and the one in `register`.
        if !self.cancel.cancel() {
            return;
        }
        if let Some(node) = self.node.get() {
            node.cancel_tree(&self.shared.registry);
        }
        self.shared.registry.wake(self.slot());
    }

    /// The task's registry slot ([`Slot::NONE`] until it parks).
    pub(crate) fn slot(&self) -> Slot {
        Slot::from_bits(self.cancel.slot())
    }

    /// Registers the parking task's `waker`, once. Returns `true` if the task
    /// must be polled again at once: it was cancelled while it had no slot, so
    /// no cancel could wake it.
    pub(crate) fn register(&self, waker: &Waker) -> bool {
        if self.slot() != Slot::NONE {
            return false;
        }
        let Some(slot) = self.shared.registry.register(waker.clone()) else {
            return false; // shutting down: the task is about to be dropped
        };
        // Pairs with the fence in `cancel` (and the SeqCst flags of the tree):
        // a cancel either sees the slot, or its flag is seen here.
        let cancelled = self.cancel.register(slot.to_bits(), || {
            if let Some(node) = self.node.get() {
                node.slot.set(slot);
            }
        });
        cancelled || self.is_cancelled()
    }

    /// The task's tree node, made on first use (when it spawns a child).
    pub(crate) fn node(&self) -> &Arc<Node> {
        let node = self.node.get_or_init(|| Node::new(self.slot(), false));
        // Pairs with the fence in `cancel`: a cancel either sees the node, or
        // its flag is seen here and cascaded now. And with the one in
        // `register`: a registration that did not see the node yet is seen
        // here, so the node can wake the task.
        fence(Ordering::SeqCst);
        let slot = self.slot();
        if slot != Slot::NONE {
            node.slot.set(slot);
        }
        if self.cancel.is_cancelled() && !node.is_cancelled() {
            node.cancel_tree(&self.shared.registry);
        }
        node
    }

    /// Joins the tree under `parent` (at spawn, before the task first runs).
    pub(crate) fn set_parent(&self, parent: &Header) {
        let node = Node::new(self.slot(), false);
        if !parent.node().adopt(&node) {
            self.cancel.start_cancelled();
        }
        let _ = self.node.set(node);
    }

    /// The task's priority code.
    #[inline]
    pub(crate) fn priority(&self) -> u8 {
        self.priority
    }

    /// Where the task was spawned.
    pub(crate) fn location(&self) -> &'static Location<'static> {
        self.location
    }

    /// The name given at spawn, if any.
    pub(crate) fn given_name(&self) -> Option<&'static str> {
        self.name
    }

    /// The task's name: the one given at spawn, else its spawn location.
    pub(crate) fn name(&self) -> TaskName<'_> {
        TaskName(self)
    }
}

/// Displays a task's name without allocating.
pub(crate) struct TaskName<'a>(&'a Header);

impl std::fmt::Display for TaskName<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.name {
            Some(name) => f.write_str(name),
            None => write!(f, "{}:{}", self.0.location.file(), self.0.location.line()),
        }
    }
}

impl std::fmt::Debug for Header {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Header")
            .field(
                "affinity",
                &if self.affinity() == MAIN {
                    "Main"
                } else {
                    "Worker"
                },
            )
            .field("cancelled", &self.is_cancelled())
            .field("local", &self.local)
            .field("name", &format_args!("{}", self.name()))
            .finish()
    }
}
