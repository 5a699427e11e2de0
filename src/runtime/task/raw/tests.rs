//! The task allocation's life, one thread: spawn, run, wake, close, detach,
//! a poll that panics, the last reference; and its size. The races are
//! model-checked in `loom/tasks.rs`.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use super::*;

thread_local! {
    /// This thread's queue: what the test schedule function fills.
    static QUEUE: RefCell<VecDeque<(Runnable<Meta>, ScheduleInfo)>> = RefCell::default();
}

/// A header that counts its drops.
struct Meta(Rc<AtomicUsize>);

impl Drop for Meta {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

struct Queue;

impl Schedule<Meta> for Queue {
    fn schedule(runnable: Runnable<Meta>, info: ScheduleInfo) {
        QUEUE.with(|queue| queue.borrow_mut().push_back((runnable, info)));
    }
}

fn pop() -> Option<(Runnable<Meta>, ScheduleInfo)> {
    QUEUE.with(|queue| queue.borrow_mut().pop_front())
}

/// Spawns `future` (scheduled) with a header whose drop is counted.
fn spawn_counted<F: Future>(future: F) -> (JoinHandle<F::Output, Meta>, Rc<AtomicUsize>) {
    let freed = Rc::new(AtomicUsize::new(0));
    // SAFETY: one thread; the future outlives nothing it borrows.
    let (runnable, handle) = unsafe { spawn::<F, Queue, Meta>(Meta(freed.clone()), |_| future) };
    runnable.schedule();
    (handle, freed)
}

/// A future that is pending until `woken` is set, handing its waker out.
struct Gate {
    open: Rc<RefCell<bool>>,
    waker: Rc<RefCell<Option<Waker>>>,
    dropped: Rc<AtomicUsize>,
}

impl Future for Gate {
    type Output = u32;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        if *self.open.borrow() {
            return Poll::Ready(7);
        }
        *self.waker.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

#[allow(clippy::type_complexity)]
fn gate() -> (
    Gate,
    Rc<RefCell<bool>>,
    Rc<RefCell<Option<Waker>>>,
    Rc<AtomicUsize>,
) {
    let open = Rc::new(RefCell::new(false));
    let waker = Rc::new(RefCell::new(None));
    let dropped = Rc::new(AtomicUsize::new(0));
    let gate = Gate {
        open: open.clone(),
        waker: waker.clone(),
        dropped: dropped.clone(),
    };
    (gate, open, waker, dropped)
}

struct Count(AtomicUsize);

impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn poll_handle<T>(handle: &mut JoinHandle<T, Meta>, waker: &Waker) -> Poll<Option<T>> {
    Pin::new(handle).poll(&mut Context::from_waker(waker))
}

#[test]
fn a_task_runs_to_its_output_and_is_freed_once() {
    let (mut handle, freed) = spawn_counted(async { 42 });
    assert!(!handle.is_finished());
    let (runnable, info) = pop().unwrap();
    assert!(!info.woken_while_running);
    assert!(!runnable.run());
    assert!(handle.is_finished());
    assert_eq!(
        poll_handle(&mut handle, Waker::noop()),
        Poll::Ready(Some(42))
    );
    assert_eq!(freed.load(Ordering::SeqCst), 0, "the handle still holds it");
    drop(handle);
    assert_eq!(freed.load(Ordering::SeqCst), 1);
}

#[test]
fn wakes_schedule_a_parked_task_once_and_its_completion_wakes_the_awaiter() {
    let (gate, open, waker, _dropped) = gate();
    let (mut handle, freed) = spawn_counted(gate);
    assert!(!pop().unwrap().0.run());
    assert!(pop().is_none(), "pending, not scheduled");
    let awaiter = Arc::new(Count(AtomicUsize::new(0)));
    assert_eq!(
        poll_handle(&mut handle, &Waker::from(awaiter.clone())),
        Poll::Pending
    );
    // Two wakes, one schedule.
    waker.borrow().as_ref().unwrap().wake_by_ref();
    waker.borrow().as_ref().unwrap().wake_by_ref();
    let (runnable, info) = pop().unwrap();
    assert!(pop().is_none());
    assert!(!info.woken_while_running);
    *open.borrow_mut() = true;
    assert!(!runnable.run());
    assert_eq!(
        awaiter.0.load(Ordering::SeqCst),
        1,
        "the awaiter was woken on completion"
    );
    assert_eq!(
        poll_handle(&mut handle, Waker::noop()),
        Poll::Ready(Some(7))
    );
    drop(handle);
    drop(waker.borrow_mut().take());
    assert_eq!(freed.load(Ordering::SeqCst), 1);
}

#[test]
fn a_wake_in_its_own_poll_schedules_it_as_the_poll_ends() {
    struct SelfWake(u32);
    impl Future for SelfWake {
        type Output = u32;
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
            self.0 += 1;
            if self.0 == 3 {
                return Poll::Ready(self.0);
            }
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
    let (mut handle, freed) = spawn_counted(SelfWake(0));
    let mut runs = Vec::new();
    while let Some((runnable, info)) = pop() {
        runs.push((info.woken_while_running, runnable.run()));
    }
    assert_eq!(runs, [(false, true), (true, true), (true, false)]);
    assert_eq!(
        poll_handle(&mut handle, Waker::noop()),
        Poll::Ready(Some(3))
    );
    drop(handle);
    assert_eq!(freed.load(Ordering::SeqCst), 1);
}

#[test]
fn a_dropped_handle_closes_the_task_and_its_future_is_dropped_at_its_run() {
    let (gate, _open, waker, dropped) = gate();
    let (handle, freed) = spawn_counted(gate);
    pop().unwrap().0.run();
    drop(handle);
    // Idle when closed: scheduled once more, to drop its future.
    let (runnable, _) = pop().unwrap();
    assert_eq!(dropped.load(Ordering::SeqCst), 0);
    assert!(!runnable.run());
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
    // The waker the future handed out still holds the task.
    assert_eq!(freed.load(Ordering::SeqCst), 0);
    waker.borrow_mut().take().unwrap().wake();
    assert!(pop().is_none(), "a closed task is not scheduled");
    assert_eq!(freed.load(Ordering::SeqCst), 1);
}

#[test]
fn a_runnable_dropped_unrun_drops_the_future_and_the_handle_gets_none() {
    let (gate, _open, _waker, dropped) = gate();
    let (mut handle, freed) = spawn_counted(gate);
    drop(pop().unwrap().0);
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
    assert!(handle.is_finished());
    assert_eq!(poll_handle(&mut handle, Waker::noop()), Poll::Ready(None));
    drop(handle);
    assert_eq!(freed.load(Ordering::SeqCst), 1);
}

#[test]
fn a_detached_task_drops_its_output_and_frees_itself() {
    let output = Rc::new(AtomicUsize::new(0));
    struct Output(Rc<AtomicUsize>);
    impl Drop for Output {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let value = Output(output.clone());
    let (handle, freed) = spawn_counted(async move { value });
    handle.detach();
    pop().unwrap().0.run();
    assert_eq!(output.load(Ordering::SeqCst), 1);
    assert_eq!(freed.load(Ordering::SeqCst), 1);
    // Finished before the handle let go: the handle drops the output.
    let value = Output(output.clone());
    let (handle, freed) = spawn_counted(async move { value });
    pop().unwrap().0.run();
    assert_eq!(output.load(Ordering::SeqCst), 1);
    drop(handle);
    assert_eq!(output.load(Ordering::SeqCst), 2);
    assert_eq!(freed.load(Ordering::SeqCst), 1);
}

#[test]
fn the_last_reference_of_a_detached_parked_task_drops_its_future() {
    let (gate, _open, waker, dropped) = gate();
    let (handle, freed) = spawn_counted(gate);
    handle.detach();
    pop().unwrap().0.run();
    // A `TaskRef` (the registry's) wakes it and holds it.
    let task_ref = {
        let (runnable, _) = {
            waker.borrow().as_ref().unwrap().wake_by_ref();
            pop().unwrap()
        };
        // SAFETY: the runnable's header is a live task's.
        let task_ref = unsafe { TaskRef::new(runnable.metadata()) };
        runnable.run();
        task_ref
    };
    task_ref.wake_by_ref();
    pop().unwrap().0.run();
    // Round trip through one word, as the registry keeps it.
    // SAFETY: from `into_raw`, taken back once.
    let task_ref = unsafe { TaskRef::from_raw(task_ref.into_raw()) };
    drop(waker.borrow_mut().take());
    assert_eq!(dropped.load(Ordering::SeqCst), 0, "the TaskRef holds it");
    drop(task_ref);
    // The last reference, no handle: scheduled closed, dropped at its run.
    let (runnable, _) = pop().unwrap();
    runnable.run();
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
    assert_eq!(freed.load(Ordering::SeqCst), 1);
}

#[test]
fn a_task_ref_becomes_a_waker() {
    let (gate, open, waker, _dropped) = gate();
    let (mut handle, freed) = spawn_counted(gate);
    let (runnable, _) = pop().unwrap();
    // SAFETY: the runnable's header is a live task's.
    let task_ref = unsafe { TaskRef::new(runnable.metadata()) };
    runnable.run();
    *open.borrow_mut() = true;
    task_ref.into_waker().wake();
    pop().unwrap().0.run();
    assert_eq!(
        poll_handle(&mut handle, Waker::noop()),
        Poll::Ready(Some(7))
    );
    drop(handle);
    assert_eq!(freed.load(Ordering::SeqCst), 0, "the gate's waker holds it");
    drop(waker.borrow_mut().take());
    assert_eq!(freed.load(Ordering::SeqCst), 1);
}

#[test]
fn a_poll_that_panics_closes_the_task_and_wakes_the_awaiter() {
    struct Panics(Rc<AtomicUsize>);
    impl Future for Panics {
        type Output = ();
        fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
            panic!("a panicking poll");
        }
    }
    impl Drop for Panics {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let dropped = Rc::new(AtomicUsize::new(0));
    let (mut handle, freed) = spawn_counted(Panics(dropped.clone()));
    let awaiter = Arc::new(Count(AtomicUsize::new(0)));
    assert_eq!(
        poll_handle(&mut handle, &Waker::from(awaiter.clone())),
        Poll::Pending
    );
    let (runnable, _) = pop().unwrap();
    assert!(catch_unwind(AssertUnwindSafe(|| runnable.run())).is_err());
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
    assert_eq!(awaiter.0.load(Ordering::SeqCst), 1);
    assert_eq!(poll_handle(&mut handle, Waker::noop()), Poll::Ready(None));
    drop(handle);
    assert_eq!(freed.load(Ordering::SeqCst), 1);
}

#[test]
fn a_small_task_takes_the_core_its_header_and_one_word() {
    // The scheduler's header is 32 bytes and its body (a pointer to the
    // header and a future of at most 0 bytes) 8, as is the output it keeps.
    struct Body(#[allow(dead_code)] usize);
    impl Future for Body {
        type Output = usize;
        fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<usize> {
            Poll::Ready(0)
        }
    }
    assert_eq!(std::mem::size_of::<cell::Cell<Body, [u64; 4]>>(), 72);
    assert_eq!(std::mem::size_of::<TaskRef>(), 8);
}

#[test]
fn a_body_that_panics_frees_the_task() {
    let freed = Rc::new(AtomicUsize::new(0));
    let made = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: one thread; the future borrows nothing.
        unsafe {
            spawn::<std::future::Ready<()>, Queue, Meta>(Meta(freed.clone()), |_| {
                panic!("the body could not be made")
            })
        }
    }));
    assert!(made.is_err());
    assert_eq!(freed.load(Ordering::SeqCst), 1, "the header was dropped");
    assert!(pop().is_none(), "nothing was scheduled");
}
