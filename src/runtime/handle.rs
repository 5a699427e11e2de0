//! [`Handle`]: the cheap, cloneable way to reach a runtime from anywhere, and
//! the [`SpawnOn`] trait that spells `spawn::<Main>(fut)`.

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::sync::Arc;
use std::thread;
use std::time::Instant;

use super::Shared;
use super::affinity::Affinity;
use super::builder::TaskBuilder;
use super::header::MAIN;
use super::stats::RuntimeStats;
use super::task::{self, Options, Task};

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
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    #[track_caller]
    fn spawn<A: Affinity>(&self, future: F) -> Task<F::Output> {
        spawn_send::<A, F>(&self.shared, Spec::default(), Location::caller(), future)
    }
}

/// How to spawn: what the task builder collected (the defaults for a plain
/// `spawn`).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Spec {
    pub(crate) name: Option<&'static str>,
    pub(crate) priority: u8,
    /// Checked core mask; 0: any core.
    pub(crate) cores: u64,
}

impl Spec {
    /// The spawn options for this spec. A local task never runs on a worker:
    /// a core mask means nothing to it.
    pub(crate) fn options(
        self,
        affinity: u8,
        local: bool,
        location: &'static Location<'static>,
    ) -> Options {
        Options {
            affinity,
            local,
            name: self.name,
            location,
            priority: self.priority,
            cores: if local { 0 } else { self.cores },
        }
    }
}

pub(crate) fn spawn_send<A: Affinity, F>(
    shared: &Arc<Shared>,
    spec: Spec,
    location: &'static Location<'static>,
    future: F,
) -> Task<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let options = spec.options(A::CODE, false, location);
    // SAFETY: the future is `Send`, so it may be polled and dropped anywhere.
    unsafe { task::spawn(shared, options, future) }
}

pub(crate) fn spawn_local<F>(
    shared: &Arc<Shared>,
    spec: Spec,
    location: &'static Location<'static>,
    future: F,
) -> Task<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    assert!(
        thread::current().id() == shared.main_thread,
        "bevy_coro: `spawn_local` must be called on the main thread, \
         where its !Send future will live; use `spawn::<Main>` from other threads"
    );
    let options = spec.options(MAIN, true, location);
    // SAFETY: we are on the main thread, and `local = true` keeps the task
    // there: the schedule function routes local tasks to the main queue
    // whatever their header says, and `.on::<Worker>()` refuses to move them.
    unsafe { task::spawn(shared, options, future) }
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
        spawn_local(&self.shared, Spec::default(), Location::caller(), future)
    }

    /// A builder for a named task, with more options:
    /// `coro.task("pathfind").priority(Priority::High).spawn::<Worker>(fut)`.
    /// Unnamed tasks are named after their spawn location (`file:line`).
    pub fn task(&self, name: &'static str) -> TaskBuilder<'_> {
        TaskBuilder::new(self, name)
    }

    /// Tasks spawned and not yet finished (including parked ones).
    pub fn in_flight(&self) -> usize {
        self.shared.in_flight.get()
    }

    /// Number of worker threads.
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
            worker_queue: self.shared.workers.queued(),
            panics,
            ticks_skipped,
            workers: self.shared.workers.stats(),
        }
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
