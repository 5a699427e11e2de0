//! Models of a task's life: the task allocation's state machine (`task/raw`,
//! compiled with loom's atomics and cells: every access to the awaiter's
//! waker and to the stage, the future or its output, is checked to happen
//! after the last one on another thread, so an ordering too weak on the
//! state word fails as a data race), scheduled the way bevy_coro does it
//! (a queue per affinity, workers parked with the real `park.rs`, cancels
//! through the real `cancel_handshake.rs`). What stands in for the rest of the
//! runtime is small and in `task_pool`: a waker slot for a timer or a channel,
//! an affinity byte for the header's.

use std::task::{Poll, Waker};

use loom::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicUsize, Ordering};
use loom::sync::{Arc, Mutex};
use loom::thread;

use crate::cancel_handshake;
use crate::task_pool::{Dropped, Pool, Signal, WaitFor, side};

/// The slot of a task that has not parked yet.
const NO_SLOT: u32 = u32::MAX;

/// (1) A wake racing a running poll: whether the wake comes before, during
/// or after the poll that files the waker, the task is polled again (never
/// lost), and never by two threads at once.
#[test]
fn a_wake_racing_a_running_poll_is_never_lost() {
    crate::model_bounded(2, "a_wake_racing_a_running_poll_is_never_lost", || {
        let pool = Pool::new();
        let signal = Arc::new(Signal::default());
        let polls = Arc::new(AtomicUsize::new(0));
        let task = Pool::spawn(
            &pool,
            Arc::new(AtomicU8::new(1)),
            WaitFor {
                signal: signal.clone(),
                want: 1,
                polls: polls.clone(),
                one: Arc::default(),
            },
        );
        let worker = Pool::drain(&pool, 1);
        // The wake comes from this thread, racing the worker's poll.
        signal.fire();
        assert_eq!(loom::future::block_on(task), Some(()));
        pool.stop();
        worker.join().unwrap();
        let polls = polls.load(Ordering::SeqCst);
        assert!((1..=2).contains(&polls), "{polls} polls");
    });
}

/// (3) A cancel racing a hop and the task's completion. The task hops from
/// side 0 to side 1 (sets its affinity and wakes itself in one poll), then
/// waits for a signal; another thread cancels it through the real
/// `cancel_handshake` and wakes it through the slot it registered at its
/// first park, as `Header::cancel` does. Whatever the order: the task ends
/// (completed or cancelled, never stuck), its second poll is on side 1, and
/// its future is dropped exactly once.
#[test]
fn a_cancel_racing_a_hop_and_completion_always_ends_the_task() {
    crate::model_bounded(
        2,
        "a_cancel_racing_a_hop_and_completion_always_ends_the_task",
        || {
            let pool = Pool::new();
            let affinity = Arc::new(AtomicU8::new(0));
            // The header's cancel flag and registry slot.
            let cancel = Arc::new((AtomicBool::new(false), AtomicU32::new(NO_SLOT)));
            // The registry: one slot, holding the parked task's waker.
            let registry: Arc<Mutex<Option<Waker>>> = Arc::default();
            let signal = Arc::new(Signal::default());
            let drops = Arc::new(AtomicUsize::new(0));


            let task = {
                let (affinity, cancel, registry, signal) = (
                    affinity.clone(),
                    cancel.clone(),
                    registry.clone(),
                    signal.clone(),
                );
                let guard = Dropped(drops.clone());
                let mut hopped = false;
                Pool::spawn(
                    &pool,
                    affinity.clone(),
                    std::future::poll_fn(move |cx| {
                        let _guard = &guard;
                        // `TaskBody::poll`: a cancelled task ends at its next poll.
                        if cancel.0.load(Ordering::Acquire) {
                            return Poll::Ready(Err("cancelled"));
                        }
                        let poll = if !hopped {
                            // `On::poll`: move, and wake so the next poll is there.
                            hopped = true;
                            affinity.store(1, Ordering::Release);
                            cx.waker().wake_by_ref();
                            Poll::Pending
                        } else {
                            assert_eq!(side(), 1, "polled on the side it left");
                            *signal.waiter.lock().unwrap() = Some(cx.waker().clone());
                            if signal.fired.load(Ordering::SeqCst) > 0 {
                                Poll::Ready(Ok(()))
                            } else {
                                Poll::Pending
                            }
                        };
                        // `Header::register`, at the first park.
                        if poll.is_pending() && registry.lock().unwrap().is_none() {
                            *registry.lock().unwrap() = Some(cx.waker().clone());
                            let store_slot = || cancel.1.store(0, Ordering::SeqCst);
                            // No node: the task is in no tree.
                            let no_node = || None::<()>;
                            if cancel_handshake::register(
                                &cancel.0,
                                store_slot,
                                no_node,
                                |()| {},
                                |()| false,
                            ) {
                                cx.waker().wake_by_ref();
                            }
                        }
                        poll
                    }),
                )
            };
            let sides = [Pool::drain(&pool, 0), Pool::drain(&pool, 1)];
            // This thread cancels (as `Header::cancel`: flag, then the slot's
            // waker), racing the hop and the poll that would complete.
            signal.fire();
            let mut found_slot = false;
            let find_slot = || found_slot = cancel.1.load(Ordering::SeqCst) != NO_SLOT;
            cancel_handshake::cancel(&cancel.0, || None::<()>, |()| {}, find_slot);
            if found_slot {
                let waker = registry.lock().unwrap().clone();
                waker.expect("registered before the slot").wake();
            }
            let result = loom::future::block_on(task).expect("never closed");
            pool.stop();
            for side in sides {
                side.join().unwrap();
            }
            assert!(result.is_ok() || cancel.0.load(Ordering::SeqCst));
            drop(registry.lock().unwrap().take());
            assert_eq!(drops.load(Ordering::SeqCst), 1, "future dropped once");
        },
    );
}

