//! Awaiting the game: futures that resolve when something happens in the
//! World (a condition holds, a message is written, an event triggered, ...),
//! woken by the pump's once-a-frame check of what they wait for, or by an
//! observer, instead of polling every frame; and the World cleanup of a
//! cancelled task.

mod cleanup;
mod entity_events;
mod events;
mod inbox;
mod messages;
pub(crate) mod slot;
mod until;
mod wait;
pub(crate) mod watchers;

pub use cleanup::on_cancel;
pub use entity_events::triggered_on;
pub use events::triggered;
pub use inbox::{MessageInbox, MissedMessages, messages};
pub use messages::{next_message, next_message_where};
pub use until::{until, until_some};
pub use wait::{GameWait, GameWaitError};
