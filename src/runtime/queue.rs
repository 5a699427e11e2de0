//! Helpers over the scheduler's queues, shared by the pump, the workers and
//! shutdown: looking before popping, draining a queue that closes, and the
//! bound on `High` runs.
//!
//! This file knows nothing of tasks (`T` is whatever a queue holds), so the
//! loom models in `loom/` compile it as it is, beside the parking protocol
//! that uses [`try_pop`].

use concurrent_queue::ConcurrentQueue;

/// `High` tasks a worker (or the pump) runs in a row before a waiting
/// `Normal` one: `Normal` work is slowed by a flood of `High` work, never
/// starved by it.
pub(crate) const HIGH_BURST: u32 = 8;

/// Pops from `queue` unless it looks empty: concurrent-queue's `pop` makes a
/// `SeqCst` fence before it reports a queue empty, `is_empty` is two plain
/// loads, and a worker looks at several queues, most of them empty, for every
/// task it runs. A push this misses is seen by the look after the fence in
/// `Parking::next`, or wakes the worker.
#[inline]
pub(crate) fn try_pop<T>(queue: &ConcurrentQueue<T>) -> Option<T> {
    if queue.is_empty() {
        None
    } else {
        queue.pop().ok()
    }
}

/// Closes `queue` and hands what it holds to `dispose`, one item at a time and
/// with no lock held, so a `Drop` that wakes another task cannot deadlock.
pub(crate) fn drain_queue<T>(queue: &ConcurrentQueue<T>, mut dispose: impl FnMut(T)) {
    queue.close();
    while let Ok(item) = queue.pop() {
        dispose(item);
    }
}
