//! Actors: state reached only through messages, handled one at a time in
//! the order sent, a batch per turn, at a priority and on a side (Pony's and
//! Flynn's actors, over this scheduler's tasks).
//!
//! An [`Actor<M, R>`](Actor) is an address: [`send`](Actor::send) a message,
//! or [`ask`](Actor::ask) and await the answer. The state implements
//! [`Behavior<M, R>`](Behavior) (or is a closure's, with [`behavior_fn`]);
//! its `handle` gets `&mut self` for the whole message, awaits included,
//! with no lock.
//!
//! - **Order and exclusion.** A mailbox (`mailbox`) holds the queue and,
//!   while the actor is idle, the state. The first message to find it idle
//!   spawns a turn (`turn`), a task that takes the state and handles
//!   messages until the queue is empty, then puts the state back. There is
//!   never more than one turn, so never two handlers at once.
//! - **Fairness.** A turn handles at most [`batch`](ActorBuilder::batch)
//!   messages, then yields if more wait. An idle actor is memory only: no
//!   task, no poll, no timer.
//! - **Priority and side.** Turns are tasks at the actor's
//!   [`Priority`](crate::Priority) and affinity; a turn belongs to its actor, not to the
//!   task that sent the message (cancelling a sender leaves the actor be).
//! - **Stopping.** See [`Actor`]: the last address dropped or
//!   [`Actor::stop`] stops after the messages sent; [`Actor::stop_now`], an
//!   owner's end (an entity's despawn, `scope`) or the runtime's shutdown
//!   stop at once. A stopped actor refuses messages with [`SendError`] (the
//!   message given back) or [`ActorError::Stopped`]. A [`WeakActor`]
//!   ([`Actor::downgrade`]) is an address that does not keep the actor
//!   running.
//! - **Panics.** A handler's panic ends that message ([`OnPanic`]); the
//!   actor goes on by default.

mod address;
mod addresses;
mod behavior;
mod builder;
mod error;
mod mailbox;
mod reply;
mod scope;
mod turn;
mod weak;

pub use address::Actor;
pub use behavior::{Behavior, FnBehavior, HandlerFuture, behavior_fn};
pub use builder::{ActorBuilder, DEFAULT_BATCH, SpawnActor};
pub use error::{ActorError, SendError};
pub use mailbox::OnPanic;
pub use reply::Reply;
pub use weak::WeakActor;
