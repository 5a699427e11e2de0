//! [`TimerHandle`]: the handle that owns a delayed or interval task.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

/// State shared by a timer handle and the task it controls.
#[derive(Default)]
pub(crate) struct TimerState {
    cancelled: AtomicBool,
    /// The task waiting for its next run, woken by `cancel`.
    waiter: Mutex<Option<Waker>>,
    runs: AtomicU64,
    skipped: AtomicU64,
    panics: AtomicU64,
    last_panic: Mutex<Option<String>>,
    finished: AtomicBool,
}

impl TimerState {
    pub(crate) fn cancel(&self) {
        if !self.cancelled.swap(true, Ordering::AcqRel) {
            let waiter = self
                .waiter
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            if let Some(waiter) = waiter {
                waiter.wake();
            }
        }
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Acquire)
    }

    pub(crate) fn run_started(&self) {
        self.runs.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn skip(&self, ticks: u64) {
        self.skipped.fetch_add(ticks, Ordering::Relaxed);
    }

    pub(crate) fn panicked(&self, message: String) {
        self.panics.fetch_add(1, Ordering::Relaxed);
        *self
            .last_panic
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(message);
    }

    pub(crate) fn finish(&self) {
        self.finished.store(true, Ordering::Release);
    }

    /// Runs `future` unless the timer is cancelled first: `None` then, and the
    /// future is dropped.
    pub(crate) fn until_cancelled<F: Future + Unpin>(&self, future: F) -> UntilCancelled<'_, F> {
        UntilCancelled {
            state: self,
            future,
        }
    }
}

/// The future returned by [`TimerState::until_cancelled`].
pub(crate) struct UntilCancelled<'a, F> {
    state: &'a TimerState,
    future: F,
}

impl<F: Future + Unpin> Future for UntilCancelled<'_, F> {
    type Output = Option<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<F::Output>> {
        if self.state.is_cancelled() {
            return Poll::Ready(None);
        }
        *self
            .state
            .waiter
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(cx.waker().clone());
        // Checked again after registering: a `cancel` in between took no waker.
        if self.state.is_cancelled() {
            return Poll::Ready(None);
        }
        Pin::new(&mut self.future).poll(cx).map(Some)
    }
}

/// The handle of a [`delayed`](crate::runtime::Handle::delayed) or
/// [`interval`](crate::runtime::Handle::interval) task. **Dropping it cancels
/// the task**; [`detach`](TimerHandle::detach) lets it run for good.
///
/// Cancelling never cuts a run short: a run in progress finishes, and no
/// further run starts. A delayed task cancelled before it is due never calls
/// its factory.
#[must_use = "dropping a TimerHandle cancels its timer; call `.detach()` to keep it running"]
pub struct TimerHandle {
    state: Arc<TimerState>,
    armed: bool,
}

impl TimerHandle {
    pub(crate) fn new(state: Arc<TimerState>) -> Self {
        TimerHandle { state, armed: true }
    }

    /// Stops the task: no run starts after this call.
    pub fn cancel(&self) {
        self.state.cancel();
    }

    /// Whether [`cancel`](TimerHandle::cancel) was called (or the handle dropped).
    pub fn is_cancelled(&self) -> bool {
        self.state.is_cancelled()
    }

    /// Lets the task run without a handle (until the App is dropped).
    pub fn detach(mut self) {
        self.armed = false;
    }

    /// Runs started so far (each call of the factory).
    pub fn runs_started(&self) -> u64 {
        self.state.runs.load(Ordering::Relaxed)
    }

    /// Interval ticks that came while a run was still going and were skipped
    /// (see [`MissedTick`](crate::runtime::MissedTick)).
    pub fn ticks_skipped(&self) -> u64 {
        self.state.skipped.load(Ordering::Relaxed)
    }

    /// Runs that panicked. A panic ends that run only.
    pub fn panics(&self) -> u64 {
        self.state.panics.load(Ordering::Relaxed)
    }

    /// The message of the last run that panicked.
    pub fn last_panic(&self) -> Option<String> {
        self.state
            .last_panic
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Whether the task is over: a delayed task that ran, or any task that saw
    /// its cancellation.
    pub fn is_finished(&self) -> bool {
        self.state.finished.load(Ordering::Acquire)
    }
}

impl Drop for TimerHandle {
    fn drop(&mut self) {
        if self.armed {
            self.state.cancel();
        }
    }
}

impl fmt::Debug for TimerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerHandle")
            .field("cancelled", &self.is_cancelled())
            .field("runs_started", &self.runs_started())
            .field("ticks_skipped", &self.ticks_skipped())
            .field("panics", &self.panics())
            .finish()
    }
}
