//! [`Behavior`]: what an actor does with a message; [`behavior_fn`] for an
//! actor written as a closure.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

/// What an actor does with each message of type `M`, answering `R` (the
/// answer [`Actor::ask`](super::Actor::ask) waits for; `()` by default). The
/// actor's state is the type that implements it: `handle` gets it as
/// `&mut self`, for the whole message, awaits included, with no lock: the
/// actor handles one message at a time, so nothing else can reach it.
///
/// Write `handle` as an `async fn`. It may await anything a task can (hops,
/// [`with_world`](crate::with_world), timers, game waits); the future must be
/// `Send`, since a turn may run on a worker and hop.
///
/// ```
/// use bevy_coro::prelude::*;
/// use bevy_coro::runtime::{Behavior, Runtime, RuntimeConfig, block_on};
///
/// #[derive(Default)]
/// struct Wallet { coins: u32 }
///
/// enum Coins { Earn(u32), Spend(u32) }
///
/// impl Behavior<Coins, bool> for Wallet {
///     async fn handle(&mut self, msg: Coins) -> bool {
///         match msg {
///             Coins::Earn(n) => { self.coins += n; true }
///             Coins::Spend(n) if n <= self.coins => { self.coins -= n; true }
///             Coins::Spend(_) => false,
///         }
///     }
/// }
///
/// let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
/// let wallet: Actor<Coins, bool> = runtime.actor("wallet").spawn::<Worker>(Wallet::default());
/// wallet.send(Coins::Earn(10)).unwrap();
/// assert_eq!(block_on(wallet.ask(Coins::Spend(25))), Ok(false));
/// assert_eq!(block_on(wallet.ask(Coins::Spend(4))), Ok(true));
/// ```
///
/// Why a trait and not an `async` closure: a closure's future that borrows
/// the state (`async |state: &mut S, msg| ..`) cannot be required to be
/// `Send` on stable Rust, and a worker actor needs that. A trait method
/// returning `impl Future + Send` can, costs no allocation per message, and
/// `async fn` reads like the rest of the game's code. For small actors,
/// [`behavior_fn`] takes a closure that boxes its future.
pub trait Behavior<M, R = ()>: Send + 'static {
    /// Handles one message. The next message of the actor is handled once
    /// this future has finished.
    fn handle(&mut self, msg: M) -> impl Future<Output = R> + Send;
}

/// A boxed handler future borrowing the state for `'a`: what the closure of
/// [`behavior_fn`] returns.
pub type HandlerFuture<'a, R> = Pin<Box<dyn Future<Output = R> + Send + 'a>>;

/// An actor written as a state and a closure: `handler(&mut state, msg)`
/// returns a boxed future (`Box::pin(async move { .. })`), which may use the
/// state across its awaits. One allocation per message; implement
/// [`Behavior`] on the state to spare it.
///
/// ```
/// use bevy_coro::prelude::*;
/// use bevy_coro::runtime::{Runtime, RuntimeConfig, behavior_fn, block_on};
///
/// let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
/// let total: Actor<u32, u32> = runtime.actor("total").spawn::<Worker>(behavior_fn(
///     0u32,
///     |total, n: u32| Box::pin(async move {
///         yield_now().await; // the state stays ours across awaits
///         *total += n;
///         *total
///     }),
/// ));
/// total.send(1).unwrap();
/// assert_eq!(block_on(total.ask(2)), Ok(3));
/// ```
pub fn behavior_fn<S, M, R, F>(state: S, handler: F) -> FnBehavior<S, F, M, R>
where
    F: for<'a> FnMut(&'a mut S, M) -> HandlerFuture<'a, R>,
{
    FnBehavior {
        state,
        handler,
        _message: PhantomData,
    }
}

/// A state and its handler closure, made by [`behavior_fn`].
pub struct FnBehavior<S, F, M, R> {
    state: S,
    handler: F,
    /// Names the message and answer types for the `Behavior` impl; the
    /// actor holds no `M` or `R` here, so this is `Send` and `Sync` alone.
    _message: PhantomData<fn(M) -> R>,
}

impl<S, F, M, R> Behavior<M, R> for FnBehavior<S, F, M, R>
where
    S: Send + 'static,
    F: for<'a> FnMut(&'a mut S, M) -> HandlerFuture<'a, R> + Send + 'static,
    M: 'static,
    R: 'static,
{
    fn handle(&mut self, msg: M) -> impl Future<Output = R> + Send {
        (self.handler)(&mut self.state, msg)
    }
}

impl<S: fmt::Debug, F, M, R> fmt::Debug for FnBehavior<S, F, M, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FnBehavior")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}
