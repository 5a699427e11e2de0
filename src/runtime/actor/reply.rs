//! [`Reply`]: the answer to an [`ask`](super::Actor::ask), a one-shot slot
//! the actor fills.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use super::error::ActorError;

/// The slot an answer goes through.
struct Slot<R> {
    state: Mutex<State<R>>,
}

struct State<R> {
    answer: Option<Result<R, ActorError>>,
    waker: Option<Waker>,
}

impl<R> Slot<R> {
    fn lock(&self) -> MutexGuard<'_, State<R>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The answer to an [`ask`](super::Actor::ask): a future of
/// `Result<R, ActorError>`. Dropping it does not take the message back: the
/// actor still handles it, and its answer is dropped.
///
/// A system that cannot await polls it with [`Reply::try_take`] once per
/// frame.
#[must_use = "a `Reply` is the answer; the message is sent either way"]
pub struct Reply<R> {
    slot: Arc<Slot<R>>,
}

impl<R> Reply<R> {
    /// A reply and the sender that fills it.
    pub(crate) fn new() -> (Reply<R>, ReplySender<R>) {
        let slot = Arc::new(Slot {
            state: Mutex::new(State {
                answer: None,
                waker: None,
            }),
        });
        (
            Reply { slot: slot.clone() },
            ReplySender { slot: Some(slot) },
        )
    }

    /// A reply that is already `Err(error)`.
    pub(crate) fn failed(error: ActorError) -> Reply<R> {
        let (reply, sender) = Reply::new();
        sender.fail(error);
        reply
    }

    /// Takes the answer if it has come, without waiting. Returns `Some`
    /// once; after that, and while the actor has not answered, `None`.
    ///
    /// ```
    /// # use bevy_coro::prelude::*;
    /// # use bevy_coro::runtime::{Runtime, RuntimeConfig, behavior_fn};
    /// # use std::time::Instant;
    /// # let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    /// let double: Actor<u32, u32> = runtime
    ///     .actor("double")
    ///     .spawn::<Main>(behavior_fn((), |_, n: u32| Box::pin(async move { n * 2 })));
    /// let mut reply = double.ask(21);
    /// assert_eq!(reply.try_take(), None); // not handled yet
    /// runtime.pump(Instant::now(), None); // a main actor's turn runs in the pump
    /// assert_eq!(reply.try_take(), Some(Ok(42)));
    /// ```
    pub fn try_take(&mut self) -> Option<Result<R, ActorError>> {
        self.slot.lock().answer.take()
    }
}

impl<R> Future for Reply<R> {
    type Output = Result<R, ActorError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.slot.lock();
        if let Some(answer) = state.answer.take() {
            return Poll::Ready(answer);
        }
        match &mut state.waker {
            Some(waker) => waker.clone_from(cx.waker()),
            None => state.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl<R> fmt::Debug for Reply<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reply")
            .field("answered", &self.slot.lock().answer.is_some())
            .finish()
    }
}

/// The actor's end of a [`Reply`]. Dropped without an answer (the message
/// was dropped unhandled), it answers [`ActorError::Stopped`].
pub(crate) struct ReplySender<R> {
    slot: Option<Arc<Slot<R>>>,
}

impl<R> ReplySender<R> {
    /// Answers `value`.
    pub(crate) fn send(mut self, value: R) {
        self.fill(Ok(value));
    }

    /// Answers `error`.
    pub(crate) fn fail(mut self, error: ActorError) {
        self.fill(Err(error));
    }

    fn fill(&mut self, answer: Result<R, ActorError>) {
        let Some(slot) = self.slot.take() else {
            return;
        };
        let waker = {
            let mut state = slot.lock();
            state.answer = Some(answer);
            state.waker.take()
        };
        // Woken with no lock held: the waiter may run at once, on this thread.
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<R> Drop for ReplySender<R> {
    fn drop(&mut self) {
        self.fill(Err(ActorError::Stopped));
    }
}
