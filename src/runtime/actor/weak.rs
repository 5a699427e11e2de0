//! [`WeakActor`]: an address that does not keep its actor running.

use std::fmt;
use std::sync::Weak;

use super::address::Actor;
use super::mailbox::Post;

/// An actor's address that does not keep it running, from
/// [`Actor::downgrade`]: the actor still stops when its last [`Actor`]
/// address is dropped. [`upgrade`](WeakActor::upgrade) gives an `Actor` to
/// send with while one is alive, and `None` once the last was dropped.
///
/// For what should not decide an actor's life: a roster of NPC brains, a
/// cache, an actor's own state holding its address (with an `Actor` there,
/// it would never see its last address dropped).
///
/// An actor stopped otherwise ([`Actor::stop`], its entity's despawn,
/// shutdown) still upgrades while addresses are alive, as those addresses
/// still exist: the `Actor` refuses messages, as theirs do.
///
/// ```
/// use bevy_coro::prelude::*;
/// use bevy_coro::runtime::{Runtime, RuntimeConfig, behavior_fn};
///
/// let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
/// let brain: Actor<&str> = runtime
///     .actor("brain")
///     .spawn::<Worker>(behavior_fn((), |_, _order: &str| Box::pin(async {})));
/// // The roster lists the brain; the NPC owns it.
/// let roster = vec![brain.downgrade()];
/// if let Some(brain) = roster[0].upgrade() {
///     brain.send("patrol").unwrap();
/// }
/// drop(brain); // the NPC's address was the last: the brain stops
/// assert!(roster[0].upgrade().is_none());
/// ```
pub struct WeakActor<M, R = ()> {
    mailbox: Weak<dyn Post<M, R>>,
}

impl<M, R> WeakActor<M, R> {
    pub(crate) fn new(mailbox: Weak<dyn Post<M, R>>) -> Self {
        WeakActor { mailbox }
    }

    /// An address to send with, while the actor has one alive; `None` once
    /// its last address was dropped (the actor stopped then, or has stopped
    /// after the messages sent before).
    pub fn upgrade(&self) -> Option<Actor<M, R>> {
        let mailbox = self.mailbox.upgrade()?;
        // Counted here: the `Actor` made below must not count itself again.
        mailbox.try_add_address().then(|| Actor::new(mailbox))
    }
}

impl<M, R> Clone for WeakActor<M, R> {
    fn clone(&self) -> Self {
        WeakActor {
            mailbox: self.mailbox.clone(),
        }
    }
}

impl<M, R> fmt::Debug for WeakActor<M, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Read from the mailbox when it is still there (it outlives the
        // last address while a turn runs).
        let name = self.mailbox.upgrade().map(|mailbox| mailbox.name());
        f.debug_struct("WeakActor").field("name", &name).finish()
    }
}
