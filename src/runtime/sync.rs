//! The atomics used by the modules the loom models check (`park`,
//! `cancel_slot`, `graveyard`): std's here. The models in `loom/` compile
//! those same files against loom's types under the same names.

pub(crate) use std::sync::atomic::{AtomicBool, Ordering, fence};
