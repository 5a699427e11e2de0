//! Workers keep off the core the main thread is on (Linux).
//!
//! Why: the kernel's fair scheduler (EEVDF) takes the core from a thread
//! that has run more than its share at a scheduler tick, and gives it to
//! the other runnable thread there for at least a tick (4 ms at 250 Hz),
//! even one at background priority. The main thread runs the whole frame and is
//! often past its share; an always-runnable worker on its core then took
//! whole ticks out of the middle of its pump (traced with `sched_switch`:
//! the main thread runnable for 4.0 ms while a background worker ran on its
//! core and the other core sat idle). A worker that is never on the main
//! thread's core cannot take its ticks.
//!
//! A pump with work to do notes the core it runs on (one vDSO call and a
//! load; an empty pump returns before); a worker
//! compares it with the core it last avoided before each task it takes, and
//! only when the main thread moved does it change its own affinity (one
//! system call). The rescue thread does the same at each of its looks: it
//! wakes every 10 ms while work waits, and a look woken on the main
//! thread's core took the frame's CPU. Workers pinned to a core, and
//! machines with one core, are left alone.
//!
//! A thread of the game's that blocks on a task (`Task::block`, a system
//! waiting on the main thread or holding it up) lends the main thread's core
//! back: it lets every worker and the rescue thread run anywhere again (one
//! system call each) before it sleeps, as a background worker starved on its
//! own core could otherwise not run the task the game waits for; the next
//! pump takes the core back.

use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};

/// No core noted yet (or none to avoid).
const NONE: usize = usize::MAX;

/// The core the main thread last pumped on, for the workers to avoid.
pub(crate) struct MainCore {
    core: AtomicUsize,
    enabled: bool,
    /// The kernel's ids of the threads that keep off the core (the workers,
    /// then the rescue thread), 0 until each starts.
    threads: Box<[AtomicI32]>,
}

impl MainCore {
    /// With `enabled` false, or `workers` as many as the cores or more (they
    /// would crowd the rest), nothing is noted and no worker moves.
    pub(crate) fn new(enabled: bool, workers: usize) -> Self {
        let enabled = enabled && workers > 0 && workers < imp::cores();
        Self {
            core: AtomicUsize::new(NONE),
            enabled,
            threads: (0..if enabled { workers + 1 } else { 0 })
                .map(|_| AtomicI32::new(0))
                .collect(),
        }
    }

    /// Called by each thread that keeps off the core as it starts (`slot`:
    /// a worker's index, or the worker count for the rescue thread), so a
    /// blocking main thread can lend the core back to it.
    pub(crate) fn register(&self, slot: usize) {
        if let Some(thread) = self.threads.get(slot) {
            thread.store(imp::this_thread_id(), Ordering::Relaxed);
        }
    }

    /// Called by the same thread as it ends: its id may name another
    /// thread after it.
    pub(crate) fn unregister(&self, slot: usize) {
        if let Some(thread) = self.threads.get(slot) {
            thread.store(0, Ordering::Relaxed);
        }
    }

    /// A thread of the game's is about to block on a task: every thread that
    /// keeps off the main thread's core may run there again until the next
    /// pump notes it.
    pub(crate) fn lend(&self) {
        if !self.enabled || self.core.swap(NONE, Ordering::Relaxed) == NONE {
            return;
        }
        for thread in &self.threads {
            let id = thread.load(Ordering::Relaxed);
            if id != 0 {
                imp::run_anywhere(id);
            }
        }
    }

    /// Whether the workers keep off the main thread's core (which lets a
    /// background worker take a larger share of its own; see `os_priority`).
    pub(crate) fn enabled(&self) -> bool {
        self.enabled
    }

    /// The core the workers keep off, if any.
    pub(crate) fn get(&self) -> Option<usize> {
        Some(self.core.load(Ordering::Relaxed)).filter(|&core| core != NONE)
    }

    /// Notes the core the calling (main) thread runs on.
    #[inline]
    pub(crate) fn note(&self) {
        if !self.enabled {
            return;
        }
        let core = imp::current_core();
        if self.core.load(Ordering::Relaxed) != core {
            self.core.store(core, Ordering::Relaxed);
        }
    }

