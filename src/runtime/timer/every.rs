//! Delayed and interval tasks: [`Handle::after`] / [`Handle::delayed`] and
//! [`Handle::every`] / [`Handle::interval`], with [`MissedTick`] policies.
//!
//! Each is one task that sleeps on the wheel and calls its factory when due
//! (its body is in `runs`).

use std::future::Future;
use std::panic::Location;
use std::sync::Arc;
use std::time::Duration;

use super::handle::{TimerHandle, TimerState};
use super::runs::{Grid, MissedTick, delayed, interval};
use crate::runtime::task::options::{Options, Side};
use crate::runtime::task::spawn_send;
use crate::runtime::{Affinity, Handle, Shared};

/// Options for an interval task; made by [`Handle::every`].
///
/// ```
/// # use bevy_coro::prelude::*;
/// # use bevy_coro::runtime::{Runtime, RuntimeConfig, MissedTick};
/// # use std::time::Duration;
/// # let coro = Runtime::new(RuntimeConfig::default()).unwrap();
/// let timer = coro
///     .every(Duration::from_millis(100))
///     .on::<Worker>()
///     .missed(MissedTick::Burst)
///     .first_after_period()
///     .run(|| async { /* re-plan */ });
/// ```
#[must_use = "an interval does nothing until `.run(factory)`"]
#[derive(Debug, Clone)]
pub struct Every {
    handle: Handle,
    period: Duration,
    side: Side,
    missed: MissedTick,
    first_after_period: bool,
    name: Option<&'static str>,
}

impl Every {
    /// Runs on affinity `A` ([`Main`](crate::Main) by default).
    pub fn on<A: Affinity>(mut self) -> Self {
        self.side = A::SIDE;
        self
    }

    /// What to do with ticks that came during a run; default [`MissedTick::Skip`].
    pub fn missed(mut self, policy: MissedTick) -> Self {
        self.missed = policy;
        self
    }

    /// The first run is one period after the start, instead of at once.
    pub fn first_after_period(mut self) -> Self {
        self.first_after_period = true;
        self
    }

    /// Names the interval's task (see [`Handle::task`]).
    pub fn name(mut self, name: &'static str) -> Self {
        self.name = Some(name);
        self
    }

    /// Starts the interval: `factory()` makes each run's future.
    #[track_caller]
    pub fn run<F, Fut>(self, factory: F) -> TimerHandle
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let shared = self.handle.shared.clone();
        let state = Arc::new(TimerState::default());
        let period = u64::try_from(self.period.as_nanos()).unwrap_or(u64::MAX);
        let grid = Grid {
            origin: shared.timers.now(),
            period,
            next: u64::from(self.first_after_period),
        };
        let body = interval(shared.clone(), state.clone(), grid, self.missed, factory);
        spawn_timer_task(&shared, self.side, self.name, Location::caller(), body);
        TimerHandle::new(state)
    }
}

/// Options for a delayed task; made by [`Handle::after`].
#[must_use = "a delayed task does nothing until `.run(factory)`"]
#[derive(Debug, Clone)]
pub struct After {
    handle: Handle,
    delay: Duration,
    side: Side,
    name: Option<&'static str>,
}

impl After {
    /// Runs on affinity `A` ([`Main`](crate::Main) by default).
    pub fn on<A: Affinity>(mut self) -> Self {
        self.side = A::SIDE;
        self
    }

    /// Names the delayed task (see [`Handle::task`]).
    pub fn name(mut self, name: &'static str) -> Self {
        self.name = Some(name);
        self
    }

    /// Schedules the run: `factory()` is called once, when the delay is over.
    #[track_caller]
    pub fn run<F, Fut>(self, factory: F) -> TimerHandle
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let shared = self.handle.shared.clone();
        let state = Arc::new(TimerState::default());
        let due = u64::try_from(self.delay.as_nanos())
            .ok()
            .and_then(|delay| shared.timers.now().checked_add(delay));
        let body = delayed(shared.clone(), state.clone(), due, factory);
        spawn_timer_task(&shared, self.side, self.name, Location::caller(), body);
        TimerHandle::new(state)
    }
}

impl Handle {
    /// Options for a task that runs every `period`; see [`Every`].
    ///
    /// # Panics
    ///
    /// When `period` is zero.
    #[track_caller]
    pub fn every(&self, period: Duration) -> Every {
        assert!(
            !period.is_zero(),
            "bevy_coro: an interval's period must be longer than zero"
        );
        Every {
            handle: self.clone(),
            period,
            side: Side::Main,
            missed: MissedTick::Skip,
            first_after_period: false,
            name: None,
        }
    }

    /// Options for a task that runs once after `delay`; see [`After`].
    pub fn after(&self, delay: Duration) -> After {
        After {
            handle: self.clone(),
            delay,
            side: Side::Main,
            name: None,
        }
    }

    /// Runs `factory()` now and then every `period` on the main thread, on the
    /// grid `start + k·period`, never two runs at once (a tick that comes
    /// during a run is skipped and counted). A run never follows another
    /// without a turn for the rest of the frame, and a period shorter than a
    /// run never holds the frame (see [`MissedTick`]). Dropping the
    /// [`TimerHandle`] stops it.
    ///
    /// ```
    /// # use bevy_coro::prelude::*;
    /// # use bevy_coro::runtime::{Runtime, RuntimeConfig};
    /// # use std::time::Duration;
    /// # let coro = Runtime::new(RuntimeConfig::default()).unwrap();
    /// let timer = coro.interval(Duration::from_millis(100), || async {
    ///     // every 100 ms, on the main thread
    /// });
    /// // ... later: stop it
    /// timer.cancel();
    /// ```
    ///
    /// # Panics
    ///
    /// When `period` is zero.
    #[track_caller]
    pub fn interval<F, Fut>(&self, period: Duration, factory: F) -> TimerHandle
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.every(period).run(factory)
    }

    /// Runs `factory()` once after `delay`, on the main thread. Dropping the
    /// handle before then cancels it (the factory is never called). A delay of
    /// `Duration::MAX` never fires.
    #[track_caller]
    pub fn delayed<F, Fut>(&self, delay: Duration, factory: F) -> TimerHandle
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.after(delay).run(factory)
    }
}

fn spawn_timer_task<F>(
    shared: &Arc<Shared>,
    side: Side,
    name: Option<&'static str>,
    location: &'static Location<'static>,
    body: F,
) where
    F: Future<Output = ()> + Send + 'static,
{
    let options = Options {
        name,
        ..Options::default()
    };
    spawn_send(shared, side, options, location, body).detach();
}
