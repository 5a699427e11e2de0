//! Timers: one hierarchical wheel for every sleep, delay and interval.
//!
//! A timer is a waker filed under its deadline (the timers of one task share
//! one copy of its waker, see `wakers`). When the deadline passes, the waker
//! is woken and the task it belongs to goes to its affinity's queue like any
//! other wake. Due timers are fired by the pump at the start of each frame
//! and, under the real clock, by a timer thread that sleeps until the next
//! deadline, so worker tasks wake on time even when frames are slow.
//!
//! The wheel counts 1 ms ticks. A timer is filed at the tick its deadline falls
//! in, so it may fire up to a tick early; the sleeping future compares the
//! exact time and files itself again for the next tick if so. It never
//! completes early.

pub(crate) mod clock;
mod every;
mod handle;
mod runs;
mod sleep;
mod wakers;
mod wheel;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Waker;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use event_listener::{Event, Listener, listener};

pub use clock::{Clock, Instant, ManualClock};
pub use every::{After, Every};
pub use handle::TimerHandle;
pub use runs::MissedTick;
pub use sleep::{Elapsed, Sleep, Timeout, sleep, sleep_until, timeout};
pub(crate) use wheel::TimerKey;

use wakers::Wakers;
use wheel::Wheel;

use super::Shared;

/// Wakes each waker once. A run of wakers that wake the same task (a task
/// whose timers were filed between other tasks' ones) wakes it once, and the
/// rest are dropped:
/// every timer here left the wheel before the first wake, so the poll that
/// wake brings sees them all fired.
fn wake_all(wakers: Vec<Waker>) {
    let mut last: Option<Waker> = None;
    for waker in wakers {
        match &last {
            Some(previous) if previous.will_wake(&waker) => drop(waker),
            _ => {
                if let Some(previous) = last.replace(waker) {
                    previous.wake();
                }
            }
        }
    }
    if let Some(last) = last {
        last.wake();
    }
}

/// Length of a wheel tick.
const TICK_NANOS: u64 = 1_000_000;
/// `next_due` when no timer is pending.
const NONE_DUE: u64 = u64::MAX;

/// The filed timers: the wheel, whose timers carry the index of their
/// task's waker in `wakers`.
struct Filing {
    wheel: Wheel<u32>,
    wakers: Wakers,
}

/// The timer side of the scheduler.
pub(crate) struct Timers {
    filing: Mutex<Filing>,
    clock: Clock,
    /// Time zero of the real clock.
    epoch: Instant,
    /// A tick at or before which the next timer comes due (`NONE_DUE`: none).
    /// Read without the lock, so an empty frame does not take it; written
    /// under it.
    next_due: AtomicU64,
    /// The wheel's last processed tick: every timer filed at or before it
    /// has fired and left the wheel. Written under the lock, read without it,
    /// so a sleep that is due or still filed with the same waker (the common
    /// polls) takes no lock.
    fired_through: AtomicU64,
    /// Wakes the timer thread for an earlier deadline or for shutdown.
    event: Event,
    stopping: AtomicBool,
}

/// A timer filed by [`Timers::insert`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Filed {
    pub(crate) key: TimerKey,
    /// The tick it fires at.
    pub(crate) tick: u64,
    /// Whether the wheel had passed the deadline's tick, so the timer went to
    /// the next one: the clock may have passed the deadline already.
    pub(crate) late: bool,
}

impl Timers {
    pub(crate) fn new(clock: Clock) -> Self {
        Timers {
            filing: Mutex::new(Filing {
                wheel: Wheel::new(),
                wakers: Wakers::new(),
            }),
            clock,
            epoch: clock::now(),
            next_due: AtomicU64::new(NONE_DUE),
            fired_through: AtomicU64::new(0),
            event: Event::new(),
            stopping: AtomicBool::new(false),
        }
    }

    fn filing(&self) -> MutexGuard<'_, Filing> {
        // Only wheel bookkeeping runs under the lock (no user code, no waker
        // woken or dropped), so a poisoned lock still guards a consistent
        // wheel.
        self.filing.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Nanoseconds since the clock started.
    #[inline]
    pub(crate) fn now(&self) -> u64 {
        match &self.clock {
            Clock::Real => {
                let elapsed = clock::now().saturating_duration_since(self.epoch);
                u64::try_from(elapsed.as_nanos())
                    .map_or(clock::END_OF_TIME, |n| n.min(clock::END_OF_TIME))
            }
            Clock::Manual(clock) => clock.nanos(),
        }
    }

    /// The clock's time as an `Instant` (time zero is when the runtime started).
    pub(crate) fn now_instant(&self) -> Instant {
        self.epoch + Duration::from_nanos(self.now())
    }

    /// Converts an `Instant` to the clock's nanoseconds (`None`: too far to
    /// represent, i.e. never).
    pub(crate) fn nanos_at(&self, instant: Instant) -> Option<u64> {
        u64::try_from(instant.saturating_duration_since(self.epoch).as_nanos()).ok()
    }

    /// Files `waker` to be woken at `deadline` (nanoseconds).
    #[inline]
    pub(crate) fn insert(&self, deadline: u64, waker: &Waker) -> Filed {
        let mut filing = self.filing();
        let Filing { wheel, wakers } = &mut *filing;
        let wanted = deadline / TICK_NANOS;
        let tick = wanted.max(wheel.elapsed() + 1);
        let key = wheel
            .insert(tick, wakers.share(waker))
            .unwrap_or_else(|_| unreachable!("tick is after the wheel's elapsed tick"));
        // Only written under the lock: a load and a store, no locked
        // read-modify-write, for every timer but the earliest.
        let before = self.next_due.load(Ordering::Relaxed);
        if tick < before {
            self.next_due.store(tick, Ordering::Release);
        }
        drop(filing);
        if tick < before && matches!(self.clock, Clock::Real) {
            // The timer thread sleeps until a later tick: wake it to re-plan.
            self.event.notify(1);
        }
        Filed {
            key,
            tick,
            late: tick != wanted,
        }
    }

