//! The task's reference on its runtime.

use std::mem::ManuallyDrop;
use std::sync::Arc;

use crate::runtime::Shared;

/// The runtime of a task: the one `Arc<Shared>` count a task holds. It sits
/// in the header, so the schedule function captures nothing and is not
/// stored. Taken from and given back to the thread's bank of counts (see
/// `runtime::bank`), so a spawn and a free touch no shared count as a rule.
pub(crate) struct SharedRef(ManuallyDrop<Arc<Shared>>);

impl Drop for SharedRef {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: taken once, here, and never used again.
        crate::runtime::bank::give(unsafe { ManuallyDrop::take(&mut self.0) });
    }
}

impl std::ops::Deref for SharedRef {
    type Target = Shared;

    #[inline]
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl SharedRef {
    /// The task's count, from this thread's bank (see `runtime::bank`).
    #[inline]
    pub(super) fn new(shared: &Arc<Shared>) -> Self {
        SharedRef(ManuallyDrop::new(crate::runtime::bank::take(shared)))
    }

    /// A counted reference, for what may outlive the task (sleeps, handles).
    pub(crate) fn to_arc(&self) -> Arc<Shared> {
        Arc::clone(&self.0)
    }

    /// A counted reference for a sleep, from this thread's bank of them
    /// when it has one (see `runtime::bank`).
    pub(crate) fn to_banked(&self) -> Arc<Shared> {
        crate::runtime::bank::take(&self.0)
    }
}
