//! Resume points: places in the frame, besides the pump, where a main-thread
//! task can choose to resume (in Bevy, a system in the schedule a game asks
//! for: `resume_in(PostUpdate)`).
//!
//! Each point has its waiters and its queue. A task that asks for a point
//! ([`ResumeAt`]) writes the point in its header and leaves its waker with
//! the point. The point's pump (`Shared::pump_point`, called by the driver
//! where that point is) wakes the waiters it finds as it starts; the
//! schedule function, seeing a task woken by the run of the point its
//! header names, queues it there instead of where its affinity says; the
//! point's pump then runs what is queued, within its budget. So a point runs
//! only the tasks that asked for it, and a task asking during a point's run
//! (itself resumed there, or from a worker) waits for the next run. Any
//! other wake of a waiting task (a cancel, a `timeout`'s timer) routes it
//! as usual: a cancelled task ends in the next pump, and its waker leaves
//! the point as its future is dropped, so nothing stays at a point nobody
//! runs; a task polled before the point's run leaves its waker again.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use crate::runtime::task::raw::Runnable;
use concurrent_queue::ConcurrentQueue;
use slab::Slab;

use crate::runtime::Shared;
use crate::runtime::queue::drain_queue;
use crate::runtime::schedule::run;
use crate::runtime::task::context::{self, with_current_task};
use crate::runtime::task::header::Header;
use crate::runtime::task::options::Side;
use crate::runtime::timer::clock::{self, Instant};
use crate::runtime::workers::held_wakes;

/// The resume points of a runtime, set once by its driver.
#[derive(Default)]
pub(crate) struct Points(OnceLock<Box<[Point]>>);

/// One resume point.
struct Point {
    /// What the driver knows it by (a schedule label, in Bevy).
    key: Box<dyn Any + Send + Sync>,
    waiting: Mutex<Waiting>,
    /// Tasks woken for this point, to run at its pump.
    ready: ConcurrentQueue<Runnable<Header>>,
}

/// The tasks waiting for a point's next run.
#[derive(Default)]
struct Waiting {
    /// Runs started so far: a ticket of an earlier run is stale.
    run: u64,
    wakers: Slab<Waker>,
}

/// Where a waiting task's waker is.
#[derive(Clone, Copy)]
struct Ticket {
    run: u64,
    key: usize,
}

/// What one run of a point did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PointReport {
    /// Task polls in this run.
    pub(crate) polled: usize,
    /// Whether the budget stopped it with tasks left for the next run.
    pub(crate) out_of_budget: bool,
}

impl Points {
    /// Sets the points, known by `keys` (their index is their place).
    ///
    /// # Panics
    ///
    /// When set twice, or with more than 255 points (the header keeps one byte).
    pub(crate) fn set(&self, keys: Vec<Box<dyn Any + Send + Sync>>) {
        assert!(keys.len() < 256, "bevy_coro: at most 255 resume points");
        let points = keys
            .into_iter()
            .map(|key| Point {
                key,
                waiting: Mutex::default(),
                ready: ConcurrentQueue::unbounded(),
            })
            .collect();
        assert!(
            self.0.set(points).is_ok(),
            "bevy_coro: the resume points are set once"
        );
    }

    fn all(&self) -> &[Point] {
        self.0.get().map_or(&[], |points| points)
    }

    /// The index of the point known by `key`.
    pub(crate) fn find<K: Any + PartialEq>(&self, key: &K) -> Option<usize> {
        self.all()
            .iter()
            .position(|point| point.key.downcast_ref::<K>() == Some(key))
    }

    /// Queues a task woken for point `index`; returns it if the runtime is closed.
    pub(crate) fn push(
        &self,
        index: usize,
        runnable: Runnable<Header>,
    ) -> Option<Runnable<Header>> {
        self.all()[index]
            .ready
            .push(runnable)
            .err()
            .map(|error| error.into_inner())
    }

    /// Tasks waiting at points or queued there.
    pub(crate) fn waiting(&self) -> usize {
        self.all()
            .iter()
            .map(|point| point.lock().wakers.len() + point.ready.len())
            .sum()
    }

    /// Leaves `waker` at point `index` for its next run (or updates the one
    /// left with `ticket`, if that run has not started).
    fn wait(&self, index: usize, ticket: Option<Ticket>, waker: &Waker) -> Ticket {
        let mut waiting = self.all()[index].lock();
        if let Some(ticket) = ticket.filter(|ticket| ticket.run == waiting.run)
            && let Some(left) = waiting.wakers.get_mut(ticket.key)
        {
            if !left.will_wake(waker) {
                left.clone_from(waker);
            }
            return ticket;
        }
        Ticket {
            run: waiting.run,
            key: waiting.wakers.insert(waker.clone()),
        }
    }

    /// Takes back the waker left with `ticket`, if its run has not started.
    fn leave(&self, index: usize, ticket: Ticket) {
        let mut waiting = self.all()[index].lock();
        if ticket.run == waiting.run {
            let waker = waiting.wakers.try_remove(ticket.key);
            drop(waiting);
            drop(waker);
        }
    }

