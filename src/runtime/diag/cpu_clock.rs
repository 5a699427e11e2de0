//! The calling thread's CPU clock: how long the thread has run on a CPU,
//! which a pump compares with its wall time to tell its own work from time
//! the operating system kept it off the CPU.
//!
//! On unix it is `clock_gettime(CLOCK_THREAD_CPUTIME_ID)`. Unlike the
//! monotonic clock, Linux serves it with a system call, not from the vDSO:
//! about 0.5 µs on this project's machines (the monotonic clock: 45 ns). So
//! a pump reads it twice at most, and only when it has work (see
//! [`CpuSpan`]). Elsewhere there is no reading: [`thread_cpu_time`] says
//! `None`.

use std::time::Duration;

/// The CPU time the calling thread has used so far; `None` where the
/// platform has no per-thread CPU clock (or refused to read it).
#[cfg(unix)]
pub(crate) fn thread_cpu_time() -> Option<Duration> {
    read_clock(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// What `clock` reads now (`clock_gettime`); `None` if the call fails (a
/// clock this platform lacks, or a thread's CPU clock once the kernel has
/// let go of the thread).
#[cfg(unix)]
pub(crate) fn read_clock(clock: libc::clockid_t) -> Option<Duration> {
    // SAFETY: `timespec` is plain integers (and, on some targets, integer
    // padding), for which all zeros is a valid value.
    let mut time: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: `time` is a valid, writable `timespec` that lives across the
    // call, which writes only into it; for a clock id it does not know the
    // call fails (EINVAL) without reading or writing anything else.
    if unsafe { libc::clock_gettime(clock, &mut time) } != 0 {
        return None;
    }
    let seconds = u64::try_from(time.tv_sec).ok()?;
    let nanos = u32::try_from(time.tv_nsec).ok()?;
    Some(Duration::new(seconds, nanos))
}

/// The CPU time the calling thread has used so far: `None`, no per-thread
/// CPU clock here.
#[cfg(not(unix))]
pub(crate) fn thread_cpu_time() -> Option<Duration> {
    None
}

/// The CPU time of one pump, read lazily: the clock is read when the pump
/// first has work ([`CpuSpan::begin`], before it fires a timer or polls a
/// task) and at its end, so an empty pump reads no clock at all.
#[derive(Debug, Default)]
pub(crate) struct CpuSpan {
    /// The thread's CPU time at `begin`; `None` before it (or without a
    /// clock).
    start: Option<Duration>,
    /// Whether `begin` was called.
    begun: bool,
}

impl CpuSpan {
    /// Starts the span, if not started yet.
    #[inline]
    pub(crate) fn begin(&mut self) {
        if !self.begun {
            self.begun = true;
            self.start = thread_cpu_time();
        }
    }

    /// The CPU time used since `begin`; `None` if it was never called (the
    /// pump had no work) or there is no clock.
    pub(crate) fn end(&self) -> Option<Duration> {
        let start = self.start?;
        Some(thread_cpu_time()?.saturating_sub(start))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(unix)]
    fn a_busy_thread_sees_its_span_grow() {
        let mut span = CpuSpan::default();
        assert_eq!(span.end(), None, "not begun: no reading");
        span.begin();
        // Spin until the clock moves (its resolution is a nanosecond on
        // Linux, but a coarse platform may tick).
        let start = std::time::Instant::now();
        while span.end() == Some(Duration::ZERO) {
            assert!(start.elapsed().as_secs() < 10, "the CPU clock never moved");
        }
        let busy = span.end().expect("a clock on unix");
        assert!(busy > Duration::ZERO);
        span.begin();
        assert!(
            span.end().unwrap() >= busy,
            "a second `begin` restarts nothing"
        );
    }

    #[test]
    #[cfg(not(unix))]
    fn no_clock_reads_none() {
        let mut span = CpuSpan::default();
        span.begin();
        assert_eq!(span.end(), None);
    }
}
