//! [`Actor`]: an actor's address, what senders hold.

use std::fmt;
use std::sync::Arc;

use super::error::{ActorError, SendError};
use super::mailbox::{Envelope, Post};
use super::reply::Reply;
use super::weak::WeakActor;

/// The address of an actor taking messages `M` and answering `R`: cheap to
/// clone, `Send + Sync`, usable from systems, tasks and any thread. Made by
/// [`ActorBuilder`](super::ActorBuilder)'s `spawn::<A>(state)`.
///
/// Messages are handled one at a time, in the order each sender sent them
/// (messages of different senders interleave in the order they reached the
/// mailbox). Each message is handled exactly once, unless the actor stops
/// at once first (see [`Actor::stop_now`]).
///
/// **Dropping the last address stops the actor after the messages already
/// sent**: they are handled, then the state is dropped. [`Actor::stop_now`]
/// stops it without them. An actor whose state holds its own address never
/// sees its last address dropped: stop it with [`Actor::stop`], or give it
/// a [`WeakActor`] ([`Actor::downgrade`]), which does not keep it running.
///
/// ```
/// use bevy_coro::prelude::*;
/// use bevy_coro::runtime::{Behavior, Runtime, RuntimeConfig, block_on};
///
/// struct SaveWriter { saves: Vec<String> }
///
/// impl Behavior<String> for SaveWriter {
///     async fn handle(&mut self, slot: String) {
///         // Never two saves at once: the next message waits for this one.
///         sleep(std::time::Duration::from_millis(1)).await;
///         self.saves.push(slot);
///     }
/// }
///
/// let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
/// let writer: Actor<String> = runtime
///     .actor("save writer")
///     .spawn::<Worker>(SaveWriter { saves: Vec::new() });
/// writer.send("slot 1".to_owned()).unwrap();
/// writer.send("slot 2".to_owned()).unwrap();
/// drop(writer); // both saves are still written, then the writer ends
/// ```
pub struct Actor<M, R = ()> {
    mailbox: Arc<dyn Post<M, R>>,
}

impl<M, R> Actor<M, R> {
    /// The first address of a new actor, or one a weak address was just
    /// counted for: `mailbox`'s count includes it.
    pub(crate) fn new(mailbox: Arc<dyn Post<M, R>>) -> Self {
        Actor { mailbox }
    }

    /// A weak address: it can send (after [`WeakActor::upgrade`]) while an
    /// address is alive, but does not keep the actor running: for a
    /// registry or a cache of actors, or an actor's own state holding its
    /// address.
    pub fn downgrade(&self) -> WeakActor<M, R> {
        WeakActor::new(Arc::downgrade(&self.mailbox))
    }

    /// Sends `msg`; the actor handles it after the messages sent before it.
    /// An actor that has stopped gives the message back in the error.
    pub fn send(&self, msg: M) -> Result<(), SendError<M>> {
        self.mailbox
            .post(Envelope { msg, reply: None })
            .map_err(|envelope| SendError(envelope.msg))
    }

    /// Sends `msg` and returns the handler's answer, to await (or to poll
    /// with [`Reply::try_take`] from a system). An actor that has stopped,
    /// or stops at once before handling the message, answers
    /// [`ActorError::Stopped`]; a handler that panics on it,
    /// [`ActorError::Panicked`].
    ///
    /// An actor that asks itself and awaits the answer in its own handler
    /// waits forever: the answer comes from the turn that is waiting.
    pub fn ask(&self, msg: M) -> Reply<R> {
        let (reply, sender) = Reply::new();
        match self.mailbox.post(Envelope {
            msg,
            reply: Some(sender),
        }) {
            Ok(()) => reply,
            Err(envelope) => {
                drop(envelope);
                Reply::failed(ActorError::Stopped)
            }
        }
    }

    /// Stops the actor after the messages already sent: they are handled,
    /// then the state is dropped; later sends are refused. Stopping a
    /// stopped actor does nothing.
    pub fn stop(&self) {
        self.mailbox.stop();
    }

    /// Stops the actor at once: later sends are refused, and the messages
    /// not yet handled are given back (their asks answer
    /// [`ActorError::Stopped`]). A message being handled is finished; then
    /// the state is dropped.
    ///
    /// ```
    /// # use bevy_coro::prelude::*;
    /// # use bevy_coro::runtime::{Runtime, RuntimeConfig, behavior_fn};
    /// # let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    /// // A main-thread actor: nothing runs until the pump.
    /// let orders: Actor<&str> = runtime
    ///     .actor("orders")
    ///     .spawn::<Main>(behavior_fn((), |_, _order: &str| Box::pin(async {})));
    /// orders.send("attack").unwrap();
    /// orders.send("flee").unwrap();
    /// assert_eq!(orders.stop_now(), vec!["attack", "flee"]);
    /// assert!(orders.is_stopped());
    /// ```
    pub fn stop_now(&self) -> Vec<M> {
        self.mailbox
            .stop_now()
            .into_iter()
            .map(|envelope| envelope.msg)
            .collect()
    }

    /// Whether the actor refuses messages: stopped by [`Actor::stop`] or
    /// [`Actor::stop_now`], by a panic with
    /// [`OnPanic::Stop`](super::OnPanic::Stop), with its entity, or by the
    /// runtime's shutdown. Messages sent before may still be handled.
    pub fn is_stopped(&self) -> bool {
        self.mailbox.is_stopped()
    }

    /// Messages sent and not yet taken by the actor (the one being handled
    /// is not counted).
    pub fn pending(&self) -> usize {
        self.mailbox.pending()
    }

    /// The actor's name, as given to [`Handle::actor`](crate::runtime::Handle::actor);
    /// its turns are tasks of that name.
    pub fn name(&self) -> &'static str {
        self.mailbox.name()
    }
}

impl<M, R> Clone for Actor<M, R> {
    fn clone(&self) -> Self {
        self.mailbox.add_address();
        Actor {
            mailbox: self.mailbox.clone(),
        }
    }
}

impl<M, R> Drop for Actor<M, R> {
    fn drop(&mut self) {
        self.mailbox.drop_address();
    }
}

impl<M, R> fmt::Debug for Actor<M, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Actor")
            .field("name", &self.name())
            .field("pending", &self.pending())
            .field("stopped", &self.is_stopped())
            .finish()
    }
}
