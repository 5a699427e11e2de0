//! How the operating system weighs worker threads against the game's other
//! threads, and what a worker can learn of its own scheduling (Linux).
//!
//! Why it matters: a frame thread (the main thread, a Bevy task-pool thread
//! running a system) that wakes up on a core where a worker is in the middle
//! of a long poll may wait until the kernel takes the core from the worker.
//! At equal priority Linux often lets the worker finish its time slice
//! first, and that wait is up to a scheduler tick, 1 to 4 ms, in the middle of
//! a frame. At background priority a waking frame thread takes the core at
//! once. (A frame thread that was already waiting, preempted, can still sit
//! out a worker's slice until the next tick: this makes stalls rarer, it does
//! not end them. For the main thread, `main_core` ends them: the workers
//! keep off its core.)
//!
//! Which background priority: where the workers keep off the main thread's
//! core, `SCHED_BATCH` at nice 19 (a weight of 15 against a normal thread's
//! 1,024), not `SCHED_IDLE`. The kernel counts a core that runs only
//! `SCHED_IDLE` threads as idle when it places a waking thread, so Bevy's
//! task-pool threads woke on the worker's core, its caches full of the
//! worker's data and a cross-core wake away, rather than beside the main
//! thread that had just handed them a system: traced on the swarm (rooms,
//! background), 2,979 of 8,828 pool-thread wakes went to the worker's core
//! with `SCHED_IDLE` and 131 of 10,640 at nice 19, and the median frame fell
//! from 0.42 to 0.32 ms. A waking nice-0 thread still takes the core from a
//! nice-19 one at once (its deadline is far earlier), and `SCHED_BATCH`
//! keeps a worker's own wakes from preempting anyone. Where workers may
//! share the main thread's core (as many workers as cores, pinned workers,
//! `keep_main_core` off) they stay at `SCHED_IDLE`, whose share of a busy
//! core is five times smaller (a weight of 3).

use std::time::Duration;

/// How the operating system weighs worker threads against the game's other
/// threads; see [`RuntimeConfig::worker_priority`](crate::runtime::RuntimeConfig::worker_priority).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WorkerPriority {
    /// The operating system's default: workers and the frame's threads share
    /// the CPU as equals. A frame thread that wakes on a core a worker is busy
    /// on may wait for the rest of the worker's time slice. The default of
    /// [`RuntimeConfig`](crate::runtime::RuntimeConfig), which knows nothing of frames.
    ///
    /// At every priority the pump gives the wakes of the tasks it sends back
    /// to the workers (the hop back after `with_world`) once, when it
    /// returns, rather than one system call per task in the middle of the
    /// frame. A rescue thread, asleep but for a look 10 times a second (every
    /// 10 ms while work waits), wakes the workers if work waits and none of
    /// them takes it for two looks in a row, which only a pump blocked inside
    /// a task can cause (counted in
    /// [`WorkerStats::rescue_wakes`](crate::runtime::WorkerStats::rescue_wakes)).
    #[default]
    Normal,
    /// Workers run on the CPU time the game's other threads leave: a frame
    /// thread that wakes takes its core from a worker at once instead of
    /// waiting out the worker's time slice, so frames stall far less often
    /// behind long worker polls. The default of `CoroPlugin`.
    ///
    /// On Linux this is `SCHED_BATCH` at nice 19 where the workers keep off
    /// the main thread's core
    /// ([`keep_main_core`](crate::runtime::RuntimeConfig::keep_main_core)),
    /// and `SCHED_IDLE` where they may share it. Programs at normal priority that keep
    /// every core busy would then starve the workers, so a rescue thread at
    /// normal priority runs queued worker tasks whenever, for two looks in a
    /// row (20 to 30 ms; after an idle spell the first look may come up to
    /// 100 ms late), work waited and the workers together ran less than half
    /// the time: kept off the CPU, or blocked in a system call (counted in
    /// [`WorkerStats::rescued`](crate::runtime::WorkerStats::rescued)). It runs
    /// inside the same [`worker_wrapper`](crate::runtime::RuntimeConfig::worker_wrapper)
    /// as the workers, and starts no poll while the pump runs (for up to
    /// 5 ms: a pump running longer is blocked inside a task), so as not to
    /// take the main thread's core in the middle of its budget. Tasks given cores (`.cores(..)`) are not rescued: only
    /// the worker pinned there may run them.
    ///
    /// Threads that a worker task starts (a `std::thread::spawn`, the
    /// blocking pool of a tokio runtime of your own) inherit that priority,
    /// and the rescue thread does not help them: start long-lived threads
    /// elsewhere, or lower nothing. The tokio runtime `CoroPlugin` owns
    /// (feature `tokio`) puts each thread it starts back at normal priority
    /// where the OS allows it: leaving `SCHED_IDLE` or nice 19 takes `CAP_SYS_NICE`
    /// (root) or an `RLIMIT_NICE` of 20; elsewhere its blocking threads
    /// started from workers stay at background priority too.
    ///
    /// Elsewhere it has no effect yet: the workers stay at normal priority,
    /// and [`WorkerStats::background`](crate::runtime::WorkerStats::background) says 0.
    Background,
}

