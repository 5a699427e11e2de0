//! Careless game code must not freeze the frame, starve other tasks, or get a
//! panic past containment (issue 23, items 1, 2 and 9).
//!
//! A frozen `app.update()` or `pump()` cannot be interrupted, so the code that
//! may freeze runs on a thread of its own (which also creates the App or the
//! runtime: they are pumped on the thread that made them), and the test fails
//! if that thread does not report back within a generous bound.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use bevy_app::App;
use bevy_coro::prelude::*;
use bevy_coro::runtime::{Clock, ManualClock, Runtime, RuntimeConfig};
use common::*;

/// How long one frame may take before the test calls it frozen: far above
/// what a frame of these tests needs, even on a loaded machine.
const FROZEN: Duration = Duration::from_secs(30);

/// Runs `frames` on a thread of their own; each call of `frame` reports a
/// value. Fails the test if a frame does not come back within [`FROZEN`]
/// (the frozen thread is left behind: it cannot be stopped from outside).
fn frames_off_thread<T: Send + 'static>(
    what: &str,
    frames: usize,
    setup: impl FnOnce() -> Box<dyn FnMut() -> T> + Send + 'static,
) -> Vec<T> {
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        let mut frame = setup();
        for _ in 0..frames {
            if send.send(frame()).is_err() {
                return;
            }
        }
    });
    (0..frames)
        .map(|i| {
            receive
                .recv_timeout(FROZEN)
                .unwrap_or_else(|_| panic!("{what}: frame {i} did not come back: frozen"))
        })
        .collect()
}

/// A manual-clock runtime pumped on the calling thread.
fn manual(workers: usize) -> (Runtime, ManualClock) {
    let clock = ManualClock::new();
    let runtime = Runtime::new(RuntimeConfig {
        workers,
        clock: Clock::Manual(clock.clone()),
        ..Default::default()
    })
    .unwrap();
    (runtime, clock)
}

// 1. Starvation on a worker.

#[test]
fn a_yield_loop_leaves_its_worker_to_tasks_from_outside() {
    // The same starvation without timers: a worker task that only yields
    // goes back to its worker's own queue, which was always looked at first.
    let done = frames_off_thread("a worker yield loop", 1, || {
        Box::new(|| {
            let (runtime, _clock) = manual(1);
            let polls = Arc::new(AtomicUsize::new(0));
            let counted = polls.clone();
            let spinner = runtime.spawn::<Worker>(async move {
                loop {
                    counted.fetch_add(1, Ordering::SeqCst);
                    yield_now().await;
                }
            });
            wait_until("the yield loop runs", || polls.load(Ordering::SeqCst) > 100);
            let other = runtime.spawn::<Worker>(async { 42 }).block();
            drop(spinner);
            other
        })
    });
    assert_eq!(done, vec![Ok(42)]);
}

// 2. Per-frame coroutines under a budget.

#[test]
fn a_per_frame_coroutine_leaves_room_for_a_task_spawned_after_it() {
    let mut app = App::new();
    app.add_plugins(CoroPlugin {
        workers: 1,
        main_budget: Some(Duration::ZERO),
        ..Default::default()
    });
    let coro = coro(&app);
    coro.spawn::<Main>(async {
        loop {
            yield_now().await;
        }
    })
    .detach();
    let ran = Arc::new(AtomicBool::new(false));
    let flag = ran.clone();
    coro.spawn::<Main>(async move { flag.store(true, Ordering::SeqCst) })
        .detach();
    for _ in 0..200 {
        app.update();
        if ran.load(Ordering::SeqCst) {
            return;
        }
    }
    panic!("a task spawned after a per-frame coroutine never ran in 200 frames");
}

