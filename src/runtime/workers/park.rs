//! How a worker waits for work without burning CPU or missing a task.
//!
//! A worker that finds no task registers a listener, looks for a task once
//! more, and only then blocks on the listener. Whoever makes a task runnable
//! pushes it first and notifies after. event-listener orders `listen` and
//! `notify` with full fences (and its list lock), so either the second look
//! sees the pushed task or the push's notification reaches the listener: a
//! task pushed while a worker goes to sleep is never missed.
//!
//! Two shortcuts keep locks and fences off the hot path. A push that wakes one
//! worker skips `notify` (and its lock) when a sleeper is already notified or
//! none sleeps: what `notify(1)` would decide under the lock, made without it;
//! a `SeqCst` fence before that check and one after a worker registers its
//! listener keep the guarantee (either the worker's second look sees the
//! push, or the pusher sees the worker's listener, un-notified). And queues
//! are looked at before popping (`queue::try_pop`), which can miss a push in
//! flight; the second look after the fence cannot.
//!
//! [`Parking::stop`] sets its flag before notifying everyone, and workers
//! check it after registering, for the same reason. A parked worker blocks in
//! the kernel: an idle pool burns no CPU. Before it parks, a worker that just
//! ran out of work keeps looking for `SPIN_BEFORE_PARK` (20 µs): a task that
//! comes right after (the other half of a hop) then needs no kernel wake-up.
//! Every few microseconds of it the spinner offers its core to any other
//! runnable thread (`sched_yield`): with more threads than cores (the main
//! thread spawning beside two workers on two cores), a spinner otherwise
//! held a core the spawning thread or the busy worker waited for.
//!
//! This file knows nothing of tasks (`T` is whatever `find` returns), so the
//! loom models in `loom/` run this very code against loom's atomics and
//! loom-aware builds of event-listener and concurrent-queue.

use event_listener::{Event, Listener, listener};

use crate::runtime::sync::{AtomicBool, Ordering, SPIN_BEFORE_PARK, fence};

/// Where idle workers sleep.
pub(crate) struct Parking {
    event: Event,
    stopping: AtomicBool,
}

impl Parking {
    pub(crate) fn new() -> Self {
        Parking {
            event: Event::new(),
            stopping: AtomicBool::new(false),
        }
    }

    /// Wakes up to `count` parked workers. Call it after the work it announces
    /// is visible (pushed), never before. For one worker, nothing is done when
    /// a sleeper is already notified or none sleeps (see the module docs).
    #[inline]
    pub(crate) fn notify(&self, count: usize) {
        if count == 1 && !self.has_sleeper() {
            return;
        }
        self.event.notify(count);
    }

    /// Whether a worker sleeps (or is on its way to) that no notification
    /// has reached yet: if not, `notify(1)` would do nothing, now or later
    /// for the work pushed so far (a worker going to sleep after this sees
    /// that work in its second look). Call it after the push, as `notify`.
    #[inline]
    pub(crate) fn has_sleeper(&self) -> bool {
        // Pairs with the fence in `next`.
        fence(Ordering::SeqCst);
        !self.event.is_notified()
    }

    /// Asks every worker, parked or not, to stop after its current task.
    pub(crate) fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
        self.event.notify(usize::MAX);
    }

    /// Whether [`stop`](Parking::stop) was called.
    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// A worker's next task: what `find` returns, parking while it returns
    /// nothing; `None` once the workers are stopping. After a wake,
    /// `more_waiting` says whether there is work for more than this worker,
    /// and if so the word is passed on (a notification that reached a worker
    /// already awake would otherwise leave others asleep). `parked` is called
    /// each time the worker is about to block.
    pub(crate) fn next<T>(
        &self,
        mut find: impl FnMut() -> Option<T>,
        more_waiting: impl Fn() -> bool,
        mut parked: impl FnMut(),
    ) -> Option<T> {
        loop {
            if self.is_stopping() {
                return None;
            }
            if let Some(task) = find() {
                return Some(task);
            }
            // Out of work: look again for a few microseconds before sleeping,
            // so a task that comes right after (the other half of a hop, the
            // next burst) costs no kernel wake-up on either side.
            if let Some(task) = spin(&mut find) {
                return Some(task);
            }
            listener!(self.event => listener);
            // Pairs with the fence in `notify`.
            fence(Ordering::SeqCst);
            // Both looks again, now that a notification cannot be missed.
            if self.is_stopping() {
                return None;
            }
            if let Some(task) = find() {
                // The listener is dropped on return, before the task runs; a
                // notification it took without waiting passes to another worker.
                return Some(task);
            }
            parked();
            listener.wait();
            if more_waiting() {
                self.event.notify(1);
            }
        }
    }
}

/// Looks between two offers of the core to another thread (a look is 16
/// `pause`s and a `find`: about 0.3 µs).
const YIELD_EVERY: u32 = 8;

