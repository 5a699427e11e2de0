//! The mailbox: an actor's queue, its state while idle, and the one rule
//! that keeps the state to a single turn.
//!
//! # The state machine
//!
//! Everything below is guarded by one mutex, [`Mailbox::inbox`]; no atomic
//! takes part in it (so there is no interleaving for loom to find beyond
//! the mutex's own).
//!
//! | `running` | `closed` | queue | `state` | meaning |
//! |---|---|---|---|---|
//! | false | false | empty | `Some` | idle: no task, no poll, memory only |
//! | true | any | any | `None` | a turn is scheduled or running; it owns the state |
//! | false | true | empty | `None` | stopped; the state was dropped |
//!
//! - A send pushes its message; if it finds the actor idle, it sets
//!   `running`, takes the state out and spawns a turn with it. Only this
//!   transition takes the state out, and only the turn puts it back.
//! - A turn pops messages one at a time. When it finds the queue empty it
//!   clears `running` and puts the state back (or drops it, if `closed`),
//!   under the same lock as the pop: a message pushed after that finds the
//!   actor idle and starts a new turn; one pushed before is popped. None is
//!   stranded.
//! - So the state is, at any moment, either in the mailbox or in exactly
//!   one turn's future: the handler's `&mut self` needs no lock.
//!
//! Values leaving the mailbox (messages dropped at a stop, the state) are
//! dropped after the lock is released: their `Drop` may send to this actor
//! (a message holding its own actor's address, say).

use std::collections::VecDeque;
use std::fmt;
use std::panic::Location;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use super::addresses::Addresses;
use super::behavior::Behavior;
use super::reply::ReplySender;
use super::scope::Scope;
use super::turn;
use crate::runtime::Shared;
use crate::runtime::task::options::{Priority, Side};

/// A message and, for an `ask`, where its answer goes.
pub(crate) struct Envelope<M, R> {
    pub(crate) msg: M,
    pub(crate) reply: Option<ReplySender<R>>,
}

/// What a turn does with a handler's panic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum OnPanic {
    /// The panic ends that message only (an `ask` gets
    /// [`ActorError::Panicked`](super::ActorError::Panicked)); the actor goes
    /// on with the next message and its state as the handler left it. The
    /// default: one bad command should not kill an NPC's brain.
    #[default]
    Continue,
    /// The actor stops at once, as [`Actor::stop_now`](super::Actor::stop_now):
    /// its state is dropped, the messages still queued are dropped (their
    /// asks answer [`ActorError::Stopped`](super::ActorError::Stopped)), later
    /// sends are refused. For actors whose state may be left half-updated.
    Stop,
}

/// How turns are spawned.
pub(crate) struct TurnOptions {
    pub(crate) shared: Arc<Shared>,
    pub(crate) side: Side,
    pub(crate) name: &'static str,
    pub(crate) priority: Priority,
    pub(crate) location: &'static Location<'static>,
    /// Messages per turn at most, then the turn yields.
    pub(crate) batch: usize,
    pub(crate) on_panic: OnPanic,
}

/// What the mutex guards; see the module docs.
struct Inbox<B, M, R> {
    queue: VecDeque<Envelope<M, R>>,
    running: bool,
    closed: bool,
    state: Option<B>,
}

/// An actor: its inbox, the count of its addresses, how its turns run.
pub(crate) struct Mailbox<B, M, R> {
    inbox: Mutex<Inbox<B, M, R>>,
    /// `Actor` addresses alive; the last one dropped stops the actor.
    addresses: Addresses,
    /// This mailbox, to hand a turn (upgraded only to start one).
    me: Weak<Self>,
    pub(crate) turns: TurnOptions,
    /// The tree node the turns run under, when the actor is tied to an
    /// owner (an entity): cancelling it stops the actor at once.
    scope: Option<Scope>,
}

/// The address's view of a mailbox, without the behavior's type.
pub(crate) trait Post<M, R>: Send + Sync {
    /// Queues `envelope`, starting a turn if the actor was idle; gives it
    /// back if the actor has stopped.
    fn post(&self, envelope: Envelope<M, R>) -> Result<(), Envelope<M, R>>;
    /// Refuses new messages; those queued are handled, then the state is
    /// dropped.
    fn stop(&self);
    /// Refuses new messages and takes back those queued; the state is
    /// dropped once the message being handled (if any) is done.
    fn stop_now(&self) -> Vec<Envelope<M, R>>;
    fn is_stopped(&self) -> bool;
    fn pending(&self) -> usize;
    fn add_address(&self);
    /// A new address for a weak one, while an address is alive; `false`
    /// once the last was dropped.
    fn try_add_address(&self) -> bool;
    /// The last address dropped stops the actor (as `stop`).
    fn drop_address(&self);
    fn name(&self) -> &'static str;
}

