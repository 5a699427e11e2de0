//! Dropping a `Task` cancels it; `cancel()` stops it; `detach()` lets it run.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bevy_coro::prelude::*;
use common::*;

in_each_mode! {
fn dropping_a_task_drops_its_future(workers = 2) {
    let mut app = app(workers);
    let coro = coro(&app);
    let counter = DropCounter::default();
    let worker = coro.spawn::<Worker>(parked_forever(counter.token()));
    let main = coro.spawn::<Main>(parked_forever(counter.token()));
    app.update();
    wait_until("both parked", || {
        coro.in_flight() == 2 && coro.main_queue_len() == 0
    });
    assert_eq!(counter.count(), 0);
    drop(worker);
    drop(main);
    update_until(&mut app, "futures dropped", |_| counter.count() == 2);
    // A task leaves `in_flight` when freed, just after its future's drop.
    update_until(&mut app, "tasks freed", |_| coro.in_flight() == 0);
}
}

in_each_mode! {
fn cancel_stops_a_task_at_its_next_await(workers = 2) {
    let mut app = app(workers);
    let coro = coro(&app);
    let counter = DropCounter::default();
    let token = counter.token();
    let task = coro.spawn::<Worker>(async move {
        let _token = token;
        loop {
            yield_now().await;
        }
    });
    task.cancel();
    assert_eq!(run_task(&mut app, task), Err(TaskError::Cancelled));
    assert_eq!(counter.count(), 1);
}
}

in_each_mode! {
fn cancel_wakes_a_parked_task(workers = 1) {
    let mut app = app(workers);
    let coro = coro(&app);
    let counter = DropCounter::default();
    let task = coro.spawn::<Main>(parked_forever(counter.token()));
    app.update();
    task.cancel();
    assert_eq!(run_task(&mut app, task), Err(TaskError::Cancelled));
    assert_eq!(counter.count(), 1);
}
}

in_each_mode! {
fn cancel_after_completion_keeps_the_output(workers = 1) {
    let mut app = app(workers);
    let coro = coro(&app);
    let task = coro.spawn::<Main>(async { 3 });
    app.update();
    task.cancel();
    assert_eq!(run_task(&mut app, task), Ok(3));
}
}

in_each_mode! {
fn a_detached_task_runs_to_the_end(workers = 1) {
    let mut app = app(workers);
    let coro = coro(&app);
    let finished = Arc::new(AtomicBool::new(false));
    let flag = finished.clone();
    coro.spawn::<Main>(async move {
        yield_now().await;
        async { yield_now().await }.on::<Worker>().await;
        yield_now().await;
        flag.store(true, Ordering::SeqCst);
    })
    .detach();
    update_until(&mut app, "detached task", |_| {
        finished.load(Ordering::SeqCst)
    });
    assert_eq!(coro.in_flight(), 0);
}
}

in_each_mode! {
fn try_take_gives_the_result_once(workers = 1) {
    let mut app = app(workers);
    let mut task = coro(&app).spawn::<Worker>(async { "done" });
    update_until(&mut app, "task", |_| task.is_finished());
    assert_eq!(task.try_take(), Some(Ok("done")));
    assert_eq!(task.try_take(), None);
    assert!(task.is_finished());
}
}
