//! Where a task runs: [`Main`] or [`Worker`], and the hop between them,
//! [`.on::<A>()`](CoroFutureExt::on).
//!
//! A hop moves the *same* task: it writes the new affinity into the task's
//! header and wakes the task; the schedule function reads the header and puts
//! the task on the other side's queue, where its next poll happens. Nothing new
//! is spawned. Routing is decided by the affinity type, monomorphised, never by
//! asking which thread we are on.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::runtime::task::context::{self, with_current_task};
use crate::runtime::task::options::Side;

pub(crate) mod sealed {
    /// Only this crate names affinities.
    pub trait Sealed {}
}

/// Where a task runs: [`Main`] or [`Worker`]. Sealed: these two are all there is.
pub trait Affinity: sealed::Sealed + Send + Sync + 'static {
    #[doc(hidden)]
    const SIDE: Side;
    /// The affinity's name, for messages.
    const NAME: &'static str;
}

/// The main thread: tasks run inside the pump (once per frame, in
/// [`CoroSystems::Pump`](crate::CoroSystems::Pump)) and can reach the `World`
/// directly with [`with_world`](crate::with_world).
///
/// It is Bevy's own `Main` schedule label, reused as the affinity marker
/// (the core uses nothing else of Bevy): a game glob-imports both
/// `bevy::prelude::*` and `bevy_coro::prelude::*`, and two different items
/// named `Main` would make every use ambiguous.
pub use bevy_app::Main;

/// The worker threads: for heavy work that must not stall the frame.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Worker;

impl sealed::Sealed for Main {}
impl sealed::Sealed for Worker {}

impl Affinity for Main {
    const SIDE: Side = Side::Main;
    const NAME: &'static str = Side::Main.name();
}

impl Affinity for Worker {
    const SIDE: Side = Side::Worker;
    const NAME: &'static str = Side::Worker.name();
}

/// Extension methods on every `Future + Send`; the prelude exports it.
pub trait CoroFutureExt: Future + Send + Sized {
    /// Runs this future with affinity `A`, then returns to the affinity the task
    /// had: the task itself moves (one wake each way), nothing new is spawned.
    /// No hop happens when the task already runs with affinity `A`.
    ///
    /// ```
    /// # use bevy_coro::prelude::*;
    /// # async fn load() -> Vec<u8> { vec![1, 2, 3] }
    /// # async fn example() {
    /// // inside a Main task:
    /// let bytes = async { load().await }.on::<Worker>().await; // runs on a worker
    /// // ...and here we are back on the main thread.
    /// # }
    /// ```
    ///
    /// # Hops inside combinators
    ///
    /// The whole task moves, with every future it is polling. Whether a hop
    /// inside a combinator is safe depends on whether the combinator's
    /// branches are tasks of their own:
    ///
    /// - **Safe:** [`race`](crate::race), [`join`](crate::join),
    ///   [`try_join`](crate::try_join) and their `_all` forms, and the tasks
    ///   of a [`TaskGroup`](crate::TaskGroup): each branch is a child task,
    ///   so a hop moves that branch alone. [`timeout`](crate::timeout) too:
    ///   it has one future, and its timer wakes the task on whatever side
    ///   it is.
    /// - **Not safe:** combinators that poll several futures inside one
    ///   task: `futures::join!`/`select!`, tokio's `join!`/`select!`,
    ///   futures-lite's `zip`/`or`. A hop in one branch drags its siblings
    ///   to the other side: a sibling's [`with_world`](crate::with_world)
    ///   then panics on a worker, and a sibling's heavy work runs on the
    ///   main thread. Give such branches their own tasks (use `race`/`join`).
    ///
    /// If the hop is dropped halfway (a `select!` or `timeout` that gave up
    /// on it), the task goes back to its own affinity from its next poll on.
    ///
    /// # Panics
    ///
    /// When awaited outside a task of this scheduler (there is no task to
    /// move), when awaited by another task than the one that first polled it,
    /// and when a [`spawn_local`](super::Handle::spawn_local) task tries to hop
    /// to a worker (its future cannot leave the main thread).
    fn on<A: Affinity>(self) -> On<Self, A> {
        On {
            future: self,
            state: State::Start,
            output: None,
            task: 0,
            _affinity: PhantomData,
        }
    }
}

