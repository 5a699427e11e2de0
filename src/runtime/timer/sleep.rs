//! The awaitables of time: [`sleep`], [`sleep_until`] and [`timeout`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use super::clock::Instant;

use super::Filed;
use crate::runtime::Shared;
use crate::runtime::diag::task_list::{self, Note};
use crate::runtime::task::context::with_current_task;

/// Waits for `duration` on the runtime's clock (real time, or the game's
/// virtual time under `CoroClock::Virtual`). The time counts from the call
/// when made inside a task (the usual case), else from the first poll.
/// `Duration::MAX` never elapses.
///
/// ```
/// # use bevy_coro::prelude::*;
/// # use std::time::Duration;
/// # async fn example() {
/// sleep(Duration::from_millis(250)).await;
/// # }
/// ```
///
/// # Panics
///
/// When polled outside a bevy_coro task (there is no clock to follow).
pub fn sleep(duration: Duration) -> Sleep {
    let mut sleep = Sleep {
        target: Target::After(duration),
        shared: None,
        filed: None,
    };
    with_current_task(|task| {
        if let Some(task) = task {
            sleep.resolve(task.shared.to_arc());
        }
    });
    sleep
}

/// Waits until `deadline` on the runtime's clock; a deadline already past
/// completes at once. Read the clock with
/// [`Handle::now`](crate::runtime::Handle::now), which also works under a
/// manual or virtual clock.
///
/// # Panics
///
/// When polled outside a bevy_coro task.
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        target: Target::At(deadline),
        shared: None,
        filed: None,
    }
}

enum Target {
    After(Duration),
    At(Instant),
    /// Nanoseconds on the runtime's clock; `None`: never.
    Nanos(Option<u64>),
}

/// The future returned by [`sleep`] and [`sleep_until`].
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
    target: Target,
    shared: Option<Arc<Shared>>,
    /// The filed timer, if any.
    filed: Option<Timer>,
}

/// A sleep's timer on the wheel, and which waker it was filed with.
#[derive(Clone, Copy)]
struct Timer {
    filed: Filed,
    /// The filed waker's data and vtable addresses: a poll with a waker
    /// that has both (the same task's, as a rule) keeps the timer as it is,
    /// with no lock taken. Compared only, never followed; while the timer is
    /// filed, the wheel's clone keeps that waker's data alive, so no other
    /// waker can have the same addresses.
    waker: (usize, usize),
}

impl Timer {
    fn new(filed: Filed, waker: &Waker) -> Self {
        Timer {
            filed,
            waker: identity(waker),
        }
    }
}

fn identity(waker: &Waker) -> (usize, usize) {
    (
        waker.data() as usize,
        std::ptr::from_ref(waker.vtable()) as usize,
    )
}

impl Sleep {
    /// A sleep until `deadline` nanoseconds on `shared`'s clock.
    pub(crate) fn at(shared: Arc<Shared>, deadline: u64) -> Sleep {
        Sleep {
            target: Target::Nanos(Some(deadline)),
            shared: Some(shared),
            filed: None,
        }
    }

    /// Fixes the deadline on `shared`'s clock.
    fn resolve(&mut self, shared: Arc<Shared>) -> Option<u64> {
        let deadline = match self.target {
            Target::After(duration) => u64::try_from(duration.as_nanos())
                .ok()
                .and_then(|d| shared.timers.now().checked_add(d)),
            Target::At(instant) => shared.timers.nanos_at(instant),
            Target::Nanos(deadline) => deadline,
        };
        self.target = Target::Nanos(deadline);
        self.shared = Some(shared);
        deadline
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let deadline = match (&self.target, &self.shared) {
            (Target::Nanos(deadline), Some(_)) => *deadline,
            _ => {
                let shared = with_current_task(|task| task.map(|task| task.shared.to_arc()))
                    .expect("bevy_coro: `sleep` was awaited outside a bevy_coro task");
                self.resolve(shared)
            }
        };
        // `None`: never elapses, and needs no timer.
        let Some(deadline) = deadline else {
            task_list::note(Note::Timer(u64::MAX));
            return Poll::Pending;
        };
        let this = &mut *self;
        let timers = &this.shared.as_ref().expect("resolved above").timers;
        if timers.now() >= deadline {
            if let Some(timer) = this.filed.take()
                && !timers.has_fired(timer.filed.tick)
            {
                timers.remove(timer.filed.key);
            }
            return Poll::Ready(());
        }
        let waker = cx.waker();
        let filed = match this.filed {
            // Still filed, with this very waker: nothing to update, no lock.
            Some(timer)
                if !timers.has_fired(timer.filed.tick) && timer.waker == identity(waker) =>
            {
                true
            }
            // Still filed: a fresh waker. Fired early (the tick began before
            // the deadline): file again below for the next tick.
            Some(timer) => timers
                .refresh(timer.filed.key, waker)
                .then(|| {
                    this.filed = Some(Timer::new(timer.filed, waker));
                })
                .is_some(),
            None => false,
        };
        if !filed {
            let filed = timers.insert(deadline, waker.clone());
            this.filed = Some(Timer::new(filed, waker));
            // Filed after the deadline's tick, which the wheel had passed: the
            // clock may have passed the deadline too, between the read above
            // and the filing (a worker preempted there), and a manual clock
            // may never reach the tick it went to. Read again.
            if filed.late && timers.now() >= deadline {
                if let Some(timer) = this.filed.take() {
                    timers.remove(timer.filed.key);
                }
                return Poll::Ready(());
            }
        }
        task_list::note(Note::Timer(deadline));
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let (Some(timer), Some(shared)) = (self.filed, &self.shared)
            && !shared.timers.has_fired(timer.filed.tick)
        {
            shared.timers.remove(timer.filed.key);
        }
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("filed", &self.filed.is_some())
            .finish()
    }
}

/// Runs `future` for at most `duration`: its output, or [`Elapsed`] once the
/// time is up, in which case the future is dropped at once.
///
/// ```
/// # use bevy_coro::prelude::*;
/// # use std::time::Duration;
/// # async fn example() {
/// match timeout(Duration::from_secs(2), std::future::pending::<()>()).await {
///     Ok(()) => {}
///     Err(Elapsed) => println!("gave up after 2 s"),
/// }
/// # }
/// ```
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    Timeout {
        future: Some(future),
        sleep: sleep(duration),
    }
}

/// The future returned by [`timeout`].
#[must_use = "futures do nothing unless awaited"]
pub struct Timeout<F> {
    future: Option<F>,
    sleep: Sleep,
}

/// The error of a [`timeout`] whose time ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed;

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `future` is structurally pinned: it is never moved, and it is
        // dropped in place (by `Pin::set` below, or with `self`). `sleep` is
        // `Unpin` and is not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: see above.
        let mut future = unsafe { Pin::new_unchecked(&mut this.future) };
        let inner = future
            .as_mut()
            .as_pin_mut()
            .expect("`Timeout` polled after it completed");
        if let Poll::Ready(output) = inner.poll(cx) {
            future.set(None);
            return Poll::Ready(Ok(output));
        }
        if Pin::new(&mut this.sleep).poll(cx).is_ready() {
            future.set(None);
            return Poll::Ready(Err(Elapsed));
        }
        Poll::Pending
    }
}
