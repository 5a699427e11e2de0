//! The atomics used by the modules the loom models check (`workers/park`,
//! `workers/local_queue`, `task/cancel_handshake`, `graveyard`): std's here.
//! The models in `loom/` compile those same files against loom's types under
//! the same names.

pub(crate) use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering, fence};

/// How long an idle worker keeps looking for work before it sleeps (see
/// `park`). The loom models set it to zero: the looks add nothing to the
/// protocol they check, only states to explore.
pub(crate) const SPIN_BEFORE_PARK: std::time::Duration = std::time::Duration::from_micros(20);
