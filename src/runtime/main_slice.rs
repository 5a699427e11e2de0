//! The main thread's time slice (Linux 6.12 and later).
//!
//! Why: the kernel's fair scheduler (EEVDF) lets a thread run until it has
//! used its slice (1.4 ms on a 2-core machine by default, more with more
//! cores), then, at the next scheduler tick, gives the core to another
//! runnable thread there, for that thread's own slice. A frame's main
//! thread runs several milliseconds without a pause (a 4 ms pump budget
//! alone), so any other program's thread that lands on its core took its
//! core in the middle of the pump: one tick (4 ms at 250 Hz) or more. A
//! longer slice lets the main thread's work run on until the slice ends.
//! On the showcase under overload (`swarm --main-work-us 200 --budget-ms
//! 4`, four alternating pairs on two maps), an 8 ms slice took the worst
//! frame from 7.7–12.4 ms to 5.2–9.3 ms.
//!
//! The cost: a thread with a longer slice has a later deadline, so when the
//! main thread wakes for a frame it preempts a thread already running on
//! its core a little less readily (at most that thread's own slice later).
//! And since Linux 6.12 a waking thread with a shorter slice may preempt
//! it at once (`PREEMPT_SHORT`): the engine's task-pool threads, woken by
//! the main thread to run the frame's systems, took its core about 17%
//! more often in the showcase with 8 ms than with the default slice
//! (BENCHMARKS.md, "who takes the main thread's CPU on rooms").
//!
//! The slice is the kernel's `sched_runtime` of a normal thread, set with
//! `sched_setattr`, which needs no privilege; kernels before 6.12 accept
//! and ignore it. The thread's policy and nice value are kept.

use std::time::Duration;

/// The slice `CoroPlugin` asks for: a frame at 120 fps, longer than the
/// main thread's work in most frames, so the work is seldom cut.
pub const DEFAULT_MAIN_SLICE: Duration = Duration::from_millis(8);

/// The slice the calling thread had before [`set`], to put back.
#[derive(Debug)]
pub(crate) struct Previous(u64);

/// Asks the kernel for `slice` as the calling thread's time slice, within
/// the kernel's bounds (0.1 to 100 ms); `None` where there is no such
/// setting (not Linux, a real-time thread, a refusal).
pub(crate) fn set(slice: Duration) -> Option<Previous> {
    let nanos = slice
        .clamp(Duration::from_micros(100), Duration::from_millis(100))
        .as_nanos() as u64;
    imp::set(nanos).map(Previous)
}

/// Puts back the slice the calling thread had before [`set`].
pub(crate) fn restore(previous: Previous) {
    imp::set(previous.0);
}

/// The calling thread's time slice, as the kernel reports it (`None`: not
/// Linux, or not a normal thread).
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn current() -> Option<Duration> {
    imp::get().map(Duration::from_nanos)
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
            let before = current().expect("a normal thread has a slice");
            let Some(previous) = set(Duration::from_millis(8)) else {
                println!("skipped: the kernel refused sched_setattr");
                return;
            };
            let now = current().unwrap();
            if now == before {
                println!("skipped: this kernel ignores a normal thread's slice (before 6.12)");
                return;
            }
            assert_eq!(now, Duration::from_millis(8));
            // SAFETY: reads the calling thread's nice value.
            assert_eq!(unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) }, nice);
            restore(previous);
            assert_eq!(current().unwrap(), before);
        })
        .join()
        .unwrap();
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn a_slice_out_of_the_kernels_bounds_is_clamped() {
        std::thread::spawn(|| {
            let before = current().unwrap();
            let Some(previous) = set(Duration::from_secs(5)) else {
                return;
            };
            if current().unwrap() != before {
                assert_eq!(current().unwrap(), Duration::from_millis(100));
                set(Duration::ZERO).unwrap();
                assert_eq!(current().unwrap(), Duration::from_micros(100));
            }
            restore(previous);
        })
        .join()
        .unwrap();
    }
}
