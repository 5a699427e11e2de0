//! Worker threads: a local queue each, a shared injector, stealing, and parking.
//!
//! # Parking protocol
//!
//! A worker that finds no task registers a listener on `event`, looks for a task
//! once more, and only then blocks on the listener. Anyone who makes a task
//! runnable pushes it first and notifies `event` after. event-listener orders
//! `listen` and `notify` with full fences, so either the second look sees the
//! pushed task or the push's notification reaches the listener: a task pushed
//! while a worker goes to sleep is never missed. Shutdown sets `stopping` before
//! notifying everyone, and workers check it after registering, for the same
//! reason. A parked worker blocks in the kernel: an idle pool burns no CPU.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};

use async_task::Runnable;
use concurrent_queue::{ConcurrentQueue, PushError};
use event_listener::{Event, Listener, listener};

use super::context;
use super::task::Header;
use super::{Shared, drain_queue, run};

/// Capacity of each worker's local queue; overflow goes to the injector.
const LOCAL_CAPACITY: usize = 256;

/// Keeps a local queue on its own cache lines (their heads are written by
/// different threads).
#[repr(align(128))]
struct Local(ConcurrentQueue<Runnable<Header>>);

/// The worker side of the scheduler.
pub(crate) struct Workers {
    injector: ConcurrentQueue<Runnable<Header>>,
    locals: Box<[Local]>,
    event: Event,
    stopping: AtomicBool,
    pin: bool,
}

impl Workers {
    pub(crate) fn new(count: usize, pin: bool) -> Self {
        Workers {
            injector: ConcurrentQueue::unbounded(),
            locals: (0..count)
                .map(|_| Local(ConcurrentQueue::bounded(LOCAL_CAPACITY)))
                .collect(),
            event: Event::new(),
            stopping: AtomicBool::new(false),
            pin,
        }
    }

    /// Number of worker threads.
    pub(crate) fn count(&self) -> usize {
        self.locals.len()
    }

    /// Tasks waiting in the injector and every local queue.
    pub(crate) fn queued(&self) -> usize {
        self.injector.len() + self.locals.iter().map(|local| local.0.len()).sum::<usize>()
    }

    /// Queues a worker-affinity task; returns it back if the scheduler is closed.
    pub(crate) fn push(
        &self,
        shared: &Shared,
        runnable: Runnable<Header>,
    ) -> Option<Runnable<Header>> {
        // On one of our workers, the task goes to that worker's queue: it is hot
        // in this core's cache, and no other thread contends for the push.
        let pushed = match context::worker_index(shared) {
            Some(index) => match self.locals[index].0.push(runnable) {
                Err(PushError::Full(runnable)) => self.injector.push(runnable),
                other => other,
            },
            None => self.injector.push(runnable),
        };
        match pushed {
            Ok(()) => {
                self.event.notify(1);
                None
            }
            Err(error) => Some(error.into_inner()),
        }
    }

    /// Starts the worker threads.
    pub(crate) fn start(shared: &Arc<Shared>) -> io::Result<Vec<JoinHandle<()>>> {
        let workers = &shared.workers;
        let cores = if workers.pin {
            core_affinity::get_core_ids().unwrap_or_default()
        } else {
            Vec::new()
        };
        (0..workers.count())
            .map(|index| {
                let shared = shared.clone();
                // Leave the first core to the main thread while there are enough.
                let core = (!cores.is_empty()).then(|| cores[(index + 1) % cores.len()]);
                thread::Builder::new()
                    .name(format!("bevy_coro worker {index}"))
                    .spawn(move || {
                        if let Some(core) = core {
                            core_affinity::set_for_current(core);
                        }
                        shared.workers.run(&shared, index);
                    })
            })
            .collect()
    }

    /// A worker thread's loop.
    fn run(&self, shared: &Shared, index: usize) {
        context::set_worker(shared, index);
        while !self.stopping.load(Ordering::Acquire) {
            if let Some(runnable) = self.find(index) {
                run(runnable);
                continue;
            }
            let found = {
                listener!(self.event => listener);
                if self.stopping.load(Ordering::Acquire) {
                    break;
                }
                let found = self.find(index);
                if found.is_none() {
                    listener.wait();
                    // Woken: if there is more work than this worker will take,
                    // pass the word on (a notification that reached a worker
                    // already awake would otherwise leave others asleep).
                    if self.work_waiting(index) {
                        self.event.notify(1);
                    }
                }
                found
                // The listener is removed here, before the task runs; a
                // notification it took without waiting passes to another worker.
            };
            if let Some(runnable) = found {
                run(runnable);
            }
        }
    }

    /// Finds the next task for worker `index`: its own queue, then the
    /// injector, then another worker's queue.
    fn find(&self, index: usize) -> Option<Runnable<Header>> {
        let local = &self.locals[index].0;
        if let Ok(runnable) = local.pop() {
            return Some(runnable);
        }
        if let Ok(runnable) = self.injector.pop() {
            // Take a fair share along, so the injector is touched less often.
            let share = (self.injector.len() / self.count()).min(LOCAL_CAPACITY / 2);
            move_some(&self.injector, local, share);
            if !self.injector.is_empty() {
                // More work than this worker takes: let a sleeper help.
                self.event.notify(1);
            }
            return Some(runnable);
        }
        let count = self.count();
        for offset in 1..count {
            let victim = &self.locals[(index + offset) % count].0;
            if let Ok(runnable) = victim.pop() {
                move_some(victim, local, victim.len() / 2);
                return Some(runnable);
            }
        }
        None
    }

    /// Whether the injector or another worker's queue holds a task.
    fn work_waiting(&self, index: usize) -> bool {
        !self.injector.is_empty()
            || self
                .locals
                .iter()
                .enumerate()
                .any(|(i, local)| i != index && !local.0.is_empty())
    }

    /// Stops the workers (after their current poll) and waits for them.
    pub(crate) fn stop(&self, threads: Vec<JoinHandle<()>>) {
        self.stopping.store(true, Ordering::Release);
        self.event.notify(usize::MAX);
        let me = thread::current().id();
        for thread in threads {
            // A worker dropping the runtime cannot wait for itself.
            if thread.thread().id() != me {
                let _ = thread.join();
            }
        }
    }

    /// Refuses further pushes and hands every queued task to `dispose`. Call
    /// after `stop`.
    pub(crate) fn close(&self, mut dispose: impl FnMut(Runnable<Header>)) {
        drain_queue(&self.injector, &mut dispose);
        for local in self.locals.iter() {
            drain_queue(&local.0, &mut dispose);
        }
    }
}

/// Moves up to `n` tasks from `from` to `to`, stopping when either runs out.
fn move_some(
    from: &ConcurrentQueue<Runnable<Header>>,
    to: &ConcurrentQueue<Runnable<Header>>,
    n: usize,
) {
    for _ in 0..n {
        let Ok(runnable) = from.pop() else { return };
        if let Err(error) = to.push(runnable) {
            // `to` is full or closed: put the task back where it came from; if
            // that is closed too, the scheduler is shutting down and drops it.
            let _ = from.push(error.into_inner());
            return;
        }
    }
}