/// (4) An interval tick racing a run still going: the interval is one task
/// that waits for a tick, then runs (here a run spans two polls), then waits
/// again. Ticks come from a timer thread at any moment, also mid-run; a tick
/// that came during a run is skipped (the default `MissedTick::Skip`), never
/// a second run at once; and every tick is either run or counted skipped.
#[test]
fn an_interval_tick_racing_a_running_run_never_starts_a_second_run() {
    crate::model_bounded(
        2,
        "an_interval_tick_racing_a_running_run_never_starts_a_second_run",
        || {
            const TICKS: usize = 2;
            let pool = Pool::new();
            let timer = Arc::new(Signal::default());
            let running = Arc::new(AtomicBool::new(false));
            let counts = Arc::new((AtomicUsize::new(0), AtomicUsize::new(0))); // runs, skipped
            let task = {
                let (timer, running, counts) = (timer.clone(), running.clone(), counts.clone());
                let mut seen = 0; // ticks handled
                let mut in_run = false;
                Pool::spawn(
                    &pool,
                    Arc::new(AtomicU8::new(1)),
                    std::future::poll_fn(move |cx| {
                        loop {
                            if in_run {
                                // The run's second poll: it ends here.
                                running.store(false, Ordering::SeqCst);
                                in_run = false;
                                // Ticks that came during the run are skipped.
                                let fired = timer.fired.load(Ordering::SeqCst);
                                counts.1.fetch_add(fired - seen, Ordering::SeqCst);
                                seen = fired;
                            }
                            if seen == TICKS {
                                return Poll::Ready(());
                            }
                            *timer.waiter.lock().unwrap() = Some(cx.waker().clone());
                            if timer.fired.load(Ordering::SeqCst) == seen {
                                return Poll::Pending; // wait for the next tick
                            }
                            seen += 1;
                            assert!(
                                !running.swap(true, Ordering::SeqCst),
                                "a second run started while one was going"
                            );
                            counts.0.fetch_add(1, Ordering::SeqCst);
                            in_run = true;
                            // The run awaits something once: it yields.
                            cx.waker().wake_by_ref();
                            return Poll::Pending;
                        }
                    }),
                )
            };
            let worker = Pool::drain(&pool, 1);
            // This thread is the timer: ticks at any moment, also mid-run.
            for _ in 0..TICKS {
                timer.fire();
            }
            assert_eq!(loom::future::block_on(task), Some(()));
            pool.stop();
            worker.join().unwrap();
            let (runs, skipped) = (
                counts.0.load(Ordering::SeqCst),
                counts.1.load(Ordering::SeqCst),
            );
            assert!(runs >= 1);
            assert_eq!(runs + skipped, TICKS, "every tick run or skipped");
        },
    );
}

