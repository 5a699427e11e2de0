//! The main thread's time slice while the pump runs long (Linux 6.12 and
//! later).
//!
//! Why: the kernel's fair scheduler (EEVDF) lets a thread run until it has
//! used its slice (1.4 ms on a 2-core machine by default, more with more
//! cores), then, at the next scheduler tick, gives the core to another
//! runnable thread there, for that thread's own slice. A frame whose main
//! thread runs several milliseconds without a pause (a 4 ms pump budget
//! alone) has its core taken in the middle of the pump by any other
//! program's thread that lands there: one tick (4 ms at 250 Hz) or more. A
//! longer slice lets the main thread's work run on until the slice ends.
//! On the showcase under overload (`swarm --main-work-us 200 --budget-ms
//! 4`, alternating pairs on two maps), an 8 ms slice took the worst frame
//! from 7.7–12.4 ms to 5.2–9.3 ms.
//!
//! The cost, and why the slice is only asked for while pumps run long: a
//! thread with a longer slice has a later deadline, and since Linux 6.12 a
//! waking thread with a shorter slice may preempt it at once
//! (`PREEMPT_SHORT`). The engine's task-pool threads, woken by the main
//! thread to run the frame's systems, took its core about 17% more often
//! in the showcase with 8 ms than with the kernel's slice (BENCHMARKS.md,
//! "who takes the main thread's CPU on rooms"). So the main thread keeps
//! the kernel's slice while pumps are short, takes the long one from the
//! first pump whose work passes half the kernel's slice, and gives it back
//! after [`SHORT_PUMPS`] short pumps in a row: one system call at each
//! change, none per frame.
//!
//! The slice is the kernel's `sched_runtime` of a normal thread, set with
//! `sched_setattr`, which needs no privilege; kernels before 6.12 accept
//! and ignore it. The thread's policy and nice value are kept.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

/// The slice `CoroPlugin` asks for while pumps run long: a frame at 120
/// fps, longer than the main thread's work in most overloaded frames, so
/// the work is seldom cut.
pub const DEFAULT_MAIN_SLICE: Duration = Duration::from_millis(8);

/// Short pumps in a row after which the main thread gives the long slice
/// back: two seconds at 60 fps, so a game that overloads the pump now and
/// then does not pay a system call each time.
pub(crate) const SHORT_PUMPS: u32 = 120;

/// The main thread's slice, long while pumps run long. Touched only by the
/// main thread (in the pump and when the runtime is dropped); the atomics
/// are for `Shared`'s `Sync` and the stats, all relaxed.
#[derive(Debug)]
pub(crate) struct MainSlice {
    /// The long slice, in nanoseconds, within the kernel's bounds.
    long: u64,
    /// The thread's own slice when the runtime was built, in nanoseconds.
    own: u64,
    /// Pump work from which the long slice is asked for: half `own`.
    long_pump: Duration,
    /// 0: the thread has its own slice; n > 0: the long one, with n - 1
    /// short pumps since the last long one.
    state: AtomicU32,
    /// How many times the long slice was taken.
    raised: AtomicU64,
}

impl MainSlice {
    /// For the calling thread; `None` where it has no slice to change (not
    /// Linux, a real-time thread).
    pub(crate) fn new(long: Duration) -> Option<MainSlice> {
        let own = imp::get()?;
        Some(MainSlice {
            long: clamp(long),
            own,
            long_pump: Duration::from_nanos(own / 2),
            state: AtomicU32::new(0),
            raised: AtomicU64::new(0),
        })
    }

    /// After a pump whose own work (on the CPU) took `work`, on the main thread.
    #[inline]
    pub(crate) fn after_pump(&self, work: Duration) {
        if work >= self.long_pump {
            self.long_pump_done();
        } else {
            self.after_short_pump();
        }
    }

    /// After an empty pump (a short one) or a short pump.
    #[inline]
    pub(crate) fn after_short_pump(&self) {
        let short = self.state.load(Ordering::Relaxed);
        if short != 0 {
            self.short_pump_done(short);
        }
    }

