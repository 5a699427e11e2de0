//! [`race`]: the first of several branches to finish wins; the others are
//! cancelled and dropped before the race returns.

use std::convert::Infallible;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use super::branches::{Branch, Spawner};
use crate::runtime::task::TaskError;

/// Runs each branch as a child task and gives the first to finish, with
/// which one it was; the others are cancelled, and their futures dropped,
/// before the race returns.
///
/// Branches are a tuple of 2 to 4 futures (the result is a [`Winner`]) or a
/// `Vec` of futures of one type (the result is the winner's index and
/// value; see [`race_all`]). Each branch is its own task, a child of the
/// task awaiting the race, started on that task's side: a branch can hop
/// with [`.on::<A>()`](crate::CoroFutureExt::on), sleep, spawn or reach the
/// World without moving its siblings. Cancelling the racing task (or
/// dropping the race) cancels every branch and what they spawned.
///
/// The race ends with the first branch to end: a panic in a branch ends it
/// with [`TaskError::Panicked`], as a win ends it with `Ok`.
///
/// ```
/// # use bevy_coro::prelude::*;
/// # use bevy_coro::Winner;
/// # use std::time::Duration;
/// # async fn reach_exit() -> u32 { 3 }
/// async fn level() -> &'static str {
///     match race((reach_exit(), sleep(Duration::from_secs(60)))).await {
///         Ok(Winner::First(_steps)) => "you escaped",
///         Ok(Winner::Second(())) => "time is up",
///         Err(_panicked) => "the level broke",
///     }
/// }
/// # let coro = bevy_coro::runtime::Runtime::new(Default::default()).unwrap();
/// # let mut task = coro.spawn::<Main>(level());
/// # let result = loop {
/// #     coro.pump(std::time::Instant::now(), None);
/// #     if let Some(result) = task.try_take() { break result; }
/// #     std::thread::yield_now();
/// # };
/// # assert_eq!(result, Ok("you escaped"));
/// ```
///
/// # Panics
///
/// When awaited outside a task of this scheduler (the branches need a
/// parent task), and `race_all` of no branch at all (it would never end).
#[track_caller]
pub fn race<B: Racing>(branches: B) -> Race<B> {
    Race {
        stage: Stage::Start(branches),
        location: Location::caller(),
    }
}

/// [`race`] over any number of futures of one type: gives the index of the
/// first to finish, with its value.
///
/// ```
/// # use bevy_coro::prelude::*;
/// # use bevy_coro::race_all;
/// # async fn search(door: u32) -> u32 { door * 10 }
/// # async fn example() {
/// let (door, steps) = race_all((0..4).map(search)).await.unwrap();
/// assert_eq!(steps, door as u32 * 10); // `door` is the branch index
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
/// As [`race`], and when `branches` is empty.
#[track_caller]
pub fn race_all<I>(branches: I) -> Race<Vec<I::Item>>
where
    I: IntoIterator,
    Vec<I::Item>: Racing,
{
    race(branches.into_iter().collect())
}

/// Which branch of a tuple won a [`race`], with its value: `First` for the
/// tuple's first future, and so on. A race of 2 has no `Third` or `Fourth`
/// (their type is [`Infallible`]), and a `match` needs no arm for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Winner<A, B, C = Infallible, D = Infallible> {
    /// The first branch won.
    First(A),
    /// The second branch won.
    Second(B),
    /// The third branch won.
    Third(C),
    /// The fourth branch won.
    Fourth(D),
}

impl<A, B, C, D> Winner<A, B, C, D> {
    /// The winner's place in the tuple, from 0.
    pub fn index(&self) -> usize {
        match self {
            Winner::First(_) => 0,
            Winner::Second(_) => 1,
            Winner::Third(_) => 2,
            Winner::Fourth(_) => 3,
        }
    }
}

/// What [`race`] takes: tuples of 2 to 4 futures, and `Vec`s of futures.
/// Every future is `Send + 'static`, as it becomes a task.
pub trait Racing: Sized {
    /// What the race gives when a branch wins: a [`Winner`] for tuples,
    /// `(index, value)` for a `Vec`.
    type Winner: Send + 'static;

    #[doc(hidden)]
    fn start(self, start: &mut RaceStart<Self::Winner>);
}

/// Who finished first: `NONE` until a branch claims the race.
#[doc(hidden)]
pub struct Claim(AtomicUsize);

impl Claim {
    const NONE: usize = usize::MAX;