/// The nice value of a background worker that keeps off the main core.
#[cfg(target_os = "linux")]
const BACKGROUND_NICE: libc::c_int = 19;

/// Puts the calling thread at background priority; `false` when the
/// platform has none or refused. `keeps_off_main_core`: the thread never
/// runs on the main thread's core, so a larger share of its own core costs
/// the frame nothing (see the module's docs).
#[cfg(target_os = "linux")]
pub(crate) fn lower_this_thread(keeps_off_main_core: bool) -> bool {
    let param = libc::sched_param { sched_priority: 0 };
    if !keeps_off_main_core {
        // SAFETY: `sched_setscheduler` only reads `param`, a valid
        // `sched_param` that lives across the call; pid 0 is the calling
        // thread. Moving to SCHED_IDLE needs no privilege.
        return unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) == 0 };
    }
    // SAFETY: as above; SCHED_BATCH and a higher nice value need no
    // privilege. On Linux the nice value is the thread's own, and
    // `setpriority(PRIO_PROCESS, 0, ..)` sets the calling thread's.
    unsafe {
        libc::sched_setscheduler(0, libc::SCHED_BATCH, &param) == 0
            && libc::setpriority(libc::PRIO_PROCESS, 0, BACKGROUND_NICE) == 0
    }
}

/// Puts the calling thread at background priority; `false` when the
/// platform has none or refused.
#[cfg(not(target_os = "linux"))]
pub(crate) fn lower_this_thread(_keeps_off_main_core: bool) -> bool {
    false
}

/// Puts the calling thread back at normal priority if it runs at background
/// priority (it was started by a background worker, whose priority it
/// inherited); `false` when it stays there because the OS refused. Linux
/// lets a thread leave `SCHED_IDLE`, or lower its nice value, only with
/// `CAP_SYS_NICE` (root) or an `RLIMIT_NICE` of 20 or more.
#[cfg(target_os = "linux")]
#[cfg_attr(not(any(test, feature = "tokio")), allow(dead_code))]
pub(crate) fn restore_this_thread() -> bool {
    // SAFETY: pid 0 names the calling thread; the call only reads its policy.
    let policy = unsafe { libc::sched_getscheduler(0) };
    if policy != libc::SCHED_IDLE && policy != libc::SCHED_BATCH {
        return true;
    }
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: as in `lower_this_thread`: `param` is a valid `sched_param`
    // that lives across the call, and pid 0 is the calling thread.
    let normal = unsafe { libc::sched_setscheduler(0, libc::SCHED_OTHER, &param) == 0 };
    // SAFETY: sets the calling thread's nice value (see `lower_this_thread`).
    normal
        && (policy == libc::SCHED_IDLE
            || unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 0) == 0 })
}

/// Puts the calling thread back at normal priority; nothing to do where
/// background priority has no effect.
#[cfg(not(target_os = "linux"))]
#[cfg_attr(not(any(test, feature = "tokio")), allow(dead_code))]
pub(crate) fn restore_this_thread() -> bool {
    true
}

/// A thread's CPU clock, which another thread can read: the rescue thread
/// reads each background worker's every look. One system call
/// (`clock_gettime`), where the worker's `/proc/<pid>/task/<tid>/schedstat`
/// took three and a parse: the rescue thread looks every 10 ms while work
/// waits, at normal priority, so its looks compete with the frame's threads.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CpuClock(#[cfg(target_os = "linux")] libc::clockid_t);