impl<F: Future + Send> CoroFutureExt for F {}

enum State {
    /// Not polled yet.
    Start,
    /// Polling the future with affinity `A`; `back` is the affinity to return
    /// to afterwards, if the task had another.
    Running {
        back: Option<Side>,
    },
    /// The future finished and the task is hopping back; `output` holds the result.
    Returning,
    Done,
}

/// The future returned by [`CoroFutureExt::on`].
#[must_use = "futures do nothing unless awaited"]
pub struct On<F: Future, A> {
    future: F,
    state: State,
    output: Option<F::Output>,
    /// The id of the task that first polled this future (that task may be
    /// gone: it is only compared).
    task: u64,
    _affinity: PhantomData<fn() -> A>,
}

impl<F: Future, A: Affinity> Future for On<F, A> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `future` is structurally pinned (never moved, dropped in
        // place with `self`); the other fields are not pinned and are only
        // moved by value here, never through a pinned reference.
        let this = unsafe { self.get_unchecked_mut() };
        loop {
            match this.state {
                State::Start => {
                    let (hop, back) = with_current_task(|task| {
                        let task = task.unwrap_or_else(|| outside_task(A::NAME));
                        this.task = task.id();
                        let had = task.affinity();
                        assert!(
                            !(task.is_local() && A::SIDE == Side::Worker),
                            "bevy_coro: a `spawn_local` task cannot hop with \
                             `.on::<Worker>()`: its future is !Send and lives on the \
                             main thread; spawn the work with `spawn::<Worker>` and await it"
                        );
                        // Where this poll runs, which is where the header says
                        // except within the poll in which a hop was dropped.
                        let here = context::side(&task.shared).unwrap_or(had);
                        task.set_affinity(A::SIDE);
                        #[cfg(feature = "trace")]
                        if here != A::SIDE {
                            tracing::trace!(target: "bevy_coro", task = %task.name(), to = A::NAME, "task hops");
                        }
                        (here != A::SIDE, (had != A::SIDE).then_some(had))
                    });
                    this.state = State::Running { back };
                    if hop {
                        // The schedule function runs after this poll and reads
                        // the new affinity: the next poll is on the other side.
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                }
                State::Running { back } => {
                    let same_task =
                        with_current_task(|task| task.map(|task| task.id()) == Some(this.task));
                    assert!(
                        same_task,
                        "bevy_coro: an `.on::<{}>()` future was awaited by another task than \
                         the one that started it",
                        A::NAME
                    );
                    // SAFETY: `this.future` is pinned, see above.
                    let future = unsafe { Pin::new_unchecked(&mut this.future) };
                    let output = match future.poll(cx) {
                        Poll::Ready(output) => output,
                        Poll::Pending => return Poll::Pending,
                    };
                    let Some(back) = back else {
                        this.state = State::Done;
                        return Poll::Ready(output);
                    };
                    with_current_task(|task| task.expect("checked above").set_affinity(back));
                    this.output = Some(output);
                    this.state = State::Returning;
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                State::Returning => {
                    this.state = State::Done;
                    return Poll::Ready(
                        this.output
                            .take()
                            .expect("output stored before the hop back"),
                    );
                }
                State::Done => panic!("`On` future polled after it completed"),
            }
        }
    }
}

impl<F: Future, A> Drop for On<F, A> {
    fn drop(&mut self) {
        // Dropped halfway through a hop, by the task it moved (a `select!` that
        // gave up on it): the task goes back to its own affinity. Dropped any
        // other way (with its whole task), there is nothing to restore.
        if let State::Running { back: Some(back) } = self.state {
            with_current_task(|task| {
                if let Some(task) = task.filter(|task| task.id() == self.task) {
                    task.set_affinity(back);
                }
            });
        }
    }
}

/// The panic for a hop awaited where there is no task to move.
#[cold]
#[track_caller]
pub(crate) fn outside_task(affinity: &str) -> ! {
    panic!(
        "bevy_coro: `.on::<{affinity}>()` was awaited outside a bevy_coro task; \
         spawn the future with `coro.spawn::<Main>(..)` or `coro.spawn::<Worker>(..)` first"
    )
}
