//! `main_budget` spreads main-thread work over frames.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bevy_app::App;
use bevy_coro::prelude::*;
use common::*;

#[test]
fn a_budget_bounds_one_pump_and_loses_nothing() {
    const TASKS: usize = 1_000;
    const WORK: Duration = Duration::from_micros(50);
    const BUDGET: Duration = Duration::from_millis(2);
    let mut app = App::new();
    app.add_plugins(CoroPlugin {
        workers: 1,
        main_budget: Some(BUDGET),
        ..Default::default()
    });
    let coro = coro(&app);
    let done = Arc::new(AtomicUsize::new(0));
    for _ in 0..TASKS {
        let done = done.clone();
        coro.spawn::<Main>(async move {
            // Each task holds the main thread for at least WORK.
            let start = Instant::now();
            while start.elapsed() < WORK {
                std::hint::spin_loop();
            }
            done.fetch_add(1, Ordering::SeqCst);
        })
        .detach();
    }
    app.update();
    let first = done.load(Ordering::SeqCst);
    // Each task takes at least 50 µs, so a 2 ms budget fits at most 40 of them,
    // plus the one that may start just before the deadline is checked.
    let bound = (BUDGET.as_micros() / WORK.as_micros()) as usize + 1;
    assert!(first >= 1, "the pump made no progress");
    assert!(
        first <= bound,
        "one pump ran {first} tasks, more than the budget allows ({bound})"
    );
    let frames = update_until(&mut app, "all budgeted tasks", |_| {
        done.load(Ordering::SeqCst) == TASKS
    });
    assert!(
        frames >= TASKS / bound - 1,
        "finished in {frames} more frames"
    );
    assert_eq!(done.load(Ordering::SeqCst), TASKS);
    assert_eq!(coro.in_flight(), 0);
}

#[test]
fn without_a_budget_the_pump_drains_the_queue() {
    let mut app = app(1);
    let coro = coro(&app);
    let done = Arc::new(AtomicUsize::new(0));
    for _ in 0..1_000 {
        let done = done.clone();
        coro.spawn::<Main>(async move {
            done.fetch_add(1, Ordering::SeqCst);
        })
        .detach();
    }
    app.update();
    assert_eq!(done.load(Ordering::SeqCst), 1_000);
}
