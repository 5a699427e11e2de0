//! Awaiting the game: futures that resolve when something happens in the
//! World (a condition holds, a message is written, an event triggered, ...),
//! woken by the pump's once-a-frame check of what they wait for, or by an
//! observer, instead of polling every frame; and the World cleanup of a
//! cancelled task.

#[cfg(feature = "asset")]
mod assets;
mod cleanup;
mod component_waits;
mod components;
mod despawn;
mod entity_events;
mod events;
mod inbox;
mod messages;
pub(crate) mod slot;
#[cfg(feature = "state")]
mod states;
mod until;
mod wait;
pub(crate) mod watchers;

#[cfg(feature = "asset")]
pub use assets::loaded;
pub use cleanup::on_cancel;
pub use components::{added, changed, despawned, removed};
pub use entity_events::triggered_on;
pub use events::triggered;
pub use inbox::{MessageInbox, MissedMessages, messages};
pub use messages::{next_message, next_message_where};
#[cfg(feature = "state")]
pub use states::{state_entered, state_exited};
pub use until::{until, until_some};
pub use wait::{GameWait, GameWaitError};
