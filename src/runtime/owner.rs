//! [`Owner`]: what a task spawned with an owner is tied to, as its driver
//! knows it; the scheduler only hands the pair to the driver
//! ([`Handle::take_owned`](crate::runtime::Handle::take_owned)).

use std::any::Any;
use std::fmt;
use std::sync::Arc;

/// What a task is tied to, for the driver to cancel it when the owner goes:
/// listed with the task by [`Handle::take_owned`](crate::runtime::Handle::take_owned).
/// The scheduler gives it no meaning.
///
/// ```
/// # use bevy_coro::runtime::Owner;
/// let owner = Owner::Key(42);
/// assert!(matches!(owner, Owner::Key(42)));
/// ```
#[derive(Clone)]
pub enum Owner {
    /// A key the driver knows its owners by (in a Bevy app: an entity's bits).
    Key(u64),
    /// A value the driver made (in a Bevy app: how to tie the task to a game
    /// state), to downcast.
    Value(Arc<dyn Any + Send + Sync>),
}

impl fmt::Debug for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Owner::Key(key) => f.debug_tuple("Key").field(key).finish(),
            Owner::Value(_) => f.debug_tuple("Value").finish_non_exhaustive(),
        }
    }
}