/// Looks for work with `find` until [`SPIN_BEFORE_PARK`] has passed,
/// offering its core to any other runnable thread every few microseconds.
#[inline]
fn spin<T>(find: &mut impl FnMut() -> Option<T>) -> Option<T> {
    if SPIN_BEFORE_PARK.is_zero() {
        return None;
    }
    let start = std::time::Instant::now();
    let mut round = 0u32;
    loop {
        for _ in 0..16 {
            std::hint::spin_loop();
        }
        if let Some(task) = find() {
            return Some(task);
        }
        if start.elapsed() >= SPIN_BEFORE_PARK {
            return None;
        }
        round += 1;
        if round.is_multiple_of(YIELD_EVERY) {
            // Another thread of ours waiting for this core (the thread
            // that spawns, with more threads than cores) gets it now, not
            // at the end of the spin; when none waits, this returns at once.
            std::thread::yield_now();
        }
    }
}

/// Loom models of the parking protocol (run from `loom/`, see its `lib.rs`).
#[cfg(all(test, loom))]
mod loom_models {
    use concurrent_queue::ConcurrentQueue;
    use loom::sync::Arc;
    use loom::sync::atomic::{AtomicUsize, Ordering};
    use loom::thread;

    use super::Parking;
    use crate::runtime::queue::try_pop;

    /// A worker's loop: takes tasks until it has `want` of them or is stopped.
    fn worker(parking: &Parking, queue: &ConcurrentQueue<u32>, want: usize) -> usize {
        let mut taken = 0;
        while taken < want {
            match parking.next(|| try_pop(queue), || !queue.is_empty(), || {}) {
                Some(_) => taken += 1,
                None => break,
            }
        }
        taken
    }

    /// A push while the worker goes to sleep is never missed: if it were, the
    /// worker would block for good and loom would report a deadlock.
    #[test]
    fn a_push_while_the_worker_parks_is_never_missed() {
        crate::model("a_push_while_the_worker_parks_is_never_missed", || {
            let parking = Arc::new(Parking::new());
            let queue = Arc::new(ConcurrentQueue::unbounded());
            let pool = {
                let (parking, queue) = (parking.clone(), queue.clone());
                thread::spawn(move || worker(&parking, &queue, 2))
            };
            for task in 0..2 {
                queue.push(task).unwrap();
                parking.notify(1);
            }
            assert_eq!(pool.join().unwrap(), 2);
        });
    }

    /// A stop reaches a worker wherever it is on its way to sleep.
    #[test]
    fn a_stop_reaches_a_worker_going_to_sleep() {
        crate::model("a_stop_reaches_a_worker_going_to_sleep", || {
            let parking = Arc::new(Parking::new());
            let queue = Arc::new(ConcurrentQueue::<u32>::unbounded());
            let pool = {
                let (parking, queue) = (parking.clone(), queue.clone());
                thread::spawn(move || worker(&parking, &queue, usize::MAX))
            };
            parking.stop();
            assert_eq!(pool.join().unwrap(), 0);
        });
    }

    /// Two workers that each leave after one task, two pushes with one
    /// `notify(1)` each: both tasks are taken. A notification that landed on
    /// a worker already awake must be passed on, or the other one sleeps on
    /// a queued task.
    #[test]
    fn two_workers_take_every_task_with_one_notification_each() {
        crate::model(
            "two_workers_take_every_task_with_one_notification_each",
            || {
                let parking = Arc::new(Parking::new());
                let queue = Arc::new(ConcurrentQueue::unbounded());
                let taken = Arc::new(AtomicUsize::new(0));
                let pool: Vec<_> = (0..2)
                    .map(|_| {
                        let (parking, queue, taken) =
                            (parking.clone(), queue.clone(), taken.clone());
                        thread::spawn(move || {
                            let n = worker(&parking, &queue, 1);
                            taken.fetch_add(n, Ordering::SeqCst);
                        })
                    })
                    .collect();
                for task in 0..2 {
                    queue.push(task).unwrap();
                    parking.notify(1);
                }
                for worker in pool {
                    worker.join().unwrap();
                }
                assert_eq!(taken.load(Ordering::SeqCst), 2);
            },
        );
    }

    /// Wakes held back and given together (what the pump does, see
    /// `held_wakes`): two pushes, then one `notify(2)`. Both workers, each
    /// leaving after one task, are woken and every task is taken.
    #[test]
    fn wakes_held_and_given_together_take_every_task() {
        crate::model("wakes_held_and_given_together_take_every_task", || {
            let parking = Arc::new(Parking::new());
            let queue = Arc::new(ConcurrentQueue::unbounded());
            let taken = Arc::new(AtomicUsize::new(0));
            let pool: Vec<_> = (0..2)
                .map(|_| {
                    let (parking, queue, taken) = (parking.clone(), queue.clone(), taken.clone());
                    thread::spawn(move || {
                        let n = worker(&parking, &queue, 1);
                        taken.fetch_add(n, Ordering::SeqCst);
                    })
                })
                .collect();
            queue.push(0).unwrap();
            queue.push(1).unwrap();
            parking.notify(2);
            for worker in pool {
                worker.join().unwrap();
            }
            assert_eq!(taken.load(Ordering::SeqCst), 2);
        });
    }
}
