//! Delayed and interval tasks: [`Handle::after`] / [`Handle::delayed`] and
//! [`Handle::every`] / [`Handle::interval`], with [`MissedTick`] policies.
//!
//! Each is one task that sleeps on the wheel and calls its factory when due
//! (its body is in `runs`).

use std::future::Future;
use std::panic::Location;
use std::sync::Arc;
use std::time::Duration;

use super::runs::{Grid, delayed, interval};
use crate::runtime::cancel::{CancelToken, TokenState};
use crate::runtime::handle::Spec;
use crate::runtime::header::MAIN;
use crate::runtime::task;
use crate::runtime::{Affinity, Handle, Shared};

/// What an interval does with the ticks that came while a run was going.
///
/// Timelines for a period `P` where the run started at tick 0 takes `2.5 P`
/// (`#` a run, `|` a tick, `x` a skipped tick):
///
/// ```text
/// ticks:  |0        |1        |2        |3        |4
/// Skip:   #########################     x ########## (1, 2 skipped; next run on tick 3)
/// Burst:  #########################=========####    (1 runs at 2.5 P, 2 right after it)
/// Delay:  #########################     #####        (one run at 2.5 P; the grid moves there)
/// ```
///
/// Whatever the policy, an interval never starts a run without giving the
/// scheduler a turn first, even when the tick is already due: on the main
/// thread the pump can stop at its budget between two runs, and other tasks
/// run in between; on a worker the interval goes to the back of the queue.
/// On the main thread, when a run ends with the next tick already due, that
/// tick runs in this frame if it was due when the frame reached the
/// interval, else in the next frame (runs longer than the period, a period
/// shorter than a run): so an interval cannot hold a frame, with or without
/// a budget.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum MissedTick {
    /// The ticks a run covered are skipped and counted in
    /// [`CancelToken::ticks_skipped`]; the next run is on the next tick of the
    /// grid `start + k·period`. The default: the grid never drifts, and a slow
    /// run does not cause a burst of catch-up runs.
    #[default]
    Skip,
    /// Every tick runs: the ones a run covered run one after another, each
    /// after a turn, until the interval is back on its grid (those due when
    /// the frame reached the interval in that frame, the rest in the next
    /// frames). Runs that always take longer than the period never catch up,
    /// and then, without a `main_budget`, each frame runs more of them: use a
    /// budget, or `Skip`.
    Burst,
    /// One run, after a turn, for the ticks a run covered (the rest are
    /// counted as skipped), and the grid restarts from there:
    /// `end + k·period`.
    Delay,
}

/// Options for an interval task; made by [`Handle::every`].
///
/// ```
/// # use bevy_coro::prelude::*;
/// # use bevy_coro::runtime::{Runtime, RuntimeConfig, MissedTick};
/// # use std::time::Duration;
/// # let coro = Runtime::new(RuntimeConfig::default()).unwrap();
/// let token = coro
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
    affinity: u8,
    missed: MissedTick,
    first_after_period: bool,
    name: Option<&'static str>,
}

impl Every {
    /// Runs on affinity `A` ([`Main`](crate::Main) by default).
    pub fn on<A: Affinity>(mut self) -> Self {
        self.affinity = A::CODE;
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
    pub fn run<F, Fut>(self, factory: F) -> CancelToken
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let shared = self.handle.shared.clone();
        let state = Arc::new(TokenState::default());
        let period = u64::try_from(self.period.as_nanos()).unwrap_or(u64::MAX);
        let grid = Grid {
            origin: shared.timers.now(),
            period,
            next: u64::from(self.first_after_period),
        };
        let body = interval(shared.clone(), state.clone(), grid, self.missed, factory);
        spawn_timer_task(&shared, self.affinity, self.name, Location::caller(), body);
        CancelToken::new(state)
    }
}

/// Options for a delayed task; made by [`Handle::after`].
#[must_use = "a delayed task does nothing until `.run(factory)`"]
#[derive(Debug, Clone)]
pub struct After {
    handle: Handle,
    delay: Duration,
    affinity: u8,
    name: Option<&'static str>,
}

impl After {
    /// Runs on affinity `A` ([`Main`](crate::Main) by default).
    pub fn on<A: Affinity>(mut self) -> Self {
        self.affinity = A::CODE;
        self
    }

    /// Names the delayed task (see [`Handle::task`]).
    pub fn name(mut self, name: &'static str) -> Self {
        self.name = Some(name);
        self
    }

    /// Schedules the run: `factory()` is called once, when the delay is over.
    #[track_caller]
    pub fn run<F, Fut>(self, factory: F) -> CancelToken
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let shared = self.handle.shared.clone();
        let state = Arc::new(TokenState::default());
        let due = u64::try_from(self.delay.as_nanos())
            .ok()
            .and_then(|delay| shared.timers.now().checked_add(delay));
        let body = delayed(shared.clone(), state.clone(), due, factory);
        spawn_timer_task(&shared, self.affinity, self.name, Location::caller(), body);
        CancelToken::new(state)
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
            affinity: MAIN,
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
            affinity: MAIN,
            name: None,
        }
    }

    /// Runs `factory()` now and then every `period` on the main thread, on the
    /// grid `start + k·period`, never two runs at once (a tick that comes
    /// during a run is skipped and counted). A run never follows another
    /// without a turn for the rest of the frame, and a period shorter than a
    /// run never holds the frame (see [`MissedTick`]). Dropping the token
    /// stops it.
    ///
    /// ```
    /// # use bevy_coro::prelude::*;
    /// # use bevy_coro::runtime::{Runtime, RuntimeConfig};
    /// # use std::time::Duration;
    /// # let coro = Runtime::new(RuntimeConfig::default()).unwrap();
    /// let token = coro.interval(Duration::from_millis(100), || async {
    ///     // every 100 ms, on the main thread
    /// });
    /// // ... later: stop it
    /// token.cancel();
    /// ```
    ///
    /// # Panics
    ///
    /// When `period` is zero.
    #[track_caller]
    pub fn interval<F, Fut>(&self, period: Duration, factory: F) -> CancelToken
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.every(period).run(factory)
    }

    /// Runs `factory()` once after `delay`, on the main thread. Dropping the
    /// token before then cancels it (the factory is never called). A delay of
    /// `Duration::MAX` never fires.
    #[track_caller]
    pub fn delayed<F, Fut>(&self, delay: Duration, factory: F) -> CancelToken
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.after(delay).run(factory)
    }
}

fn spawn_timer_task<F>(
    shared: &Arc<Shared>,
    affinity: u8,
    name: Option<&'static str>,
    location: &'static Location<'static>,
    body: F,
) where
    F: Future<Output = ()> + Send + 'static,
{
    let options = Spec {
        name,
        ..Spec::default()
    }
    .options(affinity, false, location);
    // SAFETY: the body is `Send`.
    unsafe { task::spawn(shared, options, body) }.detach();
}