#[test]
fn per_frame_coroutines_over_budget_still_serve_world_requests_and_new_tasks() {
    // Ten per-frame coroutines need 4 ms a frame; the budget is 2 ms.
    let mut app = App::new();
    app.add_plugins(CoroPlugin {
        workers: 1,
        main_budget: Some(Duration::from_millis(2)),
        ..Default::default()
    });
    let coro = coro(&app);
    for _ in 0..10 {
        coro.spawn::<Main>(async {
            loop {
                busy(Duration::from_micros(400));
                yield_now().await;
            }
        })
        .detach();
    }
    for _ in 0..3 {
        app.update();
    }
    let mut from_worker = coro.spawn::<Worker>(async { with_world(|_| 7).await });
    let mut fresh = coro.spawn::<Main>(async { 8 });
    let (mut a, mut b) = (None, None);
    // Each frame spends its 2 ms budget, so this bound is many seconds.
    let frames = frames_until(&mut app, 3_000, |_| {
        a = a.take().or_else(|| from_worker.try_take());
        b = b.take().or_else(|| fresh.try_take());
        a.is_some() && b.is_some()
    });
    assert!(
        frames.is_some(),
        "over budget: with_world {a:?}, fresh task {b:?} after 3000 frames"
    );
    assert_eq!((a, b), (Some(Ok(7)), Some(Ok(8))));
}

/// Runs frames until `done` holds, at most `limit`; the frames it took.
fn frames_until(
    app: &mut App,
    limit: usize,
    mut done: impl FnMut(&mut App) -> bool,
) -> Option<usize> {
    for frame in 0..limit {
        if done(app) {
            return Some(frame);
        }
        app.update();
    }
    done(app).then_some(limit)
}

// 9. A panic payload whose `Drop` panics.

/// A panic payload that panics again when dropped.
struct Grenade;

impl Drop for Grenade {
    fn drop(&mut self) {
        panic!("the payload went off");
    }
}

#[test]
fn a_panic_whose_payload_panics_on_drop_is_still_a_panic() {
    let mut app = app(1);
    let coro = coro(&app);
    let main = coro.spawn::<Main>(async { std::panic::panic_any(Grenade) });
    let worker = coro.spawn::<Worker>(async { std::panic::panic_any(Grenade) });
    let panicked = |result: Result<(), TaskError>| matches!(result, Err(TaskError::Panicked(_)));
    assert!(panicked(run_task(&mut app, main)));
    assert!(panicked(run_task(&mut app, worker)));
    assert_eq!(coro.stats().panics, 2);
    // Both sides go on.
    let after = coro.spawn::<Worker>(async { with_world(|_| 1).await });
    assert_eq!(run_task(&mut app, after), Ok(1));
}

#[test]
fn an_interval_whose_factory_panics_that_way_keeps_running() {
    let (runtime, clock) = manual(1);
    let token = runtime.interval(Duration::from_millis(10), || -> std::future::Ready<()> {
        std::panic::panic_any(Grenade)
    });
    let runs = runtime.every(Duration::from_millis(10)).run(|| async {
        std::panic::panic_any(Grenade);
    });
    runtime.pump(Instant::now(), None);
    for _ in 0..3 {
        clock.advance(Duration::from_millis(10));
        runtime.pump(Instant::now(), None);
    }
    assert_eq!((token.runs_started(), token.panics()), (4, 4));
    assert_eq!((runs.runs_started(), runs.panics()), (4, 4));
    assert_eq!(runtime.stats().panics, 8);
}

#[test]
fn a_future_whose_drop_panics_that_way_is_contained() {
    /// Throws a grenade when dropped.
    struct Thrower;
    impl Drop for Thrower {
        fn drop(&mut self) {
            std::panic::panic_any(Grenade);
        }
    }
    let mut app = app(1);
    let coro = coro(&app);
    for _ in 0..2 {
        let thrower = Thrower;
        let task = coro.spawn::<Main>(async move {
            let _thrower = thrower;
            std::future::pending::<()>().await;
        });
        app.update();
        drop(task);
        app.update();
        // Finished, with its output dropped and nobody to take it.
        coro.spawn::<Main>(async { Thrower }).detach();
        app.update();
    }
    let after = coro.spawn::<Worker>(async { with_world(|_| 1).await });
    assert_eq!(run_task(&mut app, after), Ok(1));
    assert_eq!(coro.in_flight(), 0);
}