/// (5) A handle dropped while its task is woken and run elsewhere: the
/// future is dropped exactly once (by the run, or by the closed task's last
/// schedule), and the task is freed (loom fails a model that leaks an
/// `Arc`, and the header holds the pool's).
#[test]
fn a_handle_dropped_racing_a_wake_and_the_run_drops_the_future_once() {
    crate::model_bounded(
        2,
        "a_handle_dropped_racing_a_wake_and_the_run_drops_the_future_once",
        || {
            let pool = Pool::new();
            let signal = Arc::new(Signal::default());
            let drops = Arc::new(AtomicUsize::new(0));
            let task = {
                let signal = signal.clone();
                let guard = Dropped(drops.clone());
                Pool::spawn(
                    &pool,
                    Arc::new(AtomicU8::new(1)),
                    std::future::poll_fn(move |cx| {
                        let _guard = &guard;
                        *signal.waiter.lock().unwrap() = Some(cx.waker().clone());
                        if signal.fired.load(Ordering::SeqCst) > 0 {
                            Poll::Ready(())
                        } else {
                            Poll::Pending
                        }
                    }),
                )
            };
            let worker = Pool::drain(&pool, 1);
            let waker = {
                let signal = signal.clone();
                thread::spawn(move || signal.fire())
            };
            drop(task);
            waker.join().unwrap();
            // The worker runs the task's last schedule, if there is one.
            while drops.load(Ordering::SeqCst) == 0 {
                thread::yield_now();
            }
            pool.stop();
            worker.join().unwrap();
            drop(signal.waiter.lock().unwrap().take());
            assert_eq!(drops.load(Ordering::SeqCst), 1, "future dropped once");
        },
    );
}

/// (6) A handle awaited on one thread while the task completes on another,
/// and a `TaskRef` (the registry's one-word reference) woken and dropped on
/// a third: the awaiter is always woken (`block_on` would otherwise
/// deadlock, which loom reports) and gets the output.
#[test]
fn a_handle_awaited_racing_completion_and_a_task_ref_gets_the_output() {
    // Three threads and four wakers: one preemption keeps it under a minute.
    crate::model_bounded(
        1,
        "a_handle_awaited_racing_completion_and_a_task_ref_gets_the_output",
        || {
            let pool = Pool::new();
            let signal = Arc::new(Signal::default());
            let task_ref = Arc::new(Mutex::new(None));
            let task = {
                let (signal, task_ref) = (signal.clone(), task_ref.clone());
                Pool::spawn(
                    &pool,
                    Arc::new(AtomicU8::new(1)),
                    std::future::poll_fn(move |cx| {
                        // `Header::register`: a reference that can wake it.
                        task_ref.lock().unwrap().get_or_insert_with(|| cx.waker().clone());
                        *signal.waiter.lock().unwrap() = Some(cx.waker().clone());
                        if signal.fired.load(Ordering::SeqCst) > 0 {
                            Poll::Ready(7)
                        } else {
                            Poll::Pending
                        }
                    }),
                )
            };
            let worker = Pool::drain(&pool, 1);
            let other = {
                let (signal, task_ref) = (signal.clone(), task_ref.clone());
                thread::spawn(move || {
                    if let Some(waker) = task_ref.lock().unwrap().take() {
                        waker.wake();
                    }
                    signal.fire();
                })
            };
            assert_eq!(loom::future::block_on(task), Some(7));
            other.join().unwrap();
            pool.stop();
            worker.join().unwrap();
            drop(task_ref.lock().unwrap().take());
            drop(signal.waiter.lock().unwrap().take());
        },
    );
}