    /// Whether the timer filed at `tick` has fired (and left the wheel).
    #[inline]
    pub(crate) fn has_fired(&self, tick: u64) -> bool {
        self.fired_through.load(Ordering::Acquire) >= tick
    }

    /// Updates the waker of a pending timer. Returns `false` if the timer has
    /// fired (it left the wheel) and must be filed again if still early.
    pub(crate) fn refresh(&self, key: TimerKey, waker: &Waker) -> bool {
        let mut filing = self.filing();
        let Filing { wheel, wakers } = &mut *filing;
        let Some(slot) = wheel.pending_mut(key) else {
            return false;
        };
        if !wakers.wakes(*slot, waker) {
            let old = std::mem::replace(slot, wakers.share(waker));
            let old = wakers.release(old);
            drop(filing);
            drop(old);
        }
        true
    }

    /// Removes a pending timer; its entry is freed at once. Nothing if it
    /// fired since.
    pub(crate) fn remove(&self, key: TimerKey) {
        let mut filing = self.filing();
        let Filing { wheel, wakers } = &mut *filing;
        let waker = wheel.remove(key).and_then(|slot| wakers.release(slot));
        drop(filing);
        // Dropped outside the lock: dropping a waker can drop a task.
        drop(waker);
    }

    /// Timers filed and not yet removed.
    pub(crate) fn pending(&self) -> usize {
        self.filing().wheel.len()
    }

    /// Fires every timer due by now. Returns how many fired.
    pub(crate) fn fire_due(&self) -> usize {
        self.fire_due_with(|| ())
    }

    /// Whether a timer is due by now: what `fire_due` would fire. Reads the
    /// clock only when a timer is pending.
    #[inline]
    pub(crate) fn any_due(&self) -> bool {
        let next_due = self.next_due.load(Ordering::Acquire);
        next_due != NONE_DUE && self.now() / TICK_NANOS >= next_due
    }

    /// [`fire_due`](Self::fire_due), calling `before_firing` first when a
    /// timer is due (not at all when none is: the pump starts its CPU clock
    /// there).
    pub(crate) fn fire_due_with(&self, before_firing: impl FnOnce()) -> usize {
        let next_due = self.next_due.load(Ordering::Acquire);
        // No timer: no clock to read either (an empty frame stays cheap).
        if next_due == NONE_DUE {
            return 0;
        }
        let now_tick = self.now() / TICK_NANOS;
        if now_tick < next_due {
            return 0;
        }
        before_firing();
        let mut fired = 0;
        let mut filing = self.filing();
        let Filing { wheel, wakers } = &mut *filing;
        wakers.begin_firing();
        wheel.advance(now_tick, |slot| {
            fired += 1;
            wakers.fired(slot);
        });
        let due = wakers.wake_list();
        self.fired_through.store(wheel.elapsed(), Ordering::Release);
        self.next_due
            .store(wheel.next_due().unwrap_or(NONE_DUE), Ordering::Release);
        drop(filing);
        // Woken with no lock held: a wake may run the schedule function, which
        // may drop a task whose sleep removes its timer.
        wake_all(due);
        fired
    }

    /// Starts the timer thread (real clock with worker threads only).
    pub(crate) fn start(shared: &Arc<Shared>) -> std::io::Result<Option<JoinHandle<()>>> {
        // The single-threaded mode has no thread to spare: its pump fires
        // the timers, worker ones included.
        if !matches!(shared.timers.clock, Clock::Real) || shared.is_single_threaded() {
            return Ok(None);
        }
        let shared = shared.clone();
        thread::Builder::new()
            .name("bevy_coro timers".into())
            .spawn(move || shared.timers.run())
            .map(Some)
    }

    /// The timer thread: fire what is due, sleep until the next deadline.
    fn run(&self) {
        // Scheduler work: its wakes are due now (a frame does not hold them,
        // see `frame_hold`), and a `block_on` here would stall every timer.
        let _working = crate::runtime::task::context::enter_scheduler_work();
        while !self.stopping.load(Ordering::Acquire) {
            self.fire_due();
            listener!(self.event => listener);
            if self.stopping.load(Ordering::Acquire) {
                break;
            }
            // Read after listening: an insert of an earlier timer from here on
            // notifies the listener.
            let due = self.next_due.load(Ordering::Acquire);
            if due == NONE_DUE {
                listener.wait();
            } else {
                // A timeout, not a deadline: the clock's `Instant` may not be
                // the one `event-listener` waits for (on the web).
                let wait = due.saturating_mul(TICK_NANOS).saturating_sub(self.now());
                if wait > 0 {
                    listener.wait_timeout(Duration::from_nanos(wait));
                }
            }
        }
    }

    /// Stops the timer thread and drops every filed waker.
    pub(crate) fn stop(&self, thread: Option<JoinHandle<()>>) {
        self.stopping.store(true, Ordering::Release);
        self.event.notify(usize::MAX);
        if let Some(thread) = thread
            && thread.thread().id() != thread::current().id()
        {
            let _ = thread.join();
        }
        let mut filing = self.filing();
        filing.wheel.drain();
        let wakers = filing.wakers.drain();
        drop(filing);
        drop(wakers);
    }
}
