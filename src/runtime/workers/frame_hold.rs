//! Worker wakes held while the game's frame runs.
//!
//! On a machine with as many busy threads as cores (the default: one worker
//! per core but the main thread's, beside the engine's own task pool), a
//! worker woken in the middle of a frame takes a core the frame's systems
//! want, and the frame ends late. Between [`Runtime::begin_frame`] and
//! [`Runtime::end_frame`] (the plugin calls them in `First` and `Last`), a
//! wake asked for a *sleeping* worker from outside the scheduler's own
//! threads (the frame's systems, the pump, any other thread) waits for the
//! frame's end instead; the task is queued at once, so a worker still
//! awake takes it meanwhile. Measured on the showcase (2 cores, normal
//! priority, arena): frames over 2 ms fell from 1.3× to 0.04× bevy_tasks',
//! see BENCHMARKS.md.
//!
//! What keeps it from stalling anything:
//!
//! - a frame longer than the configured bound (`RuntimeConfig::frame_hold`)
//!   gives its held wakes at the bound: the next wake asked after it gives
//!   them, and so does the rescue thread's next look;
//! - a thread that blocks on a `Task` inside the frame (`Task::block`,
//!   `block_on`) gives them before it waits;
//! - the scheduler's own threads (workers, the timer and rescue threads)
//!   are never held: a timer fires when due.
//!
//! The state is one word, the frame's open bit and the count of wakes held:
//! a hold adds to the count only while the bit is set, and the frame's end
//! takes the count as it clears the bit, in one swap, so every held wake is
//! given once (modelled with loom below).
//!
//! [`Runtime::begin_frame`]: crate::runtime::Runtime::begin_frame
//! [`Runtime::end_frame`]: crate::runtime::Runtime::end_frame

use crate::runtime::sync::{AtomicUsize, Ordering};

#[cfg(not(loom))]
pub(crate) use driver::FrameClock;

/// The open bit; the bits below it count the wakes held.
const OPEN: usize = 1 << (usize::BITS - 1);

/// Whether a frame is open, and the worker wakes it holds.
#[derive(Default)]
pub(crate) struct FrameHold {
    state: AtomicUsize,
}

impl FrameHold {
    /// The frame begins: wakes asked from now on are held.
    pub(crate) fn open(&self) {
        self.state.fetch_or(OPEN, Ordering::AcqRel);
    }

    /// The frame ends: returns the wakes held, to give now.
    pub(crate) fn close(&self) -> usize {
        self.state.swap(0, Ordering::AcqRel) & !OPEN
    }

    /// Whether a frame is open.
    pub(crate) fn is_open(&self) -> bool {
        self.state.load(Ordering::Acquire) & OPEN != 0
    }

    /// Holds `wakes` more (at most `cap` in all: there are no more workers
    /// to wake) if a frame is open; returns whether they were held.
    pub(crate) fn hold(&self, wakes: usize, cap: usize) -> bool {
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            if state & OPEN == 0 {
                return false;
            }
            let held = (state & !OPEN).saturating_add(wakes).min(cap);
            match self.state.compare_exchange_weak(
                state,
                OPEN | held,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                Err(now) => state = now,
            }
        }
    }

    /// Takes the wakes held so far, to give now; the frame stays open.
    pub(crate) fn take(&self) -> usize {
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            if state & !OPEN == 0 {
                return 0;
            }
            match self.state.compare_exchange_weak(
                state,
                state & OPEN,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return state & !OPEN,
                Err(now) => state = now,
            }
        }
    }
}

/// What the scheduler does with the frame hold: open and close it for the
/// driver, hold or give wakes, give them when a frame runs past its bound.
#[cfg(not(loom))]
mod driver {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    use super::super::Workers;
    use crate::runtime::task::context;
    use crate::runtime::{Instant, Shared};

    /// When the open frame began, and how long it may hold wakes.
    pub(crate) struct FrameClock {
        /// `None`: wakes are never held.
        at_most: Option<Duration>,
        epoch: Instant,
        /// When the open frame began, in nanoseconds from `epoch`.
        began: AtomicU64,
    }

    impl FrameClock {
        pub(crate) fn new(at_most: Option<Duration>) -> Self {
            FrameClock {
                at_most,
                epoch: Instant::now(),
                began: AtomicU64::new(0),
            }
        }

        fn now(&self) -> u64 {
            u64::try_from((Instant::now() - self.epoch).as_nanos()).unwrap_or(u64::MAX)
        }

        /// Whether the open frame has held wakes for as long as it may.
        fn overdue(&self) -> bool {
            self.at_most.is_some_and(|at_most| {
                let held_for = self
                    .now()
                    .saturating_sub(self.began.load(Ordering::Relaxed));
                held_for >= u64::try_from(at_most.as_nanos()).unwrap_or(u64::MAX)
            })
        }
    }

