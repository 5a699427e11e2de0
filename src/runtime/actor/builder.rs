//! [`ActorBuilder`]: starting an actor with a name, a priority, a batch
//! size and what a panic does; [`SpawnActor`] spells its `spawn::<A>`.

use std::panic::Location;

use super::address::Actor;
use super::behavior::Behavior;
use super::mailbox::{Mailbox, OnPanic, TurnOptions};
use super::scope::Scope;
use crate::runtime::affinity::Affinity;
use crate::runtime::handle::Handle;
use crate::runtime::owner::Owner;
use crate::runtime::task::options::Priority;

/// Messages an actor handles per turn by default before it yields.
pub const DEFAULT_BATCH: usize = 32;

impl Handle {
    /// A builder for an actor named `name` (its turns are tasks of that
    /// name, in traces and reports):
    /// `coro.actor("brain").priority(Priority::High).spawn::<Main>(brain)`.
    ///
    /// ```
    /// # use bevy_coro::prelude::*;
    /// # use bevy_coro::runtime::{Runtime, RuntimeConfig, behavior_fn, block_on};
    /// # let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    /// let counter: Actor<u32, u32> = runtime
    ///     .actor("counter")
    ///     .batch(8)
    ///     .spawn::<Worker>(behavior_fn(0u32, |count, n: u32| Box::pin(async move {
    ///         *count += n;
    ///         *count
    ///     })));
    /// for n in 1..=4 {
    ///     counter.send(n).unwrap();
    /// }
    /// assert_eq!(block_on(counter.ask(0)), Ok(10));
    /// ```
    pub fn actor(&self, name: &'static str) -> ActorBuilder<'_> {
        ActorBuilder {
            handle: self,
            name,
            priority: Priority::Normal,
            batch: DEFAULT_BATCH,
            on_panic: OnPanic::Continue,
            owner: None,
        }
    }
}

/// Starts an actor with options; made by [`Handle::actor`], spawned with
/// [`SpawnActor::spawn`].
#[must_use = "an actor builder starts nothing until `.spawn::<A>(state)`"]
#[derive(Debug, Clone)]
pub struct ActorBuilder<'a> {
    handle: &'a Handle,
    name: &'static str,
    priority: Priority,
    batch: usize,
    on_panic: OnPanic,
    owner: Option<Owner>,
}

impl ActorBuilder<'_> {
    /// The priority of the actor's turns; default [`Priority::Normal`]. A
    /// `High` actor with messages waiting runs before `Normal` tasks.
    pub fn priority(mut self, priority: Priority) -> Self {
        self.priority = priority;
        self
    }

    /// Messages handled per turn at most (default [`DEFAULT_BATCH`]); with
    /// more waiting, the actor then yields so other tasks run: a worker
    /// actor goes to the back of the queue, a main-thread actor waits for
    /// the next frame. `1` is the fairest, larger is faster.
    ///
    /// # Panics
    ///
    /// When `batch` is 0: the actor would never handle a message.
    #[track_caller]
    pub fn batch(mut self, batch: usize) -> Self {
        assert!(batch > 0, "bevy_coro: an actor's batch must be at least 1");
        self.batch = batch;
        self
    }

    /// What a handler's panic does; default [`OnPanic::Continue`].
    pub fn on_panic(mut self, on_panic: OnPanic) -> Self {
        self.on_panic = on_panic;
        self
    }

    /// Ties the actor to `owner`: the driver cancels the owner's tasks
    /// (see [`Handle::take_owned`]) and that stops the actor at once. In a
    /// Bevy app, `for_entity` does this.
    pub(crate) fn owned_by(mut self, owner: Owner) -> Self {
        self.owner = Some(owner);
        self
    }
}

/// Spawning an actor with the affinity as the only turbofish argument:
/// `coro.actor("brain").spawn::<Main>(brain)`, as tasks are spawned. The
/// prelude exports it.
pub trait SpawnActor<B, M, R> {
    /// Starts an actor whose state is `behavior`, and returns its first
    /// address. Its turns run with affinity `A`: [`Main`](crate::Main) for an
    /// actor that touches the World with every message (its turns run in the
    /// pump, no hop), [`Worker`](crate::Worker) for the rest. A handler may
    /// still hop with `.on::<A>()` or reach the World with `with_world`.
    ///
    /// The actor costs no task while idle: a turn is spawned when a
    /// message finds it idle, and ends when its queue is empty.
    fn spawn<A: Affinity>(self, behavior: B) -> Actor<M, R>;
}

impl<B, M, R> SpawnActor<B, M, R> for ActorBuilder<'_>
where
    B: Behavior<M, R>,
    M: Send + 'static,
    R: Send + 'static,
{
    #[track_caller]
    fn spawn<A: Affinity>(self, behavior: B) -> Actor<M, R> {
        let shared = &self.handle.shared;
        let location = Location::caller();
        let turns = TurnOptions {
            shared: shared.clone(),
            side: A::SIDE,
            name: self.name,
            priority: self.priority,
            location,
            batch: self.batch,
            on_panic: self.on_panic,
        };
        let (owner, name) = (self.owner, self.name);
        let mailbox = Mailbox::new(behavior, turns, |abort| {
            owner.map(|owner| Scope::new(shared, owner, name, location, abort))
        });
        Actor::new(mailbox)
    }
}
