//! Counts on a runtime (`Arc<Shared>`), taken and given back with no atomic
//! operation in the common case.
//!
//! Every task's header holds one, and so does a sleep (it may outlive its
//! task, and its drop removes its timer from the runtime's wheel). Cloning
//! and dropping an `Arc` are two atomic read-modify-writes, on a count every
//! thread of the runtime shares: a task spawned on the main thread and freed
//! on a worker moved that count's cache line between the two cores twice.
//! So each thread keeps counts in a bank. A count given back (a task freed,
//! a sleep dropped) goes into this thread's bank; a count taken comes out of
//! it. A sleep is most often made and dropped on one thread, so in a steady
//! state no sleep touches the shared count at all. Tasks flow one way (made
//! on one thread, freed on another), so an empty bank takes [`REFILL`]
//! counts at once, and a bank past [`KEPT_MAX`] gives half of them back at
//! once: the shared count's line moves once per batch, not twice per task.
//!
//! A bank holds the counts of one runtime at a time. It gives them all back
//! when the runtime shuts down on that thread, when the thread next takes or
//! gives back a count of another runtime after this one shut down, and when
//! the thread ends; a count of a runtime that shut down goes straight back.
//! Until then a bank's counts only keep the runtime's memory (its queues and
//! wheel, emptied at shutdown) from being freed.

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
    /// drop was skipped (`Arc::into_raw`), or one taken by a refill.
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
        // SAFETY: each count is one `Arc<Shared>` the bank owns (given up
        // by `Arc::into_raw` in `give`, or taken by `take`'s refill);
        // decrementing it is dropping that `Arc`.
        unsafe { Arc::decrement_strong_count(shared) };
    }
}

/// Counts an empty bank takes at once.
const REFILL: usize = 32;
/// Counts a bank keeps; one more, and half of them go back.
const KEPT_MAX: usize = 256;

/// A count on `shared`: one from this thread's bank; when the bank is
/// empty, [`REFILL`] counts taken at once, one of them this.
#[inline]
pub(crate) fn take(shared: &Arc<Shared>) -> Arc<Shared> {
    let wanted = Arc::as_ptr(shared);
    // The common case inline (a sleep or a spawn: a few loads and a store);
    // the rest, once a batch, out of line (inlined whole, it took a sleep's
    // insert out of line with it: 938 instructions a timer against 892).
    let hit = BANK
        .try_with(|bank| {
            let counts = bank.counts.get();
            let hit = counts > 0 && ptr::eq(bank.shared.get(), wanted);
            if hit {
                bank.counts.set(counts - 1);
            }
            hit
        })
        .unwrap_or(false);
    if hit {
        // SAFETY: the bank owned this count on `wanted`; it gave it up
        // above, so the `Arc` made here owns it instead.
        unsafe { Arc::from_raw(wanted) }
    } else {
        take_slow(shared)
    }
}

/// [`take`] from an empty bank, or one holding another runtime's counts.
#[cold]
#[inline(never)]
fn take_slow(shared: &Arc<Shared>) -> Arc<Shared> {
    let wanted = Arc::as_ptr(shared);
    let mut stale = (ptr::null(), 0);
    // `try_with`: a count taken by a thread-local's destructor clones.
    let banked = BANK
        .try_with(|bank| {
            let mut counts = bank.counts.get();
            if counts > 0 && !ptr::eq(bank.shared.get(), wanted) {
                // SAFETY: `counts > 0`, so the bank owns a count on its
                // runtime, which is therefore alive.
                if unsafe { &*bank.shared.get() }
                    .closed
                    .load(Ordering::Relaxed)
                {
                    // That runtime shut down: its counts go.
                    stale = bank.empty();
                    counts = 0;
                }
            }
            if counts == 0 && !shared.closed.load(Ordering::Relaxed) {
                // Taken together while this core holds the count's line.
                for _ in 0..REFILL - 1 {
                    // SAFETY: `shared` is a live `Arc`; each increment is
                    // one `Arc` the bank owns from here on (see `give`).
                    unsafe { Arc::increment_strong_count(wanted) };
                }
                bank.shared.set(wanted);
                bank.counts.set(REFILL - 1);
                // Cloned below, the count this caller takes.
                return false;
            }
            let hit = counts > 0 && ptr::eq(bank.shared.get(), wanted);
            if hit {
                bank.counts.set(counts - 1);
            }
            hit
        })
        .unwrap_or(false);
    drop_counts(stale.0, stale.1);
    if banked {
        // SAFETY: the bank owned this count on `wanted`; it gave it up
        // above, so the `Arc` made here owns it instead.
        unsafe { Arc::from_raw(wanted) }
    } else {
        shared.clone()
    }
}

