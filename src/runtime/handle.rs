//! [`Handle`]: the cheap, cloneable way to reach a runtime from anywhere, and
//! the [`SpawnOn`] trait that spells `spawn::<Main>(fut)`.

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::sync::Arc;
use std::time::Duration;

use crate::runtime::affinity::Affinity;
use crate::runtime::diag::snapshot::{Leak, TaskSnapshot, find_leaks};
use crate::runtime::diag::stats::RuntimeStats;
use crate::runtime::task::options::Options;
use crate::runtime::task::{Task, spawn_local, spawn_send};
use crate::runtime::tree::CancelHandle;
use crate::runtime::{Instant, Owner, Shared};

/// A handle to a [`Runtime`](super::Runtime): `Clone + Send + Sync`, usable from
/// systems, from inside tasks and from any thread. In a Bevy app it is the
/// [`Coro`](crate::Coro) resource.
#[derive(Clone)]
pub struct Handle {
    pub(crate) shared: Arc<Shared>,
}

/// Spawning with the affinity as the only turbofish argument:
/// `coro.spawn::<Main>(fut)`, `coro.spawn::<Worker>(fut)`.
///
/// It is a trait generic over the future (rather than an inherent method
/// generic over both) so that the call names the affinity alone. The prelude
/// exports it.
///
/// A future that is not `Send` is refused at compile time: rustc says
/// "future cannot be sent between threads safely", names the captured value
/// that is not `Send`, and quotes the impl below, whose first lines point at
/// [`spawn_local`](Handle::spawn_local). (A `#[diagnostic::on_unimplemented]`
/// message on this trait would never show: for an auto trait such as
/// `Send`, rustc reports the value that lacks it instead.)
pub trait SpawnOn<F: Future> {
    /// Spawns `future` as a new task that starts with affinity `A`
    /// ([`Main`](crate::Main) or [`Worker`](crate::Worker)). It can hop later
    /// with [`.on::<A>()`](crate::CoroFutureExt::on).
    ///
    /// The returned [`Task`] is the result; dropping it cancels the task,
    /// [`Task::detach`] lets it run on. After the runtime was dropped, the task
    /// never runs and resolves to [`TaskError::Cancelled`](crate::TaskError).
    ///
    /// Only `Send` futures can be spawned this way; `!Send` ones go to
    /// [`Handle::spawn_local`]:
    ///
    /// ```compile_fail
    /// # use bevy_coro::prelude::*;
    /// # use bevy_coro::runtime::{Runtime, RuntimeConfig};
    /// let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    /// let not_send = std::rc::Rc::new(1);
    /// runtime.spawn::<Main>(async move { *not_send }).detach();
    /// ```
    fn spawn<A: Affinity>(&self, future: F) -> Task<F::Output>;
}

impl<F> SpawnOn<F> for Handle
where
    // Not `Send`? `spawn_local(fut)` runs it on the main thread for good.
    F: Future<Output: Send + 'static> + Send + 'static,
{
    #[track_caller]
    fn spawn<A: Affinity>(&self, future: F) -> Task<F::Output> {
        spawn_send(
            &self.shared,
            A::SIDE,
            Options::default(),
            Location::caller(),
            future,
        )
    }
}

