//! What goes wrong between an actor and its senders: [`SendError`] and
//! [`ActorError`].

use std::fmt;

/// A message the actor refused because it has stopped; the message is
/// given back, never silently dropped.
///
/// ```
/// # use bevy_coro::prelude::*;
/// # use bevy_coro::runtime::{Runtime, RuntimeConfig, SendError, behavior_fn};
/// # let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
/// let log: Actor<String> = runtime
///     .actor("log")
///     .spawn::<Worker>(behavior_fn((), |_, line: String| Box::pin(async move { println!("{line}") })));
/// log.stop();
/// let SendError(line) = log.send("too late".to_owned()).unwrap_err();
/// assert_eq!(line, "too late");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SendError<M>(pub M);

impl<M> fmt::Debug for SendError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

impl<M> fmt::Display for SendError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the actor has stopped; the message was given back")
    }
}

impl<M> std::error::Error for SendError<M> {}

/// Why an [`ask`](super::Actor::ask) got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActorError {
    /// The actor had stopped, or stopped at once (`stop_now`, its entity
    /// despawned, the runtime shut down) before it handled the message.
    Stopped,
    /// The handler panicked on this message; this is the panic message.
    Panicked(String),
}

impl fmt::Display for ActorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ActorError::Stopped => f.write_str("the actor stopped before handling the message"),
            ActorError::Panicked(message) => write!(f, "the actor's handler panicked: {message}"),
        }
    }
}

impl std::error::Error for ActorError {}
