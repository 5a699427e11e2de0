//! [`join`] and [`try_join`]: branches run side by side as child tasks, and
//! the join waits for all of them (or, for `try_join`, the first failure).

use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::branches::{Branch, Spawner};
use crate::runtime::task::TaskError;

/// Runs each branch as a child task and waits for all of them; gives each
/// one's result, in order.
///
/// Branches are a tuple of 2 to 6 futures, or a `Vec` of futures of one
/// type (see [`join_all`]). Each branch is its own task, a child of the
/// task awaiting the join, started on that task's side: a branch can hop
/// with [`.on::<A>()`](crate::CoroFutureExt::on), sleep, spawn or reach the
/// World without moving its siblings. A branch that panics gives
/// [`TaskError::Panicked`] in its place, and the others run on; to stop at
/// the first failure, use [`try_join`]. Cancelling the joining task (or
/// dropping the join) cancels every branch.
///
/// ```
/// # use bevy_coro::prelude::*;
/// # async fn load_map() -> u32 { 1 }
/// # async fn find_path() -> Vec<u32> { vec![] }
/// # async fn example() {
/// let (map, path) = join((load_map(), async { find_path().await }.on::<Worker>())).await;
/// let (map, path) = (map.unwrap(), path.unwrap());
/// # let _ = (map, path);
/// # }
/// # let coro = bevy_coro::runtime::Runtime::new(Default::default()).unwrap();
/// # let mut task = coro.spawn::<Main>(example());
/// # let result = loop {
/// #     coro.pump(std::time::Instant::now(), None);
/// #     if let Some(result) = task.try_take() { break result; }
/// #     std::thread::yield_now();
/// # };
/// # assert_eq!(result, Ok(()));
/// ```
///
/// # Panics
///
/// When awaited outside a task of this scheduler (the branches need a
/// parent task).
#[track_caller]
pub fn join<B: Joining>(branches: B) -> Join<B> {
    Join {
        stage: Stage::Start(branches),
        location: Location::caller(),
    }
}

/// [`join`] over any number of futures of one type: each one's result, in
/// the order given.
///
/// ```
/// # use bevy_coro::prelude::*;
/// # use bevy_coro::join_all;
/// # async fn example() {
/// let chunks = join_all((0..8u64).map(|chunk| async move { chunk * chunk })).await;
/// assert_eq!(chunks[3], Ok(9));
/// # }
/// # let coro = bevy_coro::runtime::Runtime::new(Default::default()).unwrap();
/// # let mut task = coro.spawn::<Main>(example());
/// # let result = loop {
/// #     coro.pump(std::time::Instant::now(), None);
/// #     if let Some(result) = task.try_take() { break result; }
/// #     std::thread::yield_now();
/// # };
/// # assert_eq!(result, Ok(()));
/// ```
#[track_caller]
pub fn join_all<I>(branches: I) -> Join<Vec<I::Item>>
where
    I: IntoIterator,
    Vec<I::Item>: Joining,
{
    join(branches.into_iter().collect())
}

/// [`join`] for branches that can fail: each gives a `Result<T, E>`. The
/// first `Err` (or panic) ends the join: the other branches are cancelled,
/// and their futures dropped, before it returns. Gives `Ok(Ok(values))`
/// when every branch succeeds, `Ok(Err(e))` for a branch's `Err`, and
/// `Err(TaskError)` for a panic (the same shape as awaiting a
/// [`Task`](crate::Task) of a `Result`).
///
/// ```
/// # use bevy_coro::prelude::*;
/// # async fn load(name: &str) -> Result<u32, String> { Ok(name.len() as u32) }
/// # async fn example() -> Result<(), String> {
/// let (hero, level) = try_join((load("hero"), load("level"))).await.unwrap()?;
/// # assert_eq!((hero, level), (4, 5));
/// # Ok(())
/// # }
/// # let coro = bevy_coro::runtime::Runtime::new(Default::default()).unwrap();
/// # let mut task = coro.spawn::<Main>(example());
/// # let result = loop {
/// #     coro.pump(std::time::Instant::now(), None);
/// #     if let Some(result) = task.try_take() { break result; }
/// #     std::thread::yield_now();
/// # };
/// # assert_eq!(result, Ok(Ok(())));
/// ```
///
/// # Panics
///
/// When awaited outside a task of this scheduler.
#[track_caller]
pub fn try_join<B: Joining>(branches: B) -> TryJoin<B>
where
    B::Branches: TryBranches,
{
    TryJoin {
        stage: Stage::Start(branches),
        location: Location::caller(),
        failed: None,
    }
}

