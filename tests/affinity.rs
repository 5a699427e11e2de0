//! Where tasks run, and hopping between the main thread and the workers.

mod common;

use std::rc::Rc;
use std::thread::{self, ThreadId};

use bevy_coro::prelude::*;
use common::*;

fn here() -> ThreadId {
    thread::current().id()
}

in_each_mode! {
fn main_tasks_run_on_the_app_thread_and_worker_tasks_on_workers(workers = 2) {
    let mut app = app(workers);
    let coro = coro(&app);
    let main = coro.spawn::<Main>(async { (here(), on_worker_side()) });
    let worker = coro.spawn::<Worker>(async { (here(), on_worker_side()) });
    assert_eq!(run_task(&mut app, main), Ok((here(), false)));
    let (worker_thread, named_worker) = run_task(&mut app, worker).unwrap();
    // Single-threaded, the pump runs worker tasks on the app thread.
    assert_eq!(worker_thread != here(), workers > 0);
    assert_eq!(named_worker, workers > 0);
}

fn a_hop_moves_the_same_task_there_and_back(workers = 2) {
    let mut app = app(workers);
    let coro = coro(&app);
    let handle = coro.clone();
    let task = coro.spawn::<Main>(async move {
        let start = here();
        let (away, in_flight_away) = async { (here(), handle.in_flight()) }.on::<Worker>().await;
        let back = here();
        let (main_again, in_flight_main) =
            async { (here(), handle.in_flight()) }.on::<Main>().await;
        (
            start,
            away,
            in_flight_away,
            back,
            main_again,
            in_flight_main,
        )
    });
    let (start, away, in_flight_away, back, main_again, in_flight_main) =
        run_task(&mut app, task).unwrap();
    assert_eq!(start, here());
    assert_eq!(
        away != here(),
        workers > 0,
        "`.on::<Worker>()` ran on the wrong thread"
    );
    assert_eq!(
        back,
        here(),
        "the task did not come back to the main thread"
    );
    assert_eq!(main_again, here());
    // One task all along: the hop spawned nothing.
    assert_eq!(in_flight_away, 1);
    assert_eq!(in_flight_main, 1);
    assert_eq!(coro.in_flight(), 0);
}

fn a_worker_task_hops_to_main_and_back(workers = 2) {
    let mut app = app(workers);
    let coro = coro(&app);
    let task = coro.spawn::<Worker>(async {
        let a = on_worker_side();
        let b = async { here() }.on::<Main>().await;
        let c = on_worker_side();
        (a, b, c)
    });
    let off_main = workers > 0;
    assert_eq!(run_task(&mut app, task), Ok((off_main, here(), off_main)));
}

fn tasks_spawn_tasks_from_any_thread(workers = 2) {
    let mut app = app(workers);
    let coro = coro(&app);
    let inner = coro.clone();
    let task = coro.spawn::<Worker>(async move {
        let child = inner.spawn::<Main>(async { here() });
        child.await
    });
    assert_eq!(run_task(&mut app, task), Ok(Ok(here())));
    let from_thread = {
        let coro = coro.clone();
        thread::spawn(move || coro.spawn::<Main>(async { 7 }))
            .join()
            .unwrap()
    };
    assert_eq!(run_task(&mut app, from_thread), Ok(7));
}

fn spawn_local_runs_a_non_send_future_on_the_main_thread(workers = 1) {
    let mut app = app(workers);
    let coro = coro(&app);
    let shared = Rc::new(5);
    let task = coro.spawn_local(async move {
        yield_now().await;
        (*shared, here())
    });
    assert_eq!(run_task(&mut app, task), Ok((5, here())));
}

fn a_local_task_cannot_hop_to_a_worker(workers = 1) {
    let mut app = app(workers);
    let coro = coro(&app);
    let task = coro.spawn_local(async { async {}.on::<Worker>().await });
    match run_task(&mut app, task) {
        Err(TaskError::Panicked(message)) => assert!(message.contains("spawn_local"), "{message}"),
        other => panic!("expected a panic, got {other:?}"),
    }
}

fn yield_on_the_main_thread_resumes_next_frame(workers = 1) {
    let mut app = app(workers);
    let coro = coro(&app);
    let mut task = coro.spawn::<Main>(async {
        for _ in 0..3 {
            yield_now().await;
        }
        next_frame().await;
    });
    let mut frames = 0;
    while task.try_take().is_none() {
        app.update();
        frames += 1;
        assert!(frames < 100);
    }
    // First poll in frame 1, then one frame per yield and one for next_frame.
    assert_eq!(frames, 5);
}
}

/// Needs a worker thread: the task runs while no pump does.
#[test]
fn next_frame_on_a_worker_waits_for_the_next_pump() {
    let mut app = app(1);
    let coro = coro(&app);
    app.update(); // frame 1 starts
    let (sender, receiver) = std::sync::mpsc::channel();
    let task = coro.spawn::<Worker>(async move {
        sender.send(()).unwrap();
        next_frame().await;
    });
    receiver.recv().unwrap();
    // No pump ran since the task started waiting: it cannot have finished.
    wait_until("worker parked", || coro.in_flight() == 1);
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert!(!task.is_finished());
    app.update();
    wait_until("next_frame resolved", || task.is_finished());
}
