//! Dropping the App stops the scheduler: every pending future dropped once.

mod common;

use std::time::Instant;

use bevy_coro::prelude::*;
use common::*;

/// 10,000 tasks in every state: parked on Main and on workers, yielding on
/// both sides, queued and never polled.
fn spawn_pending(coro: &Coro, counter: &DropCounter) {
    for i in 0..10_000 {
        let token = counter.token();
        match i % 4 {
            0 => coro.spawn::<Worker>(parked_forever(token)).detach(),
            1 => coro.spawn::<Main>(parked_forever(token)).detach(),
            2 => coro
                .spawn::<Worker>(async move {
                    let _token = token;
                    loop {
                        yield_now().await;
                    }
                })
                .detach(),
            _ => coro
                .spawn::<Main>(async move {
                    let _token = token;
                    loop {
                        async { yield_now().await }.on::<Worker>().await;
                    }
                })
                .detach(),
        }
    }
}

#[test]
fn dropping_the_app_drops_each_pending_future_once() {
    for round in 0..100 {
        let counter = DropCounter::default();
        let mut app = app(2);
        let coro = coro(&app);
        spawn_pending(&coro, &counter);
        // Run some frames so tasks are spread over every queue and state.
        for _ in 0..(round % 3) {
            app.update();
        }
        let start = Instant::now();
        drop(app);
        assert!(start.elapsed() < WATCHDOG, "shutdown hung");
        assert_eq!(counter.count(), 10_000, "round {round}: futures dropped");
        assert_eq!(coro.in_flight(), 0);
    }
}

#[test]
fn coro_after_the_app_is_dropped_gives_cancelled_tasks() {
    let app = app(1);
    let coro = coro(&app);
    drop(app);
    let counter = DropCounter::default();
    let mut task = coro.spawn::<Worker>(parked_forever(counter.token()));
    assert_eq!(counter.count(), 1, "the future was not dropped");
    assert_eq!(task.try_take(), Some(Err(TaskError::Cancelled)));
    let mut task = coro.spawn::<Main>(async { 1 });
    assert_eq!(task.try_take(), Some(Err(TaskError::Cancelled)));
    assert_eq!(coro.in_flight(), 0);
}

#[test]
fn a_task_handle_held_past_shutdown_resolves_cancelled() {
    let mut app = app(1);
    let coro = coro(&app);
    let mut task = coro.spawn::<Main>(std::future::pending::<()>());
    app.update();
    drop(app);
    assert_eq!(task.try_take(), Some(Err(TaskError::Cancelled)));
}