/// [`try_join`] over any number of futures of one type.
#[track_caller]
pub fn try_join_all<I>(branches: I) -> TryJoin<Vec<I::Item>>
where
    I: IntoIterator,
    Vec<I::Item>: Joining<Branches: TryBranches>,
{
    try_join(branches.into_iter().collect())
}

/// What [`join`] and [`try_join`] take: tuples of 2 to 6 futures, and
/// `Vec`s of futures. Every future is `Send + 'static`, as it becomes a task.
pub trait Joining: Sized {
    /// The branches' results: a tuple (or `Vec`) of `Result<T, TaskError>`.
    type Output;
    #[doc(hidden)]
    type Branches: BranchSet<Output = Self::Output>;

    #[doc(hidden)]
    fn start(self, spawner: &Spawner) -> Self::Branches;
}

/// The running branches of a join.
#[doc(hidden)]
pub trait BranchSet {
    /// Every branch's result.
    type Output;
    /// Polls the branches still running; whether all have ended.
    fn poll_all(&mut self, cx: &mut Context<'_>) -> bool;
    fn cancel_all(&self);
    fn take_all(&mut self) -> Self::Output;
}

/// The running branches of a `try_join`: every branch gives a `Result`.
#[doc(hidden)]
pub trait TryBranches: BranchSet {
    /// The values when every branch succeeded.
    type Values;
    /// The error of a branch.
    type Error;
    /// The index of a branch that failed, if one did.
    fn failed(&self) -> Option<usize>;
    fn take_failure(
        &mut self,
        index: usize,
    ) -> Result<Result<Self::Values, Self::Error>, TaskError>;
    fn take_values(&mut self) -> Self::Values;
}

enum Stage<B, R> {
    /// Not polled yet: no task is spawned before the join is awaited.
    Start(B),
    Running(R),
    Done,
}

impl<B: Joining<Branches = S>, S> Stage<B, S> {
    /// The running branches, spawned at the first poll.
    fn running(&mut self, what: &str, location: &'static Location<'static>) -> &mut S {
        if let Stage::Start(_) = self {
            let Stage::Start(branches) = std::mem::replace(self, Stage::Done) else {
                unreachable!()
            };
            *self = Stage::Running(branches.start(&Spawner::here(what, location)));
        }
        match self {
            Stage::Running(branches) => branches,
            _ => panic!("`{what}` polled after it returned its result"),
        }
    }
}

/// The future of [`join`]. `S` is `B`'s running branches, as a parameter
/// of its own for the reason given at [`Race`](super::Race).
#[must_use = "futures do nothing unless awaited"]
pub struct Join<B, S = <B as Joining>::Branches> {
    stage: Stage<B, S>,
    location: &'static Location<'static>,
}

impl<B, S> Unpin for Join<B, S> {}

impl<B: Joining<Branches = S>, S: BranchSet> Future for Join<B, S> {
    type Output = S::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<S::Output> {
        let this = &mut *self;
        let branches = this.stage.running("join", this.location);
        if !branches.poll_all(cx) {
            return Poll::Pending;
        }
        let output = branches.take_all();
        this.stage = Stage::Done;
        Poll::Ready(output)
    }
}

/// The future of [`try_join`]; `S` as for [`Join`].
#[must_use = "futures do nothing unless awaited"]
pub struct TryJoin<B, S = <B as Joining>::Branches> {
    stage: Stage<B, S>,
    location: &'static Location<'static>,
    /// The first branch seen failing: the rest are cancelled (and so fail
    /// too, later).
    failed: Option<usize>,
}

impl<B, S> Unpin for TryJoin<B, S> {}

/// What `try_join` gives.
type TryOutput<S> =
    Result<Result<<S as TryBranches>::Values, <S as TryBranches>::Error>, TaskError>;

impl<B: Joining<Branches = S>, S: TryBranches> Future for TryJoin<B, S> {
    type Output = TryOutput<S>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<TryOutput<S>> {
        let this = &mut *self;
        let branches = this.stage.running("try_join", this.location);
        let all_ended = branches.poll_all(cx);
        if this.failed.is_none() {
            this.failed = branches.failed();
            if this.failed.is_some() {
                branches.cancel_all();
            }
        }
        // Returns once every branch has ended, so the futures of the
        // cancelled ones have been dropped.
        if !all_ended {
            return Poll::Pending;
        }
        let output = match this.failed {
            Some(index) => branches.take_failure(index),
            None => Ok(Ok(branches.take_values())),
        };
        this.stage = Stage::Done;
        Poll::Ready(output)
    }
}

/// Implements [`Joining`] for a tuple of futures and [`BranchSet`] and
/// [`TryBranches`] for the tuple of their branches.
macro_rules! joining_tuple {
    ($($future:ident $value:ident $index:tt),+) => {
        impl<$($future),+> Joining for ($($future,)+)
        where
            $($future: Future + Send + 'static, $future::Output: Send + 'static,)+
        {
            type Output = ($(Result<$future::Output, TaskError>,)+);
            type Branches = ($(Branch<$future::Output>,)+);

            fn start(self, spawner: &Spawner) -> Self::Branches {
                ($(spawner.spawn(self.$index),)+)
            }
        }

        impl<$($future),+> BranchSet for ($(Branch<$future>,)+) {
            type Output = ($(Result<$future, TaskError>,)+);

            fn poll_all(&mut self, cx: &mut Context<'_>) -> bool {
                let mut all_ended = true;
                $(all_ended &= self.$index.poll_ended(cx);)+
                all_ended
            }

            fn cancel_all(&self) {
                $(self.$index.cancel();)+
            }

            fn take_all(&mut self) -> Self::Output {
                ($(self.$index.take(),)+)
            }
        }

        impl<E, $($value),+> TryBranches for ($(Branch<Result<$value, E>>,)+) {
            type Values = ($($value,)+);
            type Error = E;

            fn failed(&self) -> Option<usize> {
                $(if self.$index.failed() {
                    return Some($index);
                })+
                None
            }

            fn take_failure(&mut self, index: usize) -> Result<Result<Self::Values, E>, TaskError> {
                match index {
                    $($index => self.$index.take_failure(),)+
                    _ => unreachable!("a branch index"),
                }
            }

            fn take_values(&mut self) -> Self::Values {
                ($(self.$index.take_value(),)+)
            }
        }
    };
}

joining_tuple!(A VA 0, B VB 1);
joining_tuple!(A VA 0, B VB 1, C VC 2);
joining_tuple!(A VA 0, B VB 1, C VC 2, D VD 3);
joining_tuple!(A VA 0, B VB 1, C VC 2, D VD 3, E2 VE 4);
joining_tuple!(A VA 0, B VB 1, C VC 2, D VD 3, E2 VE 4, F VF 5);

impl<F> Joining for Vec<F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    type Output = Vec<Result<F::Output, TaskError>>;
    type Branches = Vec<Branch<F::Output>>;

    fn start(self, spawner: &Spawner) -> Self::Branches {
        self.into_iter()
            .map(|future| spawner.spawn(future))
            .collect()
    }
}

impl<T> BranchSet for Vec<Branch<T>> {
    type Output = Vec<Result<T, TaskError>>;

    fn poll_all(&mut self, cx: &mut Context<'_>) -> bool {
        self.iter_mut()
            .fold(true, |all_ended, branch| branch.poll_ended(cx) & all_ended)
    }

    fn cancel_all(&self) {
        self.iter().for_each(Branch::cancel);
    }

    fn take_all(&mut self) -> Self::Output {
        self.iter_mut().map(Branch::take).collect()
    }
}

impl<T, E> TryBranches for Vec<Branch<Result<T, E>>> {
    type Values = Vec<T>;
    type Error = E;

    fn failed(&self) -> Option<usize> {
        self.iter().position(Branch::failed)
    }

    fn take_failure(&mut self, index: usize) -> Result<Result<Vec<T>, E>, TaskError> {
        self[index].take_failure()
    }

    fn take_values(&mut self) -> Vec<T> {
        self.iter_mut().map(Branch::take_value).collect()
    }
}
