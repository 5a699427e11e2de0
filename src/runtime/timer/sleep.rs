//! The awaitables of time: [`sleep`], [`sleep_until`] and [`timeout`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::ptr;
use std::sync::Arc;
use std::task::{Context, Poll, RawWakerVTable, Waker};
use std::time::Duration;

use super::clock::Instant;

use super::TimerKey;
use crate::runtime::Shared;
use crate::runtime::bank;
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
#[inline]
pub fn sleep(duration: Duration) -> Sleep {
    with_current_task(|task| match task {
        Some(task) => {
            let shared = task.shared.to_banked();
            let deadline = nanos_after(&shared, duration);
            Sleep {
                deadline,
                shared: Some(shared),
                state: State::Idle,
            }
        }
        None => Sleep::asked(Asked::After(duration)),
    })
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
    Sleep::asked(Asked::At(deadline))
}

/// A deadline that never comes: the clock stops one nanosecond before it.
const NEVER: u64 = u64::MAX;

/// `duration` from now on `shared`'s clock, in nanoseconds (`NEVER` past
/// the end of time).
fn nanos_after(shared: &Shared, duration: Duration) -> u64 {
    duration
        .as_secs()
        .checked_mul(1_000_000_000)
        .and_then(|nanos| nanos.checked_add(u64::from(duration.subsec_nanos())))
        .and_then(|nanos| shared.timers.now().checked_add(nanos))
        .unwrap_or(NEVER)
}

/// The future returned by [`sleep`] and [`sleep_until`].
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
    /// Nanoseconds on `shared`'s clock (`NEVER`: never); meaningful once
    /// `shared` is set.
    deadline: u64,
    /// The runtime whose clock and wheel the sleep uses; `None` until the
    /// first poll for a sleep made outside a task.
    shared: Option<Arc<Shared>>,
    state: State,
}

/// Where a sleep stands. Kept small: a boxed sleep fits a 64-byte block of
/// the allocator (a tenth off the `timers` bench, against 80).
enum State {
    /// Made outside a task: the deadline is fixed at the first poll.
    Asked(Asked),
    /// No timer filed.
    Idle,
    /// A timer is filed on the wheel.
    Filed(Timer),
}

/// What a sleep made outside a task was asked for.
#[derive(Clone, Copy)]
enum Asked {
    After(Duration),
    At(Instant),
}

/// A sleep's timer on the wheel, and which waker it was filed with.
#[derive(Clone, Copy)]
struct Timer {
    key: TimerKey,
    /// The tick it fires at.
    tick: u64,
    /// The filed waker's data and vtable addresses: a poll with a waker
    /// that has both (the same task's, as a rule) keeps the timer as it is,
    /// with no lock taken. Compared only, never followed; while the timer is
    /// filed, the wheel's clone keeps that waker's data alive, so no other
    /// waker can have the same addresses.
    data: usize,
    vtable: &'static RawWakerVTable,
}

impl Timer {
    fn new(key: TimerKey, tick: u64, waker: &Waker) -> Self {
        Timer {
            key,
            tick,
            data: waker.data() as usize,
            vtable: waker.vtable(),
        }
    }

    /// Whether it was filed with `waker`.
    fn filed_with(&self, waker: &Waker) -> bool {
        self.data == waker.data() as usize && ptr::eq(self.vtable, waker.vtable())
    }
}

impl Sleep {
    /// A sleep until `deadline` nanoseconds on `shared`'s clock.
    pub(crate) fn at(shared: Arc<Shared>, deadline: u64) -> Sleep {
        Sleep {
            deadline,
            shared: Some(shared),
            state: State::Idle,
        }
    }

    fn asked(asked: Asked) -> Sleep {
        Sleep {
            deadline: NEVER,
            shared: None,
            state: State::Asked(asked),
        }
    }

    /// Fixes the deadline of a sleep made outside a task on the clock of
    /// the task polling it.
    #[cold]
    fn resolve(&mut self, asked: Asked) {
        let shared = with_current_task(|task| task.map(|task| task.shared.to_banked()))
            .expect("bevy_coro: `sleep` was awaited outside a bevy_coro task");
        self.deadline = match asked {
            Asked::After(duration) => nanos_after(&shared, duration),
            Asked::At(instant) => shared.timers.nanos_at(instant).unwrap_or(NEVER),
        };
        self.shared = Some(shared);
        self.state = State::Idle;
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        if let State::Asked(asked) = this.state {
            this.resolve(asked);
        }
        let deadline = this.deadline;
        // Never elapses, and needs no timer.
        if deadline == NEVER {
            task_list::note(Note::Timer(u64::MAX));
            return Poll::Pending;
        }
        let timers = &this.shared.as_ref().expect("resolved above").timers;
        if timers.now() >= deadline {
            if let State::Filed(timer) = std::mem::replace(&mut this.state, State::Idle)
                && !timers.has_fired(timer.tick)
            {
                timers.remove(timer.key);
            }
            return Poll::Ready(());
        }
        let waker = cx.waker();
        let filed = match this.state {
            // Still filed, with this very waker: nothing to update, no lock.
            State::Filed(timer) if !timers.has_fired(timer.tick) && timer.filed_with(waker) => true,
            // Still filed: a fresh waker. Fired early (the tick began before
            // the deadline): file again below for the next tick.
            State::Filed(timer) => timers
                .refresh(timer.key, waker)
                .then(|| {
                    this.state = State::Filed(Timer::new(timer.key, timer.tick, waker));
                })
                .is_some(),
            _ => false,
        };
        if !filed {
            let filed = timers.insert(deadline, waker);
            this.state = State::Filed(Timer::new(filed.key, filed.tick, waker));
            // Filed after the deadline's tick, which the wheel had passed: the
            // clock may have passed the deadline too, between the read above
            // and the filing (a worker preempted there), and a manual clock
            // may never reach the tick it went to. Read again.
            if filed.late && timers.now() >= deadline {
                this.state = State::Idle;
                timers.remove(filed.key);
                return Poll::Ready(());
            }
        }
        task_list::note(Note::Timer(deadline));
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        let Some(shared) = self.shared.take() else {
            return;
        };
        if let State::Filed(timer) = self.state
            && !shared.timers.has_fired(timer.tick)
        {
            shared.timers.remove(timer.key);
        }
        bank::give(shared);
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("filed", &matches!(self.state, State::Filed(_)))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_boxed_sleep_fits_a_64_byte_block() {
        // glibc's blocks carry 8 bytes of their own.
        assert!(size_of::<Sleep>() <= 56, "{} bytes", size_of::<Sleep>());
    }
}