impl Handle {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Handle { shared }
    }

    /// Spawns a `!Send` future that lives on the main thread for good: it is
    /// only ever polled by the pump and cannot hop to a worker (an
    /// `.on::<Worker>()` inside it panics). Use it for futures holding `Rc`s or
    /// other thread-bound data.
    ///
    /// # Panics
    ///
    /// When called on another thread than the runtime's main thread (the one
    /// that created it, in Bevy the App's), since the future cannot be moved.
    #[track_caller]
    pub fn spawn_local<F>(&self, future: F) -> Task<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        spawn_local(&self.shared, Options::default(), Location::caller(), future)
    }

    /// Tasks spawned and not yet finished (including parked ones).
    pub fn in_flight(&self) -> usize {
        self.shared.in_flight.get()
    }

    /// Number of worker threads (0 in the single-threaded mode and in
    /// deterministic mode, where the pump runs the worker tasks).
    pub fn worker_count(&self) -> usize {
        self.shared.workers.count()
    }

    /// The time on the runtime's clock (real, manual or the game's virtual
    /// time), as an `Instant` to add durations to and pass to
    /// [`sleep_until`](super::sleep_until). Time zero is when the runtime started.
    pub fn now(&self) -> Instant {
        self.shared.timers.now_instant()
    }

    /// Timers filed and not yet fired or cancelled.
    pub fn pending_timers(&self) -> usize {
        self.shared.timers.pending()
    }

    /// Queue depths and running totals, for reports and overlays.
    pub fn stats(&self) -> RuntimeStats {
        let (panics, ticks_skipped) = self.shared.counters.snapshot();
        RuntimeStats {
            in_flight: self.in_flight(),
            main_queue: self.shared.main.len(),
            worker_queue: self.shared.workers.queued() + self.shared.main.worker_len(),
            at_resume_points: self.shared.at_resume_points(),
            panics,
            ticks_skipped,
            main_slice_raised: self
                .shared
                .main_slice
                .as_ref()
                .map_or(0, |slice| slice.raised()),
            workers: self.shared.workers.stats(),
        }
    }

    /// Every live task (spawned, its future not yet dropped), oldest first:
    /// its state, what it waits for, its age and polls. Empty unless the
    /// runtime tracks its tasks ([`RuntimeConfig::track_tasks`](crate::runtime::RuntimeConfig::track_tasks),
    /// [`CoroPlugin::track_tasks`](crate::CoroPlugin::track_tasks)). A
    /// snapshot: it costs a lock per shard of the list and an allocation per
    /// task, for an overlay every few frames or a debugging session, not
    /// for every frame of a shipped game.
    ///
    /// ```
    /// use bevy_coro::prelude::*;
    /// use bevy_coro::runtime::{Instant, Runtime, RuntimeConfig, TaskState, WaitingOn};
    /// use std::time::Duration;
    ///
    /// let runtime = Runtime::new(RuntimeConfig { track_tasks: true, ..Default::default() }).unwrap();
    /// let nap = runtime.spawn::<Main>(sleep(Duration::from_secs(60)));
    /// runtime.pump(Instant::now(), None);
    /// let tasks = runtime.tasks();
    /// assert_eq!(tasks[0].state, TaskState::Waiting);
    /// assert!(matches!(tasks[0].waiting_on[..], [WaitingOn::Timer { .. }]));
    /// drop(nap); // cancels it: gone from the list at its next poll
    /// runtime.pump(Instant::now(), None);
    /// assert!(runtime.tasks().is_empty());
    /// ```
    pub fn tasks(&self) -> Vec<TaskSnapshot> {
        let Some(tasks) = &self.shared.tasks else {
            return Vec::new();
        };
        tasks.snapshot(self.shared.timers.now(), self.shared.main.frame())
    }

    /// Whether the runtime keeps the live task list
    /// ([`tasks`](Handle::tasks) and [`leaks`](Handle::leaks) say nothing
    /// without it).
    pub fn tracks_tasks(&self) -> bool {
        self.shared.tasks.is_some()
    }

    /// The live tasks older than `older_than`, grouped by where they were
    /// spawned, most first: the `interval` nobody cancels, the task that
    /// waits forever. The same as [`find_leaks`] over [`tasks`](Handle::tasks);
    /// empty unless the runtime tracks its tasks.
    ///
    /// ```
    /// use bevy_coro::runtime::{Instant, ManualClock, Clock, Runtime, RuntimeConfig};
    /// use std::time::Duration;
    ///
    /// let clock = ManualClock::new();
    /// let runtime = Runtime::new(RuntimeConfig {
    ///     track_tasks: true,
    ///     clock: Clock::Manual(clock.clone()),
    ///     ..Default::default()
    /// })
    /// .unwrap();
    /// let forgotten: Vec<_> = (0..3)
    ///     .map(|_| runtime.interval(Duration::from_secs(1), || async {}))
    ///     .collect();
    /// runtime.pump(Instant::now(), None);
    /// clock.advance(Duration::from_secs(30));
    /// let leaks = runtime.leaks(Duration::from_secs(10));
    /// assert_eq!(leaks.len(), 1);
    /// assert_eq!(leaks[0].count, 3);
    /// println!("{}", leaks[0]); // 3 tasks spawned at src/main.rs:13:20, 3 waiting, ...
    /// # drop(forgotten);
    /// ```
    pub fn leaks(&self, older_than: Duration) -> Vec<Leak> {
        find_leaks(&self.tasks(), older_than)
    }

    /// The tasks spawned with an owner (see [`TaskBuilder`](crate::runtime::TaskBuilder)) since the last
    /// call, with their owner's key, for the driver to tie to their owners.
    /// The plugin's pump ties them to their entities.
    pub fn take_owned(&self) -> impl Iterator<Item = (Owner, CancelHandle)> + '_ {
        std::iter::from_fn(|| {
            let (owner, node) = self.shared.owned.pop().ok()?;
            Some((owner, CancelHandle::new(node, self.shared.clone())))
        })
    }

    /// Number of tasks waiting for the main thread's next pump.
    pub fn main_queue_len(&self) -> usize {
        self.shared.main.len()
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("workers", &self.worker_count())
            .field("in_flight", &self.in_flight())
            .finish()
    }
}
