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

/// Counted, not timed: every poll below holds the main thread for the whole
/// budget, so once the first poll of a pump is over the budget is spent, and
/// the pump must run no other, whatever else it handled in that frame: many
/// timers due at once (`sleep`s and `delayed` runs), tasks tied to entities,
/// `with_world` closures from worker tasks (whose hop back to a worker is a
/// wake the pump holds) and from main tasks. The rest runs one per frame.
#[test]
fn a_spent_budget_runs_no_further_poll_whatever_else_the_pump_handles() {
    use bevy_coro::{CoroClock, CoroScheduler, CoroStats};
    use bevy_time::{TimePlugin, TimeUpdateStrategy};

    const BUDGET: Duration = Duration::from_millis(2);
    const SLEEPERS: usize = 16;
    const DELAYED: usize = 8;
    const WORKER_WORLD: usize = 8;
    const MAIN_WORLD: usize = 4;
    const BOUND: usize = 8;
    const UNITS: usize = SLEEPERS + DELAYED + WORKER_WORLD + MAIN_WORLD + BOUND;
    let mut app = App::new();
    // Game time stands still until the frame that makes every timer due.
    app.add_plugins(TimePlugin)
        .insert_resource(TimeUpdateStrategy::ManualDuration(Duration::ZERO))
        .add_plugins(CoroPlugin {
            workers: 1,
            clock: CoroClock::Virtual,
            main_budget: None,
            ..Default::default()
        });
    app.update();
    let coro = coro(&app);
    // Polls that held the main thread for the budget.
    let held = Arc::new(AtomicUsize::new(0));
    let hold = {
        let held = held.clone();
        move || {
            busy(BUDGET);
            held.fetch_add(1, Ordering::SeqCst);
        }
    };
    // Worker tasks that came back from the main thread and ended.
    let back_on_workers = Arc::new(AtomicUsize::new(0));

    // Timers: all due at the same frame.
    let mut timers = Vec::new();
    for _ in 0..SLEEPERS {
        let hold = hold.clone();
        coro.spawn::<Main>(async move {
            sleep(Duration::from_millis(100)).await;
            hold();
        })
        .detach();
    }
    for _ in 0..DELAYED {
        let hold = hold.clone();
        timers.push(coro.delayed(Duration::from_millis(100), move || async move { hold() }));
    }
    // Without a budget, one pump starts every sleep.
    app.update();
    assert_eq!(held.load(Ordering::SeqCst), 0);

    // `with_world` from worker tasks: queued for the pump before it starts.
    for _ in 0..WORKER_WORLD {
        let (hold, back) = (hold.clone(), back_on_workers.clone());
        coro.spawn::<Worker>(async move {
            with_world(move |_| hold()).await;
            // Moved back to a worker by the pump: a held wake.
            async {}.on::<Worker>().await;
            back.fetch_add(1, Ordering::SeqCst);
        })
        .detach();
    }
    wait_until("the worker tasks' with_world calls queued", || {
        coro.main_queue_len() == WORKER_WORLD
    });
    // `with_world` from main tasks, and tasks tied to entities (tied by the
    // next pump before it runs any task).
    for _ in 0..MAIN_WORLD {
        let hold = hold.clone();
        coro.spawn::<Main>(async move { with_world(move |_| hold()).await })
            .detach();
    }
    for _ in 0..BOUND {
        let hold = hold.clone();
        let entity = app.world_mut().spawn_empty().id();
        coro.task("bound")
            .for_entity(entity)
            .spawn::<Main>(async move { hold() })
            .detach();
    }

    // The frame where it all comes at once, with a budget from now on.
    app.world_mut().resource_mut::<CoroScheduler>().main_budget = Some(BUDGET);
    app.insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_millis(
        200,
    )));
    app.update();
    let stats = app.world().resource::<CoroStats>().clone();
    assert_eq!(stats.timers_fired, SLEEPERS + DELAYED, "{stats:?}");
    assert_eq!(
        (stats.main_polled, held.load(Ordering::SeqCst)),
        (1, 1),
        "a poll ran after the budget was spent: {stats:?}"
    );
    assert!(stats.out_of_budget);
    app.insert_resource(TimeUpdateStrategy::ManualDuration(Duration::ZERO));
    // One poll a frame for the rest.
    for frame in 2..=UNITS {
        app.update();
        let stats = app.world().resource::<CoroStats>().clone();
        assert_eq!(
            (stats.main_polled, held.load(Ordering::SeqCst)),
            (1, frame),
            "frame {frame}: {stats:?}"
        );
        assert_eq!(
            stats.out_of_budget,
            frame < UNITS,
            "frame {frame}: {stats:?}"
        );
    }
    app.update();
    assert_eq!(app.world().resource::<CoroStats>().main_polled, 0);
    // The worker tasks the pump moved back ended on a worker.
    wait_until("the worker tasks ended", || {
        back_on_workers.load(Ordering::SeqCst) == WORKER_WORLD
    });
    assert!(timers.iter().all(|timer| timer.runs_started() == 1));
    update_until(&mut app, "every task ended", |_| coro.in_flight() == 0);
}