    /// Claims the race for `index`; `true` if it was the first claim.
    fn claim(&self, index: usize) -> bool {
        self.0
            .compare_exchange(Self::NONE, index, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    fn winner(&self) -> Option<usize> {
        Some(self.0.load(Ordering::Acquire)).filter(|&index| index != Self::NONE)
    }
}

/// The branches of a race as they are spawned.
#[doc(hidden)]
pub struct RaceStart<W> {
    spawner: Spawner,
    claim: Arc<Claim>,
    branches: Vec<Branch<Option<W>>>,
}

impl<W: Send + 'static> RaceStart<W> {
    /// Spawns the next branch. It claims the race when its future ends; a
    /// branch that ends second drops its value in its own task, at once.
    pub(crate) fn branch<F>(&mut self, future: F)
    where
        F: Future<Output = W> + Send + 'static,
    {
        let (claim, index) = (self.claim.clone(), self.branches.len());
        self.branches.push(self.spawner.spawn(async move {
            let value = future.await;
            claim.claim(index).then_some(value)
        }));
    }
}

/// The future of [`race`]: `Ok` with the winner, or the error of a branch
/// that panicked (or was cancelled by a shutdown) before any branch won.
///
/// `W` is `B`'s winner type, as a parameter of its own: a field of a
/// projected type (`B::Winner`) would make the future of an `async` block
/// holding the race fail to be `Send` for outputs that borrow, such as
/// `&'static str` (a limit of rustc's auto-trait checks).
#[must_use = "futures do nothing unless awaited"]
pub struct Race<B, W = <B as Racing>::Winner> {
    stage: Stage<B, Running<W>>,
    location: &'static Location<'static>,
}

enum Stage<B, R> {
    /// Not polled yet: no task is spawned before the race is awaited.
    Start(B),
    Running(R),
    Done,
}

struct Running<W> {
    claim: Arc<Claim>,
    branches: Vec<Branch<Option<W>>>,
    /// The losers were cancelled; waiting for them to end.
    decided: bool,
}

impl<B, W> Unpin for Race<B, W> {}

impl<B: Racing<Winner = W>, W: Send + 'static> Future for Race<B, W> {
    type Output = Result<W, TaskError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if let Stage::Start(_) = this.stage {
            let Stage::Start(branches) = std::mem::replace(&mut this.stage, Stage::Done) else {
                unreachable!()
            };
            let mut start = RaceStart {
                spawner: Spawner::here("race", this.location),
                claim: Arc::new(Claim(AtomicUsize::new(Claim::NONE))),
                branches: Vec::new(),
            };
            branches.start(&mut start);
            assert!(
                !start.branches.is_empty(),
                "bevy_coro: `race_all` (at {}) of no branch would never end",
                this.location
            );
            this.stage = Stage::Running(Running {
                claim: start.claim,
                branches: start.branches,
                decided: false,
            });
        }
        let Stage::Running(running) = &mut this.stage else {
            panic!("`Race` polled after it returned its result");
        };
        let mut all_ended = true;
        for (index, branch) in running.branches.iter_mut().enumerate() {
            all_ended &= branch.poll_ended(cx);
            // A branch that panicked (or was cancelled by a shutdown) ends
            // the race, unless another claimed it first.
            if matches!(branch.result(), Some(Err(_))) {
                running.claim.claim(index);
            }
        }
        let Some(winner) = running.claim.winner() else {
            return Poll::Pending;
        };
        if !running.decided {
            running.decided = true;
            for (index, branch) in running.branches.iter().enumerate() {
                if index != winner {
                    branch.cancel();
                }
            }
        }
        // The race returns once every loser's future has been dropped (an
        // ended task's future is); each one's end wakes this task.
        if !all_ended {
            return Poll::Pending;
        }
        let result = match running.branches[winner].take() {
            Ok(value) => Ok(value.expect("the branch that claimed the race kept its value")),
            Err(error) => Err(error),
        };
        this.stage = Stage::Done;
        Poll::Ready(result)
    }
}

/// Implements [`Racing`] for a tuple: each future's value goes in its
/// [`Winner`] variant.
macro_rules! racing_tuple {
    ($($future:ident $variant:ident),+ ; $($never:ty),*) => {
        impl<$($future),+> Racing for ($($future,)+)
        where
            $($future: Future + Send + 'static, $future::Output: Send + 'static,)+
        {
            type Winner = Winner<$($future::Output,)+ $($never),*>;

            #[allow(non_snake_case)]
            fn start(self, start: &mut RaceStart<Self::Winner>) {
                let ($($future,)+) = self;
                $(start.branch(async move { Winner::$variant($future.await) });)+
            }
        }
    };
}

racing_tuple!(A First, B Second; Infallible, Infallible);
racing_tuple!(A First, B Second, C Third; Infallible);
racing_tuple!(A First, B Second, C Third, D Fourth;);

impl<F> Racing for Vec<F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    type Winner = (usize, F::Output);

    fn start(self, start: &mut RaceStart<Self::Winner>) {
        for (index, future) in self.into_iter().enumerate() {
            start.branch(async move { (index, future.await) });
        }
    }
}