    #[cold]
    fn long_pump_done(&self) {
        if self.state.swap(1, Ordering::Relaxed) == 0 && imp::set(self.long).is_some() {
            self.raised.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A short pump while the long slice is held; `short` is the state.
    #[cold]
    fn short_pump_done(&self, short: u32) {
        if short >= SHORT_PUMPS {
            self.give_back();
        } else {
            self.state.store(short + 1, Ordering::Relaxed);
        }
    }

    /// Puts the thread's own slice back, if the long one is held; on the
    /// main thread.
    pub(crate) fn give_back(&self) {
        if self.state.swap(0, Ordering::Relaxed) != 0 {
            imp::set(self.own);
        }
    }

    /// Times the long slice was taken.
    pub(crate) fn raised(&self) -> u64 {
        self.raised.load(Ordering::Relaxed)
    }
}

/// `slice` within the kernel's bounds (0.1 to 100 ms), in nanoseconds.
fn clamp(slice: Duration) -> u64 {
    slice
        .clamp(Duration::from_micros(100), Duration::from_millis(100))
        .as_nanos() as u64
}

#[cfg(target_os = "linux")]
mod imp {
    /// The kernel's `struct sched_attr`, first version (48 bytes).
    #[repr(C)]
    #[derive(Default)]
    struct Attr {
        size: u32,
        policy: u32,
        flags: u64,
        nice: i32,
        priority: u32,
        runtime: u64,
        deadline: u64,
        period: u64,
    }

    /// The calling thread's slice in nanoseconds, if it is a normal (fair) thread.
    pub(super) fn get() -> Option<u64> {
        attributes().map(|attr| attr.runtime)
    }

    /// The calling thread's attributes, if it is a normal (fair) thread.
    fn attributes() -> Option<Attr> {
        let mut attr = Attr::default();
        let size = std::mem::size_of::<Attr>() as libc::c_uint;
        // SAFETY: `sched_getattr(0, attr, size, 0)` writes at most `size`
        // bytes into `attr`, a live `repr(C)` struct of that size laid out
        // as the kernel's first `sched_attr`; pid 0 is the calling thread.
        let done =
            unsafe { libc::syscall(libc::SYS_sched_getattr, 0, &mut attr as *mut Attr, size, 0) };
        let fair = [libc::SCHED_OTHER, libc::SCHED_BATCH, libc::SCHED_IDLE]
            .contains(&(attr.policy as libc::c_int));
        (done == 0 && fair).then_some(attr)
    }

    /// Sets the calling thread's slice to `nanos`, keeping its policy and
    /// nice value; returns the slice it had.
    pub(super) fn set(nanos: u64) -> Option<u64> {
        let mut attr = attributes()?;
        let previous = attr.runtime;
        attr.size = std::mem::size_of::<Attr>() as u32;
        attr.flags = 0;
        attr.runtime = nanos;
        // SAFETY: `sched_setattr(0, attr, 0)` only reads `attr`, a live
        // `repr(C)` struct whose `size` field says how much; the policy and
        // nice value are the thread's own, read just above, so no privilege
        // is asked for.
        let done = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const Attr, 0) };
        (done == 0).then_some(previous)
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    pub(super) fn get() -> Option<u64> {
        None
    }

    pub(super) fn set(_nanos: u64) -> Option<u64> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_os = "linux")]
    fn a_thread_gets_its_slice_and_gives_it_back_keeping_its_nice_value() {
        std::thread::spawn(|| {
            // SAFETY: reads the calling thread's nice value. The test sets
            // one above it (a run under `nice` starts above 0): raising it
            // needs no privilege.
            let nice = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) }.min(18) + 1;
            // SAFETY: sets the calling thread's nice value.
            assert_eq!(unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nice) }, 0);
            let before = imp::get().expect("a normal thread has a slice");
            let Some(previous) = imp::set(clamp(Duration::from_millis(8))) else {
                println!("skipped: the kernel refused sched_setattr");
                return;
            };
            let now = imp::get().unwrap();
            if now == before {
                println!("skipped: this kernel ignores a normal thread's slice (before 6.12)");
                return;
            }
            assert_eq!(Duration::from_nanos(now), Duration::from_millis(8));
            // SAFETY: reads the calling thread's nice value.
            assert_eq!(unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) }, nice);
            imp::set(previous);
            assert_eq!(imp::get().unwrap(), before);
        })
        .join()
        .unwrap();
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn a_slice_out_of_the_kernels_bounds_is_clamped() {
        std::thread::spawn(|| {
            let slice = || Duration::from_nanos(imp::get().unwrap());
            let before = slice();
            let Some(previous) = imp::set(clamp(Duration::from_secs(5))) else {
                return;
            };
            if slice() != before {
                assert_eq!(slice(), Duration::from_millis(100));
                imp::set(clamp(Duration::ZERO)).unwrap();
                assert_eq!(slice(), Duration::from_micros(100));
            }
            imp::set(previous);
        })
        .join()
        .unwrap();
    }
}
