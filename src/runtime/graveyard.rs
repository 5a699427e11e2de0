//! Tasks refused by a closed scheduler, kept until someone may drop them.
//!
//! The schedule function never drops a task itself: it runs inside someone's
//! `wake`, perhaps under their lock, and the task's `Drop` may want that lock.
//! So a task refused by a closed queue is kept here, and dropped by whoever
//! next buries the graveyard with no lock held: shutdown, after it woke every
//! parked task, or a spawn that raced shutdown (its own refused push is
//! visible to it, so a non-empty graveyard after the push is all it checks).
//!
//! A wake from another thread (the timer thread, a channel fed by the game)
//! can come at any time, also after shutdown's burial. So shutdown ends by
//! *sealing* the graveyard: it raises a flag, then buries once more; and
//! [`keep`](Graveyard::keep) pushes, then looks at the flag, with a SeqCst
//! fence on each side between the write and the read. Either shutdown's last
//! burial finds the task, or `keep` sees the seal and tells its caller to
//! arrange a burial of its own. No task is left behind.
//!
//! The loom models in `loom/` run this file as it is, racing a spawn and a
//! foreign wake against shutdown: every task is dropped exactly once, none is
//! left behind.

use concurrent_queue::ConcurrentQueue;

use crate::runtime::sync::{AtomicBool, Ordering, fence};

/// Refused tasks waiting to be dropped.
pub(crate) struct Graveyard<T> {
    tasks: ConcurrentQueue<T>,
    /// Set when shutdown has buried for the last time.
    sealed: AtomicBool,
}

impl<T> Graveyard<T> {
    pub(crate) fn new() -> Self {
        Graveyard {
            tasks: ConcurrentQueue::unbounded(),
            sealed: AtomicBool::new(false),
        }
    }

    /// Keeps a task that may not be dropped here. Returns `true` if the
    /// graveyard is sealed: shutdown may have buried for the last time before
    /// this task came, so the caller must see to a burial (with no lock held,
    /// hence on another thread when called inside a `wake`).
    pub(crate) fn keep(&self, task: T) -> bool {
        // Never closed, so this push cannot fail.
        let _ = self.tasks.push(task);
        // Pairs with the fence in `seal`.
        fence(Ordering::SeqCst);
        self.sealed.load(Ordering::Relaxed)
    }

    /// Shutdown's last burial: from here on, [`keep`](Graveyard::keep) tells
    /// its callers to bury for themselves.
    pub(crate) fn seal(&self, stays: impl Fn(&T) -> bool) {
        self.sealed.store(true, Ordering::Relaxed);
        // Pairs with the fence in `keep`: a task kept concurrently is either
        // buried below, or its keeper sees the seal.
        fence(Ordering::SeqCst);
        self.bury(stays);
    }

    /// Whether no task waits here.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Drops the tasks kept here, one at a time and with no lock held (a
    /// dropped task may wake another into the graveyard), until a round drops
    /// nothing. A task for which `stays` holds must not be dropped on this
    /// thread (a `!Send` future met off the main thread): it is kept.
    pub(crate) fn bury(&self, stays: impl Fn(&T) -> bool) {
        loop {
            let mut dropped = false;
            for _ in 0..self.tasks.len() {
                let Ok(task) = self.tasks.pop() else {
                    break;
                };
                if stays(&task) {
                    let _ = self.tasks.push(task);
                } else {
                    drop(task);
                    dropped = true;
                }
            }
            if !dropped || self.tasks.is_empty() {
                break;
            }
        }
    }
}

/// Loom models of a spawn racing shutdown (run from `loom/`). The two sides
/// follow `task::spawn` and `Shared::shutdown` step by step, over the real
/// `Graveyard` and a loom-aware `ConcurrentQueue`.
#[cfg(all(test, loom))]
mod loom_models {
    use concurrent_queue::ConcurrentQueue;
    use loom::sync::Arc;
    use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use loom::thread;

    use super::Graveyard;

