//! Awaiting the game: futures that resolve when something happens in the
//! World (a condition holds, ...), woken by the pump's once-a-frame check of
//! what they wait for instead of polling every frame.

#[cfg(feature = "asset")]
mod assets;
mod component_waits;
mod components;
mod despawn;
pub(crate) mod slot;
#[cfg(feature = "state")]
mod states;
mod until;
mod wait;
pub(crate) mod watchers;

#[cfg(feature = "asset")]
pub use assets::loaded;
pub use components::{added, changed, despawned, removed};
#[cfg(feature = "state")]
pub use states::{state_entered, state_exited};
pub use until::{until, until_some};
pub use wait::{GameWait, GameWaitError};