impl CpuClock {
    /// The calling thread's clock (`None`: not Linux, or the clock cannot be
    /// read).
    pub(crate) fn of_this_thread() -> Option<CpuClock> {
        #[cfg(target_os = "linux")]
        {
            let mut clock: libc::clockid_t = 0;
            // SAFETY: `pthread_self()` is the calling thread, alive during the
            // call; `clock` is a valid, writable `clockid_t` the call writes.
            let status = unsafe { libc::pthread_getcpuclockid(libc::pthread_self(), &mut clock) };
            let clock = CpuClock(clock);
            (status == 0 && clock.read().is_some()).then_some(clock)
        }
        #[cfg(not(target_os = "linux"))]
        None
    }

    /// The total time the clock's thread has run on a CPU, up to now (the
    /// kernel counts a running thread's current slice too); `None` once the
    /// thread has exited and the kernel has let go of it.
    pub(crate) fn read(self) -> Option<Duration> {
        #[cfg(target_os = "linux")]
        return crate::runtime::diag::cpu_clock::read_clock(self.0);
        #[cfg(not(target_os = "linux"))]
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_os = "linux")]
    fn another_thread_sees_a_busy_threads_cpu_time_grow() {
        let (sender, receiver) = std::sync::mpsc::channel();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let busy = std::thread::spawn({
            let stop = stop.clone();
            move || {
                sender.send(CpuClock::of_this_thread()).unwrap();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            }
        });
        let clock = receiver
            .recv()
            .unwrap()
            .expect("Linux has per-thread CPU clocks");
        let before = clock.read().expect("the thread runs");
        // Read from this thread while the other spins: the count moves.
        let start = std::time::Instant::now();
        while clock.read().unwrap() <= before + Duration::from_millis(1) {
            assert!(start.elapsed().as_secs() < 10, "CPU time never moved");
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        busy.join().unwrap();
        // Once the kernel has reaped the thread (shortly after `join`
        // returns: the join wakes as the thread leaves its memory, before
        // the kernel lets go of it), its clock reads nothing.
        let start = std::time::Instant::now();
        while clock.read().is_some() {
            assert!(
                start.elapsed().as_secs() < 10,
                "an exited thread's clock still reads"
            );
            std::thread::yield_now();
        }
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn a_lowered_thread_is_sched_idle_where_it_may_share_the_main_core() {
        std::thread::spawn(|| {
            assert!(lower_this_thread(false), "SCHED_IDLE needs no privilege");
            // SAFETY: pid 0 names the calling thread; the call only reads its policy.
            let policy = unsafe { libc::sched_getscheduler(0) };
            assert_eq!(policy, libc::SCHED_IDLE);
        })
        .join()
        .unwrap();
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn a_lowered_thread_off_the_main_core_is_sched_batch_at_nice_19() {
        std::thread::spawn(|| {
            assert!(
                lower_this_thread(true),
                "SCHED_BATCH at nice 19 needs no privilege"
            );
            // SAFETY: pid 0 names the calling thread; the call only reads its policy.
            let policy = unsafe { libc::sched_getscheduler(0) };
            assert_eq!(policy, libc::SCHED_BATCH);
            // SAFETY: reads the calling thread's nice value (19 cannot be
            // mistaken for the -1 of an error).
            let nice = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
            assert_eq!(nice, BACKGROUND_NICE);
        })
        .join()
        .unwrap();
    }

    /// A thread started by one lowered with `keeps_off_main_core` inherits
    /// its priority and leaves it where the OS allows.
    #[cfg(target_os = "linux")]
    fn restores(keeps_off_main_core: bool, lowered_policy: libc::c_int) {
        std::thread::spawn(move || {
            assert!(lower_this_thread(keeps_off_main_core), "no privilege needed");
            std::thread::spawn(move || {
                // SAFETY: pid 0 names the calling thread; the call only reads its policy.
                let inherited = unsafe { libc::sched_getscheduler(0) };
                assert_eq!(inherited, lowered_policy);
                if !restore_this_thread() {
                    println!("skipped: the OS refuses to raise a thread's priority here (no CAP_SYS_NICE)");
                    return;
                }
                // SAFETY: as above.
                let policy = unsafe { libc::sched_getscheduler(0) };
                assert_eq!(policy, libc::SCHED_OTHER);
                // SAFETY: reads the calling thread's nice value.
                let nice = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
                assert_eq!(nice, 0);
            })
            .join()
            .unwrap();
        })
        .join()
        .unwrap();
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn a_thread_started_by_an_idle_one_can_be_restored() {
        restores(false, libc::SCHED_IDLE);
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn a_thread_started_by_a_nice_19_one_can_be_restored() {
        restores(true, libc::SCHED_BATCH);
    }
}