impl<B, M, R> Mailbox<B, M, R>
where
    B: Behavior<M, R>,
    M: Send + 'static,
    R: Send + 'static,
{
    /// A mailbox holding `state`, idle, with one address; tied to a new
    /// scope if `scope` is given (see [`Scope::new`]).
    pub(crate) fn new(
        state: B,
        turns: TurnOptions,
        scope: impl FnOnce(Weak<dyn Abort>) -> Option<Scope>,
    ) -> Arc<Self> {
        Arc::new_cyclic(|me: &Weak<Self>| {
            let as_abort: Weak<dyn Abort> = me.clone();
            Mailbox {
                inbox: Mutex::new(Inbox {
                    queue: VecDeque::new(),
                    running: false,
                    closed: false,
                    state: Some(state),
                }),
                addresses: Addresses::one(),
                me: me.clone(),
                turns,
                scope: scope(as_abort),
            }
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inbox<B, M, R>> {
        // No user code runs under this lock, so it is never poisoned; if it
        // were, the inbox is still consistent between our own statements.
        self.inbox.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The turn's next message. With none left, the turn ends here: the
    /// state goes back into the mailbox (or, once stopped, out to be
    /// dropped by the caller), and `running` is cleared, under one lock.
    pub(crate) fn next(&self, state: &mut Option<B>) -> Option<Envelope<M, R>> {
        let mut inbox = self.lock();
        if let Some(envelope) = inbox.queue.pop_front() {
            return Some(envelope);
        }
        inbox.running = false;
        if !inbox.closed {
            inbox.state = state.take();
            // A burst's buffer is given back; a small one is kept for the
            // next message.
            if inbox.queue.capacity() > 64 {
                inbox.queue = VecDeque::new();
            }
        }
        None
    }

    /// Whether a message is waiting (checked at the end of a batch).
    pub(crate) fn has_next(&self) -> bool {
        !self.lock().queue.is_empty()
    }

    /// The turn was dropped before it ended (cancelled with its entity,
    /// refused at shutdown): the actor stops at once. The state went with
    /// the turn.
    pub(crate) fn abandoned(&self) {
        let dropped = {
            let mut inbox = self.lock();
            inbox.running = false;
            inbox.closed = true;
            std::mem::take(&mut inbox.queue)
        };
        drop(dropped);
    }

    fn start_turn(&self, state: B) {
        let mailbox = self
            .me
            .upgrade()
            .expect("a mailbox posting to itself is alive");
        let parent = self.scope.as_ref().map(Scope::node);
        turn::spawn(mailbox, state, parent);
    }
}

impl<B, M, R> Post<M, R> for Mailbox<B, M, R>
where
    B: Behavior<M, R>,
    M: Send + 'static,
    R: Send + 'static,
{
    fn post(&self, envelope: Envelope<M, R>) -> Result<(), Envelope<M, R>> {
        if self.turns.shared.is_closed() {
            // Refused at shutdown (a turn spawned now would never run).
            self.stop_now();
            return Err(envelope);
        }
        let start = {
            let mut inbox = self.lock();
            if inbox.closed {
                return Err(envelope);
            }
            inbox.queue.push_back(envelope);
            if inbox.running {
                None
            } else {
                inbox.running = true;
                inbox.state.take()
            }
        };
        if let Some(state) = start {
            self.start_turn(state);
        }
        Ok(())
    }

    fn stop(&self) {
        let state = {
            let mut inbox = self.lock();
            inbox.closed = true;
            // Idle: the queue is empty, nothing will run again.
            inbox.state.take()
        };
        drop(state);
    }

    fn stop_now(&self) -> Vec<Envelope<M, R>> {
        let (queued, state) = {
            let mut inbox = self.lock();
            inbox.closed = true;
            (std::mem::take(&mut inbox.queue), inbox.state.take())
        };
        drop(state);
        queued.into()
    }

    fn is_stopped(&self) -> bool {
        self.lock().closed
    }

    fn pending(&self) -> usize {
        self.lock().queue.len()
    }

    fn add_address(&self) {
        self.addresses.add();
    }

    fn try_add_address(&self) -> bool {
        self.addresses.try_add()
    }

    fn drop_address(&self) {
        if self.addresses.drop_one() {
            self.stop();
        }
    }

    fn name(&self) -> &'static str {
        self.turns.name
    }
}

/// Stopping at once, from the actor's scope (see [`Scope`]).
pub(crate) trait Abort: Send + Sync {
    /// Stops the actor at once if its scope was cancelled or the runtime
    /// is shutting down; a spurious call does nothing.
    fn abort_if_ended(&self);
}

impl<B, M, R> Abort for Mailbox<B, M, R>
where
    B: Behavior<M, R>,
    M: Send + 'static,
    R: Send + 'static,
{
    fn abort_if_ended(&self) {
        let ended = self.scope.as_ref().is_some_and(Scope::is_cancelled);
        if ended || self.turns.shared.is_closed() {
            drop(self.stop_now());
        }
    }
}

impl<B, M, R> Drop for Mailbox<B, M, R> {
    fn drop(&mut self) {
        if let Some(scope) = &self.scope {
            self.turns.shared.parked.remove(scope.slot());
        }
    }
}

impl<B, M, R> fmt::Debug for Mailbox<B, M, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailbox")
            .field("name", &self.turns.name)
            .finish_non_exhaustive()
    }
}