    /// The runtime's pieces that spawn and shutdown touch.
    struct Runtime {
        closed: AtomicBool,
        queue: ConcurrentQueue<Counted>,
        graveyard: Graveyard<Counted>,
        drops: AtomicUsize,
    }

    /// A task: counts its drop; dropping it may wake another task (its
    /// future held that task's waker), which the closed scheduler refuses.
    struct Counted {
        runtime: Arc<Runtime>,
        wakes_another: bool,
    }

    impl Drop for Counted {
        fn drop(&mut self) {
            self.runtime.drops.fetch_add(1, Ordering::SeqCst);
            if self.wakes_another {
                let other = Counted {
                    runtime: self.runtime.clone(),
                    wakes_another: false,
                };
                self.runtime.schedule(other);
            }
        }
    }

    impl Runtime {
        /// `schedule::route`: a refused task goes to the graveyard; once it
        /// is sealed, the waker sees to a burial (the runtime does it on a
        /// thread of its own; here, on the spot).
        fn schedule(&self, task: Counted) {
            if let Err(refused) = self.queue.push(task)
                && self.graveyard.keep(refused.into_inner())
            {
                self.graveyard.bury(|_| false);
            }
        }

        /// `task::spawn`'s end.
        fn spawn(&self, task: Counted) {
            if self.closed.load(Ordering::SeqCst) {
                drop(task);
            } else {
                self.schedule(task);
            }
            if !self.graveyard.is_empty() {
                self.graveyard.bury(|_| false);
            }
        }

        /// `Shared::shutdown`, without the threads.
        fn shutdown(&self) {
            self.closed.store(true, Ordering::SeqCst);
            self.queue.close();
            while let Ok(task) = self.queue.pop() {
                drop(task);
            }
            self.graveyard.bury(|_| false);
            self.graveyard.seal(|_| false);
        }
    }

    /// Who races shutdown with a task.
    #[derive(Clone, Copy)]
    enum Racer {
        /// `task::spawn` from another thread.
        Spawn,
        /// A wake from a foreign thread (the timer thread, a channel).
        Wake,
    }

    fn race(name: &'static str, racer: Racer, wakes_another: bool) {
        crate::model(name, move || {
            let runtime = Arc::new(Runtime {
                closed: AtomicBool::new(false),
                queue: ConcurrentQueue::unbounded(),
                graveyard: Graveyard::new(),
                drops: AtomicUsize::new(0),
            });
            let other = {
                let runtime = runtime.clone();
                thread::spawn(move || {
                    let task = Counted {
                        runtime: runtime.clone(),
                        wakes_another,
                    };
                    match racer {
                        Racer::Spawn => runtime.spawn(task),
                        Racer::Wake => runtime.schedule(task),
                    }
                })
            };
            runtime.shutdown();
            other.join().unwrap();
            let tasks = if wakes_another { 2 } else { 1 };
            assert_eq!(runtime.drops.load(Ordering::SeqCst), tasks);
            assert!(runtime.graveyard.is_empty(), "a task was left behind");
            assert!(runtime.queue.is_empty(), "a task was left queued");
        });
    }

    /// A task spawned while the runtime shuts down is dropped exactly once,
    /// by one side or the other.
    #[test]
    fn a_spawn_racing_shutdown_drops_its_task_once() {
        race(
            "a_spawn_racing_shutdown_drops_its_task_once",
            Racer::Spawn,
            false,
        );
    }

    /// A wake from a foreign thread racing shutdown, also after its burial:
    /// the woken task is dropped exactly once. Without the seal, a wake after
    /// the last burial strands it.
    #[test]
    fn a_foreign_wake_racing_shutdown_drops_its_task_once() {
        race(
            "a_foreign_wake_racing_shutdown_drops_its_task_once",
            Racer::Wake,
            false,
        );
    }

    /// Also when dropping that task wakes another into the closed scheduler.
    #[test]
    fn a_task_woken_by_a_dropped_task_during_shutdown_is_dropped_too() {
        race(
            "a_task_woken_by_a_dropped_task_during_shutdown_is_dropped_too",
            Racer::Spawn,
            true,
        );
    }
}