    /// Whether a wake asked on this thread waits for the frame's end: it is
    /// not a worker's, nor the timer or rescue thread's (the scheduler's own
    /// threads, whose wakes are due now), but the pump's may wait.
    fn on_a_frame_thread(shared: &Shared) -> bool {
        context::worker_index(shared).is_none()
            && (context::is_pumping(shared) || !context::in_scheduler())
    }

    impl Workers {
        /// The game's frame begins (see [`Runtime::begin_frame`](crate::runtime::Runtime::begin_frame)).
        pub(crate) fn begin_frame(&self) {
            if self.count() == 0 || self.frame_clock.at_most.is_none() {
                return;
            }
            self.frame_clock
                .began
                .store(self.frame_clock.now(), Ordering::Relaxed);
            self.frame.open();
        }

        /// The game's frame ends: the wakes it held are given.
        pub(crate) fn end_frame(&self) {
            self.wake(self.frame.close());
        }

        /// Wakes `n` sleeping workers after a push, or, asked outside the
        /// scheduler's own threads while the frame runs, holds the wakes for
        /// its end.
        pub(crate) fn wake_or_hold(&self, shared: &Shared, n: usize) {
            if n == 0 {
                return;
            }
            self.wake_or_hold_from(self.frame.is_open() && on_a_frame_thread(shared), n);
        }

        /// The wakes the pump held, given as it returns: still the main
        /// thread's, in the middle of the frame, so held for the frame's end
        /// like the pump's own (its task context is over by then, but not
        /// its time: a wake here is a system call, 70 to 180 µs measured in
        /// a VM, that took pumps past their budget).
        pub(crate) fn release_pump_wakes(&self, n: usize) {
            if n == 0 {
                return;
            }
            self.wake_or_hold_from(self.frame.is_open(), n);
        }

        fn wake_or_hold_from(&self, frame_thread: bool, mut n: usize) {
            if frame_thread {
                if !self.frame_clock.overdue() {
                    if self.frame.hold(n, self.count()) {
                        self.frame_held.0.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                } else {
                    n = n.saturating_add(self.frame.take());
                }
            }
            self.wake(n);
        }

        /// Gives the wakes the frame holds now: this thread is about to
        /// wait, maybe for a worker (`block_on` of a `Task`).
        pub(crate) fn give_frame_wakes(&self) {
            self.wake(self.frame.take());
        }

        /// Gives the wakes of a frame that has held them too long (the
        /// rescue thread's look).
        pub(crate) fn give_overdue_frame_wakes(&self) {
            if self.frame.is_open() && self.frame_clock.overdue() {
                self.wake(self.frame.take());
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn wakes_are_held_only_while_a_frame_is_open() {
        let frame = FrameHold::default();
        assert!(!frame.hold(1, 4));
        frame.open();
        assert!(frame.is_open());
        assert!(frame.hold(1, 4));
        assert!(frame.hold(2, 4));
        assert_eq!(frame.close(), 3);
        assert!(!frame.is_open());
        assert!(!frame.hold(1, 4));
        assert_eq!(frame.close(), 0);
    }

    #[test]
    fn no_more_wakes_are_held_than_there_are_workers() {
        let frame = FrameHold::default();
        frame.open();
        assert!(frame.hold(usize::MAX, 2));
        assert!(frame.hold(1, 2));
        assert_eq!(frame.close(), 2);
    }

    #[test]
    fn taking_the_held_wakes_keeps_the_frame_open() {
        let frame = FrameHold::default();
        assert_eq!(frame.take(), 0);
        frame.open();
        assert!(frame.hold(2, 4));
        assert_eq!(frame.take(), 2);
        assert!(frame.is_open());
        assert!(frame.hold(1, 4));
        assert_eq!(frame.close(), 1);
    }
}

#[cfg(all(test, loom))]
mod models {
    use super::*;
    use loom::sync::Arc;
    use loom::thread;

    /// A wake held on one thread while another ends the frame (and a third
    /// takes the held ones, as an overdue frame does) is given exactly once:
    /// by the frame's end, by the take, or at once by the thread that asked.
    #[test]
    fn a_hold_racing_the_frames_end_is_given_once() {
        crate::model("a_hold_racing_the_frames_end_is_given_once", || {
            let frame = Arc::new(FrameHold::default());
            frame.open();
            let asker = {
                let frame = frame.clone();
                thread::spawn(move || if frame.hold(1, 4) { 0 } else { 1 })
            };
            let taker = {
                let frame = frame.clone();
                thread::spawn(move || frame.take())
            };
            let closed = frame.close();
            let given = closed + asker.join().unwrap() + taker.join().unwrap();
            assert_eq!(given, 1, "a held wake was lost or given twice");
            assert_eq!(frame.close(), 0);
        });
    }
}
