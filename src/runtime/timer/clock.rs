//! Where timers read the time: the real monotonic clock, or a clock advanced
//! by hand (tests, replays, and Bevy's `Time<Virtual>`). The real clock is
//! read by [`now`] alone, the one place the scheduler asks the system for
//! the time.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The scheduler's instants: `std::time::Instant` natively; on the web
/// (`wasm32` with `bevy_platform`'s `web` feature, which Bevy's `web`
/// feature turns on), a web-safe one, as `std`'s panics there.
pub use bevy_platform::time::Instant;

/// The time now, on the real monotonic clock.
#[inline]
pub(crate) fn now() -> Instant {
    Instant::now()
}

/// The latest time a clock can show, in nanoseconds: one before `u64::MAX`, so
/// a deadline of `u64::MAX` (what `Duration::MAX` comes to) is never reached.
pub(crate) const END_OF_TIME: u64 = u64::MAX - 1;

/// The clock a runtime's timers follow.
#[derive(Clone, Debug, Default)]
pub enum Clock {
    /// Real monotonic time. A timer thread fires due timers on time, even
    /// when frames are slow.
    #[default]
    Real,
    /// Time moves only when the [`ManualClock`] is advanced; due timers fire
    /// in the next pump.
    Manual(ManualClock),
}

/// A clock moved by hand: `advance` it in tests, or `set` it from a game clock.
/// Clones share the same time.
#[derive(Clone, Debug, Default)]
pub struct ManualClock {
    nanos: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward by `by` (it stops at the end of time, some 584
    /// years in).
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        let _ = self
            .nanos
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |now| {
                Some(now.saturating_add(by).min(END_OF_TIME))
            });
    }

    /// Sets the time since the clock started. Time never goes back: an
    /// earlier value is ignored.
    pub fn set(&self, elapsed: Duration) {
        let elapsed = u64::try_from(elapsed.as_nanos()).map_or(END_OF_TIME, |n| n.min(END_OF_TIME));
        self.nanos.fetch_max(elapsed, Ordering::AcqRel);
    }

    /// The time since the clock started.
    pub fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.nanos())
    }

    /// The time since the clock started, in nanoseconds.
    #[inline]
    pub(crate) fn nanos(&self) -> u64 {
        self.nanos.load(Ordering::Acquire)
    }
}
