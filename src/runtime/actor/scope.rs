//! [`Scope`]: what ties an actor to an owner (an entity). An idle actor has
//! no task to cancel, so the actor gets a tree node of its own: its turns
//! run under it, and a waker in the parked registry hears its cancel.
//!
//! The owner cancels the node (an entity's despawn, through its
//! `EntityTasks`): the running turn, a child, is cancelled with it, and
//! the node's waker stops the mailbox at once, idle or not. At shutdown the
//! registry wakes every waker it holds, so a tied actor stops then too.

use std::panic::Location;
use std::sync::{Arc, Weak};
use std::task::{Wake, Waker};

use super::mailbox::Abort;
use crate::runtime::task::parked::{Parked, Slot};
use crate::runtime::tree::{Node, Site};
use crate::runtime::{Owner, Shared};

/// An actor's tree node, listed for the driver to tie to its owner. Its
/// waker's slot is removed by the mailbox's drop.
pub(crate) struct Scope {
    node: Arc<Node>,
}

/// The node's waker: stops the actor when the node is cancelled.
struct AbortOnWake(Weak<dyn Abort>);

impl Wake for AbortOnWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // The registry wakes a reused slot spuriously; `abort_if_ended`
        // checks the cancel flag.
        if let Some(mailbox) = self.0.upgrade() {
            mailbox.abort_if_ended();
        }
    }
}

impl Scope {
    /// A node for the actor `abort` stops, listed with `owner` for the
    /// driver (see `Handle::take_owned`).
    pub(crate) fn new(
        shared: &Arc<Shared>,
        owner: Owner,
        name: &'static str,
        location: &'static Location<'static>,
        abort: Weak<dyn Abort>,
    ) -> Scope {
        let site = Site {
            location,
            name: Some(name),
            cores: 0,
        };
        let node = Node::new(Slot::NONE, false, site);
        // `None` once the registry is closed: the runtime is shutting down,
        // and the actor refuses every message anyway.
        if let Some(slot) = shared
            .parked
            .register(Parked::Waker(Box::new(Waker::from(Arc::new(AbortOnWake(
                abort,
            ))))))
        {
            node.slot.set(slot);
        }
        let _ = shared.owned.push((owner, node.clone()));
        Scope { node }
    }

    pub(crate) fn node(&self) -> &Arc<Node> {
        &self.node
    }

    /// The slot of the node's waker in the parked registry.
    pub(crate) fn slot(&self) -> Slot {
        self.node.slot.get()
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.node.is_cancelled()
    }
}