/// Gives a count back: into this thread's bank when it holds counts of the
/// same runtime or none (past [`KEPT_MAX`], half the bank's go back to the
/// runtime), else dropped. A runtime that shut down gets its counts back at
/// once.
#[inline]
pub(crate) fn give(shared: Arc<Shared>) {
    let given = Arc::as_ptr(&shared);
    // The common case inline, as in `take`: a bank of this runtime's
    // counts with room for one more, the runtime running.
    let kept = BANK
        .try_with(|bank| {
            let counts = bank.counts.get();
            let room = counts > 0 && counts < KEPT_MAX && ptr::eq(bank.shared.get(), given);
            if room && !shared.closed.load(Ordering::Relaxed) {
                bank.counts.set(counts + 1);
                return true;
            }
            false
        })
        .unwrap_or(false);
    if kept {
        // The bank owns the count now (see `take`).
        let _ = Arc::into_raw(shared);
    } else {
        give_slow(shared);
    }
}

/// [`give`] to an empty or full bank, one of another runtime, or for a
/// runtime that shut down.
#[cold]
#[inline(never)]
fn give_slow(shared: Arc<Shared>) {
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
                let counts = bank.counts.get() + 1;
                if counts > KEPT_MAX {
                    // Dropped below, together, outside the bank.
                    stale = (given, KEPT_MAX / 2);
                    bank.counts.set(counts - KEPT_MAX / 2);
                } else {
                    bank.counts.set(counts);
                }
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

    fn runtime() -> Runtime {
        Runtime::new(RuntimeConfig {
            workers: 0,
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn an_empty_bank_takes_a_batch_and_shutdown_releases_it() {
        let runtime = runtime();
        let shared = runtime.handle.shared.clone();
        let before = Arc::strong_count(&shared);
        let counts: Vec<_> = (0..10).map(|_| take(&shared)).collect();
        assert_eq!(Arc::strong_count(&shared), before + REFILL, "one batch");
        assert_eq!(banked(), REFILL - 10);
        counts.into_iter().for_each(give);
        assert_eq!(banked(), REFILL);
        assert_eq!(
            Arc::strong_count(&shared),
            before + REFILL,
            "kept in the bank"
        );
        let again: Vec<_> = (0..4).map(|_| take(&shared)).collect();
        assert_eq!(Arc::strong_count(&shared), before + REFILL, "no new count");
        again.into_iter().for_each(give);
        drop(runtime);
        assert_eq!(banked(), 0, "the shutdown released the bank");
        assert_eq!(Arc::strong_count(&shared), 1, "only ours is left");
    }

    /// Counts taken on one thread and given back on another (a task made on
    /// the main thread, freed on a worker): every count is accounted for,
    /// and neither bank holds more than `KEPT_MAX`.
    #[test]
    fn counts_flowing_between_threads_stay_bounded_and_counted() {
        let runtime = runtime();
        let shared = runtime.handle.shared.clone();
        let before = Arc::strong_count(&shared);
        let (send, receive) = std::sync::mpsc::sync_channel::<Arc<Shared>>(64);
        let giver = std::thread::spawn(move || {
            let mut most = 0;
            for count in receive {
                give(count);
                most = most.max(banked());
            }
            (most, banked())
        });
        let mut taken_most = 0;
        for _ in 0..10 * KEPT_MAX {
            send.send(take(&shared)).unwrap();
            taken_most = taken_most.max(banked());
        }
        drop(send);
        let (given_most, left_there) = giver.join().unwrap();
        assert!(taken_most < REFILL, "the taking bank holds at most a batch");
        assert!(given_most <= KEPT_MAX, "{given_most} counts kept");
        assert!(left_there >= KEPT_MAX / 2, "the giving bank kept its half");
        // The giving thread ended: its bank went back. Ours holds the rest.
        assert_eq!(Arc::strong_count(&shared), before + banked());
        drop(runtime);
        assert_eq!(Arc::strong_count(&shared), 1);
    }

    #[test]
    fn a_count_of_a_shut_down_runtime_makes_way() {
        let first = runtime();
        let second = runtime();
        let a = first.handle.shared.clone();
        let b = second.handle.shared.clone();
        let (a_before, b_before) = (Arc::strong_count(&a), Arc::strong_count(&b));
        give(take(&a));
        assert_eq!(Arc::strong_count(&a), a_before + REFILL);
        assert_eq!(banked(), REFILL);
        // Another runtime's count is cloned and dropped while the first runs.
        give(take(&b));
        assert_eq!(Arc::strong_count(&b), b_before);
        assert_eq!(Arc::strong_count(&a), a_before + REFILL);
        // Shut down elsewhere: this thread's bank does not see it...
        std::thread::scope(|s| {
            s.spawn(|| drop(first));
        });
        assert_eq!(Arc::strong_count(&a), 1 + REFILL, "ours and the bank's");
        // ...until the next count of another runtime is taken here.
        let count = take(&b);
        assert_eq!(Arc::strong_count(&a), 1);
        assert_eq!(Arc::strong_count(&b), b_before + REFILL);
        give(count);
        assert_eq!(banked(), REFILL);
        drop(second);
        assert_eq!(Arc::strong_count(&b), 1);
        assert_eq!(banked(), 0);
    }
}
