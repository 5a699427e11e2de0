//! Deterministic mode: no worker threads. Worker-affinity tasks run on the
//! main thread inside the pump, and a seeded random number generator picks
//! which ready task (main or worker) runs next, so a run replays exactly from
//! its seed, and different seeds explore different interleavings. Deadlocks
//! are found by the wait graph (`wait_graph`).

use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::runtime::task::raw::Runnable;
use concurrent_queue::ConcurrentQueue;

use std::time::Duration;

use crate::runtime::ManualClock;
use crate::runtime::queue::drain_queue;
use crate::runtime::task::header::Header;

/// Polls one deterministic pump may run before it stops (a worker task that
/// yields forever would otherwise hold the frame for good).
const MAX_POLLS_PER_PUMP: usize = 1_000_000;

/// xorshift64*: small, fast, and the same everywhere.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        // splitmix64 of the seed, so seeds 0, 1, 2... start far apart.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }

    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n as u64) as usize
    }
}

struct State {
    rng: Rng,
    /// The clock the pump moves by `step` each frame (`None`: moved by hand).
    step: Option<(ManualClock, Duration)>,
    /// Ready tasks of this pump, main and worker, in arrival order.
    pool: Vec<Runnable<Header>>,
    /// Polls in this pump.
    polls: usize,
}

/// The deterministic scheduler's state.
pub(crate) struct Deterministic {
    /// Worker-affinity tasks made ready (from the schedule function).
    ready: ConcurrentQueue<Runnable<Header>>,
    state: Mutex<State>,
}

impl Deterministic {
    pub(crate) fn new(seed: u64, step: Option<(ManualClock, Duration)>) -> Self {
        Deterministic {
            ready: ConcurrentQueue::unbounded(),
            state: Mutex::new(State {
                rng: Rng::new(seed),
                step,
                pool: Vec::new(),
                polls: 0,
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Moves the clock one frame on, if the pump drives it.
    pub(crate) fn step_clock(&self) {
        if let Some((clock, step)) = &self.state().step {
            clock.advance(*step);
        }
    }

    /// Queues a worker-affinity task; returns it back if closed.
    pub(crate) fn push(&self, runnable: Runnable<Header>) -> Option<Runnable<Header>> {
        self.ready
            .push(runnable)
            .err()
            .map(|error| error.into_inner())
    }

    pub(crate) fn has_ready(&self) -> bool {
        !self.ready.is_empty() || !self.state().pool.is_empty()
    }

    /// Picks the next task to run: gathers what is ready (`main` yields the
    /// main queue's tasks) and draws one with the seeded generator.
    pub(crate) fn pick(
        &self,
        mut main: impl FnMut() -> Option<Runnable<Header>>,
    ) -> Option<Runnable<Header>> {
        let mut state = self.state();
        if state.polls >= MAX_POLLS_PER_PUMP {
            state.polls = 0;
            return None;
        }
        while let Some(runnable) = main() {
            state.pool.push(runnable);
        }
        while let Ok(runnable) = self.ready.pop() {
            state.pool.push(runnable);
        }
        if state.pool.is_empty() {
            state.polls = 0;
            return None;
        }
        let len = state.pool.len();
        let index = state.rng.below(len);
        state.polls += 1;
        // `remove`, not `swap_remove`: the order of the rest stays the arrival
        // order, which keeps replays independent of earlier draws' positions.
        Some(state.pool.remove(index))
    }

    /// Hands the tasks still queued to `dispose` (at shutdown).
    pub(crate) fn close(&self, mut dispose: impl FnMut(Runnable<Header>)) {
        drain_queue(&self.ready, &mut dispose);
        let pool = std::mem::take(&mut self.state().pool);
        for runnable in pool {
            dispose(runnable);
        }
    }
}
