//! What the workers did, counted without a shared cache line on the hot
//! path: each worker writes its own counters; readers sum them.

use std::sync::atomic::{AtomicU64, Ordering};

/// What the workers did since the start, for scaling reports: relaxed
/// counters, each written by one worker (no shared line on the hot path but
/// `injector_pushes`, bumped by the threads that push to the injector).
#[derive(Default)]
pub(crate) struct WorkerCounters {
    pub(crate) polls: OwnCounter,
    pub(crate) local_pushes: OwnCounter,
    pub(crate) steals: OwnCounter,
    pub(crate) parks: OwnCounter,
}

/// A counter only one thread writes: a plain load and store rather than a
/// locked read-modify-write (readers on other threads still see whole
/// values, and never a count that goes back).
#[derive(Default)]
pub(crate) struct OwnCounter(AtomicU64);

impl OwnCounter {
    /// Adds `n`; only ever called on the one thread that owns the counter (a
    /// worker, or the rescue thread for `rescued`).
    #[inline]
    pub(crate) fn add(&self, n: u64) {
        self.0
            .store(self.0.load(Ordering::Relaxed) + n, Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A counter every pushing thread bumps, on a cache line of its own, away
/// from what workers read on every turn (`stopping`, the queues).
#[repr(align(128))]
#[derive(Default)]
pub(crate) struct SharedCounter(pub(crate) AtomicU64);

/// A snapshot of the workers' counters; see [`Handle::stats`](crate::runtime::Handle::stats).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkerStats {
    /// Task polls run by workers.
    pub polls: u64,
    /// Tasks a worker pushed to its own queue (no contention).
    pub local_pushes: u64,
    /// Tasks pushed to the shared injector (from outside the workers, or on
    /// a full local queue).
    pub injector_pushes: u64,
    /// Tasks taken from another worker's queue.
    pub steals: u64,
    /// Times a worker went to sleep for lack of work.
    pub parks: u64,
    /// Task polls run by the rescue thread of
    /// [`WorkerPriority::Background`](crate::runtime::WorkerPriority::Background)
    /// workers, while other programs kept the workers off the CPU.
    pub rescued: u64,
    /// Times the rescue thread woke the workers because work waited and none
    /// of them took it for two looks in a row: a wake the pump held while a
    /// `with_world` closure blocked (see
    /// [`WorkerPriority::Normal`](crate::runtime::WorkerPriority::Normal)).
    /// Background workers on Linux are woken so too: a rescue that finds the
    /// pump running wakes them once (counted here) before it runs their
    /// tasks itself (counted in `rescued`).
    /// 0 in a healthy game, but for polls longer than 20 ms while work
    /// waits (counted too: the wake then finds no worker asleep, and costs
    /// nothing).
    pub rescue_wakes: u64,
    /// Worker wakes the game's frame held until its end, rather than wake a
    /// sleeping worker in the middle of it (see
    /// [`RuntimeConfig::frame_hold`](crate::runtime::RuntimeConfig::frame_hold)).
    pub frame_held: u64,
    /// Workers the operating system runs at background priority (0 unless
    /// [`WorkerPriority::Background`](crate::runtime::WorkerPriority::Background) was
    /// asked for and the platform has it).
    pub background: u64,
    /// The core the workers keep off because the main thread was last seen
    /// pumping there (`None`: they keep off none; see
    /// [`RuntimeConfig::keep_main_core`](crate::runtime::RuntimeConfig::keep_main_core)).
    pub main_core: Option<usize>,
}
