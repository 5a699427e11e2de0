//! Awaiting the game: futures that resolve when something happens in the
//! World (a condition holds, ...), woken by the pump's once-a-frame check of
//! what they wait for instead of polling every frame; and the World cleanup
//! of a cancelled task.

mod cleanup;
pub(crate) mod slot;
mod until;
mod wait;
pub(crate) mod watchers;

pub use cleanup::on_cancel;
pub use until::{until, until_some};
pub use wait::{GameWait, GameWaitError};
