//! A sleep's count on its runtime, taken and given back with no atomic
//! operation in the common case.
//!
//! A sleep holds an `Arc<Shared>`: it may outlive its task (sent elsewhere,
//! kept in a struct), and its drop removes its timer from the runtime's wheel.
//! Cloning and dropping that `Arc` are two atomic read-modify-writes per
//! sleep, on a count every thread of the runtime shares. But a sleep is most
//! often made and dropped on one thread (inside one task), so each thread
//! keeps the counts its dropped sleeps give back, in a bank, and hands them
//! to the next sleeps made there. In a steady state (a game's timers made
//! and done frame after frame) no sleep touches the count at all.
//!
//! A bank holds the counts of one runtime at a time. It gives them all back
//! when the runtime shuts down on that thread, when the thread next gives
//! back a count of another runtime after this one shut down, and when the
//! thread ends; a sleep of a runtime that shut down gives its count straight
//! back. Until then a bank's counts only keep the runtime's memory (its
//! queues and wheel, emptied at shutdown) from being freed.

use std::cell::Cell;
use std::ptr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::runtime::Shared;

thread_local! {
    static BANK: Bank = const {
        Bank {
            shared: Cell::new(ptr::null()),
            counts: Cell::new(0),
        }
    };
}

/// Counts on one runtime that this thread owns.
struct Bank {
    /// The runtime whose counts these are; meaningful while `counts > 0`.
    shared: Cell<*const Shared>,
    /// Strong counts of `Arc<Shared>` kept here: each was an `Arc` whose
    /// drop was skipped (`Arc::into_raw`).
    counts: Cell<usize>,
}

impl Bank {
    /// Takes every count out, to be dropped by the caller outside the bank
    /// (dropping the last one drops the runtime, which may drop sleeps).
    fn empty(&self) -> (*const Shared, usize) {
        (self.shared.replace(ptr::null()), self.counts.replace(0))
    }
}

impl Drop for Bank {
    fn drop(&mut self) {
        let (shared, counts) = self.empty();
        drop_counts(shared, counts);
    }
}

fn drop_counts(shared: *const Shared, counts: usize) {
    for _ in 0..counts {
        // SAFETY: each count is one `Arc<Shared>` the bank took by
        // `Arc::into_raw` (in `give`) and still owns; decrementing it is
        // dropping that `Arc`.
        unsafe { Arc::decrement_strong_count(shared) };
    }
}

/// A count on `shared` for a sleep: one from this thread's bank, else a
/// clone.
#[inline]
pub(crate) fn take(shared: &Arc<Shared>) -> Arc<Shared> {
    let wanted = Arc::as_ptr(shared);
    // `try_with`: a sleep made by a thread-local's destructor clones.
    let banked = BANK
        .try_with(|bank| {
            let counts = bank.counts.get();
            let hit = counts > 0 && ptr::eq(bank.shared.get(), wanted);
            if hit {
                bank.counts.set(counts - 1);
            }
            hit
        })
        .unwrap_or(false);
    if banked {
        // SAFETY: the bank owned this count on `wanted` (an `Arc<Shared>`
        // given up by `Arc::into_raw` in `give`); it gave it up above, so
        // the `Arc` made here owns it instead.
        unsafe { Arc::from_raw(wanted) }
    } else {
        shared.clone()
    }
}

/// Gives a sleep's count back: into this thread's bank when it holds counts
/// of the same runtime or none, else dropped. A runtime that shut down gets
/// its counts back at once.
#[inline]
pub(super) fn give(shared: Arc<Shared>) {
    let given = Arc::as_ptr(&shared);
    let mut stale = (ptr::null(), 0);
    let kept = !shared.closed.load(Ordering::Relaxed)
        && BANK
            .try_with(|bank| {
                let counts = bank.counts.get();
                if counts > 0 && !ptr::eq(bank.shared.get(), given) {
                    // SAFETY: `counts > 0`, so the bank owns a count on its
                    // runtime, which is therefore alive.
                    let banked = unsafe { &*bank.shared.get() };
                    if !banked.closed.load(Ordering::Relaxed) {
                        // Keeps its runtime's counts; this one is dropped.
                        return false;
                    }
                    // That runtime shut down: its counts go, this one's come.
                    stale = bank.empty();
                }
                bank.shared.set(given);
                bank.counts.set(bank.counts.get() + 1);
                true
            })
            .unwrap_or(false);
    if kept {
        // The bank owns the count now (see `take`).
        let _ = Arc::into_raw(shared);
    } else {
        drop(shared);
    }
    drop_counts(stale.0, stale.1);
}

/// Gives back this thread's counts on `shared`, at its shutdown.
pub(crate) fn release(shared: &Shared) {
    let (banked, counts) = BANK
        .try_with(|bank| {
            if ptr::eq(bank.shared.get(), shared) {
                bank.empty()
            } else {
                (ptr::null(), 0)
            }
        })
        .unwrap_or((ptr::null(), 0));
    drop_counts(banked, counts);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::{Runtime, RuntimeConfig};

    fn banked() -> usize {
        BANK.with(|bank| bank.counts.get())
    }

    #[test]
    fn a_given_count_is_taken_again_and_released_at_shutdown() {
        let runtime = Runtime::new(RuntimeConfig {
            workers: 0,
            ..Default::default()
        })
        .unwrap();
        let shared = runtime.handle.shared.clone();
        let before = Arc::strong_count(&shared);
        let counts: Vec<_> = (0..10).map(|_| take(&shared)).collect();
        assert_eq!(Arc::strong_count(&shared), before + 10);
        counts.into_iter().for_each(give);
        assert_eq!(banked(), 10);
        assert_eq!(Arc::strong_count(&shared), before + 10, "kept in the bank");
        let again: Vec<_> = (0..4).map(|_| take(&shared)).collect();
        assert_eq!(banked(), 6);
        assert_eq!(Arc::strong_count(&shared), before + 10, "no new count");
        again.into_iter().for_each(give);
        drop(runtime);
        assert_eq!(banked(), 0, "the shutdown released the bank");
        assert_eq!(Arc::strong_count(&shared), 1, "only ours is left");
    }

    #[test]
    fn a_count_of_a_shut_down_runtime_makes_way() {
        let config = || RuntimeConfig {
            workers: 0,
            ..Default::default()
        };
        let first = Runtime::new(config()).unwrap();
        let second = Runtime::new(config()).unwrap();
        let a = first.handle.shared.clone();
        let b = second.handle.shared.clone();
        give(take(&a));
        assert_eq!(Arc::strong_count(&a), 3, "the runtime's, ours, the bank's");
        // Another runtime's count is dropped while the first runs.
        give(take(&b));
        assert_eq!(Arc::strong_count(&b), 2);
        assert_eq!(Arc::strong_count(&a), 3);
        // Shut down elsewhere: this thread's bank does not see it...
        std::thread::scope(|s| {
            s.spawn(|| drop(first));
        });
        assert_eq!(Arc::strong_count(&a), 2);
        // ...until the next count of another runtime comes back here.
        give(take(&b));
        assert_eq!(Arc::strong_count(&a), 1);
        assert_eq!(Arc::strong_count(&b), 3);
        assert_eq!(banked(), 1);
        drop(second);
        assert_eq!(Arc::strong_count(&b), 1);
        assert_eq!(banked(), 0);
    }
}
