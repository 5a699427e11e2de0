//! The Bevy layer: the plugin, the [`Coro`](coro::Coro) resource, tasks tied
//! to entities, `Commands` extensions and [`with_world`](world::with_world),
//! over the Bevy-free [`runtime`](crate::runtime).

pub(crate) mod actor;
pub(crate) mod commands;
pub(crate) mod config;
pub(crate) mod coro;
#[cfg(feature = "diagnostics")]
pub(crate) mod diagnostics;
pub(crate) mod entity;
pub(crate) mod frame_points;
pub(crate) mod game;
pub(crate) mod plugin;
#[cfg(feature = "state")]
pub(crate) mod state;
pub(crate) mod world;
