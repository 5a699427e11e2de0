//! `workers: 0`: the single-threaded mode, where the pump runs the worker
//! tasks too. What every mode shares is tested in each mode by the other
//! files (`in_each_mode!`); this file tests what is particular to this one.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use bevy_app::App;
use bevy_coro::prelude::*;
use bevy_coro::runtime::{Instant, block_on};
use bevy_ecs::prelude::*;
use common::*;

#[test]
fn worker_tasks_run_in_the_pump_after_the_main_tasks() {
    let runtime = runtime(0);
    assert_eq!(runtime.worker_count(), 0);
    let order = Arc::new(Mutex::new(Vec::new()));
    let log = |name: &'static str| {
        let order = order.clone();
        async move {
            order.lock().unwrap().push((name, thread::current().id()));
        }
    };
    runtime.spawn::<Worker>(log("worker")).detach();
    runtime.spawn::<Main>(log("main")).detach();
    let report = runtime.pump(Instant::now(), None);
    assert_eq!(report.polled, 2);
    let here = thread::current().id();
    assert_eq!(*order.lock().unwrap(), [("main", here), ("worker", here)]);
    let stats = runtime.stats();
    assert_eq!(
        stats.workers,
        Default::default(),
        "no worker polled anything"
    );
    assert_eq!(stats.worker_queue, 0);
}

#[test]
fn a_hop_there_and_back_and_a_worker_with_world_take_one_frame() {
    #[derive(Resource)]
    struct Applied(u64);
    let mut app = app(0);
    let task = coro(&app).spawn::<Main>(async {
        let sum: u64 = async { (1..=100u64).sum() }.on::<Worker>().await;
        let coro = with_world(|world| world.resource::<Coro>().clone()).await;
        coro.spawn::<Worker>(async move {
            with_world(move |world| world.insert_resource(Applied(sum))).await;
        })
        .await
    });
    app.update();
    assert!(task.is_finished(), "the hops waited for another frame");
    assert_eq!(app.world().resource::<Applied>().0, 5050);
}

#[test]
fn a_worker_yield_resumes_next_frame_and_never_holds_the_pump() {
    let watchdog = Watchdog::start("single-threaded yields", WATCHDOG);
    watchdog.lap("a yielding worker task".into(), String::new);
    let runtime = runtime(0);
    let polls = Arc::new(AtomicUsize::new(0));
    let count = polls.clone();
    runtime
        .spawn::<Worker>(async move {
            loop {
                count.fetch_add(1, Ordering::SeqCst);
                yield_now().await;
            }
        })
        .detach();
    // Without a budget too, a yield ends the task's turn in this frame.
    for frame in 1..=3 {
        runtime.pump(Instant::now(), None);
        assert_eq!(polls.load(Ordering::SeqCst), frame);
    }
}

#[test]
fn the_budget_bounds_main_and_worker_tasks_together() {
    let runtime = runtime(0);
    let done = Arc::new(AtomicUsize::new(0));
    for _ in 0..3 {
        let done = done.clone();
        runtime
            .spawn::<Worker>(async move {
                done.fetch_add(1, Ordering::SeqCst);
            })
            .detach();
    }
    runtime.spawn::<Main>(async {}).detach();
    // A zero budget is spent after the first poll, whichever side it is on.
    for pump in 1..=4 {
        let report = runtime.pump(Instant::now(), Some(Duration::ZERO));
        assert_eq!(report.polled, 1);
        assert_eq!(report.out_of_budget, pump < 4, "pump {pump}");
    }
    assert_eq!(done.load(Ordering::SeqCst), 3);
    assert_eq!(runtime.in_flight(), 0);
}

#[test]
fn timers_fire_in_the_pump_only() {
    let runtime = runtime(0);
    let task = runtime.spawn::<Worker>(async { sleep(Duration::from_millis(1)).await });
    runtime.pump(Instant::now(), None);
    // No timer thread: past its deadline, the sleep waits for a pump.
    thread::sleep(Duration::from_millis(20));
    assert!(!task.is_finished());
    let start = std::time::Instant::now();
    while !task.is_finished() {
        assert!(
            start.elapsed() < WATCHDOG,
            "watchdog: the timer never fired"
        );
        runtime.pump(Instant::now(), None);
        thread::yield_now();
    }
}

#[test]
fn block_on_refuses_a_worker_task_on_the_main_thread_but_waits_elsewhere() {
    let runtime = runtime(0);
    let task = runtime.spawn::<Worker>(async { 7 });
    let refused = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| block_on(task)));
    let message = panic_text(&*refused.expect_err("block_on waited for the pump"));
    assert!(message.contains("single-threaded"), "{message}");
    // From another thread, the wait ends once the main thread pumps.
    let task = runtime.spawn::<Worker>(async { 7 });
    let waiter = thread::spawn(move || block_on(task));
    let start = std::time::Instant::now();
    while !waiter.is_finished() {
        assert!(
            start.elapsed() < WATCHDOG,
            "watchdog: block_on never returned"
        );
        runtime.pump(Instant::now(), None);
        thread::yield_now();
    }
    assert_eq!(waiter.join().unwrap(), Ok(7));
}

#[test]
fn the_plugin_runs_with_zero_workers() {
    #[derive(Resource, Default)]
    struct Counter(u32);
    let mut app = App::new();
    app.add_plugins(CoroPlugin {
        workers: 0,
        main_budget: Some(Duration::from_millis(4)),
        ..Default::default()
    })
    .init_resource::<Counter>();
    let coro = coro(&app);
    assert_eq!(coro.worker_count(), 0);
    let task = coro
        .task("pathfind")
        .cores(&[1]) // nothing to pin: ignored
        .spawn::<Worker>(async {
            with_world(|world| world.resource_mut::<Counter>().0 += 1).await;
            thread::current().id()
        });
    assert_eq!(run_task(&mut app, task), Ok(thread::current().id()));
    assert_eq!(app.world().resource::<Counter>().0, 1);
}