    /// Called by an unpinned worker before it runs a task: moves it off the
    /// main thread's core if the main thread moved since `avoided`.
    #[inline]
    pub(crate) fn keep_off(&self, avoided: &mut usize) {
        if !self.enabled {
            return;
        }
        let core = self.core.load(Ordering::Relaxed);
        if core != *avoided {
            *avoided = core;
            imp::run_on_all_but(core);
        }
    }
}

/// Lets the calling thread run on every core the process may use again: for
/// threads a worker starts, which inherit its narrowed set.
#[cfg_attr(not(feature = "tokio"), allow(dead_code))]
pub(crate) fn run_anywhere() {
    imp::run_on_all_but(NONE);
}

/// The value a worker's `avoided` starts at: no core avoided.
pub(crate) const AVOIDING_NONE: usize = NONE;

#[cfg(target_os = "linux")]
mod imp {
    use super::NONE;

    const SETSIZE: usize = libc::CPU_SETSIZE as usize;

    /// The kernel's id of the calling thread.
    pub(super) fn this_thread_id() -> i32 {
        // SAFETY: `gettid` takes no argument and cannot fail.
        unsafe { libc::gettid() }
    }

    /// Lets thread `id` (of this process) run on every core the process may use.
    pub(super) fn run_anywhere(id: i32) {
        if let Some(set) = process_cores() {
            // SAFETY: `set` is a valid `cpu_set_t` of the size passed, only
            // read by the call. `id` names a worker or the rescue thread,
            // registered while it runs (a thread that ended since at worst
            // leaves an id the call refuses or a thread that may use every
            // core anyway).
            unsafe {
                libc::sched_setaffinity(id, size_of::<libc::cpu_set_t>(), &set);
            }
        }
    }

    /// The core the calling thread runs on (`NONE` when unknown).
    pub(super) fn current_core() -> usize {
        // SAFETY: `sched_getcpu` takes no argument and only reads the
        // calling thread's state (a vDSO call).
        let core = unsafe { libc::sched_getcpu() };
        usize::try_from(core).unwrap_or(NONE)
    }

    /// How many cores the process may run on.
    pub(super) fn cores() -> usize {
        process_cores().map_or(0, |set| (0..SETSIZE).filter(|&i| is_set(&set, i)).count())
    }

    /// Lets the calling thread run on every core the process may use but
    /// `core` (on all of them for `NONE`, or when `core` is the only one).
    pub(super) fn run_on_all_but(core: usize) {
        let Some(mut set) = process_cores() else {
            return;
        };
        if core < SETSIZE && is_set(&set, core) {
            // SAFETY: `core` is below `CPU_SETSIZE`, inside the set's bits.
            unsafe { libc::CPU_CLR(core, &mut set) };
            if !(0..SETSIZE).any(|i| is_set(&set, i)) {
                return;
            }
        }
        // SAFETY: `set` is a valid `cpu_set_t` of the size passed, only read
        // by the call; pid 0 is the calling thread.
        unsafe {
            libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set);
        }
    }

    fn is_set(set: &libc::cpu_set_t, core: usize) -> bool {
        // SAFETY: callers pass `core < CPU_SETSIZE`, inside the set's bits.
        unsafe { libc::CPU_ISSET(core, set) }
    }

    /// The cores the process may run on, read once, by the thread that
    /// makes the runtime (before any worker narrows its own set).
    fn process_cores() -> Option<libc::cpu_set_t> {
        static CORES: std::sync::OnceLock<Option<libc::cpu_set_t>> = std::sync::OnceLock::new();
        *CORES.get_or_init(|| {
            // SAFETY: an all-zero `cpu_set_t` is a valid (empty) set.
            let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
            // SAFETY: `set` is a valid `cpu_set_t` of the size passed,
            // written by the call; pid 0 is the calling thread.
            let ok =
                unsafe { libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut set) } == 0;
            ok.then_some(set)
        })
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use super::NONE;

    pub(super) fn current_core() -> usize {
        NONE
    }

    pub(super) fn this_thread_id() -> i32 {
        0
    }

    pub(super) fn run_anywhere(_id: i32) {}

    pub(super) fn cores() -> usize {
        1
    }

    pub(super) fn run_on_all_but(_core: usize) {}
}