    /// Refuses further pushes, hands every queued task to `dispose` and drops
    /// the waiters' wakers.
    pub(crate) fn close(&self, mut dispose: impl FnMut(Runnable<Header>)) {
        for point in self.all() {
            drain_queue(&point.ready, &mut dispose);
            let wakers = std::mem::take(&mut point.lock().wakers);
            drop(wakers);
        }
    }
}

impl Point {
    fn lock(&self) -> std::sync::MutexGuard<'_, Waiting> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Shared {
    /// Sets the runtime's resume points, known by `keys` (see [`Points::set`]).
    pub(crate) fn set_resume_points(&self, keys: Vec<Box<dyn Any + Send + Sync>>) {
        self.points.set(keys);
    }

    /// Tasks waiting at resume points or queued there.
    pub(crate) fn at_resume_points(&self) -> usize {
        self.points.waiting()
    }

    /// One run of point `index`: wakes its waiters onto its queue, then runs
    /// what is queued there now, until done or `budget` (counted from `now`,
    /// checked between polls, at least one poll) is spent.
    pub(crate) fn run_point(
        &self,
        index: usize,
        now: Instant,
        budget: Option<Duration>,
    ) -> PointReport {
        let point = &self.points.all()[index];
        let wakers = {
            let mut waiting = point.lock();
            waiting.run += 1;
            std::mem::take(&mut waiting.wakers)
        };
        // Woken with no lock held; each goes to `point.ready` (see
        // `schedule`), but a task running now, which goes where its affinity
        // says when its poll ends, and waits again for the next run.
        let _at = context::enter_point(index);
        for (_, waker) in wakers {
            waker.wake();
        }
        // Only those queued now: one asking again during this run waits for
        // the next, so a run always ends.
        let queued = point.ready.len();
        let deadline = budget.map(|budget| now + budget);
        let mut report = PointReport::default();
        while report.polled < queued {
            if report.polled > 0 && deadline.is_some_and(|deadline| clock::now() >= deadline) {
                report.out_of_budget = true;
                break;
            }
            let Ok(runnable) = point.ready.pop() else {
                break;
            };
            run(runnable);
            context::forget_turn();
            report.polled += 1;
            self.workers.wake_or_hold(self, held_wakes::overdue(self));
        }
        report
    }
}

/// Waits for the next run of the point known by `key`: the task resumes
/// there, on the main thread. See the module docs.
pub(crate) struct ResumeAt<K> {
    key: K,
    /// Panics with the driver's words when no point is known by `key`.
    missing: fn(&K) -> !,
    state: State,
}

enum State {
    Start,
    Waiting {
        shared: Arc<Shared>,
        point: usize,
        ticket: Ticket,
        /// The task that waits (only compared).
        task: u64,
    },
    Done,
}

impl<K> ResumeAt<K> {
    pub(crate) fn new(key: K, missing: fn(&K) -> !) -> Self {
        ResumeAt {
            key,
            missing,
            state: State::Start,
        }
    }
}

impl<K> Unpin for ResumeAt<K> {}

impl<K: Any + PartialEq> Future for ResumeAt<K> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        with_current_task(|task| {
            let task = task.unwrap_or_else(|| outside_task());
            match &mut this.state {
                State::Start => {
                    let shared = task.shared.to_arc();
                    let Some(point) = shared.points.find(&this.key) else {
                        (this.missing)(&this.key)
                    };
                    task.set_point(Some(point));
                    let ticket = shared.points.wait(point, None, cx.waker());
                    this.state = State::Waiting {
                        shared,
                        point,
                        ticket,
                        task: task.id(),
                    };
                    Poll::Pending
                }
                State::Waiting {
                    shared,
                    point,
                    ticket,
                    ..
                } => {
                    if context::at_point(shared) == Some(*point) && task.point() == Some(*point) {
                        task.set_point(None);
                        // A worker task resumes on the main thread, and
                        // stays there: a hop.
                        task.set_affinity(Side::Main);
                        this.state = State::Done;
                        return Poll::Ready(());
                    }
                    // Polled before the point's run (a wake from elsewhere).
                    *ticket = shared.points.wait(*point, Some(*ticket), cx.waker());
                    Poll::Pending
                }
                State::Done => panic!("`ResumeIn` polled after it completed"),
            }
        })
    }
}

impl<K> Drop for ResumeAt<K> {
    fn drop(&mut self) {
        let State::Waiting {
            shared,
            point,
            ticket,
            task,
        } = &self.state
        else {
            return;
        };
        shared.points.leave(*point, *ticket);
        // Dropped halfway by its own task (a `select!` or `timeout` gave up
        // on it): the point no longer takes its wakes. Dropped with its task,
        // there is nothing to restore.
        with_current_task(|current| {
            if let Some(current) = current.filter(|current| current.id() == *task) {
                current.set_point(None);
            }
        });
    }
}

#[cold]
fn outside_task() -> ! {
    panic!(
        "bevy_coro: `resume_in` was awaited outside a bevy_coro task; spawn the future with \
         `coro.spawn::<Main>(..)` or `coro.spawn::<Worker>(..)` first"
    )
}
