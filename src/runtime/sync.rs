//! The atomics and cells used by the modules the loom models check
//! (`workers/park`, `workers/local_queue`, `task/cancel_handshake`,
//! `graveyard`, `task/raw`): std's here.
//! The models in `loom/` compile those same files against loom's types under
//! the same names.

pub(crate) use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering, fence};

/// `std::cell::UnsafeCell` with loom's interface: every access goes through
/// [`with_mut`](Self::with_mut), where loom's own cell checks that it
/// happens after the last one on another thread (a data race fails the
/// model). Here it compiles to the bare access.
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

impl<T> UnsafeCell<T> {
    pub(crate) const fn new(value: T) -> Self {
        UnsafeCell(std::cell::UnsafeCell::new(value))
    }

    /// Runs `f` on a pointer to the value; what `f` may do with it is the
    /// caller's to prove (a `// SAFETY:` comment at the call).
    #[inline(always)]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

/// How long an idle worker keeps looking for work before it sleeps (see
/// `park`). The loom models set it to zero: the looks add nothing to the
/// protocol they check, only states to explore.
pub(crate) const SPIN_BEFORE_PARK: std::time::Duration = std::time::Duration::from_micros(20);
