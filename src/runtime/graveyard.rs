//! Tasks refused by a closed scheduler, kept until someone may drop them.
//!
//! The schedule function never drops a task itself: it runs inside someone's
//! `wake`, perhaps under their lock, and the task's `Drop` may want that lock.
//! So a task refused by a closed queue is kept here, and dropped by whoever
//! next buries the graveyard with no lock held: shutdown, after it woke every
//! parked task, or a spawn that raced shutdown (its own refused push is
//! visible to it, so a non-empty graveyard after the push is all it checks).
//!
//! The loom models in `loom/` run this file as it is, racing a spawn against
//! shutdown: every task is dropped exactly once, none is left behind.

use concurrent_queue::ConcurrentQueue;

/// Refused tasks waiting to be dropped.
pub(crate) struct Graveyard<T> {
    tasks: ConcurrentQueue<T>,
}

impl<T> Graveyard<T> {
    pub(crate) fn new() -> Self {
        Graveyard {
            tasks: ConcurrentQueue::unbounded(),
        }
    }

    /// Keeps a task that may not be dropped here.
    pub(crate) fn keep(&self, task: T) {
        // Never closed, so this push cannot fail.
        let _ = self.tasks.push(task);
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
                    self.keep(task);
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
        /// `Shared::schedule`: a refused task goes to the graveyard.
        fn schedule(&self, task: Counted) {
            if let Err(refused) = self.queue.push(task) {
                self.graveyard.keep(refused.into_inner());
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
        }
    }

    fn race(name: &'static str, wakes_another: bool) {
        crate::model(name, move || {
            let runtime = Arc::new(Runtime {
                closed: AtomicBool::new(false),
                queue: ConcurrentQueue::unbounded(),
                graveyard: Graveyard::new(),
                drops: AtomicUsize::new(0),
            });
            let spawner = {
                let runtime = runtime.clone();
                thread::spawn(move || {
                    let task = Counted {
                        runtime: runtime.clone(),
                        wakes_another,
                    };
                    runtime.spawn(task);
                })
            };
            runtime.shutdown();
            spawner.join().unwrap();
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
        race("a_spawn_racing_shutdown_drops_its_task_once", false);
    }

    /// Also when dropping that task wakes another into the closed scheduler.
    #[test]
    fn a_task_woken_by_a_dropped_task_during_shutdown_is_dropped_too() {
        race(
            "a_task_woken_by_a_dropped_task_during_shutdown_is_dropped_too",
            true,
        );
    }
}
