//! What the task models (`tasks`) run on: two queues scheduled the way
//! bevy_coro does it (a queue per affinity, each drained by a thread parked
//! with the real `park.rs`), and what stands in for the rest of the runtime:
//! a waker slot for a timer or a channel, an affinity byte for the header's,
//! a count of a future's drops, a check that no two threads poll a task at
//! once.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use concurrent_queue::ConcurrentQueue;
use loom::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use loom::sync::{Arc, Mutex};
use loom::thread;

use crate::park::Parking;
use crate::queue::try_pop;
use crate::raw::{JoinHandle, Runnable, Schedule, ScheduleInfo};

/// Two queues (say main and worker), each drained by its own thread, which
/// parks when it is empty; tasks are routed by their affinity byte at each
/// schedule, as `Shared::schedule` routes by the header's.
pub(crate) struct Pool {
    queues: [ConcurrentQueue<Runnable<Meta>>; 2],
    parking: [Parking; 2],
}

/// A task's header here: its pool and its affinity byte.
pub(crate) struct Meta {
    pool: Arc<Pool>,
    affinity: Arc<AtomicU8>,
}

/// Routes a task by its affinity byte, as `schedule::route` does by the
/// header's.
struct Route;

impl Schedule<Meta> for Route {
    fn schedule(runnable: Runnable<Meta>, _: ScheduleInfo) {
        let side = usize::from(runnable.metadata().affinity.load(Ordering::Acquire));
        // Ours: once pushed, the task may run and be freed elsewhere.
        let pool = runnable.metadata().pool.clone();
        pool.queues[side].push(runnable).unwrap();
        pool.parking[side].notify(1);
    }
}

impl Pool {
    pub(crate) fn new() -> Arc<Pool> {
        Arc::new(Pool {
            queues: [ConcurrentQueue::unbounded(), ConcurrentQueue::unbounded()],
            parking: [Parking::new(), Parking::new()],
        })
    }

    /// Spawns `future`, routed at every schedule by `affinity`.
    pub(crate) fn spawn<F>(this: &Arc<Self>, affinity: Arc<AtomicU8>, future: F) -> JoinHandle<F::Output, Meta>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let meta = Meta {
            pool: this.clone(),
            affinity,
        };
        // SAFETY: the future and its output are `Send` and `'static`.
        let (runnable, task) = unsafe { crate::raw::spawn::<F, Route, Meta>(meta, |_| future) };
        runnable.schedule();
        task
    }

    /// The thread of side `side`: runs its queue until stopped. Records which
    /// side polled (`polled_on`) so a hop can be checked.
    pub(crate) fn drain(this: &Arc<Self>, side: usize) -> thread::JoinHandle<()> {
        let pool = this.clone();
        thread::spawn(move || {
            let queue = &pool.queues[side];
            while let Some(runnable) =
                pool.parking[side].next(|| try_pop(queue), || !queue.is_empty(), || {})
            {
                SIDE.with(|s| s.store(side as u8, Ordering::Relaxed));
                runnable.run();
            }
        })
    }

    pub(crate) fn stop(&self) {
        for parking in &self.parking {
            parking.stop();
        }
    }
}

loom::thread_local! {
    /// Which side's thread this is.
    static SIDE: AtomicU8 = AtomicU8::new(u8::MAX);
}

pub(crate) fn side() -> u8 {
    SIDE.with(|s| s.load(Ordering::Relaxed))
}

/// Stands in for whatever wakes a parked task (a channel, a timer): a flag
/// and the waker of the one task waiting on it.
#[derive(Default)]
pub(crate) struct Signal {
    pub(crate) fired: AtomicUsize,
    pub(crate) waiter: Mutex<Option<Waker>>,
}

impl Signal {
    pub(crate) fn fire(&self) {
        self.fired.fetch_add(1, Ordering::SeqCst);
        if let Some(waker) = self.waiter.lock().unwrap().take() {
            waker.wake();
        }
    }
}

/// Counts its drops: a future's, dropped exactly once.
pub(crate) struct Dropped(pub(crate) Arc<AtomicUsize>);

impl Drop for Dropped {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Fails the model if a task's future is ever polled by two threads at once.
#[derive(Default)]
pub(crate) struct OnePoll(AtomicBool);

impl OnePoll {
    fn enter(&self) -> impl Drop + '_ {
        assert!(
            !self.0.swap(true, Ordering::SeqCst),
            "a task was polled twice at once"
        );
        struct Exit<'a>(&'a AtomicBool);
        impl Drop for Exit<'_> {
            fn drop(&mut self) {
                self.0.store(false, Ordering::SeqCst);
            }
        }
        Exit(&self.0)
    }
}

/// Waits for `signal` to have fired `want` times, as a well-behaved future
/// does: file the waker, then look (so a fire in between is never lost).
pub(crate) struct WaitFor {
    pub(crate) signal: Arc<Signal>,
    pub(crate) want: usize,
    pub(crate) polls: Arc<AtomicUsize>,
    pub(crate) one: Arc<OnePoll>,
}

impl Future for WaitFor {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let _poll = self.one.enter();
        self.polls.fetch_add(1, Ordering::SeqCst);
        *self.signal.waiter.lock().unwrap() = Some(cx.waker().clone());
        if self.signal.fired.load(Ordering::SeqCst) >= self.want {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}
