//! Item 9: a panic payload whose `Drop` panics is still contained, from a
//! task, a timer's factory or run, and a future's `Drop`.

use super::*;

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
    let (runtime, clock) = manual_runtime_with(1);
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
