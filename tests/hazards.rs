//! Hazards at the edges of the hop, shutdown and drop paths.

mod common;

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::thread::{self, ThreadId};
use std::time::Instant;

use bevy_coro::prelude::*;
use bevy_coro::runtime::{Runtime, RuntimeConfig};
use common::*;

/// Polls a future once and reports whether it was ready.
struct PollOnce<'a, F>(Pin<&'a mut F>);

impl<F: Future> Future for PollOnce<'_, F> {
    type Output = bool;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<bool> {
        Poll::Ready(self.0.as_mut().poll(cx).is_ready())
    }
}

#[test]
fn a_hop_dropped_halfway_leaves_the_task_on_its_side() {
    let mut app = app(2);
    let main = thread::current().id();
    let task = coro(&app).spawn::<Main>(async move {
        {
            // Like a `select!` that gives up on its hop after one poll.
            let mut hop = Box::pin(std::future::pending::<()>().on::<Worker>());
            PollOnce(hop.as_mut()).await;
        }
        let mut threads = vec![thread::current().id()];
        for _ in 0..3 {
            yield_now().await;
            threads.push(thread::current().id());
        }
        threads.iter().all(|&t| t == main)
    });
    assert_eq!(run_task(&mut app, task), Ok(true));
}

#[test]
fn a_hop_cannot_be_moved_into_another_task() {
    let mut app = app(2);
    let coro = coro(&app);
    let (sender, receiver) = std::sync::mpsc::channel();
    // A worker task starts a hop to Main and hands it over half-done.
    coro.spawn::<Worker>(async move {
        let mut hop = Box::pin(async { 1 }.on::<Main>());
        PollOnce(hop.as_mut()).await;
        sender.send(hop).unwrap();
    })
    .detach();
    let hop = receiver.recv().unwrap();
    let local = Rc::new(Cell::new(0));
    let task = coro.spawn_local(async move {
        local.set(hop.await);
        local.get()
    });
    match run_task(&mut app, task) {
        Err(TaskError::Panicked(message)) => assert!(message.contains("another task"), "{message}"),
        other => panic!("the local task took a foreign hop: {other:?}"),
    }
}

/// Records the thread it is dropped on; `!Send`, like any future holding an `Rc`.
struct DropThread {
    _not_send: Rc<()>,
    drops: Arc<Mutex<Vec<ThreadId>>>,
}

impl Drop for DropThread {
    fn drop(&mut self) {
        self.drops.lock().unwrap().push(thread::current().id());
    }
}

#[test]
fn a_runtime_dropped_off_its_thread_never_drops_local_futures_there() {
    let runtime = Runtime::new(RuntimeConfig {
        workers: 1,
        ..Default::default()
    })
    .unwrap();
    let drops = Arc::new(Mutex::new(Vec::new()));
    let guard = DropThread {
        _not_send: Rc::new(()),
        drops: drops.clone(),
    };
    runtime
        .spawn_local(async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        })
        .detach();
    runtime.pump(Instant::now(), None);
    let other = thread::spawn(move || {
        drop(runtime);
        thread::current().id()
    })
    .join()
    .unwrap();
    assert!(
        !drops.lock().unwrap().contains(&other),
        "a !Send future was dropped on another thread"
    );
}

#[test]
fn shutdown_with_foreign_wakes_in_flight_does_not_deadlock() {
    for _ in 0..20 {
        let runtime = Runtime::new(RuntimeConfig {
            workers: 2,
            ..Default::default()
        })
        .unwrap();
        let event = Arc::new(event_listener::Event::new());
        let counter = DropCounter::default();
        for _ in 0..500 {
            let (event, token) = (event.clone(), counter.token());
            runtime
                .spawn::<Worker>(async move {
                    let _token = token;
                    loop {
                        event.listen().await;
                    }
                })
                .detach();
        }
        runtime.pump(Instant::now(), None);
        let stop = Arc::new(AtomicBool::new(false));
        let notifier = {
            let (event, stop) = (event.clone(), stop.clone());
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    event.notify(usize::MAX);
                }
            })
        };
        let dropper = thread::spawn(move || drop(runtime));
        let start = Instant::now();
        while !dropper.is_finished() {
            assert!(start.elapsed() < WATCHDOG, "shutdown deadlocked");
            thread::yield_now();
        }
        stop.store(true, Ordering::Relaxed);
        notifier.join().unwrap();
        assert_eq!(counter.count(), 500);
    }
}

/// Panics when dropped.
struct Grenade;

impl Drop for Grenade {
    fn drop(&mut self) {
        if !thread::panicking() {
            panic!("grenade went off in Drop");
        }
    }
}

#[test]
fn a_future_that_panics_in_drop_does_not_take_the_process_down() {
    let mut app = app(1);
    let coro = coro(&app);
    let task = coro.spawn::<Main>(async {
        let _grenade = Grenade;
        std::future::pending::<()>().await;
    });
    app.update();
    drop(task); // cancel: the future's Drop panics on the next pump
    let done = Arc::new(AtomicUsize::new(0));
    let flag = done.clone();
    coro.spawn::<Main>(async move {
        flag.fetch_add(1, Ordering::SeqCst);
    })
    .detach();
    update_until(&mut app, "the pump goes on", |_| {
        done.load(Ordering::SeqCst) == 1
    });
    wait_until("the cancelled task is gone", || coro.in_flight() == 0);
}
