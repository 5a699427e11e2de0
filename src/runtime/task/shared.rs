//! [`SharedTask`]: one task's result, awaited by several tasks.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use super::{Task, TaskError};

impl<T: Clone> Task<T> {
    /// Turns the handle into a [`SharedTask`]: a `Clone` handle whose every
    /// copy can be awaited (or polled with [`SharedTask::try_get`]), each
    /// giving a clone of the result. Dropping the last copy cancels the task
    /// if it has not finished, as dropping a `Task` does.
    ///
    /// ```
    /// # use bevy_coro::prelude::*;
    /// # use bevy_coro::runtime::{Runtime, RuntimeConfig};
    /// # use std::time::Instant;
    /// # let coro = Runtime::new(RuntimeConfig::default()).unwrap();
    /// let level = coro.spawn::<Worker>(async { "level 1".to_string() }).shared();
    /// let (hud, music) = (level.clone(), level.clone());
    /// let mut hud = coro.spawn::<Main>(async move { hud.await.unwrap().len() });
    /// let mut music = coro.spawn::<Main>(async move { music.await.unwrap() });
    /// # let (mut a, mut b) = (None, None);
    /// # while a.is_none() || b.is_none() {
    /// #     coro.pump(Instant::now(), None);
    /// #     a = a.or_else(|| hud.try_take());
    /// #     b = b.or_else(|| music.try_take());
    /// # }
    /// # assert_eq!((a.unwrap(), b.unwrap()), (Ok(7), Ok("level 1".to_string())));
    /// ```
    pub fn shared(self) -> SharedTask<T> {
        SharedTask {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    task: Some(self),
                    result: None,
                }),
                waiters: Arc::new(Waiters::default()),
            }),
        }
    }
}

/// A task's result for several awaiters: made by [`Task::shared`]. Each copy
/// is a future of `Result<T, TaskError>` that gives a clone of the result.
/// The task is cancelled when the last copy is dropped before it finished.
pub struct SharedTask<T> {
    inner: Arc<Inner<T>>,
}

struct Inner<T> {
    state: Mutex<State<T>>,
    /// The wakers of the copies waiting; the task's handle wakes them all.
    waiters: Arc<Waiters>,
}

struct State<T> {
    /// The task, until its result is in.
    task: Option<Task<T>>,
    result: Option<Result<T, TaskError>>,
}

impl<T> Inner<T> {
    fn state(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Wakes every waiting copy when the task's end wakes it.
#[derive(Default)]
struct Waiters(Mutex<Vec<Waker>>);

impl Waiters {
    fn list(&self) -> MutexGuard<'_, Vec<Waker>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Files `waker`, once (a copy polled again with the same waker).
    fn add(&self, waker: &Waker) {
        let mut list = self.list();
        if !list.iter().any(|known| known.will_wake(waker)) {
            list.push(waker.clone());
        }
    }
}

impl Wake for Waiters {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // Woken with no lock held: a waker may run its task's poll here.
        let woken = std::mem::take(&mut *self.list());
        woken.into_iter().for_each(Waker::wake);
    }
}

impl<T: Clone> SharedTask<T> {
    /// The result, if the task has finished, without waiting: for systems
    /// that poll once per frame. Unlike [`Task::try_take`], every call after
    /// the task finished gives a clone of the result.
    pub fn try_get(&self) -> Option<Result<T, TaskError>> {
        let mut state = self.inner.state();
        if let Some(task) = state.task.as_mut()
            && let Some(result) = task.try_take()
        {
            state.task = None;
            state.result = Some(result);
        }
        state.result.clone()
    }
}

impl<T> SharedTask<T> {
    /// Whether the task has finished (completed, panicked or been cancelled).
    pub fn is_finished(&self) -> bool {
        let state = self.inner.state();
        state.task.as_ref().is_none_or(Task::is_finished)
    }
}

impl<T: Clone> Future for SharedTask<T> {
    type Output = Result<T, TaskError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = &*self.inner;
        let mut state = inner.state();
        if let Some(result) = &state.result {
            return Poll::Ready(result.clone());
        }
        // Filed before the task is polled: its end, from now on, wakes us.
        inner.waiters.add(cx.waker());
        let task = state.task.as_mut().expect("a task until its result is in");
        let waker = Waker::from(inner.waiters.clone());
        match Pin::new(task).poll(&mut Context::from_waker(&waker)) {
            Poll::Ready(result) => {
                state.task = None;
                state.result = Some(result.clone());
                drop(state);
                // The other copies waiting learn it from the result.
                inner.waiters.wake_by_ref();
                Poll::Ready(result)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T> Clone for SharedTask<T> {
    fn clone(&self) -> Self {
        SharedTask {
            inner: self.inner.clone(),
        }
    }
}

impl<T> fmt::Debug for SharedTask<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedTask")
            .field("finished", &self.is_finished())
            .field("copies", &Arc::strong_count(&self.inner))
            .finish()
    }
}
