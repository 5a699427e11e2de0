//! A one-shot slot between a watcher, which fills it when the game does what
//! a task waits for, and the waiting task.
//!
//! The watcher keeps the [`Fill`] end in its registry; the task awaits the
//! [`Wait`] end. A `Wait` dropped first (its task cancelled) marks the slot
//! abandoned and counts it on the registry's [`Abandoned`] counter, so the
//! registry prunes its dead entries in bulk instead of scanning every frame.
//! A `Fill` dropped unfilled (its watcher gone: the App dropped, the entity
//! despawned) ends the wait with [`Closed`].

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

/// The watcher dropped its end without filling it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Closed;

enum State<T> {
    Waiting(Option<Waker>),
    Filled(T),
    Taken,
    Closed,
    Abandoned,
}

struct Slot<T> {
    state: Mutex<State<T>>,
}

impl<T> Slot<T> {
    fn lock(&self) -> std::sync::MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Counts the waits of one registry abandoned since it last pruned.
#[derive(Clone, Default)]
pub(crate) struct Abandoned(Arc<AtomicUsize>);

impl Abandoned {
    /// Whether the registry, holding `len` entries, should drop its
    /// abandoned ones now: once they are half of it, so pruning costs O(1)
    /// per abandoned wait. Takes the counts it saw when it says yes.
    #[allow(dead_code)] // Used by the watchers that keep waits by key.
    pub(crate) fn should_prune(&self, len: usize) -> bool {
        let abandoned = self.0.load(Ordering::Relaxed);
        if abandoned > 0 && abandoned * 2 >= len {
            // Not a store of 0: a wait a worker abandons between the load
            // and here keeps its count (the prune may take it anyway: one
            // early prune later, not a wait kept for good). With a store,
            // the last such wait of a registry was never pruned
            // (`waits_cancelled_from_workers_mid_hop_leave_nothing_registered`
            // failed once in CI, one wait left).
            self.0.fetch_sub(abandoned, Ordering::Relaxed);
            true
        } else {
            false
        }
    }

    /// Counts one more abandoned wait (for a wait that is not a slot: a
    /// message inbox dropped by its reader).
    pub(crate) fn bump(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// A new slot: the watcher's end and the task's. `abandoned` is the
/// registry's counter, bumped if the task gives up first.
pub(crate) fn slot<T>(abandoned: &Abandoned) -> (Fill<T>, Wait<T>) {
    let slot = Arc::new(Slot {
        state: Mutex::new(State::Waiting(None)),
    });
    (
        Fill(Some(slot.clone())),
        Wait {
            slot,
            abandoned: abandoned.clone(),
        },
    )
}

/// The watcher's end of a slot.
pub(crate) struct Fill<T>(Option<Arc<Slot<T>>>);

impl<T> Fill<T> {
    /// Gives the waiting task `value` and wakes it. `Err(value)` if the task
    /// gave up waiting.
    pub(crate) fn fill(mut self, value: T) -> Result<(), T> {
        let slot = self.0.take().expect("a Fill is filled once");
        let mut state = slot.lock();
        let waker = match &mut *state {
            State::Waiting(waker) => waker.take(),
            _ => return Err(value),
        };
        *state = State::Filled(value);
        drop(state);
        // Woken with no lock held: a wake may run the task's schedule.
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }

    /// Whether the task gave up waiting (the registry may drop this entry).
    pub(crate) fn is_abandoned(&self) -> bool {
        self.0
            .as_ref()
            .is_none_or(|slot| matches!(*slot.lock(), State::Abandoned))
    }
}

impl<T> Drop for Fill<T> {
    fn drop(&mut self) {
        let Some(slot) = self.0.take() else { return };
        let mut state = slot.lock();
        let State::Waiting(waker) = &mut *state else {
            return;
        };
        let waker = waker.take();
        *state = State::Closed;
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// The task's end of a slot: resolves with the value, or [`Closed`].
pub(crate) struct Wait<T> {
    slot: Arc<Slot<T>>,
    abandoned: Abandoned,
}

impl<T> Future for Wait<T> {
    type Output = Result<T, Closed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T, Closed>> {
        let mut state = self.slot.lock();
        match &mut *state {
            State::Waiting(waker) => {
                if !waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    let old = waker.replace(cx.waker().clone());
                    drop(state);
                    drop(old);
                }
                Poll::Pending
            }
            State::Filled(_) => match std::mem::replace(&mut *state, State::Taken) {
                State::Filled(value) => Poll::Ready(Ok(value)),
                _ => unreachable!("matched Filled above"),
            },
            State::Closed => Poll::Ready(Err(Closed)),
            State::Taken | State::Abandoned => panic!("a game wait was polled after it completed"),
        }
    }
}

impl<T> Drop for Wait<T> {
    fn drop(&mut self) {
        let mut state = self.slot.lock();
        if let State::Waiting(waker) = &mut *state {
            let waker = waker.take();
            *state = State::Abandoned;
            drop(state);
            drop(waker);
            self.abandoned.bump();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    fn poll<T>(wait: &mut Wait<T>) -> Poll<Result<T, Closed>> {
        Pin::new(wait).poll(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn a_filled_slot_gives_its_value_once() {
        let abandoned = Abandoned::default();
        let (fill, mut wait) = slot(&abandoned);
        assert!(poll(&mut wait).is_pending());
        assert!(fill.fill(7).is_ok());
        assert_eq!(poll(&mut wait), Poll::Ready(Ok(7)));
        drop(wait);
        assert!(!abandoned.should_prune(1));
    }

    #[test]
    fn a_fill_dropped_unfilled_closes_the_wait() {
        let (fill, mut wait) = slot::<u8>(&Abandoned::default());
        drop(fill);
        assert_eq!(poll(&mut wait), Poll::Ready(Err(Closed)));
    }

    #[test]
    fn an_abandoned_wait_refuses_its_value_and_is_counted() {
        let abandoned = Abandoned::default();
        let (fill, wait) = slot(&abandoned);
        drop(wait);
        assert!(fill.is_abandoned());
        assert_eq!(fill.fill(1), Err(1));
        assert!(abandoned.should_prune(2));
        assert!(!abandoned.should_prune(2), "reset once it said yes");
    }
}
